"""AffectNet (Mollahosseini et al., 2017), in the two forms its authors distribute.

    full images + lists   Manually_Annotated_file_lists/training.csv, validation.csv (or beside the images):
                          `subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,
                          valence,arousal`, the path relative to Manually_Annotated_Images/; each face is read as
                          the square crop around its box (image_decode.BoxedImage)
    cropped release       train_set/images/0.jpg + train_set/annotations/0_exp.npy (also _val, _aro, _lnd),
                          val_set/..., sometimes test_set/...

Expression codes: 0 neutral, 1 happiness, 2 sadness, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt;
8 none, 9 uncertain and 10 no-face are not expressions and are skipped and counted. The test set was never
released: validation is the test split (as every paper reports it), unless a test_set/ folder is present,
when val_set/ is the validation split. Task `classification` over CLASSES.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import MissingImages, parse_number, with_dropped
from facessl.data.formats.text import column_index, read_csv
from facessl.data.image_decode import IMAGE_SUFFIXES, BoxedImage
from facessl.errors import DataFormatError

CLASSES = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt")
NOT_EXPRESSIONS = {8: "label none", 9: "label uncertain", 10: "label no-face"}
LISTS = {"training.csv": "train", "validation.csv": "test"}
IMAGE_FOLDER = "Manually_Annotated_Images"
CROPPED_SETS = ("train_set", "val_set", "test_set")


def read_affectnet(root, skip_missing: bool = False) -> ImageSet:
    """AffectNet faces: labels 'class' (N,) index into CLASSES; split train / test (/ val)."""
    root = Path(root)
    if any((root / name / "annotations").is_dir() for name in CROPPED_SETS):
        return _read_cropped(root)
    lists = _find_lists(root)
    if not lists:
        raise DataFormatError(root, "AffectNet not found: expected training.csv / validation.csv (in "
                                    "Manually_Annotated_file_lists/ or here) or train_set/, val_set/ with annotations/")
    return _read_lists(lists, skip_missing)


def _find_lists(root: Path) -> list[Path]:
    folders = [root, root / "Manually_Annotated_file_lists", root.parent / "Manually_Annotated_file_lists"]
    if root.is_file():
        folders = [root.parent]
    for folder in folders:
        found = [folder / name for name in LISTS if (folder / name).is_file()]
        if found:
            return found
    return []


def _code(text: str, path, number) -> int:
    code = parse_number(text, path, number, "an expression code 0..10", int)
    if not 0 <= code <= 10:
        raise DataFormatError(path, f"expected an expression code 0..10, got {code}", number)
    return code


def _read_lists(lists: list[Path], skip_missing: bool) -> ImageSet:
    images_root = next((base / IMAGE_FOLDER for base in (lists[0].parent, lists[0].parent.parent)
                        if (base / IMAGE_FOLDER).is_dir()), lists[0].parent)
    missing = MissingImages(skip_missing)
    dropped: Counter = Counter()
    images, labels, split = [], [], []
    for path in lists:
        header, rows = read_csv(path, "AffectNet list")
        columns = [column_index(header, name, path, "AffectNet list") for name in
                   ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression")]
        for number, fields in rows:
            rel, x, y, w, h, code = (fields[i] for i in columns)
            code = _code(code, path, number)
            if code in NOT_EXPRESSIONS:
                dropped[NOT_EXPRESSIONS[code]] += 1
                continue
            x, y, w, h = (parse_number(v, path, number, "a face box number", float) for v in (x, y, w, h))
            if w <= 0 or h <= 0:
                raise DataFormatError(path, f"expected a face box of positive size, got {w:g} x {h:g}", number)
            image = images_root / rel
            if not missing.ok(image, path, number):
                continue
            images.append(BoxedImage(image, (x, y, x + w, y + h)))
            labels.append(code)
            split.append(LISTS[path.name])
    dropped.update(missing.dropped)
    return _image_set(images, labels, split, lists[0].parent, dropped, "AffectNet lists (validation.csv as test)")


def _read_cropped(root: Path) -> ImageSet:
    has_test = (root / "test_set" / "annotations").is_dir()
    names = {"train_set": "train", "val_set": "val" if has_test else "test", "test_set": "test"}
    dropped: Counter = Counter()
    images, labels, split = [], [], []
    for name in CROPPED_SETS:
        folder = root / name
        if not (folder / "annotations").is_dir():
            continue
        for image in sorted((folder / "images").iterdir()) if (folder / "images").is_dir() else []:
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            label_path = folder / "annotations" / f"{image.stem}_exp.npy"
            if not label_path.is_file():
                dropped["image without _exp.npy"] += 1
                continue
            try:
                value = str(np.load(label_path, allow_pickle=False).reshape(-1)[0])  # '3' or 3, as releases differ
            except (ValueError, OSError, IndexError) as exc:
                raise DataFormatError(label_path, f"expected one expression code 0..10 ({exc})") from None
            code = _code(value, label_path, None)
            if code in NOT_EXPRESSIONS:
                dropped[NOT_EXPRESSIONS[code]] += 1
                continue
            images.append(str(image))
            labels.append(code)
            split.append(names[name])
    how = "AffectNet train_set / val_set / test_set" if has_test else "AffectNet train_set / val_set (as test)"
    return _image_set(images, labels, split, root, dropped, how)


def _image_set(images, labels, split, source: Path, dropped: Counter, split_from: str) -> ImageSet:
    if not labels:
        raise DataFormatError(source, "no AffectNet face with an expression label (codes 0..7)"
                                      + (f"; skipped {dict(dropped)}" if dropped else ""))
    meta = {"class_names": list(CLASSES), "split_from": split_from}
    result = ImageSet(images, {"class": np.array(labels, dtype=np.int64)}, np.array(split), str(source), meta=meta)
    return with_dropped(result, {k: v for k, v in dropped.items() if v})
