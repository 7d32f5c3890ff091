"""PCL's own config section (`method:` with name: pcl). Defaults follow the reference code.

Where the paper and the reference code differ, both are offered; the default is the reference's:
  combine        'sum_normalize' (reference: D(normalise(F_f + F_p)))  | 'concat' (normalise each, concatenate)
  orth_mode      'batch' (reference: batch-centred cross-correlation)  | 'sample' (paper: mean cos(f_i, p_i)^2)
  pose_symmetric 'mean' (reference: one cross-entropy over both directions) | 'sum' (paper: l(i,j) + l(j,i))
  negatives      'reference' (M augmented flipped copies per sample, (N,M,D), on `pose_batch` images)
                 | 'batch' (the flipped, augmented batch: one copy per image, gathered over processes, shared;
                   on `pose_fraction` of the batch)
  decoder_output 'unit' ((tanh+1)/2 vs the [0,1] image; default because raw tanh saturates on white)
                 | 'tanh' (raw tanh vs the [0,1] image, as the reference)

Ablation switches (the paper's table): use_dis, use_orth, use_pose, use_dwa. With all four off PCL is
the SimCLR baseline: NT-Xent between two face views of the face-branch projection (face_feature='ff',
i.e. encoder = trunk + face branch) or of the trunk itself (face_feature='fs', plain SimCLR on F_s).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facessl.config import MethodConfig


@dataclass
class PCLConfig(MethodConfig):
    name: str = "pcl"
    schedule: Literal["alternating", "joint"] = "alternating"  # 3 optimiser steps (pdd, face, pose) or 1 on the sum
    # ablation switches
    use_dis: bool = True   # L_dis, the pose-disentangled decoder's four reconstructions
    use_orth: bool = True  # L_orth between F_f and F_p
    use_pose: bool = True  # L_pose, pose-related contrastive learning
    use_dwa: bool = True   # Dynamic Weight Average of alpha_pose, alpha_face (else the fixed weights below)
    # pose-disentangled decoder step
    pose_augment: Literal["flip", "rotate", "flip_rotate"] = "flip"  # how s-hat is made from s
    rotate_degrees: float = 40.0  # max |angle| for the rotate options
    # face step views: the reference's 'distance_crop' (two quadrant crops + colour recipe) or SimCLR's
    # random resized crop + flip + colour (to compare the PCL family with the SimCLR baseline view for view)
    face_views: Literal["distance_crop", "simclr"] = "distance_crop"
    # face_views='simclr' only: SimCLR's crop_min_scale, crop_max_aspect and colour_strength (ranges: simclr.VIEW_LIMITS)
    face_crop_min_scale: float = 0.2
    face_crop_max_aspect: float = 4 / 3
    face_colour_strength: float = 0.5
    combine: Literal["sum_normalize", "concat"] = "sum_normalize"
    noise_sigma: float = 0.4  # Gaussian noise on both PDD inputs (images in [0,1]); 0 disables
    dis_weight: float = 1.0
    orth_mode: Literal["batch", "sample"] = "batch"
    orth_weight: float = 1.0
    decoder_channels: int = 512  # C: the decoder's first map is C x 1 x 1 (512 in the reference)
    decoder_output: Literal["unit", "tanh"] = "unit"
    # contrastive steps
    face_feature: Literal["ff", "fs"] = "ff"  # what L_face projects: the face branch, or the trunk
    face_temperature: float = 0.07
    pose_temperature: float = 0.07
    face_mix: bool = True  # negative mixing in L_face
    pose_mix: bool = True  # negative mixing in L_pose
    mix_alpha: float = 1.6  # lambda ~ Beta(alpha, alpha)
    proj_hidden: int = 2048
    proj_dim: int = 512
    negatives: Literal["reference", "batch"] = "reference"
    num_negatives: int = 100  # M, reference scheme only
    pose_batch: int = 10  # images of the batch used by L_pose in the reference scheme (its pose loader: 10); 0 = all
    # share of each process's batch that L_pose uses in the 'batch' scheme (1 = all). The reference's pose step
    # sees 10 images against the 256 of its PDD and face steps; L_pose costs 3 backbone passes per image
    pose_fraction: float = 1.0
    # share of each process's batch that L_PDD uses (1 = all): its four full-size reconstructions and two
    # trunk passes cost about twice the face step at 64 px, the budget knob beside pose_fraction
    pdd_fraction: float = 1.0
    pose_symmetric: Literal["mean", "sum"] = "mean"
    # task weights
    face_weight: float = 1.0  # alpha_face when use_dwa is false
    pose_weight: float = 1.0  # alpha_pose when use_dwa is false
    dwa_temperature: float = 2.0
    dwa_period_steps: int = 0  # DWA period in iterations; 0 = one epoch of the trainer


def validate(cfg: PCLConfig) -> None:
    """Value checks the type system cannot express; one clear line per problem."""
    from facessl.errors import FacesslError
    from facessl.methods.simclr import VIEW_LIMITS

    checks = [
        (cfg.noise_sigma >= 0, "method.noise_sigma must be >= 0"),
        (cfg.face_temperature > 0 and cfg.pose_temperature > 0, "method.*_temperature must be > 0"),
        (cfg.mix_alpha > 0, "method.mix_alpha must be > 0"),
        (cfg.num_negatives >= 1, "method.num_negatives must be >= 1"),
        (cfg.pose_batch >= 0, "method.pose_batch must be >= 0 (0 = whole batch)"),
        (0 < cfg.pose_fraction <= 1, "method.pose_fraction must be in (0, 1] (1 = the whole batch)"),
        (0 < cfg.pdd_fraction <= 1, "method.pdd_fraction must be in (0, 1] (1 = the whole batch)"),
        (cfg.dwa_period_steps >= 0, "method.dwa_period_steps must be >= 0 (0 = per epoch)"),
        (cfg.dwa_temperature > 0, "method.dwa_temperature must be > 0"),
        (cfg.decoder_channels >= 8, "method.decoder_channels must be >= 8"),
        (0 <= cfg.rotate_degrees <= 180, "method.rotate_degrees must be in [0, 180]"),
    ]
    checks += [(low <= getattr(cfg, f"face_{key}") <= high, f"method.face_{key} must be in [{low}, {high}]")
               for key, (low, high) in VIEW_LIMITS.items()]
    for ok, message in checks:
        if not ok:
            raise FacesslError(message)
