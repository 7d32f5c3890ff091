"""Shared by the trainer tests: a tiny face-track tree on disk and a tiny CPU config."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facessl.config import load_config

torch.set_num_threads(1)  # tiny models: more threads only add contention on the shared 2-core machine


def make_track_tree(root, identities=3, videos=2, tracks=2, frames=4, size=64, seed=0, blocks=False) -> Path:
    """Random JPEGs in the VoxCeleb layout root/id#####/<video>/<track>/<frame>.jpg.

    Each identity gets its own mean colour plus pixel noise; with blocks=True every frame is instead
    a distinct 4x4 mosaic of colours (crops of one frame share colours: easy to learn from)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for i in range(identities):
        base = rng.integers(40, 215, 3)
        for v in range(videos):
            for t in range(tracks):
                d = root / f"id{i:05d}" / f"vid{v:02d}" / f"{t:05d}"
                d.mkdir(parents=True, exist_ok=True)
                for f in range(frames):
                    if blocks:
                        img = rng.integers(0, 255, (4, 4, 3)).repeat(size // 4, 0).repeat(size // 4, 1).astype(np.uint8)
                    else:
                        img = np.clip(base + rng.integers(-40, 40, (size, size, 3)), 0, 255).astype(np.uint8)
                    Image.fromarray(img).save(d / f"{f:04d}.jpg", quality=90)
    return root


def tiny_config(data, *overrides, steps=4, batch=8):
    """SimCLR with the small backbone at 32 px, fp32 on the CPU, no worker processes."""
    return load_config(raw={}, overrides=[
        "method.name=simclr", "method.proj_hidden=64", "method.proj_dim=32",
        "backbone.name=small", "backbone.width=0.25",
        f"data.path={data}", "data.size=32", "data.workers=0",
        "optim.lr=0.001", "optim.weight_decay=0.0", "optim.warmup_steps=2",
        f"train.steps={steps}", f"train.batch_size={batch}", "train.precision=fp32", "train.device=cpu",
        "train.log_every=1", "train.checkpoint_every=1000", "train.image_every=0", *overrides])
