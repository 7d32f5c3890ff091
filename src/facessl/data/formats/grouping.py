"""Groups and seeded splits for generic labelled sets (image folders, CSV tables).

A group is what must never be on both sides of a split: a subject (`S005` in CK+'s
`S005_001_00000011.png`), a person, or at least the image itself (a CSV that lists one photo
twice). `--group REGEX` is searched in each file name; its first capture group (else the whole
match) is the group. A pattern with a `/` is searched in the path instead (relative to the image
folder, or as the CSV gives it): `^(P\\d{3})/` for Oulu-CASIA's `P001/Anger/000.jpeg`. A name
the pattern does not match is its own group, so a set that names only some people (LFW-style
`George_W_Bush_0001.jpg` beside `facial-expressions_2868588k.jpg`) keeps those people together and
every other photo apart.
"""
from __future__ import annotations

import re
from pathlib import PurePath

import numpy as np

from facessl.errors import FacesslError

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def compile_group(pattern: str | None, flag: str = "--group"):
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FacesslError(f"{flag} {pattern!r}: not a regular expression ({exc})") from None


def searched_text(name, pattern) -> str:
    """What a name pattern is searched in: the file name, or the whole (POSIX) path when it has a '/'."""
    path = PurePath(str(name).replace("\\", "/"))
    return path.as_posix() if "/" in pattern.pattern else path.name


def group_of(name: str, pattern) -> str:
    """The group of a file name under a compiled pattern (see module doc); the name itself when none: the whole
    path as given, as two folders may hold different people's files of one name (`S01/take.mp4`, `S02/take.mp4`)."""
    if pattern is not None:
        match = pattern.search(searched_text(name, pattern))
        if match:
            return match.group(1) if match.groups() and match.group(1) is not None else match.group(0)
    return str(name).replace("\\", "/")


def check_group_matches(pattern, names: list, root, flag: str = "--group") -> None:
    """One error when a --group pattern matches none of the names: every file would be its own group, which keeps
    nobody together, and the pattern is almost surely searched in the wrong place (a name or a path)."""
    if pattern is None or not names or any(pattern.search(searched_text(n, pattern)) for n in names):
        return
    where = "the path below the folder (or split folder)" if "/" in pattern.pattern else "the file name"
    raise FacesslError(f"{root}: {flag} '{pattern.pattern}' matches none of the {len(names)} files; it is searched in "
                       f"{where}, e.g. {searched_text(names[0], pattern)!r}")


def grouped_stratified_split(labels, groups, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
                             largest_first: bool = True) -> np.ndarray:
    """'train' / 'test' per row: whole groups per side, each class as close to `test_fraction` in test as
    the groups allow.

    Groups are placed largest first (ties in a seeded random order), each on the side that keeps
    every class's test count nearest `test_fraction` of its rows placed so far (squared deficits,
    divided by the class's size so that rare classes weigh as much as common ones), the idea of
    scikit-learn's StratifiedGroupKFold for one train/test cut. `largest_first=False` places them in the
    seeded order instead (for a search over placements)."""
    labels, groups = np.asarray(labels), np.asarray(groups).astype(str)
    if not 0.0 < test_fraction < 1.0:
        raise FacesslError(f"test fraction must be in (0, 1), got {test_fraction}")
    _, classes = np.unique(labels, return_inverse=True)
    unique, inverse = np.unique(groups, return_inverse=True)
    counts = np.zeros((len(unique), classes.max() + 1 if len(classes) else 1))
    np.add.at(counts, (inverse, classes), 1.0)
    total = counts.sum(0)
    order = np.random.default_rng(seed).permutation(len(unique))
    if largest_first:  # else the seeded order alone: other placements of the few large groups
        order = order[np.argsort(-counts[order].sum(1), kind="stable")]
    seen, test_counts = np.zeros_like(total), np.zeros_like(total)
    test = np.zeros(len(unique), dtype=bool)
    for g in order:
        seen += counts[g]
        deficit = test_counts - test_fraction * seen
        if np.sum((deficit + counts[g]) ** 2 / total) <= np.sum(deficit ** 2 / total):
            test[g] = True
            test_counts += counts[g]
    for c in np.flatnonzero(test_counts == 0):  # a class held by a few large groups still gets tested
        holders = np.flatnonzero(counts[:, c] > 0)
        if len(holders) >= 2:
            smallest = holders[np.argmin(counts[holders].sum(1))]
            test[smallest], test_counts = True, test_counts + counts[smallest]
    return np.where(test[inverse], "test", "train")


