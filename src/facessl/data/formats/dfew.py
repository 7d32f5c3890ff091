"""DFEW, Dynamic Facial Expression in the Wild (Jiang et al., ACM MM 2020), as distributed (part 2 of the
release, the one with the face clips and the splits):

    DFEW/EmoLabel_DataSplit/train(single-labeled)/set_1.csv ... set_5.csv   video_name,label
    DFEW/EmoLabel_DataSplit/test(single-labeled)/set_1.csv  ... set_5.csv
    DFEW/Clip/clip_224x224/00001/00001_00001.jpg ...        aligned face frames, one folder per clip
    DFEW/Clip/clip_224x224_16f/00001/1.jpg ... 16.jpg       the same clips resampled to 16 frames
    DFEW/Clip/clip_224x224_avi/00001.avi, Clip/original/1.mp4   videos (read where no frame folder is there)

Variants read: the frame folder is the first of clip_224x224, clip_224x224_16f, jpg_256 (MAE-DFER's name for
the former), clip_224 found under Clip/ or the root; the archive unpacked into a folder of its own name
(clip_224x224/clip_224x224/00001) or in its parts (clip_224x224/clip_224x224_part_1/00001, 1600 clips a part);
the root may be DFEW/, DFEW-part2/ or the folder above them. Frame files are ordered by the last number in
their name (00001_00002.jpg, 2.jpg), never by text. A copy with videos only is read from its videos
(formats/videoclips.py: the same evenly spaced frames decoded, crops cached): the aligned clip_224x224_avi clips
whole (their centre square at `size`, default 128), the original movie clips through the face detector, aligned as
`facessl prepare` aligns faces (option crop=detect|whole overrides; cache=DIR, workers=N).

Labels: the csv `label` is 1-7 = happy, sad, neutral, angry, surprise, disgust, fear (the DFEW page and the
loaders below, which all subtract one and keep this order); mapped to facessl's EXPRESSIONS. CRLF, BOM and a
file without its header row are read. `video_name` may be written 1 or 00001 (loaders zero-pad it to 5).

Protocol: 5-fold cross-validation given by the set files. Option fold=K (0-4, default 0): the clips of
test(single-labeled)/set_{K+1}.csv are 'test', those of train(single-labeled)/set_{K+1}.csv 'train'. Each clip
gives `frames` rows (default 4): frames evenly spaced over its frame files (the centres of equal segments, as
TSN-style test sampling does). Row labels: 'expression', 'clip' (the clip id: evaluation pools a clip's
frames), 'fold' (0-4, the fold whose test set holds the clip) and 'subject' = the clip id (DFEW names no
people). A listed clip without a folder, or with no frame in it, is skipped and counted.

Sources (read, not copied): dfew-dataset.github.io (layout, label list); sunlicai/MAE-DFER
preprocess/dfew.py and its audio-visual variant (split files, `video_name,label`, label-1, the
clip_224x224_part_N folders, jpg_256 = clip_224x224); DFER-CLIP / Former-DFER style loaders reading
EmoLabel_DataSplit/{train,test}(single-labeled)/set_X.csv with Clip/clip_224x224 and clip_224x224_16f; a
dataset note giving frames as Clip/clip_224x224/00001/00001_00001.jpg and clip_224x224_16f/00001/1.jpg.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.clip_frames import frame_rows
from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import unnested, whole_number, with_dropped
from facessl.data.formats.text import column_index, read_csv
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError

DFEW_ORDER = ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear")  # csv labels 1..7
N_FOLDS = 5
SPLIT_FOLDER = "EmoLabel_DataSplit"
TRAIN_FOLDER, TEST_FOLDER = "train(single-labeled)", "test(single-labeled)"
FRAME_FOLDERS = ("clip_224x224", "clip_224x224_16f", "jpg_256", "clip_224")
VIDEO_FOLDERS = ("original", "clip_224x224_avi")
CLIP_NAME = re.compile(r"\d{1,5}")


def read_dfew(root, frames=4, fold=0, size=128, crop=None, cache=None, workers=None) -> ImageSet:
    """DFEW clips as frame rows: labels 'expression', 'clip', 'fold', 'subject'; split train / test of fold K.
    size, crop, cache, workers: for a copy with videos only (see the module doc)."""
    n_frames, fold = whole_number(frames, "dfew", "frames"), whole_number(fold, "dfew", "fold", 0, N_FOLDS - 1)
    splits = _split_folder(Path(root))
    base = splits.parent
    clip_folders = _clip_folders(base)
    test_fold = {}
    for k in range(N_FOLDS):  # the fold label needs every test file
        for clip in _read_set(splits / TEST_FOLDER / f"set_{k + 1}.csv"):
            test_fold.setdefault(clip, k)
    chosen = [(clip, label, "train") for clip, label in _read_set(splits / TRAIN_FOLDER / f"set_{fold + 1}.csv").items()]
    chosen += [(clip, label, "test") for clip, label in _read_set(splits / TEST_FOLDER / f"set_{fold + 1}.csv").items()]
    if clip_folders is None:
        return _from_videos(chosen, base, test_fold, fold, n_frames, size, crop, cache, workers)
    return _imageset(chosen, clip_folders, test_fold, n_frames, fold, base)


def _split_folder(root: Path) -> Path:
    """EmoLabel_DataSplit/ in the root, one level down (DFEW/, DFEW-part2/), or the root itself."""
    if (root / TRAIN_FOLDER).is_dir() or (root / TEST_FOLDER).is_dir():
        return root
    candidates = [root / SPLIT_FOLDER] + (sorted(p / SPLIT_FOLDER for p in root.iterdir() if p.is_dir())
                                          if root.is_dir() else [])
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise DataFormatError(root, f"DFEW not found: expected {SPLIT_FOLDER}/{TRAIN_FOLDER}/set_1.csv and "
                                f"Clip/clip_224x224/00001/ here")


def _clip_folders(base: Path) -> dict[str, Path] | None:
    """Clip id -> its frame folder, from the first frame folder found (directly or in its part folders); None
    where DFEW has its videos only."""
    for parent in (base / "Clip", base):
        for name in FRAME_FOLDERS:
            folder = unnested(parent / name)
            if folder.is_dir():
                clips = {}
                for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
                    if CLIP_NAME.fullmatch(sub.name):
                        clips[sub.name.zfill(5)] = sub
                    else:  # clip_224x224_part_1/ ...: the archive's parts unpacked side by side
                        clips.update({c.name.zfill(5): c for c in sub.iterdir()
                                      if c.is_dir() and CLIP_NAME.fullmatch(c.name)})
                if clips:
                    return clips
    if _video_folder(base) is not None:
        return None
    raise DataFormatError(base, "DFEW frames not found: expected Clip/clip_224x224/00001/*.jpg (or clip_224x224_16f)")


def _video_folder(base: Path) -> Path | None:
    """The first of DFEW's video folders holding a clip video (aligned clip_224x224_avi first), or None."""
    from facessl.data.video.decode import VIDEO_EXTENSIONS

    for parent in (base / "Clip", base):
        for name in VIDEO_FOLDERS:
            folder = unnested(parent / name)
            if folder.is_dir() and any(p.suffix.lower() in VIDEO_EXTENSIONS and CLIP_NAME.fullmatch(p.stem)
                                       for p in folder.iterdir()):
                return folder
    return None


