"""The study's tables, verdicts and report (the demo's report writer: facessl.report.build_report).

Cells are mean ± std over every (pretraining seed, probe seed) pair of a method; a method "beats
random beyond the seed spread" when its lowest such value is above the random row's highest.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from facessl.data.formats.grouping import case_note
from facessl.engine.io import write_json_atomic
from facessl.evaluate.tables import floor_note
from facessl.report.sections import Figure, Section, Table
from facessl.report.tables import NOT_FINITE
from facessl.study.plan import StudyPlan
from facessl.study.stages import BASELINES_RUN, read_results, run_name
from facessl.wording import counted

METRICS = (("mean_class_accuracy", "mean-class acc. (%)"), ("macro_f1", "macro F1 (%)"), ("accuracy", "acc. (%)"))
LABELS = {"simclr": "SimCLR", "pcl": "PCL", "fabnet": "FAb-Net"}
FEATURE_NAMES = {"fs": "F_s", "ff": "F_f", "fp": "F_p", "embedding": "embedding"}
TARGET_GAIN = 5.0  # points of mean-class accuracy over random weights


def _values(result: dict, metric: str) -> list[float]:
    """A metric's per-seed values in %; a seed stored as null (results.json's NaN: a probe that diverged) is NaN,
    which the cells and verdicts then show as not finite rather than crash on."""
    m = result.get("metrics", {}).get(metric, {})
    return [math.nan if v is None else 100.0 * v for v in m.get("per_seed", [])]


def collect(out: Path, plan: StudyPlan) -> dict:
    """row -> {metric: [values over (pretraining seed, probe seed)]}, plus per-seed means."""
    rows: dict[str, dict] = {}
    first = None
    for method in plan.methods:
        for seed in plan.seeds:
            results = read_results(out, run_name(method, seed))
            if results is None:
                continue
            task = results["tasks"][0]
            first = first or task
            named = method == "pcl" or len(task["rows"]["checkpoint"]) > 1  # FAb-Net probed on two read-outs
            for feature, result in task["rows"]["checkpoint"].items():
                label = LABELS[method] + (f" ({FEATURE_NAMES.get(feature, feature)})" if named else "")
                row = rows.setdefault(label, {"method": method, "seeds": {}})
                for metric, _ in METRICS:
                    row.setdefault(metric, []).extend(_values(result, metric))
                row["seeds"][seed] = float(np.mean(_values(result, "mean_class_accuracy")))
    baselines = read_results(out, BASELINES_RUN)  # a study written before the baselines had their own stage:
    first = baselines["tasks"][0] if baselines else first  # the first run's evaluation holds them
    if first is not None:
        for label, key in (("Random weights", "random"), ("Supervised (fine-tuned)", "supervised"), ("Floor (majority class)", "floor")):
            for result in first["rows"].get(key, {}).values():
                if isinstance(result, dict) and "metrics" in result:
                    rows[label] = {"method": key, **{m: _values(result, m) for m, _ in METRICS}}
    return rows


def supervised_at_floor(rows: dict) -> bool:
    """Whether the supervised row beats the floor on none of the table's metrics (by their means): it did not learn."""
    supervised, floor = rows.get("Supervised (fine-tuned)"), rows.get("Floor (majority class)")
    if not supervised or not floor:
        return False
    pairs = [(np.mean(supervised[m]), np.mean(floor[m])) for m, _ in METRICS if supervised.get(m) and floor.get(m)]
    pairs = [(a, b) for a, b in pairs if np.isfinite(a) and np.isfinite(b)]
    return bool(pairs) and all(a <= b + 1e-7 for a, b in pairs)


def verdicts(rows: dict) -> dict:
    random_row = rows.get("Random weights", {})
    random = random_row.get("mean_class_accuracy")
    out = {}
    for label, row in rows.items():
        if row["method"] not in LABELS or not random or not row.get("mean_class_accuracy"):
            continue
        values = row["mean_class_accuracy"]
        gain = float(np.mean(values) - np.mean(random))
        if not np.isfinite(gain):  # a diverged probe on either side: neither a win nor a loss
            out[label] = {"gain": gain, "beyond_spread": False, "target_met": False, "not_finite": True}
            continue
        measured = len(values) >= 2 and len(random) >= 2  # one value has no spread to be beyond
        out[label] = {"gain": gain, "beyond_spread": measured and bool(min(values) > max(random)),
                      "spread_measured": measured, "target_met": gain >= TARGET_GAIN}
        # the other two metrics' gains: a probe can buy mean-class accuracy with its plain accuracy and F1
        out[label].update({f"{metric}_gain": float(np.mean(row[metric]) - np.mean(random_row[metric]))
                           for metric in ("macro_f1", "accuracy") if row.get(metric) and random_row.get(metric)})
    return out


