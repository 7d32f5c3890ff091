"""Frozen-encoder feature extraction with a disk cache and a did-the-weights-change check.

    source = FeatureSource(encoder, size=64, cache=FeatureCache(dir))
    feats = source.features(imageset)          # dict name -> float32 (N, D) for every encoder feature
    x = source.choice(imageset, "ff+fp")       # one feature choice, '+' concatenates
    source.verify_unchanged()                  # raises if the weights moved since construction
"""
from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm import tqdm

from facessl.data.formats.common import ImageSet
from facessl.errors import FacesslError
from facessl.evaluate.cache import FeatureCache, cache_key, dataset_fingerprint, weights_hash
from facessl.evaluate.images import load_batch


def fastest_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_float_images(batch: np.ndarray, device) -> torch.Tensor:
    """uint8 (N,H,W,3) -> float [0,1] (N,3,H,W) on the device (the Encoder.features input)."""
    tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(device, non_blocking=True)
    return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def feature_names(encoder) -> tuple[str, ...]:
    return tuple(getattr(encoder, "feature_names", ("fs",)))


def available_choices(encoder, requested) -> tuple[list[str], list[str]]:
    """Split requested choices ('fs', 'ff+fp', ...) into those the encoder has and those it lacks."""
    names = set(feature_names(encoder))
    have, lack = [], []
    for choice in requested:
        (have if all(part in names for part in choice.split("+")) else lack).append(choice)
    return have, lack


def combine(feats: dict[str, np.ndarray], choice: str) -> np.ndarray:
    parts = choice.split("+")
    missing = [p for p in parts if p not in feats]
    if missing:
        raise FacesslError(f"feature {missing[0]!r} not produced by this encoder (it has {', '.join(feats)})")
    return feats[parts[0]] if len(parts) == 1 else np.concatenate([feats[p] for p in parts], axis=1)


