"""A tiny VoxCeleb-layout tree for FAb-Net tests: id/video/track/frame.jpg of a cartoon face that
shifts, turns (yaw) and opens its mouth from frame to frame. Not a test module (no test_ prefix)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def toy_face(size: int, cx: float, cy: float, yaw: float, mouth: float, skin) -> np.ndarray:
    """uint8 (size,size,3): an ellipse face whose features slide sideways with yaw in [-1, 1]."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (size, size), (40, 60, 90))
    d = ImageDraw.Draw(im)
    r = size * 0.3
    d.ellipse([cx - r * 0.85, cy - r, cx + r * 0.85, cy + r], fill=tuple(skin))
    off = yaw * r * 0.5
    for ex in (-0.35, 0.35):
        x = cx + ex * r + off
        d.ellipse([x - r * 0.12, cy - r * 0.38, x + r * 0.12, cy - r * 0.22], fill=(20, 20, 20))
    d.polygon([(cx + off, cy - r * 0.1), (cx + off - r * 0.1, cy + r * 0.2), (cx + off + r * 0.1, cy + r * 0.2)],
              fill=(150, 90, 70))
    h = mouth * r * 0.2
    d.ellipse([cx + off - r * 0.3, cy + r * 0.45 - h, cx + off + r * 0.3, cy + r * 0.45 + h], fill=(160, 30, 40))
    return np.asarray(im)


def toy_samples(n_ids: int, per_id: int, size: int = 64, seed: int = 0):
    """(images uint8 (N,3,S,S), yaw (N,), identity (N,)) for retrieval checks."""
    rng = np.random.default_rng(seed)
    imgs, yaws, ids = [], [], []
    for i in range(n_ids):
        skin = rng.integers(120, 240, 3)
        for _ in range(per_id):
            yaw = rng.uniform(-1, 1)
            imgs.append(toy_face(size, size / 2 + rng.normal(0, 2), size / 2 + rng.normal(0, 2), yaw,
                                 rng.uniform(0.1, 1), skin))
            yaws.append(yaw)
            ids.append(i)
    return np.stack(imgs).transpose(0, 3, 1, 2).copy(), np.array(yaws), np.array(ids)


def write_toy_voxceleb(root, ids: int = 4, videos: int = 1, tracks: int = 2, frames: int = 5, size: int = 64,
                       seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(root)
    for i in range(ids):
        skin = rng.integers(120, 240, 3)
        for v in range(videos):
            for t in range(tracks):
                folder = root / f"id{i:05d}" / f"vid{v:02d}" / f"{t:05d}"
                folder.mkdir(parents=True, exist_ok=True)
                cx, cy = size / 2 + rng.normal(0, 3, 2)
                for f in range(frames):
                    img = toy_face(size, cx + rng.normal(0, 3), cy + rng.normal(0, 2), rng.uniform(-1, 1),
                                   rng.uniform(0.1, 1), skin)
                    Image.fromarray(img).save(folder / f"{f:04d}.jpg", quality=92)
    return root
