"""DISFA action-unit intensities.

Labels (as released): `<root>/ActionUnit_Labels/SN001/SN001_au1.txt`, one file per AU, lines
`frame,intensity` with 1-based frame numbers and integer intensities 0..5. Subjects SN001, SN002, ...
Frames: the release ships videos; facessl uses an extracted frame folder per subject,
`<root>/Images/SN001/00001.jpg` (5-digit 1-based frame number = the label's frame). The reader also
accepts a video per subject instead: the left camera's `Videos_LeftCamera/LeftVideoSN001_comp.avi`, else
`Videos/SN001.avi` or `SN001.avi`, else the right camera's `Video_RightCamera/RightVideoSN001_Comp.avi` (the
release's folder and file names; `Videos_RightCamera/`, `Video_LeftCamera/` and any case of the file names are
read too); decoded with OpenCV, frame k = the k-th decoded frame.
Extracted frame folders as common loaders write them are read too: `Images/SN001/`, `Images/LeftVideoSN001/`,
`Images/LeftVideoSN001_comp/`, `Images_LeftCamera/SN001/`, `img/SN001/`, `frames/SN001/`, and otherwise any
folder named `SN001`, `LeftVideoSN001[_comp]` or `RightVideoSN001[_Comp]` (any case) holding images, in the
root or one folder below it (`SN001/`, `images/RightVideoSN001_Comp/`, `Videos_LeftCamera_frames/
LeftVideoSN001_comp/`, OpenFace's `aligned/LeftVideoSN001_comp/`; the left camera's first), with frame files
numbered 1-based (`00001.jpg`, `1.png`, `frame_00001.jpg`, `LeftVideoSN001_comp_00001.jpg`,
`frame_det_00_000001.bmp`: the last number in the name) or 0-based (`0.jpg`: a folder holding frame 0 is read
as 0-based, so label frame k = file k-1).
The root may also be a folder up to two above the one holding ActionUnit_Labels/ (DISFA/ unpacked into a
folder of its own).
Only the AUs of facessl.data.labels.AUS (1, 2, 4, 6, 9, 12, 25, 26) are read or written. The intensities are
kept as labels; the AU task counts an AU present from intensity 2 (EvalOptions.au_positive).

Evidence (read, not copied):
- Label files, their `frame,intensity` lines and the 8 AUs: CVI-SZU/ME-GraphAU tool/DISFA_image_label_process.py
  (reads ActionUnit_Labels/<SN>/<SN>_au<k>.txt, splits each line on ',' into two integers, `au_idx = [1, 2, 4,
  6, 9, 12, 25, 26]`, presence `AUIntensity >= 2`; the 27 subjects in its 3 folds).
- 0-based frame files: the same script names the t-th label line's image `<SN>/<t>.png` from t = 0, and
  ME-GraphAU tool/README.md gives `data/DISFA/img/SN001/0.png`.
- 1-based extraction: mluqmanhakim/personality-recognition ME-GraphAU/convert_video_to_frame.py (ffmpeg
  `%d.png` from Videos_LeftCamera/*.avi into `frames/SN001/`); a cv2 loop writing `%d.jpg` from 1 into
  `./data/disfa/SN0xx/` from `Videos_RightCamera/RightVideoSN0xx_Comp.avi` (find_string hit, repository not shown).
- Video folders and names: TadasBaltrusaitis/FERA-2015 "data extraction/extract_features_DISFA.m" (`Videos_LeftCamera/`
  and `Video_RightCamera/`, every *.avi; OpenFace -simalign output in `aligned_rigid/<video name>/`);
  AiCure/open_dbm pkg/OpenFace/model_training/AU_training/experiments/DISFA/shared_defs.m (the 27 SN numbers);
  loaders opening `Video_RightCamera/RightVideoSN001_Comp.avi` and `Videos_LeftCamera/LeftVideoSN001_comp.avi`
  (find_string hits for "Video_RightCamera").
Unconfirmed: the owners' own page was not available here; whether every copy's right-camera folder is singular;
label files with a header line (none seen; such a file is an error naming the line).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet, load_image
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.data.formats.imagefiles import (BELOW, JPEG_QUALITY, SKIP_MISSING_HINT, find_wrapped, parse_number,
                                             read_lines, save_image, with_dropped)
from facessl.data.labels import AUS
from facessl.errors import DataFormatError

LABEL_FOLDER = "ActionUnit_Labels"
SUBJECT_PATTERN = re.compile(r"SN\d{3}")
# The 27 subject numbers of the real release (SN014, SN015, SN019, ... do not exist); more are numbered on.
REAL_SUBJECTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18, 21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32)


def subject_name(index: int) -> str:
    number = REAL_SUBJECTS[index] if index < len(REAL_SUBJECTS) else REAL_SUBJECTS[-1] + 1 + index - len(REAL_SUBJECTS)
    return f"SN{number:03d}"


class DisfaWriter:
    """One call per subject: its frames and their integer AU intensities."""

    def __init__(self, root, quality: int = JPEG_QUALITY):
        self.root = Path(root)
        self.quality = quality

    def add_subject(self, subject: str, frames: np.ndarray, aus: np.ndarray, first_frame: int = 1) -> list[Path]:
        """frames (T,H,W,3) uint8; aus (T,8) intensities (rounded to integers 0..5 as DISFA stores them)."""
        if not SUBJECT_PATTERN.fullmatch(subject):
            raise ValueError(f"DISFA subjects are named like SN001, got {subject!r}")
        image_dir = self.root / "Images" / subject
        label_dir = self.root / "ActionUnit_Labels" / subject
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for t, frame in enumerate(frames):
            path = image_dir / f"{first_frame + t:05d}.jpg"
            save_image(path, frame, self.quality)
            paths.append(path)
        levels = np.clip(np.rint(np.asarray(aus, dtype=np.float64)), 0, 5).astype(int)
        for k, au in enumerate(AUS):
            lines = [f"{first_frame + t},{levels[t, k]}" for t in range(len(frames))]
            (label_dir / f"{subject}_au{au}.txt").write_text("".join(line + "\n" for line in lines))
        return paths


def _read_au_file(path: Path) -> dict[int, int]:
    out = {}
    for number, line in enumerate(read_lines(path, f"AU label file for AU{path.stem.split('_au')[-1]}"), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 2:
            raise DataFormatError(path, f"expected 'frame,intensity', got {line!r}", number)
        frame = parse_number(fields[0].strip(), path, number, "an integer frame number", int)
        value = parse_number(fields[1].strip(), path, number, "an intensity 0..5", float)
        if not 0 <= value <= 5:
            raise DataFormatError(path, f"expected an intensity 0..5, got {value:g}", number)
        out[frame] = int(value) if value == int(value) else value
    return out


FRAME_FOLDERS = ("Images/{s}", "Images/LeftVideo{s}", "Images/LeftVideo{s}_comp", "Images_LeftCamera/{s}",
                 "img/{s}", "img/LeftVideo{s}", "frames/{s}", "Frames/{s}")
# Folders beside ActionUnit_Labels/ that are never a subject's frames.
NOT_FRAMES = {LABEL_FOLDER.lower(), "landmark_points", "__macosx"}


def _camera_folder(name: str, subject: str) -> int | None:
    """How a folder named `name` ranks as `subject`'s frame folder: 0 (no camera named, or the left one) or 1
    (the right camera), None when it is not one. Names as extraction scripts write them, any case: SN001,
    LeftVideoSN001, LeftVideoSN001_comp, RightVideoSN001_Comp."""
    match = re.fullmatch(rf"(left|right)?(?:video)?{subject.lower()}(?:_comp)?", name.lower())
    if match is None:
        return None
    return 1 if match.group(1) == "right" else 0


def _holds_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())


def frame_folder(root: Path, subject: str) -> Path | None:
    """The subject's folder of extracted frames: one of FRAME_FOLDERS, else any folder named after the subject
    (SN001, LeftVideoSN001_comp, RightVideoSN001_Comp ... any case) that holds images, in the root or one folder
    below it (Images/, img/, frames/, aligned/, Videos_LeftCamera_frames/ ...); the left camera's before the right's."""
    named = next((root / f.format(s=subject) for f in FRAME_FOLDERS if (root / f.format(s=subject)).is_dir()), None)
    if named is not None:
        return named
    parents = [root] + sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower() not in NOT_FRAMES)
    found = []
    for parent in parents:
        for child in sorted(p for p in parent.iterdir() if p.is_dir()):
            rank = _camera_folder(child.name, subject)
            if rank is not None and _holds_images(child):
                found.append((rank, child))
    return min(found, key=lambda item: item[0])[1] if found else None


def frame_files(root: Path, subject: str):
    """{1-based frame number: file} of the subject's frame folder, or None when there is none."""
    folder = frame_folder(root, subject)
    if folder is None:
        return None
    numbered = {}
    for path in folder.iterdir():
        digits = re.findall(r"\d+", path.stem)
        if path.suffix.lower() in IMAGE_SUFFIXES and digits:
            numbered[int(digits[-1])] = path
    offset = 1 if 0 in numbered else 0  # 0-based file names
    return {k + offset: str(v) for k, v in numbered.items()}


