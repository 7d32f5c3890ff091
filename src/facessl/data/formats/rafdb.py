"""RAF-DB basic emotion set.

Layout (as released):
    <root>/Image/aligned/train_00001_aligned.jpg     (5-digit train numbers)
    <root>/Image/aligned/test_0001_aligned.jpg       (4-digit test numbers)
    <root>/EmoLabel/list_patition_label.txt          (sic: the real file name is misspelt)
with label lines `train_00001.jpg 5`: the name WITHOUT `_aligned` and the label 1..7 in RAF-DB
order (surprise, fear, disgust, happiness, sadness, anger, neutral) = internal index + 1.
`variant="original"` reads `Image/original/train_00001.jpg` instead.

Other unpackings read the same way: the official `basic/` folder above these (root = the RAF-DB folder
holding `basic/` and `compound/`); a flat `aligned/`, `original/` + `list_patition_label.txt`; and the
Kaggle image-folder copy `DATASET/{train,test}/<1..7>/train_00001_aligned.jpg` (folder = RAF-DB label).
Each is also found up to two folders below the path given (ROOT/RAF-DB/basic/, an archive's own folder).
The compound set (format `rafdb-compound`): `compound/EmoLabel/list_patition_label.txt` with labels 1..11
(COMPOUND order) and `compound/Image/aligned/train_0001_aligned.jpg` (4-digit train numbers).
PCL's own layout is read too: `RAFDB/img/aligned/` with the list split in two, `img/train_list.txt` and
`img/test_list.txt` (lines as in list_patition_label.txt), used when no list_patition_label.txt is there.

Evidence (read, not copied): DreamMr/PCL `configs/remote_PCL_linear_eval.yaml` (root ./dataset/RAFDB/img/aligned,
train ./dataset/RAFDB/img/train_list.txt, val/test ./dataset/RAFDB/img/test_list.txt, classes_num 7) and
`data_process/lineardb.py` (get_list_rafdb: split on a space, the name's stem + `_aligned.jpg`, label - 1);
kaiwang960112/Self-Cure-Network `src/train.py` (RafDataSet: `EmoLabel/list_patition_label.txt` read with sep=' ',
no header; train/test by the name's prefix; label - 1 = 0 Surprise, 1 Fear, 2 Disgust, 3 Happiness, 4 Sadness,
5 Anger, 6 Neutral; images `Image/aligned/<stem>_aligned.jpg`); msy1412/AU-ViT `data/RAFDB_100.py` (label - 1,
`_aligned` inserted into the name). Matched: all of these. Unconfirmed: the Annotation/ folders (manual 5-point
and automatic 37-point landmarks, boxes) are not read (no public evaluation loader of them found); RAF-DB's
own page was not reachable from here, so the compound numbering rests on the earlier check (docs/data_formats.md).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import (BELOW, JPEG_QUALITY, MissingImages, find_wrapped, parse_number, read_lines,
                                             save_image, with_dropped)
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError

LABEL_FILE = "EmoLabel/list_patition_label.txt"
FLAT_LIST = "list_patition_label.txt"  # a flat copy: the list beside aligned/
PCL_LISTS = ("train_list.txt", "test_list.txt")  # PCL's configs: img/aligned/ + img/train_list.txt, test_list.txt
NAME_PATTERN = re.compile(r"(train_\d{4,5}|test_\d{4})\.jpg")
COMPOUND = ("happily surprised", "happily disgusted", "sadly fearful", "sadly angry", "sadly surprised",
            "sadly disgusted", "fearfully angry", "fearfully surprised", "angrily surprised", "angrily disgusted",
            "disgustedly surprised")  # RAF-DB compound labels 1..11
DIGITS = {"train": 5, "test": 4}


class RafdbWriter:
    """Numbers images per split in the order added; `close()` writes the label list."""

    def __init__(self, root, quality: int = JPEG_QUALITY):
        self.root = Path(root)
        self.quality = quality
        self.lines = {"train": [], "test": []}
        (self.root / "Image" / "aligned").mkdir(parents=True, exist_ok=True)

    def add(self, image: np.ndarray, expression: int, split: str) -> Path:
        """image (H,W,3) uint8; expression: internal index 0..6; split 'train' or 'test'. Returns the image path."""
        if split not in self.lines:
            raise ValueError(f"RAF-DB split must be 'train' or 'test', got {split!r}")
        if not 0 <= int(expression) < len(EXPRESSIONS):
            raise ValueError(f"expression index must be 0..6, got {expression}")
        number = len(self.lines[split]) + 1
        if number >= 10 ** DIGITS[split]:
            raise ValueError(f"RAF-DB {split} names have {DIGITS[split]} digits; too many images")
        stem = f"{split}_{number:0{DIGITS[split]}d}"
        path = self.root / "Image" / "aligned" / f"{stem}_aligned.jpg"
        save_image(path, image, self.quality)
        self.lines[split].append(f"{stem}.jpg {int(expression) + 1}")
        return path

    def close(self) -> None:
        (self.root / "EmoLabel").mkdir(parents=True, exist_ok=True)
        text = "".join(line + "\n" for line in self.lines["train"] + self.lines["test"])
        (self.root / LABEL_FILE).write_text(text)


def image_path(root: Path, name: str, variant: str) -> Path:
    folder = root / "Image" if (root / "Image").is_dir() else root  # flat copies: aligned/ beside the list
    if variant == "aligned":
        return folder / "aligned" / f"{name[:-4]}_aligned.jpg"
    return folder / "original" / name


def find_root(root: Path, subset: str = "basic") -> Path | None:
    """The folder holding EmoLabel/ (or, given as root, the list itself): root/<subset> or root, also in a wrapper
    up to two folders below (ROOT/RAF-DB/basic/); never the other subset's folder. None when there is none."""
    other = "compound" if subset == "basic" else "basic"

    def holds(folder: Path) -> bool:  # a flat copy only as the root: below it, EmoLabel/ itself would match
        flat = folder == root and (folder / FLAT_LIST).is_file()
        pcl = subset == "basic" and _has_pcl_lists(folder)
        return _has_list(folder / subset) or (folder.name != other and ((folder / LABEL_FILE).is_file() or flat or pcl))

    found = find_wrapped(root, holds)
    if found is not None and _has_list(found / subset):
        return found / subset
    return found


