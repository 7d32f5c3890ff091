"""YouTube Faces, YTF (Wolf, Hassner & Maoz, CVPR 2011), as distributed (YouTubeFaces.tar.gz + splits.txt):

    YouTubeFaces/frame_images_DB/Aaron_Eckhart/0/0.555.jpg      the frames of video 0 of Aaron_Eckhart
    YouTubeFaces/frame_images_DB/Aaron_Eckhart.labeled_faces.txt  one line per frame, beside the name folders:
                        `Aaron_Eckhart\\0\\0.555.jpg,0,x,y,width,height,0.0,1` (the README: filename,[ignore],x,y,
                        width,height,[ignore],[ignore]; x,y the CENTRE of the face box, in frame pixels)
    YouTubeFaces/aligned_images_DB/Aaron_Eckhart/0/aligned_detect_0.555.jpg   the same frames' faces: the
                        detection box grown 2.2 times, cropped and aligned (face centred)
    YouTubeFaces/descriptors_DB/, headpose_DB/                  per-frame descriptors and head poses (.mat, not read)
    YouTubeFaces/meta_data/meta_and_splits.mat                  video_names {3425x1} ('Aaron_Eckhart/0'),
                        Splits [500x3x10]: (index1, index2, is_same) per pair, 1-based indices into video_names
    splits.txt          (a download of its own) a header `split number, pair number in split, first name, second
                        name, is same:`, then `1, 1, Alan_Ball/2, Alan_Ball/4, 1` per pair (CRLF, BOM, spaces read;
                        a 4-column form without the pair number is read too)

The restricted protocol: 5,000 video pairs (2,500 same, 2,500 different) in 10 splits of 500; fold = split
number - 1; an accuracy is the mean over the 10 folds, each fold's threshold chosen on the other nine.
Read into a PairSet of ITEMS: each video named in a pair is an item, `item` (N,) gives each image row's video,
`pairs` index videos, and a video is compared by the mean of its frames' unit features
(evaluate.verification.item_features). Each video gives up to `frames` frames (default 10; `frames=all` for
every one), evenly spaced over its frame files in numeric frame order, the first and last included.
images.labels: 'identity' (the name), 'video' ('Aaron_Eckhart/0'), 'frame' (the frame number).

Variants (`variant`, --variant): `aligned` (default) reads aligned_images_DB's crops whole (their framing, the
box x 2.2, is close to LFW's 250x250 images); `frames` reads frame_images_DB, each frame the square crop about
its labeled_faces.txt box grown by `box_scale` (default 2.2, the factor of the authors' own aligned crops), a
BoxedImage; a frame with no box (no box file, or not listed in it) is read whole (counted in
images.meta['whole_frames']). A video folder that is missing or holds no frame images: its pairs are skipped
and counted (dropped['pair_with_missing_video'], dropped['missing_video'] the videos).

The path may be the folder holding aligned_images_DB/ (or frame_images_DB/) and splits.txt (also in meta_data/
or in the DB folder), the folder above it holding YouTubeFaces/, or a DB folder itself (`aligned_images_DB/`,
with splits.txt beside it, or any folder of <Name>/<video>/ frames with --pairs FILE). pairs_file (--pairs):
splits.txt anywhere (as given, or looked for in those folders), or meta_and_splits.mat. Without a splits.txt the
.mat in meta_data/ is read (scipy.io.loadmat, no unpickling; a MATLAB v7.3 file is one error asking for
splits.txt). The errata's splits_corrected.txt is read only when given with --pairs (assumed the same columns).

Sources checked: the dataset's README (folder tree, labeled_faces.txt fields and centre convention, 2.2 box
growth, meta_and_splits.mat's fields and sizes), the page cs.tau.ac.il/~wolf/ytfaces (3,425 videos, 1,595
people, 5,000 pairs, errata files), bioidiap/bob.db.youtube (bob/db/youtube/create.py: Splits[i, 0:3, fold] as
1-based indices and the match flag, video names `<Name>/<video>`; query.py: labeled_faces.txt in
frame_images_DB, centre x, y and width, height, frames sorted by the number after the last dot), and loaders that
parse splits.txt (lodemo/CATANA src/external/ytf-evaluation.py: header skipped, comma fields stripped, columns 2,
3, 4 the two videos and the flag, 10 splits of 500 in file order).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import (parse_number, positive_number, read_lines, unnested, whole_number,
                                             with_dropped)
from facessl.data.image_decode import IMAGE_SUFFIXES, BoxedImage
from facessl.errors import DataFormatError, FacesslError

DB_FOLDERS = {"aligned": "aligned_images_DB", "frames": "frame_images_DB"}
RELEASE_FOLDER = "YouTubeFaces"
SPLITS_TXT = "splits.txt"
SPLITS_MAT = "meta_and_splits.mat"
BOX_SUFFIX = ".labeled_faces.txt"
FRAMES = 10
BOX_SCALE = 2.2  # the README: the authors' aligned crops are the detection box grown 2.2 times
SPLITS_FORM = "'split number, pair number in split, first name, second name, is same' (e.g. '1, 1, Alan_Ball/2, Alan_Ball/4, 1')"


def read_ytf(root, pairs_file: str | None = None, variant: str | None = None, frames=FRAMES,
             box_scale: float = BOX_SCALE) -> PairSet:
    """YTF's video pairs as a PairSet of items (videos), up to `frames` evenly spaced frames per video."""
    root = Path(root)
    if not root.exists():
        raise DataFormatError(root, "YouTube Faces not found (no such file or folder)")
    count = _frame_count(frames)
    box_scale = positive_number(box_scale, "ytf", "box_scale", "2.2: the face box grown 2.2 times")
    kind = _variant(variant, root)
    pairs_path = find_splits_file(root, pairs_file)
    rows = read_splits_mat(pairs_path) if pairs_path.suffix.lower() == ".mat" else read_splits_txt(pairs_path)
    if not rows:
        raise DataFormatError(pairs_path, f"no pairs listed; expected lines {SPLITS_FORM}")
    db = find_db_folder(root if root.is_dir() else pairs_path.parent, kind, variant is not None, rows[0][2])
    return _pair_set(rows, db, kind, count, box_scale, pairs_path)


