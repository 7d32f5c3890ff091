"""UNBC-McMaster Shoulder Pain Expression Archive (Lucey et al., FG 2011): per-frame AU codes and PSPI.

25 subjects with shoulder pain, 200 sequences, 48,398 FACS-coded frames. As distributed:

    Images/042-ll042/ll042t1aaaff/ll042t1aaaff001.png               frames (<sequence><3-digit number>)
    Frame_Labels/FACS/042-ll042/ll042t1aaaff/ll042t1aaaff001_facs.txt   the frame's AU codes
    Frame_Labels/PSPI/042-ll042/ll042t1aaaff/ll042t1aaaff001_facs.txt   its PSPI pain score (one number)
    AAM_landmarks/.../ll042t1aaaff001_aam.txt, Sequence_Labels/ (VAS, OPR, AFF, SEN per sequence)   not read

A FACS file holds one line per AU coded in the frame, numbers written by MATLAB (`4.0000000e+00
2.0000000e+00 ...`): the AU number, its intensity (0..5; AU43, eyes closed, is 0/1), then two more codes
(left as they are); an empty file is a frame with no AU. An AU without a line has intensity 0. An intensity
outside 0..5 (none expected) marks the AU not coded: frames with a chosen AU not coded are dropped and counted
(`dropped['not_coded']`). PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 (0..16), read from the PSPI files
(computed from the FACS codes when the archive has no Frame_Labels/PSPI; meta['pspi'] says which); a coded
frame without a PSPI file is dropped and counted (`dropped['no_pspi']`), a coded frame whose image is missing
skipped and counted (`dropped['missing_image']`).

Labels: the usual protocols (OpenFace's UNBC experiments, CSN): `labels='intensity'` (default) gives 'aus' the
intensities of AUs 4, 6, 7, 9, 10, 12, 20, 25, 26 (the AU task: present when >= --au-positive, 2);
`labels='occurrence'` gives 0/1 occurrences of those and AU43 (present: intensity >= 2, AU43 >= 1;
meta au_labels='occurrence'). `aus` picks others (AU15, AU27, AU43, AU50 also appear in the files; under
'intensity' AU43's 0/1 never reaches the intensity rule, so read it with 'occurrence'). 'subject' is the
subject folder (`042-ll042`): task au folds by subject. `every=k` keeps every k-th coded frame of each
sequence; `images` names the frame folder under the root (default `Images`, else `images`; e.g. `aligned`).

Checked against loaders that read these files: OpenFace's AU_training `extract_UNBC_labels.m` and
`find_UNBC.m` (AiCure/open_dbm pkg/OpenFace/model_training/AU_training/data extraction/: the 25 subject
folders, `Frame_Labels/FACS/<subject>/<sequence>/*.txt` read as rows of AU, intensity and two more numbers,
AUs 4, 6, 7, 9, 10, 12, 20, 25, 26, 43), ShuangquanFeng/CSN (`data/AU_datasets_preparation.py`,
`config/datasets.py`, `config/params.py`: `Images/<subject>/<sequence>/`, `<sequence>{frame:03d}_facs.txt`,
intensity AUs without 43, detection AUs with 43 at >= 1 and the others at >= 2), pblomsma/facial-behavior
`facial_behavior_analysis.R` (empty FACS files, the AUs occurring: 4 ... 27, 43, 50), cosanlab/py-feat's
training loader (`load_pain_labels`: empty file = no AU; rows `AU intensity side1 side2` in scientific
notation), and PSPI readers (`Frame_Labels/PSPI/<subject>/<sequence>/<frame>_facs.txt`, one float).

Evidence (read, not copied): the loaders named above; no other layout was found (a loader found by the index
reads its own HDF5 under `datasets/UNBC-McMaster`, not the release). Nothing changed. Unconfirmed: a wrapper
folder above `Frame_Labels/` (only a folder nested in its own name is read).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import (au_numbers, every_kth, one_of, parse_number, read_lines, unnested,
                                             with_dropped)
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import DataFormatError

INTENSITY_AUS = (4, 6, 7, 9, 10, 12, 20, 25, 26)  # the 0..5 intensities of the usual protocol
OCCURRENCE_AUS = INTENSITY_AUS + (43,)
EYES_CLOSED = 43  # coded 0/1: present at 1
OCCURRENCE_AT = 2  # an intensity >= 2 is an occurrence (the DISFA / CSN convention)
LABEL_KINDS = ("intensity", "occurrence")
IMAGE_FOLDERS = ("Images", "images")
SUFFIX = "_facs.txt"
ROW_FORM = "'AU intensity' (then up to two more numbers)"


def read_facs(path: Path) -> dict[int, float]:
    """{AU: intensity} of one FACS file ({} for an empty file: no AU in this frame)."""
    codes: dict[int, float] = {}
    for number, line in enumerate(read_lines(path, "UNBC FACS file"), start=1):
        fields = line.split()
        if not fields:
            continue
        if not 2 <= len(fields) <= 4:
            raise DataFormatError(path, f"expected {ROW_FORM}, got {line.strip()!r}", number)
        au = parse_number(fields[0], path, number, "an AU number", float)
        if au != int(au) or au < 0:
            raise DataFormatError(path, f"expected a whole AU number, got {fields[0]!r}", number)
        value = parse_number(fields[1], path, number, f"an AU{int(au)} intensity 0..5", float)
        for extra in fields[2:]:
            parse_number(extra, path, number, "a number", float)
        codes[int(au)] = max(value, codes.get(int(au), value))
    return codes


def read_pspi(path: Path) -> float:
    fields = [f for line in read_lines(path, "UNBC PSPI file") for f in line.split()]
    if len(fields) != 1:
        raise DataFormatError(path, f"expected one PSPI score, got {len(fields)} values")
    value = parse_number(fields[0], path, 1, "a PSPI score 0..16", float)
    if not 0 <= value <= 16:
        raise DataFormatError(path, f"expected a PSPI score 0..16, got {value:g}", 1)
    return value


def pspi_from(codes: dict[int, float]) -> float:
    """Prkachin & Solomon: AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43."""
    get = lambda au: codes.get(au, 0.0)
    return get(4) + max(get(6), get(7)) + max(get(9), get(10)) + get(EYES_CLOSED)


def au_values(codes: dict[int, float], aus: tuple[int, ...], kind: str) -> list[float] | None:
    """The chosen AUs' intensities (or 0/1 occurrences) of one frame; None when one of them is not coded."""
    values = [codes.get(au, 0.0) for au in aus]
    if any(not 0 <= v <= 5 for v in values):
        return None
    if kind == "occurrence":
        return [float(v >= (1 if au == EYES_CLOSED else OCCURRENCE_AT)) for au, v in zip(aus, values)]
    return values


