"""Shared machinery: per-sample random application and random draws on the input's device.

Every random transform draws its parameters for ALL N samples (so the RNG stream does not depend
on which samples were selected) from the global torch RNG on the input's device: results are
reproducible under torch.manual_seed. Where a transform applies with probability p < 1, it is
computed only on the selected samples on CPU (cheaper) and blended with torch.where on
accelerators (no host sync); both give identical results.
"""
from __future__ import annotations

import torch
from torch import nn


def check_images(x: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3 or not x.is_floating_point():
        raise ValueError(f"augmentations expect float images (N,3,H,W), got {x.dtype} {tuple(x.shape)}")


def uniform(n: int, low: float, high: float, like: torch.Tensor) -> torch.Tensor:
    """(n,) uniform draws in [low, high) on `like`'s device (float32)."""
    return torch.rand(n, device=like.device) * (high - low) + low


def subset_on(x: torch.Tensor) -> bool:
    """Compute only the selected rows (CPU), or everything then blend (accelerators: no host sync)."""
    return x.device.type == "cpu"


def apply_selected(x: torch.Tensor, mask: torch.Tensor, fn, *params: torch.Tensor) -> torch.Tensor:
    """fn(x[mask], *params[mask]) into the selected rows, the others unchanged."""
    if not subset_on(x):
        return torch.where(mask.view(-1, 1, 1, 1), fn(x, *params), x)
    idx = mask.nonzero().squeeze(1)
    if idx.numel() == 0:
        return x
    if idx.numel() == x.shape[0]:
        return fn(x, *params)
    out = x.clone()
    out[idx] = fn(x[idx], *(p[idx] for p in params))
    return out


class RandomTransform(nn.Module):
    """Base: subclasses implement `draw(x) -> tuple of (N,...) parameter tensors` and
    `apply(x, *params) -> images`; forward applies it to each sample with probability p."""

    def __init__(self, p: float = 1.0):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability p must be in [0, 1], got {p}")
        self.p = float(p)

    def draw(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return ()

    def apply(self, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x)
        mask = torch.rand(x.shape[0], device=x.device) < self.p
        params = self.draw(x)
        if self.p >= 1.0:
            return self.apply(x, *params)
        return apply_selected(x, mask, self.apply, *params)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Compose(nn.Module):
    """A pipeline of transforms applied in order (an nn.Module, so `.to()` / printing work)."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for t in self.transforms:
            x = t(x)
        return x
