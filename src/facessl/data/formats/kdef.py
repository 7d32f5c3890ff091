"""KDEF, the Karolinska Directed Emotional Faces (Lundqvist, Flykt & Öhman, 1998), as distributed:

    KDEF/AF01/AF01ANS.JPG ...     one folder per session + gender + identity; 4900 JPEGs, 562x762 portraits

File names, from the release's ReadMe (copied in several repositories): letter 1 the session (A, B: each
person was shot twice), letter 2 the gender (F, M), 3-4 the identity (01-35), 5-6 the expression (AF afraid,
AN angry, DI disgusted, HA happy, NE neutral, SA sad, SU surprised), then the angle (FL full left profile, HL
half left profile, S straight, HR half right profile, FR full right profile); extension `.JPG` (any case, any
image suffix read). The root is the folder holding the AF01/ folders, `KDEF/` above it, the kdef.se
download `KDEF_and_AKDEF/` (its AKDEF/ averaged faces are not read), or a flat copy of the images.

Labels: 'expression' (internal order), 'pose' (N,3) with the yaw of the angle and pitch = roll = 0,
'pose_class' (index into YAW_CLASSES, as bu3dfe's) and 'group', the person (F01: gender and identity, the
same for both sessions).

Yaw sign: the ReadMe only names the views. A profile is named after the side of the face it shows (as in
portrait and mugshot usage: a left profile shows the sitter's left cheek and ear), which the sitter shows by
turning to their own right, so the nose points to the image's left: FL = +90, HL = +45 in facessl's
convention (yaw > 0 = face turned towards the image's left), HR = -45, FR = -90. No source states the
direction in words; one FL image whose nose points to the image's right would mean the opposite sign.

Quirks of the release: a few images are all black; two loaders list them (one adds BF13NEHR, and they
disagree on AF20DIHL / AM20DIHL): KNOWN_BLANK, skipped and counted. Copies are not all complete (one
loader's holds 4822 photos, not 4900) and a few files are said to be misnamed (no list of them was found),
so an image whose name is not in the KDEF form, or has an unknown code, is skipped and counted
(meta['unrecognised_files'] names the first few) rather than stopping the read; missing files are no error.

Protocol: all five angles by default (`angles="S"` for the frontal-only protocol, or a list such as
"HL,S,HR"); no split is given: seeded, stratified by expression, grouped by person, 20 % test. Task
`expression`. The whole portrait is read (the probes squeeze it to a square): the loaders checked either
resize the whole picture or run their own face detector; none crops a fixed region.

Evidence (read, not copied): loaders found by the index (repository names not given by it) that read
`KDEF_and_AKDEF/KDEF/AF01/AF01AFS.JPG`, download `kdef.se/download/KDEF_and_AKDEF.zip`, list `KDEF_and_AKDEF/`
as KDEF/, KDEFmap/, ReadThis/, and take the code at name[4:6]; two of them point at
`.../KDEF_and_AKDEF/KDEF_and_AKDEF/KDEF` (Windows paths): the zip unpacked into a folder of its own name.
That nesting was not found before (a root above it was "KDEF not found"): it is now read, as is KDEF/KDEF/ (tests:
tests/test_formats_layout_audit4.py). Unconfirmed: the yaw sign (above).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import unnested, with_dropped
from facessl.data.formats.imagefolder import walk_images
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError

EXPRESSION_CODES = {"AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happiness", "NE": "neutral",
                    "SA": "sadness", "SU": "surprise"}
ANGLE_YAW = {"FL": 90, "HL": 45, "S": 0, "HR": -45, "FR": -90}  # see the module doc for the sign
YAW_CLASSES = (-90, -45, 0, 45, 90)
NAME_PATTERN = re.compile(r"(?P<session>[AB])(?P<gender>[FM])(?P<identity>\d\d)(?P<code>[A-Z]{2})"
                          r"(?P<angle>FL|HL|S|HR|FR)")
PERSON_FOLDER = re.compile(r"[AB][FM]\d\d", re.IGNORECASE)
KNOWN_BLANK = frozenset({"AF01SUFR", "AF10AFFR", "AF11NEHL", "AF20DIHL", "AM20DIHL", "AM25DIFL", "AM34DIFR",
                         "BF13NEHR", "BM21DIFL", "BM22DIHL", "BM24DIFL"})
SHOWN_UNRECOGNISED = 10
DOWNLOAD_FOLDER = "KDEF_and_AKDEF"  # kdef.se's KDEF_and_AKDEF.zip


def read_kdef(root, angles=tuple(ANGLE_YAW), test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """KDEF portraits: labels 'expression', 'pose', 'pose_class' and 'group' (the person); split train / test."""
    root = Path(root)
    wanted = _angle_codes(angles)
    folder = _kdef_folder(root)
    images, expression, angle, person, unrecognised = [], [], [], [], []
    dropped = {"known blank image": 0, "file name not in the KDEF form": 0, "angle left out (angles option)": 0}
    for path in walk_images(folder):
        if "__MACOSX" in path.relative_to(folder).parts:
            continue
        match = NAME_PATTERN.fullmatch(path.stem.upper())
        if match is None or match["code"] not in EXPRESSION_CODES:
            dropped["file name not in the KDEF form"] += 1
            unrecognised.append(path.name)
        elif match["angle"] not in wanted:
            dropped["angle left out (angles option)"] += 1
        elif path.stem.upper() in KNOWN_BLANK:
            dropped["known blank image"] += 1
        else:
            images.append(str(path))
            expression.append(EXPRESSIONS.index(EXPRESSION_CODES[match["code"]]))
            angle.append(match["angle"])
            person.append(match["gender"] + match["identity"])
    if not images:
        raise DataFormatError(folder, _nothing_found(unrecognised, wanted))
    return _imageset(images, expression, angle, person, folder, test_fraction, seed,
                     {k: v for k, v in dropped.items() if v}, unrecognised)


def _angle_codes(angles) -> set[str]:
    """The angle codes asked for: 'S', 'HL,S,HR' or a list of codes (any case)."""
    codes = [a.strip().upper() for a in (angles.split(",") if isinstance(angles, str) else angles) if a.strip()]
    unknown = [a for a in codes if a not in ANGLE_YAW]
    if unknown or not codes:
        raise FacesslError(f"kdef angles {angles!r}: expected some of {', '.join(ANGLE_YAW)}")
    return set(codes)


def _kdef_folder(root: Path) -> Path:
    """The folder holding the AF01/ folders: the root, KDEF/ in it, or KDEF_and_AKDEF/KDEF/; each wrapper also
    nested twice as archives unpack (KDEF_and_AKDEF/KDEF_and_AKDEF/KDEF/, KDEF/KDEF/)."""
    candidates = []
    for base in dict.fromkeys((root, unnested(root))):
        candidates += [base, unnested(base / "KDEF"), unnested(base / DOWNLOAD_FOLDER) / "KDEF"]
    for candidate in dict.fromkeys(candidates):
        if candidate.is_dir() and any(PERSON_FOLDER.fullmatch(p.name) for p in candidate.iterdir() if p.is_dir()):
            return candidate
    if root.is_dir() and any(NAME_PATTERN.fullmatch(p.stem.upper()) for p in root.iterdir()):
        return root  # a flat copy: the images without their person folders
    raise DataFormatError(root, "KDEF not found: expected KDEF/AF01/AF01ANS.JPG (folders AF01 ... BM35) here")


def _nothing_found(unrecognised: list[str], wanted: set[str]) -> str:
    if unrecognised:
        return (f"no KDEF images found: {len(unrecognised)} image file(s) not named like AF01ANS.JPG "
                f"(e.g. {unrecognised[0]})")
    return f"no KDEF images found with the angles {', '.join(sorted(wanted))}"


def _imageset(images, expression, angle, person, folder, test_fraction, seed, dropped, unrecognised) -> ImageSet:
    expression, person = np.array(expression, dtype=np.int64), np.array(person)
    yaw = np.array([ANGLE_YAW[a] for a in angle], dtype=np.float32)
    pose = np.zeros((len(images), 3), dtype=np.float32)
    pose[:, 0] = yaw
    pose_class = np.array([YAW_CLASSES.index(int(y)) for y in yaw], dtype=np.int64)
    split = np.asarray(grouped_stratified_split(expression, person, test_fraction, seed))
    meta = {"split_from": f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by person",
            "pose_class_yaws": list(YAW_CLASSES)}
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    labels = {"expression": expression, "pose": pose, "pose_class": pose_class, "group": person}
    return with_dropped(ImageSet(images, labels, split, str(folder), meta=meta), dropped)
