"""Class folders: `root/<label>/*.jpg`, optionally under `train/`, `val/`, `test/` (Kaggle FER-2013
image release, CK+48, AffectNet and most exports of a user's own labelled faces).

    root/happy/0001.jpg  root/sad/0002.png ...                -> seeded, stratified, grouped split
    root/train/happy/... root/val/happy/... root/test/happy/... -> the folders are the split

labels: 'class' (N,) int index into meta['class_names'] (sorted folder names, the union over the
splits) and 'group' (N,) str (see formats.grouping). Images inside a class folder are found at any
depth and through symlinked folders. An empty class folder is an error naming it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import (SPLIT_SEED, TEST_FRACTION, compile_group, group_of, grouped_stratified_split,
                                           leave_out_rare_classes)
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import DataFormatError

SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "test": "test", "testing": "test"}


def walk_images(folder) -> list[Path]:
    """Image files under a folder at any depth, following symlinked folders (each real folder once), sorted."""
    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link back up the tree: do not loop
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in filenames if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith(".")]
    return sorted(found)


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def read_imagefolder(root, group: str | None = None, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
                     class_names=None, min_class_count: int = 0) -> ImageSet:
    """ImageSet of class folders (see module doc). class_names: fixed label order (else sorted folder names).
    min_class_count: classes with fewer images are left out (meta['left_out_classes'], dropped counts)."""
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(root, "image folder not found (expected root/<class>/*.jpg)")
    subs = _subfolders(root)
    split_dirs = {SPLIT_FOLDERS[p.name.lower()]: p for p in subs if p.name.lower() in SPLIT_FOLDERS}
    if split_dirs and "train" not in split_dirs:
        raise DataFormatError(root, f"found {', '.join(p.name for p in split_dirs.values())}/ but no train/ folder")
    parts = [(name, _subfolders(folder)) for name, folder in split_dirs.items()] if split_dirs else [(None, subs)]
    if not any(classes for _, classes in parts):
        raise DataFormatError(root, "no class folders found (expected root/<class>/*.jpg or root/train/<class>/*.jpg)")
    names = list(class_names) if class_names is not None else sorted({c.name for _, classes in parts for c in classes})
    index = {n: i for i, n in enumerate(names)}
    pattern = compile_group(group)
    images, labels, split = [], [], []
    for split_name, classes in parts:
        for folder in classes:
            if folder.name not in index:
                raise DataFormatError(folder, f"class folder {folder.name!r} is not one of {', '.join(names)}")
            files = walk_images(folder)
            if not files:
                raise DataFormatError(folder, f"class folder {folder.name!r} holds no images ({', '.join(IMAGE_SUFFIXES[:5])} ...)")
            images += [str(f) for f in files]
            labels += [index[folder.name]] * len(files)
            split += [split_name] * len(files)
    (images, split, labels), rare, dropped = leave_out_rare_classes(
        [names[i] for i in labels], min_class_count, images, split, labels)
    if rare:
        kept_names = [n for n in names if n not in rare]
        labels, names = [kept_names.index(names[i]) for i in labels], kept_names
    labels = np.array(labels, dtype=np.int64)
    groups = np.array([group_of(f, pattern) for f in images])
    if split_dirs:
        split, split_from = np.array(split), "folders " + ", ".join(f"{p.name}/" for p in split_dirs.values())
    else:
        split = grouped_stratified_split(labels, groups, test_fraction, seed)
        split_from = f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by " + (
            f"--group '{group}'" if group else "file name")
    meta = {"class_names": names, "split_from": split_from, "group_pattern": group}
    if rare:
        meta["left_out_classes"] = rare
    return ImageSet(images, {"class": labels, "group": groups}, split, str(root), dropped=dropped, meta=meta)
