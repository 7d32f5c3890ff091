"""MAFW, the Multi-modal Affective database for dynamic FER in the Wild (Liu et al., ACM MM 2022: 10,045 clips;
the single-expression set, 9,172 clips in 11 classes), as distributed and commonly unpacked:

    MAFW/data/clips/00019.mp4 ...                                   the clips (movie / TV / short-video cuts)
    MAFW/data/frames/00019/...                                      frames extracted per clip, where a copy has them
    MAFW/Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5/   `00019.mp4 anger`

Variants read: the split tree `single/no_caption/set_1..5/{train,test}.txt` below any folder (`Train & Test Set/`,
`train_test_set/Train & Test Set/`, MAE-DFER's `split/`, EmoCLIP's `Train_Test_Set/single/no_caption_new/`; `.csv`
files of the same content, and MAE-DFER's `anno/single/no_caption/set_K/{train,test}.csv` whose lines are
`<frames path>/00019 0` with the class index 0-10); DFER-CLIP's flat lists `MAFW_set_1_train.txt` ...
`MAFW_set_5_test.txt` (lines `<its path>/data/faces/00025 47 3`: the frame count, then the class index in
DFER-CLIP's own order, DFER_CLIP_ORDER) where no set folders are found; `with_caption/` never read, `compound/`
only with subset=compound. The frames of each clip in the first of `frames_crop_align_224/`, `frames_crop_align/`,
`frames_crop_aligned/` (aligned face crops), `faces/` (DFER-CLIP's and EmoCLIP's `data/faces/<clip>/`) or `frames/`
(also `data/frames/frames/`, `data/frames/frames_crop_align_224/`) holding clip folders; each part looked for in
the path given or up to five folders below it. Frame files are ordered by the last number in their name
(`image_00001.jpg`, `1.png`), never by text; other files in a clip folder (`n_frames`) are passed over. A copy
with the videos only (`data/clips/00019.mp4`, or any folder of `NNNNN.mp4` files) is read from its videos
(formats/videoclips.py: the same evenly spaced frames decoded, the largest face aligned as `facessl prepare`
aligns faces, crops cached; option crop=whole takes each frame's centre square instead; cache=DIR, workers=N,
size=128).

Labels: the split file's word, one of the 11 classes in MAFW's order: anger, disgust, fear, happiness, neutral,
sadness, surprise, contempt, anxiety, helplessness, disappointment (the seven basic ones spelt as facessl's
EXPRESSIONS); 'class' indexes meta['class_names'] in that order, so the classification task reports all 11.
An index instead of the word means MAFW's order in a two-field line (MAE-DFER) and DFER-CLIP's order (happiness,
sadness, neutral, anger, surprise, disgust, fear, then the same four) in a three-field line: clip 00025, anger, is
`.../00025 0` in the one and `.../00025 47 3` in the other. CRLF, BOM and a header row are read. Option
subset=compound reads `compound/no_caption/set_K` instead, whose labels are one class or several joined by '_'
(`anger_disgust`, any order): one class per label or combination found in the lists (the README counts 11
single-emotion and 32 multi-emotion categories), the single ones first in MAFW's order, then the combinations by
size and their classes' order; meta['subset'] says which.

Protocol: 5-fold cross-validation given by the set folders. Option fold=K (0-4, default 0): the clips of
set_{K+1}/test.txt are 'test', those of set_{K+1}/train.txt 'train'. Each clip gives `frames` rows (default 4):
frames evenly spaced over its frame files. Row labels: 'class', 'clip' (the clip id `00019`: evaluation pools a
clip's frames), 'fold' (0-4: the set whose test list holds the clip; `--cv 5` runs the five folds) and
'subject' = the clip id (MAFW names no people). A listed clip without frames (or video) is skipped and counted.

Evidence (read, not copied; repository and path):
- MAFW-database/MAFW README.md: clips `00151.mp4`; `single_label.txt` lines `03747.mp4  anger  <captions>`,
  `multi_label.txt` lines `20045.mp4  anger_disgust_anxiety  <captions>`; "11 single-emotion categories and 32
  multi-emotion categories". Its content preview does not show the split folders or frames.
- sunlicai/MAE-DFER preprocess/mafw.py: `split/single/no_caption/set_{k}/{train,test}.txt` read space separated
  without header, `labels = ['anger', ..., 'disappointment']` (the order above), frames `data/frames/<clip>`;
  saved/data/mafw/single/split01/test.csv: `/mnt/.../MAFW/data/frames/00025 0`.
- sunlicai/HiCMAE preprocess/mafw_av.py: `Train & Test Set/single/no_caption/set_{k}/{train,test}.txt`
  (`# ex:00025.mp4 anger`), `data/frames/<clip>` (10,045 folders), the same 11-class order.
- zengqunzhao/DFER-CLIP annotation/MAFW_set_1_test.txt ... (`/data/.../MAFW/data/faces/00025 47 3`),
  annotation/preprocessing.py (its order `{'Happiness':0, 'Sadness':1, 'Neutral':2, 'Anger':3, ...}`),
  models/Text.py class_names_11, dataloader/video_dataloader.py (`path num_frames label`, frames `glob` + sort).
- NickyFot/EmoCLIP DataLoaders/MAFW.py: `Train_Test_Set/{single,compound}/{no_caption_new,with_caption_new}/
  set_{fold}/{train,test}.txt`, frames `data/faces/<clip>`, compound labels split on '_', the 11-class order above.
- A dataset note found by text search (no repository named): `train_test_set/Train & Test Set/{single,compound}/
  {no_caption,with_caption}/set_1..5` (`clip.mp4 label`; 9,172 clips a single/no_caption fold, 7,333 / 1,839 in
  set_1; compound/no_caption 8,996 a fold, single labels and combinations such as anger_disgust); loaders reading
  `F:/MAFW/Train & Test Set/single/no_caption/set_1/train.txt` with `data/clips` and `data/frames`.
- Fine-tuning scripts found by text search (no repository named): `data/MAFW/data/frames/frames_crop_align_224`
  and `data/MAFW/frames_crop_align_224` with `data/MAFW/anno/single/no_caption/set_${split}/{train,test}.csv`.
Unconfirmed: the names of frame files inside `data/frames/<clip>/` (no source shows them; any number order is
read); `frames_crop_align/`, `frames_crop_aligned/` and `label/no_caption/` were not found in this search (kept:
they only widen the search); that all 43 classes occur in every copy's compound lists.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.clip_frames import MISSING, folders_below, frame_rows
from facessl.data.formats.imagefiles import read_lines, unnested, whole_number, with_dropped
from facessl.errors import DataFormatError, FacesslError

READER = "mafw"
CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "contempt", "anxiety",
           "helplessness", "disappointment")  # MAFW's order (MAE-DFER's index 0-10)
N_FOLDS = 5
DEPTH = 5
DFER_CLIP_ORDER = ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear", "contempt", "anxiety",
                   "helplessness", "disappointment")  # the index in DFER-CLIP's annotation/MAFW_set_K_*.txt
FRAME_FOLDERS = ("frames_crop_align_224", "frames_crop_align", "frames_crop_aligned", "faces", "frames")  # preferred first
SPLIT_FOLDERS = ("no_caption", "no_caption_new")  # the release's name first; EmoCLIP's copy: no_caption_new
FLAT_LIST = "mafw_set_{}_{}.txt"  # DFER-CLIP's annotation/MAFW_set_1_train.txt ...
CLIP_NAME = re.compile(r"\d{1,5}")
HEADER_WORDS = {"video", "video_name", "clip", "name", "file", "filename", "path"}
SUBSETS = ("single", "compound")


def read_mafw(root, frames=4, fold=0, size=128, crop=None, cache=None, workers=None, subset="single") -> ImageSet:
    """MAFW single-expression clips as frame rows: labels 'class' (11, meta['class_names']), 'clip', 'fold',
    'subject'; split train / test of fold K. subset=compound: the compound lists instead (a class per label or
    label combination, 43 in the release). size, crop, cache, workers: for a copy with videos only."""
    n_frames = whole_number(frames, READER, "frames")
    fold = whole_number(fold, READER, "fold", 0, N_FOLDS - 1)
    subset = str(subset).strip().lower()
    if subset not in SUBSETS:
        raise FacesslError(f"{READER} subset {subset!r}: expected single or compound")
    compound = subset == "compound"
    root = Path(root)
    splits, frame_folder, video_folder = _find(root, compound)  # splits: (folder, flat) as _set_file takes them
    test_fold, seen = {}, set()
    for k in range(N_FOLDS):  # the fold label needs every test list (which together hold every clip)
        for clip, label in _read_set(_set_file(splits, k, "test"), compound).items():
            test_fold.setdefault(clip, k)
            seen.add(label)
    train_file, test_file = _set_file(splits, fold, "train"), _set_file(splits, fold, "test")
    chosen = [(clip, label, "train") for clip, label in _read_set(train_file, compound).items()]
    chosen += [(clip, label, "test") for clip, label in _read_set(test_file, compound).items()]
    class_names = list(CLASSES)
    if compound:  # single classes in MAFW's order, then the combinations by size and their classes' order
        class_names = sorted(seen | {label for _, label, _ in chosen},
                             key=lambda name: (name.count("_"), [CLASSES.index(w) for w in name.split("_")]))
        chosen = [(clip, class_names.index(label), part) for clip, label, part in chosen]
    split_from = (f"{_relative(test_file, root)} is the test split, {_relative(train_file, root)} train "
                  f"(fold {fold})")
    if frame_folder is None:
        data = _from_videos(chosen, root, video_folder, test_fold, n_frames, size, crop, cache, workers, split_from,
                            class_names)
        data.meta["subset"] = subset
        return data
    clips = {p.name.zfill(5): p for p in frame_folder.iterdir() if CLIP_NAME.fullmatch(p.name) and p.is_dir()}
    rows, dropped = frame_rows(chosen, clips.get, n_frames)
    if not rows["images"]:
        raise DataFormatError(root, f"no MAFW clip of fold {fold} found on disk: the set files name {len(chosen)} "
                                    f"clips, none has a frame folder in {_relative(frame_folder, root)}/")
    clip_ids = np.array(rows["clip"])
    labels = {"class": np.array(rows["label"], dtype=np.int64), "clip": clip_ids,
              "fold": np.array([test_fold.get(c, -1) for c in rows["clip"]], dtype=np.int64), "subject": clip_ids.copy()}
    meta = {"class_names": class_names, "subset": subset, "split_from": split_from, "frames_per_clip": n_frames,
            "frames_from": f"{_relative(frame_folder, root)}/"}
    return with_dropped(ImageSet(rows["images"], labels, np.array(rows["split"], dtype=object), str(root), meta=meta),
                        dropped)


def _find(root: Path, compound: bool = False) -> tuple[tuple[Path, bool], Path | None, Path | None]:
    """((the single/no_caption split folder, False) or (the folder of DFER-CLIP's MAFW_set_K_*.txt lists, True),
    the frame folder or None, the video folder or None), in the root or up to DEPTH folders below it. The
    release's set folders are preferred to DFER-CLIP's flat lists. compound: compound/no_caption only."""
    from facessl.data.video.decode import VIDEO_EXTENSIONS

    splits, frame_folders, video_folders, stop = [], [], [], None
    is_video = lambda name: Path(name).suffix.lower() in VIDEO_EXTENSIONS and CLIP_NAME.fullmatch(Path(name).stem)
    descend = lambda name: not CLIP_NAME.fullmatch(name)
    for d, folder, dirs, files in folders_below(root, DEPTH, descend):
        if stop is not None and d > stop:
            break
        name = folder.name.lower()
        if (name in SPLIT_FOLDERS and any(n.lower() == "set_1" for n in dirs)
                and (folder.parent.name.lower() == "compound") == compound):
            splits.append(((0, folder.parent.name.lower() != "single", SPLIT_FOLDERS.index(name), d), (folder, False)))
        if not compound and any(n.lower() == FLAT_LIST.format(1, "train") for n in files):
            splits.append(((1, False, 0, d), (folder, True)))
        if name in FRAME_FOLDERS and any(CLIP_NAME.fullmatch(n) for n in dirs):
            frame_folders.append((FRAME_FOLDERS.index(name), d, folder))
        if any(is_video(n) for n in files):
            video_folders.append((name != "clips", d, folder))
        if splits and frame_folders and stop is None:
            stop = d + 1  # one level more: aligned crops may sit one folder below the raw frames
    if not splits and compound:
        raise DataFormatError(root, f"MAFW compound lists not found: expected Train & Test Set/compound/no_caption/"
                                    f"set_1/train.txt here or up to {DEPTH} folders below")
    if not splits:
        raise DataFormatError(root, f"MAFW not found: expected Train & Test Set/single/no_caption/set_1/train.txt "
                                    f"(or DFER-CLIP's MAFW_set_1_train.txt) and data/frames/<clip>/ or "
                                    f"data/clips/00019.mp4 here or up to {DEPTH} folders below")
    if not frame_folders and not video_folders:
        raise DataFormatError(root, f"MAFW clips not found: expected data/frames/00019/*.jpg (or "
                                    f"frames_crop_align_224/00019/) or data/clips/00019.mp4 here or up to {DEPTH} "
                                    f"folders below")
    best = lambda found: min(found, key=lambda f: f[:2])[2] if found else None
    return min(splits, key=lambda f: f[0])[1], best(frame_folders), best(video_folders)


def _set_file(splits: tuple[Path, bool], k: int, part: str) -> Path:
    """set_{k+1}/train.txt (or .csv, any case), or DFER-CLIP's MAFW_set_{k+1}_train.txt where splits is its
    folder of flat lists; the .txt path (reported as not found) when none is there."""
    splits, flat = splits
    if flat:
        wanted = FLAT_LIST.format(k + 1, part)
        return next((splits / n for n in sorted(os.listdir(splits)) if n.lower() == wanted),
                    splits / f"MAFW_set_{k + 1}_{part}.txt")
    folder = next((splits / n for n in sorted(p.name for p in splits.iterdir()) if n.lower() == f"set_{k + 1}"),
                  splits / f"set_{k + 1}")
    names = {p.name.lower(): p for p in folder.iterdir()} if folder.is_dir() else {}
    return names.get(f"{part}.txt") or names.get(f"{part}.csv") or folder / f"{part}.txt"


def _read_set(path: Path, compound: bool = False) -> dict:
    """A set file: clip id (zero-padded to 5) -> index into CLASSES. Lines `00019.mp4 anger` (the release),
    `<path>/00019 0` (MAE-DFER's index, MAFW's order) or `<path>/00019 47 3` (DFER-CLIP: frame count, then its
    index in DFER_CLIP_ORDER). compound: clip id -> its label `anger_disgust` (words in CLASSES' order)."""
    out = {}
    for number, line in enumerate(read_lines(path, "MAFW split file"), start=1):
        fields = [f for f in re.split(r"[\s,]+", line) if f]
        if not fields:
            continue
        if not out and fields[0].lower() in HEADER_WORDS:  # a header row
            continue
        if compound:
            if len(fields) != 2:
                raise DataFormatError(path, f"expected '00019.mp4 anger_disgust' (2 fields), got {len(fields)}", number)
            label = _combination(fields[1], path, number)
        elif len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():  # DFER-CLIP's <path> <frames> <index>
            label = _class(fields[2], path, number, DFER_CLIP_ORDER)
        elif len(fields) == 2:
            label = _class(fields[1], path, number)
        else:
            raise DataFormatError(path, f"expected '00019.mp4 anger' (2 fields; DFER-CLIP's lists: '<path>/00019 47 3'),"
                                        f" got {len(fields)}", number)
        out[_clip_name(fields[0], path, number)] = label
    return out


def _clip_name(text: str, path: Path, line: int) -> str:
    name = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0]
    if not CLIP_NAME.fullmatch(name):
        raise DataFormatError(path, f"clip {text!r}: expected a clip name such as 00019.mp4", line)
    return name.zfill(5)


def _class(text: str, path: Path, line: int, order=CLASSES) -> int:
    """The index into CLASSES of a class word, or of an index into `order` (CLASSES for MAE-DFER's converted
    lists, DFER_CLIP_ORDER for DFER-CLIP's)."""
    word = text.strip().lower()
    if word in CLASSES:
        return CLASSES.index(word)
    if word.isdigit() and int(word) < len(order):
        return CLASSES.index(order[int(word)])
    raise DataFormatError(path, f"label {text!r}: expected one of {', '.join(CLASSES)} (or their index 0-10)", line)


def _combination(text: str, path: Path, line: int) -> str:
    """A compound list's label: one class word or several joined by '_', put in CLASSES' order."""
    words = text.strip().lower().split("_")
    if not all(w in CLASSES for w in words) or len(set(words)) != len(words):
        raise DataFormatError(path, f"label {text!r}: expected classes of {', '.join(CLASSES)} joined by '_' "
                                    f"(anger_disgust)", line)
    return "_".join(sorted(words, key=CLASSES.index))


def _from_videos(chosen, root: Path, folder: Path, test_fold: dict, n_frames: int, size, crop, cache, workers,
                 split_from: str, class_names: list) -> ImageSet:
    """The chosen clips read from their videos (formats/videoclips.py), faces found by the detector (crop=whole
    takes the centre square)."""
    from facessl.data.formats.videoclips import Clip, clip_set, crop_settings
    from facessl.data.video.decode import VIDEO_EXTENSIONS

    folder = unnested(folder)
    settings = crop_settings(READER, n_frames, size, crop=crop or "detect")
    videos = {p.stem.zfill(5): p for p in sorted(folder.iterdir())
              if p.suffix.lower() in VIDEO_EXTENSIONS and CLIP_NAME.fullmatch(p.stem)}
    clips = [Clip(videos[clip], class_names[label], clip, part, {"clip": clip, "fold": test_fold.get(clip, -1),
                                                             "subject": clip})
             for clip, label, part in chosen if clip in videos]
    missing = len(chosen) - len(clips)
    if not clips:
        raise DataFormatError(root, f"no MAFW clip found on disk: the set files name {len(chosen)} clips, none has a "
                                    f"video in {_relative(folder, root)}/")
    data = clip_set(clips, root, READER, settings, cache=cache, workers=workers, class_names=class_names,
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
