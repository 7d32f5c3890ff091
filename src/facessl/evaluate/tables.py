"""results.md: the results dict as tables in the layout of the papers, one table per kind of task.

Rows are (model row, feature): the checkpoint's feature choices, then the random-weights and the
supervised baselines, then the floor (verification's: chance, from its pair counts, when its rows have none). Cells
are mean ± std over seeds (verification: ± std over the 10 folds; no seeds in the header then). Attributes
also get a table turned the other way: one line per attribute, one column per row.
"""
from __future__ import annotations

import math
import re

from facessl.data.formats.grouping import case_note
from facessl.data.formats.imagefiles import skipped_text
from facessl.data.labels import AU_NAMES
from facessl.evaluate.probes import SELECTED_ON_VALIDATION
from facessl.evaluate.protocol import seed_spread
from facessl.evaluate.splits import copies_line
from facessl.evaluate.verification import chance_note, chance_result

# task -> (title, [(metric key, column label, scale to display)])
LAYOUT = {
    "expression": ("Expression recognition (accuracy %)",
                   [("accuracy", "acc", 100), ("mean_class_accuracy", "mean-class acc", 100), ("macro_f1", "macro F1", 100)]),
    "classification": ("Classification (accuracy, mean-class accuracy, macro F1; %)",
                       [("accuracy", "acc", 100), ("mean_class_accuracy", "mean-class acc", 100), ("macro_f1", "macro F1", 100)]),
    "verification": ("Face verification (accuracy %, cosine similarity)",
                     [("accuracy", "acc", 100), ("roc_auc", "AUC", 100)]),
    "pose": ("Head pose (MAE in degrees, lower is better)",
             [("yaw_mae", "yaw", 1), ("pitch_mae", "pitch", 1), ("roll_mae", "roll", 1), ("mae", "MAE", 1)]),
    "pose_classes": ("Discrete head pose (accuracy %)", [("accuracy", "acc", 100), ("mean_class_accuracy", "mean-class acc", 100)]),
    "regression": ("Regression (MAE in the columns' units, lower is better)", [("mae", "MAE", 1)]),
    "au_f1": ("Action units (F1 %)", [(f"f1_{n}", n, 100) for n in AU_NAMES] + [("f1_mean", "mean", 100)]),
    "au_auc": ("Action units (AUC %)", [(f"auc_{n}", n, 100) for n in AU_NAMES] + [("auc_mean", "mean", 100)]),
    "attributes": ("Facial attributes (means over the attributes, %; at probability 0.5)",
                   [("accuracy_mean", "mean acc", 100), ("balanced_accuracy_mean", "mean balanced acc", 100),
                    ("auc_mean", "mean AUC", 100)]),
    "landmarks": ("Landmarks (NME %: of the inter-ocular distance, and of the box size; lower is better)",
                  [("nme", "NME", 1), ("nme_box", "NME box", 1)]),
    "retrieval": ("Retrieval (leave-one-out, cosine; rank-1, rank-5, mAP %)",
                  [("rank1", "rank-1", 100), ("rank5", "rank-5", 100), ("map", "mAP", 100)]),
}
ORDER = ("expression", "classification", "verification", "retrieval", "pose", "pose_classes", "regression", "au_f1",
         "au_auc", "attributes", "attributes_each", "landmarks")
SECTIONS = {"au": ("au_f1", "au_auc"), "attributes": ("attributes", "attributes_each")}  # tasks with several tables


def cell(result: dict, key: str, scale: float) -> str:
    if "metrics" not in result or key not in result["metrics"]:
        return "—"
    m = result["metrics"][key]
    if m.get("mean") is None or math.isnan(m["mean"]):
        return "n/a"
    mean, std = m["mean"] * scale, seed_spread(m)
    if key == "accuracy" and "accuracy_fold_std" in result["metrics"]:
        std = result["metrics"]["accuracy_fold_std"]["mean"]
    if std is None:
        return f"{mean:.2f}"  # one seed (the supervised row): no spread to show
    return f"{mean:.2f} ± {std * scale:.2f}"


def tar_columns(task: dict) -> list[tuple[str, str, int]]:
    """The TAR@FAR columns of a verification task whose rows report them (IJB-B / IJB-C), FARs from the
    smallest, then AUC; [] for a folds-and-accuracy task (LFW)."""
    keys = {k for by_feature in task["rows"].values() for r in by_feature.values() if isinstance(r, dict)
            for k in r.get("metrics", {}) if k.startswith("tar_at_far_")}
    if not keys:
        return []
    ordered = sorted(keys, key=lambda k: float(k[len("tar_at_far_"):]))
    return [(k, f"TAR@FAR={k[len('tar_at_far_'):]}", 100) for k in ordered] + [("roc_auc", "AUC", 100)]


