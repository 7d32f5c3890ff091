"""ResNet-18 / ResNet-50 trunks for face crops of 64-256 px, with a width multiplier.

Stem: at <= 96 px a 3x3 stride-1 conv without max-pool (CIFAR-style: a 64 px face keeps an 8x8
map after the four stages); above 96 px the standard 7x7/2 conv + 3x3/2 max-pool.
The trunk map is adaptive-average-pooled to a small fixed grid so the flattened trunk stays
~2k-d at every input size: 2x2 for resnet18 (512x2x2 = 2048) and 1x1 for resnet50 (2048x1x1).
Pass `pool_grid=` to build_backbone to change it (0 keeps the un-pooled map).
"""
from __future__ import annotations

import torch
from torch import nn

from facessl.models.registry import Backbone, StemConv2d, make_divisible, register


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        cout = planes * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(cin, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = _shortcut(cin, cout, stride)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        cout = planes * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = _shortcut(cin, cout, stride)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNetBackbone(Backbone):
    def __init__(self, block, layers, width: float, image_size: int, pool_grid: int):
        super().__init__(image_size)
        stem_ch = make_divisible(64 * width)
        if image_size <= 96:
            stem = [StemConv2d(3, stem_ch, 3, 1, 1, bias=False), nn.BatchNorm2d(stem_ch), nn.ReLU(inplace=True)]
        else:
            stem = [StemConv2d(3, stem_ch, 7, 2, 3, bias=False), nn.BatchNorm2d(stem_ch), nn.ReLU(inplace=True),
                    nn.MaxPool2d(3, 2, 1)]
        stages, cin = [], stem_ch
        for i, n_blocks in enumerate(layers):
            planes = make_divisible(64 * width * 2 ** i)
            for j in range(n_blocks):
                stages.append(block(cin, planes, stride=2 if (i > 0 and j == 0) else 1))
                cin = planes * block.expansion
        pool = [nn.AdaptiveAvgPool2d(pool_grid)] if pool_grid else []
        self.trunk = nn.Sequential(*stem, *stages, *pool)
        self.out_channels = cin
        # branch heads: 3x3 convs need a map of at least 3x3, else 1x1 convs
        grid = pool_grid or max(1, image_size // 32)
        self.head_style = {"kernel_size": 3 if grid >= 3 else 1, "norm": True, "act": "relu"}
        _init_resnet(self)


def _init_resnet(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    # zero-init the last BN of each residual branch: every block starts as the identity
    for m in model.modules():
        if isinstance(m, (BasicBlock, Bottleneck)):
            nn.init.zeros_(m.body[-1].weight)


@register("resnet18")
def resnet18(width: float = 1.0, image_size: int = 64, pool_grid: int = 2) -> ResNetBackbone:
    return ResNetBackbone(BasicBlock, (2, 2, 2, 2), width, image_size, pool_grid)


@register("resnet50")
def resnet50(width: float = 1.0, image_size: int = 64, pool_grid: int = 1) -> ResNetBackbone:
    return ResNetBackbone(Bottleneck, (3, 4, 6, 3), width, image_size, pool_grid)