def _from_videos(chosen, base: Path, test_fold: dict, fold: int, n_frames: int, size, crop, cache, workers):
    """The chosen clips read from their videos (formats/videoclips.py): the aligned clip_224x224_avi clips whole,
    the original movie clips through the face detector (crop= overrides)."""
    from facessl.data.formats.videoclips import Clip, clip_set, crop_settings
    from facessl.data.video.decode import VIDEO_EXTENSIONS

    folder = _video_folder(base)
    aligned = folder.name.startswith("clip_224")
    settings = crop_settings("dfew", n_frames, size, crop=crop or ("whole" if aligned else "detect"))
    videos = {p.stem.zfill(5): p for p in sorted(folder.iterdir())
              if p.suffix.lower() in VIDEO_EXTENSIONS and CLIP_NAME.fullmatch(p.stem)}
    clips = [Clip(videos[clip], EXPRESSIONS[label], clip, part,
                  {"clip": clip, "fold": test_fold.get(clip, -1), "subject": clip})
             for clip, label, part in chosen if clip in videos]
    missing = len(chosen) - len(clips)
    data = clip_set(clips, base, "dfew", settings, cache=cache, workers=workers, class_names=EXPRESSIONS,
                    fixed_classes=True,
                    split_from=f"{SPLIT_FOLDER} set_{fold + 1}.csv: {TEST_FOLDER} is the test split (fold {fold})",
                    meta={"frames_from": f"videos in {folder.relative_to(base).as_posix()}/ ({settings.crop} crops)"},
                    dropped={"clip listed but not on disk": missing} if missing else None)
    data.labels["expression"] = data.labels.pop("class")
    data.labels.pop("group")
    data.meta.pop("class_names")
    return data


def _read_set(path: Path) -> dict[str, int]:
    """A set_K.csv: clip id (zero-padded to 5) -> internal expression index; the header row may be absent."""
    header, rows = read_csv(path, "DFEW split file")
    if len(header) < 2:
        raise DataFormatError(path, f"expected video_name,label; got {','.join(header)!r}", 1)
    if header[0].isdigit():  # no header row: the first line is a clip
        rows, name_col, label_col = [(1, header)] + rows, 0, 1
    else:
        name_col = column_index(header, "video_name", path, "DFEW split file")
        label_col = column_index(header, "label", path, "DFEW split file")
    return {_clip_name(f[name_col], path, line): _expression(f[label_col], path, line) for line, f in rows}


def _clip_name(text: str, path: Path, line: int) -> str:
    name = text.strip()
    if not CLIP_NAME.fullmatch(name):
        raise DataFormatError(path, f"video_name {text!r}: expected a clip number such as 00001", line)
    return name.zfill(5)


def _expression(text: str, path: Path, line: int) -> int:
    """A csv label 1..7 (DFEW order) -> facessl's internal expression index."""
    if text.strip() not in {str(i) for i in range(1, 8)}:
        raise DataFormatError(path, f"label {text!r}: expected 1-7 (happy, sad, neutral, angry, surprise, "
                                    f"disgust, fear)", line)
    return EXPRESSIONS.index(DFEW_ORDER[int(text) - 1])


def _imageset(chosen, clip_folders, test_fold, n_frames, fold, base) -> ImageSet:
    rows, dropped = frame_rows(chosen, clip_folders.get, n_frames)
    if not rows["images"]:
        raise DataFormatError(base, f"no DFEW clip of fold {fold} found on disk: the split files name "
                                    f"{len(chosen)} clips, none has a frame folder under Clip/")
    clip_ids = np.array(rows["clip"])
    labels = {"expression": np.array(rows["label"], dtype=np.int64), "clip": clip_ids,
              "fold": np.array([test_fold.get(c, -1) for c in rows["clip"]], dtype=np.int64), "subject": clip_ids.copy()}
    meta = {"split_from": f"{SPLIT_FOLDER} set_{fold + 1}.csv: {TEST_FOLDER} is the test split (fold {fold})",
            "frames_per_clip": n_frames}
    return with_dropped(ImageSet(rows["images"], labels, np.array(rows["split"], dtype=object), str(base), meta=meta),
                        dropped)
