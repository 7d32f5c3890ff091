"""Per-method view recipes: lists of per-view pipelines (lightly style) or multi-view callables."""
from __future__ import annotations

import torch
from torch import nn

from facessl.augment.base import Compose
from facessl.augment.color import ColorJitter, GaussianBlur, RandomGrayscale, Sobel
from facessl.augment.geometry import HorizontalFlip, RandomResizedCrop, Resize, distance_crop


def simclr_views(size, scale=(0.2, 1.0), max_aspect: float = 4 / 3, colour_strength: float = 0.5) -> list[nn.Module]:
    """Two SimCLR views: random resized crop (area in `scale`, aspect ratio in [1/max_aspect, max_aspect]),
    flip, colour jitter of strength s p=0.8 (SimCLR's (0.8s, 0.8s, 0.8s, 0.2s): s = 0.5 gives (0.4,0.4,0.4,0.1),
    s = 1 ImageNet's and the PCL reference's), greyscale p=0.2, Gaussian blur (kernel 0.1*size, sigma 0.1-2) p=0.5."""
    s = colour_strength

    def view():
        return Compose([RandomResizedCrop(size, scale=scale, ratio=(1 / max_aspect, max_aspect)), HorizontalFlip(0.5),
                        ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, p=0.8), RandomGrayscale(0.2),
                        GaussianBlur(0.1, (0.1, 2.0), p=0.5)])
    return [view(), view()]


def pcl_colour(p_sobel: float = 0.6) -> Compose:
    """The PCL reference's photometric recipe: jitter (0.8,0.8,0.8,0.2) p=0.8, greyscale p=0.2,
    blur (kernel 0.1*size, sigma 0.1-2) p=0.8, Sobel edges p=0.6."""
    return Compose([ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8), RandomGrayscale(0.2),
                    GaussianBlur(0.1, (0.1, 2.0), p=0.8), Sobel(p_sobel)])


class PCLFaceViews(nn.Module):
    """x -> (v1, v2): distance crop (two quadrants) then the PCL colour recipe on each view."""

    def __init__(self, size, crop_frac: float = 0.4):
        super().__init__()
        self.size, self.crop_frac = size, crop_frac
        self.colour = nn.ModuleList([pcl_colour(), pcl_colour()])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v1, v2 = distance_crop(x, self.size, self.crop_frac)
        return self.colour[0](v1), self.colour[1](v2)


def pcl_face_views(size, crop_frac: float = 0.4) -> PCLFaceViews:
    return PCLFaceViews(size, crop_frac)


def pose_preserving(size) -> Compose:
    """Pose-preserving views for PCL's L_pose: resize to `size` (if needed) then the PCL colour
    recipe. No flip, no crop: the geometry (hence the head pose) is unchanged."""
    return Compose([Resize(size), *pcl_colour().transforms])