def verification_title(title: str, tar: list[bool]) -> str:
    if all(tar):
        return "Face verification (TAR % at FAR, cosine similarity of templates)"
    if any(tar):
        return "Face verification (accuracy %, or TAR % at FAR for template sets; cosine similarity)"
    return title


def _row_keys(tasks: list[dict]) -> list[tuple[str, str]]:
    keys = []
    for t in tasks:
        for label, by_feature in t["rows"].items():
            for feature in by_feature:
                if feature != "unavailable" and (label, feature) not in keys:
                    keys.append((label, feature))
    rank = {"random": 1, "supervised": 2, "floor": 3}  # any other row is a checkpoint's (`facessl compare` names them)
    return sorted(keys, key=lambda k: rank.get(k[0], 0))


def table(kind: str, tasks: list[dict], paper_protocol: bool = False) -> str:
    title, columns = LAYOUT[kind]
    if paper_protocol and kind != "verification":
        title += " — PAPER PROTOCOL, selected on test"
    if kind == "regression":  # one MAE column per target column of the (first) dataset, then their mean
        names = tasks[0].get("info", {}).get("columns") or []
        columns = [(f"mae_{n}", n, 1) for n in names] + columns
        if tasks[0].get("info", {}).get("ccc"):  # valence / arousal: the concordance correlation beside the MAE
            columns += [(f"ccc_{n}", f"CCC {n}", 1) for n in names] + [("ccc", "CCC", 1)]
    elif kind.startswith("au"):
        aus = tasks[0].get("info", {}).get("aus")  # the dataset's AU list, if not the default 8
        if aus and list(aus) != list(AU_NAMES):
            prefix = kind[3:]
            columns = [(f"{prefix}_{n}", n, 100) for n in aus] + [(f"{prefix}_mean", "mean", 100)]
    per_task = [columns] * len(tasks)
    if kind == "verification":  # IJB-style sets: TAR at each FAR instead of the folds' accuracy
        tasks = [with_chance_floor(t) for t in tasks]  # its floor: chance, from the pair counts
        per_task = [tar_columns(t) or columns for t in tasks]
        title = verification_title(title, [c is not columns for c in per_task])
    multi = len(tasks) > 1
    header = ["model", "feature"] + [f"{t['name']} {c}" if multi else c
                                     for t, cols in zip(tasks, per_task) for _, c, _ in cols]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, feature in _row_keys(tasks):
        cells = []
        for t, cols in zip(tasks, per_task):
            result = t["rows"].get(label, {}).get(feature, {})
            cells += [cell(result, key, scale) for key, _, scale in cols]
        lines.append("| " + " | ".join([label, feature] + cells) + " |")
    notes = [f"{t['name']}: {label} — {r['unavailable']}" for t in tasks
             for label, r in t["rows"].items() if "unavailable" in r]
    notes += [f"{t['name']}: classes left out (fewer images than --min-class-count): "
              + ", ".join(f"{name} ({n})" for name, n in t["info"]["left_out_classes"].items())
              for t in tasks if t.get("info", {}).get("left_out_classes")]
    notes += [f"{t['name']}: classes left out (no face found in any of their clips): "
              + ", ".join(t["info"]["classes_without_a_face"])
              for t in tasks if t.get("info", {}).get("classes_without_a_face")]
    notes += [f"{t['name']}: {t['info']['not_face_crops']}" for t in tasks if t.get("info", {}).get("not_face_crops")]
    notes += [f"{t['name']}: {case_note(t['info']['case_only_classes'])}"
              for t in tasks if t.get("info", {}).get("case_only_classes")]
    notes += [f"{t['name']}: test classes with no training image, which the probe cannot predict (each counts as an "
              "error; a spelling difference between the splits' names?): "
              + ", ".join(f"{name} ({n})" for name, n in t["info"]["unseen_test_classes"].items())
              for t in tasks if t.get("info", {}).get("unseen_test_classes")]
    notes += [f"{t['name']}: classes with training images but none in test, so not in the per-class averages "
              "(--min-class-count leaves rare classes out of both): "
              + ", ".join(f"{name} ({n} train)" for name, n in t["info"]["untested_classes"].items())
              for t in tasks if t.get("info", {}).get("untested_classes")]
    notes += [f"{t['name']}: {t['info']['folds']} (the set's split not used: {t['info']['split_ignored']})"
              for t in tasks if t.get("info", {}).get("split_ignored")]
    notes += [f"{t['name']}: {'training set' if key == 'train_dropped' else 'rows'} skipped by the reader: "
              + skipped_text(t["info"][key], t["info"].get(f"{key}_names"))  # the first few named
              for t in tasks for key in ("dropped", "train_dropped") if any(t.get("info", {}).get(key, {}).values())]
    notes += [f"{t['name']}: {line}" for t in tasks for key in ("copies_together", "test_copies_of_train")
              for line in [copies_line(t.get("info", {}).get(key), key == "test_copies_of_train")] if line]
    if kind == "verification":
        notes += [f"{t['name']}: {scored}" for t in tasks for scored in [scored_note(t)] if scored]
        notes += [f"{t['name']}: {chance_note(bool(tar_columns(t)))}" for t in tasks
                  if (t["rows"].get("floor") or {}).get("chance", {}).get("floor") == "chance"]
        notes += [f"{t['name']}: no pairs file; {d['pairs']} pairs drawn from its {d['people']} people with two images or "
                  f"more, {d['folds']} identity-disjoint folds (seed {d['seed']})"
                  for t in tasks for d in [t.get("info", {}).get("pairs_drawn")] if d]
        notes += [f"{t['name']}: {note}" for t in tasks for note in _row_value(t, "pair_notes") or []]
        notes += [f"{t['name']}: supervised row — {r['people_check']}" for t in tasks
                  for r in t["rows"].get("supervised", {}).values() if isinstance(r, dict) and r.get("people_check")]
        notes += [f"{t['name']}: supervised row — {r['training']}" for t in tasks
                  for r in t["rows"].get("supervised", {}).values() if isinstance(r, dict) and r.get("training")]
        notes += [f"{t['name']}: TAR at FAR {', '.join(left)} left out (fewer different pairs than 1 / FAR)"
                  for t in tasks for left in [_row_value(t, "fars_left_out")] if left]
        notes += [f"{t['name']}: reduced protocol (" + ", ".join(f"{k} {v}" for k, v in reduced.items())
                  + "): not comparable with published numbers" for t in tasks for reduced in [_row_value(t, "reduced")]
                  if reduced]
    notes += [f"{t['name']}: {note}" for t, cols in zip(tasks, per_task) for note in [supervised_floor_note(t, cols)]
              if note]
    notes += [f"{t['name']}: {note}" for t in tasks for note in (t.get("info") or {}).get("notes") or []
              if isinstance(note, str)]  # whatever a task has to say of its data (a builder's own notes)
    lines += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])
    return "\n".join(lines)


