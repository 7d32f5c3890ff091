"""Labelled video clips as face rows: what the clip readers (videofolder, ravdess, cremad, mead) share.

A reader lists its clips (`Clip`: the video, its class, its split if the set gives one, who is in it); `clip_set`
finds each clip's faces (data/video/clip_faces.py: `frames` frames evenly spaced, the largest face of each aligned
as `facessl prepare` aligns it) and returns one row per face found. Rows carry 'class' (index into
meta['class_names']), 'clip' (the expression and classification tasks score a clip by the mean of its frames'
class probabilities, as for DFEW) and 'group' (a clip's person, so a split or a validation carve never puts one
person on both sides), plus the reader's own per-clip labels.

Finding faces costs about a second a clip on one core, so the crops are kept: one folder per video under
`<cache>/clip_faces/` (cache: the reader option `cache=DIR`, else $FACESSL_CACHE or ~/.cache/facessl), keyed by
the video's path, size and modification time and the crop settings, each written whole (a killed run keeps the
clips it finished; the rerun does the rest). The work is spread over `workers` processes (default: one per core).

A video that cannot be read, and a clip with no face in any of its frames, are skipped and counted
(meta['unreadable_videos'] names the first of them); so are sampled frames without a face. The crops live in the
cache: label 'frame' (the frame's index in its video) with 'clip' names a row for a user (`embed`: clip@frame).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from facessl.data import face_cache
from facessl.data.face_cache import CropSettings
from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import (SPLIT_SEED, TEST_FRACTION, case_only_meta, grouped_stratified_split,
                                           leave_out_rare_classes)
from facessl.data.formats.imagefiles import add_dropped_names, fraction_option, one_of, whole_number
from facessl.errors import DataFormatError, FacesslError

CACHE_VERSION = 2  # 2: frames chosen again over the decoded ones when a header overstates the count
SHOWN_UNREADABLE = 10
NO_FACE_CLIP = "clip without a face in its sampled frames"
NO_FACE_FRAME = "sampled frame without a face"
NOT_DECODED = "chosen frame the video did not give (broken off)"
UNREADABLE = "video that cannot be read"


@dataclass(frozen=True)
class Clip:
    path: Path  # the video file
    label: str  # its class name
    group: str  # who is in it (actor, subject); the clip's own name when the set does not say
    split: str | None = None  # 'train' / 'val' / 'test' where the set gives it
    labels: dict = field(default_factory=dict)  # more per-clip labels (intensity ...), the same keys on every clip


def crop_settings(reader: str, frames=4, size=128, margin=0.25, crop="detect") -> CropSettings:
    """The reader options checked: frames per clip, crop side, margin (as prepare's), detect | whole."""
    from facessl.data.video.clip_faces import CROPS

    try:
        number = float(margin)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 <= number <= 2:
        raise FacesslError(f"{reader} margin {margin!r}: expected a number from 0 to 2 (prepare's --margin)")
    margin = number
    return CropSettings(whole_number(frames, reader, "frames"), whole_number(size, reader, "size", 16),
                        margin, one_of(crop, CROPS, reader, "crop"))


def clip_set(clips: list[Clip], root: Path, reader: str, settings: CropSettings, *, cache=None, workers=None,
             class_names=None, min_class_count: int = 0, test_fraction=TEST_FRACTION, seed=SPLIT_SEED,
             split_from: str | None = None, meta: dict | None = None, dropped: dict | None = None,
             fixed_classes: bool = False) -> ImageSet:
    """One row per face found in the clips (see the module doc). Without a split on the clips, a seeded split
    stratified by class and grouped by `Clip.group` is made (test_fraction, seed). A class none of whose clips
    gave a face is left out of the class names (and named in meta) unless `fixed_classes`: a set whose class
    numbers are its own (DFEW's) keeps its list whole."""
    dropped = dict(dropped or {})
    if not clips:
        raise DataFormatError(root, f"{reader}: no video clip found")
    (clips,), rare, rare_dropped = leave_out_rare_classes([c.label for c in clips], min_class_count, clips, noun="clips")
    dropped.update(rare_dropped)
    found = find_faces(clips, settings, cache_root(cache), workers, reader)
    images, rows, frame_index, unreadable, faceless_clips = [], [], [], [], []
    for clip, result in zip(clips, found):
        if "error" in result:
            dropped[UNREADABLE] = dropped.get(UNREADABLE, 0) + 1
            unreadable.append(f"{_relative(clip.path, root)}: {result['error']}")
            continue
        for reason, n in ((NO_FACE_FRAME, result["no_face"]), (NOT_DECODED, result["summary"].get("not_decoded"))):
            if n:
                dropped[reason] = dropped.get(reason, 0) + n
        if not result["files"]:
            dropped[NO_FACE_CLIP] = dropped.get(NO_FACE_CLIP, 0) + 1
            faceless_clips.append(_relative(clip.path, root))
            continue
        for name in result["files"]:
            images.append(str(Path(result["folder"]) / name))
            rows.append(clip)
            frame_index.append(int(Path(name).stem))
    if not rows:
        raise DataFormatError(root, f"{reader}: no face found in any of {len(clips)} clips" +
                              (f" ({len(unreadable)} could not be read: {unreadable[0]})" if unreadable else ""))
    faceless = sorted({c.label for c in clips} - {c.label for c in rows})  # nothing left to measure in them
    names = list(class_names) if class_names is not None else sorted({c.label for c in clips})
    names = [n for n in names if n not in rare and (fixed_classes or n not in faceless)]
    index = {n: i for i, n in enumerate(names)}
    labels = {"class": np.array([index[c.label] for c in rows], dtype=np.int64),
              "clip": np.array([_relative(c.path, root) for c in rows]),
              "group": np.array([c.group for c in rows]), "frame": np.array(frame_index, dtype=np.int64)}
    for key in rows[0].labels:
        labels[key] = np.array([c.labels[key] for c in rows])
    if all(c.split is not None for c in rows):
        split = np.array([c.split for c in rows], dtype=object)
    else:
        split = _clip_split(labels, fraction_option(test_fraction, reader), int(seed))
        split_from = (f"seeded ({seed}) split of the clips, stratified by class, {float(test_fraction):.0%} test, "
                      f"grouped by {split_from or 'clip'}")
    info = {"class_names": names, "split_from": split_from, "frames_per_clip": settings.frames,
            "clips": int(len(np.unique(labels["clip"]))), **(meta or {})}
    if rare:
        info["left_out_classes"] = rare
    if faceless:
        info["classes_without_a_face"] = faceless
    if unreadable:
        info["unreadable_videos"] = unreadable[:SHOWN_UNREADABLE]
    info.update(case_only_meta(names))
    data = ImageSet(images, labels, split, str(root), dropped=dropped, meta=info)
    add_dropped_names(data, NO_FACE_CLIP, faceless_clips)  # named, not only counted
    return data


def people_held_out(clips: list[Clip], tested: set | None, person, root: Path, what: str, noun: str,
                    shown=lambda people: ", ".join(map(str, people))) -> tuple[list[Clip], str]:
    """The clips with the tested people's clips in test and the others in train (a set's fixed or chosen test
    people: RAVDESS's folds, test_actors=...), and where that split comes from; one error when a side is empty.
    tested None: the clips as they are, for clip_set's seeded split grouped by person. Either way a set of one
    person is an error, as no person-independent split exists. person(clip) is who is in a clip; shown(people)
    writes a sorted list of them."""
    present = sorted({person(c) for c in clips})
    if len(present) < 2:
        article = "an" if noun[0] in "aeiou" else "a"
        raise DataFormatError(root, f"one {noun} only ({shown(present)}): {article} {noun}-independent split needs "
                                    f"the clips of two or more {noun}s")
    if tested is None:
        return clips, noun
    chosen = sorted(tested & set(present))
    if not chosen:
        raise DataFormatError(root, f"none of the test {noun}s ({shown(sorted(tested))}) is in this copy "
                                    f"({noun}s {shown(present)})")
    if len(chosen) == len(present):
        raise DataFormatError(root, f"the test {noun}s are every {noun} of this copy ({shown(present)}): nothing "
                                    f"is left to train on")
    split = [replace(c, split="test" if person(c) in tested else "train") for c in clips]
    return split, f"{what}: {noun}s {shown(chosen)} test, the other {len(present) - len(chosen)} train"


def _clip_split(labels: dict, test_fraction: float, seed: int) -> np.ndarray:
    """Train / test per row, decided per clip (a clip's frames stay together), whole groups per side."""
    clips, first, inverse = np.unique(labels["clip"], return_index=True, return_inverse=True)
    sides = grouped_stratified_split(labels["class"][first], labels["group"][first], test_fraction, seed)
    return np.asarray(sides, dtype=object)[inverse.reshape(-1)]


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def cache_root(cache=None) -> Path:
    return face_cache.cache_root(cache, "clip_faces")


def find_faces(clips: list[Clip], settings: CropSettings, cache: Path, workers, reader: str) -> list[dict]:
    """Per clip: {'folder', 'files', 'no_face'} (its crops, from the cache or found now) or {'error'}."""
    results, todo = [None] * len(clips), []
    for i, clip in enumerate(clips):
        key = face_cache.input_key(clip.path, settings, CACHE_VERSION)
        if key is None:
            results[i] = {"error": "file not found"}
            continue
        folder = cache / key[:2] / key
        results[i] = _cached(folder)
        if results[i] is None:
            todo.append((i, str(clip.path), str(folder)))
    face_cache.find_missing(_clip_job, todo, settings, workers, cache, reader, "clip", len(clips), results)
    return results


def _cached(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / "faces.json").read_text())
    except (OSError, ValueError):
        return None
    return {**record, "folder": str(folder)}


