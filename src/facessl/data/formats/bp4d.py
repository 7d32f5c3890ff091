"""BP4D-Spontaneous action-unit occurrence (Zhang et al., 2014; the AU set of FERA 2015).

Labels (as distributed): `<root>/AUCoding/AU_OCC/F001_T1.csv`, one file per subject and task (41 subjects
F001..F023, M001..M018; tasks T1..T8). A header row whose first cell is the frame column (`0` in the
release) and whose other cells are AU numbers (`1,2,3,...`), then one row per coded frame: the frame
number, then per AU 0 (absent), 1 (present) or 9 (not coded). FERA 2015 copies keep the same CSVs directly
in `AUCoding/`. The intensity codes (`AUCoding/AU_INT/AU06/F001_T1_AU06.csv`, `AU-Intensity-Codes3.0/`)
are not read: the benchmark is occurrence.
Frames: `<root>/Sequences/F001/T1/0001.jpg` (the 2D sequences; zero padding varies between sequences,
`001.jpg`, `0001.jpg`), also under `Sequences(2D+3D)/`, `2D+3D/`, `BP4D-training/` (FERA 2015), or
extracted copies `images/`, `img/` (ME-GraphAU's `img/F001/T1/2440.jpg`), `frames/`, `BP4D_crop/`, and
flat `BP4D_Sequences/F001_T1/`. Label frame k is the file numbered k; a folder holding a file numbered 0
is read as 0-based (label frame k = file k-1), as some copies number the 2D frames from 0.
The usual protocol: 12 AUs (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24), subject-exclusive 3-fold
cross-validation, F1 per AU. Frames with any chosen AU not coded (9 or an empty cell) are dropped and
counted (`dropped['not_coded']`).

Evidence (read, not copied):
- CSV header and frame column: CVI-SZU/ME-GraphAU tool/BP4D_image_label_process.py reads
  `../data/BP4D/AUCoding/AU_OCC/<F001>_<T1>.csv` with pandas `header=0, index_col=0` and `usecols` "0", "1",
  "2", "4", "6", "7", "10", "12", "14", "15", "17", "23", "24": the header's first cell is `0` (the frame
  column) and the others AU numbers; the index values are the frame numbers.
- Frames: the same script writes `F001/T1/<frame>.jpg` with the frame number unpadded, and ME-GraphAU
  tool/README.md gives `data/BP4D/img/F001/T1/2440.jpg`; its 3 subject folds list the 41 subjects, tasks T1-T8.
  A BP4D+ segment script copies `str(frame).zfill(4) + '.jpg'` (4-digit names; find_string hit for
  "AUCoding/AU_OCC"); `Sequences(2D+3D)/` appears in a FACS csv builder (find_string hit, repository not shown).
- FERA 2015: TadasBaltrusaitis/FERA-2015 "data extraction/find_BP4D.m" (`<bp4d>/AUCoding/` and
  `AU Intensity Codes3.0/`; its train/devel subject lists).
- 9 = not coded: the AU_OCC files hold 9 for AUs not coded (a Chinese-commented checker among the find_string hits
  notes that AUs >= 40 are all 9). ME-GraphAU keeps the cells as they are (a 9 stays in its label lists); facessl
  drops such frames for the chosen AUs and counts them, as the BP4D+ probe notes found ("AU value 9 (unknown) is
  dropped - never treated as absent").
Unconfirmed: JAA-Net's own BP4D lists (only a fork, xxy90/JAA-Net, is stored, without them); whether any release
copy zero-pads the CSV's frame numbers (read either way).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import SKIP_MISSING_HINT, au_numbers, every_kth, parse_number, with_dropped
from facessl.data.formats.text import read_csv
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import DataFormatError

BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)  # the 12 AUs of the common protocol
NOT_CODED = 9
SEQUENCE_FILE = re.compile(r"([FM]\d{3})_(T\d+)\.csv")
LABEL_FOLDERS = ("AUCoding/AU_OCC", "AUCoding", "AU_OCC")
FRAME_HEADERS = ("0", "", "frame")  # first header cell: `0` as released, or what re-saved copies write
IMAGE_ROOTS = ("Sequences", "Sequences(2D+3D)", "2D+3D", "BP4D-training", "BP4D_Sequences", "images", "img",
               "frames", "BP4D_crop")


def label_folder(root: Path) -> Path:
    for name in LABEL_FOLDERS:
        folder = root / name
        if folder.is_dir() and any(SEQUENCE_FILE.fullmatch(p.name) for p in folder.iterdir()):
            return folder
    raise DataFormatError(root / LABEL_FOLDERS[0], "BP4D occurrence labels not found (expected "
                          "AUCoding/AU_OCC/F001_T1.csv ..., or the CSVs in AUCoding/)")


def au_columns(header: list[str], path: Path, aus: tuple[int, ...]) -> list[int]:
    """Column index of each wanted AU; the first column must be the frame column."""
    if header[0].strip().lower() not in FRAME_HEADERS:
        raise DataFormatError(path, f"expected the frame column first (header '0,1,2,...' as BP4D writes it), "
                                    f"got {header[0]!r}", 1)
    numbered = {}
    for index, cell in enumerate(header[1:], start=1):
        match = re.fullmatch(r"(?:AU)?0*(\d+)", cell.strip(), re.IGNORECASE)
        if match:
            numbered[int(match.group(1))] = index
    lacking = [au for au in aus if au not in numbered]
    if lacking:
        raise DataFormatError(path, f"no column for AU {', '.join(map(str, lacking))}; the header has AUs "
                                    f"{', '.join(map(str, sorted(numbered))) or 'none'}", 1)
    return [numbered[au] for au in aus]


def read_sequence(path: Path, aus: tuple[int, ...]) -> list[tuple[int, int, list[float] | None]]:
    """[(line, frame, codes 0/1 per wanted AU, or None when any of them is not coded)] in file order."""
    header, rows = read_csv(path, "BP4D AU occurrence file", delimiter=",")
    columns = au_columns(header, path, aus)
    out = []
    for line, fields in rows:
        frame = parse_number(fields[0], path, line, "an integer frame number", int)
        codes = [_code(fields[c], au, path, line) for c, au in zip(columns, aus)]
        out.append((line, frame, None if None in codes else codes))
    return out


def _code(cell: str, au: int, path: Path, line: int) -> float | None:
    if cell == "":
        return None
    value = parse_number(cell, path, line, f"an AU{au} code 0, 1 or 9", float)
    if value == NOT_CODED:
        return None
    if value not in (0, 1):
        raise DataFormatError(path, f"expected an AU{au} code 0, 1 or 9 (not coded), got {cell!r}", line)
    return value


def frame_files(root: Path, subject: str, task: str) -> dict[int, str]:
    """{label frame number: image file} of the sequence's frame folder ({} when there is none)."""
    candidates = [root / name / subject / task for name in IMAGE_ROOTS]
    candidates += [root / name / f"{subject}_{task}" for name in IMAGE_ROOTS]
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        return {}
    numbered = {}
    for path in folder.iterdir():
        digits = re.findall(r"\d+", path.stem)
        if path.suffix.lower() in IMAGE_SUFFIXES and digits:
            numbered[int(digits[-1])] = str(path)
    offset = 1 if 0 in numbered else 0  # 0-based file names
    return {k + offset: v for k, v in numbered.items()}


