"""Head Pose Image Database of the Pointing'04 ICPR workshop (Gourier, Hall & Crowley, 2004), as distributed:

    HeadPoseImageDatabase.tar.gz (crowley-coutaz.fr/HeadPoseDataSet) unpacks to
    Person01/person01100-90+0.jpg       384x288 colour photo: person 01, series 1, image 00, tilt -90, pan +0
    Person01/person01100-90+0.txt       its face box (below)
    ...  Person15/, and Front/personne01146+0+0.jpg (30 copies of the series' frontal images)

File names, from the database page (crowley-coutaz.fr "Head Pose Image Database"; the workshop's
www-prima.inrialpes.fr/Pointing04/data-face.html spells the prefix `personne`): `person[Id][Serie][Number]
[Tilt][Pan]`, Id 01-15, Serie 1 or 2 (two sessions of each person), Number 00-92, Tilt (vertical angle) -90,
-60, -30, -15, 0, +15, +30, +60, +90 and Pan (horizontal angle) -90 ... +90 in steps of 15, both signed, 0
written `+0` (the database's own browsing code, ported in j-emmel/cv-data-test src/inriaHeadPose.cpp, builds
the names that way); at tilt +-90 only pan 0, so 7 x 13 + 2 = 93 images per series, 2790 in all. Copies differ:
the workshop's per-series tarballs (`Person05-2.tar.gz`) and the figshare copy use `Personne01/personne01…`;
any case, any image suffix (`.JPG`), a `HeadPoseImageDatabase/` wrapper (any case, nested twice too), the
per-series folders `Person01-1/Personne01/`, or one person folder are read. A name not in this form, or with an
angle off the grid, is skipped and counted (meta['unrecognised_files'] names the first few). Front/ holds the
series' +0+0 images again (`personne06246+0+0.jpg` is person 06, series 2, image 46): not read twice, counted;
the same person, series and angles met twice (both spellings unpacked side by side) is read once, counted.

Face boxes: each image's `.txt` (same name) holds the image name, a blank line, `Face`, then the face centre x,
the centre y, the width and the height in pixels, one per line (Graviti-AI/tensorbay-python-sdk
tensorbay/opendataset/HeadPoseImage/loader.py reads lines 4-7, deepgaze's Prima parser as copied in
Dalyah/G-Project HPE/ex_prima_parser.py reads lines[3:7], the browsing code reads the tokens `name Face x y w
h`); read here as whitespace-separated tokens after the word `Face`, so BOM, CRLF and missing blank lines do
not matter. Each face is the square about that box grown by `box_scale` (1.2: the boxes frame the face's skin,
a fifth more keeps its outline, as for WFLW's and COFW's boxes), a BoxedImage; an image without a .txt is read
whole (meta['whole_images'] counts them).

Angles (labels 'target' (N,2) = (yaw, pitch) degrees, meta['target_columns'] ['yaw', 'pitch'], task
`regression`: MAE per angle; also 'pose' (N,3) with roll 0, as kdef's, for `--task pose`):
    pitch = tilt: the workshop page says that at -90 / +90 "the person is looking at the bottom or the top".
    yaw = pan: positive pan is a face turned to the image's left (facessl's yaw > 0). No page says so in
        words; it is measured: on the real images a nose-offset feature (nose x minus the eyes' mid x, in image
        pixels, over the eye distance) fitted to the pan gives a scale of -60.8, correlation -0.96, the sign
        right for every face turned 30 degrees or more (AMEEXX/Attract-AI-Based-Attendance-Tracker
        tools/biometric_eval/exp3_pose_estimators.py and results/exp3_pose_estimators.json): the nose lies
        towards the image's left when the pan is positive. The same repository's landmark pitch ratio falls
        from tilt -15 to +15 (nose nearer the eyes: chin up), agreeing with the page on the tilt.
'pose_class' is the index into POSES (the 93 (tilt, pan) pairs in the series' order; meta['pose_class_angles']
gives (yaw, pitch) per class), 'subject' the person ('01'), 'series' 1 or 2.

Protocol (the database page): known faces, a 2-fold cross-validation between the series (every person in
both folds); unknown faces, leave one person out (15 folds). `split="series"` (default): series 1 train,
series 2 test, the known-faces protocol's first fold: fixed, seedless, every image used; `split="person"`: a
seeded split grouped by person, `test_fraction` of the people tested (3 of 15 at 20 %), the unknown-faces
protocol in one cut (`facessl eval --cv 15` runs it whole: 15 folds of one person). meta['split_from'] says which.

Evidence (read, not copied), beyond the sources above: j-emmel/cv-data-test README.md (2790 images, two series of
93 per person, tilt and pan sets) and its browsing code's `person[ID][Series][Number][Tilt][Pan].jpg`; a
dataset builder found by the index downloading `crowley-coutaz.fr/HeadPoseDataSet/HeadPoseImageDatabase.tar.gz`.
All matched; nothing changed.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import (one_of, parse_number, positive_number, read_lines, unnested,
                                            with_dropped)
from facessl.data.formats.imagefolder import walk_images
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError

TILTS = (-90, -60, -30, -15, 0, 15, 30, 60, 90)
PANS = tuple(range(-90, 91, 15))
# (tilt, pan) of images 00 ... 92 of a series: straight down, the 7 x 13 grid row by row, straight up
POSES = ((-90, 0), *((t, p) for t in TILTS[1:-1] for p in PANS), (90, 0))
NAME_PATTERN = re.compile(r"person(?:ne)?(?P<person>\d{2})(?P<series>[12])(?P<number>\d{2})"
                          r"(?P<tilt>[+-]\d{1,2}|0)(?P<pan>[+-]\d{1,2})", re.IGNORECASE)
PERSON_FOLDER = re.compile(r"person(?:ne)?\d{2}(?:-[12])?", re.IGNORECASE)
WRAPPER = "headposeimagedatabase"
FRONT = "front"
BOX_SCALE = 1.2  # the boxes frame the face's skin: a fifth more keeps its outline (as WFLW's, COFW's)
SPLITS = ("series", "person")
BOX_FORM = "the image name, 'Face', then the face centre x, centre y, width and height"
NOT_POINTING04 = "file name not in the Pointing'04 form"
FRONT_COPY = "Front/ copy of a series' frontal image"
DUPLICATE = "same person, series and angles already read"
SHOWN_UNRECOGNISED = 10
EXAMPLE = "Person01/person01100-90+0.jpg (+ .txt)"


def read_pointing04(root, split: str = "series", box_scale: float = BOX_SCALE, test_fraction: float = TEST_FRACTION,
                    seed: int = SPLIT_SEED) -> ImageSet:
    """Pointing'04 faces: labels 'target' (yaw, pitch), 'pose', 'pose_class', 'subject', 'series'; split train / test."""
    split = one_of(split, SPLITS, "pointing04", "split")
    box_scale = positive_number(box_scale, "pointing04", "box_scale", "1.2: the box and a fifth more")
    base = _database_folder(Path(root))
    dropped = {NOT_POINTING04: 0, FRONT_COPY: 0, DUPLICATE: 0}
    rows, unrecognised, seen = [], [], set()
    for path in _images(base, dropped):
        fields = name_fields(path.name)
        if fields is None:
            dropped[NOT_POINTING04] += 1
            unrecognised.append(path.name)
            continue
        key = (fields["person"], fields["series"], fields["tilt"], fields["pan"])
        if key in seen:
            dropped[DUPLICATE] += 1
            continue
        seen.add(key)
        rows.append((path, fields))
    if not rows:
        raise DataFormatError(base, _nothing_found(unrecognised))
    images = [_face(path, box_scale) for path, _ in rows]
    return _imageset(images, [f for _, f in rows], base, split, box_scale, test_fraction, seed,
                     {k: v for k, v in dropped.items() if v}, unrecognised)


