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
from facessl.data.image_decode import read_face
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
LABEL_TABLE = "labels.csv"  # data/: a `dataset: FORMAT:PATH` written as the table the study reads
LABEL_SPLIT = "labels_split.txt"  # data/: beside LABEL_TABLE, how the dataset's reader split it (for the report)
VALIDATION_SEED = 1  # the carve's first placement seed (the table's own split uses 0)


def reader_options(plan: StudyPlan) -> dict:
    return {"images": plan.images or plan.photos, "label_column": plan.label_column, "group": plan.group,
            "min_class_count": plan.min_class_count, "skip_missing": True}


def table_options(path: Path, min_class_count: int = 0) -> dict:
    """Reader options of a table the study wrote (table_rows): absolute paths, its own group and split columns."""
    with open(path, encoding="utf-8") as f:  # the header says whether the table carries face boxes
        boxed = "x0" in f.readline().rstrip("\n").split(",")
    return {"images": str(path.parent), "label_column": "label", "group_column": "group", "split_column": "split",
            "skip_missing": True, "min_class_count": min_class_count,
            **({"box_columns": "x0,y0,x1,y1", "box_format": "xyxy"} if boxed else {})}


def evaluation_table(out: Path, plan: StudyPlan) -> tuple[str, dict]:
    """(CSV path, reader options) of the table the study pretrains beside and probes on: the label table (or
    the table written from `dataset`), or with holdout=validation the carve written by prepare_data."""
    if plan.holdout == "validation":
        return str(out / "data" / VALIDATION_TABLE), table_options(out / "data" / VALIDATION_TABLE)
    if plan.dataset:
        return str(out / "data" / LABEL_TABLE), table_options(out / "data" / LABEL_TABLE, plan.min_class_count)
    return plan.labels, reader_options(plan)


def labelled_set(out: Path, plan: StudyPlan):
    """The labelled table: plan.labels read as CSV, or plan.dataset (any labelled format) written as one first."""
    if not plan.dataset:
        return read_csv_table(plan.labels, **reader_options(plan))
    path = out / "data" / LABEL_TABLE
    if not path.is_file():
        write_dataset_table(path, plan)
    data = read_csv_table(path, **table_options(path, plan.min_class_count))
    split_note = path.parent / LABEL_SPLIT
    # the table's split column holds the reader's split: the report names that, not the column
    data.meta["split_from"] = split_note.read_text(encoding="utf-8") if split_note.is_file() else plan.dataset
    return data


def write_dataset_table(path: Path, plan: StudyPlan) -> None:
    """plan.dataset read by its format's reader, written as the study's table: one row per face with its class
    name, group (the reader's, else the file), split (val rows train: the study carves its own) and, for
    faces given as boxes, the box; images held in memory (FER-2013's CSV) are written as PNGs beside it."""
    from facessl.data.formats.common import PairSet
    from facessl.data.labels import class_labels
    from facessl.engine.io import write_text_atomic
    from facessl.evaluate.suite import read_dataset

    data = read_dataset(plan.dataset, True, dict(plan.dataset_options))
    classes = None if isinstance(data, PairSet) else class_labels(data)
    if classes is None or data.split is None:
        raise FacesslError(f"study: dataset {plan.dataset!r} has no class labels with a train/test split "
                           "(the study probes a classification task)")
    values, names = classes
    images = list(data.images)
    if isinstance(data.images, np.ndarray) or any(isinstance(i, np.ndarray) for i in images):
        (path.parent / "images").mkdir(parents=True, exist_ok=True)
        for k, item in enumerate(images):
            if isinstance(item, np.ndarray):
                images[k] = path.parent / "images" / f"row{k:07d}.png"
                Image.fromarray(item).save(images[k])
    groups = data.labels.get("group", np.array([str(Path(str(i)).resolve()) for i in images]))
    split = np.where(data.split == "test", "test", "train")
    how = (data.meta or {}).get("split_from") or "its reader's"
    write_text_atomic(path.parent / LABEL_SPLIT, f"{plan.dataset}: split {how} (validation rows as train)")
    table_rows(path, images, [names[int(c)] for c in values], groups, split)


def table_rows(path: Path, images, labels, groups, split) -> None:
    """Write image,label,group,split rows (absolute paths) atomically; faces given as boxes add x0,y0,x1,y1
    (a plain image among them gets its whole picture as the box)."""
    import csv
    import io

    from facessl.data.image_decode import BoxedImage, upright_size
    from facessl.engine.io import write_text_atomic

    boxed = any(isinstance(i, BoxedImage) for i in images)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["image", "label", "group", "split"] + (["x0", "y0", "x1", "y1"] if boxed else []))
    for image, label, group, side in zip(images, labels, groups, split):
        row = [str(Path(str(image)).resolve()), label, group, side]
        if boxed:
            if isinstance(image, BoxedImage):
                row += [f"{v:g}" for v in image.box]
            else:
                with Image.open(str(image)) as im:
                    row += [0, 0, *upright_size(im)]
        writer.writerow(row)
    write_text_atomic(path, text.getvalue())


def best_carve(classes, groups, tries: int = 20) -> tuple[np.ndarray, int]:
    """The validation carve: grouping.best_grouped_split at 20 %, placements from VALIDATION_SEED."""
    from facessl.data.formats.grouping import TEST_FRACTION, best_grouped_split

    return best_grouped_split(classes, groups, TEST_FRACTION, seed=VALIDATION_SEED, tries=tries)


