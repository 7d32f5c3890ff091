"""PCL's networks: trunk F_s, face branch F_f, pose branch F_p, two projection heads, decoder D.

    images -> backbone -> trunk map (F_s) -> face_branch -> F_f map ; pose_branch -> F_p map
    F_f (or F_s) -> face_proj -> z_face        (L_face)
    F_p          -> pose_proj -> z_pose        (L_pose)
    combine(F_f, F_p) -> decoder -> image      (L_dis)

Every feature is used flattened (N, C*h*w). Modules a configuration never trains (the decoder without
L_dis, the pose projection without L_pose) are not built; branches no loss reaches are frozen
(requires_grad False) so DDP does not wait for their gradients.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facessl.errors import FacesslError
from facessl.methods.base import Encoder
from facessl.methods.pcl_config import PCLConfig


class PCLEncoder(Encoder):
    """features(images) -> {'fs': flattened trunk, 'ff': face branch, 'fp': pose branch}."""

    feature_names = ("fs", "ff", "fp")

    def __init__(self, backbone: nn.Module, face_branch: nn.Module, pose_branch: nn.Module):
        super().__init__()
        self.backbone, self.face_branch, self.pose_branch = backbone, face_branch, pose_branch

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        fmap = self.backbone(images)
        return {"fs": fmap.flatten(1), "ff": self.face_branch(fmap).flatten(1),
                "fp": self.pose_branch(fmap).flatten(1)}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.features(images)


class PCLNetwork(nn.Module):
    def __init__(self, cfg: PCLConfig, backbone_name: str, width: float, image_size: int):
        super().__init__()
        from facessl.models import ProjectionHead, build_backbone, build_branch_heads
        from facessl.models.pcl_decoder import PoseDisentangledDecoder

        self.cfg = cfg
        self.backbone = build_backbone(backbone_name, width=width, image_size=image_size)
        self.face_branch, self.pose_branch = build_branch_heads(self.backbone)
        c, h, w = self.backbone.feature_shape(image_size)
        self.fs_dim = c * h * w
        self.ff_dim = self.face_branch.out_channels * h * w
        self.fp_dim = self.pose_branch.out_channels * h * w
        face_in = self.fs_dim if cfg.face_feature == "fs" else self.ff_dim
        self.face_proj = ProjectionHead(face_in, cfg.proj_hidden, cfg.proj_dim, last_bn=True)
        self.pose_proj = ProjectionHead(self.fp_dim, cfg.proj_hidden, cfg.proj_dim, last_bn=True) if cfg.use_pose else None
        self.decoder = None
        if cfg.use_dis:
            if cfg.combine == "sum_normalize" and self.ff_dim != self.fp_dim:
                raise FacesslError(f"method.combine=sum_normalize needs equal F_f/F_p sizes, got {self.ff_dim} and {self.fp_dim}")
            dec_in = self.ff_dim if cfg.combine == "sum_normalize" else self.ff_dim + self.fp_dim
            self.decoder = PoseDisentangledDecoder(dec_in, image_size, cfg.decoder_channels, cfg.decoder_output)
        self._freeze_unused()

    def _freeze_unused(self) -> None:
        cfg = self.cfg
        pdd = cfg.use_dis or cfg.use_orth
        if not (pdd or cfg.use_pose):
            self.pose_branch.requires_grad_(False)
        if not pdd and cfg.face_feature == "fs":
            self.face_branch.requires_grad_(False)

    # ---- features ------------------------------------------------------------------------------
    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def face(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.face_branch(fmap).flatten(1)

    def pose(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.pose_branch(fmap).flatten(1)

    def face_embedding(self, x: torch.Tensor) -> torch.Tensor:
        """z for L_face from images."""
        fmap = self.trunk(x)
        feat = fmap.flatten(1) if self.cfg.face_feature == "fs" else self.face(fmap)
        return self.face_proj(feat)

    def pose_embedding(self, x: torch.Tensor) -> torch.Tensor:
        """z for L_pose from images."""
        return self.pose_proj(self.pose(self.trunk(x)))

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(F_f, F_p) flattened, from images."""
        fmap = self.trunk(x)
        return self.face(fmap), self.pose(fmap)

    # ---- decoder -------------------------------------------------------------------------------
    def combine(self, ff: torch.Tensor | None, fp: torch.Tensor | None) -> torch.Tensor:
        """Decoder input from F_f and F_p; None stands for a zeroed feature (single-feature reconstructions)."""
        ref = ff if ff is not None else fp
        ff = ff if ff is not None else torch.zeros_like(ref)
        fp = fp if fp is not None else torch.zeros_like(ref)
        if self.cfg.combine == "sum_normalize":
            return F.normalize(ff + fp, dim=1)
        return torch.cat([F.normalize(ff, dim=1), F.normalize(fp, dim=1)], dim=1)

    def decode(self, ff: torch.Tensor | None, fp: torch.Tensor | None) -> torch.Tensor:
        if self.decoder is None:
            raise FacesslError("this PCL model has no decoder (method.use_dis is false)")
        return self.decoder(self.combine(ff, fp))

    def encoder(self) -> PCLEncoder:
        return PCLEncoder(self.backbone, self.face_branch, self.pose_branch)
