"""Tiny in-memory datasets and a toy encoder for the evaluation tests (no readers, no checkpoints)."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facessl.data.formats.common import ImageSet, PairSet
from facessl.methods.base import Encoder


class ToyEncoder(Encoder):
    """A fixed random conv net: fs = pooled 8x4x4 map, ff / fp = its two halves."""

    feature_names = ("fs", "ff", "fp")

    def __init__(self, seed=0, input_size=16):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.input_size = input_size
        self.calls = 0

    def features(self, images):
        self.calls += 1
        h = F.adaptive_avg_pool2d(torch.tanh(self.bn(self.conv(images))), 4).flatten(1)
        raw = F.adaptive_avg_pool2d(images, 2).flatten(1)  # keeps colour/brightness cues linear
        fs = torch.cat([h, raw], 1)
        return {"fs": fs, "ff": fs[:, :64], "fp": fs[:, 64:]}


class DriftingEncoder(ToyEncoder):
    """Changes its own weights while extracting features (what the weight check must catch)."""

    def features(self, images):
        with torch.no_grad():
            self.conv.weight.add_(1e-3)
        return super().features(images)


def expression_set(n=160, size=16, seed=0, splits=("train", "test"), classes=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    colours = rng.integers(40, 215, (classes, 3))
    images = np.clip(colours[y][:, None, None, :] + rng.normal(0, 25, (n, size, size, 3)), 0, 255).astype(np.uint8)
    split = np.where(np.arange(n) < int(n * 0.7), splits[0], splits[-1]).astype(object)
    return ImageSet(images, {"expression": y, "identity": np.arange(n) % 20}, split, source=f"toy-expr-{seed}")


def pose_set(n=120, size=16, seed=0):
    """Brightness gradients whose direction/strength follow yaw and pitch; roll constant-ish."""
    rng = np.random.default_rng(seed)
    pose = np.stack([rng.uniform(-60, 60, n), rng.uniform(-30, 30, n), rng.normal(0, 2, n)], 1)
    xs = np.linspace(-1, 1, size)
    gx, gy = np.meshgrid(xs, xs)
    base = 128 + pose[:, 0, None, None] * gx * 1.5 + pose[:, 1, None, None] * gy * 2
    images = np.clip(base[..., None] + rng.normal(0, 4, (n, size, size, 3)), 0, 255).astype(np.uint8)
    return ImageSet(images, {"pose": pose, "identity": np.arange(n) % 15}, None, source=f"toy-pose-{seed}")


def au_set(n=180, size=16, seed=0, subjects=6):
    rng = np.random.default_rng(seed)
    aus = rng.integers(0, 6, (n, 8)).astype(float)
    images = np.empty((n, size, size, 3), np.uint8)
    images[:] = np.clip(aus[:, None, None, :3] * 40 + rng.normal(0, 10, (n, size, size, 3)), 0, 255).astype(np.uint8)
    images[:, : size // 2, :, 0] = np.clip(aus[:, 3:4] * 40, 0, 255)[:, :, None].astype(np.uint8)
    return ImageSet(images, {"aus": aus, "subject": np.array([f"SN{i % subjects:03d}" for i in range(n)])},
                    None, source=f"toy-au-{seed}")


def landmark_set(n=100, k=5, seed=0, width=24, height=20):
    rng = np.random.default_rng(seed)
    points = np.stack([rng.uniform(4, width - 4, (n, k)), rng.uniform(4, height - 4, (n, k))], axis=2)
    images = np.full((n, height, width, 3), 60, np.uint8)
    for i in range(n):  # a bright dot at the first point
        x, y = points[i, 0].astype(int)
        images[i, max(0, y - 2):y + 2, max(0, x - 2):x + 2] = 250
    split = np.where(np.arange(n) < 70, "train", "test").astype(object)
    return ImageSet(images, {"landmarks": points}, split, source=f"toy-lm-{seed}")


def pair_set(identities=30, per_identity=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 255, (identities, size, size, 3))
    ident = np.repeat(np.arange(identities), per_identity)
    images = np.clip(protos[ident] + rng.normal(0, 30, (len(ident), size, size, 3)), 0, 255).astype(np.uint8)
    pairs, same = [], []
    for i in range(0, len(ident) - 1, 2):
        pairs.append((i, i + 1))
        same.append(ident[i] == ident[i + 1])
        pairs.append((i, (i + 2 * per_identity + 1) % len(ident)))
        same.append(False)
    pairs, same = np.array(pairs), np.array(same)
    fold = np.arange(len(pairs)) * 10 // len(pairs)
    return PairSet(ImageSet(images, {"identity": ident}, None, source=f"toy-pairs-{seed}"), pairs, same, fold,
                   source=f"toy-pairs-{seed}")
