"""What a training run writes besides checkpoints: metrics.jsonl, TensorBoard events, PNG grids, a progress bar."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from facessl.engine.io import write_text_atomic
from facessl.errors import FacesslError


def _step_of(line: str):
    """The step of a metrics line; None for a blank or damaged one (a kill mid-write leaves half a line)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("step", 0) if isinstance(record, dict) else None


class MetricsLog:
    """Appends one JSON object per logged step to metrics.jsonl, mirrored to TensorBoard if asked.

    On resume, lines from steps after the resumed checkpoint (written before an interruption)
    are dropped so the file reads as one uninterrupted run.
    """

    def __init__(self, run_dir, tensorboard: bool = False, resume_step: int | None = None):
        self.path = Path(run_dir) / "metrics.jsonl"
        if resume_step is None:
            self.path.unlink(missing_ok=True)
        elif self.path.exists():
            kept = [line for line in self.path.read_text(errors="replace").splitlines()
                    if _step_of(line) is not None and _step_of(line) <= resume_step]
            write_text_atomic(self.path, "".join(line + "\n" for line in kept))  # a kill now keeps the old file
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise FacesslError("log.tensorboard: true needs the 'tensorboard' package "
                                   "(pip install 'facessl[tensorboard]'), or set log.tensorboard=false") from None
            self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"))

    def write(self, record: dict) -> None:
        clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in record.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")
        if self.writer is not None:
            step = record["step"]
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.writer.add_scalar(k, v, step)

    def add_images(self, name: str, grid: np.ndarray, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(name, grid, step, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """(N,3,H,W) float [0,1] -> uint8 (rows*(H+pad)+pad, nrow*(W+pad)+pad, 3) grid on a white background."""
    images = images.detach().float().cpu().clamp(0, 1)
    n, _, h, w = images.shape
    nrow = max(1, min(nrow, n))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    pixels = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = pixels[i]
    return grid


def save_image_grid(images: torch.Tensor, path, nrow: int = 8, min_side: int = 256,
                    row_labels: list[str] | None = None) -> np.ndarray:
    """Write a PNG grid (upscaled with nearest neighbours when tiny, so 64-px faces stay visible); row_labels,
    when given, are written in a white margin at the left of their rows."""
    from PIL import Image

    from facessl.engine.io import atomic_path

    grid = image_grid(images, nrow)
    im = Image.fromarray(grid)
    scale = max(1, min_side // max(1, min(im.size)))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    if row_labels:
        im = _with_row_labels(im, row_labels)
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")
    return grid


def _with_row_labels(im, labels: list[str]):
    from PIL import Image, ImageDraw

    margin = 8 + 7 * max(len(label) for label in labels)  # the default bitmap font: about 6 px a character
    out = Image.new("RGB", (im.width + margin, im.height), "white")
    out.paste(im, (margin, 0))
    draw, row_height = ImageDraw.Draw(out), im.height / len(labels)
    for i, label in enumerate(labels):
        draw.text((4, int((i + 0.5) * row_height) - 5), label, fill="black")
    return out


def progress_bar(total: int, initial: int, quiet: bool, main: bool):
    """tqdm bar with rate and ETA; disabled when quiet, on non-main ranks or when stderr is not a terminal."""
    from tqdm.auto import tqdm

    disable = quiet or not main or not sys.stderr.isatty()
    return tqdm(total=total, initial=initial, disable=disable, unit="step", desc="pretrain")
