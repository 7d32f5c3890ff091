"""Oulu-CASIA NIR&VIS facial expression set (Zhao, Huang, Taini, Li & Pietikäinen, 2011), as distributed:

    OriginalImg/VL/Strong/P001/Anger/000.jpeg ...          the frames (320x240) of each sequence, neutral to peak
    PreProcessImg/VL_Acropped/Strong/P001/Anger/000.jpeg   the release's cropped faces, the same tree

Cameras `VL` (visible light) and `NI` (near infrared); illuminations `Strong`, `Weak`, `Dark`; subjects
P001-P080; six expressions Anger, Disgust, Fear, Happiness, Sadness, Surprise (no neutral sequence); frames
numbered 000, 001 ... The cropped copy sits in `PreProcessImg/`, `PreProcess_Img/` or `PreProcess/` as
`VL_Acropped/` and `NI_Acropped/`, with the same tree below. The root may be the release folder
(`Oulu_CASIA_NIR_VIS/`, `Oulu-CASIA/`), `OriginalImg/` or the pre-processed folder, the folder above them,
or a camera folder itself (`VL_Acropped/`, or one illumination, `VL_Acropped/Strong/`). Folder names are
matched in any case; expression folders also as Angry, Happy, Sad, Surprised, Disgusted, Afraid (copies that
renamed them). Any other folder in an expression's place stops the read with its path (Oulu-CASIA has no
neutral sequences; a copy with them is not this layout).

The usual protocol, kept here: the last `peak_frames` (3) frames of each sequence, labelled with its
expression; VL + Strong by default (`light="NI"`, `illumination="Weak"` / `"Dark"` for the others). Where both
are present the face crops are read (`variant="original"` for the whole frames). No split is given: seeded,
stratified, grouped by subject (P001), 20 % test. Labels 'expression' (internal order) and 'group'. Task
`expression`. Facts from loaders that read OriginalImg/VL/Strong and PreProcess(Img)/VL_Acropped/Strong.

Evidence (read, not copied): loaders found by the index (names not given by it) reading
`OULU/PreProcess/VL_Acropped` (beside `change_log.txt`) or `OriginalImg/VL` with illuminations Strong and Weak,
`PreProcess_Img/VL_Acropped/Strong`, `PreProcessImg/VL_Acropped/Strong`, and the six expression folders Anger,
Disgust, Fear, Happiness, Sadness, Surprise with `.jpeg` frames. All matched; nothing changed.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import IMAGE_SUFFIXES, one_of, with_dropped
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError

EXPRESSION_FOLDERS = {"anger": "anger", "angry": "anger", "disgust": "disgust", "disgusted": "disgust",
                      "fear": "fear", "afraid": "fear", "happiness": "happiness", "happy": "happiness",
                      "sadness": "sadness", "sad": "sadness", "surprise": "surprise", "surprised": "surprise"}
LIGHTS = ("VL", "NI")
ILLUMINATIONS = ("Strong", "Weak", "Dark")
VARIANTS = ("cropped", "original")
SUBJECT = re.compile(r"P\d+", re.IGNORECASE)
SEARCH_DEPTH = 3  # parent/Oulu_CASIA_NIR_VIS/OriginalImg/VL


def read_oulucasia(root, light: str = "VL", illumination: str = "Strong", variant: str | None = None,
                   peak_frames: int = 3, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """Oulu-CASIA peak frames: labels 'expression' (internal order) and 'group' (the subject); split train / test."""
    root = Path(root)
    light = one_of(light, LIGHTS, "oulucasia", "light")
    illumination = one_of(illumination, ILLUMINATIONS, "oulucasia", "illumination")
    if variant is not None:
        variant = one_of(variant, VARIANTS, "oulucasia", "variant")
    if int(peak_frames) < 1:  # frames[-0:] would silently take every frame
        raise FacesslError(f"oulucasia peak_frames must be >= 1, got {peak_frames}")
    sequences_root = _sequences_root(root, light, illumination, variant)
    images, expression, subjects = [], [], []
    dropped = {"sequence without frames": 0}
    for subject, sequence, label in _sequences(sequences_root):
        frames = _frames(sequence)
        if not frames:
            dropped["sequence without frames"] += 1
            continue
        for frame in frames[-peak_frames:]:
            images.append(str(frame))
            expression.append(EXPRESSIONS.index(label))
            subjects.append(subject)
    if not images:
        raise DataFormatError(sequences_root, "no Oulu-CASIA frames found (expected P001/Anger/000.jpeg ...)")
    expression, subjects = np.array(expression, dtype=np.int64), np.array(subjects)
    split = np.asarray(grouped_stratified_split(expression, subjects, test_fraction, seed))
    meta = {"split_from": f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by subject",
            "frames": f"last {peak_frames} of each sequence"}
    result = ImageSet(images, {"expression": expression, "group": subjects}, split, str(sequences_root), meta=meta)
    return with_dropped(result, {k: v for k, v in dropped.items() if v})


def _sequences_root(root: Path, light: str, illumination: str, variant: str | None) -> Path:
    """The illumination folder holding P001/..., found from any of the roots the module doc names."""
    if not root.is_dir():
        raise DataFormatError(root, "Oulu-CASIA not found: expected OriginalImg/VL/Strong/P001/Anger/000.jpeg here")
    if _subject_folders(root):
        return root  # pointed at one illumination already
    camera = _camera_folder(root, light, illumination, variant)
    folder = _child(camera, illumination)
    if folder is None:
        raise DataFormatError(camera, f"no {illumination}/ folder here (expected {', '.join(ILLUMINATIONS)})")
    return folder


def _camera_folder(root: Path, light: str, illumination: str, variant: str | None) -> Path:
    """The `VL/` (original frames) or `VL_Acropped/` (face crops) folder: the root or one below it; the crops
    when both exist and no variant is asked for."""
    names = {"original": light.lower(), "cropped": f"{light}_acropped".lower()}
    found = {kind: root if root.name.lower() == name else _find_folder(root, name) for kind, name in names.items()}
    kinds = [variant] if variant else [k for k in ("cropped", "original") if found[k] is not None]
    if not kinds or found[kinds[0]] is None:
        raise DataFormatError(root, _not_found(light, illumination, variant))
    return found[kinds[0]]


def _not_found(light: str, illumination: str, variant: str | None) -> str:
    places = {"original": f"OriginalImg/{light}", "cropped": f"PreProcessImg/{light}_Acropped"}
    wanted = " or ".join(f"{places[k]}/{illumination}/P001/Anger/000.jpeg" for k in ([variant] if variant else places))
    return f"Oulu-CASIA {variant + ' ' if variant else ''}{light} frames not found: expected {wanted} below here"


def _find_folder(root: Path, name: str) -> Path | None:
    """The first folder named `name` (any case) at most SEARCH_DEPTH levels below root, breadth first."""
    level = [root]
    for _ in range(SEARCH_DEPTH):
        below = [d for folder in level for d in _listed_folders(folder) if not SUBJECT.fullmatch(d.name)]
        match = next((d for d in below if d.name.lower() == name), None)
        if match is not None:
            return match
        level = below
    return None


def _listed_folders(folder: Path) -> list[Path]:
    """Sub-folders, without hidden ones and macOS's __MACOSX/."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "__MACOSX")