# Video folders as the release names them (left `Videos_LeftCamera`, right `Video_RightCamera`) and as loaders
# spell them; the file names compared in any case (the release has `LeftVideoSN001_comp.avi`, `RightVideoSN001_Comp.avi`).
VIDEO_FOLDERS = ("Videos_LeftCamera", "Video_LeftCamera", "Videos", ".", "Video_RightCamera", "Videos_RightCamera")


def _video_path(root: Path, subject: str):
    """The subject's video: the left camera's before a plain SN001.avi before the right camera's."""
    wanted = [f"leftvideo{subject}_comp.avi", f"{subject}.avi", f"rightvideo{subject}_comp.avi"]
    wanted = [name.lower() for name in wanted]
    found = []
    for rank_folder, name in enumerate(VIDEO_FOLDERS):
        folder = root / name
        if folder.is_dir():
            found += [(wanted.index(p.name.lower()), rank_folder, p) for p in folder.iterdir()
                      if p.name.lower() in wanted and p.is_file()]
    return min(found, key=lambda item: item[:2])[2] if found else None


def _decode_video(path: Path) -> list[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        raise DataFormatError(path, "OpenCV could not decode any frame of this video")
    return frames


def read_disfa(root, skip_missing: bool = False) -> ImageSet:
    """labels: 'aus' (N,8) float in AUS order; 'subject' (N,) e.g. 'SN001'; 'frame' (N,) 1-based."""
    root = find_wrapped(Path(root), lambda folder: (folder / LABEL_FOLDER).is_dir()) or Path(root)
    label_root = root / LABEL_FOLDER
    if not label_root.is_dir():
        raise DataFormatError(label_root, f"DISFA label folder not found here or {BELOW} (expected "
                                          f"{LABEL_FOLDER}/SN001/SN001_au1.txt ...)")
    subjects = sorted(p.name for p in label_root.iterdir() if p.is_dir() and SUBJECT_PATTERN.fullmatch(p.name))
    if not subjects:
        raise DataFormatError(label_root, "no subject folders named like SN001")
    dropped = {"missing_image": 0}
    images, aus, subject_col, frame_col, any_video = [], [], [], [], False
    for subject in subjects:
        per_au = [_read_au_file(label_root / subject / f"{subject}_au{au}.txt") for au in AUS]
        frames = sorted(per_au[0])
        for au, table in zip(AUS[1:], per_au[1:]):
            if sorted(table) != frames:
                odd = sorted(set(table) ^ set(frames))[0]
                raise DataFormatError(label_root / subject / f"{subject}_au{au}.txt",
                                      f"frame {odd} is labelled in only one of {subject}_au{AUS[0]}.txt and this file")
        files = frame_files(root, subject)
        video = None if files is not None else _video_path(root, subject)
        decoded = _decode_video(video) if video is not None else None
        any_video |= decoded is not None
        for frame in frames:
            if decoded is not None:
                image = decoded[frame - 1] if 1 <= frame <= len(decoded) else None
            else:
                image = (files or {}).get(frame)
            if image is None:
                if not skip_missing:
                    where = video or root / "Images" / subject / f"{frame:05d}.jpg"
                    raise DataFormatError(where, f"frame {frame} labelled in {subject}_au{AUS[0]}.txt has no image; {SKIP_MISSING_HINT}")
                dropped["missing_image"] += 1
                continue
            images.append(image)
            aus.append([table[frame] for table in per_au])
            subject_col.append(subject)
            frame_col.append(frame)
    if any_video:  # one in-memory array when any subject came from a video
        images = np.stack([load_image(x) if isinstance(x, str) else x for x in images])
    labels = {"aus": np.array(aus, dtype=np.float32), "subject": np.array(subject_col), "frame": np.array(frame_col, dtype=np.int64)}
    return with_dropped(ImageSet(images, labels, None, str(root)), dropped)
