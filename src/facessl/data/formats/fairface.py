"""FairFace (Kärkkäinen & Joo, WACV 2021) as distributed (github.com/joojs/fairface):

    fairface_label_train.csv   file,age,gender,race,service_test     train/1.jpg,50-59,Male,East Asian,True
    fairface_label_val.csv     the same for val/1.jpg ...
    fairface-img-margin025-trainval/train/1.jpg, val/1.jpg   faces cropped by dlib with padding 0.25 (the paper's
                                                             main experiments)
    fairface-img-margin125-trainval/…                        the same faces with padding 1.25

Labels: race (7 classes: White, Black, Latino_Hispanic, East Asian, Southeast Asian, Indian, Middle Eastern),
gender (Male, Female), age in 9 bins (0-2, 3-9, 10-19, 20-29, 30-39, 40-49, 50-59, 60-69, more than 70), read as
ordered classes. The label files sit beside the image folder (or the root is the image folder, the files in
its parent, or everything lies up to two folders below the root); the folder may be nested twice (`fairface-img-margin025-trainval/fairface-img-margin025-trainval/`);
Kaggle's copy has `train/`, `val/` and the two files side by side. `service_test` is not read.

Split: train = fairface_label_train.csv, test = fairface_label_val.csv: no test labels were released, so the
validation set is the test split (the validation carve that selects the probe comes from train). No identity
is given ('group' is the image). Options: `target` "race" (default), "gender" or "age" (labels 'class',
meta['class_names'] in the order above; task classification for all three; the format names
`fairface-gender` and `fairface-age` read those targets), `variant` "0.25" or "1.25" (the padding, when both
image folders are present; 0.25 by default), `skip_missing`.

Evidence (read, not copied): joojs/fairface README.md (two image zips, padding 0.25 for the main experiments and
1.25 for the API bias study, cut with dlib's get_face_chip; the label files are links named Train and Validation,
their file names not written there); aidan-kleinman-2026/DATA6550-Bias Data/README.md (Kaggle's copy unpacked
as train/, val/, fairface_label_train.csv, fairface_label_val.csv side by side); public loaders found by the
index (names not given by it) that join `fairface-img-margin025-trainval/` with the `file` column (`train/1.jpg`),
read `file,age,gender,race,service_test` and order the ages 0-2 ... `more than 70`. All of this matched; nothing
changed. Unconfirmed: that every copy of the label files carries `service_test` (not read, so harmless).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import BELOW, MissingImages, find_wrapped, unnested, with_dropped
from facessl.data.formats.text import read_csv
from facessl.errors import DataFormatError, FacesslError

CLASSES = {"race": ("White", "Black", "Latino_Hispanic", "East Asian", "Southeast Asian", "Indian", "Middle Eastern"),
           "gender": ("Male", "Female"),
           "age": ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70")}
LABEL_FILES = {"train": "fairface_label_train.csv", "test": "fairface_label_val.csv"}
IMAGE_FOLDERS = {"0.25": "fairface-img-margin025-trainval", "1.25": "fairface-img-margin125-trainval"}
SPLIT_FOLDERS = ("train", "val")


def read_fairface(root, target: str = "race", variant=None, skip_missing: bool = False) -> ImageSet:
    """FairFace faces: labels 'class' (the target's classes) and 'group' (the image); split train / test (= val)."""
    root = Path(root)
    target = _target(target)
    padding = None if variant is None else _padding(variant)
    if not root.is_dir():
        raise DataFormatError(root, "FairFace not found: expected fairface_label_train.csv, fairface_label_val.csv "
                                    "and fairface-img-margin025-trainval/ here")
    label_folder = _label_folder(root)
    padding, image_folder = _image_folder(root, label_folder, padding)
    missing = MissingImages(skip_missing)
    images, classes, split = [], [], []
    for side, name in LABEL_FILES.items():
        for file, value in _rows(label_folder / name, target, image_folder, missing):
            images.append(file)
            classes.append(value)
            split.append(side)
    if not images:
        raise DataFormatError(label_folder, "no FairFace images: every image the label files name is missing"
                              if missing.dropped else "no FairFace images: the label files have no rows")
    meta = {"class_names": list(CLASSES[target]), "target": target, "padding": padding,
            "split_from": "FairFace's files: train = fairface_label_train.csv, test = fairface_label_val.csv "
                          "(no test labels were released); no identity labels, so a person may be on both sides"}
    groups = [str(Path(f).relative_to(image_folder)) for f in images]  # no person ids: each image its own group
    labels = {"class": np.array(classes, dtype=np.int64), "group": np.array(groups)}
    return with_dropped(ImageSet(images, labels, np.array(split), str(image_folder), meta=meta), missing.dropped)


def read_fairface_gender(root, variant=None, skip_missing: bool = False) -> ImageSet:
    """FairFace with the gender as the class (format `fairface-gender`)."""
    return read_fairface(root, "gender", variant, skip_missing)


def read_fairface_age(root, variant=None, skip_missing: bool = False) -> ImageSet:
    """FairFace with the 9 age bins as classes (format `fairface-age`)."""
    return read_fairface(root, "age", variant, skip_missing)


def _target(value) -> str:
    text = str(value).strip().lower()
    if text not in CLASSES:
        raise FacesslError(f"fairface target {value!r}: expected one of {', '.join(CLASSES)}")
    return text


def _padding(value) -> str:
    """0.25, '0.25', '025' or 'margin025' -> '0.25' (a suite's YAML reads 0.25 as a number)."""
    text = str(value).strip().lower().removeprefix("margin").replace(".", "")
    for padding in IMAGE_FOLDERS:
        if text == padding.replace(".", ""):
            return padding
    raise FacesslError(f"fairface variant {value!r}: expected the padding, one of {', '.join(IMAGE_FOLDERS)}")


def _holds_labels(folder: Path) -> bool:
    return all((folder / name).is_file() for name in LABEL_FILES.values())


def _label_folder(root: Path) -> Path:
    """The folder holding both label files: the root, its parent when the root is the image folder, else a
    folder up to two below the root (everything unpacked into a fairface/ folder of its own)."""
    if _holds_labels(root.parent) and not _holds_labels(root):
        return root.parent
    found = find_wrapped(root, _holds_labels)
    if found is None:
        raise DataFormatError(root, f"FairFace labels not found: expected {' and '.join(LABEL_FILES.values())} here, "
                                    f"{BELOW}, or beside the image folder")
    return found


def _has_split_folders(folder: Path) -> bool:
    return any((folder / name).is_dir() for name in SPLIT_FOLDERS)


def _image_folder(root: Path, label_folder: Path, padding: str | None) -> tuple[str | None, Path]:
    """(padding, the folder holding train/ and val/): the padding asked for, else 0.25 before 1.25, else
    train/ val/ in the root (Kaggle's copy, padding not known)."""
    found = {}
    for pad, name in IMAGE_FOLDERS.items():
        candidates = [root] if root.name == name else [root / name, label_folder / name]
        folder = next((unnested(c) for c in candidates if _has_split_folders(unnested(c))), None)
        if folder is not None:
            found[pad] = folder
    if padding is not None:
        if padding not in found:
            raise DataFormatError(root, f"FairFace padding {padding} images not found: expected "
                                        f"{IMAGE_FOLDERS[padding]}/train/1.jpg here")
        return padding, found[padding]
    if found:
        return next(iter(found.items()))
    for folder in (root, label_folder):
        if _has_split_folders(folder):
            return None, folder
    raise DataFormatError(root, "no FairFace images: expected fairface-img-margin025-trainval/train/1.jpg "
                                "(or train/ and val/ beside the label files)")


def _column(header: list[str], name: str, path: Path) -> int:
    lowered = [h.lower() for h in header]
    if name not in lowered:
        raise DataFormatError(path, f"no {name!r} column: expected file,age,gender,race,service_test "
                                    f"(the header has {', '.join(header) or 'nothing'})", 1)
    return lowered.index(name)


def _rows(path: Path, target: str, image_folder: Path, missing: MissingImages):
    """(image path, class index) of each row of a label file whose image is there."""
    header, rows = read_csv(path, "FairFace label file", delimiter=",")
    file_i, target_i = _column(header, "file", path), _column(header, target, path)
    classes = {c.lower(): i for i, c in enumerate(CLASSES[target])}
    for line, fields in rows:
        if not fields[file_i]:
            raise DataFormatError(path, "empty 'file' field", line)
        value = fields[target_i]
        if value.lower() not in classes:
            raise DataFormatError(path, f"{target} {value!r} is not one of {', '.join(CLASSES[target])}", line)
        image = image_folder / fields[file_i]
        if missing.ok(image, path, line):
            yield str(image), classes[value.lower()]
