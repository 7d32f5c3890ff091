"""Pretraining datasets: uint8 frames (3,H,W) or track tuples (K,3,H,W); no augmentation here.

Sampling is a pure function of (seed, epoch): `epoch_keys(seed, epoch)` lists the items of an
epoch in order, and `StreamSampler` lays the epochs end to end into one infinite stream cut into
global batches. Batch b is stream[b*G:(b+1)*G] whatever the number of processes (rank r reads
its slice of it), so resuming at step s only needs s, and K processes see the same global batch
as one.

A file that cannot be decoded is replaced by the next readable file of the list and counted in
the item's 'skipped' field (the trainer sums and reports them per epoch).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from facessl.data.image_decode import IMAGE_SUFFIXES, decode_errors, read_rgb
from facessl.errors import DataFormatError
from facessl.wording import counted

# Sidecars that facessl itself writes beside frames (prepare.json, track.json, _truth.jsonl): expected, not "skipped".
SIDECAR_EXTENSIONS = (".json", ".jsonl")


def list_images(root: Path) -> list[str]:
    """Image files under root as sorted POSIX paths relative to root (symlinked folders followed)."""
    return [f for f in walk_files(root) if f.lower().endswith(IMAGE_SUFFIXES)]


def walk_files(root, cache: bool = False) -> list[str]:
    """Every file under root as POSIX paths relative to root, in walk order with sorted names. Symlinked folders are followed
    (each real folder once: a link cycle cannot loop). cache=True keeps the listing in a file index
    (facessl.data.file_index), so a million-file tree is not walked again while it is unchanged."""
    if cache:
        from facessl.data.file_index import cached_walk

        return cached_walk(Path(root))
    return _walk(Path(root))[0]


STATE_FOLDERS = (".facessl", ".prepare")  # facessl's own bookkeeping at a data root, never data


def _walk(root: Path) -> tuple[list[str], dict[str, int]]:
    """(files, {folder: mtime_ns}) under root."""
    files, folders, seen = [], {}, set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        rel = Path(dirpath).relative_to(root)
        folders[rel.as_posix()] = os.stat(dirpath).st_mtime_ns
        dirnames[:] = sorted(d for d in dirnames if not (rel == Path(".") and d in STATE_FOLDERS))
        files += [(rel / f).as_posix() for f in sorted(filenames)]
    return files, folders  # walk order (folders sorted, files sorted per folder), as before the cache


def decode_image(path, size: int | None) -> torch.Tensor | None:
    """uint8 (3,size,size) RGB, or None when the file cannot be read or decoded (image_decode.read_rgb)."""
    try:
        arr = read_rgb(path, size)
    except decode_errors():
        return None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, counts) of the runs of equal consecutive values."""
    starts = np.concatenate([[0], np.flatnonzero(labels[1:] != labels[:-1]) + 1]).astype(np.int64)
    return starts, np.diff(np.append(starts, len(labels)))


