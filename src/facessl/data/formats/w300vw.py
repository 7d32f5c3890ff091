"""300VW, 300 Videos in the Wild (Shen et al., ICCVW 2015), as distributed:

    300VW_Dataset_2015_12_14/001/vid.avi            one folder per video (114 videos, 3-digit numbers)
    300VW_Dataset_2015_12_14/001/annot/000001.pts   68 points per frame, the 300-W .pts format (1-based pixels),
                                                    frame k = the k-th decoded frame of vid.avi (1-based)
The root is the folder holding 001/ ... or the one above it. Frames extracted beside the video, as common loaders
write them, are read instead of decoding it: `001/extraction/000001.png` (ffmpeg's `%06d.png`, Facebook's
supervision-by-registration scripts), `001/imgs/`, `001/images/`, `001/frames/` (frame k = the file numbered k; a
folder holding a file numbered 0 is read as 0-based).

Split: the challenge's three test categories by video number (CATEGORY_VIDEOS; 31, 19 and 14 videos: 1 well lit,
2 unconstrained lighting, 3 completely unconstrained), the other 50 videos train. `category` chooses the test
categories kept (default all three; e.g. "3"); the test videos of the others are left out and counted.

Faces: every `every`-th annotated frame (frames 1, 1+every, ...: consecutive frames are near copies, and the
whole set holds ~218k frames) is decoded once, cropped to the square around its 68 points enlarged by a quarter
(as ckplus; black where it leaves the frame) and resized to `crop_size` pixels; the crops are held in memory as
one uint8 array (about 430 MB for the whole set at every=25 and 128 px), the landmarks moved into the crop's
pixels (0-based pixel centres). Labels: 'landmarks' (N,68,2), 'subject' (the video, '001'), 'category' ('train',
'1', '2', '3'), 'frame' (1-based). Task `landmarks`; NME by the outer eye corners (36, 45), as for 300-W.
A video OpenCV cannot decode (or a folder with neither video nor frames) is skipped and counted
(meta['unreadable_videos'] names them); annotated frames past a video's last decoded frame are counted too.

Evidence (read, not copied): Facebook's supervision-by-registration 300VW scripts as found by the index
(GEN_300VW.py: 114 video folders, each `vid.avi` extracted to `extraction/`), an OpenMMLab converter extracting to
`imgs/`. All matched. Added: `300VW_Dataset_2015_12_14/` nested twice (the zip unpacked into a folder of its own
name), not found before (tests: tests/test_formats_layout_audit4.py).
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet, load_image
from facessl.data.formats.imagefiles import unnested, whole_number, with_dropped
from facessl.data.formats.w300 import parse_pts
from facessl.data.image_decode import IMAGE_SUFFIXES, decode_errors
from facessl.errors import DataFormatError, FacesslError

CATEGORY_VIDEOS = {
    "1": ("114", "124", "125", "126", "150", "158", "401", "402", "505", "506", "507", "508", "509", "510", "511",
          "514", "515", "518", "519", "520", "521", "522", "524", "525", "537", "538", "540", "541", "546", "547",
          "548"),
    "2": ("203", "208", "211", "212", "213", "214", "218", "224", "403", "404", "405", "406", "407", "408", "409",
          "412", "550", "551", "553"),
    "3": ("410", "411", "516", "517", "526", "528", "529", "530", "531", "533", "557", "558", "559", "562"),
}
CATEGORY_OF = {video: category for category, videos in CATEGORY_VIDEOS.items() for video in videos}
DATASET_FOLDER = "300VW_Dataset_2015_12_14"
FRAME_FOLDERS = ("extraction", "imgs", "images", "frames")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov")
FACE_SCALE = 1.25  # the 68 points span brows to chin: a quarter more keeps the forehead and jaw
N_POINTS = 68
SHOWN_UNREADABLE = 10
NOT_DECODED = "annotated frame not decoded (past the video's end, or no frame file)"


def read_300vw(root, every: int = 25, crop_size: int = 128, category=tuple(CATEGORY_VIDEOS)) -> ImageSet:
    """300VW face crops: labels 'landmarks' (N,68,2) in crop pixels, 'subject', 'category', 'frame';
    split train (the training videos) / test (the chosen test categories)."""
    root = Path(root)
    every, crop_size = whole_number(every, "300vw", "every"), whole_number(crop_size, "300vw", "crop_size", 8)
    categories = _categories(category)
    folder = _dataset_folder(root)
    dropped, unreadable = Counter(), []
    plans = []
    for video in _video_folders(folder):
        kind = CATEGORY_OF.get(video.name, "train")
        frames = _annotated_frames(video / "annot", every)
        if kind != "train" and kind not in categories:
            dropped["test category left out (category option)"] += len(frames)
        elif frames:
            plans.append((video, kind, frames))
    images = np.zeros((sum(len(f) for _, _, f in plans), crop_size, crop_size, 3), dtype=np.uint8)
    rows = []
    for video, kind, frames in plans:
        marks = {number: _read_points(pts) for number, pts in frames}
        crops = _video_crops(video, marks, crop_size, dropped, unreadable)
        for number, crop, points in crops:
            images[len(rows)] = crop
            rows.append((points, video.name, kind, number))
    if not rows:
        raise DataFormatError(folder, _nothing_read(plans, unreadable))
    return _imageset(images[:len(rows)], rows, folder, every, crop_size, categories, dropped, unreadable)


def _categories(value) -> set[str]:
    """The test categories asked for: 3, "1,2" or [1, 3]."""
    items = str(value).split(",") if isinstance(value, (str, int)) else list(value)
    codes = {str(item).strip() for item in items if str(item).strip()}
    if not codes or codes - set(CATEGORY_VIDEOS):
        raise FacesslError(f"300vw category {value!r}: expected some of {', '.join(CATEGORY_VIDEOS)}")
    return codes


def _is_video_folder(path: Path) -> bool:
    return path.is_dir() and path.name.isdigit() and (path / "annot").is_dir()


def _dataset_folder(root: Path) -> Path:
    """The folder holding 001/annot/ ...: the root or 300VW_Dataset_2015_12_14/ in it (also nested twice, as the
    zip unpacks into a folder of its own name)."""
    for candidate in dict.fromkeys((root, unnested(root), unnested(root / DATASET_FOLDER))):
        if candidate.is_dir() and any(_is_video_folder(p) for p in candidate.iterdir()):
            return candidate
    raise DataFormatError(root, f"300VW not found: expected {DATASET_FOLDER}/001/vid.avi and 001/annot/000001.pts here")


def _video_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _is_video_folder(p))


def _annotated_frames(annot: Path, every: int) -> list[tuple[int, Path]]:
    """(1-based frame number, .pts file) of every `every`-th frame: numbers 1, 1+every, ..."""
    numbered = sorted((int(p.stem), p) for p in annot.iterdir() if p.suffix.lower() == ".pts" and p.stem.isdigit())
    return [(number, path) for number, path in numbered if (number - 1) % every == 0]


def _read_points(pts: Path) -> np.ndarray:
    points = parse_pts(pts)
    if len(points) != N_POINTS:
        raise DataFormatError(pts, f"expected {N_POINTS} points, got {len(points)}", 2)
    return points


def _video_crops(video: Path, marks: dict, crop_size: int, dropped: Counter, unreadable: list):
    """(frame number, crop, landmarks in the crop) of a video's annotated frames that decode; the others counted."""
    frames = _frame_files(video)
    source = frames if frames is not None else _video_file(video)
    if source is None:
        dropped["video folder without vid.avi or frames"] += len(marks)
        unreadable.append(f"{video}: no vid.avi or frame folder")
        return
    decoded = _files_decoded(frames, marks) if frames is not None else _video_decoded(source, marks)
    done = 0
    for number, frame in decoded:
        done += 1
        crop, points = face_crop(frame, marks[number], crop_size)
        yield number, crop, points
    if done == 0:
        dropped["undecodable video"] += len(marks)
        unreadable.append(str(source if frames is None else video))
    elif done < len(marks):
        dropped[NOT_DECODED] += len(marks) - done


