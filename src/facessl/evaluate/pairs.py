"""Verification pairs for a set that names its people but ships no pairs file (your own photos in a folder per
person, a CSV with a person column, VoxCeleb frames, InsightFace's .rec): LFW's protocol drawn from it.

The people with two images or more are dealt, seeded, into `folds` identity-disjoint folds (as LFW's are); each fold
gets one same-person pair per person (two of its images) and as many different-person pairs (each of its people
with another person of the fold, one image each), so every fold holds as many of each. The threshold is then chosen
on the other folds, as for LFW.

A same-person pair is never two byte-identical files (a photo filed twice scores a cosine of 1 whatever the model):
a drawn pair that is one is redrawn from the person's other images (a seeded stream of its own, so a set without
copies draws exactly what it drew before), and a person whose images are all copies of one photo is left out;
both are counted in a note (images.meta['pair_notes']). The check (data/copies.py) compares file sizes and hashes
only files of one size: about two stats per person.

Which label is the person (person_source): the set's `identity`; else its `group` (--group / --group-column, or an
image folder's folders below the class folders) when groups repeat; else its class (a folder per person, or a CSV's
label column). Unless it is the identity, a note says which.
"""
from __future__ import annotations

import numpy as np

from facessl.data.copies import Copies
from facessl.data.formats.common import ImageSet, PairSet
from facessl.errors import FacesslError

SHOWN = 5  # names shown in a note


def person_labels(images: ImageSet) -> np.ndarray | None:
    """Each image's person, or None: the set's own 'identity' label; else its 'group' when --group gave one (a group
    is the person, as in the grouped splits; without --group every file is its own group); else its class (a folder
    per person, or the CSV column given)."""
    return person_source(images)[0]


def person_source(images: ImageSet) -> tuple[np.ndarray | None, str, str]:
    """(person_labels, the label read: 'identity' | 'group' | 'class' | '', what that is in words)."""
    labels, meta = images.labels, images.meta or {}
    group = labels.get("group")
    if "identity" in labels:
        return np.asarray(labels["identity"]).astype(str), "identity", "its identity label"
    if group is not None and len(np.unique(np.asarray(group).astype(str))) < len(group):
        if "group_pattern" in meta:  # an image folder
            how = (f"--group {meta['group_pattern']!r}" if meta.get("group_pattern") else
                   "the folder below its class folder (root/<class>/<this folder>/...; --group to choose)")
        else:
            how = "its --group / --group-column value"
        return np.asarray(group).astype(str), "group", how
    if labels.get("class") is not None:
        how = (f"its label column {meta['label_column']!r} (no --group / --group-column given)" if meta.get("label_column")
               else "its class folder (root/<person>/...)")
        return np.asarray(labels["class"]).astype(str), "class", how
    return None, "", ""


def person_names(images: ImageSet) -> np.ndarray | None:
    """Each image's person by name (a class index turned into its class name: the folder's or the column value's),
    or None when the set names no one."""
    people, kind, _ = person_source(images)
    names = (images.meta or {}).get("class_names")
    if kind == "class" and names is not None:
        index = np.asarray(images.labels["class"]).astype(np.int64)
        return np.asarray(names, dtype=object)[index].astype(str)
    return people