def _clip_job(job) -> tuple[int, dict]:
    """(row, result) for one clip; the crops and faces.json written into the cache folder whole."""
    from facessl.data.video.clip_faces import clip_faces
    from facessl.data.video.decode import VideoError
    from facessl.data.video.pipeline import encode_jpeg

    i, path, folder = job
    settings = face_cache.WORKER["settings"]
    try:
        crops, summary = clip_faces(path, settings.frames, settings.size, settings.margin,
                                    face_cache.WORKER["detector"], settings.crop)
        record = {"files": [f"{index:06d}.jpg" for index, _ in crops], "no_face": summary["no_face"],
                  "summary": summary}
    except VideoError as exc:
        crops, record = [], {"error": str(exc)[:200]}
    except Exception as exc:  # one odd video costs itself only; not kept, so a rerun tries it again
        return i, {"error": f"unexpected error: {type(exc).__name__}: {str(exc)[:200]}"}
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for (index, crop), name in zip(crops, record.get("files", [])):
            face_cache.write_whole(tmp / name, encode_jpeg(crop))
        face_cache.write_whole(tmp / "faces.json", json.dumps({"video": path, **record}).encode())
        try:
            os.replace(tmp, folder)
        except OSError:  # another process wrote it first: theirs is the same
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return i, {**record, "folder": str(folder)}
