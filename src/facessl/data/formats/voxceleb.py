"""VoxCeleb face-track tree (pretraining, unlabelled).

Layout: `<root>/<identity>/<video>/<track>/<frame>.jpg`, e.g. `id10001/1zcIwhmdeo4/00001/0001.jpg`
(VoxCeleb: identity folders `id` + 5 digits, 11-character YouTube video ids, 5-digit track folders,
4-digit 1-based frame numbers). Identity folders of other names are read too: `facessl prepare` names
a video outside VoxCeleb by its path (`talks-2019-a/a/00001/0001.jpg`). Anything at the root that
starts with `_` or `.` is not part of the tree (a synthetic build keeps its ground truth in
`<root>/_truth.jsonl`, never read by training).
Also read, as facessl.data.frames.VoxCelebFrames reads them for pretraining:
- VoxCeleb1's face frames as released, `unzippedFaces/<Name>/1.6/<YouTube id>/0000375.jpg`: the release folder
  (`1.6`) is skipped, the YouTube id is the video and its folder one track (the release does not split it into
  tracks; the frame numbers are the video's). The path may be `unzippedFaces/` or the folder holding it.
- `<identity>/<video>/<frame>.jpg` (a video folder is one track) and `<clip>/<frame>.jpg` (a clip folder is its
  own video and track); folders of frames deeper than `<identity>/<video>/<track>/` are skipped and counted.
- Any image suffix (`.jpg`, `.png` ...); the frame number is the last number in the file name, and frames are
  ordered by it (`2.png` before `10.png`). Files that are not images (FAb-Net's `VISITED` markers) are ignored.
VoxCeleb2 as distributed is videos (`dev/mp4/id00012/21Uxsk56VDQ/00001.mp4`): `facessl prepare` turns them into
this tree (docs/from_videos.md); a tree of videos given here is an error saying so.

Evidence (read, not copied):
- oawiles/FAb-Net FAb-Net/code/VoxCelebData_withmask.py: identities listed from $VOX_CELEB_LOCATION (folders
  starting `id`, Datasets/generate_large_voxceleb.py), then a random video folder, then a track folder (entries
  named `VISITED` skipped), then its `*.jpg` frames: `<id>/<video>/<track>/<frame>.jpg`.
- DreamMr/PCL data_process/expdb.py (`get_list_vox`, `get_vox_image`): each list line is a folder under
  `root`; a random sub-folder of it, then a random image in that: `<identity>/<video>/<frame>`;
  configs/remote_PCL_vox.yaml (`root: ./dataset/vox_aligned/processed_align`).
- VoxCeleb1's unzippedFaces: a face-voice loader builds `face_dir + <name> + '/1.6/' + <YouTube id>` and lists
  the frames in it; other loaders take `unzippedFaces/` as their data path and mirror it as `lm/unzippedFaces/`
  (find_string hits for "unzippedFaces"; repositories not shown).
Unconfirmed: the VGG page itself (not stored), the frame-number padding of every identity (read either way), and
the frame trees of other preprocessing tools (e.g. `<id>#<video>#<start>#<end>.mp4/0000000.png` folders), which
read here as clip folders.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import JPEG_QUALITY, save_image, with_dropped
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.data.formats.truth import TruthWriter, read_truth
from facessl.errors import DataFormatError

IDENTITY_PATTERN = re.compile(r"id\d{5}")
VIDEO_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def identity_folder(index: int) -> str:
    """The VoxCeleb1-style identity folder name of a 0-based identity number: 0 -> id10001."""
    return f"id{10001 + index:05d}"


def video_id(rng: np.random.Generator) -> str:
    """A YouTube-like 11-character video id drawn from `rng` (deterministic)."""
    return "".join(VIDEO_ALPHABET[i] for i in rng.integers(0, len(VIDEO_ALPHABET), size=11))


class VoxCelebWriter:
    """Writes tracks of frames; `close()` writes the ground-truth sidecar if any truth was given."""

    def __init__(self, root, quality: int = JPEG_QUALITY):
        self.root = Path(root)
        self.quality = quality
        self.truth = TruthWriter(self.root)

    def add_track(self, identity: str, video: str, track: int, frames: np.ndarray, truth: dict | None = None) -> list[Path]:
        """frames (T,H,W,3) uint8; truth: label name -> per-frame array (T,...) or a scalar for the whole track."""
        if not IDENTITY_PATTERN.fullmatch(identity):
            raise ValueError(f"identity folder must look like id10001, got {identity!r}")
        folder = self.root / identity / video / f"{track:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for t, frame in enumerate(frames):
            path = folder / f"{t + 1:04d}.jpg"
            save_image(path, frame, self.quality)
            paths.append(path)
            if truth is not None:
                self.truth.add(path, **{k: (v[t] if np.ndim(v) > 0 else v) for k, v in truth.items()})
        return paths

    def close(self) -> None:
        if self.truth.records:
            self.truth.close()


# VoxCeleb1's face-frame release nests a person's videos under a release folder: unzippedFaces/<Name>/1.6/<video>/
RELEASE_FOLDER = re.compile(r"\d+(\.\d+)+")
RELEASE_ROOT = "unzippedFaces"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")


def _frame_folders(id_dir: Path):
    """(video, track, folder) for every folder of frames under an identity folder, sorted: <id>/<video>/<track>/,
    <id>/<release>/<video>/ (VoxCeleb1's unzippedFaces: the video's folder is its one track), <id>/<video>/ (the
    video is one track), <id>/ (a clip folder: its own video and track). Deeper folders are yielded as None."""
    for folder, dirs, files in os.walk(id_dir):
        dirs.sort()
        parts = Path(folder).relative_to(id_dir).parts
        if not any(name.lower().endswith(IMAGE_SUFFIXES) for name in files):
            continue
        if len(parts) == 2 and RELEASE_FOLDER.fullmatch(parts[0]):
            yield parts[1], parts[1], Path(folder)
        elif len(parts) == 2:
            yield parts[0], parts[1], Path(folder)
        elif len(parts) == 1:
            yield parts[0], parts[0], Path(folder)
        elif not parts:
            yield id_dir.name, id_dir.name, Path(folder)
        else:
            yield None, None, Path(folder)


def _frame_number(path: Path) -> int:
    """The frame's number: the last run of digits in its name (0001.jpg, 0000375.jpg, frame_12.png, 0.555.jpg)."""
    digits = re.findall(r"\d+", path.stem)
    if not digits:
        raise DataFormatError(path, "expected a numbered frame such as 0001.jpg")
    return int(digits[-1])


