"""Backbone base class, the registry of backbones by name, and a FLOP counter.

Every backbone takes images as float (N,3,H,W) in [0,1] RGB, normalises them inside (ImageNet
mean/std, so pipelines never care), and returns its trunk feature MAP (N,C,h,w). The flattened
trunk (C*h*w) is what linear probes read as F_s.
"""
from __future__ import annotations

import difflib
from typing import Callable

import torch
from torch import nn

from facessl.errors import FacesslError

BACKBONES: dict[str, Callable[..., "Backbone"]] = {}

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def register(name: str):
    """Class/function decorator adding a backbone constructor `f(width, image_size, **kw)` to BACKBONES."""

    def deco(fn):
        BACKBONES[name] = fn
        return fn

    return deco


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of `divisor` (tensor-core / channels_last friendly)."""
    return max(divisor, int(round(channels / divisor)) * divisor)


class StemConv2d(nn.Conv2d):
    """A backbone's first convolution, the one that reads the image: it computes in fp32 under bf16/fp16 autocast.

    Its weight gradient sums input x output-gradient over every pixel of the batch, and where a loss pulls an image and
    its mirror apart (PCL's L_pose: mirrored negatives) those sums partly cancel, so the input's rounding to bf16 moves
    what is left: L_pose's backbone gradient was 20 % off fp32's on average and up to 77 %, against 9.6 % (at most 12 %)
    with this layer in fp32; L_face and L_PDD move by a point (trained PCL weights, 16 draws of the views:
    benchmarks/bf16_gradients.py, docs/demo_study.md session 28). With 3 input channels it is a few % of the FLOPs.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return super().forward(x.float())
        return super().forward(x)


class Backbone(nn.Module):
    """Base: normalisation + `trunk` (an nn.Module map -> map). Subclasses set `trunk`, `out_channels`
    and `head_style` (how build_branch_heads shapes the face/pose heads)."""

    out_channels: int = 0
    head_style: dict = {}

    def __init__(self, image_size: int = 64):
        super().__init__()
        self.image_size = int(image_size)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self._shape_cache: dict[int, tuple[int, int, int]] = {}

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise FacesslError(f"backbone expects images (N,3,H,W), got shape {tuple(x.shape)}")
        if x.dtype == torch.uint8:  # images as decoded (0..255): the same faces as float / 255
            x = x.float() / 255
        elif not self.training and x.numel() and float(x.detach().amax()) > 2.0:
            # floats in 0..255 would give features of a white image, silently: checked where users call in
            # (evaluation, `facessl.load(...).features`); training feeds its own [0, 1] views
            raise FacesslError(f"images should be floats in [0, 1] (or uint8 0..255); got values up to "
                               f"{float(x.detach().amax()):g}: divide by 255")
        return self.trunk(self.normalize(x))

    def feature_shape(self, image_size: int | None = None) -> tuple[int, int, int]:
        """(C,h,w) of the trunk map for square inputs of `image_size` (default: the build size)."""
        size = int(image_size or self.image_size)
        if size not in self._shape_cache:
            # a dry run in eval mode: exact for any architecture, and BN running stats stay untouched
            was_training = self.training
            p = next(self.parameters())
            self.eval()
            try:
                with torch.no_grad():
                    out = self(torch.zeros(1, 3, size, size, device=p.device, dtype=p.dtype))
            finally:
                self.train(was_training)
            self._shape_cache[size] = tuple(out.shape[1:])
        return self._shape_cache[size]

    def feature_dim(self, image_size: int | None = None) -> int:
        """Flattened trunk dimension C*h*w at that input size."""
        c, h, w = self.feature_shape(image_size)
        return c * h * w


def build_backbone(name: str, width: float = 1.0, image_size: int = 64, **kwargs) -> Backbone:
    """Build a registered backbone ('facecycle', 'resnet18', 'resnet50', 'small') by name."""
    import facessl.models  # noqa: F401  (importing the package registers every backbone)

    if name not in BACKBONES:
        near = difflib.get_close_matches(name, list(BACKBONES), n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise FacesslError(f"unknown backbone '{name}' (expected one of {sorted(BACKBONES)}){hint}")
    if width <= 0:
        raise FacesslError(f"backbone width must be > 0, got {width}")
    return BACKBONES[name](width=width, image_size=image_size, **kwargs)


def count_flops(model: nn.Module, image_size: int, batch: int = 1) -> float:
    """Forward FLOPs per sample (2 x multiply-accumulates of convs, matmuls, bmm) at a square input size.

    Uses torch.utils.flop_counter.FlopCounterMode; elementwise ops (activations, norms) are not
    counted, as is usual for MFU figures. Runs in eval mode without gradients.
    """
    from torch.utils.flop_counter import FlopCounterMode

    p = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        x = torch.rand(batch, 3, image_size, image_size, device=p.device, dtype=p.dtype)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / batch