def write_validation_table(out: Path, data) -> str:
    """The train split of the label table, carved again (grouped, stratified, 20 %) into train and a
    validation side written as 'test'; the test split's rows are not written (their images are never read)."""
    keep = data.split == "train"
    names, classes, groups = data.meta["class_names"], data.labels["class"][keep], data.labels["group"][keep]
    carve, seed = best_carve(classes, groups)
    images = [image for image, k in zip(data.images, keep) if k]
    table_rows(out / "data" / VALIDATION_TABLE, images, [names[c] for c in classes], groups, carve)
    return f"validation carve (seed {seed}, 20 %, grouped, stratified) of the train split of the " \
           f"{data.meta['split_from']}; the test split is set aside unread"


def prepare_data(out: Path, plan: StudyPlan) -> dict:
    """Link the train-split photos into data/pretrain_photos; count the split (with holdout=validation: the
    train side of the validation carve, the test split set aside)."""
    (out / "data").mkdir(parents=True, exist_ok=True)
    data = labelled_set(out, plan)
    split_from, left_out, dropped = data.meta["split_from"], data.meta.get("left_out_classes", {}), data.dropped
    if plan.holdout == "validation":
        (out / "data").mkdir(parents=True, exist_ok=True)
        split_from = write_validation_table(out, data)
        path, opts = evaluation_table(out, plan)
        data = read_csv_table(path, **opts)
    folder = out / "data" / "pretrain_photos"
    folder.mkdir(parents=True, exist_ok=True)
    face = lambda p: (str(p), getattr(p, "box", None))  # a photo may hold several faces (boxes)
    train = {face(p): p for p, s in zip(data.images, data.split) if s == "train"}
    test = {face(p) for p, s in zip(data.images, data.split) if s == "test"}
    if train and test and set(train) & test:
        raise FacesslError("study: a photo is on both sides of the split (check --group)")
    stems = [Path(key[0]).stem for key in sorted(train, key=str)]
    numbered = len(set(stems)) < len(stems)  # two folders hold the same file name, or a photo several faces
    for k, key in enumerate(sorted(train, key=str)):  # stored at the training size once: decoding per step would dominate
        target = folder / (f"{k:06d}_{stems[k]}.png" if numbered else f"{stems[k]}.png")
        if not target.exists():
            Image.fromarray(read_face(train[key], plan.size)).save(target)
    names = data.meta["class_names"]
    counts = {s: {n: int(((data.split == s) & (data.labels["class"] == i)).sum()) for i, n in enumerate(names)}
              for s in ("train", "test")}
    info = {"pretrain_photos": len(train), "test_photos": len(test), "rows": len(data), "counts": counts,
            "dropped": dropped, "split": split_from, "holdout": plan.holdout, "left_out_classes": left_out}
    if data.meta.get("case_only_classes"):  # kept apart; the report names them (formats.grouping.case_note)
        info["case_only_classes"] = data.meta["case_only_classes"]
    return info


def run_name(method: str, seed: int) -> str:
    return f"{method}_seed{seed}"


def method_config(out: Path, plan: StudyPlan, method: str, seed: int, steps: int, extra=()):
    if method == "fabnet":  # frame pairs of one face track: photos cannot serve
        data = [f"data.path={plan.videos}", "data.layout=voxceleb"]
    else:
        data = [f"data.path={out / 'data' / 'pretrain_photos'}", "data.layout=folder", "data.sampling=all_frames"]
    overrides = [f"seed={seed}", f"backbone.name={plan.backbone}", f"backbone.width={plan.width}",
                 f"train.steps={steps}", f"train.batch_size={plan.batch_size}", f"data.size={plan.size}", *data,
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
                    out / "runs" / run_name(method, seed), quiet=quiet, save_on_sigterm=True)  # as the demo's
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
                       supervised_seeds=plan.supervised_seeds, supervised_precision=plan.supervised_precision,
                       random_inits=plan.random_inits,
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
    """Probe runs/<name> (PCL: every feature of plan.pcl_features; FAb-Net: of plan.fabnet_features)."""
    encoder = facessl.load(out / "runs" / name)
    names = tuple(encoder.feature_names)
    wanted = plan.pcl_features if {"ff", "fp"} <= set(names) else plan.fabnet_features if "embedding" in names else []
    features = [f for f in wanted if f in names] or [names[0]]
    return _evaluate_to(out, plan, name, encoder, quiet, features=features, baselines=(),
                        checkpoint={"path": str(out / "runs" / name)})


BASELINES_RUN = "baselines"  # eval/baselines/: the random-weights, supervised and floor rows


def evaluate_baselines(out: Path, plan: StudyPlan, quiet: bool) -> str:
    """The random-weights, supervised and majority-class rows from the architecture alone (they need no
    pretrained run, so this stage runs beside the pretraining)."""
    from facessl.methods import build_method

    cfg = method_config(out, plan, "simclr", plan.seeds[0], plan.steps)
    encoder = build_method(cfg).encoder()
    encoder.config = cfg  # the random row starts from this config's init, as its runs did
    return _evaluate_to(out, plan, BASELINES_RUN, encoder, quiet, features=["fs"], baselines=("random", "supervised"),
                        checkpoint_row=False)


def read_results(out: Path, name: str) -> dict | None:
    path = out / "eval" / name / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None