def frame_number(stem: str, sequence: str) -> int:
    """ll042t1aaaff001 in sequence ll042t1aaaff -> 1."""
    rest = stem[len(sequence):] if stem.startswith(sequence) else stem
    digits = re.findall(r"\d+", rest)
    return int(digits[-1]) if digits else -1


def coded_frames(sequence_dir: Path) -> list[tuple[int, str, Path]]:
    """[(frame number, stem, FACS file)] of a sequence folder, in frame order."""
    out = []
    for path in sequence_dir.iterdir():
        if path.name.lower().endswith(SUFFIX) and path.is_file():
            stem = path.name[:-len(SUFFIX)]
            out.append((frame_number(stem, sequence_dir.name), stem, path))
    return sorted(out)


def image_files(folder: Path) -> dict[str, str]:
    """{stem: path} of a sequence's frame folder ({} when there is none)."""
    if not folder.is_dir():
        return {}
    return {p.stem: str(p) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}


def image_folder(root: Path, images: str | None) -> Path:
    if images is not None:
        return root / images
    return next((root / name for name in IMAGE_FOLDERS if (root / name).is_dir()), root / IMAGE_FOLDERS[0])


def folders(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.is_dir())


class Frames:
    """The kept frames of one read and the per-reason counts of those skipped."""

    def __init__(self, aus: tuple[int, ...], kind: str, pspi_dir: Path | None):
        self.aus, self.kind, self.pspi_dir = aus, kind, pspi_dir
        self.dropped = {"not_coded": 0, "no_pspi": 0, "missing_image": 0}
        self.rows: dict[str, list] = {k: [] for k in ("images", "aus", "pspi", "subject", "sequence", "frame")}

    def labelled(self, subject: str, sequence: str, frames) -> list[tuple[int, str, list[float], float]]:
        """[(frame, stem, AU values, PSPI)] of the frames whose chosen AUs and PSPI are known."""
        out = []
        for frame, stem, path in frames:
            codes = read_facs(path)
            values = au_values(codes, self.aus, self.kind)
            if values is None:
                self.dropped["not_coded"] += 1
                continue
            pspi = self.pspi(subject, sequence, stem, codes)
            if pspi is None:
                self.dropped["no_pspi"] += 1
                continue
            out.append((frame, stem, values, pspi))
        return out

    def pspi(self, subject: str, sequence: str, stem: str, codes: dict[int, float]) -> float | None:
        if self.pspi_dir is None:
            return pspi_from(codes)
        path = self.pspi_dir / subject / sequence / f"{stem}{SUFFIX}"
        return read_pspi(path) if path.is_file() else None

    def add(self, image: str, subject: str, sequence: str, frame: int, values: list[float], pspi: float) -> None:
        for key, value in (("images", image), ("aus", values), ("pspi", pspi), ("subject", subject),
                           ("sequence", sequence), ("frame", frame)):
            self.rows[key].append(value)


