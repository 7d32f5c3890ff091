"""Train / validation / test partitions: split names, validation carving, subject-exclusive folds."""
from __future__ import annotations

import weakref
from dataclasses import replace

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


def subject_folds(subjects, n_folds: int = 3, copies=None) -> list[np.ndarray]:
    """Subject-exclusive folds: sorted subject ids dealt round-robin into n_folds; returns test rows per fold.
    copies: sets of rows that are byte-identical images (copy_sets): each joins the subjects of its rows into one
    (named after the first), so no image is tested in one fold and fitted on in another; none: as before."""
    subjects = np.asarray(subjects).astype(str)
    if copies:
        from facessl.data.copies import joined_groups

        joined = joined_groups(subjects, copies)
        if len(np.unique(joined)) >= n_folds:  # else copies everywhere (one repeated picture): the folds as before
            subjects = joined
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


def split_is_drawn(imageset: ImageSet) -> bool:
    """Whether facessl drew the set's split (a seeded split) rather than the dataset giving it (split folders, a
    split column, a benchmark's lists): imagefolder and csv say so (meta['split_drawn']); the other readers' drawn
    splits are known by their wording ('seeded (0) stratified split ...')."""
    meta = imageset.meta or {}
    if "split_drawn" in meta:
        return bool(meta["split_drawn"])
    return imageset.split is not None and "seeded (" in str(meta.get("split_from") or "")


def keep_copies_together(imageset: ImageSet) -> ImageSet:
    """A drawn split whose reader did not group byte-identical files (meta['copies_together'] unset): each set of
    copies, with the whole groups of its rows, moved to the side that holds most of them (train on a tie), so no
    photo is both fitted and tested. The split is otherwise unchanged; meta['copies_together'] says what moved."""
    from facessl.data.copies import compared_items, joined_groups, shown_name

    meta = imageset.meta or {}
    if not split_is_drawn(imageset) or "copies_together" in meta:
        return imageset
    items = compared_items(imageset)
    side = np.asarray(imageset.split).astype(str)
    sets = copy_sets(imageset)  # kept for the validation carves of the set (carve_groups)
    spanning = [m for m in sets if len(set(side[m].tolist())) > 1]
    moved, first = 0, None
    if spanning:
        groups = imageset.labels.get("group", np.arange(len(imageset)))
        joined = joined_groups(groups, spanning)
        side = side.copy()
        for members in spanning:
            rows = np.flatnonzero(joined == joined[members[0]])
            sides, counts = np.unique(side[rows], return_counts=True)
            keep = max(zip(counts, sides == "train", sides))[2]  # the side holding most of them; train on a tie
            moved += int((side[rows] != keep).sum())
            side[rows] = keep
        first = [shown_name(items, int(spanning[0][0]), imageset.source),
                 shown_name(items, int(spanning[0][1]), imageset.source)]
        before = np.asarray(imageset.split).astype(str)
        classes = imageset.labels.get("class", np.zeros(len(imageset)))
        if set(classes[before == "test"].tolist()) - set(classes[side == "test"].tolist()):  # whole classes of copies
            return replace(imageset, meta={**meta, "copies_together": {"count": 0, "kept": False}})
    return replace(imageset, split=side.astype(object) if spanning else imageset.split,  # a new set, not a copy
                   meta={**meta, "copies_together": {"count": moved, "first": first, "moved": True}})


def test_copies_of_training(train, test) -> dict | None:
    """For a split the dataset gives (the protocol is its owner's, so nothing moves): {'count': test rows
    byte-identical to a training row, 'first': [test image, training image]}, or None when there are none.
    train, test: protocol.Part (rows of an ImageSet, maybe two sets)."""
    from facessl.data.copies import Copies, compared_items, shown_name

    pick = lambda items, part: [items[i] for i in part.index.tolist()]
    items = pick(compared_items(train.images), train) + pick(compared_items(test.images), test)
    is_test = np.arange(len(items)) >= len(train)
    sets = Copies(items).groups(wanted=lambda rows: is_test[rows].any() and not is_test[rows].all())
    sets = [m for m in sets if is_test[m].any() and not is_test[m].all()]
    if not sets:
        return None
    count = int(sum(is_test[m].sum() for m in sets))
    first = sets[0]
    a, b = int(first[is_test[first]][0]) - len(train), int(first[~is_test[first]][0])
    name = lambda part, r: shown_name(compared_items(part.images), int(part.index[r]), part.images.source)
    return {"count": count, "first": [name(test, a), name(train, b)]}


