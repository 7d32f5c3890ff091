"""The demo's stages: data, pretraining and evaluation (analysis and figures live in demo/figures.py).

Layout of a demo directory (what `facessl report` reads is documented in facessl.commands.report):
  data/            the synthetic benchmark (facessl synth)
  runs/<method>/   pretraining runs (checkpoints, metrics.jsonl, images/)
  eval/<method>/   results.json + results.md of each method's evaluation
  cache/           feature cache shared by every evaluation
  results/         tables.json (normalised tables) and analysis.json
  figures/         PNGs of the report; stages/ markers of finished stages
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import facessl
from facessl.config import load_config
from facessl.demo.plan import CONFIG_DIR, DemoPlan, config_path
from facessl.evaluate.cache import FeatureCache
from facessl.evaluate.protocol import EvalOptions, seed_spread
from facessl.evaluate.runner import evaluate
from facessl.evaluate.suite import load_suite
from facessl.evaluate.tables import save as save_results
from facessl.engine.train import train

PCL_FEATURES = ("fs", "ff", "fp", "ff+fp")
# PCL's feature-choice table: the paper's tasks (RAF-DB / LFW / DISFA) with its four read-outs, and head pose
# with F_s, F_f and F_p (does F_p hold pose and F_f not?; F_f + F_p there is no claim of the paper and, at 64 px,
# two fifths of the probes' cost); every other task is probed on F_s alone, which keeps the demo within budget.
FEATURE_CHOICE_TASKS = {"RAF-DB": PCL_FEATURES, "LFW": PCL_FEATURES, "DISFA": PCL_FEATURES,
                        "AFLW2000": ("fs", "ff", "fp")}


def build_data(out: Path, plan: DemoPlan, seed: int, quiet: bool, jobs: int = 1) -> dict:
    """The synthetic benchmark; `jobs` parts at a time in their own processes (the same files at any jobs)."""
    from facessl.data.synthetic.build import build_benchmark

    result = build_benchmark(out / "data", size=64, seed=seed, scale=plan.data_scale, jobs=jobs, quiet=quiet)
    return {"built": list(result.built), "cached": list(result.cached), "seconds": result.seconds}


def preview(out: Path, seed: int) -> str:
    from facessl.data.synthetic import preview_sheet

    path = out / "figures" / "preview.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    preview_sheet(path, size=64, seed=seed)
    return str(path)


def run_name(method: str, seed_offset: int) -> str:
    """runs/<name> of a method's pretraining seed: the first seed keeps the method's name."""
    return method if seed_offset == 0 else f"{method}_seed{seed_offset}"


def seed_runs(plan: DemoPlan, method: str) -> list[str]:
    return [run_name(method, i) for i in range(plan.pretrain_seeds if method in plan.seeded_methods else 1)]


def pretrain_config(method: str, plan: DemoPlan, out: Path, seed: int, steps: int | None = None, extra=()):
    overrides = [f"seed={seed}", f"data.path={out / 'data' / 'voxceleb'}", f"backbone.name={plan.backbone}",
                 f"backbone.width={plan.width}", f"train.steps={steps or plan.steps}",
                 f"train.batch_size={plan.batch_size}", f"data.size={plan.size}", "data.in_memory=true",
                 f"data.frames_cache={out / 'cache' / 'frames'}",  # the runs decode the frames once, not each
                 f"train.precision={plan.precision}",
                 *plan.overrides.get(method, ()), *extra]
    return load_config(config_path(method, plan), overrides=overrides)


def pretrain(out: Path, plan: DemoPlan, method: str, seed: int, quiet: bool, run_name: str | None = None,
             steps: int | None = None, extra=()) -> dict:
    cfg = pretrain_config(method, plan, out, seed, steps, extra)
    # SIGTERM (the demo stopped, its worker told so as its parent dies): the step reached is saved, a rerun resumes
    summary = train(cfg, out / "runs" / (run_name or method), quiet=quiet, save_on_sigterm=True)
    return {k: v for k, v in summary.items() if isinstance(v, (int, float, str, type(None)))}


def eval_options(plan: DemoPlan, quiet: bool) -> EvalOptions:
    # LFW / CPLFW: features centred on the threshold folds' mean (SphereFace's protocol). Chosen on the validation
    # build (docs/demo_study.md, session 13): the mean gain over random weights of SimCLR, PCL and FAb-Net was
    # -0.6, -2.0 and -7.5 points with the plain cosine, +3.2, +2.7 and +0.3 centred
    return EvalOptions(seeds=plan.eval_seeds, epochs=plan.eval_epochs, supervised_epochs=plan.supervised_epochs,
                       quiet=quiet, size=plan.size, verification_center=True,
                       supervised_precision=plan.supervised_precision, random_inits=plan.random_inits,
                       identity_epochs=plan.identity_epochs)


def suite_specs(out: Path, plan: DemoPlan, task_names=None, suite: str = "eval_synth.yaml") -> list:
    """The synthetic suite's tasks that are the report's columns (or those named), at the plan's probe sizes."""
    task_names = tuple(DATASET_KEYS) if task_names is None else task_names
    specs = [s for s in load_suite(CONFIG_DIR / suite, root=str(out / "data")) if s.name in task_names]
    for spec in specs:
        spec.size = plan.probe_sizes.get(spec.name)
    return specs


