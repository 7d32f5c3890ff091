"""Train / validation / test partitions: split names, validation carving, subject-exclusive folds."""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.errors import FacesslError

# Split names used by the readers (compared case-insensitively)
TRAIN_NAMES = {"train", "training", "trainval"}
VAL_NAMES = {"val", "valid", "validation", "publictest"}
TEST_NAMES = {"test", "testing", "privatetest"}


def split_rows(imageset: ImageSet, names: set[str]) -> np.ndarray:
    """Row indices whose split is one of `names` (all rows when the set has no split column)."""
    if imageset.split is None:
        return np.arange(len(imageset))
    lowered = np.char.lower(np.asarray(imageset.split).astype(str))
    return np.flatnonzero(np.isin(lowered, list(names)))


def has_split(imageset: ImageSet, names: set[str]) -> bool:
    return imageset.split is not None and len(split_rows(imageset, names)) > 0


def carve_validation(n: int, fraction: float, rng: np.random.Generator, groups=None, stratify=None):
    """(train_index, val_index) with about `fraction` of n rows held out for validation.

    groups: whole groups (subjects, identities) go to one side, so validation never shares a person
    with the part the probe is fitted on. stratify: class labels, each class split in proportion (with
    groups: as near as whole groups allow, the best of several seeded placements).
    """
    if n < 2:
        raise FacesslError(f"cannot carve a validation split from {n} training row(s)")
    if groups is not None:
        groups = np.asarray(groups)
        unique = np.unique(groups)
        if len(unique) == n:  # every row its own group (a CSV without --group): nothing to keep together
            groups = None
    if groups is not None and len(unique) >= 2:
        if stratify is not None:
            val_mask = _grouped_stratified_carve(np.asarray(stratify), groups, fraction, int(rng.integers(2 ** 31)))
            if 0 < val_mask.sum() < n:
                return np.flatnonzero(~val_mask), np.flatnonzero(val_mask)
        rng.shuffle(unique)
        counts = {g: c for g, c in zip(*np.unique(groups, return_counts=True))}
        chosen, total = [], 0
        for g in unique[:-1]:  # keep at least one group for fitting
            if total >= fraction * n:
                break
            chosen.append(g)
            total += counts[g]
        val_mask = np.isin(groups, chosen)
        return np.flatnonzero(~val_mask), np.flatnonzero(val_mask)
    if stratify is not None:
        stratify = np.asarray(stratify)
        val = []
        for c in np.unique(stratify):
            rows = np.flatnonzero(stratify == c)
            rng.shuffle(rows)
            take = int(round(fraction * len(rows))) if len(rows) >= 2 else 0
            val.extend(rows[:max(take, 1 if len(rows) >= 2 else 0)])
        val = np.sort(np.asarray(val, dtype=int))
        if 0 < len(val) < n:
            return np.setdiff1d(np.arange(n), val), val
    order = rng.permutation(n)
    k = min(max(1, int(round(fraction * n))), n - 1)
    return np.sort(order[k:]), np.sort(order[:k])


_CARVES: dict = {}  # (fraction, seed, groups, labels) -> validation mask: every feature of a task reuses it


def _grouped_stratified_carve(labels, groups, fraction: float, seed: int) -> np.ndarray:
    """Validation mask of grouping.best_grouped_split (20 placements; 4 beyond 20,000 groups), remembered: a
    placement costs ~0.6 s at 100k people, and a task probes several features with the same rows and seeds."""
    from facessl.data.formats.grouping import best_grouped_split
    from facessl.evaluate.cache import array_hash

    key = (fraction, seed, array_hash(groups), array_hash(labels))
    if key not in _CARVES:
        tries = 20 if len(np.unique(groups)) <= 20_000 else 4
        _CARVES[key] = best_grouped_split(labels, groups, fraction, seed=seed, tries=tries)[0] == "test"
    return _CARVES[key]


def subject_folds(subjects, n_folds: int = 3) -> list[np.ndarray]:
    """Subject-exclusive folds: sorted subject ids dealt round-robin into n_folds; returns test rows per fold."""
    subjects = np.asarray(subjects).astype(str)
    unique = sorted(np.unique(subjects), key=_natural_key)
    if len(unique) < n_folds:
        raise FacesslError(f"{n_folds}-fold subject-exclusive evaluation needs >= {n_folds} subjects, got {len(unique)}")
    fold_of = {s: i % n_folds for i, s in enumerate(unique)}
    assignment = np.array([fold_of[s] for s in subjects])
    return [np.flatnonzero(assignment == k) for k in range(n_folds)]


def group_labels(imageset: ImageSet):
    """The person of each row ('subject', else 'identity', else the generic sets' 'group') or None."""
    for name in ("subject", "identity", "group"):
        if name in imageset.labels:
            return np.asarray(imageset.labels[name]).astype(str)
    return None


def part_groups(part):
    """Group labels of a protocol.Part's rows, or None."""
    groups = group_labels(part.images)
    return None if groups is None else groups[part.index]


def _natural_key(text: str):
    digits = "".join(ch for ch in text if ch.isdigit())
    return (int(digits) if digits else -1, text)