def _too_few(images: ImageSet, kind: str, how: str, names: np.ndarray, eligible, one_photo, folds: int) -> str:
    """Why no pairs can be drawn: too few people with two photos; saying what was read as the person when that was
    the class (a CSV's label column may be an emotion), and who had only copies of one photo."""
    listed = lambda people: ", ".join(str(names[p]) for p in list(people)[:SHOWN]) + (" ..." if len(people) > SHOWN else "")
    two = "two different images or more" if len(one_photo) else "two images or more"
    copies = (f"; {len(one_photo)} {'more ' * bool(len(eligible))}have two images or more, but only byte-identical "
              f"copies of one photo ({listed(one_photo)})" if len(one_photo) else "")
    need = f"verification pairs drawn from the set need at least {2 * folds} people (two per fold, {folds} folds)"
    if kind == "class" and (images.meta or {}).get("label_column"):
        column = images.meta["label_column"]
        return (f"{images.source}: without --group / --group-column the label column {column!r} is read as each "
                f"image's person: its {len(eligible)} values with {two} ({listed(eligible)}) are taken as "
                f"people{copies}; {need}. Give --group REGEX (the person's part of the file name) or --group-column "
                "COLUMN to name each image's person")
    if kind == "class":
        return (f"{images.source}: each class folder is read as a person (root/<person>/...): {len(eligible)} of them "
                f"have {two}{' (' + listed(eligible) + ')' if len(eligible) else ''}{copies}; {need}"
                + ("" if len(one_photo) else ". If the folders are not people, give --group REGEX naming each image's "
                                             "person"))
    return f"{images.source}: {len(eligible)} people have {two}{copies}; {need}; each image's person is {how}"


def pairs_from_identities(images: ImageSet, folds: int = 10, seed: int = 0) -> PairSet:
    people, kind, how = person_source(images)
    if people is None:
        raise FacesslError(f"{images.source}: task 'verification' needs a pairs file (lfw, cplfw ...) or a set that "
                           f"names each image's person (labels: {', '.join(images.labels) or 'none'}; a folder per "
                           "person, or a CSV's --group)")
    names, person = np.unique(people, return_inverse=True)
    rows_of = np.split(np.argsort(person, kind="stable"), np.cumsum(np.bincount(person))[:-1])
    by_name = person_names(images)  # for messages: a class's name, not its index
    names_shown = names if by_name is None else np.array([by_name[rows[0]] for rows in rows_of], dtype=object)
    copies = Copies(images.images)
    several = [p for p in range(len(names)) if len(rows_of[p]) >= 2]
    one_photo = [p for p in several if all(copies.same(rows_of[p][0], r) for r in rows_of[p][1:])]
    eligible = np.setdiff1d(np.asarray(several, dtype=np.int64), np.asarray(one_photo, dtype=np.int64))
    if len(eligible) < 2 * folds:
        raise FacesslError(_too_few(images, kind, how, names_shown, eligible, one_photo, folds))
    rng = np.random.default_rng([seed, 9])
    order = rng.permutation(eligible)
    pairs, same, fold = [], [], []
    redrawn = []
    for k in range(folds):
        members = order[k::folds]
        for p in members:
            pair = rng.choice(rows_of[p], 2, replace=False)
            if copies.same(*pair):  # two copies of one photo: the first with another of the person's photos
                others = np.random.default_rng([seed, 9, 1, int(p)]).permutation(rows_of[p])
                pair = [pair[0], next(r for r in others if not copies.same(pair[0], r))]
                redrawn.append(str(names_shown[p]))
            pairs.append(pair)
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
    notes = list(subset.meta.get("pair_notes") or [])
    if kind != "identity":  # a label that may not be the person (an emotion column, a video's folder): say which
        notes.append(f"pairs drawn with each image's person read from {how}")
    listed = lambda items: ", ".join(items[:SHOWN]) + (" ..." if len(items) > SHOWN else "")
    if one_photo:
        notes.append(f"{len(one_photo)} people left out of the pairs: their images are byte-identical copies of one "
                     f"photo ({listed([str(n) for n in names_shown[one_photo]])})")
    if redrawn:
        notes.append(f"{len(redrawn)} same-person pairs first drawn as two byte-identical files, drawn again from "
                     f"the person's other photos ({listed(redrawn)})")
    subset.meta = {**subset.meta, "pairs_drawn": {"folds": folds, "seed": seed, "people": int(len(eligible))}}
    if notes:
        subset.meta["pair_notes"] = notes
    return PairSet(subset, remap[pairs], np.asarray(same), np.asarray(fold), source=f"{images.source} (pairs drawn "
                   f"from its {len(eligible)} people with two images or more)", dropped=dict(images.dropped))
