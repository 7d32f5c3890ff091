"""PCL: Pose-disentangled Contrastive Learning (Liu et al., CVPR 2023).

The trunk feature F_s is split by two branch heads into a pose-unrelated part F_f and a pose-related
part F_p, trained by (see PAPERS.md and pcl_config.py for every setting):

  L_PDD  = dis_weight * L_dis + orth_weight * L_orth
           L_dis  = |s - D(F_f, F_p)|_1 + |s^ - D(F_f, F_p^)|_1 + |s - D(F_f^, F_p)|_1 + |s^ - D(F_f^, F_p^)|_1
                    (s^ the pose-augmented s; both encoder inputs noisy, targets clean; each |.|_1 a mean)
           L_orth = orthogonality(F_f, F_p) + orthogonality(F_f^, F_p^)
  L_face = NT-Xent between projected F_f of two face views, tau 0.07, optional negative mixing
  L_pose = InfoNCE between projected F_p of two pose-preserving views, negatives the projected F_p
           of pose-augmented images, tau 0.07, optional negative mixing
  L      = L_PDD + alpha_pose * L_pose + alpha_face * L_face, alpha from DWA (or fixed)

Schedules: 'alternating' takes one optimiser step per phase ('pdd', 'face', 'pose'), as the reference,
each phase's loss being its own term (contrastive terms times their alpha); 'joint' takes one step on L.
Phases whose terms are all switched off are dropped. Each phase returns 'loss' (what it optimises) and
the terms it computed: dis (with its four parts dis_ff_fp, dis_ff_fphat, dis_ffhat_fp, dis_ffhat_fphat), orth, face, pose (all
unweighted) and w_face, w_pose; the trainer logs each phase's optimised total as loss_<phase>.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from facessl.errors import FacesslError
from facessl.methods.base import Encoder, Method
from facessl.methods.pcl_config import PCLConfig, validate
from facessl.methods.pcl_dwa import PeriodDWA
from facessl.methods.pcl_net import PCLNetwork
from facessl.methods.pcl_views import PCLViews, to_unit


def batch_head(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """The first `fraction` of the batch (at least 2 rows, as the batch-wise terms need): the batch is
    shuffled, so its head is a sample of it."""
    return x if fraction >= 1 else x[: max(2, round(fraction * x.shape[0]))]


def phases_for(cfg: PCLConfig) -> tuple[str, ...]:
    if cfg.schedule == "joint":
        return ("joint",)
    wanted = (("pdd", cfg.use_dis or cfg.use_orth), ("face", True), ("pose", cfg.use_pose))
    return tuple(name for name, on in wanted if on)


class PCL(Method):
    name = "pcl"
    data_kind = "frames"
    Config = PCLConfig

    def __init__(self, cfg: PCLConfig, backbone, image_size: int = 64):
        super().__init__()
        validate(cfg)
        self.cfg, self.image_size = cfg, int(image_size)
        self.net = PCLNetwork(cfg, backbone.name, backbone.width, image_size)
        self.views = PCLViews(image_size, cfg.pose_augment, cfg.rotate_degrees, cfg.face_views, cfg.face_crop_min_scale,
                              cfg.face_crop_max_aspect, cfg.face_colour_strength)
        self.phases = phases_for(cfg)
        self.dwa = PeriodDWA(("pose", "face") if cfg.use_pose else ("face",), cfg.dwa_temperature, cfg.dwa_period_steps)

    # ---- weights -------------------------------------------------------------------------------
    def task_weights(self) -> dict[str, float]:
        """alpha_face, alpha_pose in force now."""
        if self.cfg.use_dwa:
            w = self.dwa.weights()
            return {"face": w["face"], "pose": w.get("pose", 0.0)}
        return {"face": self.cfg.face_weight, "pose": self.cfg.pose_weight}

    # ---- the loss terms ------------------------------------------------------------------------
    def pdd_loss(self, x: torch.Tensor, out: dict) -> torch.Tensor:
        """dis_weight * L_dis + orth_weight * L_orth on (s, s^), logging the terms into `out`."""
        from facessl.losses import orthogonality

        cfg, net = self.cfg, self.net
        x = batch_head(x, cfg.pdd_fraction)
        s, s_hat, s_noisy, s_hat_noisy = self.views.pdd(x, cfg.noise_sigma)
        ff, fp = net.split(s_noisy)
        ff_h, fp_h = net.split(s_hat_noisy)
        loss = x.new_zeros(())
        if cfg.use_dis:
            pairs = {"dis_ff_fp": (ff, fp, s), "dis_ff_fphat": (ff, fp_h, s_hat),
                     "dis_ffhat_fp": (ff_h, fp, s), "dis_ffhat_fphat": (ff_h, fp_h, s_hat)}
            dis = x.new_zeros(())
            for key, (a, b, target) in pairs.items():
                term = F.l1_loss(net.decode(a, b).float(), target)
                out[key] = term.detach()
                dis = dis + term
            out["dis"] = dis.detach()
            loss = loss + cfg.dis_weight * dis
        if cfg.use_orth:
            orth = orthogonality(ff, fp, cfg.orth_mode) + orthogonality(ff_h, fp_h, cfg.orth_mode)
            out["orth"] = orth.detach()
            loss = loss + cfg.orth_weight * orth
        return loss

    def face_loss(self, x: torch.Tensor, out: dict) -> torch.Tensor:
        """Unweighted L_face (NT-Xent over the global batch, negatives mixed if face_mix)."""
        from facessl.losses import nt_xent

        cfg = self.cfg
        v1, v2 = self.views.face(x)
        z = self.net.face_embedding(torch.cat([v1, v2])).float()
        n = v1.shape[0]
        loss = nt_xent(z[:n], z[n:], cfg.face_temperature, gather=True,
                       mix_alpha=cfg.mix_alpha if cfg.face_mix else None)
        out["face"] = loss.detach()
        return loss

    def pose_loss(self, x: torch.Tensor, out: dict) -> torch.Tensor:
        """Unweighted L_pose with the configured negative scheme."""
        from facessl.losses import pose_contrastive

        cfg = self.cfg
        if cfg.negatives == "reference" and cfg.pose_batch:
            x = x[: cfg.pose_batch]
        elif cfg.negatives == "batch":
            x = batch_head(x, cfg.pose_fraction)
        v1, v2 = self.views.pose(x)
        p = self.net.pose_embedding(torch.cat([v1, v2])).float()
        n = v1.shape[0]
        neg = self.net.pose_embedding(self.views.pose_negatives(x, cfg.negatives, cfg.num_negatives)).float()
        if cfg.negatives == "reference":
            neg = neg.view(n, cfg.num_negatives, -1)  # sample-major: row i holds image i's M copies
        loss = pose_contrastive(p[:n], p[n:], neg, cfg.pose_temperature, gather=True,
                                mix_alpha=cfg.mix_alpha if cfg.pose_mix else None, symmetric=cfg.pose_symmetric)
        out["pose"] = loss.detach()
        return loss

    # ---- Method contract -----------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor], phase: str = "joint") -> dict[str, torch.Tensor]:
        if phase not in self.phases:
            raise FacesslError(f"PCL phase {phase!r} is not one of this config's phases {self.phases}")
        cfg = self.cfg
        x = to_unit(batch["images"])
        weights = self.task_weights()
        out: dict = {}
        loss = x.new_zeros(())
        if phase in ("pdd", "joint") and (cfg.use_dis or cfg.use_orth):
            loss = loss + self.pdd_loss(x, out)
        if phase in ("face", "joint"):
            face = self.face_loss(x, out)
            loss = loss + weights["face"] * face
            out["w_face"] = weights["face"]
        if phase in ("pose", "joint") and cfg.use_pose:
            pose = self.pose_loss(x, out)
            loss = loss + weights["pose"] * pose
            out["w_pose"] = weights["pose"]
        out["loss"] = loss
        return out

    def encoder(self) -> Encoder:
        return self.net.encoder()

    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        """Feed DWA the iteration's unweighted 'face'/'pose' losses (the trainer's logs are already
        averaged over processes); `logs['epoch']` (the epoch of this iteration) drives per-epoch DWA."""
        if not self.cfg.use_dwa:
            return
        epoch = logs.get("epoch")
        self.dwa.end_step(logs, int(epoch) if epoch is not None else None)

    def extra_state(self) -> dict:
        return {"dwa": self.dwa.state()}

    def load_extra_state(self, state: dict) -> None:
        if "dwa" in state:
            self.dwa.load_state(state["dwa"])

    def images_for_logging(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """'reconstructions': rows s, s^, D(F_f,F_p), D(F_f,F_p^), D(F_f^,F_p), D(F_f), D(F_p), D(F_p^);
        8 samples per row (the trainer's grid has 8 columns)."""
        from facessl.methods.pcl_analysis import reconstruction_grid

        return {"reconstructions": reconstruction_grid(self, batch["images"], columns=8)}

    def logging_row_labels(self, name: str) -> list[str] | None:
        from facessl.methods.pcl_analysis import grid_row_names

        return grid_row_names(self) if name == "reconstructions" else None


def swap_test(method: PCL, images: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
    """Feature-swap disentanglement check; see facessl.methods.pcl_analysis.swap_test."""
    from facessl.methods.pcl_analysis import swap_test as _swap

    return _swap(method, images, batch_size)