def _evaluate_to(out: Path, name: str, encoder, specs, plan: DemoPlan, quiet: bool, **kwargs) -> str:
    """Evaluate and write eval/<name>/results.{json,md}; returns the results.json path."""
    results = evaluate(encoder, specs, eval_options(plan, quiet), cache=FeatureCache(out / "cache"), keep_going=True,
                       **kwargs)
    target = out / "eval" / name
    save_results(target, results)
    return str(target / "results.json")


def evaluate_run(out: Path, plan: DemoPlan, name: str, quiet: bool, features=None, task_names=None) -> str:
    """Evaluate runs/<name> on the synthetic suite; writes eval/<name>/results.{json,md}."""
    encoder = facessl.load(out / "runs" / name)
    specs = suite_specs(out, plan, task_names)
    if features is None:
        names = tuple(encoder.feature_names)
        features = list(PCL_FEATURES) if {"ff", "fp"} <= set(names) else [names[0]]
        for spec in specs:
            spec.features = FEATURE_CHOICE_TASKS.get(spec.name, (features[0],))
    return _evaluate_to(out, name, encoder, specs, plan, quiet, features=features, baselines=(),
                        checkpoint={"path": str(out / "runs" / name)})


BASELINES_RUN = "baselines"  # eval/baselines/: the random-weights and supervised rows


def evaluate_baselines(out: Path, plan: DemoPlan, quiet: bool, architecture: str = "simclr") -> str:
    """The random-weights and supervised rows on every task, from the architecture alone: they need no
    pretrained run, so this stage runs beside the pretraining. Writes eval/baselines/results.{json,md}."""
    from facessl.methods import build_method

    cfg = pretrain_config(architecture, plan, out, seed=0)
    encoder = build_method(cfg).encoder()
    encoder.config = cfg  # the random row starts from this config's init, as its runs did
    return _evaluate_to(out, BASELINES_RUN, encoder, suite_specs(out, plan), plan, quiet, features=["fs"],
                        baselines=("random", "supervised"), checkpoint_row=False)


# --- results.json -> the report's normalised rows ---------------------------------------------------
DATASET_KEYS = {"RAF-DB": "rafdb", "FER-2013": "fer2013", "LFW": "lfw", "CPLFW": "cplfw", "AFLW2000": "aflw2000",
                "BU-3DFE": "bu3dfe", "DISFA": "disfa", "300-W": "300w", "MAFL": "mafl"}
PERCENT = ("accuracy", "mean_class_accuracy", "macro_f1", "roc_auc", "f1_", "auc_")  # fractions read as %


def _scaled(metric: str, value: dict):
    scale = 100.0 if metric.startswith(PERCENT) else 1.0
    mean, std = value.get("mean"), seed_spread(value)
    return [None if mean is None else mean * scale, None if std is None else std * scale]


def rows_from_results(results: dict, row: str = "checkpoint", feature: str | None = None) -> dict:
    """{metric_key: [mean, std]} of one row/feature of an evaluation, in the papers' units."""
    metrics = {}
    for task in results["tasks"]:
        key = DATASET_KEYS.get(task["name"])
        by_feature = task.get("rows", {}).get(row, {})
        if key is None or not by_feature:
            continue
        chosen = feature if feature in by_feature else next(iter(by_feature))
        entry = by_feature.get(chosen)
        if not isinstance(entry, dict):
            continue
        for metric, value in entry.get("metrics", {}).items():
            if isinstance(value, dict) and "mean" in value:
                metrics[f"{key}/{metric}"] = _scaled(metric, value)
        fold_std = entry.get("metrics", {}).get("accuracy_fold_std")
        if task["task"] == "verification" and fold_std:
            metrics[f"{key}/accuracy"][1] = fold_std["mean"] * 100
    return metrics


def pooled_rows(results_list: list[dict], row: str = "checkpoint", feature: str | None = None,
                strict: bool = False) -> dict:
    """{metric_key: [mean, spread]} of one row over one or several runs (pretraining seeds) of a
    method: the mean and population std of every (pretraining seed, probe seed) value, i.e. the
    seed spread. (Verification has no probe to seed: its spread is the pretraining seeds'; the
    spread of its 10 test folds stays available as '<dataset>/accuracy_fold_std'.) A task without
    `feature` gives its first feature's values, or nothing when strict (a feature-choice row)."""
    values = {}
    for results in results_list:
        for task in results["tasks"]:
            key = DATASET_KEYS.get(task["name"])
            by_feature = task.get("rows", {}).get(row, {})
            if key is None or not by_feature:
                continue
            if strict and feature not in by_feature:
                continue
            entry = by_feature.get(feature if feature in by_feature else next(iter(by_feature)))
            if not isinstance(entry, dict):
                continue
            for metric, value in entry.get("metrics", {}).items():
                if isinstance(value, dict) and "per_seed" in value:
                    scale = 100.0 if metric.startswith(PERCENT) else 1.0
                    # results.json holds a NaN / infinite seed value as null (runner.json_safe): NaN here, so
                    # that the cell says 'not finite' and the verdicts call it inconclusive
                    values.setdefault(f"{key}/{metric}", []).extend(math.nan if v is None else v * scale
                                                                    for v in value["per_seed"])
    return {k: [float(np.mean(v)), float(np.std(v)) if len(v) > 1 else None] for k, v in values.items()}


def read_results(out: Path, name: str) -> dict | None:
    path = out / "eval" / name / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None
