"""Contact sheets of prepared crops (PNG), to look at what `facessl prepare` wrote."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def contact_sheet(images: list[Path], out_png, columns: int = 8, cell: int = 96) -> Path:
    from PIL import Image

    from facessl.data.image_decode import read_rgb

    rows = max(1, -(-len(images) // columns))
    sheet = Image.new("RGB", (columns * cell, rows * cell), (255, 255, 255))
    for i, path in enumerate(images):
        sheet.paste(Image.fromarray(read_rgb(path, cell)), ((i % columns) * cell, (i // columns) * cell))
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_png)
    return out_png


def track_samples(root, per_track: int = 4, max_tracks: int = 40) -> list[Path]:
    """per_track frames evenly spread over each track of a frame tree (tracks in sorted order)."""
    root = Path(root)
    out = []
    tracks = sorted({p.parent for p in root.glob("*/*/*/*.jpg") if not p.relative_to(root).parts[0].startswith(".")})
    for track in tracks[:max_tracks]:
        frames = sorted(track.glob("*.jpg"))
        out += [frames[int(i)] for i in np.linspace(0, len(frames) - 1, min(per_track, len(frames)))]
    return out
