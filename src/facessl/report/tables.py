"""Paper-layout result tables from one normalised structure.

The normalised structure (what `results/tables.json` holds, see facessl.commands.report):

    rows: {row_key: {metric_key: value}}
    value: [mean, std] | (mean, std) | mean | {"mean": m, "std": s} | null      (std may be null)

Numbers are in the units the papers print: accuracy, F1 and NME in PERCENT, pose errors in
DEGREES. (`fractions_to_percent` converts accuracies and F1 given in [0,1]; NME is taken to be in
percent already, as facessl.evaluate reports it.) Row keys of the main tables are
method ids (see METHODS); unknown ids are shown after the known ones, under their own name.
Metric keys:
  fer2013/accuracy  rafdb/accuracy  lfw/accuracy  cplfw/accuracy  bu3dfe/accuracy
  aflw2000/yaw_mae  aflw2000/pitch_mae  aflw2000/roll_mae  aflw2000/mae
  disfa/f1_AU1 ... disfa/f1_AU26 (AUs 1,2,4,6,9,12,25,26)  disfa/f1_mean
  300w/nme  mafl/nme
A missing row, metric or value prints as '—'; a value that is not finite (NaN or infinite: a probe that
diverged; in JSON the strings "NaN", "Infinity", made numbers again where the file is read, engine.io) prints as
'n/a (not finite)', and its row stays. The best value of each column among the non-reference rows (not 'random',
not 'supervised') is marked bold.
"""
from __future__ import annotations

import math

from facessl.data.labels import AUS
from facessl.report.sections import Table

MISSING = "—"
NOT_FINITE = "n/a (not finite)"  # measured, but NaN or infinite: shown, never dropped like a missing value

# key -> (column title, higher is better, unit '%' or '°')
METRICS = {
    "fer2013/accuracy": ("FER-2013 acc. (%)", True, "%"),
    "rafdb/accuracy": ("RAF-DB acc. (%)", True, "%"),
    "lfw/accuracy": ("LFW acc. (%)", True, "%"),
    "cplfw/accuracy": ("CPLFW acc. (%)", True, "%"),
    "aflw2000/yaw_mae": ("AFLW2000 yaw (°)", False, "°"),
    "aflw2000/pitch_mae": ("AFLW2000 pitch (°)", False, "°"),
    "aflw2000/roll_mae": ("AFLW2000 roll (°)", False, "°"),
    "aflw2000/mae": ("AFLW2000 MAE (°)", False, "°"),
    "bu3dfe/accuracy": ("BU-3DFE pose acc. (%)", True, "%"),
    **{f"disfa/f1_AU{n}": (f"AU{n}", True, "%") for n in AUS},
    "disfa/f1_mean": ("mean F1 (%)", True, "%"),
    "300w/nme": ("300-W NME (%)", False, "%"),
    "mafl/nme": ("MAFL NME (%)", False, "%"),
}

METHODS = {"random": "Random weights", "simclr": "SimCLR", "pcl": "PCL", "fabnet": "FAb-Net",
           "supervised": "Supervised"}
REFERENCE_ROWS = {"random", "supervised"}

MAIN_TABLES = {  # title -> metric keys, in the papers' column order
    "Expression recognition": ["fer2013/accuracy", "rafdb/accuracy"],
    "Face verification": ["lfw/accuracy", "cplfw/accuracy"],
    "Head pose": ["aflw2000/yaw_mae", "aflw2000/pitch_mae", "aflw2000/roll_mae", "aflw2000/mae", "bu3dfe/accuracy"],
    "Action units (DISFA F1)": [f"disfa/f1_AU{n}" for n in AUS] + ["disfa/f1_mean"],
    "Facial landmarks": ["300w/nme", "mafl/nme"],
}

ABLATION_STEPS = {"simclr": "SimCLR", "+l_dis": "+ L_dis", "+l_orth": "+ L_orth", "+l_pose": "+ L_pose",
                  "+dwa": "+ DWA (= PCL)"}
FEATURES = {"ff": "F_f", "fp": "F_p", "fs": "F_s", "ff+fp": "F_f + F_p"}

# Published linear-evaluation numbers (PCL poster; FAb-Net BMVC 2018), same structure, no std.
PAPER_RESULTS = {
    "simclr": {"fer2013/accuracy": 49.51, "rafdb/accuracy": 71.06, "lfw/accuracy": 75.97,
               "cplfw/accuracy": 62.25, "aflw2000/mae": 14.38, "bu3dfe/accuracy": 98.85, "disfa/f1_mean": 49.4},
    "fabnet": {"fer2013/accuracy": 46.98, "rafdb/accuracy": 66.72, "disfa/f1_mean": 41.6,
               "300w/nme": 5.71, "mafl/nme": 3.44},
    "pcl": {"fer2013/accuracy": 56.81, "rafdb/accuracy": 74.47, "lfw/accuracy": 79.72, "cplfw/accuracy": 64.61,
            "aflw2000/yaw_mae": 9.86, "aflw2000/pitch_mae": 16.59, "aflw2000/roll_mae": 10.62,
            "aflw2000/mae": 12.36, "bu3dfe/accuracy": 98.95, "disfa/f1_mean": 54.8},
}
PAPER_ABLATION = {"simclr": {"rafdb/accuracy": 71.06}, "+l_dis": {"rafdb/accuracy": 71.47},
                  "+l_orth": {"rafdb/accuracy": 72.39}, "+l_pose": {"rafdb/accuracy": 73.73},
                  "+dwa": {"rafdb/accuracy": 74.47}}