def lower_is_better(key: str) -> bool:
    """Whether a table column's metric is an error (MAE, NME: lower is better) rather than a score."""
    return "mae" in key or key.startswith("nme")


def beats(result: dict, other: dict, columns) -> bool | None:
    """Whether `result` is better than `other` on any of the table's `columns` (by their means); None when the two
    share no column with a finite value (nothing to compare)."""
    compared = False
    for key, _, _ in columns:
        a, b = (((r.get("metrics") or {}).get(key) or {}).get("mean") for r in (result, other))
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            continue
        compared = True
        if (a < b - 1e-9) if lower_is_better(key) else (a > b + 1e-9):
            return True
    return False if compared else None


def floor_note(epochs, option: str = "--supervised-epochs") -> str:
    """The note on a supervised row that does not beat the floor (eval's tables, the study's report)."""
    trained = f"in {epochs} epoch{'s' * (epochs != 1)}" if isinstance(epochs, int) else "in its epochs"
    return (f"supervised row at the floor (no column better than the floor's): it did not learn {trained}; "
            f"raise {option}")


def supervised_floor_note(task: dict, columns) -> str | None:
    """floor_note for a task whose supervised row (any feature) beats the floor on none of the table's columns;
    None when it does, or when either row is missing."""
    floors = [r for r in (task["rows"].get("floor") or {}).values() if isinstance(r, dict) and "metrics" in r]
    supervised = [r for r in (task["rows"].get("supervised") or {}).values() if isinstance(r, dict) and "metrics" in r]
    if not floors or not supervised or any(beats(r, floors[0], columns) is not False for r in supervised):
        return None
    epochs = [sel.get("epochs_run", sel.get("epochs")) for r in supervised for sel in r.get("selection") or []]
    epochs = [e for e in epochs if isinstance(e, int)]
    return floor_note(max(epochs) if epochs else None)


