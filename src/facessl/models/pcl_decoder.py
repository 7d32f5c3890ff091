"""PCL's pose-disentangled decoder D: a feature vector -> an image.

Shape of the reference generator: Linear(in_dim -> C) read as a C x 1 x 1 map, ReLU, then
log2(image_size) stages of (bilinear x2 upsample, 3x3 conv); every stage but the last is followed
by BatchNorm + ReLU, the last conv gives 3 channels and a tanh. Channels C -> C/2 ... -> C/4 -> 3
(512 -> 256, 256, 256, 256, 128 -> 3 at 64 px, six stages).

Output range (`output`):
  'unit' (default)  (tanh + 1) / 2, an image in [0,1] compared with the [0,1] input. Chosen because
                    it uses the whole tanh range, keeps bright pixels off tanh's saturated end and
                    can be saved as a PNG as is.
  'tanh'            the raw tanh in [-1,1], compared with the [0,1] image as the reference code does
                    (only the upper half of tanh is used; white needs a saturated tanh).
For image sizes that are not a power of two the last map is resized to the image size.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from facessl.errors import FacesslError

OUTPUTS = ("unit", "tanh")


def _up_conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(cin, cout, 3, 1, 1)]


class PoseDisentangledDecoder(nn.Module):
    """D(feature) -> (N,3,S,S); `channels` is C above (512 in the reference)."""

    def __init__(self, in_dim: int, image_size: int = 64, channels: int = 512, output: str = "unit"):
        super().__init__()
        if output not in OUTPUTS:
            raise FacesslError(f"decoder output must be one of {OUTPUTS}, got '{output}'")
        if image_size < 4 or channels < 8:
            raise FacesslError(f"decoder needs image_size >= 4 and channels >= 8, got {image_size}, {channels}")
        self.image_size, self.output = int(image_size), output
        stages = max(2, math.ceil(math.log2(image_size)))
        self.fc = nn.Linear(in_dim, channels)
        layers: list[nn.Module] = [nn.ReLU()]
        cin = channels
        for k in range(1, stages):
            cout = channels // 2 if k < stages - 1 else channels // 4
            layers += _up_conv(cin, cout) + [nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        layers += _up_conv(cin, 3) + [nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        x = self.net(self.fc(feature.flatten(1))[:, :, None, None])
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return (x + 1) * 0.5 if self.output == "unit" else x

    def to_image(self, decoded: torch.Tensor) -> torch.Tensor:
        """A decoded tensor as a displayable [0,1] image (clamped; 'tanh' outputs are clamped at 0 as
        the reference's loss treats them)."""
        return decoded.clamp(0, 1)