PAPER_FEATURES = {
    "ff": {"rafdb/accuracy": 73.04, "lfw/accuracy": 78.55, "disfa/f1_mean": 54.30},
    "fp": {"rafdb/accuracy": 65.71, "lfw/accuracy": 62.55, "disfa/f1_mean": 34.17},
    "fs": {"rafdb/accuracy": 74.47, "lfw/accuracy": 79.72, "disfa/f1_mean": 54.78},
    "ff+fp": {"rafdb/accuracy": 73.53, "lfw/accuracy": 79.10, "disfa/f1_mean": 56.26},
}


def _measured(x) -> bool:
    """A number, finite or not (None and anything else: not measured)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _finite(x) -> bool:
    return _measured(x) and math.isfinite(x)


def format_mean_std(mean, std=None, digits: int = 2) -> str:
    """'74.47 ± 0.31'; '74.47' without a (finite) std; '—' when the mean is missing; 'n/a (not finite)' when it
    is NaN or infinite (measured, but by a probe that diverged)."""
    if not _measured(mean):
        return MISSING
    if not _finite(mean):
        return NOT_FINITE
    if not _finite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def mean_std(value) -> tuple[float | None, float | None]:
    """Normalise one stored value to (mean, std)."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        return value.get("mean"), value.get("std")
    if isinstance(value, (list, tuple)):
        return (value[0] if value else None), (value[1] if len(value) > 1 else None)
    return value, None


def fractions_to_percent(rows: dict) -> dict:
    """Scale accuracies and F1 scores (mean and std) by 100: for probes that report them in [0,1]."""
    out = {}
    for row, metrics in rows.items():
        out[row] = {}
        for key, value in metrics.items():
            m, s = mean_std(value)
            if key.endswith("accuracy") or "/f1_" in key:
                m = m * 100 if _finite(m) else m
                s = s * 100 if _finite(s) else s
            out[row][key] = [m, s]
    return out


def metric_table(rows: dict, metrics: list[str], caption: str = "", names: dict | None = None,
                 first_column: str = "method", keep_empty_rows: bool = False, digits: int = 2,
                 drop_empty_columns: bool = True) -> Table:
    """One row per row key (known keys of `names` first, in that order), one column per metric.
    Rows without any value are left out unless keep_empty_rows; so are metrics nobody measured
    unless drop_empty_columns is False. A NaN or infinite value counts as measured: its row and column stay,
    the cell says 'n/a (not finite)'."""
    names = METHODS if names is None else names
    order = [k for k in names if k in rows] + [k for k in rows if k not in names]
    if drop_empty_columns:
        measured = [m for m in metrics if any(_measured(mean_std(r.get(m))[0]) for r in rows.values())]
        metrics = measured or metrics[:1]
    header = [first_column] + [METRICS.get(k, (k,))[0] for k in metrics]
    body, emphasis, kept = [], set(), []
    for key in order:
        values = [mean_std(rows[key].get(m)) for m in metrics]
        if not keep_empty_rows and not any(_measured(mean) for mean, _ in values):
            continue
        kept.append((key, values))
        body.append([names.get(key, key)] + [format_mean_std(mean, std, digits) for mean, std in values])
    for col, metric in enumerate(metrics):
        higher = METRICS.get(metric, ("", True))[1]
        candidates = [(v[col][0], r) for r, (key, v) in enumerate(kept)
                      if key not in REFERENCE_ROWS and _finite(v[col][0])]
        if len(candidates) >= 2:
            best = max(c[0] for c in candidates) if higher else min(c[0] for c in candidates)
            emphasis |= {(r, col + 1) for value, r in candidates if value == best}
    return Table(header, body, caption=caption, emphasis=emphasis)


def paper_tables(rows: dict, digits: int = 2) -> dict[str, Table]:
    """The five main tables (expression, verification, pose, AUs, landmarks), one row per method."""
    return {title: metric_table(rows, metrics, caption=_caption(title), digits=digits)
            for title, metrics in MAIN_TABLES.items()}


def ablation_table(rows: dict, metrics=("rafdb/accuracy", "lfw/accuracy", "aflw2000/mae"), digits: int = 2) -> Table:
    """PCL ablation: SimCLR -> +L_dis -> +L_orth -> +L_pose -> +DWA (row keys as in ABLATION_STEPS); a
    column nobody measured (the paper's has RAF-DB only) is left out."""
    return metric_table(rows, list(metrics), caption="PCL ablation: each row adds one part to the one above.",
                        names=ABLATION_STEPS, first_column="configuration", keep_empty_rows=True, digits=digits)


def feature_choice_table(rows: dict, metrics=("rafdb/accuracy", "lfw/accuracy", "disfa/f1_mean", "aflw2000/mae"),
                         digits: int = 2) -> Table:
    """Which PCL feature to probe: F_f, F_p, F_s, F_f+F_p (row keys 'ff', 'fp', 'fs', 'ff+fp')."""
    return metric_table(rows, list(metrics), caption="PCL feature choice: which feature the linear probe reads.",
                        names=FEATURES, first_column="feature", keep_empty_rows=True, digits=digits)


def _caption(title: str) -> str:
    better = {"Head pose": "MAE lower is better; accuracy higher is better.",
              "Facial landmarks": "NME normalised by the inter-ocular distance; lower is better."}
    if title == "Face verification":  # no probe: a threshold on the cosine, chosen on the other 9 folds
        return ("Face verification: cosine similarity of frozen features, 10-fold accuracy (threshold chosen on the "
                "other 9 folds), mean ± std over pretraining seeds. Higher is better.")
    return f"{title}: linear probe on frozen features, mean ± std over seeds. " + better.get(title, "Higher is better.")