def read_unbc(root, labels: str = "intensity", aus=None, every: int = 1, images: str | None = None) -> ImageSet:
    """labels: 'aus' (N,K) float in meta['au_names'] order: intensities 0..5 (labels='intensity', default AUs
    4, 6, 7, 9, 10, 12, 20, 25, 26) or 0/1 occurrences (labels='occurrence', default those and AU43);
    'pspi' (N,) float 0..16; 'subject' (N,) e.g. '042-ll042'; 'sequence' (N,) e.g. 'll042t1aaaff'; 'frame' (N,)."""
    root, every = unnested(Path(root)), every_kth(every, "unbc")
    kind = one_of(labels, LABEL_KINDS, "unbc", "labels")
    aus = au_numbers(aus, "unbc", "4,6,7") if aus is not None else (INTENSITY_AUS if kind == "intensity" else OCCURRENCE_AUS)
    if not root.is_dir():
        raise DataFormatError(root, "UNBC-McMaster folder not found")
    facs_dir, pspi_dir = root / "Frame_Labels" / "FACS", root / "Frame_Labels" / "PSPI"
    if not facs_dir.is_dir():
        raise DataFormatError(facs_dir, "UNBC FACS labels not found (expected Frame_Labels/FACS/042-ll042/"
                                        "ll042t1aaaff/ll042t1aaaff001_facs.txt ...)")
    image_dir = image_folder(root, images)
    frames = Frames(aus, kind, pspi_dir if pspi_dir.is_dir() else None)
    for subject_dir in folders(facs_dir):
        for sequence_dir in folders(subject_dir):
            subject, sequence = subject_dir.name, sequence_dir.name
            files = image_files(image_dir / subject / sequence)
            for frame, stem, values, pspi in frames.labelled(subject, sequence, coded_frames(sequence_dir))[::every]:
                image = files.get(stem)
                if image is None:  # coded but not on disk: skipped and counted
                    frames.dropped["missing_image"] += 1
                    continue
                frames.add(image, subject, sequence, frame, values, pspi)
    rows = frames.rows
    if not rows["images"]:
        raise DataFormatError(image_dir, f"no coded UNBC frame with an image (expected {image_dir.name}/042-ll042/"
                                         f"ll042t1aaaff/ll042t1aaaff001.png ...; skipped: {frames.dropped})")
    out = {"aus": np.array(rows["aus"], dtype=np.float32).reshape(len(rows["aus"]), len(aus)),
           "pspi": np.array(rows["pspi"], dtype=np.float32), "subject": np.array(rows["subject"], dtype=str),
           "sequence": np.array(rows["sequence"], dtype=str), "frame": np.array(rows["frame"], dtype=np.int64)}
    meta = {"au_names": [f"AU{au}" for au in aus], "au_labels": kind,
            "pspi": "Frame_Labels/PSPI" if frames.pspi_dir is not None else "computed from the FACS codes"}
    return with_dropped(ImageSet(rows["images"], out, None, str(root), meta=meta), frames.dropped)
