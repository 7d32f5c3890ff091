"""Feature cache on disk: one directory per (weights, dataset, preprocessing), written atomically.

An entry is `<root>/<key[:2]>/<key>/` holding `<feature name>.npy` (float32, N rows) and
`meta.json` (what the key was made of, shapes, when). The key is a hash of
  - the encoder's weights and buffers (weights_hash), so a changed checkpoint never hits,
  - the dataset: its source, the ordered file list with sizes and mtimes (or the bytes of an
    in-memory image array),
  - the preprocessing: input size, resize method, feature names, autocast dtype.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from facessl.data.formats.common import ImageSet
from facessl.engine.io import atomic_path

CACHE_VERSION = 2  # 2: FAb-Net embeds an input larger than its training size by pooling, not resizing


def weights_hash(module: torch.nn.Module) -> str:
    """Hash of every parameter and buffer (names, dtypes, shapes, bytes) of a module."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def dataset_fingerprint(imageset: ImageSet) -> str:
    """Hash of where the images come from and what they are (order matters: rows are features)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(_bytes(str(imageset.source)))
    images = imageset.images
    if isinstance(images, np.ndarray):
        digest.update(f"array{images.shape}{images.dtype}".encode())
        digest.update(np.ascontiguousarray(images).tobytes())
        return digest.hexdigest()
    for item in images:
        if isinstance(item, np.ndarray):
            digest.update(np.ascontiguousarray(item).tobytes())
            continue
        try:
            st = os.stat(getattr(item, "file", item))  # an image inside a container file: the container's
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        box = f"|box{getattr(item, 'box')}" if hasattr(item, "box") else ""  # a face crop of the file (BoxedImage)
        digest.update(_bytes(f"{item}|{stamp}{box}\n"))
    return digest.hexdigest()


def _bytes(text: str) -> bytes:
    """A file name's bytes as the OS gave them: names that are not UTF-8 (Latin-1 from an old zip) reach
    Python as surrogate escapes, which a plain .encode() refuses."""
    return text.encode("utf-8", "surrogateescape")


def cache_key(parts: dict) -> str:
    text = json.dumps({"cache_version": CACHE_VERSION, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def default_cache_dir(out_dir=None) -> Path:
    """`<out>/../.facessl_cache` when an output directory is given, else $FACESSL_CACHE or ~/.cache/facessl."""
    if out_dir is not None:
        return Path(out_dir).resolve().parent / ".facessl_cache"
    env = os.environ.get("FACESSL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "facessl"


def array_hash(array) -> str:
    """Short hash of an array's dtype, shape and bytes (None -> 'none')."""
    if array is None:
        return "none"
    array = np.ascontiguousarray(array)
    if array.dtype == object:
        array = array.astype(str)
    digest = hashlib.blake2b(f"{array.dtype}{array.shape}".encode(), digest_size=16)
    digest.update(array.tobytes())
    return digest.hexdigest()


class FeatureCache:
    """Directory of cached feature arrays and probe outputs; `root=None` disables caching.

    Probe entries (`<root>/probes/<key[:2]>/<key>/`: predictions.npy + summary.json) are keyed by the
    probe's every input: the feature cache keys, the rows, the targets, the probe settings, the seed.
    """

    def __init__(self, root, probes: bool = True):
        self.root = None if root is None else Path(root)
        self.probes = probes  # False: features only, every probe is refitted
        self.hits = 0
        self.misses = 0
        self.probe_hits = 0
        self.probe_misses = 0

    def load_probe(self, key: str):
        """(predictions, summary) of a cached probe fit, or None."""
        if self.root is None or not self.probes:
            return None
        entry = self.root / "probes" / key[:2] / key
        try:
            summary = json.loads((entry / "summary.json").read_text())
            predictions = np.load(entry / "predictions.npy")
        except (OSError, ValueError):
            self.probe_misses += 1
            return None
        self.probe_hits += 1
        return predictions, summary

    def save_probe(self, key: str, predictions: np.ndarray, summary: dict) -> None:
        if self.root is None or not self.probes:
            return
        with atomic_path(self.root / "probes" / key[:2] / key) as tmp:
            tmp.mkdir()
            np.save(tmp / "predictions.npy", np.asarray(predictions))
            (tmp / "summary.json").write_text(json.dumps(summary, sort_keys=True))

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        if self.root is None:
            return None
        entry = self._entry(key)
        try:
            meta = json.loads((entry / "meta.json").read_text())
            feats = {name: np.load(entry / f"{name}.npy") for name in meta["names"]}
        except (OSError, ValueError, KeyError):
            self.misses += 1
            return None  # absent or damaged entry: recompute and overwrite
        if any(len(v) != meta["rows"] for v in feats.values()):
            self.misses += 1
            return None
        self.hits += 1
        return feats

    def save(self, key: str, feats: dict[str, np.ndarray], parts: dict) -> None:
        if self.root is None:
            return
        rows = len(next(iter(feats.values())))
        meta = {"names": list(feats), "rows": rows, "shapes": {k: list(v.shape) for k, v in feats.items()},
                "key_parts": parts, "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
        with atomic_path(self._entry(key)) as tmp:
            tmp.mkdir()
            for name, array in feats.items():
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(array, dtype=np.float32))
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
