"""MAFW, the Multi-modal Affective database for dynamic FER in the Wild (Liu et al., ACM MM 2022: 10,045 clips;
the single-expression set, 9,172 clips in 11 classes), as distributed and commonly unpacked:

    MAFW/data/clips/00019.mp4 ...                                   the clips (movie / TV / short-video cuts)
    MAFW/data/frames/00019/...                                      frames extracted per clip, where a copy has them
    MAFW/Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5/   `00019.mp4 anger`

Variants read: the split tree `single/no_caption/set_1..5/{train,test}.txt` below any folder (`Train & Test Set/`,
`train_test_set/Train & Test Set/`, MAE-DFER's `split/`; `.csv` files of the same content, and MAE-DFER's
`anno/single/no_caption/set_K/{train,test}.csv` whose lines are `<frames path>/00019 0` with the class index
0-10), `compound/` and `with_caption/` never read; the frames of each clip in the first of
`frames_crop_align_224/`, `frames_crop_align/`, `frames_crop_aligned/` (aligned face crops) or `frames/` (also
`data/frames/frames/`, `data/frames/frames_crop_align_224/`) holding clip folders; each part looked for in the
path given or up to five folders below it. Frame files are ordered by the last number in their name
(`image_00001.jpg`, `1.png`), never by text; other files in a clip folder (`n_frames`) are passed over. A copy
with the videos only (`data/clips/00019.mp4`, or any folder of `NNNNN.mp4` files) is read from its videos
(formats/videoclips.py: the same evenly spaced frames decoded, the largest face aligned as `facessl prepare`
aligns faces, crops cached; option crop=whole takes each frame's centre square instead; cache=DIR, workers=N,
size=128).

Labels: the split file's word, one of the 11 classes in MAFW's order: anger, disgust, fear, happiness, neutral,
sadness, surprise, contempt, anxiety, helplessness, disappointment (the seven basic ones spelt as facessl's
EXPRESSIONS); 'class' indexes meta['class_names'] in that order, so the classification task reports all 11.
MAE-DFER's converted files give the index 0-10 in the same order. CRLF, BOM and a header row are read.

Protocol: 5-fold cross-validation given by the set folders. Option fold=K (0-4, default 0): the clips of
set_{K+1}/test.txt are 'test', those of set_{K+1}/train.txt 'train'. Each clip gives `frames` rows (default 4):
frames evenly spaced over its frame files. Row labels: 'class', 'clip' (the clip id `00019`: evaluation pools a
clip's frames), 'fold' (0-4: the set whose test list holds the clip; `--cv 5` runs the five folds) and
'subject' = the clip id (MAFW names no people). A listed clip without frames (or video) is skipped and counted.

Sources (read, not copied): MAFW-database/MAFW README (clips `00151.mp4`, `single_label.txt` lines
`03747.mp4  anger`, 11 single classes); sunlicai/MAE-DFER preprocess/mafw.py (`split/single/no_caption/
set_{k}/{train,test}.txt` read space separated without header, the 11-class order, frames `data/frames/<clip>`)
and its saved/data/mafw/single/split01/test.csv (`<path>/00025 0`); loaders reading `MAFW/Train & Test Set/
single/no_caption/set_1/train.txt` with `MAFW/data/clips` and `MAFW/data/frames` (a frame folder with an
`n_frames` file), `label/no_caption/set_K/{train,test}.txt` with `frames/<clip>/*.png`, and
`anno/single/no_caption/set_K/{train,test}.csv` with `frames_crop_align_224/` or
`data/frames/frames_crop_align_224/`; a dataset note listing `Train & Test Set/{single,compound}/
{no_caption,with_caption}/set_1..5` (`clip.mp4 label`, 9,172 clips a fold).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.clip_frames import MISSING, folders_below, frame_rows
from facessl.data.formats.imagefiles import read_lines, unnested, whole_number, with_dropped
from facessl.errors import DataFormatError

READER = "mafw"
CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "contempt", "anxiety",
           "helplessness", "disappointment")  # MAFW's order (MAE-DFER's index 0-10)
N_FOLDS = 5
DEPTH = 5
FRAME_FOLDERS = ("frames_crop_align_224", "frames_crop_align", "frames_crop_aligned", "frames")  # preferred first
CLIP_NAME = re.compile(r"\d{1,5}")
HEADER_WORDS = {"video", "video_name", "clip", "name", "file", "filename", "path"}


def read_mafw(root, frames=4, fold=0, size=128, crop=None, cache=None, workers=None) -> ImageSet:
    """MAFW single-expression clips as frame rows: labels 'class' (11, meta['class_names']), 'clip', 'fold',
    'subject'; split train / test of fold K. size, crop, cache, workers: for a copy with videos only."""
    n_frames = whole_number(frames, READER, "frames")
    fold = whole_number(fold, READER, "fold", 0, N_FOLDS - 1)
    root = Path(root)
    splits, frame_folder, video_folder = _find(root)
    test_fold = {}
    for k in range(N_FOLDS):  # the fold label needs every test list
        for clip in _read_set(_set_file(splits, k, "test")):
            test_fold.setdefault(clip, k)
    train_file, test_file = _set_file(splits, fold, "train"), _set_file(splits, fold, "test")
    chosen = [(clip, label, "train") for clip, label in _read_set(train_file).items()]
    chosen += [(clip, label, "test") for clip, label in _read_set(test_file).items()]
    split_from = (f"{_relative(test_file, root)} is the test split, {_relative(train_file, root)} train "
                  f"(fold {fold})")
    if frame_folder is None:
        return _from_videos(chosen, root, video_folder, test_fold, n_frames, size, crop, cache, workers, split_from)
    clips = {p.name.zfill(5): p for p in frame_folder.iterdir() if CLIP_NAME.fullmatch(p.name) and p.is_dir()}
    rows, dropped = frame_rows(chosen, clips.get, n_frames)
    if not rows["images"]:
        raise DataFormatError(root, f"no MAFW clip of fold {fold} found on disk: the set files name {len(chosen)} "
                                    f"clips, none has a frame folder in {_relative(frame_folder, root)}/")
    clip_ids = np.array(rows["clip"])
    labels = {"class": np.array(rows["label"], dtype=np.int64), "clip": clip_ids,
              "fold": np.array([test_fold.get(c, -1) for c in rows["clip"]], dtype=np.int64), "subject": clip_ids.copy()}
    meta = {"class_names": list(CLASSES), "split_from": split_from, "frames_per_clip": n_frames,
            "frames_from": f"{_relative(frame_folder, root)}/"}
    return with_dropped(ImageSet(rows["images"], labels, np.array(rows["split"], dtype=object), str(root), meta=meta),
                        dropped)


def _find(root: Path) -> tuple[Path, Path | None, Path | None]:
    """(the single/no_caption split folder, the frame folder or None, the video folder or None), in the root or
    up to DEPTH folders below it."""
    from facessl.data.video.decode import VIDEO_EXTENSIONS

    splits, frame_folders, video_folders, stop = [], [], [], None
    is_video = lambda name: Path(name).suffix.lower() in VIDEO_EXTENSIONS and CLIP_NAME.fullmatch(Path(name).stem)
    descend = lambda name: not CLIP_NAME.fullmatch(name)
    for d, folder, dirs, files in folders_below(root, DEPTH, descend):
        if stop is not None and d > stop:
            break
        name = folder.name.lower()
        if name == "no_caption" and any(n.lower() == "set_1" for n in dirs) and folder.parent.name.lower() != "compound":
            splits.append((folder.parent.name.lower() != "single", d, folder))
        if name in FRAME_FOLDERS and any(CLIP_NAME.fullmatch(n) for n in dirs):
            frame_folders.append((FRAME_FOLDERS.index(name), d, folder))
        if any(is_video(n) for n in files):
            video_folders.append((name != "clips", d, folder))
        if splits and frame_folders and stop is None:
            stop = d + 1  # one level more: aligned crops may sit one folder below the raw frames
    if not splits:
        raise DataFormatError(root, f"MAFW not found: expected Train & Test Set/single/no_caption/set_1/train.txt "
                                    f"and data/frames/<clip>/ or data/clips/00019.mp4 here or up to {DEPTH} folders "
                                    f"below")
    if not frame_folders and not video_folders:
        raise DataFormatError(root, f"MAFW clips not found: expected data/frames/00019/*.jpg (or "
                                    f"frames_crop_align_224/00019/) or data/clips/00019.mp4 here or up to {DEPTH} "
                                    f"folders below")
    best = lambda found: min(found, key=lambda f: f[:2])[2] if found else None
    return best(splits), best(frame_folders), best(video_folders)


def _set_file(splits: Path, k: int, part: str) -> Path:
    """set_{k+1}/train.txt (or .csv, any case); the .txt path (reported as not found) when neither is there."""
    folder = next((splits / n for n in sorted(p.name for p in splits.iterdir()) if n.lower() == f"set_{k + 1}"),
                  splits / f"set_{k + 1}")
    names = {p.name.lower(): p for p in folder.iterdir()} if folder.is_dir() else {}
    return names.get(f"{part}.txt") or names.get(f"{part}.csv") or folder / f"{part}.txt"


def _read_set(path: Path) -> dict[str, int]:
    """A set file: clip id (zero-padded to 5) -> index into CLASSES."""
    out = {}
    for number, line in enumerate(read_lines(path, "MAFW split file"), start=1):
        fields = [f for f in re.split(r"[\s,]+", line) if f]
        if not fields:
            continue
        if not out and fields[0].lower() in HEADER_WORDS:  # a header row
            continue
        if len(fields) != 2:
            raise DataFormatError(path, f"expected '00019.mp4 anger' (2 fields), got {len(fields)}", number)
        out[_clip_name(fields[0], path, number)] = _class(fields[1], path, number)
    return out


def _clip_name(text: str, path: Path, line: int) -> str:
    name = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0]
    if not CLIP_NAME.fullmatch(name):
        raise DataFormatError(path, f"clip {text!r}: expected a clip name such as 00019.mp4", line)
    return name.zfill(5)


def _class(text: str, path: Path, line: int) -> int:
    word = text.strip().lower()
    if word in CLASSES:
        return CLASSES.index(word)
    if word.isdigit() and int(word) < len(CLASSES):  # MAE-DFER's converted lists: the index in CLASSES
        return int(word)
    raise DataFormatError(path, f"label {text!r}: expected one of {', '.join(CLASSES)} (or their index 0-10)", line)


def _from_videos(chosen, root: Path, folder: Path, test_fold: dict, n_frames: int, size, crop, cache, workers,
                 split_from: str) -> ImageSet:
    """The chosen clips read from their videos (formats/videoclips.py), faces found by the detector (crop=whole
    takes the centre square)."""
    from facessl.data.formats.videoclips import Clip, clip_set, crop_settings
    from facessl.data.video.decode import VIDEO_EXTENSIONS

    folder = unnested(folder)
    settings = crop_settings(READER, n_frames, size, crop=crop or "detect")
    videos = {p.stem.zfill(5): p for p in sorted(folder.iterdir())
              if p.suffix.lower() in VIDEO_EXTENSIONS and CLIP_NAME.fullmatch(p.stem)}
    clips = [Clip(videos[clip], CLASSES[label], clip, part, {"clip": clip, "fold": test_fold.get(clip, -1),
                                                             "subject": clip})
             for clip, label, part in chosen if clip in videos]
    missing = len(chosen) - len(clips)
    if not clips:
        raise DataFormatError(root, f"no MAFW clip found on disk: the set files name {len(chosen)} clips, none has a "
                                    f"video in {_relative(folder, root)}/")
    data = clip_set(clips, root, READER, settings, cache=cache, workers=workers, class_names=CLASSES,
                    fixed_classes=True, split_from=split_from,
                    meta={"frames_from": f"videos in {_relative(folder, root)}/ ({settings.crop} crops)"},
                    dropped={MISSING: missing} if missing else None)
    data.labels.pop("group")
    return data


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix() or "."
    except ValueError:
        return Path(path).as_posix()
