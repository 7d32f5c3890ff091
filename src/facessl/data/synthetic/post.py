"""Everything drawn in screen space: backgrounds, occluders, blur, sensor noise and the uint8 conversion."""
from __future__ import annotations

import math

import torch

from .raycast import DISTANCE, FRAME


def background(scene: dict, ray_x: torch.Tensor, ray_y: torch.Tensor) -> torch.Tensor:
    """(n, P, 3) background colours: two-colour mix by a linear gradient plus a sine-product texture."""
    u = (ray_x / (FRAME / 2 / DISTANCE)).unsqueeze(0)
    v = (ray_y / (FRAME / 2 / DISTANCE)).unsqueeze(0)
    grad = scene["bg_gradient"]
    m = grad[:, :1] * (0.5 + 0.5 * (u * grad[:, 1:2] + v * grad[:, 2:3]))
    tex = scene["bg_texture"]
    f, ang, ph = tex[:, 1:2], tex[:, 2:3], tex[:, 3:4]
    along, across = u * ang.cos() + v * ang.sin(), v * ang.cos() - u * ang.sin()
    pattern = 0.5 + 0.5 * torch.sin(f * along + ph) * torch.sin(0.7 * f * across - ph)
    m = (m + tex[:, :1] * pattern).clamp(0, 1).unsqueeze(-1)
    c0, c1 = scene["background"][:, 0].unsqueeze(1), scene["background"][:, 1].unsqueeze(1)
    return c0 + (c1 - c0) * m


def _soft(d: torch.Tensor, w: float) -> torch.Tensor:
    return (0.5 + d / w).clamp(0, 1)


def occluder_mask(occluder: torch.Tensor, size: int) -> torch.Tensor:
    """(n, 5) occluder rows (kind, cx, cy, size, angle) -> (n, size, size) coverage in [0, 1].
    Kind 1 is a hand-like blob (palm and four fingers), kind 2 a bar across the frame."""
    n, dev = occluder.shape[0], occluder.device
    some = (occluder[:, 0] > 0).nonzero().squeeze(1)
    mask = torch.zeros(n, size, size, device=dev)
    if some.numel():
        mask[some] = _occluder_shapes(occluder[some], size)
    return mask


def _occluder_shapes(occluder: torch.Tensor, size: int) -> torch.Tensor:
    n, dev = occluder.shape[0], occluder.device
    kind = occluder[:, 0].view(n, 1, 1)
    lin = (torch.arange(size, device=dev, dtype=torch.float32) + 0.5) / size
    v, u = torch.meshgrid(lin, lin, indexing="ij")
    cx, cy, s, ang = (occluder[:, i].view(n, 1, 1) for i in range(1, 5))
    du, dv = u - cx, v - cy
    along = du * torch.sin(ang) - dv * torch.cos(ang)   # fingers point "up" at angle 0
    across = du * torch.cos(ang) + dv * torch.sin(ang)
    px = 1.0 / size
    palm = _soft(1 - torch.sqrt((along / (0.55 * s)) ** 2 + (across / (0.5 * s)) ** 2), px / (0.5 * s))
    hand = palm
    for i, length in enumerate((0.75, 0.9, 0.85, 0.65)):
        off = (i - 1.5) * 0.26 * s
        t = torch.minimum((along - 0.3 * s).clamp_min(0), length * s)
        dist = torch.sqrt((along - 0.3 * s - t) ** 2 + (across - off) ** 2)
        hand = torch.maximum(hand, _soft(0.11 * s - dist, px))
    bar = _soft(0.3 * s - across.abs(), px)
    return torch.where(kind == 1, hand, torch.where(kind == 2, bar, torch.zeros_like(bar)))


def _blur(image: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a per-sample sigma (pixels); image (n, H, W, 3)."""
    n, h, w, _ = image.shape
    radius = max(1, int(math.ceil(2.5 * float(sigma.max()))))
    x = torch.arange(-radius, radius + 1, device=image.device, dtype=image.dtype)
    k = torch.exp(-0.5 * (x / sigma.clamp_min(1e-3).view(n, 1)) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(3, 0)          # (n*3, taps)
    chw = image.permute(0, 3, 1, 2).reshape(1, n * 3, h, w)
    chw = torch.nn.functional.pad(chw, (radius, radius, radius, radius), mode="replicate")
    chw = torch.nn.functional.conv2d(chw, k.view(n * 3, 1, 1, -1), groups=n * 3)
    chw = torch.nn.functional.conv2d(chw, k.view(n * 3, 1, -1, 1), groups=n * 3)
    return chw.view(n, 3, h, w).permute(0, 2, 3, 1)


def finish(image: torch.Tensor, scene: dict, generator: torch.Generator | None) -> torch.Tensor:
    """Blur, add sensor noise and quantise (n, H, W, 3) float RGB to uint8."""
    n, size = image.shape[0], image.shape[1]
    sigma = scene["blur"] * (size / 64.0) * 1.2
    if bool((sigma > 0.05).any()):
        image = _blur(image, sigma)
    if bool((scene["noise"] > 0).any()):
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        noise = torch.randn(image.shape, generator=generator, device=generator.device)
        image = image + noise.to(image.device) * scene["noise"].view(n, 1, 1, 1)
    return (image.clamp(0, 1) * 255).round_().to(torch.uint8)