def _child(folder: Path, name: str) -> Path | None:
    return next((d for d in _listed_folders(folder) if d.name.lower() == name.lower()), None)


def _subject_folders(folder: Path) -> list[Path]:
    return [d for d in _listed_folders(folder) if SUBJECT.fullmatch(d.name)]


def _sequences(sequences_root: Path):
    """(subject, sequence folder, expression name) of every P001/<Expression>/ folder."""
    subjects = _subject_folders(sequences_root)
    if not subjects:
        raise DataFormatError(sequences_root, "no subject folders P001 ... found here")
    for subject_folder in subjects:
        for sequence in _listed_folders(subject_folder):
            label = EXPRESSION_FOLDERS.get(sequence.name.lower())
            if label is None:
                raise DataFormatError(sequence, "unknown expression folder (expected Anger, Disgust, Fear, "
                                                "Happiness, Sadness, Surprise)")
            yield subject_folder.name.upper(), sequence, label


def _frames(sequence: Path) -> list[Path]:
    """The image files of a sequence in frame order (000.jpeg, 001.jpeg ...; numbers compared as numbers)."""
    frames = [p for p in sequence.iterdir()
              if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    return sorted(frames, key=lambda p: (0, int(p.stem), p.name) if p.stem.isdigit() else (1, 0, p.name))
