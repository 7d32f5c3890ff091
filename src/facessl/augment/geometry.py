"""Geometric augmentations: crops and resizes through ONE batched grid_sample, flips, rotations."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from facessl.augment.base import RandomTransform, check_images, uniform


def _size2(size) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, (int, float)) else (int(size[0]), int(size[1]))


def _sample(x: torch.Tensor, theta: torch.Tensor, out_hw, padding_mode: str, clamp_lo=None, clamp_hi=None):
    """affine_grid + bilinear grid_sample in the input's precision: autocast is switched off here,
    else affine_grid's matmul would build a bf16 grid (0.1 px errors at 64 px)."""
    with torch.autocast(x.device.type, enabled=False):
        grid = F.affine_grid(theta, [x.shape[0], 3, *out_hw], align_corners=False)
        if clamp_lo is not None:
            grid = torch.maximum(torch.minimum(grid, torch.maximum(clamp_hi, clamp_lo)), torch.minimum(clamp_lo, clamp_hi))
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)
    return out.clamp_(0, 1)


def crop_resize(x: torch.Tensor, boxes: torch.Tensor, size) -> torch.Tensor:
    """Bilinear crop-and-resize of one box per sample.

    boxes (N,4) = (x0, y0, w, h) in pixel-edge coordinates (0..W, 0..H; fractional allowed).
    Output (N,3,size,size): output pixel centres sample the box uniformly (align_corners=False).
    """
    n, _, height, width = x.shape
    out_h, out_w = _size2(size)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    boxes = boxes.to(x.dtype)
    theta[:, 0, 0] = boxes[:, 2] / width
    theta[:, 0, 2] = (2 * boxes[:, 0] + boxes[:, 2]) / width - 1
    theta[:, 1, 1] = boxes[:, 3] / height
    theta[:, 1, 2] = (2 * boxes[:, 1] + boxes[:, 3]) / height - 1
    # keep samples between the centres of the box's edge pixels: the same as cutting the crop out
    # first and resizing it with edge replication (no bleed from outside the box)
    size_wh = torch.tensor([width, height], device=x.device, dtype=x.dtype)
    lo = (2 * (boxes[:, :2] + 0.5) / size_wh - 1).view(n, 1, 1, 2)
    hi = (2 * (boxes[:, :2] + boxes[:, 2:] - 0.5) / size_wh - 1).view(n, 1, 1, 2)
    return _sample(x, theta, (out_h, out_w), "border", lo, hi)