@torch.no_grad()
def extract(encoder, imageset: ImageSet, size: int, batch_size: int = 256, device=None,
            amp: bool = False, quiet: bool = False, desc: str = "features") -> dict[str, np.ndarray]:
    """All of the encoder's features for every image, float32 numpy (N, D), in eval mode."""
    device = torch.device(device) if device is not None else fastest_device()
    weights = next(encoder.parameters(), None)
    if weights is not None and weights.device.type != device.type:  # e.g. facessl.load()'s CPU encoder, a GPU here
        encoder.to(device)
    was_training = encoder.training
    encoder.eval()
    names = feature_names(encoder)
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    starts = range(0, len(imageset), batch_size)
    bar = tqdm(starts, desc=desc, unit="batch", disable=quiet or not sys.stderr.isatty(), leave=False)
    batch_rows = lambda start: range(start, min(start + batch_size, len(imageset)))
    # the next batch decodes while the model runs on this one (benchmarks/extract_speed.py: 1.04-1.05x on 2 busy CPU
    # cores, 1.05-1.08x with one core left to decoding, as a GPU leaves them all)
    prefetch = ThreadPoolExecutor(1)
    load = lambda start: load_batch(imageset.images, batch_rows(start), size)
    try:
        upcoming = prefetch.submit(load, 0) if len(imageset) else None
        for start in bar:
            index = batch_rows(start)
            decoded = upcoming.result()
            if start + batch_size < len(imageset):
                upcoming = prefetch.submit(load, start + batch_size)
            images = to_float_images(decoded, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                out = encoder.features(images)
            for name in names:
                if name not in out:
                    raise FacesslError(f"encoder.features() returned no {name!r} (feature_names says it should)")
                chunks[name].append(out[name].float().reshape(len(index), -1).cpu().numpy())
    finally:
        prefetch.shutdown(wait=True, cancel_futures=True)
        encoder.train(was_training)
    return {name: np.concatenate(parts) if parts else np.zeros((0, 0), np.float32) for name, parts in chunks.items()}


class FeatureSource:
    """Features of a frozen encoder for ImageSets, cached on disk, with a weight-change check."""

    def __init__(self, encoder, size: int, cache: FeatureCache | None = None, batch_size: int = 256,
                 device=None, amp: bool = False, quiet: bool = False, label: str = "checkpoint"):
        self.encoder, self.size, self.batch_size = encoder, int(size), batch_size
        self.device = torch.device(device) if device is not None else fastest_device()
        self.amp, self.quiet, self.label = amp, quiet, label
        self.cache = cache or FeatureCache(None)
        self.encoder.to(self.device)
        self.weights = weights_hash(encoder)
        self.extract_seconds = 0.0
        self._memory: dict[str, dict[str, np.ndarray]] = {}
        self._keys: dict[int, tuple] = {}
        self._fingerprints: dict[tuple, tuple] = {}

    def _fingerprint(self, imageset: ImageSet) -> str:
        """dataset_fingerprint, once per image list: it stats every file, and the probes ask for the features of
        one set for each part, seed and feature choice (--cv's fold views share their set's list)."""
        ident = (id(imageset.images), len(imageset), str(imageset.source))
        held = self._fingerprints.get(ident)
        if held is None or held[0] is not imageset.images:
            held = (imageset.images, dataset_fingerprint(imageset))
            self._fingerprints[ident] = held
        return held[1]

    def _key_parts(self, imageset: ImageSet) -> dict:
        return {"weights": self.weights, "dataset": self._fingerprint(imageset), "rows": len(imageset),
                "size": self.size, "resize": "pil-bilinear", "names": list(feature_names(self.encoder)),
                "autocast": "bf16" if self.amp else "fp32"}

    def key(self, imageset: ImageSet) -> str:
        """The feature-cache key of an ImageSet (memoised: fingerprinting a file list stats every file)."""
        ident = id(imageset)
        if ident not in self._keys or self._keys[ident][0] is not imageset:
            self._keys[ident] = (imageset, cache_key(self._key_parts(imageset)))
        return self._keys[ident][1]

    def features(self, imageset: ImageSet) -> dict[str, np.ndarray]:
        parts = self._key_parts(imageset)
        key = cache_key(parts)
        self._keys[id(imageset)] = (imageset, key)
        if key in self._memory:
            return self._memory[key]
        feats = self.cache.load(key)
        if feats is None:
            start = time.perf_counter()
            feats = extract(self.encoder, imageset, self.size, self.batch_size, self.device, self.amp,
                            self.quiet, desc=f"{self.label} features")
            self.extract_seconds += time.perf_counter() - start
            self.verify_unchanged()
            self._refuse_non_finite(feats, imageset)
            self.cache.save(key, feats, parts)
        self._memory[key] = feats
        return feats

    def _refuse_non_finite(self, feats: dict, imageset: ImageSet) -> None:
        """NaN/inf features (weights that diverged in training) would give garbage files and scores: stop."""
        for name, values in feats.items():
            bad = ~np.isfinite(values).all(axis=1) if values.size else np.zeros(0, bool)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                example = imageset.images[first] if not isinstance(imageset.images, np.ndarray) else f"row {first}"
                where = getattr(self.encoder, "checkpoint", f"the {self.label} encoder")
                raise FacesslError(f"{where}: non-finite (NaN/inf) '{name}' features for {int(bad.sum())} of {len(bad)} "
                                   f"images (e.g. {example}); its weights diverged in training: use an earlier checkpoint")

    def choice(self, imageset: ImageSet, choice: str) -> np.ndarray:
        return combine(self.features(imageset), choice)

    def verify_unchanged(self) -> None:
        """Raise if the encoder's weights or buffers (e.g. BatchNorm statistics) changed."""
        now = weights_hash(self.encoder)
        if now != self.weights:
            raise FacesslError(f"the {self.label} encoder's weights changed during evaluation "
                               f"(hash {self.weights} -> {now}); a frozen-feature evaluation must not train it")
