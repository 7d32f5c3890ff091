"""FER-2013 `fer2013.csv` (the Kaggle release).

Header `emotion,pixels,Usage`; one row per face: the FER label 0..6 in FER order (anger, disgust,
fear, happiness, sadness, surprise, neutral; facessl.data.labels.FER2013_ORDER), 48x48 = 2304
grey values separated by spaces, and the usage Training / PublicTest / PrivateTest.
The reader converts labels to the internal (RAF-DB) order and images to RGB (grey repeated).

Evidence (read, not copied): microsoft/FERPlus `src/generate_training_data.py` reads fer2013.csv after its header
row, column 1 the pixels (split on spaces, 48x48), column 2 the Usage, one of Training / PublicTest / PrivateTest.
Loaders found by text search (their repositories not shown) read Kaggle's `icml_face_data.csv` with columns
`emotion`, ` Usage`, ` pixels` (a leading space in the names), look for fer2013.csv, icml_face_data.csv or train.csv
in that order, and map the Usage values to train / validation / test. DreamMr/PCL `data_process/lineardb.py`
(get_list_fer2013) reads FER-2013 as its own list of exported image files (`path label` per line, split on a
space), not as the CSV: a layout of PCL's making, read here with `csv:`/`imagefolder:` once exported. Matched: all
of the above. Unconfirmed: Kaggle's test.csv (pixels without labels) is never read; the label order of exported
image lists such as PCL's is whatever the exporter chose.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import BELOW, find_wrapped, parse_number
from facessl.data.formats.text import column_index, read_csv
from facessl.data.labels import EXPRESSIONS, FER_TO_INTERNAL, INTERNAL_TO_FER
from facessl.errors import DataFormatError

HEADER = "emotion,pixels,Usage"
USAGES = ("Training", "PublicTest", "PrivateTest")
SIDE = 48


def to_fer_pixels(image: np.ndarray) -> np.ndarray:
    """Any uint8 (H,W) grey or (H,W,3) RGB image -> 48x48 grey uint8 (Pillow luma, bilinear resize)."""
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(image)).convert("L")
    if pil.size != (SIDE, SIDE):
        pil = pil.resize((SIDE, SIDE), Image.BILINEAR)
    return np.asarray(pil, dtype=np.uint8)


class Fer2013Writer:
    """Streams rows into `fer2013.csv`; use as a context manager or call `close()`."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "w", newline="\n")
        self.file.write(HEADER + "\n")
        self.rows = 0

    def add(self, image: np.ndarray, expression: int, usage: str) -> None:
        """image: any uint8 face image (converted to 48x48 grey); expression: internal index 0..6."""
        if usage not in USAGES:
            raise ValueError(f"usage must be one of {USAGES}, got {usage!r}")
        pixels = to_fer_pixels(image)
        self.file.write(f"{INTERNAL_TO_FER[int(expression)]},{' '.join(map(str, pixels.ravel().tolist()))},{usage}\n")
        self.rows += 1

    def close(self) -> None:
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


CSV_NAMES = ("fer2013.csv", "icml_face_data.csv", "train.csv")
KAGGLE_CLASSES = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
                  "surprise": "surprise", "neutral": "neutral"}  # the image release's folder names


def find_csv(path: Path):
    if path.is_file():
        return path
    return next((path / name for name in CSV_NAMES if (path / name).is_file()), None)


def read_fer2013(path, usages=USAGES) -> ImageSet:
    """path: the CSV or its folder, or the image release's folder. images (N,48,48,3) uint8 (CSV) or
    files (folders); labels 'expression' internal; split = Usage (CSV) or the train/test folder.

    CSV variants: fer2013.csv (`emotion,pixels,Usage`), Kaggle's icml_face_data.csv (`emotion, Usage,
    pixels`: any column order, spaces around names), train.csv (`emotion,pixels`: all Training);
    a quoted pixels field, BOM and CRLF are read. Image release: train/<angry|disgust|...>/*.jpg and
    test/<...>/*.jpg (PrivateTest is the usual test; here split 'test'). Either is also found up to two folders
    below the path (fer2013.tar.gz's fer2013/fer2013.csv, Kaggle's archive/train/)."""
    path = Path(path)
    found = path if path.is_file() else find_wrapped(path, lambda f: find_csv(f) is not None or (f / "train").is_dir())
    if found is None:
        raise DataFormatError(path, f"FER-2013 csv not found here or {BELOW} (looked for {', '.join(CSV_NAMES)}, "
                                    f"or train/<class>/ folders)")
    csv_path = find_csv(found)
    if csv_path is None:
        return _read_image_release(found)
    header, rows = read_csv(csv_path, "FER-2013 csv")
    emotion_i = column_index(header, "emotion", csv_path, "FER-2013 csv")
    pixels_i = column_index(header, "pixels", csv_path, "FER-2013 csv")
    usage_i = column_index(header, "Usage", csv_path, "FER-2013 csv") if any(h.lower() == "usage" for h in header) else None
    images, expression, split = [], [], []
    for number, fields in rows:
        label = parse_number(fields[emotion_i], csv_path, number, "an emotion label 0..6", int)
        if not 0 <= label <= 6:
            raise DataFormatError(csv_path, f"expected an emotion label 0..6, got {label}", number)
        usage = fields[usage_i] if usage_i is not None else "Training"
        if usage not in USAGES:
            raise DataFormatError(csv_path, f"expected Usage one of {', '.join(USAGES)}, got {usage!r}", number)
        pixels = _parse_pixels(fields[pixels_i], csv_path, number)
        if usage not in usages:
            continue
        images.append(pixels.reshape(SIDE, SIDE))
        expression.append(FER_TO_INTERNAL[label])
        split.append(usage)
    if not images:
        raise DataFormatError(csv_path, f"no rows with Usage in {list(usages)}")
    grey = np.stack(images)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    return ImageSet(rgb, {"expression": np.array(expression, dtype=np.int64)}, np.array(split), str(csv_path))


def _read_image_release(root: Path) -> ImageSet:
    from facessl.data.formats.imagefolder import read_imagefolder

    data = read_imagefolder(root, class_names=list(KAGGLE_CLASSES))
    internal = np.array([EXPRESSIONS.index(KAGGLE_CLASSES[n]) for n in data.meta.pop("class_names")])
    data.labels = {"expression": internal[data.labels.pop("class")]}  # indices into EXPRESSIONS, as the csv's are
    return data


def _parse_pixels(text: str, path, number: int) -> np.ndarray:
    tokens = text.split()
    if len(tokens) != SIDE * SIDE:
        raise DataFormatError(path, f"expected {SIDE * SIDE} pixel values (48x48), got {len(tokens)}", number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            values = np.array(tokens, dtype=np.int64)
        except ValueError:
            raise DataFormatError(path, "expected pixel values to be integers 0..255", number) from None
    if values.min() < 0 or values.max() > 255:
        raise DataFormatError(path, "expected pixel values 0..255", number)
    return values.astype(np.uint8)
