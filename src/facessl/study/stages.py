"""The study's stages: the labelled table and the photos to pretrain on, pretraining runs, evaluations.

Layout of a study directory:
  data/pretrain_photos/   the photos of the label table's TRAIN split at the training size (no
                          test photo is ever seen, not even unlabelled)
  calibration/<method>/   a few timed steps per method: steps = budget / seconds per step
  runs/<method>_seed<k>/  pretraining runs        eval/<run>/ results.json + results.md
                          (eval/baselines/: random weights, supervised, majority class)
  cache/                  feature cache           results/ tables.json     report.md / report.html
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

import facessl
from facessl.config import load_config
from facessl.data.image_decode import read_rgb
from facessl.data.formats.csvtable import read_csv_table
from facessl.demo.plan import CONFIG_DIR
from facessl.errors import FacesslError
from facessl.evaluate.cache import FeatureCache
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.runner import evaluate
from facessl.evaluate.suite import TaskSpec
from facessl.evaluate.tables import save as save_results
from facessl.study.plan import StudyPlan

TASK_NAME = "real expressions"


VALIDATION_TABLE = "validation.csv"  # data/: holdout=validation's table (its 'test' rows are the carve)
VALIDATION_SEED = 1  # the carve's first placement seed (the table's own split uses 0)


def reader_options(plan: StudyPlan) -> dict:
    return {"images": plan.images or plan.photos, "label_column": plan.label_column, "group": plan.group,
            "min_class_count": plan.min_class_count, "skip_missing": True}


def evaluation_table(out: Path, plan: StudyPlan) -> tuple[str, dict]:
    """(CSV path, reader options) of the table the study pretrains beside and probes on: the label table, or
    with holdout=validation the carve written by prepare_data (absolute image paths, its own split column)."""
    if plan.holdout == "test":
        return plan.labels, reader_options(plan)
    return str(out / "data" / VALIDATION_TABLE), {"images": str(out / "data"), "label_column": "label",
                                                  "group_column": "group", "split_column": "split", "skip_missing": True}


def labelled_set(plan: StudyPlan):
    return read_csv_table(plan.labels, **reader_options(plan))


def best_carve(classes, groups, tries: int = 20) -> tuple[np.ndarray, int]:
    """The validation carve: grouping.best_grouped_split at 20 %, placements from VALIDATION_SEED."""
    from facessl.data.formats.grouping import TEST_FRACTION, best_grouped_split

    return best_grouped_split(classes, groups, TEST_FRACTION, seed=VALIDATION_SEED, tries=tries)


def write_validation_table(out: Path, data) -> str:
    """The train split of the label table, carved again (grouped, stratified, 20 %) into train and a
    validation side written as 'test'; the test split's rows are not written (their images are never read)."""
    import csv
    import io

    from facessl.engine.io import write_text_atomic

    keep = data.split == "train"
    names, classes, groups = data.meta["class_names"], data.labels["class"][keep], data.labels["group"][keep]
    carve, seed = best_carve(classes, groups)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["image", "label", "group", "split"])
    for image, label, group, side in zip(np.asarray(data.images)[keep], classes, groups, carve):
        writer.writerow([str(Path(image).resolve()), names[label], group, side])
    path = out / "data" / VALIDATION_TABLE
    write_text_atomic(path, text.getvalue())
    return f"validation carve (seed {seed}, 20 %, grouped, stratified) of the train split of the " \
           f"{data.meta['split_from']}; the test split is set aside unread"


def prepare_data(out: Path, plan: StudyPlan) -> dict:
    """Link the train-split photos into data/pretrain_photos; count the split (with holdout=validation: the
    train side of the validation carve, the test split set aside)."""
    data = labelled_set(plan)
    split_from, left_out, dropped = data.meta["split_from"], data.meta.get("left_out_classes", {}), data.dropped
    if plan.holdout == "validation":
        (out / "data").mkdir(parents=True, exist_ok=True)
        split_from = write_validation_table(out, data)
        path, opts = evaluation_table(out, plan)
        data = read_csv_table(path, **opts)
    folder = out / "data" / "pretrain_photos"
    folder.mkdir(parents=True, exist_ok=True)
    train = sorted({p for p, s in zip(data.images, data.split) if s == "train"})
    test = {p for p, s in zip(data.images, data.split) if s == "test"}
    if train and test and set(train) & test:
        raise FacesslError("study: a photo is on both sides of the split (check --group)")
    for path in train:  # stored at the training size once: decoding 128 px JPEGs per step would dominate
        target = folder / (Path(path).stem + ".png")
        if not target.exists():
            Image.fromarray(read_rgb(path, plan.size)).save(target)
    names = data.meta["class_names"]
    counts = {s: {n: int(((data.split == s) & (data.labels["class"] == i)).sum()) for i, n in enumerate(names)}
              for s in ("train", "test")}
    return {"pretrain_photos": len(train), "test_photos": len(test), "rows": len(data), "counts": counts,
            "dropped": dropped, "split": split_from, "holdout": plan.holdout, "left_out_classes": left_out}