def _video_file(video: Path):
    if (video / "vid.avi").is_file():
        return video / "vid.avi"
    return next((p for p in sorted(video.iterdir()) if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES), None)


def _frame_files(video: Path):
    """{1-based frame number: file} of the first frame folder beside the video holding numbered images, or None."""
    for name in FRAME_FOLDERS:
        folder = video / name
        if not folder.is_dir():
            continue
        numbered = {}
        for path in folder.iterdir():
            digits = re.findall(r"\d+", path.stem)
            if path.suffix.lower() in IMAGE_SUFFIXES and digits and not path.name.startswith("."):
                numbered[int(digits[-1])] = path
        if numbered:
            offset = 1 if 0 in numbered else 0  # 0-based file names
            return {k + offset: v for k, v in numbered.items()}
    return None


def _files_decoded(frames: dict, marks: dict):
    for number in sorted(marks):
        if number in frames:
            try:
                yield number, load_image(frames[number])
            except decode_errors():
                continue


def _video_decoded(path: Path, marks: dict):
    """RGB frames of the wanted 1-based numbers, decoding the video once in order (skipped frames only grabbed)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        number, last = 0, max(marks)
        while capture.isOpened() and number < last:
            number += 1
            if number not in marks:
                if not capture.grab():
                    return
                continue
            ok, frame = capture.read()
            if not ok:
                return
            yield number, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def face_square(points: np.ndarray) -> tuple[int, int, int]:
    """(left, top, side) of the square around the points' box, its longer side grown by FACE_SCALE."""
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    side = max(int(round(FACE_SCALE * max(x1 - x0, y1 - y0))), 1)
    return int(round((x0 + x1) / 2 - side / 2)), int(round((y0 + y1) / 2 - side / 2)), side


