"""CK+ (the extended Cohn-Kanade set, Lucey et al., 2010) as distributed:

    cohn-kanade-images/S005/001/S005_001_00000001.png ...     every frame of every sequence (640x490, grey or colour)
    Emotion/S005/001/S005_001_00000011_emotion.txt          one number, the emotion of the sequence's last frame
    Landmarks/S005/001/S005_001_00000001_landmarks.txt      68 lines `x y` per frame (optional)

Only 327 of the 593 sequences carry an emotion. The usual protocol, kept here: the last `peak_frames` (3)
frames of each labelled sequence, labelled with its emotion (7 classes: anger, contempt, disgust, fear,
happiness, sadness, surprise; code 0, neutral, does not occur in the Emotion files). Each face is the square
crop around its 68 landmarks, enlarged by a quarter (the frames are mostly background), or the whole frame
when Landmarks/ is absent. No split is given: seeded, stratified, grouped by subject (S005), 20 % test.
Task `classification`. Kaggle's CK+48 (class folders of 48x48 crops) reads as `imagefolder:`.

The four archives (extended-cohn-kanade-images.zip, Emotion_labels.zip, Landmarks.zip, FACS_labels.zip) are
often unpacked each into a folder of the archive's name: `extended-cohn-kanade-images/cohn-kanade-images/`,
`Emotion_labels/Emotion/`, `Landmarks/Landmarks/` (FACS_labels/FACS/ is not read); these are found here, in
`CK+/` or in the folder above. Files whose name starts with a dot (macOS's `._S005_001_00000001.png`,
`.DS_Store`) are not frames. `neutral_frames=k` (default 0) adds the first k frames of every labelled sequence
as class 'neutral' (the sequences start from a neutral face; the 8-class protocol of many FER papers), appended
after the 7 emotions so that their indices do not change.

Evidence (read, not copied): ymitiku/Ck-dataset-preprocess `__init__.py` (codes 0 neutral, 1 anger, 2 contempt,
3 disgust, 4 fear, 5 happy, 6 sad, 7 surprise; the emotion file read with numpy.loadtxt as one float; only .png
names of a sequence folder kept and sorted; the first frame taken as neutral, the last `max_emotion_images`
(default 3) as the emotion) and its README.md; Open-Debin/Emotion-FAN `data/frame/readme.md` (the release's
`cohn-kanade-images/S005 ... S999` put as is). Public loaders found by text search (repository not shown by
the search tool) name the archive folders `extended-cohn-kanade-images/cohn-kanade-images`,
`Emotion_labels/Emotion`, `Landmarks/Landmarks` and `FACS_labels/FACS`, the emotion file
`Emotion/S005/001/S005_001_00000011_emotion.txt` next to frame `S005_001_00000011.png`, and label lists
`['neutral', 'anger', 'contempt', ...]`. Unconfirmed: the exact bytes of the released Landmarks files (read
as two numbers per line, any spacing), and whether the official zips themselves carry `._` files.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import parse_number, read_lines, whole_number, with_dropped
from facessl.data.image_decode import IMAGE_SUFFIXES, BoxedImage
from facessl.errors import DataFormatError

CODES = {1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happiness", 6: "sadness", 7: "surprise"}
CLASSES = tuple(CODES.values())
IMAGE_FOLDERS = ("cohn-kanade-images", "CK+/cohn-kanade-images", "extended-cohn-kanade-images/cohn-kanade-images",
                 "CK+/extended-cohn-kanade-images/cohn-kanade-images")
ARCHIVE_FOLDERS = {"Emotion": "Emotion_labels", "Landmarks": "Landmarks"}  # Emotion_labels.zip -> Emotion/
NEUTRAL = "neutral"
SUBJECT = re.compile(r"S\d+")
FACE_SCALE = 1.25  # the 68 points span brows to chin: a quarter more keeps the forehead and jaw


def _find(root: Path, name: str) -> Path | None:
    """Emotion/ or Landmarks/ here, in CK+/ or above, also inside the folder its archive unpacks to."""
    wrapper = ARCHIVE_FOLDERS[name]
    for base in (root, root.parent):
        for folder in (base, base / "CK+"):
            for candidate in (folder / name, folder / wrapper / name):
                if _holds_subjects(candidate):
                    return candidate
    return None


def _holds_subjects(folder: Path) -> bool:
    """Whether a folder holds subject folders (S005/ ...), not only the archive's folder of its own name."""
    return folder.is_dir() and any(p.is_dir() and SUBJECT.fullmatch(p.name) for p in folder.iterdir())


