"""The FaceCycle encoder (Chang et al., ICCV 2021) as used by the PCL reference code.

At 64x64 input: 7x7/2 conv (64) -> 3x3 convs with a non-local self-attention block (64, 32x32)
-> 3x3/2 conv to 128 with self-attention (16x16) -> two residual blocks -> 3x3/2 (8x8) -> 3x3/2 to
256 then 3x3 back to 128 (4x4). LeakyReLU(0.1) everywhere, no BatchNorm. Trunk F_s = 128x4x4 =
2048-d at 64 px; it scales with the input like the reference (128x7x7 = 6272 at 100 px, 128x16x16
at 256 px). The face/pose branch heads (two 3x3 convs each) are built by models.heads.
"""
from __future__ import annotations

import torch
from torch import nn

from facessl.models.registry import Backbone, StemConv2d, make_divisible, register


def conv_act(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> list[nn.Module]:
    conv = StemConv2d if cin == 3 else nn.Conv2d  # the layer that reads the image stays fp32 under autocast
    return [conv(cin, cout, kernel, stride, kernel // 2), nn.LeakyReLU(0.1, inplace=True)]


class ChannelSelfAttention(nn.Module):
    """FaceCycle's non-local block, linear in the number of pixels.

    With 1x1 projections q, k, v (all C->C): a C x C affinity is built from k (softmax over pixels)
    and q; v is softmaxed over channels; the block outputs LeakyReLU(x + affinity @ v).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.value = nn.Conv2d(channels, channels, 1)
        self.key = nn.Conv2d(channels, channels, 1)
        self.query = nn.Conv2d(channels, channels, 1)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        key = self.key(x).reshape(n, c, h * w).softmax(dim=-1)      # distribution over pixels
        query = self.query(x).reshape(n, c, h * w)
        affinity = torch.bmm(query, key.transpose(1, 2))             # (n, c, c)
        value = self.value(x).reshape(n, c, h * w).softmax(dim=1)    # distribution over channels
        out = torch.bmm(affinity, value).reshape(n, c, h, w)
        return self.act(x + out)


class LeakyResidual(nn.Module):
    """conv3x3 - LeakyReLU - conv3x3, plus identity, then LeakyReLU (no normalisation)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(*conv_act(channels, channels), nn.Conv2d(channels, channels, 3, 1, 1))
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + x)


@register("facecycle")
class FaceCycleBackbone(Backbone):
    head_style = {"kernel_size": 3, "norm": False, "act": "leaky"}

    def __init__(self, width: float = 1.0, image_size: int = 64):
        super().__init__(image_size)
        c1, c2, c3 = (make_divisible(c * width) for c in (64, 128, 256))
        self.trunk = nn.Sequential(
            *conv_act(3, c1, stride=2, kernel=7), *conv_act(c1, c1),          # 32x32 at 64 px
            *conv_act(c1, c1), ChannelSelfAttention(c1), *conv_act(c1, c1),
            *conv_act(c1, c2, stride=2), ChannelSelfAttention(c2), *conv_act(c2, c2),  # 16x16
            LeakyResidual(c2), LeakyResidual(c2),
            *conv_act(c2, c2, stride=2), *conv_act(c2, c2),                   # 8x8
            *conv_act(c2, c3, stride=2), *conv_act(c3, c2),                   # 4x4, back to c2
        )
        self.out_channels = c2
        init_leaky(self)


def init_leaky(module: nn.Module) -> None:
    """He-normal (fan-out) init for LeakyReLU(0.1) nets, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0.1, mode="fan_out", nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
