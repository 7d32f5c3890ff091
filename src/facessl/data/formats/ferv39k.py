"""FERV39k (Wang et al., CVPR 2022: 38,935 clips, 4 scenarios of 22 scenes, 7 expressions), as distributed
(Baidu / Google Drive, in parts that may be unpacked in different folders):

    FERV39k/2_ClipsforFaceCrop/Action/Sad/0010/00.jpg ...       face-crop frames, one folder per clip
    FERV39k/4_setups/All_scenes/train_All.csv, test_All.csv     `Action/Sad/0010 Sad`: no header, space separated
    FERV39k/4_setups/22_scenes/train_Action.csv, test_Action.csv ...   the same lines, one scene per pair of files

Variants read: each part found in the path given or up to five folders below it (a Drive download folder
`drive-download-.../4_setups/`, `2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/` as its archive unpacks,
`Image/CropFace/2_ClipsforFaceCrop/`); the frames of one copy may be spread over several `2_ClipsforFaceCrop/`
folders (the archive's parts unpacked side by side): a clip is looked for in each. A folder nested in one of
its own name (`2_ClipsforFaceCrop/2_ClipsforFaceCrop/`) is read as one. Frame files are ordered by the last
number in their name (`00.jpg` ... `117.jpg`), never by text. The original scene frames (`3_ClipsforScenImages`)
are not read.

Labels: the split file's word (Happy, Sad, Neutral, Angry, Surprise, Disgust, Fear; any case) mapped to
facessl's EXPRESSIONS; the clip path is `Scene/Emotion/NNNN` (the last three parts of the first field are used,
so `\\` separators or a longer path are read too). CRLF, BOM and a header line (`path label`) are read.

Protocol: one fixed split, no folds: train_All.csv is 'train', test_All.csv 'test' (there is no validation
split: the probe carves its own from train, grouped by clip). Option scene=NAME (default All) reads
train_NAME.csv / test_NAME.csv instead (the per-scene setups in 4_setups/22_scenes/). Each clip gives `frames`
rows (default 4): frames evenly spaced over its frame files, as for DFEW. Row labels: 'expression', 'clip' (the
clip path `Action/Sad/0010`: evaluation pools a clip's frames), 'subject' = the clip (FERV39k names no people),
'scene' (`Action`). A listed clip without a folder, or with no frame in it, is skipped and counted.

Sources (read, not copied): wangyanckxx/FERV39k README and the project page (4 scenarios, 22 scenes, 7 classes;
Drive / Baidu download); sunlicai/MAE-DFER preprocess/ferv39k.py and saved/data/ferv39k/all_scenes/test.csv
(`4_setups/All_scenes/{train,test}_All.csv` read space separated without header, `2_ClipsforFaceCrop/<path>`,
clip ids 0000-...); loaders that read `2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/*.jpg`
with `drive-download-.../4_setups/All_scenes/` and `4_setups/22_scenes/{train,test}_<Scene>.csv` (frames
`00.jpg`..., a variable number per clip).
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
    holder, clip_roots, setups, stop = None, [], {}, None
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
        if holder is None and scene.lower() in setups:
            holder = setups[scene.lower()][1]
        if holder is not None and clip_roots and stop is None:
            stop = d + 1  # one level more: the archive's other parts may sit one folder deeper
    if holder is None:
        if not setups:
            raise DataFormatError(root, f"FERV39k not found: expected 4_setups/All_scenes/train_All.csv and "
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
    """A split file: clip path `Scene/Emotion/NNNN` -> internal expression index."""
    out = {}
    for number, line in enumerate(read_lines(path, "FERV39k split file"), start=1):
        fields = line.split()
        if not fields:
            continue
        if not out and fields[0].lower() in HEADER_WORDS:  # a header row
            continue
        if len(fields) != 2:
            raise DataFormatError(path, f"expected 'Scene/Emotion/0000 Emotion' (2 fields), got {len(fields)}", number)
        out[_clip_key(fields[0], path, number)] = _expression(fields[1], path, number)
    return out


def _clip_key(text: str, path: Path, line: int) -> str:
    parts = [p for p in text.replace("\\", "/").split("/") if p and p != "."]
    if len(parts) < 3:
        raise DataFormatError(path, f"clip {text!r}: expected a clip path Scene/Emotion/0000", line)
    return "/".join(parts[-3:])


def _expression(text: str, path: Path, line: int) -> int:
    word = text.strip().lower()
    name = FERV39K_WORDS.get(word, word if word in EXPRESSIONS else None)
    if name is None:
        raise DataFormatError(path, f"label {text!r}: expected one of Happy, Sad, Neutral, Angry, Surprise, Disgust, "
                                    f"Fear", line)
    return EXPRESSIONS.index(name)


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix() or "."
    except ValueError:
        return Path(path).as_posix()
