"""Pretraining frames decoded once into one uint8 tensor in memory (data.in_memory=true).

Decoding a JPEG and resizing it costs more than a small model's step on a CPU (see
benchmarks/step_profile.py); a synthetic pretraining set at 32 px is ~30 MB decoded, so the
whole set is decoded once, in threads (PIL releases the GIL while decoding), and every batch is
then an index into that tensor.

`cached(dataset)` wraps a FrameFiles / TrackTuples dataset and keeps its contract: the same keys
(epoch_keys), the same item dicts, and the same handling of unreadable files: an unreadable frame
is replaced by the next readable file of the list (by another frame of its track for tuples) and
counted in 'skipped' with the first unreadable path.

`data.frames_cache: DIR` keeps the decoded frames on disk (one .npz per file list and size), so that several runs on
the same frames (a demo's pretraining seeds, an ablation's variants) decode them once: 3 s a run for the demo's
9,600 frames (session 36). The key is every file's path, byte size and modification time, so a changed set is
decoded again.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from facessl.data.frames import TrackTuples, decode_image
from facessl.errors import DataFormatError, FacesslError

MAX_CACHE_BYTES = 4 << 30  # beyond this, data.in_memory=true is refused (use data.in_memory=false)


def decode_all(dataset, threads: int = 2) -> tuple[torch.Tensor, np.ndarray]:
    """(frames (N,3,S,S) uint8, readable (N,) bool) of every file of `dataset` at its size."""
    n, size = len(dataset.files), dataset.size
    if not size:
        raise DataFormatError(dataset.root, "data.in_memory=true needs a fixed data.size")
    needed = n * 3 * size * size
    if needed > MAX_CACHE_BYTES:
        raise DataFormatError(dataset.root, f"data.in_memory=true would hold {needed / 2**30:.1f} GiB of frames "
                                            f"(limit {MAX_CACHE_BYTES / 2**30:.0f} GiB); use data.in_memory=false")
    frames = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    readable = np.zeros(n, dtype=bool)

    def load(i):
        img = decode_image(dataset.root / dataset.files[i], size)
        if img is not None:
            frames[i] = img
            readable[i] = True

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(load, range(n), chunksize=256))
    return frames, readable


STORE_VERSION = 1  # part of every stored file's key: a change of decoding makes earlier files stale


def store_path(dataset, folder) -> Path:
    """<folder>/frames-<size>px-<key>.npz of this file list: the key hashes each file's path, size and mtime."""
    digest = hashlib.sha1(f"{STORE_VERSION} {dataset.size} {Path(dataset.root).resolve()}".encode())
    for name in dataset.files:
        try:
            st = os.stat(Path(dataset.root) / name)
            digest.update(f"\n{name} {st.st_size} {st.st_mtime_ns}".encode())
        except OSError:  # unreadable now: decoded as unreadable, keyed as such
            digest.update(f"\n{name} -".encode())
    return Path(folder) / f"frames-{dataset.size}px-{digest.hexdigest()[:20]}.npz"


def decode_stored(dataset, folder, threads: int = 2) -> tuple[torch.Tensor, np.ndarray]:
    """decode_all, read from `folder` when an earlier run stored this file list (and stored there otherwise)."""
    from facessl.engine.io import atomic_path

    path = store_path(dataset, folder)
    n, size = len(dataset.files), dataset.size
    try:
        with np.load(path, allow_pickle=False) as stored:
            frames, readable = stored["frames"], stored["readable"]
        if frames.shape == (n, 3, size, size) and frames.dtype == np.uint8 and readable.shape == (n,):
            return torch.from_numpy(frames), readable.astype(bool)
    except (OSError, ValueError, KeyError):  # not stored yet, or a damaged file: decoded again below
        pass
    frames, readable = decode_all(dataset, threads)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, frames=frames.numpy(), readable=readable)
    except (OSError, FacesslError):  # a read-only or full disk costs only the sharing
        pass
    return frames, readable


class CachedFrames(Dataset):
    """A pretraining dataset served from memory; `base` keeps the file list, keys and track ranges."""

    def __init__(self, base, threads: int = 2, store: str | None = None):
        self.base = base
        self.frames, self.readable = decode_stored(base, store, threads) if store else decode_all(base, threads)
        if not self.readable.any():
            raise DataFormatError(base.root, f"none of the {len(self.readable)} image files could be decoded")
        self.tuples = isinstance(base, TrackTuples)

    def __getattr__(self, name):  # files, root, identities, tracks, ... of the wrapped dataset
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def epoch_keys(self, seed: int, epoch: int) -> list:
        return self.base.epoch_keys(seed, epoch)

    def __len__(self) -> int:
        return len(self.base)

    def _next_readable(self, index: int) -> tuple[int, int, str]:
        """(readable index at or after `index` cyclically, files skipped, first skipped path)."""
        n = len(self.readable)
        for tries in range(n):
            j = (index + tries) % n
            if self.readable[j]:
                return j, tries, str(self.base.files[index % n]) if tries else ""
        raise DataFormatError(self.base.root, "no readable image left in the dataset")

    def _tuple_frame(self, index: int) -> tuple[int, int]:
        """A readable stand-in for frame `index` of a track tuple: (index, files skipped)."""
        if self.readable[index]:
            return index, 0
        start, count = self.base._range[index]
        others = np.flatnonzero(self.readable[start:start + count])
        if len(others):
            return int(start + others[0]), 1
        j, more, _ = self._next_readable(index)
        return j, 1 + more

    def __getitem__(self, key) -> dict:
        if not self.tuples:
            j, skipped, bad = self._next_readable(int(key))
            return {"images": self.frames[j], "skipped": skipped, "skipped_path": bad}
        chosen, skipped, bad = [], 0, ""
        for index in key:
            j, s = self._tuple_frame(int(index))
            skipped += s
            bad = bad or (str(self.base.files[index]) if s else "")
            chosen.append(j)
        return {"images": self.frames[chosen], "skipped": skipped, "skipped_path": bad}


def cached(dataset, threads: int = 2, store: str | None = None) -> CachedFrames:
    return CachedFrames(dataset, threads, store)
