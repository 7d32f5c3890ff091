"""FERV39k (Wang et al., CVPR 2022: 38,935 clips, 4 scenarios of 22 scenes, 7 expressions), as distributed
(Baidu / Google Drive, in parts that may be unpacked in different folders):

    FERV39k/2_ClipsforFaceCrop/Action/Sad/0010/00.jpg ...       face-crop frames, one folder per clip
    FERV39k/4_setups/All_scenes/train_All.csv, test_All.csv     `Action/Sad/0010 Sad`: no header, space separated
    FERV39k/4_setups/22_scenes/train_Action.csv, test_Action.csv ...   the same lines, one scene per pair of files

Variants read: each part found in the path given or up to five folders below it (a Drive download folder
`drive-download-.../4_setups/`, `2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/` as its archive unpacks,
`Image/CropFace/2_ClipsforFaceCrop/`, split files in any folder such as `EmoLabel/EmoLabel/`); the frames of one
copy may be spread over several `2_ClipsforFaceCrop/` folders (the archive's parts unpacked side by side): a clip
is looked for in each. A folder nested in one of its own name (`2_ClipsforFaceCrop/2_ClipsforFaceCrop/`) is read
as one. Frame files are ordered by the last number in their name (`00.jpg` ... `117.jpg`), never by text. The
original scene frames (`3_ClipsforScenImages`) are not read. Where no train_All.csv is found, the converted lists
of DFER-CLIP (`FERV39K_train.txt`, `FERV39K_test.txt`) or EmoCLIP (`train_image.txt`, `test_image.txt`) are read
as the All setup.

Labels: the split file's word (Happy, Sad, Neutral, Angry, Surprise, Disgust, Fear; any case) mapped to
facessl's EXPRESSIONS; the clip path is `Scene/Emotion/NNNN` (the last three parts of the first field are used,
so `\\` separators or a longer path are read too). Converted lists give an index instead of the word, 0-6 in the
order Happy, Sad, Neutral, Angry, Surprise, Disgust, Fear (INDEX_ORDER), as `<path> 1` (MAE-DFER) or
`<path> 21 1` (DFER-CLIP, EmoCLIP: the frame count first); an index must name the emotion of the clip's own
folder, so a list in another order (M3DFEL's loaders number the words alphabetically) is refused at its first
line, never read with shuffled labels. CRLF, BOM and a header line (`path label`) are read.

Protocol: one fixed split, no folds: train_All.csv is 'train', test_All.csv 'test' (there is no validation
split: the probe carves its own from train, grouped by clip). Option scene=NAME (default All) reads
train_NAME.csv / test_NAME.csv instead (the per-scene setups in 4_setups/22_scenes/; SCENES lists the 22
names). Each clip gives `frames` rows (default 4): frames evenly spaced over its frame files, as for DFEW. Row
labels: 'expression', 'clip' (the clip path `Action/Sad/0010`: evaluation pools a clip's frames), 'subject' =
the clip (FERV39k names no people), 'scene' (`Action`). A listed clip without a folder, or with no frame in it,
is skipped and counted.

Evidence (read, not copied; repository and path):
- wangyanckxx/FERV39k README.md: Baidu / Google Drive download, password by e-mail; it shows no file layout.
- sunlicai/MAE-DFER preprocess/ferv39k.py: `4_setups/All_scenes/{train,test}_All.csv` read with
  `pd.read_csv(header=None, delimiter=' ')`, clips `2_ClipsforFaceCrop/<path>`, `label2idx = {'Happy': 0, 'Sad': 1,
  'Neutral': 2, 'Angry': 3, 'Surprise': 4, 'Disgust': 5, 'Fear': 6}`; saved/data/ferv39k/all_scenes/test.csv:
  `/mnt/.../FERV39k/2_ClipsforFaceCrop/Interview/Happy/0118 0`, whose scene folders are the 22 of SCENES.
- zengqunzhao/DFER-CLIP annotation/FERV39K_test.txt (`/data/.../FERV39K/2_ClipsforFaceCrop/Action/Happy/0015 25
  0`), models/Text.py class_names_7 (the same order), dataloader/video_dataloader.py (`path num_frames label`).
- NickyFot/EmoCLIP DataLoaders/FERV39K.py: `{train,test}_image.txt` in the dataset folder (`path num_frames
  label`), frames `2_ClipsforFaceCrop/<scene>/<emotion>/<clip>`, CLASSES in the same order.
- ECNU-Cross-Innovation-Lab/M3DFEL_replicate options.py (`FERV39K/FERV39k/4_setups/All_scenes/train_All.csv`) and
  datasets/dataset_FERV39K.py (the word after the space in each line, `Scene/...` before it, frames `*.jpg`
  sorted; its own index Angry 0 ... Surprise 6, alphabetical, never written to a file).
- Loaders found by text search (no repository named): `2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/<Scene>/
  <Emotion>/<clip 4-digit>/*.jpg` with `drive-download-.../4_setups/{All_scenes,22_scenes}/`, `{train,test}_<Scene>
  .csv` and the 22 scene names; `Image/CropFace/2_ClipsforFaceCrop` with `EmoLabel/EmoLabel/test_All.csv`.
Unconfirmed: whether the owners' csv files carry a header line (MAE-DFER reads none, M3DFEL skips one line:
both are read); the frame file names (`00.jpg`... per the loader notes above; any number order is read).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from facessl.data.formats.clip_frames import folders_below, frame_rows
from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import read_lines, unnested, whole_number, with_dropped
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError

READER = "ferv39k"
FERV39K_WORDS = {"happy": "happiness", "sad": "sadness", "neutral": "neutral", "angry": "anger",
                 "surprise": "surprise", "disgust": "disgust", "fear": "fear"}
INDEX_ORDER = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")  # the 0-6 of converted lists
SCENES = ("Action", "Argue", "Business", "Conflict", "Contest", "Crime", "Crisis", "DailyLife", "ElegantArt",
          "Experiment", "History", "Interview", "Liveshow", "Medicine", "OfficialEvent", "ScholarReport", "School",
          "Social", "Speech", "Talkshow", "Terror", "War")  # the 22 scene folders (for reference: none is required)
OTHER_LISTS = (("ferv39k_train.txt", "ferv39k_test.txt"),  # DFER-CLIP's annotation/FERV39K_{train,test}.txt
               ("train_image.txt", "test_image.txt"))  # EmoCLIP's, in the dataset folder
CLIP_ROOT = "2_clipsforfacecrop"
NOT_SEARCHED = {CLIP_ROOT, "3_clipsforscenimages"}  # frame trees: never walked through
DEPTH = 5
SETUP_FILE = re.compile(r"(train|test)_(.+)\.csv", re.IGNORECASE)
HEADER_WORDS = {"path", "video", "video_name", "clip", "name", "file", "filename"}
NUMBER = re.compile(r"\d+")


def read_ferv39k(root, frames=4, scene="All") -> ImageSet:
    """FERV39k clips as frame rows: labels 'expression', 'clip', 'subject', 'scene'; split train / test."""
    n_frames = whole_number(frames, READER, "frames")
    root = Path(root)
    train_file, test_file, clip_roots, scene = _find(root, _scene_name(scene))
    chosen = [(clip, label, "train") for clip, label in _read_split(train_file).items()]
    chosen += [(clip, label, "test") for clip, label in _read_split(test_file).items()]
    rows, dropped = frame_rows(chosen, lambda clip: next((r / clip for r in clip_roots if (r / clip).is_dir()), None),
                               n_frames)
    where = ", ".join(_relative(r, root) + "/" for r in clip_roots)
    if not rows["images"]:
        raise DataFormatError(root, f"no FERV39k clip found on disk: {train_file.name} and {test_file.name} name "
                                    f"{len(chosen)} clips, none has a frame folder in {where}")
    clip_ids = np.array(rows["clip"])
    labels = {"expression": np.array(rows["label"], dtype=np.int64), "clip": clip_ids, "subject": clip_ids.copy(),
              "scene": np.array([c.split("/", 1)[0] for c in clip_ids])}
    meta = {"split_from": f"{_relative(train_file, root)} is train, {_relative(test_file, root)} test (scene {scene}; "
                          f"no validation split: the probe carves one from train, grouped by clip)",
            "frames_per_clip": n_frames, "scene": scene, "frames_from": where}
    return with_dropped(ImageSet(rows["images"], labels, np.array(rows["split"], dtype=object), str(root), meta=meta),
                        dropped)


def _scene_name(scene) -> str:
    text = str(scene).strip()
    if not text or "/" in text or "\\" in text:
        raise FacesslError(f"{READER} scene {scene!r}: expected All or a scene name such as Action")
    return "All" if text.lower() in ("all", "all_scenes") else text


def _find(root: Path, scene: str) -> tuple[Path, Path, list[Path], str]:
    """(train file, test file, frame roots, the scene as its files spell it): the split files of `scene` (any
    case) and every 2_ClipsforFaceCrop/ folder, in the root or up to DEPTH folders below it."""
    holder, clip_roots, setups, others, stop = None, [], {}, [], None
    descend = lambda name: name.lower() not in NOT_SEARCHED and not NUMBER.fullmatch(name)
    for d, folder, dirs, files in folders_below(root, DEPTH, descend):
        if stop is not None and d > stop:
            break
        if folder.name.lower() == CLIP_ROOT and folder == root:
            clip_roots.append(folder)
        clip_roots += [unnested(folder / name) for name in dirs if name.lower() == CLIP_ROOT]
        for name in files:
            if (m := SETUP_FILE.fullmatch(name)) and m.group(1).lower() == "train":
                setups.setdefault(m.group(2).lower(), (m.group(2), folder))
        lower = {n.lower(): n for n in files}
        others += [(folder / lower[train], folder / lower.get(test, lower[train].replace("train", "test")))
                   for train, test in OTHER_LISTS if train in lower]
        if holder is None and scene.lower() in setups:
            holder = setups[scene.lower()][1]
        if holder is not None and clip_roots and stop is None:
            stop = d + 1  # one level more: the archive's other parts may sit one folder deeper
    if holder is None and scene.lower() == "all" and others:  # no train_All.csv: a converted list pair
        if not clip_roots:
            raise DataFormatError(root, f"FERV39k frames not found: expected 2_ClipsforFaceCrop/<Scene>/<Emotion>/"
                                        f"<clip>/*.jpg here or up to {DEPTH} folders below (the split files are "
                                        f"{others[0][0].name} and {others[0][1].name} in {others[0][0].parent})")
        return others[0][0], others[0][1], list(dict.fromkeys(clip_roots)), "All"
    if holder is None:
        if not setups:
            raise DataFormatError(root, f"FERV39k not found: expected 4_setups/All_scenes/train_All.csv (or "
                                        f"DFER-CLIP's FERV39K_train.txt, EmoCLIP's train_image.txt) and "
                                        f"2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/*.jpg here or up to {DEPTH} "
                                        f"folders below")
        names = ", ".join(sorted(s for s, _ in setups.values()))
        raise DataFormatError(root, f"FERV39k scene {scene!r}: no train_{scene}.csv here or up to {DEPTH} folders "
                                    f"below; the setups found are {names}")
    if not clip_roots:
        raise DataFormatError(root, f"FERV39k frames not found: expected 2_ClipsforFaceCrop/<Scene>/<Emotion>/"
                                    f"<clip>/*.jpg here or up to {DEPTH} folders below (the split files are in "
                                    f"{holder})")
    spelt = setups[scene.lower()][0]
    test = next((holder / n for n in sorted(os.listdir(holder)) if n.lower() == f"test_{scene.lower()}.csv"),
                holder / f"test_{spelt}.csv")
    return holder / f"train_{spelt}.csv", test, list(dict.fromkeys(clip_roots)), spelt


def _read_split(path: Path) -> dict[str, int]:
    """A split file: clip path `Scene/Emotion/NNNN` -> internal expression index. Lines `Action/Sad/0010 Sad`
    (the release), `<path>/Action/Sad/0010 1` (MAE-DFER's converted lists) or `<path>/Action/Sad/0010 21 1`
    (DFER-CLIP, EmoCLIP: the frame count, then the index)."""
    out = {}
    for number, line in enumerate(read_lines(path, "FERV39k split file"), start=1):
        fields = line.split()
        if not fields:
            continue
        if not out and fields[0].lower() in HEADER_WORDS:  # a header row
            continue
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():  # <path> <frame count> <index>
            fields = [fields[0], fields[2]]
        if len(fields) != 2:
            raise DataFormatError(path, f"expected 'Scene/Emotion/0000 Emotion' (2 fields), got {len(fields)}", number)
        key = _clip_key(fields[0], path, number)
        out[key] = _expression(fields[1], key, path, number)
    return out


def _clip_key(text: str, path: Path, line: int) -> str:
    parts = [p for p in text.replace("\\", "/").split("/") if p and p != "."]
    if len(parts) < 3:
        raise DataFormatError(path, f"clip {text!r}: expected a clip path Scene/Emotion/0000", line)
    return "/".join(parts[-3:])


def _expression(text: str, clip: str, path: Path, line: int) -> int:
    """The internal expression index of a label word, or of an index 0-6 in INDEX_ORDER, which must agree with
    the clip path's emotion folder (a list in another order is refused, never read with shuffled labels)."""
    word = text.strip().lower()
    if word.isdigit() and int(word) < len(INDEX_ORDER):
        named, folder = INDEX_ORDER[int(word)], clip.split("/")[1]
        if folder.lower() in FERV39K_WORDS and folder.lower() != named.lower():
            raise DataFormatError(path, f"label {text!r} is {named} in the 0-6 order {', '.join(INDEX_ORDER)}, but "
                                        f"clip {clip} is in a {folder} folder: a list in another order is not read",
                                  line)
        word = named.lower()
    name = FERV39K_WORDS.get(word, word if word in EXPRESSIONS else None)
    if name is None:
        raise DataFormatError(path, f"label {text!r}: expected one of Happy, Sad, Neutral, Angry, Surprise, Disgust, "
                                    f"Fear (or their index 0-6 in that order)", line)
    return EXPRESSIONS.index(name)


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix() or "."
    except ValueError:
        return Path(path).as_posix()