def _other_gains(verdict: dict) -> str:
    parts = [f"{name} {verdict[key]:+.2f}" for key, name in (("macro_f1_gain", "macro F1"), ("accuracy_gain", "accuracy"))
             if key in verdict]
    return f"; against random weights: {', '.join(parts)}" if parts else ""


def _cell(values) -> str:
    if not values:
        return "—"
    if not np.all(np.isfinite(values)):
        return NOT_FINITE
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def _pretraining_minutes(method: str, timings: dict) -> str:
    """The mean minutes of a method's pretraining stages ('12.5 per seed'); '—' when none recorded a time
    (a stage record without one, or 0 s), rather than a '0.0' that reads as a run that took no time."""
    seconds = [s for k, s in timings.items() if k.startswith(f"pretrain-{method}_")  # timings are in seconds
               and isinstance(s, (int, float)) and np.isfinite(s) and s > 0]
    if not seconds:
        return "—"
    minutes = np.mean(seconds) / 60
    return f"{minutes:.1f} per seed" if minutes >= 0.05 else "< 0.1 per seed"  # seconds-long runs: not 0.0


def _verdict_line(label: str, v: dict) -> str:
    if v.get("not_finite"):
        return (f"- {label}: inconclusive: a mean-class accuracy here or in the random row is not finite (a probe "
                "diverged; see its eval/ results)")
    spread = ("beyond the seed spread" if v["beyond_spread"] else "NOT beyond the seed spread"
              if v.get("spread_measured", True) else "seed spread not measured (one value on a side: seeds × "
              "probe_seeds of 2 or more measure it)")
    return (f"- {label}: {v['gain']:+.2f} points mean-class accuracy over random weights; "
            f"{spread}; target +{TARGET_GAIN:.0f}: "
            f"{'met' if v['target_met'] else 'not met'}" + _other_gains(v))


def main_table(rows: dict, timings: dict, holdout: str = "test") -> Table:
    header = ["model"] + [title for _, title in METRICS] + ["n", "pretraining (min)"]
    body = []
    for label, row in rows.items():
        time_cell = _pretraining_minutes(row["method"], timings) if row["method"] in LABELS else ""  # baselines: none
        body.append([label] + [_cell(row.get(m, [])) for m, _ in METRICS] + [str(len(row.get("accuracy", []))), time_cell])
    held_out = ("test split never used for any choice" if holdout == "test" else
                "VALIDATION carve of the train split (the test split set aside unread)")
    return Table(header, body, caption="Linear probes on frozen features (supervised: fine-tuned), real expression "
                 f"labels, {held_out}; mean ± std over pretraining seeds × probe seeds.")


def _steps_text(method: str, budget: dict) -> str:
    steps = budget.get("steps")
    steps = " / ".join(f"{n:,}" for n in steps) if isinstance(steps, list) else f"{steps:,}"  # older studies: one count
    per_step = budget.get("seconds_per_step")
    return f"{LABELS[method]} {steps}" + (f" at {per_step:.2f} s/step" if per_step else "")