def _has_list(folder: Path) -> bool:
    return (folder / LABEL_FILE).is_file() or (folder / FLAT_LIST).is_file()


def _has_pcl_lists(folder: Path) -> bool:
    """PCL's split of the list: train_list.txt (and test_list.txt) beside aligned/."""
    return (folder / PCL_LISTS[0]).is_file() and (folder / "aligned").is_dir()


def _label_files(root: Path) -> list[Path]:
    """The label list(s): EmoLabel/list_patition_label.txt, the flat copy, else PCL's train_list.txt + test_list.txt."""
    flat = root / FLAT_LIST
    if not (root / LABEL_FILE).is_file() and not flat.is_file() and _has_pcl_lists(root):
        return [root / name for name in PCL_LISTS if (root / name).is_file()]
    return [flat if not (root / LABEL_FILE).is_file() and flat.is_file() else root / LABEL_FILE]


def _is_kaggle(base: Path) -> bool:
    """base holds train/<1..7>/ (Kaggle's RAF-DB copy: DATASET/{train,test}/<1..7>/)."""
    return (base / "train").is_dir() and any(p.name in "1234567" and p.is_dir() for p in (base / "train").iterdir())


def _not_found(root: Path, subset: str) -> DataFormatError:
    return DataFormatError(root, f"RAF-DB label list not found here or {BELOW} (expected {subset}/{LABEL_FILE}, "
                                 f"{LABEL_FILE} or list_patition_label.txt"
                                 + ("; PCL's train_list.txt beside aligned/; or Kaggle's DATASET/train/<1..7>/)"
                                    if subset == "basic" else ")"))


def read_rafdb(root, variant: str = "aligned", skip_missing: bool = False) -> ImageSet:
    """labels: 'expression' (N,) internal index; split: 'train' / 'test' from the file name."""
    if variant not in ("aligned", "original"):
        raise ValueError(f"variant must be 'aligned' or 'original', got {variant!r}")
    given = Path(root)
    root = find_root(given)
    if root is None:
        kaggle = find_wrapped(given, _is_kaggle)
        if kaggle is None:
            raise _not_found(given, "basic")
        return _read_kaggle(kaggle)
    images, labels, split, dropped = _read_list(root, variant, skip_missing, len(EXPRESSIONS))
    result = ImageSet(images, {"expression": labels - 1}, split, str(root))
    return with_dropped(result, dropped)


def read_rafdb_compound(root, variant: str = "aligned", skip_missing: bool = False) -> ImageSet:
    """The compound set: labels 'class' (N,) 0..10 in COMPOUND order (meta class_names); split train/test."""
    given = Path(root)
    root = find_root(given, "compound")
    if root is None:
        raise _not_found(given, "compound")
    images, labels, split, dropped = _read_list(root, variant, skip_missing, len(COMPOUND))
    meta = {"class_names": list(COMPOUND), "split_from": "RAF-DB file names (train_/test_)"}
    return with_dropped(ImageSet(images, {"class": labels - 1}, split, str(root), meta=meta), dropped)


def _read_kaggle(base: Path) -> ImageSet:
    from facessl.data.formats.imagefolder import read_imagefolder

    data = read_imagefolder(base, class_names=[str(i) for i in range(1, len(EXPRESSIONS) + 1)])
    data.labels = {"expression": data.labels.pop("class")}  # folder n = RAF-DB label n = internal n - 1
    return data


def _read_list(root: Path, variant: str, skip_missing: bool, n_labels: int):
    label_paths = _label_files(root)
    missing = MissingImages(skip_missing)
    images, expression, split = [], [], []
    lines = [(path, number, line) for path in label_paths
             for number, line in enumerate(read_lines(path, "RAF-DB label list"), start=1)]
    for label_path, number, line in lines:
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or not NAME_PATTERN.fullmatch(fields[0]):
            raise DataFormatError(label_path, f"expected 'train_00001.jpg <label 1-{n_labels}>' or 'test_0001.jpg <label>', got {line!r}", number)
        label = parse_number(fields[1], label_path, number, f"an integer label 1..{n_labels}", int)
        if not 1 <= label <= n_labels:
            raise DataFormatError(label_path, f"expected a label 1..{n_labels}, got {label}", number)
        path = image_path(root, fields[0], variant)
        if not missing.ok(path, label_path, number):
            continue
        images.append(str(path))
        expression.append(label)
        split.append(fields[0].split("_")[0])
    if not images:
        raise DataFormatError(label_paths[0], "no images listed")
    return images, np.array(expression, dtype=np.int64), np.array(split), missing.dropped
