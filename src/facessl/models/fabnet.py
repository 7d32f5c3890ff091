"""FAb-Net networks: the frame encoder (frame -> 1x1xD embedding), the flow/confidence decoder, and
an embedder that wraps any registry backbone with a linear projection to D.

Encoder (paper / reference code): log2(size) convolutions 4x4 stride 2 padding 1, each halving the
map down to 1x1 (8 at 256 px, 6 at 64 px). Channels nf, 2nf, 4nf, 8nf, 8nf, ... and D for the
last; BatchNorm after every conv except the first and the last; LeakyReLU(0.2) between convs; no
activation after the last (the embedding is linear). nf = 32 x width (the reference's "wider"
model, embedding 256).

Decoder: input concat(source embedding, target embedding) as a (2D,1,1) map; log2(size) stages of
[ReLU, x2 bilinear upsample, conv 3x3] with BatchNorm after all but the last conv; channels 8nf
while the map is small, then 4nf, 2nf, nf (as in the reference), then `out_channels`, then tanh.
Flow: 2 channels, offsets in normalised grid units (see facessl.methods.fabnet_warp). Confidence: a second,
separate stack of the same shape with 1 output channel (as in the reference, whose mask decoder is
its own network), so the flow decoder can be frozen alone in the multi-source stage.
The reference feeds [0,1] pixels; here the Backbone base normalises (ImageNet mean/std) first, like
every facessl backbone - an affine change of the input the first conv absorbs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from facessl.errors import FacesslError
from facessl.models.registry import Backbone, StemConv2d, build_backbone, make_divisible


def n_halvings(image_size: int) -> int:
    """Stride-2 stages that bring image_size to 1 (floor of log2; the decoder output is resized if needed)."""
    if image_size < 8:
        raise FacesslError(f"FAb-Net needs images of at least 8 px, got data.size={image_size}")
    return int(math.floor(math.log2(image_size) + 1e-9))


def _channel_plan(depth: int, nf: int) -> list[int]:
    """Encoder output channels of the first depth-1 convs: nf, 2nf, 4nf, 8nf, 8nf, ..."""
    return [nf * min(8, 2 ** i) for i in range(depth - 1)]


class FAbNetConvEncoder(Backbone):
    """The paper's encoder as a registry-style Backbone (ImageNet normalisation inside, count_flops and
    feature_dim work on it): images [0,1] -> (N, D, 1, 1) map."""

    def __init__(self, width: float = 1.0, image_size: int = 64, embedding_dim: int = 256):
        super().__init__(image_size)
        depth = n_halvings(image_size)
        nf = make_divisible(32 * width)
        layers: list[nn.Module] = []
        cin = 3
        for i, cout in enumerate(_channel_plan(depth, nf)):
            layers.append((StemConv2d if i == 0 else nn.Conv2d)(cin, cout, 4, 2, 1, bias=(i == 0)))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers.append(nn.Conv2d(cin, embedding_dim, 4, 2, 1))
        if 2 ** depth != image_size:  # non-power-of-2 sizes end on a small map: pool it to 1x1
            layers.append(nn.AdaptiveAvgPool2d(1))
        self.trunk = nn.Sequential(*layers)
        self.out_channels = embedding_dim
        self.depth, self.base_filters = depth, nf


class Embedder(nn.Module):
    """frame -> (N, D) embedding: a backbone, flattened, plus a linear projection unless it already gives D."""

    def __init__(self, backbone: str, width: float, image_size: int, embedding_dim: int):
        super().__init__()
        if backbone == "fabnet":
            self.backbone = FAbNetConvEncoder(width, image_size, embedding_dim)
            self.project = nn.Identity()
        else:
            self.backbone = build_backbone(backbone, width=width, image_size=image_size)
            self.project = nn.Linear(self.backbone.feature_dim(image_size), embedding_dim)
        self.embedding_dim = embedding_dim
        self.image_size = int(image_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.project_maps(self.maps(images))

    def maps(self, images: torch.Tensor) -> torch.Tensor:
        """The backbone's map of `images`; a smaller input is resized up to the training size first (the
        paper's encoder needs it to reach 1x1)."""
        if images.dtype == torch.uint8:  # resizing needs floats; the backbone reads either
            images = images.float() / 255
        if images.shape[-1] < self.image_size or images.shape[-2] < self.image_size:
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                   align_corners=False)
        return self.backbone(images)

    def project_maps(self, maps: torch.Tensor) -> torch.Tensor:
        """The embedding: a linear map of the flattened map of the training size. A larger input (the probes
        may evaluate at a larger size) makes a larger map, pooled to that shape, so every pixel is seen."""
        trained = self.backbone.feature_shape(self.image_size)[1:]
        if maps.shape[-2:] != trained:
            maps = F.adaptive_avg_pool2d(maps, trained)
        return self.project(torch.flatten(maps, 1))


class FlowDecoder(nn.Module):
    """concat(v_source, v_target) (N, 2D) -> (N, out_channels, 2^depth, 2^depth) in [-1, 1] (tanh)."""

    def __init__(self, embedding_dim: int, depth: int, base_filters: int = 32, out_channels: int = 2,
                 final_tanh: bool = True, last_init_std: float | None = None):
        super().__init__()
        chans = list(reversed(_channel_plan(depth, base_filters)))  # 8nf ... 4nf, 2nf, nf
        layers: list[nn.Module] = []
        cin = 2 * embedding_dim
        for i, cout in enumerate(chans + [out_channels]):
            layers += [nn.ReLU(), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                       nn.Conv2d(cin, cout, 3, 1, 1)]
            if i < len(chans):  # no BatchNorm on the output conv
                layers.append(nn.BatchNorm2d(cout))
            cin = cout
        if last_init_std is not None:  # e.g. ~0: the flow starts as the identity warp
            nn.init.normal_(layers[-1].weight, std=last_init_std)
            nn.init.zeros_(layers[-1].bias)
        if final_tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code[:, :, None, None])