def write_report(out: Path, plan: StudyPlan, data_info: dict, timings: dict, missing: list[str],
                 hardware: dict | None = None) -> dict:
    """The study's tables, figures and report from its eval/ results; hardware: the machine that ran it
    (`facessl report` passes the recorded one; a study run records this machine)."""
    from facessl.report import build_report
    from facessl.report.hardware import hardware_info, hardware_section
    from facessl.viz.curves import training_curves

    rows = collect(out, plan)
    verdict = verdicts(rows)
    write_json_atomic(out / "results" / "tables.json", {"rows": rows, "verdicts": verdict, "plan": plan.as_dict(),
                                                        "data": data_info, "missing": missing}, strict=True)
    hardware = json.loads(json.dumps(hardware or hardware_info(), sort_keys=True))  # as hardware.json keeps it,
    write_json_atomic(out / "hardware.json", hardware)                                # so a rebuild reads the same
    timings = dict(sorted(timings.items()))  # the order timings.json keeps (sorted keys)
    write_json_atomic(out / "timings.json", timings)
    figures = []
    runs = {run_name(m, s): out / "runs" / run_name(m, s) for m in plan.methods for s in plan.seeds[:1]
            if (out / "runs" / run_name(m, s) / "metrics.jsonl").is_file()}
    if runs:
        figures.append(Figure(training_curves(runs, out / "figures" / "curves.png"), "Loss terms of the first seed's runs."))
    counts = data_info["counts"]
    data_text = (f"Pretraining: {data_info['pretrain_photos']} photos of the label table's train split "
                 f"(FAb-Net: {plan.videos or 'no prepared clips given'}). Evaluation: {plan.dataset or plan.labels}, "
                 f"{data_info['split']}; train {sum(counts['train'].values())} / "
                 f"{'test' if plan.holdout == 'test' else 'validation'} {sum(counts['test'].values())} rows"
                 + (f", {len(counts['train'])} classes; left out (fewer than {plan.min_class_count} images): "
                    + ", ".join(f"{name} ({n})" for name, n in data_info["left_out_classes"].items())
                    if data_info.get("left_out_classes") else f", {len(counts['train'])} classes") + ". "
                 + (f"Note: {case_note(data_info['case_only_classes'])}. "
                    if data_info.get("case_only_classes") else "")
                 + f"Backbone `{plan.backbone}` (width {plan.width:g}, every method), {plan.size} px, batch {plan.batch_size}, "
                 + (f"{plan.budget_minutes:g} minutes of training per method and seed (steps per seed: "
                    + ", ".join(_steps_text(m, data_info["budget"][m]) for m in plan.methods
                                if m in data_info.get("budget", {})) + ")"
                    if plan.budget_minutes else f"{plan.steps} steps per method and seed")
                 + f" (seeds {plan.seeds}); probes: {plan.eval_size or plan.size} px input, "
                 + f"{counted(plan.probe_seeds, 'seed')}, {plan.probe_epochs} epochs, "
                 + ("class-balanced cross-entropy, weight decay chosen at the last epoch on the class-balanced "
                    "cross-entropy of " if plan.balanced else "weight decay chosen at the last epoch on the cross-entropy of ")
                 + "a grouped, stratified validation carve of the train split."
                 + ("".join(f" {LABELS[m]} settings: {', '.join(items)}." for m, items in plan.method_overrides.items()
                            if m in plan.methods)))
    lines = [_verdict_line(label, v) for label, v in verdict.items()]
    if supervised_at_floor(rows):
        lines.append(f"- Supervised (fine-tuned): {floor_note(plan.supervised_epochs, 'the study setting supervised_epochs (facessl study ... supervised_epochs=N)')}")
    lines += [f"- missing: {m}" for m in missing]
    sections = [Section("Data and budget", data_text),
                Section("Real expressions" + (" (validation carve)" if plan.holdout != "test" else ""),
                        "\n".join(lines), [main_table(rows, timings, plan.holdout)]),
                Section("Pretraining", "", [], figures),
                hardware_section(hardware, timings)]
    build_report(out, sections, title="facessl study: SSL methods on real faces")
    return verdict


def rebuild(out: Path) -> dict:
    """`facessl report STUDY_DIR`: the report again from what the study saved (its settings, data summary, timings,
    the machine it ran on and the eval/ results)."""
    import json

    from facessl.errors import DataFormatError

    path = out / "results" / "tables.json"
    try:
        saved = json.loads(path.read_text())
        plan = StudyPlan(**saved["plan"])
        timings = json.loads((out / "timings.json").read_text())
        hardware = json.loads((out / "hardware.json").read_text())
        return write_report(out, plan, saved["data"], timings, saved.get("missing", []), hardware)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataFormatError(path, f"not a study's saved tables, or its timings.json / hardware.json are missing "
                                    f"({type(exc).__name__}: {exc}); rerun `facessl study`") from None