def name_fields(name: str) -> dict | None:
    """{'person', 'series', 'number', 'tilt', 'pan'} of a Pointing'04 file name; None when it is not one (or its
    angles are not on the database's grid)."""
    match = NAME_PATTERN.fullmatch(Path(name).stem)
    if match is None:
        return None
    tilt, pan, number = int(match["tilt"]), int(match["pan"]), int(match["number"])
    if (tilt, pan) not in POSES or number >= len(POSES):
        return None
    return {"person": match["person"], "series": int(match["series"]), "number": number, "tilt": tilt, "pan": pan}


def _database_folder(root: Path) -> Path:
    """The folder holding Person01/ ...: the root, or a HeadPoseImageDatabase/ wrapper in it (any case)."""
    if not root.is_dir():
        raise DataFormatError(root, f"Pointing'04 not found: expected {EXAMPLE} here")
    root = unnested(root)
    wrapper = next((p for p in sorted(root.iterdir()) if p.is_dir() and p.name.lower() == WRAPPER), None)
    return unnested(wrapper) if wrapper is not None else root


def _images(base: Path, dropped: dict) -> list[Path]:
    """The images of the person folders (Person01/, Personne01/, Person01-1/), else of the folder itself; the
    Front/ copies are counted, not read."""
    folders = [p for p in sorted(base.iterdir()) if p.is_dir() and PERSON_FOLDER.fullmatch(p.name)] or [base]
    found = []
    for folder in folders:
        for path in walk_images(folder):
            parts = {part.lower() for part in path.relative_to(folder).parts[:-1]}
            if "__macosx" in parts:
                continue
            if FRONT in parts:
                dropped[FRONT_COPY] += 1
                continue
            found.append(path)
    for front in (p for p in base.iterdir() if p.is_dir() and p.name.lower() == FRONT and base not in folders):
        dropped[FRONT_COPY] += len(walk_images(front))
    return found


