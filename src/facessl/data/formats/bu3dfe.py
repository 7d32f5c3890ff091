"""BU-3DFE-style discrete head-pose classification (a facessl layout; the real BU-3DFE ships 3D scans).

PCL reports a pose *accuracy* on BU-3DFE, i.e. classification of faces rendered at a few fixed
views. facessl's layout names each image after BU-3DFE's subject/expression codes plus the view:
    <root>/F0001/F0001_HA03WH_yaw+30.jpg
subject F/M + 4 digits; expression AN DI FE HA NE SA SU and intensity 01-04 (NE00 for neutral);
two letters of ethnicity (WH, BL, AE, AM, IN, LA as in BU-3DFE); yaw class in degrees, one of
YAW_CLASSES (facessl's internal sign: yaw > 0 = face turned towards the image's left). The true
yaw of a synthetic image is the class centre plus a jitter of at most 3 degrees (pitch, roll small).
`<root>/test_subjects.txt` (one subject per line) marks the test subjects; the rest are train.

Evidence (read, not copied): PCL's own BU-3DFE pose data is a list file, DreamMr/PCL data_process/expdb.py
(`get_list_BU3D`: lines `img_path,exp_label,pose_label`, the pose an integer class) read against
`config['root']`; the rendered images and their list are not public, so this facessl layout stands in for them.
The subject/expression/race codes follow the release (see bu3dfe_release.py). Unconfirmed: PCL's pose classes
(their number and the yaw of each), which this layout's YAW_CLASSES only assume.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import JPEG_QUALITY, read_lines, save_image
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError

YAW_CLASSES = (-45, -30, -15, 0, 15, 30, 45)
EXPRESSION_CODES = {"surprise": "SU", "fear": "FE", "disgust": "DI", "happiness": "HA", "sadness": "SA", "anger": "AN", "neutral": "NE"}
CODE_TO_INTERNAL = {code: EXPRESSIONS.index(name) for name, code in EXPRESSION_CODES.items()}
ETHNICITIES = ("WH", "BL", "AE", "AM", "IN", "LA")
NAME_PATTERN = re.compile(r"(?P<subject>[FM]\d{4})_(?P<code>AN|DI|FE|HA|NE|SA|SU)(?P<level>\d\d)(?P<race>[A-Z]{2})_yaw(?P<yaw>[+-]\d+)\.jpg")
TEST_LIST = "test_subjects.txt"


def subject_name(index: int, female: bool) -> str:
    return f"{'F' if female else 'M'}{index + 1:04d}"


class Bu3dfeWriter:
    def __init__(self, root, quality: int = JPEG_QUALITY):
        self.root = Path(root)
        self.quality = quality
        self.test_subjects: set[str] = set()

    def add(self, subject: str, expression: int, level: int, ethnicity: str, yaw_class: int, image: np.ndarray, test: bool) -> Path:
        """expression internal index; level 1..4 (ignored for neutral); yaw_class one of YAW_CLASSES."""
        if yaw_class not in YAW_CLASSES:
            raise ValueError(f"yaw class must be one of {YAW_CLASSES}, got {yaw_class}")
        code = EXPRESSION_CODES[EXPRESSIONS[int(expression)]]
        level = 0 if code == "NE" else int(level)
        path = self.root / subject / f"{subject}_{code}{level:02d}{ethnicity}_yaw{yaw_class:+d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(path, image, self.quality)
        if test:
            self.test_subjects.add(subject)
        return path

    def close(self) -> None:
        (self.root / TEST_LIST).write_text("".join(s + "\n" for s in sorted(self.test_subjects)))


def read_bu3dfe(root) -> ImageSet:
    """labels: 'pose_class' (N,) index into YAW_CLASSES; 'pose' (N,3) class yaw with pitch = roll = 0;
    'expression' internal; 'subject'. split 'train'/'test' from test_subjects.txt (None without that file)."""
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(root, "BU-3DFE-style folder not found")
    test_list = root / TEST_LIST
    test = {line.strip() for line in read_lines(test_list, "test subject list") if line.strip()} if test_list.is_file() else None
    images, pose_class, expression, subject = [], [], [], []
    for path in sorted(root.glob("*/*.jpg")):
        match = NAME_PATTERN.fullmatch(path.name)
        if match is None or match["subject"] != path.parent.name:
            raise DataFormatError(path, "expected <subject>/<subject>_<EXPR><level><race>_yaw<+deg>.jpg, e.g. F0001/F0001_HA03WH_yaw+30.jpg")
        yaw = int(match["yaw"])
        if yaw not in YAW_CLASSES:
            raise DataFormatError(path, f"yaw {yaw} is not one of the classes {YAW_CLASSES}")
        images.append(str(path))
        pose_class.append(YAW_CLASSES.index(yaw))
        expression.append(CODE_TO_INTERNAL[match["code"]])
        subject.append(match["subject"])
    if not images:
        raise DataFormatError(root, "no images found; expected <subject>/<subject>_HA03WH_yaw+30.jpg")
    pose_class = np.array(pose_class, dtype=np.int64)
    pose = np.zeros((len(images), 3), dtype=np.float32)
    pose[:, 0] = np.array(YAW_CLASSES)[pose_class]
    split = None if test is None else np.where(np.isin(subject, sorted(test)), "test", "train")
    labels = {"pose_class": pose_class, "pose": pose, "expression": np.array(expression, dtype=np.int64), "subject": np.array(subject)}
    return ImageSet(images, labels, split, str(root))