# --- options ----------------------------------------------------------------------------------------------
def _frame_count(frames) -> int | None:
    """`frames`: a whole number >= 1, or 'all' (None: every frame)."""
    if str(frames).strip().lower() == "all":
        return None
    return whole_number(frames, "ytf", "frames", hint="frames per video, or 'all'")


def _variant(variant, root: Path) -> str:
    """'aligned' or 'frames' (the DB folder's name is accepted too); unset: 'frames' when root is frame_images_DB."""
    if variant is None:
        is_frames_db = root.is_dir() and (root.name.lower() == DB_FOLDERS["frames"].lower() or any(root.glob(f"*{BOX_SUFFIX}")))
        return "frames" if is_frames_db else "aligned"
    text = str(variant).strip().lower()
    for kind, folder in DB_FOLDERS.items():
        if text in (kind, folder.lower()):
            return kind
    raise FacesslError(f"ytf variant {variant!r}: expected aligned (aligned_images_DB, the default) or frames (frame_images_DB)")


# --- where things are -------------------------------------------------------------------------------------
def _bases(root: Path) -> list[Path]:
    """root, YouTubeFaces/ inside it (also nested twice), and root's parent (root a DB folder)."""
    folder = root if root.is_dir() else root.parent
    return [folder, unnested(folder / RELEASE_FOLDER), folder.parent]


def _search_folders(root: Path) -> list[Path]:
    folders = []
    for base in _bases(root):
        for sub in ("", "meta_data", *DB_FOLDERS.values()):
            folder = base / sub if sub else base
            if folder not in folders:
                folders.append(folder)
    return folders