def run_name(method: str, seed: int) -> str:
    return f"{method}_seed{seed}"


def method_config(out: Path, plan: StudyPlan, method: str, seed: int, steps: int, extra=()):
    if method == "fabnet":  # frame pairs of one face track: photos cannot serve
        data = [f"data.path={plan.videos}", "data.layout=voxceleb"]
    else:
        data = [f"data.path={out / 'data' / 'pretrain_photos'}", "data.layout=folder", "data.sampling=all_frames"]
    overrides = [f"seed={seed}", f"backbone.name={plan.backbone}", f"train.steps={steps}",
                 f"train.batch_size={plan.batch_size}", f"data.size={plan.size}", *data,
                 *plan.method_overrides.get(method, ()), *extra]
    return load_config(CONFIG_DIR / f"{method}_synth.yaml", overrides=overrides)


STEP_CAP = 10_000_000  # train.steps of a run with a time budget: the minutes end it


def pretrain(out: Path, plan: StudyPlan, method: str, seed: int, quiet: bool) -> dict:
    """One pretraining run: plan.budget_minutes of training time (train.minutes, the same for every method and
    seed, the lr schedule over that time), or plan.steps steps without a budget."""
    from facessl.engine.train import train

    t0 = time.perf_counter()
    extra = [f"train.minutes={plan.budget_minutes}"] if plan.budget_minutes else []
    summary = train(method_config(out, plan, method, seed, STEP_CAP if plan.budget_minutes else plan.steps, extra),
                    out / "runs" / run_name(method, seed), quiet=quiet)
    result = {k: v for k, v in summary.items() if isinstance(v, (int, float, str, type(None)))}
    return {**result, "steps": summary["step"], "seconds": time.perf_counter() - t0}


def budget_summary(results: dict, plan: StudyPlan) -> dict:
    """method -> the steps each seed's run took and the mean seconds per step (from the pretraining stages)."""
    out = {}
    for method in plan.methods:
        runs = [results.get(f"pretrain-{run_name(method, seed)}") or {} for seed in plan.seeds]
        steps = [r.get("steps") for r in runs if r.get("steps")]
        timed = [r["training_seconds"] / r["steps"] for r in runs if r.get("training_seconds") and r.get("steps")]
        out[method] = {"steps": steps, "seconds_per_step": sum(timed) / len(timed) if timed else None}
    return out


def options(plan: StudyPlan, quiet: bool) -> EvalOptions:
    return EvalOptions(seeds=plan.probe_seeds, epochs=plan.probe_epochs, supervised_epochs=plan.supervised_epochs,
                       size=plan.eval_size or plan.size, balanced=plan.balanced, quiet=quiet)


def _evaluate_to(out: Path, plan: StudyPlan, name: str, encoder, quiet: bool, **kwargs) -> str:
    """Probe `encoder` on the labelled table (settings chosen on a validation carve of train); writes
    eval/<name>/results.{json,md} and returns the results.json path."""
    table, opts = evaluation_table(out, plan)
    opts = {k: v for k, v in opts.items() if k != "skip_missing"}
    spec = TaskSpec("classification", f"csv:{table}", name=TASK_NAME, options=opts)
    results = evaluate(encoder, [spec], options(plan, quiet), cache=FeatureCache(out / "cache"), skip_missing=True,
                       **kwargs)
    target = out / "eval" / name
    save_results(target, results)
    return str(target / "results.json")


def evaluate_run(out: Path, plan: StudyPlan, name: str, quiet: bool) -> str:
    """Probe runs/<name> (PCL: every feature of plan.pcl_features)."""
    encoder = facessl.load(out / "runs" / name)
    names = tuple(encoder.feature_names)
    features = [f for f in plan.pcl_features if f in names] if {"ff", "fp"} <= set(names) else [names[0]]
    return _evaluate_to(out, plan, name, encoder, quiet, features=features, baselines=(),
                        checkpoint={"path": str(out / "runs" / name)})


BASELINES_RUN = "baselines"  # eval/baselines/: the random-weights, supervised and floor rows


def evaluate_baselines(out: Path, plan: StudyPlan, quiet: bool) -> str:
    """The random-weights, supervised and majority-class rows from the architecture alone (they need no
    pretrained run, so this stage runs beside the pretraining)."""
    from facessl.methods import build_method

    encoder = build_method(method_config(out, plan, "simclr", plan.seeds[0], plan.steps)).encoder()
    return _evaluate_to(out, plan, BASELINES_RUN, encoder, quiet, features=["fs"], baselines=("random", "supervised"),
                        checkpoint_row=False)


def read_results(out: Path, name: str) -> dict | None:
    path = out / "eval" / name / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None
