"""What every probe task shares: options, folds of (ImageSet, rows), and the seed loop.

A task builder (expression.build, pose.build, au.build, landmarks.build) turns datasets into a
ProbeTask: folds with probe targets, a ProbeConfig, a selection score and a metrics function.
`run_probe_task` then fits one probe per (seed, fold) on cached features and reports every metric
per seed with mean and std. Each seed changes the validation carve and the probe's initialisation.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from facessl.data.formats.common import ImageSet
from facessl.evaluate.cache import array_hash, cache_key
from facessl.evaluate.features import fastest_device
from facessl.evaluate.probes import WEIGHT_DECAYS, ProbeConfig, fit_predict, single_thread_on_cpu

PROBE_VERSION = 5  # bump when the probe's training changes, to invalidate cached probe outputs (3: dead features dropped;
                   # 4: grouped carves stratified, generic sets' groups used, weight decay chosen at the last epoch;
                   # 5: classes' weight decay chosen on the validation cross-entropy, not accuracy; not bumped when
                   # the gradients were written out, session 26: the same arithmetic to float rounding)


SUPERVISED_PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class EvalOptions:
    seeds: int = 3
    size: int | None = None  # input size; None: encoder.input_size or 64
    paper_protocol: bool = False  # reference protocol: best epoch chosen on the TEST set
    epochs: int = 100
    lr: float = 1e-2
    weight_decays: tuple = WEIGHT_DECAYS
    select_epoch: bool = False  # early stopping on the validation part besides the weight decay
    batch_size: int = 512
    val_fraction: float = 0.15
    au_positive: float = 2.0  # DISFA: an AU is present when its intensity >= this
    cv_folds: int = 3  # subject-exclusive folds (DISFA AUs; BU-3DFE pose classes without a split file)
    cv: int = 0  # --cv K: every task cross-validated over K person-exclusive folds of its set (crossval.py)
    au_threshold: float = 0.5  # probability threshold of the F1 score
    pose_loss: str = "l1"  # the reference's pose probe loss
    landmark_loss: str = "l2"
    verification: str = "10fold"  # or "fixed": one threshold for all pairs
    fixed_threshold: float | None = None  # "fixed" mode; None = best on all pairs (optimistic)
    verification_center: bool = False  # subtract the mean feature of the threshold folds' images first (SphereFace's LFW code)
    balanced: bool = False  # classification: class-balanced loss, weight decay chosen on the class-balanced
                            # validation cross-entropy; attributes: positives weighed by negatives / positives
    supervised_epochs: int = 10
    supervised_lr: float | None = None  # Adam's learning rate of the supervised row; None: its task's (baselines.SUPERVISED_LR)
    identity_epochs: int | None = None  # verification's supervised row (identity.py): its epoch cap; None: supervised_epochs
    supervised_seeds: int = 1  # the fine-tuned row's seeds (each a whole training run); >1 gives it a spread
    random_inits: int = 1  # initialisations of the random-weights row, each probed with every seed; >1 gives
                           # the floor the spread of its draw (on LFW one init is a lottery: docs/demo_study.md)
    supervised_precision: str = "auto"  # the fine-tuned row's arithmetic, one of SUPERVISED_PRECISIONS: auto (bf16
                                        # autocast where the hardware computes bf16 natively, as train.precision)
    device: str | None = None
    amp: bool = False
    quiet: bool = False

    def probe(self, kind: str, **kw) -> ProbeConfig:
        base = ProbeConfig(kind=kind, weight_decays=tuple(self.weight_decays), epochs=self.epochs, lr=self.lr,
                           select_epoch=self.select_epoch,
                           batch_size=self.batch_size, val_fraction=self.val_fraction,
                           paper_protocol=self.paper_protocol,
                           class_weight="balanced" if self.balanced and kind == "softmax" else None)
        return replace(base, **kw)


@dataclass
class Part:
    """Rows `index` of an ImageSet (features are extracted once per ImageSet, then indexed)."""

    images: ImageSet
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class Fold:
    train: Part
    y_train: np.ndarray
    test: Part
    y_test: np.ndarray  # probe-space targets of the test rows
    val: Part | None = None  # explicit validation rows (else carved from train)
    y_val: np.ndarray | None = None
    groups: np.ndarray | None = None  # person of each train row, for carving validation
    test_meta: dict = field(default_factory=dict)  # extra per-test-row arrays the metrics need


@dataclass
class ProbeTask:
    task: str
    probe: ProbeConfig
    folds: list[Fold]
    metrics: Callable[[np.ndarray, np.ndarray, dict], dict]  # (outputs, y_test, test_meta) of all folds
    score: Callable | None = None  # selection score on validation outputs, higher is better
    info: dict = field(default_factory=dict)  # sizes, label conventions, notes for results.json


def aggregate(per_seed: list[dict]) -> dict:
    """name -> {per_seed, mean, std} (std over seeds, population std; 0 for one seed). Names starting with '_'
    are not numbers (a confusion matrix) and are left to the caller."""
    out = {}
    for name in (n for n in per_seed[0] if not n.startswith("_")):
        values = [float(m[name]) for m in per_seed]
        out[name] = {"per_seed": values, "mean": float(np.mean(values)), "std": float(np.std(values))}
    return out


def pool_runs(results: list[dict]) -> dict:
    """One row from several runs of it (the random row's initialisations): every metric's per-seed values
    joined, mean and std over all of them; the other keys (selection, thresholds) are the first run's."""
    if len(results) == 1:
        return results[0]
    pooled = dict(results[0])
    pooled["metrics"] = {name: aggregate([{name: v} for r in results for v in r["metrics"][name]["per_seed"]])[name]
                         for name in results[0]["metrics"]}
    pooled["runs"] = len(results)
    return pooled


def seed_spread(metric: dict):
    """The std a table shows for an aggregated metric: None for a single seed (no spread, not zero)."""
    return None if len(metric.get("per_seed", ())) == 1 else metric.get("std")


def concat_meta(folds: list[Fold]) -> dict:
    keys = folds[0].test_meta.keys()
    return {k: np.concatenate([f.test_meta[k] for f in folds]) for k in keys}


FLOOR_NAMES = {"softmax": "majority class", "sigmoid": "training prevalence", "regression": "mean prediction"}


def floor_outputs(kind: str, y_train, n_test: int) -> np.ndarray:
    """A constant prediction from the training labels alone: the majority class (one-hot scores), each
    label's prevalence (multi-label probabilities) or the mean target (for landmarks: the mean shape)."""
    y_train = np.asarray(y_train)
    if kind == "softmax":
        counts = np.bincount(y_train.astype(int))
        out = np.zeros((n_test, len(counts)))
        out[:, int(np.argmax(counts))] = 1.0
        return out
    flat = y_train.reshape(len(y_train), -1).astype(np.float64)
    return np.repeat(flat.mean(0, keepdims=True), n_test, axis=0)


def run_floor(task: ProbeTask) -> dict:
    """The floor row: what a prediction that ignores the image scores (features play no part)."""
    outputs = np.concatenate([floor_outputs(task.probe.kind, f.y_train, len(f.y_test)) for f in task.folds])
    y_test = np.concatenate([f.y_test for f in task.folds])
    return {"metrics": aggregate([task.metrics(outputs, y_test, concat_meta(task.folds))]),
            "floor": FLOOR_NAMES[task.probe.kind]}


def probe_key(task: ProbeTask, fold: Fold, seed: int, part_id: Callable[[Part], str]) -> str:
    """Cache key of one probe fit: everything its outputs depend on."""
    parts = {"kind": "probe", "version": PROBE_VERSION, "task": task.task, "seed": seed,
             "probe": asdict(task.probe), "info": json.dumps(task.info, sort_keys=True, default=str),
             "train": part_id(fold.train), "test": part_id(fold.test),
             "val": None if fold.val is None else part_id(fold.val),
             "y_train": array_hash(fold.y_train), "y_val": array_hash(fold.y_val), "groups": array_hash(fold.groups),
             "y_test": array_hash(fold.y_test) if task.probe.paper_protocol else None}
    return cache_key(parts)


def probe_workers(device) -> int:
    """Probe fits that run side by side: one per CPU core (each fit is single-threaded, see
    probes.single_thread_on_cpu), capped at 4; one on an accelerator, where a fit is already fast."""
    device = torch.device(device) if device is not None else fastest_device()
    return max(1, min(4, torch.get_num_threads())) if device.type == "cpu" else 1


def run_probe_task(task: ProbeTask, features: Callable[[Part], np.ndarray], seeds: int, device=None,
                   cache=None, part_id: Callable[[Part], str] | None = None, workers: int | None = None) -> dict:
    """Fit a probe per (seed, fold) on features(part) and score the concatenated test outputs.
    With a cache and part_id (a key of a Part's features), probe outputs are cached too. Fits are
    independent (own generators, own data), so they run in `workers` threads (default probe_workers);
    results are the same as one after another."""
    jobs = [(seed, k, fold) for seed in range(seeds) for k, fold in enumerate(task.folds)]
    keys = [probe_key(task, fold, seed, part_id) if cache is not None and part_id is not None else None
            for seed, _, fold in jobs]
    done = {i: cache.load_probe(key) for i, key in enumerate(keys) if key}  # in this thread: counters stay exact
    todo = [i for i in range(len(jobs)) if done.get(i) is None]

    # Features are read here, in this thread: extracting them fills (and writes) the feature cache.
    needed = {jobs[i][1] for i in todo}
    arrays = {k: (features(fold.train), features(fold.test), None if fold.val is None else features(fold.val))
              for k, fold in enumerate(task.folds) if k in needed}

    def fit(i):
        seed, k, fold = jobs[i]
        x_train, x_test, x_val = arrays[k]
        result = fit_predict(x_train, fold.y_train, x_test, task.probe, seed=seed, groups=fold.groups,
                             val=None if x_val is None else (x_val, fold.y_val),
                             y_test=fold.y_test if task.probe.paper_protocol else None, score=task.score, device=device)
        return result.predictions, result.summary()

    workers = min(probe_workers(device) if workers is None else workers, len(todo))
    if workers > 1:
        with single_thread_on_cpu(torch.device("cpu")), ThreadPoolExecutor(workers) as pool:
            fitted = list(pool.map(fit, todo))
    else:
        fitted = [fit(i) for i in todo]
    for i, result in zip(todo, fitted):
        done[i] = result
        if keys[i]:
            cache.save_probe(keys[i], *result)
    per_seed, selection = [], []
    n_folds = len(task.folds)
    for seed in range(seeds):  # jobs are seed-major: this seed's folds are one contiguous run
        fits = [done[seed * n_folds + k] for k in range(n_folds)]
        selection += [{"fold": k, **summary} for k, (_, summary) in enumerate(fits)]
        per_seed.append(task.metrics(np.concatenate([predictions for predictions, _ in fits]),
                                     np.concatenate([fold.y_test for fold in task.folds]), concat_meta(task.folds)))
    result = {"metrics": aggregate(per_seed), "selection": selection,
              "selected_on": selection[0]["selected_on"], "paper_protocol": task.probe.paper_protocol}
    if "_confusion" in per_seed[0]:
        result.update(class_breakdown([m["_confusion"] for m in per_seed], task.info.get("class_names")))
    return result


def class_breakdown(confusions: list[np.ndarray], names=None) -> dict:
    """Per class, the recall over the seeds, and the confusion matrix summed over them (which class each test
    row, or clip, went to): what a mean-class accuracy hides on an imbalanced set."""
    n = len(confusions[0])
    names = [str(c) for c in names] if names is not None and len(names) == n else [str(k) for k in range(n)]
    recall = {}
    for k, name in enumerate(names):
        if confusions[0][k].sum():  # classes the test rows hold
            values = [float(c[k, k] / c[k].sum()) for c in confusions]
            recall[name] = {"per_seed": values, "mean": float(np.mean(values)), "std": float(np.std(values))}
    return {"per_class_recall": recall,
            "confusion": {"classes": names, "rows": "true class", "columns": "predicted class", "seeds": len(confusions),
                          "counts": np.sum(confusions, axis=0).astype(int).tolist()}}
