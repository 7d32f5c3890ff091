"""Verification pairs for a set that names its people but ships no pairs file (your own photos in a folder per
person, a CSV with a person column, VoxCeleb frames, InsightFace's .rec): LFW's protocol drawn from it.

The people with two images or more are dealt, seeded, into `folds` identity-disjoint folds (as LFW's are); each fold
gets one same-person pair per person (two of its images) and as many different-person pairs (each of its people
with another person of the fold, one image each), so every fold holds as many of each. The threshold is then chosen
on the other folds, as for LFW.
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import ImageSet, PairSet
from facessl.errors import FacesslError

def person_labels(images: ImageSet) -> np.ndarray | None:
    """Each image's person, or None: the set's own 'identity' label; else its 'group' when --group gave one (a group
    is the person, as in the grouped splits; without --group every file is its own group); else its class (a folder
    per person, or the CSV column given)."""
    labels = images.labels
    group = labels.get("group")
    if "identity" in labels:
        chosen = labels["identity"]
    elif group is not None and len(np.unique(np.asarray(group).astype(str))) < len(group):
        chosen = group
    else:
        chosen = labels.get("class")
    return None if chosen is None else np.asarray(chosen).astype(str)


def pairs_from_identities(images: ImageSet, folds: int = 10, seed: int = 0) -> PairSet:
    people = person_labels(images)
    if people is None:
        raise FacesslError(f"{images.source}: task 'verification' needs a pairs file (lfw, cplfw ...) or a set that "
                           f"names each image's person (labels: {', '.join(images.labels) or 'none'}; a folder per "
                           "person, or a CSV's --group)")
    names, person = np.unique(people, return_inverse=True)
    rows_of = np.split(np.argsort(person, kind="stable"), np.cumsum(np.bincount(person))[:-1])
    eligible = np.array([p for p in range(len(names)) if len(rows_of[p]) >= 2])
    if len(eligible) < 2 * folds:
        raise FacesslError(f"{images.source}: {len(eligible)} people have two images or more; verification pairs drawn "
                           f"from the set need at least {2 * folds} (two per fold, {folds} folds)")
    rng = np.random.default_rng([seed, 9])
    order = rng.permutation(eligible)
    pairs, same, fold = [], [], []
    for k in range(folds):
        members = order[k::folds]
        for p in members:
            pairs.append(rng.choice(rows_of[p], 2, replace=False))
        for i, p in enumerate(members):  # the next person of the fold (the fold is in random order)
            q = members[(i + 1) % len(members)]
            pairs.append([rng.choice(rows_of[p]), rng.choice(rows_of[q])])
        same += [True] * len(members) + [False] * len(members)
        fold += [k] * (2 * len(members))
    pairs = np.asarray(pairs, np.int64)
    used = np.unique(pairs)  # features only for the images in a pair
    remap = np.full(len(images), -1, np.int64)
    remap[used] = np.arange(len(used))
    subset = images.subset(used)
    subset.meta = {**subset.meta, "pairs_drawn": {"folds": folds, "seed": seed, "people": int(len(eligible))}}
    return PairSet(subset, remap[pairs], np.asarray(same), np.asarray(fold), source=f"{images.source} (pairs drawn "
                   f"from its {len(eligible)} people with two images or more)", dropped=dict(images.dropped))
