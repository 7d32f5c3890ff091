"""Backbones (facecycle, resnet18, resnet50, small), PCL branch heads and projection heads.

    bb = build_backbone('facecycle', width=1.0, image_size=64)
    fmap = bb(images)                     # (N,3,H,W) float [0,1] -> (N,C,h,w); normalisation inside
    bb.out_channels, bb.feature_dim(64)   # C, and C*h*w of the flattened trunk
    face_head, pose_head = build_branch_heads(bb)
    proj = ProjectionHead(bb.feature_dim(64), 2048, 512)
"""
from facessl.models import facecycle, resnet, small  # noqa: F401  (register the backbones)
from facessl.models.heads import BranchHead, ProjectionHead, build_branch_heads
from facessl.models.registry import BACKBONES, Backbone, build_backbone, count_flops, register

__all__ = ["BACKBONES", "Backbone", "BranchHead", "ProjectionHead", "build_backbone",
           "build_branch_heads", "count_flops", "register"]