class FrameFiles(Dataset):
    """Base: a sorted list of image files under `root`, decoded at `size`."""

    def __init__(self, root, size: int | None = 64):
        self.root = Path(root)
        if self.root.is_file():
            raise DataFormatError(self.root, "a file; expected the folder of prepared frames (facessl prepare --out)")
        if not self.root.is_dir():
            raise DataFormatError(self.root, "dataset directory not found")
        self.size = size
        self.skipped: dict[str, tuple[int, str]] = {}  # why -> (count, an example), for summary()
        self.files = np.array(self._scan())  # a numpy array, not a list: no refcount copies in workers
        if len(self.files) == 0:
            from facessl.data.video.decode import list_videos

            videos = list_videos(self.root)
            if videos:  # raw videos handed straight to pretraining: they want faces cut out first
                raise DataFormatError(self.root, f"no images found, but {len(videos)} video file(s) (e.g. {videos[0]}): "
                                                 f"cut the faces out first, facessl prepare --videos {self.root} --out "
                                                 "FOLDER, then pretrain on FOLDER")
            raise DataFormatError(self.root, f"no images found ({self.layout_hint})")
        self._check_one_readable()

    layout_hint = "expected image files"

    def _scan(self) -> list[str]:
        files = walk_files(self.root, cache=True)
        images = [f for f in files if f.lower().endswith(IMAGE_SUFFIXES)]
        self._skip("not an image file", [f for f in files if not f.lower().endswith(IMAGE_SUFFIXES + SIDECAR_EXTENSIONS)])
        return images

    def _skip(self, why: str, files: list[str]) -> None:
        if files:
            self.skipped[why] = (len(files), files[0])

    def summary(self) -> str:
        """What was found and what was left out, printed before training."""
        text = f"data: {counted(len(self.files), 'image')} under {self.root}"
        return text + "".join(f"; skipped {n} {why} (e.g. {example})" for why, (n, example) in self.skipped.items())

    def _check_one_readable(self):
        for rel in self.files:
            if decode_image(self.root / rel, self.size) is not None:
                return
        raise DataFormatError(self.root, f"none of the {len(self.files)} image files could be decoded")

    def load_or_next(self, index: int) -> tuple[torch.Tensor, int, str]:
        """Frame `index`, or the next readable one; returns (image, files skipped, the skipped paths joined by
        newlines). Items carry the first as 'skipped_path' and all as 'skipped_paths': the trainer counts
        each unreadable file once, however many items passed over it."""
        n = len(self.files)
        bad = []
        for tries in range(n):
            rel = self.files[(index + tries) % n]
            img = decode_image(self.root / rel, self.size)
            if img is not None:
                return img, tries, "\n".join(bad)
            bad.append(str(rel))
        raise DataFormatError(self.root, "no readable image left in the dataset")

    def epoch_keys(self, seed: int, epoch: int) -> list:  # every image, shuffled
        return np.random.default_rng([seed, epoch]).permutation(len(self.files)).tolist()

    def __len__(self) -> int:  # items per epoch
        return len(self.epoch_keys(0, 0))

    def __getitem__(self, key) -> dict:
        img, skipped, bad = self.load_or_next(int(key))
        return {"images": img, "skipped": skipped, "skipped_path": bad.split("\n")[0], "skipped_paths": bad}


class ImageFolderFrames(FrameFiles):
    """Every image under `root` (any folder structure), each once per epoch."""


# VoxCeleb1's frame release nests every video of a person under a release folder:
# unzippedFaces/<Name>/1.6/<youtube id>/<frame>.jpg. That folder is not a video; the one below it is.
RELEASE_FOLDER = re.compile(r"\d+(\.\d+)+")


def video_of(parts: list[str]) -> str:
    """The video a frame belongs to, from its path parts under the root: <identity>/<video>/<track>/<frame> gives
    <identity>/<video>; <identity>/<video>/<frame> and <clip>/<frame> give the frames' folder's own path up to
    the video; in VoxCeleb1's <Name>/1.6/<video>/<frame> the release folder is skipped."""
    if len(parts) == 4 and RELEASE_FOLDER.fullmatch(parts[1]):
        return "/".join(parts[:3])
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def per_identity_hint(sampling: str, unit: str, identities: int) -> str:
    """What to change when an epoch of one `unit` per identity is smaller than a batch (empty for other samplings)."""
    if sampling != "per_identity":
        return ""
    return (f"data.sampling=per_identity takes one {unit} of each of the {identities} identities an epoch; with few "
            "identities data.sampling=all_frames takes every one")