def _frames(folder: Path) -> list[Path]:
    """The frames of one sequence in order: image files, without macOS's hidden `._` copies."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())


def read_ckplus(root, peak_frames: int = 3, neutral_frames: int = 0, test_fraction: float = TEST_FRACTION,
                seed: int = SPLIT_SEED) -> ImageSet:
    """CK+ peak frames: labels 'class' (N,) index into meta['class_names'] (CLASSES, then 'neutral' when
    neutral_frames > 0) and 'group' (the subject); split train / test."""
    root = Path(root)
    peak_frames = whole_number(peak_frames, "ckplus", "peak_frames", 1)
    neutral_frames = whole_number(neutral_frames, "ckplus", "neutral_frames", 0)
    classes = CLASSES + ((NEUTRAL,) if neutral_frames else ())
    images_root = next((root / f for f in IMAGE_FOLDERS if (root / f).is_dir()), None)
    emotion_root = _find(root, "Emotion")
    if images_root is None or emotion_root is None:
        raise DataFormatError(root, "CK+ not found: expected cohn-kanade-images/ and Emotion/ (S005/001/...) here")
    landmark_root = _find(root, "Landmarks")
    images, labels, subjects = [], [], []
    dropped = {"sequence without frames": 0}
    for emotion_file in sorted(emotion_root.glob("*/*/*_emotion.txt")):
        lines = [line for line in read_lines(emotion_file, "CK+ emotion file") if line.strip()]
        if len(lines) != 1:
            raise DataFormatError(emotion_file, f"expected one emotion code, found {len(lines)} lines")
        value = parse_number(lines[0].strip(), emotion_file, 1, "an emotion code 1..7", float)
        if value != int(value) or int(value) not in CODES:
            raise DataFormatError(emotion_file, f"expected an emotion code 1..7, got {lines[0].strip()}", 1)
        subject, sequence = emotion_file.parent.parent.name, emotion_file.parent.name
        frames = _frames(images_root / subject / sequence)
        if not frames:
            dropped["sequence without frames"] += 1
            continue
        peak = frames[-peak_frames:]
        neutral = [f for f in frames[:neutral_frames] if f not in peak]  # a short sequence: its peak wins
        for frame, name in [(f, NEUTRAL) for f in neutral] + [(f, CODES[int(value)]) for f in peak]:
            images.append(_face(frame, landmark_root, subject, sequence))
            labels.append(classes.index(name))
            subjects.append(subject)
    if not images:
        raise DataFormatError(emotion_root, "no labelled CK+ sequence with frames")
    labels, subjects = np.array(labels, dtype=np.int64), np.array(subjects)
    split = np.asarray(grouped_stratified_split(labels, subjects, test_fraction, seed))
    meta = {"class_names": list(classes),
            "split_from": f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by subject"}
    result = ImageSet(images, {"class": labels, "group": subjects}, split, str(root), meta=meta)
    return with_dropped(result, {k: v for k, v in dropped.items() if v})


def _face(frame: Path, landmark_root: Path | None, subject: str, sequence: str):
    """The frame's face crop from its landmarks, or the frame itself."""
    if landmark_root is None:
        return str(frame)
    path = landmark_root / subject / sequence / f"{frame.stem}_landmarks.txt"
    if not path.is_file():
        return str(frame)
    points = []
    for number, line in enumerate(read_lines(path, "CK+ landmarks"), start=1):
        if line.strip():
            fields = line.split()
            if len(fields) != 2:
                raise DataFormatError(path, f"expected 'x y', got {line.strip()!r}", number)
            points.append([parse_number(v, path, number, "a coordinate", float) for v in fields])
    points = np.array(points)
    return BoxedImage.enlarged(frame, (*points.min(0), *points.max(0)), FACE_SCALE)