def face_crop(frame: np.ndarray, points: np.ndarray, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The face square of a frame resized to crop_size (black outside the frame) and the points in its pixels."""
    from PIL import Image

    left, top, side = face_square(points)
    crop = Image.fromarray(frame).crop((left, top, left + side, top + side))  # black outside the frame
    crop = crop.resize((crop_size, crop_size), Image.BILINEAR)
    scale = crop_size / side
    moved = (points - [left, top] + 0.5) * scale - 0.5  # pixel centres: the resize maps pixel edges onto edges
    return np.asarray(crop, dtype=np.uint8), moved.astype(np.float32)


def _nothing_read(plans, unreadable: list[str]) -> str:
    if unreadable:
        return f"no 300VW frames read: {len(unreadable)} video(s) could not be decoded (e.g. {unreadable[0]})"
    if not plans:
        return "no annotated 300VW frames found (annot/000001.pts ...) in the videos and categories asked for"
    return "no 300VW frames read"


def _imageset(images, rows, folder: Path, every, crop_size, categories, dropped, unreadable) -> ImageSet:
    kinds = np.array([kind for _, _, kind, _ in rows])
    labels = {"landmarks": np.stack([points for points, _, _, _ in rows]),
              "subject": np.array([video for _, video, _, _ in rows]), "category": kinds,
              "frame": np.array([number for _, _, _, number in rows], dtype=np.int64)}
    tested = ", ".join(sorted(categories))
    meta = {"split_from": f"300VW test categories {tested} by video number; the other videos train",
            "every": every, "crop": f"square around the 68 points grown by {FACE_SCALE}, resized to {crop_size} px"}
    if unreadable:
        meta["unreadable_videos"] = unreadable[:SHOWN_UNREADABLE]
    split = np.where(kinds == "train", "train", "test")
    return with_dropped(ImageSet(images, labels, split, str(folder), meta=meta), dict(dropped))
