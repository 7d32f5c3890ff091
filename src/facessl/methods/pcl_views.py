"""PCL's views, made on the device from the float [0,1] batch.

  PDD step      s, s-hat = pose_augment(s); both inputs get Gaussian noise sigma (targets stay clean)
  face step     two 'distance crop' views with colour / grey / blur / Sobel (augment.pcl_face_views)
  pose step     two pose-preserving views of the same image (colour, grey, blur, Sobel; no flip/crop)
  pose negatives
    reference   every image pose-augmented and copied M times, each copy augmented independently
                (pose-preserving recipe) -> (N*M) images, sample-major: rows i*M .. i*M+M-1 belong to image i
    batch       every image pose-augmented once and augmented once -> N images, shared by all rows
"""
from __future__ import annotations

import torch
from torch import nn


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 batch -> float [0,1]; float input passes through (as float32)."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


class PoseAugment(nn.Module):
    """s -> s-hat: 'flip' (horizontal mirror, deterministic, the reference), 'rotate' (uniform in
    +-degrees), or 'flip_rotate' (both)."""

    def __init__(self, mode: str = "flip", degrees: float = 40.0):
        super().__init__()
        self.mode = mode
        self.rotate = None
        if mode in ("rotate", "flip_rotate"):
            from facessl.augment import Rotate

            self.rotate = Rotate(degrees)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode in ("flip", "flip_rotate"):
            x = x.flip(-1)
        if self.rotate is not None:
            x = self.rotate(x)
        return x


def add_noise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """x + sigma * N(0,1), not clamped (as the reference)."""
    return x + sigma * torch.randn_like(x) if sigma > 0 else x


class PCLViews:
    """All of PCL's view recipes for one image size. A plain object, not a registered submodule:
    views hold no trained state and must not enter checkpoints (as SimCLR's views)."""

    def __init__(self, image_size: int, pose_augment: str = "flip", rotate_degrees: float = 40.0,
                 face_views: str = "distance_crop", crop_min_scale: float = 0.2, crop_max_aspect: float = 4 / 3,
                 colour_strength: float = 0.5):
        from facessl.augment import pcl_face_views, pose_preserving, simclr_views

        self.pose_augment = PoseAugment(pose_augment, rotate_degrees)
        self.preserve = pose_preserving(image_size)
        if face_views == "simclr":
            first, second = simclr_views(image_size, (crop_min_scale, 1.0), crop_max_aspect, colour_strength)
            self._face_views = lambda x: (first(x), second(x))
        else:
            self._face_views = pcl_face_views(image_size)

    def pdd(self, s: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(s, s-hat, noisy s, noisy s-hat)."""
        s_hat = self.pose_augment(s)
        return s, s_hat, add_noise(s, sigma), add_noise(s_hat, sigma)

    def face(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._face_views(x)

    def pose(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.preserve(x), self.preserve(x)

    def pose_negatives(self, x: torch.Tensor, scheme: str, m: int) -> torch.Tensor:
        """Images whose pose features are L_pose's negatives (see the module docstring)."""
        if scheme == "reference":
            x = x.repeat_interleave(m, dim=0)
        return self.preserve(self.pose_augment(x))
