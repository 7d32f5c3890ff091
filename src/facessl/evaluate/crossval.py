"""`facessl eval --cv K`: K-fold cross-validation over the whole of one labelled set, grouped by person.

Small posed sets (CK+, JAFFE, KDEF, Oulu-CASIA, BU-3DFE) are reported in the literature by person-independent
k-fold cross-validation, not by one held-out split: with 213 JAFFE faces one 20 % split is a noisy number.
With --cv K every row is tested exactly once: the set's rows (its own split ignored) are dealt into K folds by
person (the set's 'subject', 'identity' or 'group' label, sorted, round-robin: splits.subject_folds), and the
task's own builder is run once per fold on a view of the set whose split is that fold = test, the rest = train
(its validation carve, labels and metrics unchanged). Byte-identical images (data/copies.py) are dealt with
their copies, joining the persons they belong to, so no image is tested in a fold that fitted on its copy. The
folds' test outputs are pooled into one metric per probe seed, as the AU task's subject folds are. A set that
ships its own folds (Adience's fold_0..4, label 'fold') is split by them instead.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.errors import FacesslError
from facessl.evaluate.protocol import EvalOptions, ProbeTask
from facessl.evaluate.splits import copy_sets, group_labels, subject_folds

NOT_SPLIT_TASKS = ("au",)  # tasks that cross-validate by subject already (options.cv_folds)


def test_rows_per_fold(data: ImageSet, k: int) -> tuple[list[np.ndarray], str]:
    """The test rows of each fold and how they were made: the set's own 'fold' label, else persons dealt."""
    if "fold" in data.labels:
        folds = np.asarray(data.labels["fold"]).astype(str)
        names = sorted(np.unique(folds))
        if len(names) != k:
            raise FacesslError(f"{data.source or 'dataset'}: the set has its own {len(names)} folds "
                               f"({', '.join(names)}); give --cv {len(names)}")
        return [np.flatnonzero(folds == name) for name in names], f"the set's own {k} folds"
    people = group_labels(data)
    if people is None:
        raise FacesslError(f"{data.source or 'dataset'}: --cv needs a person label (subject, identity or group)")
    copies = copy_sets(data)  # byte-identical images: one group with their persons, never in two folds
    try:
        rows = subject_folds(people, k, copies=copies)
    except FacesslError as exc:
        raise FacesslError(f"{data.source or 'dataset'}: {exc}") from None
    whole = len(np.unique(people)) == len(people)  # no person named: each image is its own group
    what = "images (no person label: each image its own group)" if whole else "persons"
    together = sum(len(m) - 1 for m in copies)
    kept = (f"; {together} byte-identical image{'s' if together > 1 else ''} dealt into the fold of "
            f"{'their' if together > 1 else 'its'} copies") if together else ""
    return rows, f"{k} folds of {what} ({len(np.unique(people))} groups, dealt in sorted order{kept})"


def cross_validated(build, task_name: str, test_set: ImageSet, train_set: ImageSet | None,
                    options: EvalOptions, k: int) -> ProbeTask:
    """The task `build` makes, over k person-exclusive folds of test_set instead of its split."""
    if task_name in NOT_SPLIT_TASKS:
        return build(test_set, train_set, replace(options, cv_folds=k))
    if train_set is not None:
        raise FacesslError("--cv cross-validates one dataset; drop --train-dataset")
    if k < 2:
        raise FacesslError(f"--cv needs at least 2 folds, got {k}")
    rows_per_fold, how = test_rows_per_fold(test_set, k)
    tasks = []
    for test_rows in rows_per_fold:
        split = np.full(len(test_set), "train", dtype=object)
        split[test_rows] = "test"
        tasks.append(build(replace(test_set, split=split.astype(str)), None, options))
    folds = [fold for task in tasks for fold in task.folds]
    per_fold = ("train_rows", "val_rows", "test_rows", "test_clips")  # summed below, not fold 0's
    info = {key: value for key, value in tasks[0].info.items() if key not in per_fold}
    info.update({"folds": f"{k}-fold cross-validation: {how}; every row tested once, outputs pooled",
                 "test_rows": int(sum(len(f.y_test) for f in folds)),
                 **({"test_clips": sum(t.info["test_clips"] for t in tasks)} if "test_clips" in tasks[0].info else {}),
                 "split_ignored": test_set.meta.get("split_from", "the set's split")})
    return replace(tasks[0], folds=folds, info=info)