def _box_file(image: Path) -> Path | None:
    """The image's .txt beside it (any case of the suffix)."""
    for suffix in (".txt", ".TXT", ".Txt"):
        candidate = image.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def read_face_box(path: Path) -> tuple[float, float, float, float]:
    """A .txt face label -> the box (x0, y0, x1, y1) in pixels, from its centre, width and height."""
    tokens = [(number, token) for number, line in enumerate(read_lines(path, "Pointing'04 face label"), start=1)
              for token in line.split()]
    at = next((i for i, (_, token) in enumerate(tokens) if token.lower() == "face"), None)
    if at is None:
        raise DataFormatError(path, f"expected {BOX_FORM} (no 'Face' found)", tokens[-1][0] if tokens else None)
    values = tokens[at + 1: at + 5]
    if len(values) < 4:
        raise DataFormatError(path, f"expected {BOX_FORM}; the file ends after {len(values)} number(s)",
                              values[-1][0] if values else tokens[at][0])
    cx, cy, w, h = (parse_number(token, path, number, "a face box number", float) for number, token in values)
    if w <= 0 or h <= 0:
        raise DataFormatError(path, f"expected a face box of positive size, got {w:g} x {h:g}", values[2][0])
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _face(image: Path, box_scale: float):
    """The square crop about the face box grown by box_scale, or the whole image when no .txt is beside it."""
    label = _box_file(image)
    return str(image) if label is None else BoxedImage.enlarged(image, read_face_box(label), box_scale)


def _nothing_found(unrecognised: list[str]) -> str:
    if unrecognised:
        return (f"no Pointing'04 images found: {len(unrecognised)} image file(s) not named like "
                f"person01100-90+0.jpg (e.g. {unrecognised[0]})")
    return f"no Pointing'04 images found (expected {EXAMPLE})"


def _split(subject: np.ndarray, series: np.ndarray, split: str, test_fraction: float, seed: int):
    """(train/test per row, how it was made)."""
    if split == "series":
        return np.where(series == 1, "train", "test"), ("series 1 train, series 2 test (the first fold of the "
                                                        "database's known-faces protocol; the same people on both sides)")
    sides = grouped_stratified_split(np.zeros(len(subject), dtype=np.int64), subject, test_fraction, seed)
    tested = sorted(set(subject[sides == "test"]))
    return np.asarray(sides), (f"seeded ({seed}) split grouped by person, {test_fraction:.0%} of the people tested "
                               f"(persons {', '.join(tested)}): the unknown-faces protocol in one cut")


def _imageset(images, fields, base, split, box_scale, test_fraction, seed, dropped, unrecognised) -> ImageSet:
    tilt = np.array([f["tilt"] for f in fields], dtype=np.float64)
    pan = np.array([f["pan"] for f in fields], dtype=np.float64)
    subject = np.array([f["person"] for f in fields])
    series = np.array([f["series"] for f in fields], dtype=np.int64)
    target = np.stack([pan, tilt], axis=1)  # (yaw, pitch): see the module doc for the signs
    pose = np.concatenate([target, np.zeros((len(fields), 1))], axis=1).astype(np.float32)
    pose_class = np.array([POSES.index((f["tilt"], f["pan"])) for f in fields], dtype=np.int64)
    sides, split_from = _split(subject, series, split, test_fraction, seed)
    boxed = sum(isinstance(i, BoxedImage) for i in images)
    meta = {"target_columns": ["yaw", "pitch"], "split_from": split_from, "split": split,
            "pose_class_angles": [[p, t] for t, p in POSES], "faces_from_boxes": boxed,
            "whole_images": len(images) - boxed, "box": f"face box from the .txt grown by {box_scale:g} (square)"}
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    labels = {"target": target, "pose": pose, "pose_class": pose_class, "subject": subject, "series": series}
    return with_dropped(ImageSet(images, labels, sides, str(base), meta=meta), dropped)
