"""VoxCeleb face-track tree (pretraining, unlabelled).

Layout: `<root>/<identity>/<video>/<track>/<frame>.jpg`, e.g. `id10001/1zcIwhmdeo4/00001/0001.jpg`
(VoxCeleb: identity folders `id` + 5 digits, 11-character YouTube video ids, 5-digit track folders,
4-digit 1-based frame numbers). Identity folders of other names are read too: `facessl prepare` names
a video outside VoxCeleb by its path (`talks-2019-a/a/00001/0001.jpg`). Anything at the root that
starts with `_` or `.` is not part of the tree (a synthetic build keeps its ground truth in
`<root>/_truth.jsonl`, never read by training).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import JPEG_QUALITY, save_image, with_dropped
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


def read_voxceleb(root, with_truth: bool = False, min_frames: int = 1) -> ImageSet:
    """All frames of the tree, sorted. labels: 'identity' (folder name), 'video', 'track' (str), 'frame' (int, 1-based).

    with_truth=True adds the synthetic ground truth ('pose', 'aus', 'expression', 'identity_index')
    from `<root>/_truth.jsonl`. Tracks shorter than `min_frames` are skipped and counted.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(root, "VoxCeleb root folder not found")
    images, identity, video, track, frame = [], [], [], [], []
    dropped = {"short_track": 0}
    for id_dir in sorted(root.iterdir()):
        if id_dir.name.startswith(("_", ".")) or not id_dir.is_dir():
            continue
        for video_dir in sorted(p for p in id_dir.iterdir() if p.is_dir()):
            for track_dir in sorted(p for p in video_dir.iterdir() if p.is_dir()):
                frames = sorted(track_dir.glob("*.jpg"))
                if len(frames) < min_frames:
                    dropped["short_track"] += 1
                    continue
                for f in frames:
                    if not f.stem.isdigit():
                        raise DataFormatError(f, "expected a numbered frame such as 0001.jpg")
                    images.append(str(f))
                    identity.append(id_dir.name)
                    video.append(video_dir.name)
                    track.append(track_dir.name)
                    frame.append(int(f.stem))
    if not images:
        raise DataFormatError(root, "no frames found; expected <root>/<identity>/<video>/<track>/<frame>.jpg")
    labels = {"identity": np.array(identity), "video": np.array(video), "track": np.array(track), "frame": np.array(frame)}
    if with_truth:
        labels.update(_truth_labels(root, images))
    return with_dropped(ImageSet(images, labels, None, str(root)), dropped)


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