class VoxCelebFrames(FrameFiles):
    """Frames of a face-track tree `<root>/<identity>/<video>/<track>/<frame>.jpg` (VoxCeleb layout).

    Shallower trees of frame folders are read too, the folder holding the frames being the track:
    `<identity>/<video>/<frame>.jpg` (YouTube Faces' frame_images_DB: a video is one track) and
    `<clip>/<frame>.jpg` (a folder per clip: the clip is its own identity, video and track).
    sampling='per_identity': an epoch takes, for every identity, one random frame of one random
    video (as the PCL reference); 'all_frames': every frame once per epoch.
    """

    layout_hint = ("expected <root>/<identity>/<video>/<track>/<frame>.jpg (or <identity>/<video>/<frame>.jpg, "
                   "<clip>/<frame>.jpg); use data.layout=folder for plain folders")

    def __init__(self, root, sampling: str = "per_identity", size: int | None = 64):
        if sampling not in ("per_identity", "all_frames"):
            raise ValueError(f"sampling must be 'per_identity' or 'all_frames', got {sampling!r}")
        self.sampling = sampling
        super().__init__(root, size)
        parts = [f.split("/") for f in self.files]
        self.identity = np.array([p[0] for p in parts])
        self.video = np.array([video_of(p) for p in parts])
        self.track = np.array(["/".join(p[:-1]) for p in parts])  # the folder holding the frames
        # the walk lists each identity, video and track contiguously: index them by runs, in O(files)
        id_starts, _ = runs(self.identity)
        self.identities = self.identity[id_starts].tolist()
        v_starts, v_counts = runs(self.video)
        owner = np.searchsorted(id_starts, v_starts, side="right") - 1
        ranges = np.stack([v_starts, v_counts], 1)
        self._videos = np.split(ranges, np.flatnonzero(np.diff(owner)) + 1)  # per identity: (start, count) of its videos
        self._id_starts = id_starts

    def _scan(self):  # root entries starting with '_' or '.' (e.g. a synthetic build's sidecars) are not data
        images = super()._scan()
        hidden = [f for f in images if f.startswith(("_", "."))]
        loose = [f for f in images if "/" not in f and not f.startswith(("_", "."))]
        self._skip("images under a root entry starting with _ or .", hidden)
        self._skip("images at the root, not in a folder of frames", loose)
        return [f for f in images if "/" in f and not f.startswith(("_", "."))]

    def summary(self) -> str:
        head = (f"data: {counted(len(self.files), 'image')}, {counted(len(self.identities), 'identity')}, "
                f"{counted(len(set(self.video.tolist())), 'video')}, {counted(len(runs(self.track)[0]), 'track')} "
                f"under {self.root}")
        depth = np.char.count(self.files.astype(str), "/")
        shallow = {2: "<identity>/<video>/<frame> (a video folder is one track)", 1: "<clip>/<frame> (a clip folder is "
                   "its identity, video and track)"}
        notes = "".join(f"; {int((depth == d).sum())} images read as {how}" for d, how in shallow.items() if (depth == d).any())
        released = np.array([RELEASE_FOLDER.fullmatch(f.split("/")[1]) is not None for f in self.files]) & (depth == 3)
        if released.any():
            notes += f"; {int(released.sum())} images read as VoxCeleb1's <identity>/<release>/<video>/<frame>"
        if len(self.identities) == 1 and len(self._videos[0]) > 1:
            notes += (f"; every frame is under one identity folder {self.identities[0]!r}: if it holds the identities, "
                      f"point --data at {self.root / self.identities[0]}")
        return head + notes + FrameFiles.summary(self).split(str(self.root), 1)[1]

    @property
    def small_epoch_hint(self) -> str:
        return per_identity_hint(self.sampling, "frame (track)", len(self.identities))

    def epoch_keys(self, seed: int, epoch: int) -> list:
        rng = np.random.default_rng([seed, epoch])
        if self.sampling == "all_frames":
            return rng.permutation(len(self.files)).tolist()
        keys = []
        for i in rng.permutation(len(self.identities)):
            start, count = self._videos[i][rng.integers(len(self._videos[i]))]
            keys.append(int(start + rng.integers(count)))
        return keys


class TrackTuples(VoxCelebFrames):
    """k frames of one face track per item (FAb-Net): uint8 (k,3,H,W), frames in random order.

    sampling='per_identity': one random track per identity per epoch; 'all_frames': every track
    (with at least k frames) once per epoch. An unreadable frame is replaced by another of its track.
    """

    def __init__(self, root, k: int = 2, sampling: str = "per_identity", size: int | None = 64):
        super().__init__(root, sampling, size)
        self.k = int(k)
        starts, counts = runs(self.track)
        self._range = np.repeat(np.stack([starts, counts], 1), counts, axis=0)  # per file: (track start, count)
        keep = counts >= self.k
        self._skip(f"tracks shorter than {self.k} frames (data.frames_per_tuple)",
                   [self.track[s] for s in starts[~keep]])
        if not keep.any():
            raise DataFormatError(self.root, f"no face track has at least {self.k} frames (data.frames_per_tuple)")
        self.tracks = [(int(s), int(c)) for s, c in zip(starts[keep], counts[keep])]
        owner = np.searchsorted(self._id_starts, starts[keep], side="right") - 1
        self._tracks_of = np.split(np.arange(len(self.tracks)), np.flatnonzero(np.diff(owner)) + 1)

    def epoch_keys(self, seed: int, epoch: int) -> list:
        rng = np.random.default_rng([seed, epoch])
        if self.sampling == "all_frames":
            chosen = rng.permutation(len(self.tracks))
        else:
            chosen = [tr[rng.integers(len(tr))] for tr in (self._tracks_of[i] for i in rng.permutation(len(self._tracks_of)))]
        keys = []
        for t in chosen:
            start, count = self.tracks[int(t)]
            keys.append(tuple(int(start + f) for f in rng.choice(count, size=self.k, replace=False)))
        return keys

    def __getitem__(self, key) -> dict:
        frames, skipped, bad = [], 0, []
        for index in key:
            img = decode_image(self.root / self.files[index], self.size)
            if img is None:
                skipped, bad = skipped + 1, bad + [str(self.files[index])]
                start, count = self._range[index]
                for other in range(start, start + count):  # another frame of the same track
                    img = decode_image(self.root / self.files[other], self.size)
                    if img is not None:
                        break
                if img is None:  # the whole track is unreadable
                    img, more, paths = self.load_or_next(index)
                    skipped, bad = skipped + more, bad + paths.split("\n")
            frames.append(img)
        return {"images": torch.stack(frames), "skipped": skipped, "skipped_path": bad[0] if bad else "",
                "skipped_paths": "\n".join(bad)}