def find_splits_file(root: Path, pairs_file: str | None) -> Path:
    """The pairs file: root itself, pairs_file as given (or by name in the usual folders), else splits.txt,
    else meta_data/meta_and_splits.mat."""
    if root.is_file():
        return root
    if pairs_file is not None and Path(pairs_file).is_file():
        return Path(pairs_file)
    folders = _search_folders(root)
    names = [pairs_file] if pairs_file else [SPLITS_TXT, SPLITS_MAT]
    for name in names:
        for folder in folders:
            if (folder / name).is_file():
                return folder / name
    raise DataFormatError(root / names[0], f"YouTube Faces pairs not found here, in {RELEASE_FOLDER}/, meta_data/ or "
                                           f"{root.parent} (looked for {' or '.join(names)}; give --pairs FILE, "
                                           "the splits.txt of the YouTube Faces page)")


def find_db_folder(root: Path, kind: str, asked: bool, probe: str) -> Path:
    """The image folder of the variant: <base>/aligned_images_DB (or frame_images_DB) for a base of _bases, else
    root itself when it holds the first pair's video `probe` (<Name>/<video>) and is not the other DB."""
    for base in _bases(root):
        folder = base / DB_FOLDERS[kind]
        if folder.is_dir():
            return unnested(folder)
    other = DB_FOLDERS["frames" if kind == "aligned" else "aligned"].lower()
    if (root / probe).is_dir() and not (asked and root.name.lower() == other):
        return root
    raise DataFormatError(root, f"no {DB_FOLDERS[kind]}/ found here, in {RELEASE_FOLDER}/ or beside it, and this folder "
                                f"does not hold the videos the pairs name (e.g. {probe}/)")


# --- the pairs --------------------------------------------------------------------------------------------
def _video_name(text: str, path: Path, line) -> str:
    """'Alan_Ball/2' (a backslash read as a slash) checked as <Name>/<video>."""
    parts = [p for p in text.strip().replace("\\", "/").split("/") if p]
    if len(parts) != 2:
        where = "" if line is not None else " (in video_names)"
        raise DataFormatError(path, f"expected a video as '<Name>/<video number>' (e.g. Alan_Ball/2){where}, got {text!r}", line)
    return "/".join(parts)


def read_splits_txt(path: Path) -> list[tuple]:
    """splits.txt -> [(line, fold, video1, video2, is_same)]; the header (a first line that does not start
    with a number) is skipped."""
    rows = []
    lines = [(k, line) for k, line in enumerate(read_lines(path, "YouTube Faces splits file"), start=1) if line.strip()]
    for position, (number, line) in enumerate(lines):
        fields = [f.strip() for f in line.split(",")] if "," in line else line.split()
        if position == 0 and not fields[0].isdigit():
            continue  # split number, pair number in split, first name, second name, is same:
        if not (len(fields) == 5 or (len(fields) == 4 and not fields[1].isdigit())):  # 4: no pair number
            raise DataFormatError(path, f"expected {SPLITS_FORM}, got {line.strip()!r}", number)
        split = parse_number(fields[0], path, number, "a split number 1..10", int)
        if split < 1:
            raise DataFormatError(path, f"expected a split number from 1, got {split}", number)
        if len(fields) == 5:
            parse_number(fields[1], path, number, "a pair number within the split", int)
        same = parse_number(fields[-1], path, number, "'is same' as 1 or 0", float)
        if same not in (0, 1):
            raise DataFormatError(path, f"expected 'is same' as 1 or 0, got {fields[-1]!r}", number)
        videos = [_video_name(f, path, number) for f in fields[-3:-1]]
        rows.append((number, split - 1, videos[0], videos[1], bool(same)))
    return rows


