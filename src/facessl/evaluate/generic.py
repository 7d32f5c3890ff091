"""Task kinds for a user's own labelled faces (formats imagefolder and csv, or any ImageSet).

classification  labels 'class' (N,) int, meta['class_names']; linear softmax; accuracy, mean-class
                accuracy and macro F1 (class-imbalanced real sets need the latter two)
regression      labels 'target' (N,k) float, meta['target_columns']; linear regression (L1); MAE per
                column and their mean, in the columns' own units
landmarks       labels 'landmarks' (N,K,2): evaluate.landmarks (NME; the normaliser is named)
Splits come from the dataset (folders, a split column or the reader's seeded grouped split); the
validation carve that selects the probe's settings is grouped by labels['group'] and never
touches the test rows.
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.errors import FacesslError
from facessl.evaluate import metrics
from facessl.evaluate.expression import classification_task, require_label, train_test_parts
from facessl.evaluate.protocol import EvalOptions, Fold, ProbeTask
from facessl.evaluate.splits import part_groups


def build_classification(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    train, val, test = train_test_parts(test_set, train_set, "classification")
    labels = lambda part: require_label(part.images, "class", "classification")[part.index].astype(int)
    names = (train.images.meta or {}).get("class_names")
    if train_set is not None and names != (test.images.meta or {}).get("class_names"):
        raise FacesslError(f"{train.images.source} and {test.images.source}: different class names "
                           f"({names} vs {(test.images.meta or {}).get('class_names')})")
    seen = np.unique(labels(train))
    if len(seen) < 2:  # a probe over one class learns nothing and reports a perfect-looking accuracy
        only = names[int(seen[0])] if names and len(seen) else "none"
        raise FacesslError(f"{train.images.source}: classification needs at least 2 classes in the training "
                           f"split; found {len(seen)} ({only!r})")
    info = {"class_names": names, "split": (test.images.meta or {}).get("split_from")}
    unseen = np.setdiff1d(labels(test), seen)
    if len(unseen):  # the probe can never answer these: every such test image counts as an error
        counts = np.bincount(labels(test), minlength=int(unseen.max()) + 1)
        info["unseen_test_classes"] = {(names[int(c)] if names else str(int(c))): int(counts[c]) for c in unseen}
    untested = np.setdiff1d(seen, labels(test))
    if len(untested):  # the probe may still predict them, but mean-class accuracy and F1 average over the others
        counts = np.bincount(labels(train), minlength=int(untested.max()) + 1)
        info["untested_classes"] = {(names[int(c)] if names else str(int(c))): int(counts[c]) for c in untested}
    if (test.images.meta or {}).get("left_out_classes"):
        info["left_out_classes"] = test.images.meta["left_out_classes"]  # class -> images (--min-class-count)
    if (test.images.meta or {}).get("classes_without_a_face"):
        info["classes_without_a_face"] = test.images.meta["classes_without_a_face"]  # clip sets: no face in any clip
    if (test.images.meta or {}).get("case_only_classes"):
        info["case_only_classes"] = test.images.meta["case_only_classes"]  # kept apart; results.md names them
    return classification_task("classification", train, val, test, labels(train), None if val is None else labels(val),
                               labels(test), options, info)


def regression_metrics_for(columns: list[str], with_ccc: bool = False):
    """MAE per column and their mean; with_ccc (valence / arousal sets) also the concordance correlation."""
    def regression_metrics(outputs, y, meta) -> dict:
        outputs = np.asarray(outputs, np.float64)
        per_column = np.abs(outputs - y).mean(0)
        out = {f"mae_{c}": float(v) for c, v in zip(columns, per_column)}
        out["mae"] = float(per_column.mean())
        if with_ccc:
            cccs = [metrics.ccc(outputs[:, k], y[:, k]) for k in range(len(columns))]
            out.update({f"ccc_{c}": v for c, v in zip(columns, cccs)})
            out["ccc"] = float(np.mean(cccs))
        return out

    return regression_metrics


def build_regression(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    train, val, test = train_test_parts(test_set, train_set, "regression")
    targets = lambda part: require_label(part.images, "target", "regression")[part.index].astype(np.float64)
    y_train = targets(train)
    columns = list((test.images.meta or {}).get("target_columns") or [f"y{i}" for i in range(y_train.shape[1])])
    fold = Fold(train, y_train, test, targets(test), val, None if val is None else targets(val), groups=part_groups(train))
    with_ccc = bool((test.images.meta or {}).get("report_ccc"))  # valence / arousal: ABAW's and AffectNet's CCC
    info = {"train_rows": len(train), "val_rows": len(val) if val is not None else 0, "test_rows": len(test),
            "columns": columns, "loss": options.pose_loss, "split": (test.images.meta or {}).get("split_from"),
            "ccc": with_ccc}
    return ProbeTask("regression", options.probe("regression", loss=options.pose_loss), [fold],
                     regression_metrics_for(columns, with_ccc), info=info)
