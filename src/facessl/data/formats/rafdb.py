"""RAF-DB basic emotion set.

Layout (as released):
    <root>/Image/aligned/train_00001_aligned.jpg     (5-digit train numbers)
    <root>/Image/aligned/test_0001_aligned.jpg       (4-digit test numbers)
    <root>/EmoLabel/list_patition_label.txt          (sic: the real file name is misspelt)
with label lines `train_00001.jpg 5`: the name WITHOUT `_aligned` and the label 1..7 in RAF-DB
order (surprise, fear, disgust, happiness, sadness, anger, neutral) = internal index + 1.
`variant="original"` reads `Image/original/train_00001.jpg` instead.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import JPEG_QUALITY, MissingImages, parse_number, read_lines, save_image, with_dropped
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError

LABEL_FILE = "EmoLabel/list_patition_label.txt"
NAME_PATTERN = re.compile(r"(train_\d{5}|test_\d{4})\.jpg")
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
    if variant == "aligned":
        return root / "Image" / "aligned" / f"{name[:-4]}_aligned.jpg"
    return root / "Image" / "original" / name


def read_rafdb(root, variant: str = "aligned", skip_missing: bool = False) -> ImageSet:
    """labels: 'expression' (N,) internal index; split: 'train' / 'test' from the file name."""
    if variant not in ("aligned", "original"):
        raise ValueError(f"variant must be 'aligned' or 'original', got {variant!r}")
    root = Path(root)
    label_path = root / LABEL_FILE
    missing = MissingImages(skip_missing)
    images, expression, split = [], [], []
    for number, line in enumerate(read_lines(label_path, "RAF-DB label list"), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or not NAME_PATTERN.fullmatch(fields[0]):
            raise DataFormatError(label_path, f"expected 'train_00001.jpg <label 1-7>' or 'test_0001.jpg <label>', got {line!r}", number)
        label = parse_number(fields[1], label_path, number, "an integer label 1..7", int)
        if not 1 <= label <= len(EXPRESSIONS):
            raise DataFormatError(label_path, f"expected a label 1..7, got {label}", number)
        path = image_path(root, fields[0], variant)
        if not missing.ok(path, label_path, number):
            continue
        images.append(str(path))
        expression.append(label - 1)
        split.append(fields[0].split("_")[0])
    if not images:
        raise DataFormatError(label_path, "no images listed")
    result = ImageSet(images, {"expression": np.array(expression, dtype=np.int64)}, np.array(split), str(root))
    return with_dropped(result, missing.dropped)