def best_grouped_split(labels, groups, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
                       tries: int = 20) -> tuple[np.ndarray, int]:
    """(sides, placement seed): the grouped stratified split, over `tries` placements (largest group first
    with `seed`, then the seeded orders seed+1 ...), whose worst class is nearest `test_fraction` held out.
    One placement can leave a class held by a few large groups (three people with 172 of 173 disgust photos)
    with a single test image, which then carries a whole class's share of a mean-class accuracy. Chosen on
    the labels alone, never on a result."""
    labels = np.asarray(labels)
    best = None
    for k in range(seed, seed + max(1, tries)):
        sides = grouped_stratified_split(labels, groups, test_fraction, seed=k, largest_first=k == seed)
        held = np.array([np.mean(sides[labels == c] == "test") for c in np.unique(labels)])
        worst = float(np.max(np.abs(held - test_fraction)))
        if best is None or worst < best[0]:
            best = (worst, sides, k)
    return best[1], best[2]


def leave_out_rare_classes(labels, min_count: int, *columns: list, noun: str = "images") -> tuple[list, dict, dict]:
    """Drop the rows of classes with fewer than `min_count` rows from `columns` (lists parallel to
    `labels`, the class names). Returns (the filtered columns, {left-out class: rows}, the reader's
    dropped counts). A class with a handful of images cannot be measured: with 9 images, a 20 % test
    split holds one or two, yet mean-class accuracy gives it the weight of a class of thousands (one
    image moves the metric by 100 / classes / 2 points). Call it before the split, so that the split
    is stratified over the classes measured. `noun` names what a row is (images, clips)."""
    if not min_count or min_count <= 1:
        return list(columns), {}, {}
    labels = np.asarray(labels).astype(str)
    names, counts = np.unique(labels, return_counts=True)
    rare = {str(n): int(c) for n, c in zip(names, counts) if c < min_count}
    if len(rare) == len(names):
        raise FacesslError(f"--min-class-count {min_count}: every class has fewer {noun} "
                           f"(largest: {int(counts.max())}); nothing would be left")
    if not rare:
        return list(columns), {}, {}
    keep = ~np.isin(labels, list(rare))
    kept = [[v for v, k in zip(column, keep) if k] for column in columns]
    return kept, rare, {f"in classes with fewer than {min_count} {noun}": int((~keep).sum())}


def case_only_differences(names) -> list[list[str]]:
    """Class names that differ only in case ('Happy' and 'happy'), each such set sorted: they are kept as separate
    classes (whether they are one is the labeller's call; a silent merge could hide a real distinction), but each
    reader records them (meta['case_only_classes']) for evaluation, inspect and the results to name."""
    by_folded: dict[str, set] = {}
    for name in names:
        by_folded.setdefault(str(name).casefold(), set()).add(str(name))
    return sorted(sorted(same) for same in by_folded.values() if len(same) > 1)


def case_only_meta(names) -> dict:
    """{'case_only_classes': case_only_differences(names)} for a reader's meta, or {} when there are none."""
    groups = case_only_differences(names)
    return {"case_only_classes": groups} if groups else {}


def case_note(groups) -> str:
    """One line naming the classes that differ only in case (case_only_differences)."""
    named = "; ".join(" and ".join(repr(n) for n in same) for same in groups)
    many = len(groups) > 1 or len(groups[0]) > 2
    return (f"classes {named} differ only in case; they are kept apart — fix the labels if "
            f"{'each set is' if many else 'they are'} one class")
