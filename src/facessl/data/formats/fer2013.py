"""FER-2013 `fer2013.csv` (the Kaggle release).

Header `emotion,pixels,Usage`; one row per face: the FER label 0..6 in FER order (anger, disgust,
fear, happiness, sadness, surprise, neutral; facessl.data.labels.FER2013_ORDER), 48x48 = 2304
grey values separated by spaces, and the usage Training / PublicTest / PrivateTest.
The reader converts labels to the internal (RAF-DB) order and images to RGB (grey repeated).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import parse_number
from facessl.data.labels import FER_TO_INTERNAL, INTERNAL_TO_FER
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


def read_fer2013(path, usages=USAGES) -> ImageSet:
    """path: fer2013.csv or its folder. images (N,48,48,3) uint8; labels 'expression' internal; split = Usage."""
    path = Path(path)
    if path.is_dir():
        path = path / "fer2013.csv"
    if not path.is_file():
        raise DataFormatError(path, "FER-2013 csv not found")
    images, expression, split = [], [], []
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip()
        if header != HEADER:
            raise DataFormatError(path, f"expected the header {HEADER!r}, got {header!r}", 1)
        for number, line in enumerate(f, start=2):
            line = line.strip()
            if not line:
                continue
            fields = line.split(",")
            if len(fields) != 3:
                raise DataFormatError(path, f"expected 3 comma-separated fields (emotion,pixels,Usage), got {len(fields)}", number)
            label = parse_number(fields[0], path, number, "an emotion label 0..6", int)
            if not 0 <= label <= 6:
                raise DataFormatError(path, f"expected an emotion label 0..6, got {label}", number)
            if fields[2] not in USAGES:
                raise DataFormatError(path, f"expected Usage one of {', '.join(USAGES)}, got {fields[2]!r}", number)
            pixels = _parse_pixels(fields[1], path, number)
            if fields[2] not in usages:
                continue
            images.append(pixels.reshape(SIDE, SIDE))
            expression.append(FER_TO_INTERNAL[label])
            split.append(fields[2])
    if not images:
        raise DataFormatError(path, f"no rows with Usage in {list(usages)}")
    grey = np.stack(images)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    return ImageSet(rgb, {"expression": np.array(expression, dtype=np.int64)}, np.array(split), str(path))


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