def read_splits_mat(path: Path) -> list[tuple]:
    """meta_and_splits.mat -> [(None, fold, video1, video2, is_same)]: Splits (pairs x 3 x splits) holds 1-based
    indices into video_names and the same flag."""
    splits, names = _load_mat(path)
    rows = []
    for fold in range(splits.shape[2]):
        for first, second, same in splits[:, :, fold]:
            ids = [int(first), int(second)]
            if not all(1 <= i <= len(names) and i == v for i, v in zip(ids, (first, second))):
                raise DataFormatError(path, f"Splits[:, :, {fold}] names video {first:g} / {second:g}; expected whole "
                                            f"numbers 1..{len(names)} (1-based indices into video_names)")
            rows.append((None, fold, names[ids[0] - 1], names[ids[1] - 1], bool(same)))
    return rows


def _load_mat(path: Path) -> tuple[np.ndarray, list[str]]:
    from scipy.io import loadmat

    try:
        data = loadmat(str(path), variable_names=["Splits", "video_names"])
    except NotImplementedError:  # MATLAB v7.3 (HDF5)
        raise DataFormatError(path, "a MATLAB v7.3 file scipy cannot read; give the splits.txt of the YouTube Faces "
                                    "page with --pairs FILE") from None
    except (ValueError, TypeError, OSError) as exc:
        raise DataFormatError(path, f"not a readable .mat file ({exc}); give the splits.txt of the YouTube Faces page "
                                    "with --pairs FILE") from None
    for key in ("Splits", "video_names"):
        if key not in data:
            raise DataFormatError(path, f"no variable {key!r} (expected YTF's meta_and_splits.mat with Splits and video_names)")
    splits = np.asarray(data["Splits"])
    if splits.ndim == 2:
        splits = splits[:, :, None]  # a single split saved as pairs x 3
    if splits.ndim != 3 or splits.shape[1] != 3 or not np.issubdtype(splits.dtype, np.number) or not np.isfinite(splits).all():
        raise DataFormatError(path, f"expected Splits of shape (pairs, 3, splits), numbers (index1, index2, is_same), "
                                    f"got {splits.shape} {splits.dtype}")
    names = [_video_name(_cell_text(v), path, None) for v in np.asarray(data["video_names"], dtype=object).ravel()]
    return splits.astype(np.float64), names


def _cell_text(value) -> str:
    """A MATLAB cell's string as scipy gives it (an array holding one str)."""
    while isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    return str(value)


# --- the videos -------------------------------------------------------------------------------------------
def frame_files(folder: Path) -> list[Path]:
    """A video folder's image files in numeric frame order (the number after the last dot: 2.405.jpg,
    aligned_detect_2.405.jpg); an unreadable or absent folder has none."""
    try:
        with os.scandir(folder) as entries:  # DirEntry.is_file: no stat per frame (videos hold up to 6,070)
            files = [Path(e.path) for e in entries if Path(e.name).suffix.lower() in IMAGE_SUFFIXES and e.is_file()]
    except OSError:
        return []
    return sorted(files, key=_frame_key)


def _frame_key(path: Path) -> tuple:
    digits = re.findall(r"\d+", path.stem.rsplit(".", 1)[-1]) or re.findall(r"\d+", path.stem)
    return (0, int(digits[-1]), path.name) if digits else (1, 0, path.name)


def _frame_number(path: Path) -> int:
    key = _frame_key(path)
    return key[1] if key[0] == 0 else -1


def evenly_spaced(n: int, count: int | None) -> np.ndarray:
    """Indices of up to `count` of n frames spread evenly, the first and last included (all when count is None)."""
    if count is None or n <= count:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, count)).astype(np.int64))


class _FaceBoxes:
    """frame_images_DB/<Name>.labeled_faces.txt read once per name: '<video>/<file>' -> (x0, y0, x1, y1)."""

    def __init__(self, db: Path):
        self.db = db
        self.by_name: dict[str, dict] = {}

    def box(self, name: str, video: str, file_name: str):
        if name not in self.by_name:
            path = self.db / f"{name}{BOX_SUFFIX}"
            self.by_name[name] = read_face_boxes(path) if path.is_file() else {}
        return self.by_name[name].get(f"{video}/{file_name}")


