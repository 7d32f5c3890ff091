"""Class folders: `root/<label>/*.jpg`, optionally under `train/`, `val/`, `test/` (Kaggle FER-2013
image release, CK+48, AffectNet and most exports of a user's own labelled faces).

    root/happy/0001.jpg  root/sad/0002.png ...                -> seeded, stratified, grouped split (byte-identical
                                                                   files grouped: data/copies.py)
    root/train/happy/... root/val/happy/... root/test/happy/... -> the folders are the split
    root/Train/Angry/... root/Val/Angry/...                     -> no test folder: val is the test split
Split folders are named train/, val/, test/ in any case or spelling (Training, Validation, Testing) or have one
such word among the parts of their name (`train_afew`, `Val_Aligned_Faces`, `Training_Set`). Folders that hold
nothing but one folder (an archive's own folder, Kaggle's `archive/`, SFEW's `Train/Train_Aligned_Faces/`) are
looked through. A train/ and val/ without test/ (SFEW, AFEW, whose test labels were never released) make val/
the test split, as the papers report them.

labels: 'class' (N,) int index into meta['class_names'] (sorted folder names, the union over the
splits) and 'group' (N,) str (see formats.grouping). Images inside a class folder are found at any
depth and through symlinked folders. An empty class folder is an error naming it.

label_regex: sets that code the label in the file name (JAFFE `KA.AN1.39.tiff`, KDEF `AF01ANS.JPG`, RaFD
`Rafd090_01_Caucasian_female_angry_frontal.jpg`) are read from a flat folder (or train/ test/ folders): the
regex's first group in each file name is its class; names it does not match are skipped and counted.
A regex with a `/` is searched in the path below the (split) folder instead, for sets whose class is a
folder deeper than the first (Oulu-CASIA `VL/Strong/P001/Anger/000.jpeg`: `--label-regex '^P\\d+/(\\w+)/'`
with `--group '^(P\\d+)/'`); so is a `--group` pattern with a `/`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from facessl.data.copies import drawn_keeping_copies
from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import (SPLIT_SEED, TEST_FRACTION, case_only_meta, check_group_matches,
                                           compile_group, group_of,
                                           grouped_stratified_split, leave_out_rare_classes, searched_text)
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


def split_of(name: str, words: dict = SPLIT_FOLDERS) -> str | None:
    """The split a folder name stands for: train/, Val/, Testing/, and names with one split word among their
    parts (`train_afew`, `Val_Aligned_Faces`, `Training_Set`); None for any other name. words: word -> split."""
    lower = name.lower()
    if lower in words:
        return words[lower]
    found = {words[t] for t in re.split(r"[_\-\s.]+", lower) if t in words}
    return found.pop() if len(found) == 1 else None


def through_wrappers(folder: Path, depth: int = 3, suffixes=IMAGE_SUFFIXES) -> Path:
    """Below folders that hold nothing but one folder (an archive's own folder, Kaggle's `archive/`, SFEW's
    `Train/Train_Aligned_Faces/`): where the class (or split) folders are. suffixes: what the set's files end in."""
    for _ in range(depth):
        entries = [p for p in folder.iterdir() if not p.name.startswith((".", "_"))]
        if len(entries) != 1 or not entries[0].is_dir() or _holds(entries[0], suffixes):
            break  # a lone folder holding images is a class folder (a split with one class), not a wrapper
        folder = entries[0]
    return folder


def _holds(folder: Path, suffixes) -> bool:
    return any(p.is_file() and p.name.lower().endswith(suffixes) for p in folder.iterdir())


def split_folders(root: Path, subs: list[Path]) -> tuple[dict, bool]:
    """({'train' | 'val' | 'test': folder} among root's subfolders, whether val/ is the test split: a train/ and
    val/ without test/, as SFEW and AFEW, whose test labels were never released). One-line errors for two
    folders of one split and for splits without train/."""
    split_dirs = {}
    for p in subs:
        if split_of(p.name) is not None:
            if split_of(p.name) in split_dirs:
                raise DataFormatError(root, f"both {split_dirs[split_of(p.name)].name}/ and {p.name}/ look like the "
                                            f"{split_of(p.name)} folder; point at a folder with one of each")
            split_dirs[split_of(p.name)] = p
    if split_dirs and "train" not in split_dirs:
        raise DataFormatError(root, f"found {', '.join(f'{p.name}/' for p in split_dirs.values())} but no train/ folder")
    return split_dirs, set(split_dirs) == {"train", "val"}


def folders_split_text(split_dirs: dict, val_is_test: bool) -> str:
    text = "folders " + ", ".join(f"{p.name}/" for p in split_dirs.values())
    return text + (f" (no test folder: {split_dirs['val'].name}/ is the test split)" if val_is_test else "")


