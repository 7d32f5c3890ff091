"""DISFA+ (Extended DISFA, Mavadati et al. 2016): AU intensities of posed and spontaneous-like trials.

9 subjects (SN001, SN003, SN004, SN007, SN009, SN010, SN013, SN025, SN027, all also in DISFA) each recorded
in ~65 trials: posed AUs and AU combinations (`A1_AU1_TrailNo_1`, `A9_AU4_5x_TrailNo_1`, ...; "Trail" is
the release's spelling) and expressions from descriptions (`Y_HappyDescribed_TrailNo_1`, ...). As distributed:

    Images/SN001/A1_AU1_TrailNo_1/000.jpg          frames 000.jpg, 001.jpg, ... (and a TimeStamp.txt)
    Labels/SN001/A1_AU1_TrailNo_1/AU1.txt          one file per AU: 2 header lines, then `000.jpg     0`
                                                   rows (frame file name, intensity 0..5)
    FaceLandmarks/SN001/A1_AU1_TrailNo_1_FaceCropped.mat   face crops + 49 landmarks of the crops (not read)

12 AUs: 1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26, intensities 0..5. Per-subject archives unpacked into a
folder of their own name (`Labels/SN001/SN001/<trial>/`, `Images/SN001/SN001/<trial>/`) are read too, and a
root folder nested in itself (`DISFA+/DISFA+/`). The header lines are skipped: every line before the first
row that starts with a frame file name (`000.jpg`); after it, every line must be such a row. A value outside
0..5 (none expected) marks the AU not coded in that frame. Frames lacking a value of a chosen AU (its file,
or its row, is missing, or not coded) are dropped and counted (`dropped['unlabelled']`); labelled frames whose
image is missing are skipped and counted (`dropped['missing_image']`).

Options: `aus` (AU numbers, default the 12), `every=k` (keep every k-th labelled frame of each trial; the
frames of a trial are near-identical neighbours), `images` (the frame folder under the root, default
`Images`; e.g. `Aligned` for aligned copies, `Images_preprocessed` as CSN's preprocessing writes).

Checked against loaders that read these files: ShuangquanFeng/FERGI `AU_datasets_preparation.py` and
ShuangquanFeng/CSN `data/AU_datasets_preparation.py` (`Labels/<SN>/<trial>/AU<k>.txt` read with
skiprows=2 and a 5-space delimiter, indexed by image name; `Images/<SN>/<trial>/`; the 9 subjects and 12
AUs in CSN's `config/datasets.py`), cosanlab/py-feat `feat/evaluation/datasets.py` (`load_disfaplus`:
`Labels/<SN>/<trial>/AU<N>.txt` rows `frame_id intensity`, `Images/` and `Aligned/`), loaders reading
`FaceLandmarks/<SN>/<trial>_FaceCropped.mat` (`FaceImg_CropResize`) and the nested `Labels/SN001/SN001/`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import au_numbers, every_kth, parse_number, read_lines, unnested, with_dropped
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import DataFormatError

DISFAPLUS_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
SUBJECT_PATTERN = re.compile(r"SN\d{3}")
AU_FILE = re.compile(r"AU0*(\d+)\.txt", re.IGNORECASE)
ROW_FORM = "'000.jpg intensity'"


def is_frame_name(field: str) -> bool:
    return Path(field).suffix.lower() in IMAGE_SUFFIXES


def read_au_file(path: Path) -> dict[str, tuple[int, float | None]]:
    """{frame file name: (line, intensity, or None when outside 0..5 = not coded)} of one AU file."""
    rows: dict[str, tuple[int, float | None]] = {}
    started = False  # the header lines end at the first frame row
    for number, line in enumerate(read_lines(path, "DISFA+ AU label file"), start=1):
        fields = line.split()
        if not fields or (not started and not is_frame_name(fields[0])):
            continue
        started = True
        if len(fields) != 2 or not is_frame_name(fields[0]):
            raise DataFormatError(path, f"expected {ROW_FORM} (frame file name, intensity 0..5), got {line.strip()!r}",
                                  number)
        if fields[0] in rows:
            raise DataFormatError(path, f"frame {fields[0]} is listed twice (first on line {rows[fields[0]][0]})",
                                  number)
        value = parse_number(fields[1], path, number, "an intensity 0..5", float)
        rows[fields[0]] = (number, value if 0 <= value <= 5 else None)
    if not started:
        raise DataFormatError(path, f"no frame rows ({ROW_FORM}) after the header lines")
    return rows


def au_files(trial: Path) -> dict[int, Path]:
    """{AU number: label file} of a trial folder (AU1.txt ..., any case, AU01.txt too)."""
    out = {}
    for path in trial.iterdir():
        match = AU_FILE.fullmatch(path.name)
        if match and path.is_file():
            out[int(match.group(1))] = path
    return out


def frame_key(name: str):
    digits = re.findall(r"\d+", Path(name).stem)
    return (int(digits[-1]) if digits else -1, name)


def trial_frames(trial: Path, aus: tuple[int, ...]) -> tuple[list[tuple[str, list[float]]], int, set[int]]:
    """([(frame file name, intensities of `aus`)] of the frames every chosen AU labels, in frame order;
    the number of frames dropped because some chosen AU has no value for them; the AUs with a file here)."""
    files = au_files(trial)
    if not files:  # not a trial folder
        return [], 0, set()
    tables = {au: read_au_file(files[au]) for au in aus if au in files}
    if len(tables) < len(aus):  # a chosen AU has no file here: none of the trial's frames is fully labelled
        any_table = next(iter(tables.values()), None) or read_au_file(next(iter(files.values())))
        return [], len(any_table), set(files)
    names = sorted(set().union(*tables.values()), key=frame_key)
    kept = []
    for name in names:
        values = [tables[au][name][1] if name in tables[au] else None for au in aus]
        if None not in values:
            kept.append((name, values))
    return kept, len(names) - len(kept), set(files)


def subjects_of(labels_dir: Path) -> list[str]:
    subjects = sorted(p.name for p in labels_dir.iterdir() if p.is_dir() and SUBJECT_PATTERN.fullmatch(p.name))
    if not subjects:
        raise DataFormatError(labels_dir, "no subject folders named like SN001 (expected Labels/SN001/"
                                          "A1_AU1_TrailNo_1/AU1.txt ...)")
    return subjects


def image_files(folder: Path) -> dict[str, str]:
    """{file name: path} of a trial's frame folder ({} when there is none); a frame stored under another
    image suffix (a converted copy: 000.png for the label's 000.jpg) is found by its stem too."""
    if not folder.is_dir():
        return {}
    out = {}
    for path in folder.iterdir():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            out[path.name] = str(path)
            out.setdefault(path.stem, str(path))
    return out


def read_disfaplus(root, every: int = 1, aus=DISFAPLUS_AUS, images: str = "Images") -> ImageSet:
    """labels: 'aus' (N,K) float intensities 0..5 of `aus` (default the 12, meta['au_names'] order);
    'subject' (N,) e.g. 'SN001'; 'trial' (N,) e.g. 'A1_AU1_TrailNo_1'; 'frame' (N,) the frame file's number
    (000.jpg -> 0). meta: au_names ('AU1', ...), au_labels='intensity'."""
    root, aus, every = unnested(Path(root)), au_numbers(aus, "disfaplus", "1,2,4"), every_kth(every, "disfaplus")
    if not root.is_dir():
        raise DataFormatError(root, "DISFA+ folder not found")
    labels_dir, image_dir = root / "Labels", root / images
    if not labels_dir.is_dir():
        raise DataFormatError(labels_dir, "DISFA+ label folder not found (expected Labels/SN001/A1_AU1_TrailNo_1/"
                                          "AU1.txt ...)")
    dropped = {"unlabelled": 0, "missing_image": 0}
    rows: dict[str, list] = {"images": [], "aus": [], "subject": [], "trial": [], "frame": []}
    seen: set[int] = set()  # the AUs some trial has a file for
    for subject in subjects_of(labels_dir):
        subject_images = unnested(image_dir / subject)
        for trial in sorted(p for p in unnested(labels_dir / subject).iterdir() if p.is_dir()):
            kept, unlabelled, present = trial_frames(trial, aus)
            dropped["unlabelled"] += unlabelled
            seen |= present
            files = image_files(subject_images / trial.name)
            for name, values in kept[::every]:
                image = files.get(name) or files.get(Path(name).stem)
                if image is None:  # labelled but not on disk: skipped and counted
                    dropped["missing_image"] += 1
                    continue
                rows["images"].append(image)
                rows["aus"].append(values)
                rows["subject"].append(subject)
                rows["trial"].append(trial.name)
                rows["frame"].append(frame_key(name)[0])
    never = [au for au in aus if au not in seen]
    if never:
        raise DataFormatError(labels_dir, f"no trial has a label file for AU {', '.join(map(str, never))} "
                                          f"(the files are for AU {', '.join(map(str, sorted(seen))) or 'none'})")
    if not rows["images"]:
        raise DataFormatError(image_dir, f"no labelled DISFA+ frame with an image (expected {images}/SN001/"
                                         f"A1_AU1_TrailNo_1/000.jpg ...; skipped: {dropped})")
    labels = {"aus": np.array(rows["aus"], dtype=np.float32).reshape(len(rows["aus"]), len(aus)),
              "subject": np.array(rows["subject"], dtype=str), "trial": np.array(rows["trial"], dtype=str),
              "frame": np.array(rows["frame"], dtype=np.int64)}
    meta = {"au_names": [f"AU{au}" for au in aus], "au_labels": "intensity"}
    return with_dropped(ImageSet(rows["images"], labels, None, str(root), meta=meta), dropped)
