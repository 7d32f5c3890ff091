"""Action units (DISFA, BP4D): subject-exclusive 3-fold cross-validation, multi-label linear + sigmoid.

Labels: 'aus' (N, K). By default intensities in facessl.data.labels.AUS order (DISFA); an AU is present
when its intensity >= options.au_positive (2, the usual DISFA convention). A set whose meta says
au_labels='occurrence' (BP4D) holds 0/1 occurrences: present when >= 0.5, au_positive not used; its
meta['au_names'] name the columns (and so the table's). Each fold's probe is fitted on the
other folds' subjects (validation carved by subject), with positives weighted by the negative /
positive ratio of the training part. Every image is tested exactly once; F1 (probability >=
options.au_threshold) and AUC are computed per AU over all folds' test outputs, with their means
(F1: the PCL table; AUC: the FAb-Net table). Selection score: mean F1 on the validation part.
A set whose meta['au_protocol'] is 'split' (Aff-Wild2's Train_Set / Validation_Set, EmotioNet's automatic /
manual labels) is one fold instead: fitted on its train rows, tested on its test rows.
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.labels import AU_NAMES
from facessl.errors import FacesslError
from facessl.evaluate import metrics
from facessl.evaluate.expression import require_label
from facessl.evaluate.protocol import EvalOptions, Fold, Part, ProbeTask
from facessl.evaluate.splits import TEST_NAMES, TRAIN_NAMES, copy_sets, group_labels, has_split, split_rows, subject_folds


OCCURRENCE = "occurrence"  # meta['au_labels'] of sets coded 0/1 (BP4D) rather than by intensity


def au_names(n: int, meta: dict | None = None) -> tuple[str, ...]:
    """The set's own AU names (meta['au_names']), else DISFA's 8 for 8 columns, else AU_0, AU_1, ..."""
    names = (meta or {}).get("au_names")
    if names is not None:
        if len(names) != n:
            raise FacesslError(f"meta au_names has {len(names)} names for {n} AU columns")
        return tuple(names)
    return AU_NAMES if n == len(AU_NAMES) else tuple(f"AU_{i}" for i in range(n))


def present_aus(test_set: ImageSet, options: EvalOptions) -> tuple[np.ndarray, str]:
    """(N, K) 0/1 float32 of the AUs present, and the rule used (for info['positive'])."""
    labels = require_label(test_set, "aus", "au").astype(np.float64)
    kind = test_set.meta.get("au_labels", "intensity")
    if kind == OCCURRENCE:
        return (labels >= 0.5).astype(np.float32), "occurrence >= 0.5"
    if kind != "intensity":
        raise FacesslError(f"{test_set.source or 'dataset'}: meta au_labels must be 'intensity' or "
                           f"'occurrence', got {kind!r}")
    return (labels >= options.au_positive).astype(np.float32), f"intensity >= {options.au_positive}"


def official_test_rows(test_set: ImageSet) -> np.ndarray:
    """The test rows of a set whose meta['au_protocol'] is 'split' (a release's own train/test, e.g. ABAW's
    Train_Set / Validation_Set): one fold, fitted on the train rows, instead of cross-validation."""
    if not (has_split(test_set, TRAIN_NAMES) and has_split(test_set, TEST_NAMES)):
        raise FacesslError(f"{test_set.source or 'dataset'}: meta au_protocol='split' needs train and test rows")
    return split_rows(test_set, TEST_NAMES)


def build(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    if train_set is not None and train_set is not test_set:
        raise FacesslError("task 'au' uses subject-exclusive cross-validation on one dataset; drop --train-dataset")
    present, rule = present_aus(test_set, options)
    subjects = group_labels(test_set)
    if subjects is None:
        raise FacesslError(f"{test_set.source or 'dataset'}: task 'au' needs a 'subject' label for subject-exclusive folds")
    folds = []
    if test_set.meta.get("au_protocol") == "split":
        test_rows_per_fold = [official_test_rows(test_set)]
    else:
        try:
            test_rows_per_fold = subject_folds(subjects, options.cv_folds, copies=copy_sets(test_set))
        except FacesslError as exc:
            raise FacesslError(f"{test_set.source or 'dataset'}: {exc}") from None
    for test_rows in test_rows_per_fold:
        train_rows = np.setdiff1d(np.arange(len(test_set)), test_rows)
        folds.append(Fold(Part(test_set, train_rows), present[train_rows], Part(test_set, test_rows),
                          present[test_rows], groups=subjects[train_rows]))
    names = au_names(present.shape[1], test_set.meta)
    threshold = options.au_threshold

    def au_metrics(outputs, y, meta) -> dict:
        f1, f1_mean = metrics.au_f1(outputs, y, threshold)
        auc, auc_mean = metrics.au_auc(outputs, y)
        out = {f"f1_{n}": float(v) for n, v in zip(names, f1)}
        out["f1_mean"] = f1_mean
        out.update({f"auc_{n}": float(v) for n, v in zip(names, auc)})
        out["auc_mean"] = auc_mean
        return out

    def score(outputs, y) -> float:
        return metrics.au_f1(outputs, y, threshold)[1]

    probe = options.probe("sigmoid", pos_weight="balanced")
    info = {"folds": len(folds) if len(folds) == 1 else options.cv_folds, "subjects": int(len(np.unique(subjects))), "aus": list(names),
            "positive": rule, "f1_threshold": threshold,
            "base_rates": {n: float(r) for n, r in zip(names, present.mean(0))}}
    return ProbeTask("au", probe, folds, au_metrics, score=score, info=info)