def read_bp4d(root, skip_missing: bool = False, every: int = 1, aus=BP4D_AUS) -> ImageSet:
    """labels: 'aus' (N,K) 0/1 float occurrences of `aus` (default the 12 of the protocol); 'subject' (N,)
    e.g. 'F001'; 'task' (N,) 'T1'; 'frame' (N,). every=k keeps every k-th coded frame of each sequence.
    meta: au_names ('AU1', ...) and au_labels='occurrence' (the AU task's present rule)."""
    root, aus, every = Path(root), au_numbers(aus, "bp4d", "1,2,4"), every_kth(every, "bp4d")
    if not root.is_dir():
        raise DataFormatError(root, "BP4D folder not found")
    labels_dir = label_folder(root)
    dropped = {"not_coded": 0, "missing_image": 0}
    images, codes, subjects, tasks, frames = [], [], [], [], []
    for path in sorted(labels_dir.iterdir()):
        match = SEQUENCE_FILE.fullmatch(path.name)
        if not match:
            continue
        subject, task = match.groups()
        rows = read_sequence(path, aus)
        coded = [row for row in rows if row[2] is not None]
        dropped["not_coded"] += len(rows) - len(coded)
        files = frame_files(root, subject, task)
        for line, frame, c in coded[::every]:
            image = files.get(frame)
            if image is None:
                if not skip_missing:
                    raise DataFormatError(path, f"frame {frame} has no image (looked for {root}/Sequences/"
                                                f"{subject}/{task}/{frame:04d}.jpg and the other frame folders); "
                                                f"{SKIP_MISSING_HINT}", line)
                dropped["missing_image"] += 1
                continue
            images.append(image)
            codes.append(c)
            subjects.append(subject)
            tasks.append(task)
            frames.append(frame)
    labels = {"aus": np.array(codes, dtype=np.float32).reshape(len(codes), len(aus)),
              "subject": np.array(subjects, dtype=str), "task": np.array(tasks, dtype=str),
              "frame": np.array(frames, dtype=np.int64)}
    meta = {"au_names": [f"AU{au}" for au in aus], "au_labels": "occurrence"}
    return with_dropped(ImageSet(images, labels, None, str(root), meta=meta), dropped)