def read_imagefolder(root, group: str | None = None, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
                     class_names=None, min_class_count: int = 0, label_regex: str | None = None) -> ImageSet:
    """ImageSet of class folders (see module doc). class_names: fixed label order (else sorted folder names).
    min_class_count: classes with fewer images are left out (meta['left_out_classes'], dropped counts).
    label_regex: take each image's class from its file name (the first group) instead of from class folders."""
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(root, "image folder not found (expected root/<class>/*.jpg)")
    root = through_wrappers(root)
    subs = _subfolders(root)
    split_dirs, val_is_test = split_folders(root, subs)
    if label_regex is not None:
        found, unlabelled = labelled_by_name(root, split_dirs, label_regex)
    else:
        found, unlabelled = _labelled_by_folder(root, split_dirs, subs), 0
    names = list(class_names) if class_names is not None else sorted({name for _, name, _ in found})
    if len(names) < 2:  # one class folder: nothing to classify (often the path is one level too deep)
        raise DataFormatError(root, f"found one class ({names[0]!r}); expected root/<class>/*.jpg with two or more "
                                    f"class folders (or train/, test/ above them)")
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({name for _, name, _ in found if name not in index})
    if unknown:
        raise DataFormatError(root, f"class {unknown[0]!r} is not one of {', '.join(names)}")
    pattern = compile_group(group)
    images = [path for path, _, _ in found]
    labels = [index[name] for _, name, _ in found]
    split = ["test" if val_is_test and name == "val" else name for _, _, name in found]
    (images, split, labels), rare, dropped = leave_out_rare_classes(
        [names[i] for i in labels], min_class_count, images, split, labels)
    if rare:
        kept_names = [n for n in names if n not in rare]
        labels, names = [kept_names.index(names[i]) for i in labels], kept_names
    labels = np.array(labels, dtype=np.int64)
    # without --group an image in a class folder is its own group: by its path below the root, as two class
    # folders may hold files of one name (`train/angry/im0.png`, `train/happy/im0.png`) that are different faces.
    # Images in folders below the class folder (a person's, a video's, a track's: `happy/S01/take1/0001.jpg`)
    # are grouped by that folder: near-identical frames on both sides of the split would inflate the score.
    below = [below_split(f, root, split_dirs) for f in images]
    check_group_matches(pattern, below, root)
    folders = label_regex is None and pattern is None and any(name.count("/") >= 2 for name in below)
    groups = np.array([group_of(name, pattern) if pattern is not None else
                       _folder_below_class(name) if folders else name for name in below])
    drawn = {}
    if split_dirs:
        split, split_from = np.array(split), folders_split_text(split_dirs, val_is_test)
    else:  # byte-identical files (one photo in `surprise/` and `surprise /`) drawn as one group: never on both sides
        split, drawn = drawn_keeping_copies(lambda g: grouped_stratified_split(labels, g, test_fraction, seed),
                                            images, labels, groups, root)
        split_from = f"seeded ({seed}) stratified split, {test_fraction:.0%} test, " + (
            f"grouped by --group '{group}'" if group else
            "grouped by the folders below the class folders (--group to choose)" if folders else
            "each image on its own (--group keeps a person's images together)")
    meta = {"class_names": names, "split_from": split_from, "group_pattern": group, **drawn}
    if rare:
        meta["left_out_classes"] = rare
    meta.update(case_only_meta(names))
    if unlabelled:
        dropped = {**dropped, "file name without a label (--label-regex)": unlabelled}
    return ImageSet(images, {"class": labels, "group": groups}, split, str(root), dropped=dropped, meta=meta)


def _folder_below_class(name: str) -> str:
    """`happy/S01/take1/0001.jpg` -> `S01/take1`: the folder holding the image, below its class folder, so that a
    person's folder under several classes is one group; an image right in its class folder is its own group."""
    parts = name.split("/")
    return "/".join(parts[1:-1]) if len(parts) > 2 else name


def _videos_hint(folder: Path) -> str:
    """Where a class folder holds videos instead: the reader that reads them."""
    from facessl.data.video.decode import VIDEO_EXTENSIONS

    videos = sum(1 for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
    return f"; it holds {videos} video(s): read video clips with --dataset videofolder:PATH" if videos else ""


def below_split(image: str, root: Path, split_dirs: dict) -> str:
    """An image's path below its split folder (or the root): what a --group pattern with a '/' reads."""
    path = Path(image)
    for folder in (*split_dirs.values(), root):
        if path.is_relative_to(folder):
            return path.relative_to(folder).as_posix()
    return path.name


def class_name(text: str) -> str:
    """A class as named by a folder or a file name, without surrounding spaces: 'sad ' and 'sad' are one class, as
    in a CSV (whose fields are stripped); a name of spaces alone stays as it is rather than becoming ''."""
    return text.strip() or text


def _labelled_by_folder(root: Path, split_dirs: dict, subs: list) -> list[tuple[str, str, str | None]]:
    """(path, class folder name, split) of every image in the class folders."""
    parts = ([(name, _subfolders(through_wrappers(folder))) for name, folder in split_dirs.items()] if split_dirs
             else [(None, subs)])
    if not any(classes for _, classes in parts):
        raise DataFormatError(root, "no class folders found (expected root/<class>/*.jpg or root/train/<class>/*.jpg; "
                                    "--label-regex reads labels from file names)")
    found = []
    for split_name, classes in parts:
        for folder in classes:
            files = walk_images(folder)
            if not files:
                raise DataFormatError(folder, f"class folder {folder.name!r} holds no images ({', '.join(IMAGE_SUFFIXES[:5])} ..."
                                              f"){_videos_hint(folder)}")
            found += [(str(f), class_name(folder.name), split_name) for f in files]
    return found


def labelled_by_name(root: Path, split_dirs: dict, label_regex: str, walk=None, kind: str = "image") -> tuple[list, int]:
    """(path, label from the file name, split) of every image whose name the pattern matches; and how many it did not.
    walk(folder): the files to label (default: the images under it); kind names them in the error."""
    pattern = compile_group(label_regex, "--label-regex")
    if pattern.groups < 1:
        raise DataFormatError(root, f"--label-regex {label_regex!r} needs a group in parentheses around the label")
    found, unlabelled = [], 0
    for split_name, folder in (split_dirs.items() if split_dirs else [(None, root)]):
        for f in (walk or walk_images)(folder):
            match = pattern.search(searched_text(f.relative_to(folder), pattern))
            if match is None or not match.group(1):
                unlabelled += 1
                continue
            found.append((str(f), class_name(match.group(1)), split_name))
    if not found:
        raise DataFormatError(root, f"--label-regex {label_regex!r} finds a label in none of the {kind} file names")
    return found, unlabelled
