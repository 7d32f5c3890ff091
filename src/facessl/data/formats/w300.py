"""300-W 68-point landmarks: a `.pts` file beside each image.

Layout (the iBUG release):
    afw/134212_1.jpg              train
    helen/trainset/100032540_1.jpg  train      helen/testset/...   test (common)
    lfpw/trainset/image_0001.png    train      lfpw/testset/...    test (common)
    ibug/image_003_1.jpg          test (challenging)
A plain `trainset/` + `testset/` tree is read too, and the competition test set
(`01_Indoor/`, `02_Outdoor/`, released as 300W/01_Indoor/indoor_001.png) as split 'private'. Folder
names match case-insensitively and at any depth below the root (`300W/01_Indoor`, dlib's
`ibug_300W_large_face_landmark_dataset/helen/trainset`); the deepest known folder decides. `.pts` files look like
    version: 1 / n_points:  68 / { / 68 lines `x y` / }
(CRLF, BOM and trailing spaces accepted) with 1-BASED pixel coordinates (the centre of the top-left pixel is (1, 1)). The reader returns
0-based landmarks (x - 1, y - 1) as everywhere in facessl; the writer adds 1 and keeps 3 decimals.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import IMAGE_SUFFIXES, JPEG_QUALITY, SKIP_MISSING_HINT, parse_number, read_lines, save_image, with_dropped
from facessl.errors import DataFormatError

SUBSETS = {"afw": "train", "helen/trainset": "train", "lfpw/trainset": "train",
           "helen/testset": "test", "lfpw/testset": "test", "ibug": "test", "trainset": "train", "testset": "test",
           "01_Indoor": "private", "02_Outdoor": "private"}  # the 300-W competition's own 600-image test set
CHALLENGING = "ibug"


def format_pts(landmarks: np.ndarray) -> str:
    """0-based (K,2) landmarks -> .pts text with 1-based coordinates."""
    points = np.asarray(landmarks, dtype=np.float64) + 1.0
    rows = "".join(f"{x:.3f} {y:.3f}\n" for x, y in points)
    return f"version: 1\nn_points:  {len(points)}\n{{\n{rows}}}\n"


def parse_pts(path) -> np.ndarray:
    """A .pts file -> 0-based (K,2) float32 landmarks."""
    lines = read_lines(path, "landmark file")
    if not lines or lines[0].replace(" ", "") != "version:1":
        raise DataFormatError(path, f"expected 'version: 1', got {lines[0] if lines else ''!r}", 1)
    head = lines[1].split(":") if len(lines) > 1 else []
    if len(head) != 2 or head[0].strip() != "n_points":
        raise DataFormatError(path, "expected 'n_points:  68'", 2)
    n = parse_number(head[1].strip(), path, 2, "the number of points", int)
    if len(lines) < 3 or lines[2].strip() != "{":
        raise DataFormatError(path, "expected '{'", 3)
    points = []
    for number in range(4, 4 + n):
        fields = lines[number - 1].split() if number <= len(lines) else []
        if len(fields) != 2:
            raise DataFormatError(path, f"expected point {number - 3} of {n} as 'x y'", number)
        points.append([parse_number(v, path, number, "a coordinate", float) for v in fields])
    if len(lines) < 4 + n or lines[3 + n].strip() != "}":
        raise DataFormatError(path, f"expected '}}' after {n} points", 4 + n)
    return np.array(points, dtype=np.float32) - 1.0


class W300Writer:
    """Writes `<subset>/<name>.<jpg|png>` and its `.pts` (subset e.g. 'afw', 'helen/trainset', 'ibug')."""

    def __init__(self, root, quality: int = JPEG_QUALITY):
        self.root = Path(root)
        self.quality = quality

    def add(self, subset: str, name: str, image: np.ndarray, landmarks: np.ndarray) -> Path:
        """name includes the image suffix (lfpw images are .png in the release); landmarks (68,2) 0-based."""
        if subset not in SUBSETS:
            raise ValueError(f"300-W subset must be one of {sorted(SUBSETS)}, got {subset!r}")
        path = self.root / subset / name
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(path, image, self.quality)
        path.with_suffix(".pts").write_text(format_pts(landmarks))
        return path


def subset_of(relative: str):
    """The SUBSETS key a folder path (relative to the root) ends with, case-insensitively, or None."""
    parts = relative.lower().split("/")
    for n in (2, 1):
        key = "/".join(parts[-n:])
        match = next((k for k in SUBSETS if k.lower() == key), None)
        if match is not None and len(parts) >= n:
            return match
    return None


def read_300w(root, skip_missing: bool = False) -> ImageSet:
    """labels: 'landmarks' (N,68,2) 0-based; 'subset' (N,) folder such as 'helen/testset' (challenging = 'ibug');
    split: 'train' / 'test' (test = common + challenging, the 'full' set) / 'private' (01_Indoor, 02_Outdoor)."""
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(root, "300-W folder not found")
    dropped = {"missing_image": 0}
    images, marks, subsets, split = [], [], [], []
    for pts in sorted(root.rglob("*.pts")):
        subset = subset_of(pts.parent.relative_to(root).as_posix())
        if subset is None:
            raise DataFormatError(pts, f"cannot tell train from test: expected the file under one of {', '.join(sorted(SUBSETS))}")
        image = next((pts.with_suffix(s) for s in IMAGE_SUFFIXES if pts.with_suffix(s).is_file()), None)
        if image is None:
            if skip_missing:
                dropped["missing_image"] += 1
                continue
            raise DataFormatError(pts, f"no image beside this .pts (expected the same name with .jpg or .png); {SKIP_MISSING_HINT}")
        images.append(str(image))
        marks.append(parse_pts(pts))
        subsets.append(subset)
        split.append(SUBSETS[subset])
    if not images:
        raise DataFormatError(root, "no .pts files found")
    if len({m.shape for m in marks}) != 1:
        raise DataFormatError(root, "the .pts files do not all have the same number of points")
    labels = {"landmarks": np.stack(marks), "subset": np.array(subsets)}
    return with_dropped(ImageSet(images, labels, np.array(split), str(root)), dropped)
