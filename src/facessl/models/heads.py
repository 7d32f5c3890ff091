"""Heads on the trunk map: the PCL face/pose branch heads and the MLP projection head."""
from __future__ import annotations

import torch
from torch import nn

from facessl.models.registry import Backbone


class BranchHead(nn.Module):
    """Two convolutions map -> map keeping the spatial size (the PCL face or pose branch).

    FaceCycle style: 3x3 conv + LeakyReLU(0.1), twice, no normalisation (as the reference).
    BN style (resnets, small): conv-BN-ReLU twice. `out_channels` defaults to the input channels,
    so the flattened branch feature has the trunk's dimension.
    """

    def __init__(self, in_channels: int, out_channels: int | None = None, kernel_size: int = 3,
                 norm: bool = False, act: str = "leaky"):
        super().__init__()
        out_channels = out_channels or in_channels
        layers, cin = [], in_channels
        for _ in range(2):
            layers.append(nn.Conv2d(cin, out_channels, kernel_size, 1, kernel_size // 2, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.LeakyReLU(0.1, inplace=True) if act == "leaky" else nn.ReLU(inplace=True))
            cin = out_channels
        self.net = nn.Sequential(*layers)
        self.out_channels = out_channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if act == "leaky":
                    nn.init.kaiming_normal_(m.weight, a=0.1, mode="fan_out", nonlinearity="leaky_relu")
                else:
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_branch_heads(backbone: Backbone, out_channels: int | None = None) -> tuple[BranchHead, BranchHead]:
    """(face_head, pose_head) shaped for this backbone (see each backbone's `head_style`)."""
    style = dict(backbone.head_style)
    return (BranchHead(backbone.out_channels, out_channels, **style),
            BranchHead(backbone.out_channels, out_channels, **style))


class ProjectionHead(nn.Module):
    """Linear - ReLU - Linear [- BatchNorm1d], as the PCL reference (last_bn=False for plain SimCLR).

    Accepts (N,D) or a map (N,C,h,w), which is flattened first.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 2048, out_dim: int = 512, last_bn: bool = True):
        super().__init__()
        layers = [nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim)]
        if last_bn:
            layers.append(nn.BatchNorm1d(out_dim))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))
