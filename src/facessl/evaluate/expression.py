"""Expression recognition (RAF-DB, FER-2013): linear softmax; accuracy, mean per-class accuracy, macro F1.

Splits: RAF-DB train / test; FER-2013 Training / PublicTest (validation) / PrivateTest (test).
With a separate training dataset, its train rows (or all rows) train and the test set's test rows
(or all rows) test.
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.errors import FacesslError
from facessl.data.labels import EXPRESSIONS
from facessl.evaluate import metrics
from facessl.evaluate.protocol import EvalOptions, Fold, Part, ProbeTask
from facessl.evaluate.splits import TEST_NAMES, TRAIN_NAMES, VAL_NAMES, has_split, part_groups, split_rows


def require_label(imageset: ImageSet, name: str, task: str) -> np.ndarray:
    if name not in imageset.labels:
        have = ", ".join(imageset.labels) or "none"
        hint = ("; a table's or folder's own classes are task 'classification' (--task classification)"
                if "class" in imageset.labels and task != "classification" else "")
        raise FacesslError(f"{imageset.source or 'dataset'}: task {task!r} needs label {name!r} (labels present: "
                           f"{have}){hint}")
    return np.asarray(imageset.labels[name])


def train_test_parts(test_set: ImageSet, train_set: ImageSet | None, task: str):
    """(train Part, val Part or None, test Part) following the datasets' split columns."""
    if train_set is None:
        if not (has_split(test_set, TRAIN_NAMES) and has_split(test_set, TEST_NAMES)):
            raise FacesslError(f"{test_set.source or 'dataset'}: task {task!r} needs 'train' and 'test' splits "
                               "in the dataset or a separate --train-dataset")
        train_set = test_set
    train_rows = split_rows(train_set, TRAIN_NAMES) if has_split(train_set, TRAIN_NAMES) else np.arange(len(train_set))
    val = Part(train_set, split_rows(train_set, VAL_NAMES)) if has_split(train_set, VAL_NAMES) else None
    test_rows = split_rows(test_set, TEST_NAMES) if has_split(test_set, TEST_NAMES) else np.arange(len(test_set))
    if train_set is test_set and test_set.split is None:
        raise FacesslError(f"{test_set.source}: cannot train and test on the same rows")
    if len(train_rows) == 0 or len(test_rows) == 0:
        raise FacesslError(f"{test_set.source or 'dataset'}: task {task!r} found {len(train_rows)} training "
                           f"and {len(test_rows)} test rows")
    return Part(train_set, train_rows), val, Part(test_set, test_rows)


def classification_metrics(outputs, y, meta) -> dict:
    if "clip" in meta:  # video sets (DFEW): a clip's frames vote with their mean class probabilities
        outputs, y = per_clip(outputs, y, meta["clip"])
    pred = outputs.argmax(1)
    y = np.asarray(y).astype(int)
    n = max(int(np.asarray(outputs).shape[1]), int(y.max()) + 1)
    confusion = np.bincount(y * n + pred, minlength=n * n).reshape(n, n)  # rows: the true class
    return {"accuracy": metrics.accuracy(pred, y), "mean_class_accuracy": metrics.mean_class_accuracy(pred, y),
            "macro_f1": metrics.macro_f1(pred, y), "_confusion": confusion}


def per_clip(outputs, y, clip) -> tuple[np.ndarray, np.ndarray]:
    """(clips, classes) mean of the frames' outputs (the probes' class probabilities) and each clip's label."""
    probs = np.asarray(outputs, dtype=np.float64)
    ids, inverse = np.unique(np.asarray(clip).astype(str), return_inverse=True)
    sums = np.zeros((len(ids), probs.shape[1]))
    np.add.at(sums, inverse.reshape(-1), probs)
    labels = np.zeros(len(ids), dtype=np.asarray(y).dtype)
    labels[inverse.reshape(-1)] = y  # a clip's frames share its label
    return sums / np.bincount(inverse.reshape(-1))[:, None], labels


def classification_task(task: str, train: Part, val: Part | None, test: Part, y_train, y_val, y_test,
                        options: EvalOptions, info: dict) -> ProbeTask:
    clips = test.images.labels.get("clip")
    test_meta = {} if clips is None else {"clip": np.asarray(clips).astype(str)[test.index]}
    fold = Fold(train, y_train, test, y_test, val, y_val, groups=part_groups(train), test_meta=test_meta)
    info = {"train_rows": len(train), "val_rows": len(val) if val is not None else 0, "test_rows": len(test),
            "classes": int(max(y_train.max(), y_test.max())) + 1, **info}
    if clips is not None:
        info["scored_per"] = "clip: the mean of its frames' class probabilities"
        info["test_clips"] = int(len(np.unique(test_meta["clip"])))
    return ProbeTask(task, options.probe("softmax"), [fold], classification_metrics, info=info)


def build(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    train, val, test = train_test_parts(test_set, train_set, "expression")
    labels = lambda part: require_label(part.images, "expression", "expression")[part.index].astype(int)
    return classification_task("expression", train, val, test, labels(train), None if val is None else labels(val),
                               labels(test), options, {"labels": "facessl.data.labels.EXPRESSIONS order",
                                                       "class_names": list(EXPRESSIONS)})