def resize(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear (antialiased when shrinking) resize of the whole batch; identity at the same size."""
    out = _size2(size)
    if tuple(x.shape[-2:]) == out:
        return x
    return F.interpolate(x, size=out, mode="bilinear", align_corners=False, antialias=True).clamp_(0, 1)


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Deterministic horizontal flip of every sample."""
    return x.flip(-1)


class Resize(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.size = _size2(size)

    def forward(self, x):
        return resize(x, self.size)


class HorizontalFlip(RandomTransform):
    def __init__(self, p=0.5):
        super().__init__(p)

    def apply(self, x):
        return x.flip(-1)


class RandomResizedCrop(nn.Module):
    """torchvision's RandomResizedCrop sampling, vectorised: 10 candidate boxes per sample with
    area ~ U(scale)*H*W and log-uniform aspect ratio; the first that fits is used, else a
    centre crop with the ratio clamped to `ratio`. Then one batched bilinear crop-and-resize."""

    def __init__(self, size, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), attempts: int = 10):
        super().__init__()
        self.size, self.scale, self.ratio, self.attempts = _size2(size), tuple(scale), tuple(ratio), attempts

    def boxes(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        k = self.attempts
        area = height * width * (torch.rand(n, k, device=x.device) * (self.scale[1] - self.scale[0]) + self.scale[0])
        log_r = torch.rand(n, k, device=x.device) * (math.log(self.ratio[1]) - math.log(self.ratio[0])) + math.log(self.ratio[0])
        r = torch.exp(log_r)
        w, h = torch.sqrt(area * r), torch.sqrt(area / r)
        fits = (w <= width) & (h <= height)
        first = torch.where(fits.any(1), fits.float().argmax(1), torch.full((n,), -1, device=x.device))
        pick = first.clamp_min(0)[:, None]
        w, h = w.gather(1, pick).squeeze(1), h.gather(1, pick).squeeze(1)
        # fallback: the largest centred box with a ratio in range
        in_ratio = width / height
        fw = width if in_ratio <= self.ratio[1] else height * self.ratio[1]
        fh = height if in_ratio >= self.ratio[0] else width / self.ratio[0]
        fw = min(fw, width) if in_ratio >= self.ratio[0] else width
        fh = min(fh, height) if in_ratio <= self.ratio[1] else height
        ok = first >= 0
        w = torch.where(ok, w, torch.full_like(w, fw))
        h = torch.where(ok, h, torch.full_like(h, fh))
        u = torch.rand(n, 2, device=x.device)
        x0 = u[:, 0] * (width - w)
        y0 = u[:, 1] * (height - h)
        return torch.stack([x0, y0, w, h], dim=1)

    def forward(self, x):
        check_images(x)
        return crop_resize(x, self.boxes(x), self.size)

    def extra_repr(self):
        return f"size={self.size}, scale={self.scale}, ratio={self.ratio}"


class Rotate(RandomTransform):
    """Rotation by an angle ~ U[-degrees, degrees] per sample about the centre (bilinear);
    uncovered corners take `padding_mode` ('zeros' black, 'border' edge-replicate, 'reflection')."""

    def __init__(self, degrees=15.0, p=1.0, padding_mode="zeros"):
        super().__init__(p)
        self.degrees, self.padding_mode = float(degrees), padding_mode

    def draw(self, x):
        return (uniform(x.shape[0], -self.degrees, self.degrees, x),)

    def apply(self, x, angle):
        n, _, height, width = x.shape
        a = torch.deg2rad(angle).to(x.dtype)
        cos, sin = torch.cos(a), torch.sin(a)
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
        # normalised coords are anisotropic for non-square images: rotate in pixel units
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * height / width
        theta[:, 1, 0], theta[:, 1, 1] = sin * width / height, cos
        return _sample(x, theta, (height, width), self.padding_mode)

    def extra_repr(self):
        return f"degrees={self.degrees}, p={self.p}, padding_mode={self.padding_mode}"


def distance_boxes(n: int, height: int, width: int, crop_frac: float = 0.4, device=None):
    """Boxes (N,4) x2 and quadrant ids (N,2) for PCL's distance crop.

    As the reference: half-side b = int(crop_frac/2 * side); two DIFFERENT quadrants per sample
    (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right); in each, a crop centre uniform in
    [quadrant start + b, quadrant end - b], so the 2b x 2b crop stays inside its quadrant.
    """
    bh, bw = int(height * crop_frac / 2), int(width * crop_frac / 2)
    if not (0 < bw < width // 2 and 0 < bh < height // 2):
        raise ValueError(f"crop_frac={crop_frac} does not fit a {height}x{width} image's quadrants")
    quads = torch.rand(n, 4, device=device).argsort(dim=1)[:, :2]
    u = torch.rand(n, 2, 2, device=device)
    col, row = (quads % 2).float(), (quads // 2).float()
    cx = col * (width // 2) + bw + u[..., 0] * (width // 2 - 2 * bw)
    cy = row * (height // 2) + bh + u[..., 1] * (height // 2 - 2 * bh)
    boxes = torch.stack([cx - bw, cy - bh, torch.full_like(cx, 2 * bw), torch.full_like(cy, 2 * bh)], dim=-1)
    return boxes[:, 0], boxes[:, 1], quads


def distance_crop(x: torch.Tensor, size, crop_frac: float = 0.4, return_quadrants: bool = False):
    """PCL "distance crop": two crops of ~crop_frac side from two different quadrants per sample,
    each resized to `size`. Returns (v1, v2) (and the (N,2) quadrant ids if asked)."""
    check_images(x)
    b1, b2, quads = distance_boxes(x.shape[0], x.shape[2], x.shape[3], crop_frac, x.device)
    both = crop_resize(torch.cat([x, x]), torch.cat([b1, b2]), size)
    v1, v2 = both.chunk(2)
    return (v1, v2, quads) if return_quadrants else (v1, v2)