def copies_line(copies: dict, given: bool) -> str | None:
    """The line results.md, the console and inspect show for meta / info 'copies_together' (given=False: a drawn
    split) or 'test_copies_of_train' (given=True); None when there is nothing to say."""
    if not copies or not copies.get("count"):
        return None
    from facessl.data.formats.imagefiles import printable  # names that are not UTF-8 (an old zip's Latin-1)

    n, first = copies["count"], " = ".join(printable(name) for name in copies.get("first") or [])
    example = f" (first: {first})" if first else ""
    if given:
        why = ("the drawn split could not keep them apart without leaving a class untested (whole classes are copies "
               "of one picture)" if copies.get("drawn") else "kept, as the split is the dataset's")
        return f"{n} test image{'s are' if n > 1 else ' is'} byte-identical to training images{example}; {why}"
    if copies.get("moved"):
        return (f"{n} image{'s' if n > 1 else ''} byte-identical to an image on the other side of the drawn split "
                f"moved to the side of {'their' if n > 1 else 'its'} copies{example}")
    return (f"{n} image{'s are' if n > 1 else ' is'} byte-identical to another image of the set: drawn on one side "
            f"of the split with {'their' if n > 1 else 'its'} copies{example}")


_COPY_SETS: list = []  # [(image list, source_file label, rows, sets)], the last few sets' (copy_sets)


def copy_sets(imageset: ImageSet) -> list[np.ndarray]:
    """The sets of rows of `imageset` that are byte-identical images (data/copies.py: sizes, then head hashes, then
    whole hashes), computed once per image list: every seed's and probe's validation carve and each --cv fold view
    (a view shares its set's list) reuse them."""
    from facessl.data.copies import Copies, compared_items

    source = imageset.labels.get("source_file")
    for held, sources, rows, sets in _COPY_SETS:
        images = held() if isinstance(held, weakref.ref) else held
        if images is imageset.images and sources is source and rows == len(imageset.images):
            return sets
    sets = Copies(compared_items(imageset)).groups()
    images = imageset.images  # an in-memory array (FER-2013's) is not kept alive by this: held weakly
    _COPY_SETS.insert(0, (weakref.ref(images) if isinstance(images, np.ndarray) else images, source,
                          len(images), sets))
    del _COPY_SETS[4:]
    return sets


def copies_among(part, sets: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """The sets of copies (copy_sets of the part's ImageSet) among a protocol.Part's rows, as positions in
    part.index; only sets with two rows or more there."""
    sets = copy_sets(part.images) if sets is None else sets
    if not sets:
        return []
    which = np.full(len(part.images), -1, dtype=np.int64)
    for k, members in enumerate(sets):
        which[members] = k
    found = which[np.asarray(part.index, dtype=np.int64)]
    inside = np.flatnonzero(found >= 0)
    if not len(inside):
        return []
    order = inside[np.argsort(found[inside], kind="stable")]
    bounds = np.flatnonzero(np.diff(found[order])) + 1
    return [m for m in np.split(order, bounds) if len(m) >= 2]


def carve_groups(part, groups):
    """The groups a validation carve of `part` (a fold's training rows) keeps whole: `groups` (the person of each
    row, or None) with each set of byte-identical images among the rows joined into one group, merged with the
    groups of its rows (a copy spanning two persons joins them); `groups` itself when the rows hold no copies, so
    a set without copies carves exactly as before."""
    from facessl.data.copies import joined_groups

    inside = copies_among(part)
    if not inside:
        return groups
    return joined_groups(np.arange(len(part.index)) if groups is None else groups, inside)


def with_copies_grouped(task):
    """A ProbeTask whose folds' carve groups (Fold.groups: the probe's and the supervised row's validation carve)
    keep byte-identical training images on one side (carve_groups); the task itself when no fold has copies."""
    folds = [replace(fold, groups=carve_groups(fold.train, fold.groups)) if fold.val is None else fold
             for fold in task.folds]
    if all(new is old for new, old in zip(folds, task.folds)) or \
            all(new.groups is old.groups for new, old in zip(folds, task.folds)):
        return task
    return replace(task, folds=folds)
