"""What every part of a synthetic benchmark build needs: seeded streams, identities, batched rendering.

Identities: global identity index i has fixed parameters (a function of the seed and i only, drawn in
chunks of 64), and every part/split owns its own block of indices (see identity_block), so the
pretraining set, each evaluation set, and each evaluation set's train/test parts never share a face.

Conventions at this boundary (the renderer's -> facessl's internal ones used by every format):
- pose: the renderer and facessl both use (yaw, pitch, roll) degrees; RENDER_POSE_SIGN maps an
  internal pose to the renderer's (see facessl.data.formats.aflw2000 for the internal signs).
- landmarks: the renderer's pixel i spans [i, i+1); facessl's 0-based landmarks put pixel i's centre
  at i, so internal = renderer - 0.5.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from facessl.data.formats.truth import TruthWriter

IDENTITY_CHUNK = 64
PART_BLOCK = 1_000_000  # identity indices per part
SPLIT_BLOCK = 100_000  # identity indices per split within a part
RENDER_BATCH = 256
# internal (yaw, pitch, roll) * RENDER_POSE_SIGN = renderer pose (checked against rendered images in tests)
RENDER_POSE_SIGN = torch.tensor([-1.0, 1.0, -1.0])  # renderer: +yaw faces image right, +roll counter-clockwise
LANDMARK_OFFSET = 0.5


def mix_seed(*keys) -> int:
    """A stable 63-bit seed from any keys (hash of their repr; the same on every platform and run)."""
    return int.from_bytes(hashlib.sha256(repr(keys).encode()).digest()[:8], "little") >> 1


@lru_cache(maxsize=256)
def _identity_chunk(seed: int, chunk: int) -> torch.Tensor:
    from facessl.data.synthetic import sample_identities

    return sample_identities(IDENTITY_CHUNK, torch.Generator().manual_seed(mix_seed(seed, "identity", chunk)))


def identity_params(seed: int, indices) -> torch.Tensor:
    """(n, N_ID_PARAMS) parameters of global identity indices."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    rows = [_identity_chunk(seed, int(i) // IDENTITY_CHUNK)[int(i) % IDENTITY_CHUNK] for i in indices]
    return torch.stack(rows) if rows else torch.empty(0, 0)


def identity_block(part_number: int, split_number: int, n: int) -> np.ndarray:
    """The global identity indices of a split of a part: disjoint from every other (part, split)."""
    if n > SPLIT_BLOCK:
        raise ValueError(f"at most {SPLIT_BLOCK} identities per split, asked for {n}")
    start = part_number * PART_BLOCK + split_number * SPLIT_BLOCK
    return np.arange(start, start + n)


@dataclass
class PartContext:
    """One part being built into `root` (a temporary folder renamed into place when complete)."""

    name: str
    part_number: int
    root: Path
    counts: dict
    seed: int
    size: int
    quiet: bool = True
    splits: dict = field(default_factory=dict)  # split name -> identity indices
    images_written: int = 0

    def __post_init__(self):
        self.generator = torch.Generator().manual_seed(mix_seed(self.seed, self.name, "torch"))
        self.rng = np.random.default_rng(mix_seed(self.seed, self.name, "numpy"))
        self.truth = TruthWriter(self.root)
        self._bar = None

    def identities(self, split: str) -> np.ndarray:
        return self.splits[split]

    def progress(self, total: int):
        from tqdm import tqdm

        quiet = self.quiet or not sys.stderr.isatty()
        self._bar = tqdm(total=total, desc=f"synth {self.name}", unit="img", disable=quiet, leave=False, dynamic_ncols=True)
        return self._bar

    def render_batches(self, identities, pose, aus, scene=None):
        """Render faces batch by batch: yields (start, images (b,H,W,3) uint8, landmarks (b,68,2) float32).

        identities: global indices (n,); pose (n,3) internal degrees; aus (n,8); scene: renderer scene
        dict with n rows (sampled when None). Landmarks are 0-based pixel centres.
        """
        from facessl.data.synthetic import render, sample_scene

        identities = np.asarray(identities).reshape(-1)
        pose, aus = torch.as_tensor(pose, dtype=torch.float32), torch.as_tensor(aus, dtype=torch.float32)
        n = len(identities)
        if scene is None:
            scene = sample_scene(n, self.generator)
        for lo in range(0, n, RENDER_BATCH):
            hi = min(n, lo + RENDER_BATCH)
            out = render(identity_params(self.seed, identities[lo:hi]), pose[lo:hi] * RENDER_POSE_SIGN, aus[lo:hi],
                         {k: v[lo:hi] for k, v in scene.items()}, size=self.size, generator=self.generator)
            self.images_written += hi - lo
            if self._bar is not None:
                self._bar.update(hi - lo)
            yield lo, out.images.numpy(), out.landmarks.numpy().astype(np.float32) - LANDMARK_OFFSET

    def render(self, identities, pose, aus, scene=None):
        """All of render_batches at once: images (n,H,W,3) uint8, landmarks (n,68,2) float32."""
        parts = list(self.render_batches(identities, pose, aus, scene))
        return np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self.truth.records:
            self.truth.close()


def sample_expressions(n: int, proportions, rng: np.random.Generator) -> np.ndarray:
    """n internal expression indices with the given class proportions (exact counts, shuffled)."""
    p = np.asarray(proportions, dtype=np.float64)
    counts = np.floor(p / p.sum() * n).astype(int)
    counts[np.argsort(-(p / p.sum() * n - counts))[: n - counts.sum()]] += 1
    labels = np.repeat(np.arange(len(p)), counts)
    return rng.permutation(labels)


def assign_identities(n_images: int, identities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Spread n_images over the identities as evenly as possible (each used at least once when possible), shuffled."""
    reps = np.resize(identities, n_images)
    return rng.permutation(reps)
