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

HRNet's converted lists are read when the folder holds no .pts file: `face_landmarks_300w_train.csv`, `_valid.csv`
(common + challenging; else `_valid_common.csv` + `_valid_challenge.csv`) and `_test.csv` (the competition set,
split 'private'): a header, then image_name, scale, center_w, center_h and x, y of the 68 points, the images
below `images/` beside the lists (HRNet) or beside them (FaRL's IBUG300W/); points minus 2.0, as FaRL reads them
(pts - 1 = csv - 2); HRNet's `ibug/image_092_01.jpg` is the release's `ibug/image_092 _01.jpg`. The whole
image is returned with the points, as for .pts files.

Evidence (read, not copied): HRNet/HRNet-Facial-Landmark-Detection `lib/datasets/face300w.py` (CSV columns 0 name,
1 scale, 2 center_w, 3 center_h, 4: points; the image below DATASET.ROOT) and `lib/core/evaluation.py` (compute_nme:
68 points normalised by the distance of points 36 and 45, the outer eye corners, "interocular"); copies of its
README found by text search list data/300w/face_landmarks_300w_{test,train,valid,valid_challenge,valid_common}.csv
+ images/ (and images/{afw,helen,ibug,lfpw,Test/01_Indoor,02_Outdoor} in one copy); FacePerceiver/FaRL
`farl/datasets/ibug300w.py` (train CSV; test Common = valid_common, Challenging = valid_challenge; points and centre
minus 2.0; the image_092 name fix; images at <root>/<name>). oawiles/FAb-Net `FAb-Net/code/examples/300w/
ibug_image_99.jpg` is an ibug test image. Matched: the challenging subset = ibug, full = common + challenging.
Unconfirmed: the inter-pupil normaliser (eye centres from points 36-41 / 42-47) was not found in these loaders;
evaluate/landmarks.py uses the outer corners; whether HRNet's own points are 1- or 2-based beyond FaRL's reading.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import (IMAGE_SUFFIXES, JPEG_QUALITY, SKIP_MISSING_HINT, MissingImages,
                                             parse_number, read_lines, save_image, with_dropped)
from facessl.data.formats.text import read_csv
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
    all_pts = sorted(root.rglob("*.pts"))
    if not all_pts and _hrnet_lists(root):
        return _read_hrnet_lists(root, skip_missing)
    for pts in all_pts:
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
        raise DataFormatError(root, "no .pts files found (nor HRNet's face_landmarks_300w_train.csv / _valid.csv lists)")
    if len({m.shape for m in marks}) != 1:
        raise DataFormatError(root, "the .pts files do not all have the same number of points")
    labels = {"landmarks": np.stack(marks), "subset": np.array(subsets)}
    return with_dropped(ImageSet(images, labels, np.array(split), str(root)), dropped)


# --- HRNet's converted lists (HRNet-Facial-Landmark-Detection data/300w/, also read by FaRL) ------------------
HRNET_CSV = "face_landmarks_300w_{}.csv"
HRNET_SPLITS = {"train": "train", "valid": "test", "valid_common": "test", "valid_challenge": "test", "test": "private"}
HRNET_OFFSET = 2.0  # FaRL's ibug300w.py reads these points (and the centre) minus 2.0: 0-based = value - 2
HRNET_NAME_FIXES = {"ibug/image_092_01.jpg": "ibug/image_092 _01.jpg"}  # the release's file name has a space


def _hrnet_lists(root: Path) -> list[Path]:
    """The HRNet lists to read: train, and valid (= common + challenging) or else its two halves, and test."""
    named = {key: root / HRNET_CSV.format(key) for key in HRNET_SPLITS}
    tests = ["valid"] if named["valid"].is_file() else ["valid_common", "valid_challenge"]
    return [named[key] for key in ["train", *tests, "test"] if named[key].is_file()]


def _read_hrnet_lists(root: Path, skip_missing: bool) -> ImageSet:
    """HRNet's face_landmarks_300w_*.csv (header, then image_name, scale, center_w, center_h and x, y of the 68
    points) with the images below images/ (HRNet) or beside the lists (FaRL); points read as FaRL reads them."""
    image_root = root / "images" if (root / "images").is_dir() else root
    missing = MissingImages(skip_missing)
    images, marks, subsets, split = [], [], [], []
    for path in _hrnet_lists(root):
        header, rows = read_csv(path, "HRNet 300-W list")
        if len(header) != 4 + 136:
            raise DataFormatError(path, f"expected 140 columns (image_name, scale, center_w, center_h, x and y of 68 "
                                        f"points), the header has {len(header)}", 1)
        split_name = HRNET_SPLITS[path.stem[len("face_landmarks_300w_"):]]
        for number, fields in rows:
            coords = [parse_number(v, path, number, "a coordinate", float) for v in fields[4:]]
            name = fields[0].replace("\\", "/")
            image = image_root / name
            if not image.is_file() and name in HRNET_NAME_FIXES:
                image = image_root / HRNET_NAME_FIXES[name]
            if not missing.ok(image, path, number):
                continue
            images.append(str(image))
            marks.append(np.reshape(coords, (68, 2)) - HRNET_OFFSET)
            subset = subset_of(str(Path(name).parent).replace("\\", "/"))
            subsets.append(subset or "")
            split.append(split_name)
    if not images:
        raise DataFormatError(root, "HRNet's 300-W lists name no image")
    labels = {"landmarks": np.array(marks, dtype=np.float32), "subset": np.array(subsets)}
    meta = {"split_from": "HRNet's lists: train / valid (test) / test (private); points minus 2 as FaRL reads them"}
    return with_dropped(ImageSet(images, labels, np.array(split), str(root), meta=meta),
                        {"missing_image": missing.dropped["missing_image"]})