def with_chance_floor(task: dict) -> dict:
    """A verification task with its floor row: chance (verification.chance_result) from the pair counts its rows
    report, when it has no floor row of its own; the task as it is when no row says its pairs (none ran)."""
    if "floor" in task["rows"]:
        return task
    pairs = _row_value(task, "pairs")
    positives = _row_value(task, "positive_pairs")
    if not pairs or positives is None:
        return task
    negatives = _row_value(task, "negative_pairs") or pairs - positives
    tar_keys = [key for key, _, _ in tar_columns(task) if key.startswith("tar_at_far_")]
    return {**task, "rows": {**task["rows"], "floor": {"chance": chance_result(positives, negatives, tar_keys)}}}


def scored_note(task: dict) -> str | None:
    """What a verification task scored: its pairs (same / different), in how many folds, and what its cells are
    (the ± is the spread over the folds); None when its rows do not say (no row ran)."""
    pairs = _row_value(task, "pairs")
    if not pairs:
        return None
    positives = _row_value(task, "positive_pairs")
    negatives = _row_value(task, "negative_pairs") or (pairs - positives if positives else None)
    counts = f"{pairs} pairs scored" + (f" ({positives} same / {negatives} different)" if positives else "")
    if tar_columns(task):
        return f"{counts}; TAR at each FAR and the AUC from the ROC of all pairs (no folds)"
    folds = _row_value(task, "folds")
    if folds is None:  # results written before the folds were recorded: the protocol's text names them
        match = re.match(r"(\d+)-fold", str(_row_value(task, "selected_on") or ""))
        folds = int(match.group(1)) if match else None
    if not folds:
        return f"{counts}; one threshold for all pairs (no folds); AUC over all pairs"
    return (f"{counts} in {folds} folds; acc: the mean over the folds ± their standard deviation (each fold at the "
            "threshold chosen on the other folds); AUC over all pairs")


def _row_value(task: dict, key: str):
    """A value every row of a verification task shares (what the data allowed), from the first row holding it."""
    return next((r[key] for by_feature in task["rows"].values() for r in by_feature.values()
                 if isinstance(r, dict) and r.get(key)), None)


