"""RaFD, the Radboud Faces Database (Langner et al., 2010), as distributed:

    Rafd090_01_Caucasian_female_angry_frontal.jpg ...     one flat folder, 681x1024 portraits

File names, as loaders of the release split them on '_': `Rafd` + the camera angle (000, 045, 090, 135, 180;
090 is frontal), the model's number (01-73, with gaps: 67 models), the ethnic group (Caucasian, Moroccan; any
word is read), the gender (male, female), the expression (angry, contemptuous, disgusted, fearful, happy,
neutral, sad, surprised) and the gaze (frontal, left, right); any image suffix, any case. The root is that folder;
copies sorted into class folders (`angry/Rafd090_…`) are read too (the name carries every label).

Labels: 'class' (index into CLASSES: eight expressions, contempt included, so task `classification` as for CK+
and FER+; meta['class_names']), 'pose' (N,3) with the yaw of the camera angle and pitch = roll = 0,
'pose_class' (index into YAW_CLASSES, as kdef's), 'gaze' (0 frontal, 1 left, 2 right; meta['gaze_names'])
and 'group', the model's number. Identity: the loaders checked take the number alone (`split('_')[1]`) as the
person, and the numbers seen in names are unique across groups (Caucasian 71 beside Moroccan 70, 72, 73), so
the group is the number; the same person appears under all five cameras, three gazes and eight expressions.

Yaw sign: the camera angle is the camera's azimuth on a half circle in front of the model, 090 straight ahead.
Read as a protractor from behind the cameras (0 on the photographer's right, which is the model's left), the
000 camera looks at the model's left cheek: a left profile, the nose pointing to the image's left, yaw +90 in
facessl's convention (as KDEF's FL); 045 = +45, 090 = 0, 135 = -45, 180 = -90 (a right profile). No source
found states the direction in words (one loader calls the 045 images "right" and the 135 ones "left", which
fits a turn described from the model's side); a single Rafd000 image whose nose points to the image's right
would mean the opposite sign (ANGLE_YAW, one line).

Unrecognised names (the release's copies carry a few thumbnails and renamed files) are skipped and counted
(meta['unrecognised_files'] names the first few). Options: `angles` (default all five; "090" for the frontal
protocol, "045,090,135", or numbers), `gaze` (default all; "frontal"). No split is given: seeded, stratified by
class, grouped by person, 20 % test. The whole portrait is read (the probes squeeze it to a square).

Evidence (read, not copied): loaders found by the index (names not given by it) reading
`Rafd090_01_Caucasian_female_angry_frontal.jpg` (StarGAN-style `RafD_frontal_536/`), Matlab code that takes the
pose from `Rafd000_` ... `Rafd180_`, and a README table (model numbers 1-73 but 6, 13, 17, 34, 62, 66; groups
Kid, Caucasian, Moroccan; gazes right, frontal, left). `Kid` is read (a test now says so). Conflict, not
resolved: that README calls 000 and 045 "right side visible" and 135, 180 "left side visible"; if that means
the model's right cheek, 000 is a right profile and ANGLE_YAW's sign is the opposite of the one above. It does
not say whose right, so the sign is kept and stays unconfirmed.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import with_dropped
from facessl.data.formats.imagefolder import walk_images
from facessl.errors import DataFormatError, FacesslError

EXPRESSION_WORDS = {"angry": "anger", "contemptuous": "contempt", "disgusted": "disgust", "fearful": "fear",
                    "happy": "happiness", "neutral": "neutral", "sad": "sadness", "surprised": "surprise"}
CLASSES = tuple(EXPRESSION_WORDS.values())
GAZES = ("frontal", "left", "right")
ANGLE_YAW = {"000": 90, "045": 45, "090": 0, "135": -45, "180": -90}  # see the module doc for the sign
YAW_CLASSES = (-90, -45, 0, 45, 90)
NAME_PATTERN = re.compile(r"rafd(?P<angle>\d{3})_(?P<person>\d+)_(?P<ethnicity>[a-z]+)_(?P<gender>male|female)_"
                          r"(?P<expression>[a-z]+)_(?P<gaze>[a-z]+)")
SHOWN_UNRECOGNISED = 10
NOT_RAFD = "file name not in the RaFD form"


def read_rafd(root, angles=tuple(ANGLE_YAW), gaze=GAZES, test_fraction: float = TEST_FRACTION,
              seed: int = SPLIT_SEED) -> ImageSet:
    """RaFD portraits: labels 'class', 'pose', 'pose_class', 'gaze' and 'group' (the model); split train / test."""
    root = Path(root)
    wanted_angles = _chosen(angles, ANGLE_YAW, "angles", _angle_code)
    wanted_gazes = _chosen(gaze, GAZES, "gaze", str.lower)
    if not root.is_dir():
        raise DataFormatError(root, "RaFD not found: expected Rafd090_01_Caucasian_female_angry_frontal.jpg here")
    rows, unrecognised = [], []
    dropped = {NOT_RAFD: 0, "angle left out (angles option)": 0, "gaze left out (gaze option)": 0}
    for path in walk_images(root):
        if "__MACOSX" in path.relative_to(root).parts:
            continue
        fields = _name_fields(path.stem)
        if fields is None:
            dropped[NOT_RAFD] += 1
            unrecognised.append(path.name)
        elif fields["angle"] not in wanted_angles:
            dropped["angle left out (angles option)"] += 1
        elif fields["gaze"] not in wanted_gazes:
            dropped["gaze left out (gaze option)"] += 1
        else:
            rows.append((str(path), fields))
    if not rows:
        raise DataFormatError(root, _nothing_found(unrecognised))
    return _imageset(rows, root, test_fraction, seed, {k: v for k, v in dropped.items() if v}, unrecognised)


def _name_fields(stem: str) -> dict | None:
    """The labels coded in a RaFD file name, or None when it is not one (unknown angle, expression or gaze)."""
    match = NAME_PATTERN.fullmatch(stem.lower())
    if match is None or match["angle"] not in ANGLE_YAW or match["expression"] not in EXPRESSION_WORDS \
            or match["gaze"] not in GAZES:
        return None
    return {"angle": match["angle"], "person": f"{int(match['person']):02d}", "gaze": match["gaze"],
            "class": CLASSES.index(EXPRESSION_WORDS[match["expression"]])}


def _angle_code(value) -> str:
    """45, "45" or "045" -> "045" (a suite's YAML reads 45 as a number and 090 as text)."""
    text = str(value).strip()
    return f"{int(text):03d}" if text.isdigit() else text


def _chosen(value, known, option: str, normalise) -> set[str]:
    """The codes an option asks for: one code, 'a,b' or a list; an unknown code is one error naming the known."""
    if isinstance(value, str):
        items = value.split(",")
    else:
        items = value if isinstance(value, (list, tuple, set)) else [value]
    codes = [normalise(str(item).strip()) for item in items if str(item).strip()]
    unknown = [c for c in codes if c not in known]
    if unknown or not codes:
        raise FacesslError(f"rafd {option} {value!r}: expected some of {', '.join(known)}")
    return set(codes)


def _nothing_found(unrecognised: list[str]) -> str:
    if unrecognised:
        return (f"no RaFD images found: {len(unrecognised)} image file(s) not named like "
                f"Rafd090_01_Caucasian_female_angry_frontal.jpg (e.g. {unrecognised[0]})")
    return "no RaFD images found (with the angles and gazes asked for)"


def _imageset(rows, root: Path, test_fraction, seed, dropped, unrecognised) -> ImageSet:
    images = [path for path, _ in rows]
    classes = np.array([f["class"] for _, f in rows], dtype=np.int64)
    person = np.array([f["person"] for _, f in rows])
    yaw = np.array([ANGLE_YAW[f["angle"]] for _, f in rows], dtype=np.float32)
    pose = np.zeros((len(rows), 3), dtype=np.float32)
    pose[:, 0] = yaw
    labels = {"class": classes, "pose": pose,
              "pose_class": np.array([YAW_CLASSES.index(int(y)) for y in yaw], dtype=np.int64),
              "gaze": np.array([GAZES.index(f["gaze"]) for _, f in rows], dtype=np.int64), "group": person}
    split = np.asarray(grouped_stratified_split(classes, person, test_fraction, seed))
    meta = {"class_names": list(CLASSES), "gaze_names": list(GAZES), "pose_class_yaws": list(YAW_CLASSES),
            "split_from": f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by person"}
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    return with_dropped(ImageSet(images, labels, split, str(root), meta=meta), dropped)
