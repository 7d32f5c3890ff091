"""SimCLR (Chen et al., 2020): two random views of each image, NT-Xent between their projections.

backbone trunk -> flatten (F_s) -> ProjectionHead (Linear-ReLU-Linear-BN, as PCL's face branch)
-> nt_xent over the global batch (negatives gathered across processes with gradients).
The probed feature is the flattened trunk 'fs'.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import nn

from facessl.config import MethodConfig
from facessl.methods.base import Encoder, Method


def to_float_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 batch from the loader -> float [0,1] (memory format kept); float input passes through."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


class TrunkEncoder(Encoder):
    """features(images) -> {'fs': flattened backbone trunk}."""

    feature_names = ("fs",)

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"fs": self.backbone(images).flatten(1)}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.features(images)


# The ranges of SimCLR's view options; PCL checks its face_* copies of them against the same table.
VIEW_LIMITS = {"crop_min_scale": (0.01, 1), "crop_max_aspect": (1, 4), "colour_strength": (0, 2)}


class FlipViews(nn.Module):
    """Deterministic views (image, its mirror): for tests and debugging, e.g. distributed equivalence."""

    def __init__(self, flip: bool):
        super().__init__()
        self.flip = flip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1) if self.flip else x


class SimCLR(Method):
    name = "simclr"
    data_kind = "frames"
    phases = ("joint",)

    @dataclass
    class Config(MethodConfig):
        name: str = "simclr"
        temperature: float = 0.07  # as PCL's face branch, so SimCLR is PCL's L_face alone
        proj_hidden: int = 2048
        proj_dim: int = 512
        proj_last_bn: bool = True
        views: Literal["simclr", "deterministic"] = "simclr"  # 'deterministic': (x, flipped x), no randomness
        crop_min_scale: float = 0.2  # random resized crop area in [crop_min_scale, 1] of the image (SimCLR: 0.08-0.2)
        crop_max_aspect: float = 4 / 3  # crop aspect ratio in [1/a, a] (SimCLR: 4/3); 1 keeps the face's proportions
        colour_strength: float = 0.5  # SimCLR's jitter strength s: (0.8s, 0.8s, 0.8s, 0.2s); 1 = ImageNet's
        LIMITS: ClassVar[dict] = {"temperature": (0, None, "open"), "proj_hidden": (1, None), "proj_dim": (1, None),
                                  **VIEW_LIMITS}

    def __init__(self, cfg: "SimCLR.Config", backbone, image_size: int = 64):
        super().__init__()
        from facessl.models import ProjectionHead, build_backbone

        self.cfg = cfg
        self.image_size = image_size
        self.backbone = build_backbone(backbone.name, width=backbone.width, image_size=image_size)
        self.projector = ProjectionHead(self.backbone.feature_dim(image_size), cfg.proj_hidden, cfg.proj_dim,
                                        last_bn=cfg.proj_last_bn)
        if cfg.views == "deterministic":
            views = [FlipViews(False), FlipViews(True)]
        else:
            from facessl.augment import simclr_views

            views = simclr_views(image_size, (cfg.crop_min_scale, 1.0), cfg.crop_max_aspect, cfg.colour_strength)
        self._views = tuple(views)  # a tuple, not registered: views hold no trained state

    def make_views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = to_float_images(images)
        return self._views[0](x), self._views[1](x)

    def forward(self, batch: dict[str, torch.Tensor], phase: str = "joint") -> dict[str, torch.Tensor]:
        from facessl.losses import nt_xent

        v1, v2 = self.make_views(batch["images"])
        n = v1.shape[0]
        z = self.projector(self.backbone(torch.cat([v1, v2])).flatten(1))
        loss = nt_xent(z[:n].float(), z[n:].float(), self.cfg.temperature)
        return {"loss": loss, "nt_xent": loss.detach()}

    def encoder(self) -> Encoder:
        return TrunkEncoder(self.backbone)

    @torch.no_grad()
    def images_for_logging(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        v1, v2 = self.make_views(batch["images"][:8])
        return {"views": torch.cat([v1, v2]).clamp(0, 1)}  # row 1: first views, row 2: second views

    def logging_row_labels(self, name: str) -> list[str] | None:
        return ["view 1", "view 2"] if name == "views" else None