def attribute_tables(tasks: list[dict], paper_protocol: bool = False) -> str:
    """Accuracy per attribute, one line per attribute and one column per model row: CelebA's 40 attributes
    stay readable as lines where they would not as columns."""
    out = []
    for t in tasks:
        info = t.get("info", {})
        keys = _row_keys([t])
        title = f"Facial attributes per attribute, {t['name']} (accuracy %)"
        title += " — PAPER PROTOCOL, selected on test" if paper_protocol else ""
        header = ["attribute", "train positives %"] + [f"{label} {feature}" for label, feature in keys]
        lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name in info.get("attributes") or []:
            rate = info.get("base_rates", {}).get(name)
            cells = [cell(t["rows"][label][feature], f"accuracy_{name}", 100) for label, feature in keys]
            lines.append("| " + " | ".join([name, "—" if rate is None else f"{rate * 100:.1f}"] + cells) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def render(results: dict) -> str:
    ck = results.get("checkpoint", {})
    baselines_only = not ck.get("path") and ck.get("weights_hash") is None  # checkpoint_row=False: no checkpoint
    lines = ["# facessl linear evaluation", "",
             "- no checkpoint: baselines only" if baselines_only else
             f"- checkpoint: `{ck.get('path', '?')}` (weights {ck.get('weights_hash', '?')})",
             f"- facessl {results.get('facessl_version', '?')}, eval config {results.get('eval_config_hash', '?')}, "
             f"input {results.get('eval_config', {}).get('input_size', '?')} px, "
             f"{seeds_text(results)}",
             *([f"- model selection: {results.get('protocol', '?')}"] if _has_probe(results) else [])]
    skipped = results.get("eval_config", {}).get("skipped_features") or []
    if skipped:
        evaluated = results.get("eval_config", {}).get("features") or []
        lines.append(f"- feature{'s' * (len(skipped) != 1)} {', '.join(skipped)} skipped: not in this checkpoint"
                     + (f" (evaluated: {', '.join(evaluated)})" if evaluated else ""))
    for alias, original in (results.get("eval_config", {}).get("same_features") or {}).items():
        lines.append(f"- feature {alias}: the very same numbers as {original} for this model, probed once (as {original})")
    inits = results.get("baseline_inits") or {}
    if inits.get("random"):
        seeds = inits["random"].get("seeds") or []
        lines.append(f"- random weights: {inits['random'].get('init')}, {len(seeds)} draw(s) (seeds "
                     f"{', '.join(map(str, seeds))}), "
                     + ("each probed with every seed" if _has_probe(results) else "each scored on the same pairs"))
    if inits.get("supervised"):
        lines.append(f"- supervised: from {inits['supervised']}")
    rates: dict[float, list] = {}  # the supervised rows' learning rates (a task's own: baselines.SUPERVISED_LR)
    for t in results.get("tasks", []):
        for row in ((t.get("rows") or {}).get("supervised") or {}).values():
            if isinstance(row, dict) and row.get("lr") is not None:
                rates.setdefault(row["lr"], []).append(t["name"])
    if rates:
        lines.append("- supervised learning rate (Adam): "
                     + "; ".join(f"{lr:g} ({', '.join(names)})" for lr, names in sorted(rates.items())))
    default_size = results.get("eval_config", {}).get("input_size")
    own_sizes = [f"{t['name']} {t['input_size']} px" for t in results.get("tasks", [])
                 if t.get("input_size") not in (None, default_size)]
    if own_sizes:
        lines.insert(3, f"- tasks at their own input size: {', '.join(own_sizes)}")
    if results.get("paper_protocol"):
        lines += ["", "**PAPER PROTOCOL: hyper-parameters and epoch chosen on the TEST set. These numbers are "
                      "optimistic and not comparable with validation-selected ones.**"]
    lines += data_lines(results.get("tasks", []))
    lines.append("")
    by_kind: dict[str, list] = {}
    for t in results.get("tasks", []):
        if t.get("error"):
            continue
        for kind in SECTIONS.get(t["task"], (t["task"],)):
            by_kind.setdefault(kind, []).append(t)
    paper = bool(results.get("paper_protocol"))
    for kind in ORDER:
        if kind == "attributes_each" and kind in by_kind:
            lines += [attribute_tables(by_kind[kind], paper), ""]
        elif kind in by_kind:
            lines += [table(kind, by_kind[kind], paper), ""]
    failed = [t for t in results.get("tasks", []) if t.get("error")]
    if failed:
        lines += ["### Failed tasks", ""] + [f"- {t['name']} ({t['task']}): {t['error']}" for t in failed] + [""]
    return "\n".join(lines).rstrip() + "\n"


def seeds_text(results: dict) -> str:
    """The header's seeds: the probes' seeds; when no task trains a probe (verification alone), no seeds at all: what
    the ± is instead (verification: the spread over the folds), and the supervised row's seeds where one trained."""
    config = results.get("eval_config", {})
    if _has_probe(results):
        return f"{config.get('seeds', '?')} seed(s)"
    text = "no seeds (no probe is trained; verification's ± is the standard deviation over its folds"
    trained = any(isinstance(r, dict) and "metrics" in r for t in results.get("tasks", [])
                  for r in ((t.get("rows") or {}).get("supervised") or {}).values())
    if trained:
        text += f"; the supervised row trained with {config.get('supervised_seeds', 1)} seed(s)"
    return text + ")"


def _has_probe(results: dict) -> bool:
    """Whether any task trained a probe (verification and retrieval have none: the model-selection line does not
    apply to them)."""
    tasks = results.get("tasks")
    return not tasks or any(t.get("task") not in ("verification", "retrieval") for t in tasks)


def data_lines(tasks: list[dict]) -> list[str]:
    """Per task: the data, how it was split, rows per part, and where the probe's settings were chosen when that
    is not the carve the model-selection line names (a validation split the dataset gives, or the test set)."""
    lines = []
    for t in tasks:
        if t.get("error"):
            continue
        info = t.get("info") or {}
        parts = [f"{t.get('dataset', '?')}" + (f", trained on {t['train_dataset']}" if t.get("train_dataset") else "")]
        if info.get("split"):
            parts.append(f"split: {info['split']}")
        counts = [f"{k} {info[k + '_rows']}" for k in ("train", "val", "test") if info.get(k + "_rows")]
        if counts:
            parts.append("rows " + ", ".join(counts))
        if t.get("task") == "retrieval" and info.get("queries"):
            parts.append(f"{info['images']} images of {info['people']} people ({info['matched_on']}), "
                         f"{info['queries']} queries; {info['protocol']}")
        chosen = {sel.get("selected_on") for row in (t.get("rows") or {}).values() if isinstance(row, dict)
                  for r in row.values() if isinstance(r, dict) for sel in r.get("selection") or []}
        chosen.discard(None)
        chosen.discard(SELECTED_ON_VALIDATION)
        if chosen:
            parts.append("probe settings chosen on the " + " / ".join(sorted(chosen)))
        lines.append(f"- {t['name']} ({t['task']}): " + "; ".join(parts))
    return lines


def save(folder, results: dict) -> None:
    """Write results.json and its tables results.md into `folder`, each atomically."""
    from pathlib import Path

    from facessl.engine.io import write_json_atomic, write_text_atomic

    write_json_atomic(Path(folder) / "results.json", results)
    write_text_atomic(Path(folder) / "results.md", render(results))
