"""Image grids written with PIL: dataset preview sheets and reconstruction grids.

Accepted image batches:
  uint8  (N,H,W,3) or (N,H,W)            as stored on disk / in loaders
  float  (N,3,H,W) or (N,1,H,W) in [0,1] as on the device (torch tensors are converted)
  float  (N,H,W,3) in [0,1]
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facessl.errors import FacesslError
from facessl.engine.io import atomic_path

BACKGROUND = (255, 255, 255)


def to_uint8_nhwc(images) -> np.ndarray:
    """Any accepted batch -> uint8 (N,H,W,3)."""
    if hasattr(images, "detach"):  # a torch tensor, without importing torch here
        images = images.detach().cpu().float().numpy()
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise FacesslError(f"image_grid: expected a batch of images (N,H,W,3) or (N,3,H,W), got shape {x.shape}")
    if x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    if x.shape[-1] != 3:
        raise FacesslError(f"image_grid: expected 1 or 3 channels, got shape {x.shape}")
    if x.dtype != np.uint8:
        x = np.clip(np.nan_to_num(x.astype(np.float32)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return x


def image_grid(images, nrow: int, path, labels=None, upscale: int | None = None, col_labels=None,
               pad: int = 2) -> tuple[int, int]:
    """Write a PNG grid with `nrow` images per row; return its (width, height) in pixels.

    labels: optional text per image, printed under it. col_labels: optional header per column
    (e.g. 's', 'F_f+F_p', 'F_f+F_p̂' for reconstruction grids). upscale: integer nearest-neighbour
    factor; by default small images are enlarged to at least 96 px so they stay visible.
    """
    x = to_uint8_nhwc(images)
    n, h, w, _ = x.shape
    if n == 0:
        raise FacesslError("image_grid: no images given")
    if labels is not None and len(labels) != n:
        raise FacesslError(f"image_grid: {n} images but {len(labels)} labels")
    nrow = max(1, min(int(nrow), n))
    if upscale is None:
        upscale = max(1, math.ceil(96 / max(h, w)))
    th, tw = h * upscale, w * upscale
    font_px = max(10, min(16, tw // 8))
    font = _font(font_px)
    label_h = font_px + 6 if labels is not None else 0
    header_h = font_px + 8 if col_labels is not None else 0
    rows = math.ceil(n / nrow)
    width = nrow * tw + (nrow + 1) * pad
    height = header_h + rows * (th + label_h) + (rows + 1) * pad
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if col_labels is not None:
        for c, text in enumerate(list(col_labels)[:nrow]):
            _centred_text(draw, str(text), pad + c * (tw + pad), 2, tw, font)
    for i in range(n):
        r, c = divmod(i, nrow)
        left = pad + c * (tw + pad)
        top = header_h + pad + r * (th + label_h + pad)
        tile = Image.fromarray(x[i])
        if upscale != 1:
            tile = tile.resize((tw, th), Image.NEAREST)
        sheet.paste(tile, (left, top))
        if labels is not None:
            _centred_text(draw, str(labels[i]), left, top + th + 2, tw, font)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return sheet.size


def _centred_text(draw: ImageDraw.ImageDraw, text: str, left: int, top: int, width: int, font) -> None:
    """Draw text centred in a box of `width`, cut with an ellipsis when too long."""
    if draw.textlength(text, font=font) > width:
        while len(text) > 1 and draw.textlength(text + "…", font=font) > width:
            text = text[:-1]
        text += "…"
    offset = max(0, (width - draw.textlength(text, font=font)) / 2)
    draw.text((left + offset, top), text, fill=(0, 0, 0), font=font)


def _font(size: int):
    """DejaVu Sans from matplotlib (covers combining accents such as p̂), else PIL's default font."""
    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans", fallback_to_default=True), size)
    except (ImportError, OSError, ValueError):
        return ImageFont.load_default(size=size)