def read_voxceleb(root, with_truth: bool = False, min_frames: int = 1) -> ImageSet:
    """All frames of the tree, sorted. labels: 'identity' (folder name), 'video', 'track' (str), 'frame' (int: the
    number in the file name, 1-based in VoxCeleb's and facessl's trees).

    with_truth=True adds the synthetic ground truth ('pose', 'aus', 'expression', 'identity_index')
    from `<root>/_truth.jsonl`. Tracks shorter than `min_frames` are skipped and counted ('short_track'); folders
    of frames deeper than <identity>/<video>/<track>/ are skipped and counted ('too_deep').
    """
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(root, "VoxCeleb root folder not found")
    if (root / RELEASE_ROOT).is_dir() and not any(IDENTITY_PATTERN.fullmatch(p.name) for p in root.iterdir()):
        root = root / RELEASE_ROOT  # the folder holding VoxCeleb1's unzippedFaces/
    images, identity, video, track, frame = [], [], [], [], []
    dropped = {"short_track": 0, "too_deep": 0}
    for id_dir in sorted(root.iterdir()):
        if id_dir.name.startswith(("_", ".")) or not id_dir.is_dir():
            continue
        for video_name, track_name, folder in _frame_folders(id_dir):
            if video_name is None:
                dropped["too_deep"] += 1
                continue
            files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
            if len(files) < min_frames:
                dropped["short_track"] += 1
                continue
            for number, _, f in sorted((_frame_number(f), f.name, f) for f in files):
                images.append(str(f))
                identity.append(id_dir.name)
                video.append(video_name)
                track.append(track_name)
                frame.append(number)
    if not images:
        raise DataFormatError(root, "no frames found; expected <root>/<identity>/<video>/<track>/<frame>.jpg"
                              + _videos_hint(root))
    labels = {"identity": np.array(identity), "video": np.array(video), "track": np.array(track), "frame": np.array(frame)}
    if with_truth:
        labels.update(_truth_labels(root, images))
    return with_dropped(ImageSet(images, labels, None, str(root)), dropped)


def _videos_hint(root: Path) -> str:
    """What to do with a tree of videos (VoxCeleb2's dev/mp4/id00012/21Uxsk56VDQ/00001.mp4): facessl prepare."""
    for _, _, files in os.walk(root):
        if any(name.lower().endswith(VIDEO_SUFFIXES) for name in files):
            return ("; this tree holds videos (VoxCeleb2's dev/mp4/id00012/21Uxsk56VDQ/00001.mp4): turn them into "
                    "face tracks with `facessl prepare --videos DIR --out DIR` first")
    return ""


def _truth_labels(root: Path, images: list[str]) -> dict[str, np.ndarray]:
    truth = read_truth(root)
    rows = []
    for path in images:
        rel = Path(path).relative_to(root).as_posix()
        if rel not in truth:
            raise DataFormatError(root / "_truth.jsonl", f"no ground truth for frame {rel}")
        rows.append(truth[rel])
    out = {"pose": np.array([r["pose"] for r in rows], dtype=np.float32),
           "aus": np.array([r["aus"] for r in rows], dtype=np.float32),
           "expression": np.array([r["expression"] for r in rows], dtype=np.int64),
           "identity_index": np.array([r["identity"] for r in rows], dtype=np.int64)}
    return out


def track_indices(frames: ImageSet) -> list[np.ndarray]:
    """Row indices of each track (identity, video, track) in frame order, for a read_voxceleb result."""
    keys = np.char.add(np.char.add(frames.labels["identity"], "/"), np.char.add(np.char.add(frames.labels["video"], "/"), frames.labels["track"]))
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.lexsort((frames.labels["frame"], inverse))  # by track, then frame number
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    groups = np.split(order, bounds)
    return [groups[g] for g in np.argsort(first, kind="stable")]  # tracks in order of first appearance
