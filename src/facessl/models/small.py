"""A compact CNN that trains usefully on a couple of CPU cores at 64 px.

Four stride-2 stages of two 3x3 conv-BN-ReLU layers (32, 64, 128, 128 channels x width): at 64 px
a 128x4x4 map (2048-d flattened, the same map shape as FaceCycle so PCL heads and decoders fit),
~0.56 M parameters and ~85 MFLOPs per sample.
"""
from __future__ import annotations

from torch import nn

from facessl.models.registry import Backbone, StemConv2d, make_divisible, register


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    conv = StemConv2d if cin == 3 else nn.Conv2d  # the layer that reads the image stays fp32 under autocast
    return [conv(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


@register("small")
class SmallBackbone(Backbone):
    head_style = {"kernel_size": 3, "norm": True, "act": "relu"}

    def __init__(self, width: float = 1.0, image_size: int = 64, channels=(32, 64, 128, 128)):
        super().__init__(image_size)
        layers, cin = [], 3
        for c in channels:
            cout = make_divisible(c * width)
            layers += conv_bn_relu(cin, cout, stride=2) + conv_bn_relu(cout, cout)
            cin = cout
        self.trunk = nn.Sequential(*layers)
        self.out_channels = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
