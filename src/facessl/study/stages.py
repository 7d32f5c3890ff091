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

from PIL import Image

import facessl
from facessl.config import load_config
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


def reader_options(plan: StudyPlan) -> dict:
    return {"images": plan.images or plan.photos, "label_column": plan.label_column, "group": plan.group,
            "min_class_count": plan.min_class_count, "skip_missing": True}


def labelled_set(plan: StudyPlan):
    return read_csv_table(plan.labels, **reader_options(plan))


def prepare_data(out: Path, plan: StudyPlan) -> dict:
    """Link the train-split photos into data/pretrain_photos; count the split."""
    data = labelled_set(plan)
    folder = out / "data" / "pretrain_photos"
    folder.mkdir(parents=True, exist_ok=True)
    train = sorted({p for p, s in zip(data.images, data.split) if s == "train"})
    test = {p for p, s in zip(data.images, data.split) if s == "test"}
    if train and test and set(train) & test:
        raise FacesslError("study: a photo is on both sides of the split (check --group)")
    for path in train:  # stored at the training size once: decoding 128 px JPEGs per step would dominate
        target = folder / (Path(path).stem + ".png")
        if not target.exists():
            with Image.open(path) as im:
                im.convert("RGB").resize((plan.size, plan.size), Image.BILINEAR).save(target)
    names = data.meta["class_names"]
    counts = {s: {n: int(((data.split == s) & (data.labels["class"] == i)).sum()) for i, n in enumerate(names)}
              for s in ("train", "test")}
    return {"pretrain_photos": len(train), "test_photos": len(test), "rows": len(data), "counts": counts,
            "dropped": data.dropped, "split": data.meta["split_from"],
            "left_out_classes": data.meta.get("left_out_classes", {})}


def run_name(method: str, seed: int) -> str:
    return f"{method}_seed{seed}"


def method_config(out: Path, plan: StudyPlan, method: str, seed: int, steps: int, extra=()):
    if method == "fabnet":  # frame pairs of one face track: photos cannot serve
        data = [f"data.path={plan.videos}", "data.layout=voxceleb"]
    else:
        data = [f"data.path={out / 'data' / 'pretrain_photos'}", "data.layout=folder", "data.sampling=all_frames"]
    overrides = [f"seed={seed}", f"backbone.name={plan.backbone}", f"train.steps={steps}",
                 f"train.batch_size={plan.batch_size}", f"data.size={plan.size}", *data, *extra]
    return load_config(CONFIG_DIR / f"{method}_synth.yaml", overrides=overrides)


def calibrate(out: Path, plan: StudyPlan, method: str, quiet: bool) -> dict:
    """Steps that fit the wall-clock budget: time CALIBRATION_STEPS steps (after the first, which pays
    for start-up), then steps = budget / seconds per step. Without a budget: plan.steps."""
    from facessl.engine.train import train

    if not plan.budget_minutes:
        return {"steps": plan.steps, "seconds_per_step": None}
    extra = ["train.log_every=1", f"train.checkpoint_every={CALIBRATION_STEPS}", "train.image_every=0"]
    cfg = method_config(out, plan, method, plan.seeds[0], CALIBRATION_STEPS, extra)
    run = out / "calibration" / method
    train(cfg, run, quiet=quiet)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    first, last = records[1], records[-1]
    per_step = (last["elapsed"] - first["elapsed"]) / max(1, last["step"] - first["step"])
    steps = max(MIN_STEPS, int(plan.budget_minutes * 60 / per_step))
    return {"steps": steps, "seconds_per_step": per_step}


CALIBRATION_STEPS = 12
MIN_STEPS = 20


def pretrain(out: Path, plan: StudyPlan, method: str, seed: int, steps: int, quiet: bool) -> dict:
    from facessl.engine.train import train

    t0 = time.perf_counter()
    summary = train(method_config(out, plan, method, seed, steps), out / "runs" / run_name(method, seed), quiet=quiet)
    result = {k: v for k, v in summary.items() if isinstance(v, (int, float, str, type(None)))}
    return {**result, "steps": steps, "seconds": time.perf_counter() - t0}


def options(plan: StudyPlan, quiet: bool) -> EvalOptions:
    return EvalOptions(seeds=plan.probe_seeds, epochs=plan.probe_epochs, supervised_epochs=plan.supervised_epochs,
                       size=plan.eval_size or plan.size, balanced=plan.balanced, quiet=quiet)


def _evaluate_to(out: Path, plan: StudyPlan, name: str, encoder, quiet: bool, **kwargs) -> str:
    """Probe `encoder` on the labelled table (settings chosen on a validation carve of train); writes
    eval/<name>/results.{json,md} and returns the results.json path."""
    opts = {k: v for k, v in reader_options(plan).items() if k != "skip_missing"}
    spec = TaskSpec("classification", f"csv:{plan.labels}", name=TASK_NAME, options=opts)
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