def read_face_boxes(path: Path) -> dict[str, tuple]:
    """labeled_faces.txt: `Name\\video\\video.frame.jpg,0,x,y,w,h,0.0,1` (x, y the box centre) -> boxes by
    '<video>/<file>'; a box without area is left out (that frame is read whole)."""
    boxes = {}
    for number, line in enumerate(read_lines(path, "YouTube Faces face box file"), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 6:
            raise DataFormatError(path, "expected 'Name\\video\\video.frame.jpg,0,x,y,width,height,0.0,1' "
                                        f"(x, y the face centre), got {line.strip()!r}", number)
        cx, cy, w, h = (parse_number(f, path, number, "a number (x, y, width, height)", float) for f in fields[2:6])
        parts = fields[0].replace("\\", "/").split("/")
        if len(parts) < 2:
            raise DataFormatError(path, f"expected the frame as 'Name\\video\\video.frame.jpg', got {fields[0]!r}", number)
        if w > 0 and h > 0:
            boxes["/".join(parts[-2:])] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return boxes


def _pair_set(rows, db: Path, kind: str, count, box_scale: float, pairs_path: Path) -> PairSet:
    """Videos of the kept pairs as items, in order of first use; pairs with a missing or empty video skipped."""
    chosen: dict[str, list[Path]] = {}
    for _, _, *videos, _ in rows:
        for video in videos:
            if video not in chosen:
                files = frame_files(db / video)
                chosen[video] = [files[i] for i in evenly_spaced(len(files), count)]
    missing = sorted(v for v, files in chosen.items() if not files)
    item_of: dict[str, int] = {}
    pairs, same, fold = [], [], []
    for _, f, first, second, is_same in rows:
        if not chosen[first] or not chosen[second]:
            continue
        pairs.append([item_of.setdefault(v, len(item_of)) for v in (first, second)])
        same.append(is_same)
        fold.append(f)
    if not pairs:
        raise DataFormatError(db, f"none of the {len(chosen)} videos the pairs of {pairs_path.name} name has frame images "
                                  f"here (e.g. {missing[0]}/ missing or empty; expected {DB_FOLDERS[kind]}/<Name>/<video>/*.jpg)")
    images = _image_set(item_of, chosen, db, kind, box_scale, count)
    result = PairSet(images, np.array(pairs, np.int64), np.array(same, bool), np.array(fold, np.int64), str(pairs_path),
                     item=np.repeat(np.arange(len(item_of)), [len(chosen[v]) for v in item_of]))
    return with_dropped(result, {"pair_with_missing_video": len(rows) - len(pairs), "missing_video": len(missing)})


def _image_set(item_of: dict, chosen: dict, db: Path, kind: str, box_scale: float, count) -> ImageSet:
    boxes = _FaceBoxes(db) if kind == "frames" else None
    images, identity, video_label, frame = [], [], [], []
    whole = 0
    for video in item_of:  # item order: the rows of item k follow those of item k-1
        name, number = video.split("/")
        for path in chosen[video]:
            box = boxes.box(name, number, path.name) if boxes else None
            whole += boxes is not None and box is None
            images.append(str(path) if box is None else BoxedImage.enlarged(path, box, box_scale))
            identity.append(name)
            video_label.append(video)
            frame.append(_frame_number(path))
    labels = {"identity": np.array(identity), "video": np.array(video_label), "frame": np.array(frame, np.int64)}
    meta = {"variant": kind, "frames_per_video": "all" if count is None else count,
            "box": (f"labeled_faces.txt box x {box_scale:g} (square)" if kind == "frames" else "aligned crop, whole")}
    if kind == "frames":
        meta["whole_frames"] = int(whole)
    return ImageSet(images, labels, None, str(db), meta=meta)