class StreamSampler(Sampler):
    """Infinite, deterministic stream of dataset keys for one rank.

    Epochs e = 0, 1, ... of `dataset.epoch_keys(seed, e)` are laid end to end; global batch b is
    stream[b*G:(b+1)*G] (G = global_batch) and this rank yields its contiguous slice of it,
    starting at global batch `start_batch` (the resume position).
    """

    def __init__(self, dataset, seed: int, global_batch: int, rank: int = 0, world_size: int = 1, start_batch: int = 0):
        if global_batch % world_size:
            raise ValueError(f"global batch {global_batch} is not divisible by {world_size} processes")
        self.dataset, self.seed, self.global_batch = dataset, int(seed), int(global_batch)
        self.rank, self.world_size, self.start_batch = rank, world_size, int(start_batch)
        self.epoch_length = len(dataset.epoch_keys(self.seed, 0))

    def epoch_of_batch(self, batch_index: int) -> int:
        return (batch_index * self.global_batch) // self.epoch_length

    def __iter__(self):
        local = self.global_batch // self.world_size
        lo, hi = self.rank * local, (self.rank + 1) * local
        pos = self.start_batch * self.global_batch
        epoch, offset = divmod(pos, self.epoch_length)
        keys = self.dataset.epoch_keys(self.seed, epoch)
        chunk = []
        while True:
            take = keys[offset:offset + self.global_batch - len(chunk)]
            chunk += take
            offset += len(take)
            if offset >= len(keys):
                epoch, offset = epoch + 1, 0
                keys = self.dataset.epoch_keys(self.seed, epoch)
            if len(chunk) == self.global_batch:
                yield from chunk[lo:hi]
                chunk = []


def build_dataset(data_cfg, data_kind: str):
    """The dataset a method needs: frames ('frames') or track tuples ('tuples'), from facessl.config.DataConfig.

    A folder holding tar shards (`index.json`, or `shards/index.json` as `facessl prepare --format
    shards` writes) is streamed (facessl.data.shards), sampled as data.sampling says."""
    if data_cfg.path is None:
        raise DataFormatError("data.path", "no pretraining data given (use --data DIR or data.path=DIR)")
    from facessl.data import shards

    if shards.find_index(data_cfg.path) is not None:
        if data_kind == "tuples":
            return shards.ShardTuples(data_cfg.path, data_cfg.frames_per_tuple, data_cfg.size, data_cfg.sampling)
        return shards.ShardFrames(data_cfg.path, data_cfg.size, data_cfg.sampling)
    if data_kind == "tuples":
        if data_cfg.layout != "voxceleb":
            raise DataFormatError(data_cfg.path, "track tuples need data.layout=voxceleb (frames grouped in tracks)")
        return TrackTuples(data_cfg.path, data_cfg.frames_per_tuple, data_cfg.sampling, data_cfg.size)
    if data_cfg.layout == "folder":
        return ImageFolderFrames(data_cfg.path, data_cfg.size)
    return VoxCelebFrames(data_cfg.path, data_cfg.sampling, data_cfg.size)
