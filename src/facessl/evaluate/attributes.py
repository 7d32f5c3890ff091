"""Facial attributes (CelebA's 40): one multi-label linear probe with a sigmoid per attribute.

Labels: 'attributes' (N, A) 0/1, named by meta['attribute_names']. The probe is fitted on the train split;
the weight decay is chosen on the val split (CelebA's partition) by the validation cross-entropy, or on the
usual carve from train when the set has no val split; test gives the scores. Plain cross-entropy, so that
probability 0.5 is the accuracy-optimal threshold (--balanced weighs each attribute's positives by its
negative / positive ratio instead). Metrics at probability >= 0.5: accuracy per attribute and their mean
(the number CelebA papers report), balanced accuracy per attribute and their mean (most attributes are rare),
and AUC per attribute and their mean. The floor predicts each attribute's training prevalence: at 0.5 that
is its majority value (accuracy = the majority share, balanced accuracy and AUC 0.5).
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.errors import FacesslError
from facessl.evaluate import metrics
from facessl.evaluate.expression import require_label, train_test_parts
from facessl.evaluate.protocol import EvalOptions, Fold, Part, ProbeTask
from facessl.evaluate.splits import part_groups

THRESHOLD = 0.5  # an attribute is predicted present at probability >= 0.5 (the CelebA convention)


def attribute_names(imageset: ImageSet, n: int) -> list[str]:
    """The set's own names (meta['attribute_names']), else attr_0, attr_1, ..."""
    names = (imageset.meta or {}).get("attribute_names")
    if names is None:
        return [f"attr_{i}" for i in range(n)]
    if len(names) != n:
        raise FacesslError(f"{imageset.source or 'dataset'}: meta attribute_names has {len(names)} names "
                           f"for {n} attribute columns")
    return list(names)


def attribute_targets(part: Part) -> np.ndarray:
    """(rows, A) float32 0/1 of a Part; any other value is an error (MTFL's 'attributes' are codes 1/2)."""
    values = np.asarray(require_label(part.images, "attributes", "attributes"), dtype=np.float64)
    if values.ndim != 2:
        raise FacesslError(f"{part.images.source or 'dataset'}: label 'attributes' must be (N, A), got {values.shape}")
    if not np.isin(values, (0.0, 1.0)).all():
        raise FacesslError(f"{part.images.source or 'dataset'}: task 'attributes' needs 0/1 values in label "
                           f"'attributes', found {sorted(set(np.unique(values).tolist()) - {0.0, 1.0})[:3]}")
    return values[part.index].astype(np.float32)


def attribute_metrics_for(names: list[str]):
    def attribute_metrics(outputs, y, meta) -> dict:
        accuracy, accuracy_mean = metrics.binary_accuracy(outputs, y, THRESHOLD)
        balanced, balanced_mean = metrics.binary_balanced_accuracy(outputs, y, THRESHOLD)
        auc, auc_mean = metrics.au_auc(outputs, y)
        out = {"accuracy_mean": accuracy_mean, "balanced_accuracy_mean": balanced_mean, "auc_mean": auc_mean}
        for name, a, b, c in zip(names, accuracy, balanced, auc):
            out.update({f"accuracy_{name}": float(a), f"balanced_accuracy_{name}": float(b), f"auc_{name}": float(c)})
        return out

    return attribute_metrics


def build(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    train, val, test = train_test_parts(test_set, train_set, "attributes")
    y_train, y_test = attribute_targets(train), attribute_targets(test)
    names = attribute_names(test.images, y_test.shape[1])
    if attribute_names(train.images, y_train.shape[1]) != names:
        raise FacesslError(f"{train.images.source} and {test.images.source}: different attributes "
                           f"({attribute_names(train.images, y_train.shape[1])} vs {names})")
    fold = Fold(train, y_train, test, y_test, val, None if val is None else attribute_targets(val),
                groups=part_groups(train))
    probe = options.probe("sigmoid", pos_weight="balanced" if options.balanced else None)
    info = {"train_rows": len(train), "val_rows": len(val) if val is not None else 0, "test_rows": len(test),
            "attributes": names, "threshold": THRESHOLD, "split": (test.images.meta or {}).get("split_from"),
            "base_rates": {n: float(r) for n, r in zip(names, y_train.mean(0))}}
    return ProbeTask("attributes", probe, [fold], attribute_metrics_for(names), info=info)
