"""FAb-Net (Wiles, Koepke & Zisserman, BMVC 2018): learn a face embedding by predicting the flow that
turns a source frame into a target frame of the same track from the two embeddings alone.

Batch: uint8 (B,K,3,H,W) tuples of one face track; frame 0 is the target, frames 1..n the sources.
Each frame gets an independent mild spatial jitter (training only), as the reference loader does;
optionally whole tuples are turned grey or mirrored (`grayscale`, `flip`: every frame of a tuple alike).
Optionally each source frame gets its own smooth random local warp (`elastic`, off by default; not in the
paper), which the flow must undo.

Stages (config `stage`):
  single  every (source_i, target) pair is a sample: L1(warp(s_i, g(v_si, v_t)), t).
  multi   a confidence decoder scores each warped source per pixel; the prediction is
          Σ_i softmax_i(C_i) · warp_i and the L1 is to the target. With
          `freeze_flow_in_multisource` (default, as in the reference) the flow decoder is frozen
          (no gradients, BatchNorm in eval mode) and only the encoder and confidence decoder train;
          start this stage from a single-stage run with `init_from` (its weights and curriculum
          window carry over, as in the reference).

Flow output: flow = flow_scale * tanh(decoder), in normalised grid units (facessl.methods.fabnet_warp); the
decoder's last conv starts near zero (flow_init_std), so training starts from the identity warp
(copying the source) instead of a random, often large, constant flow. Check a trained model with
facessl.methods.fabnet_eval.heldout_photometric (warp vs copy-the-source L1 on held-out faces).

Curriculum (config `curriculum`): per-sample losses are sorted and only a percentile window is
back-propagated (facessl.methods.fabnet_curriculum). The reference moves the window when a held-out validation
loss stalls; the trainer has no validation hook, so here the monitored value is the mean L1 over
ALL samples of every training batch (not only the window), averaged over periods of
`curriculum_check_steps` iterations (and across processes); a stall is `curriculum_patience`
periods without a new best. The state (window, best, partial period) is in extra_state().
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from facessl.config import MethodConfig
from facessl.methods.fabnet_curriculum import Curriculum
from facessl.errors import FacesslError
from facessl.methods.base import Encoder, Method
from facessl.models.fabnet import Embedder, FlowDecoder, n_halvings
from facessl.models.registry import make_divisible
from facessl.methods.fabnet_warp import (ALIGN_CORNERS, combine_sources, random_elastic, random_jitter,
                                         tuple_consistent_augment, warp)


@dataclass
class FAbNetConfig(MethodConfig):
    name: str = "fabnet"
    embedding_dim: int = 256            # D: the paper's 1x1x256 embedding
    n_sources: int = 1                  # source frames per target (tuples carry n_sources + 1 frames)
    stage: Literal["single", "multi"] = "single"  # multi: confidence-weighted blend of n sources
    freeze_flow_in_multisource: bool = True
    init_from: str = ""                 # run/checkpoint dir whose weights start this run (single -> multi);
                                        # loaded at the first training step, never on resume or facessl.load
    decoder_width: float = 0.0          # decoder filters = 32 x this; 0: same as the backbone width
    confidence_tanh: bool = True        # reference: the confidence decoder ends in tanh, C in [-1, 1]
    curriculum: bool = True
    curriculum_low: float = 0.0         # starting window [low, high) of the sorted batch
    curriculum_high: float = 0.5
    curriculum_step: float = 0.1
    curriculum_max_high: float = 0.9
    curriculum_patience: int = 3        # checks without a new best before the window moves
    curriculum_check_steps: int = 200   # iterations per check
    jitter_translate: float = 0.05      # max shift, fraction of the image size
    jitter_scale: float = 0.1           # max zoom-in, fraction of the image size
    grayscale: float = 0.0              # probability that a training tuple is turned grey (all its frames)
    flip: float = 0.0                   # probability that a training tuple is mirrored (all its frames)
    elastic: float = 0.0                # max offset of a smooth random local warp of each source frame (fraction
                                        # of the image size; 0: off): the flow must undo it, so the embeddings
                                        # must say where the parts of the face are, even for a still
    elastic_grid: int = 4               # the warp's lattice cells per side
    flow_init_std: float = 1e-3         # std of the flow decoder's last conv at init: ~0 starts from the identity
                                        # warp (our default; exactly 0 would stop gradients to the encoder at
                                        # the first step); < 0: PyTorch's default init (the reference)
    flow_scale: float = 1.0             # flow = flow_scale * tanh(decoder), normalised units (1 = half the image)
    log_images: int = 6                 # rows in the training figure

    def __post_init__(self):
        if self.stage not in ("single", "multi"):
            raise FacesslError(f"method.stage must be 'single' or 'multi', got '{self.stage}'")
        if self.n_sources < 1 or self.embedding_dim < 1 or self.curriculum_check_steps < 1:
            raise FacesslError("method.n_sources, method.embedding_dim and method.curriculum_check_steps must be >= 1")
        if self.stage == "multi" and self.n_sources < 2:
            raise FacesslError(f"method.stage='multi' needs method.n_sources >= 2, got {self.n_sources}")
        if self.jitter_translate < 0 or not (0 <= self.jitter_scale < 1):
            raise FacesslError("method.jitter_translate must be >= 0 and method.jitter_scale in [0, 1)")
        for key in ("grayscale", "flip"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise FacesslError(f"method.{key} is a probability: expected a value in [0, 1], got {getattr(self, key)}")
        if not 0.0 <= self.elastic < 0.5 or self.elastic_grid < 1:
            raise FacesslError(f"method.elastic must be in [0, 0.5) (a fraction of the image size) and "
                               f"method.elastic_grid >= 1, got {self.elastic} and {self.elastic_grid}")


class FAbNetEncoder(Encoder):
    """'embedding': the paper's read-out (the D numbers the flow decoder reads). 'fs': the backbone's map
    before the embedding's linear layer, flattened at the input's own size, read as SimCLR's and the
    random-weights row's F_s are (the embedding is a linear map of it, pooled to the training size)."""

    feature_names = ("embedding", "fs")

    def __init__(self, embedder: Embedder):
        super().__init__()
        self.embedder = embedder

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        maps = self.embedder.maps(images)
        return {"embedding": self.embedder.project_maps(maps), "fs": maps.flatten(1)}

    def same_features(self, size: int) -> dict[str, str]:
        """{feature: the feature it equals} at this input size. The paper's encoder ends in its 1x1xD embedding
        (no linear layer), so at the training size (or a smaller input, resized up) F_s is the embedding itself;
        a larger input gives a larger map, which F_s keeps and the embedding pools."""
        embedder = self.embedder
        trained = embedder.backbone.feature_shape(embedder.image_size)
        if isinstance(embedder.project, nn.Identity) and embedder.backbone.feature_shape(max(int(size), embedder.image_size)) == trained:
            return {"fs": "embedding"}
        return {}


class FAbNet(Method):
    name = "fabnet"
    data_kind = "tuples"
    phases = ("joint",)
    in_batch_negatives = False  # each tuple is its own reconstruction: no other item of the batch takes part
    Config = FAbNetConfig

    def __init__(self, cfg: FAbNetConfig | None = None, backbone=None, image_size: int = 64):
        super().__init__()
        self.cfg = cfg = cfg or FAbNetConfig()
        bb_name = getattr(backbone, "name", "fabnet")
        bb_width = float(getattr(backbone, "width", 1.0))
        self.image_size = int(image_size)
        self.embedder = Embedder(bb_name, bb_width, self.image_size, cfg.embedding_dim)
        depth = n_halvings(self.image_size)
        nf = make_divisible(32 * (cfg.decoder_width or bb_width))
        self.flow_decoder = FlowDecoder(cfg.embedding_dim, depth, nf, out_channels=2,
                                        last_init_std=cfg.flow_init_std if cfg.flow_init_std >= 0 else None)
        self.multi = cfg.stage == "multi"
        if self.multi:  # only built when used: DDP rejects parameters that never get gradients
            self.confidence_decoder = FlowDecoder(cfg.embedding_dim, depth, nf, out_channels=1,
                                                  final_tanh=cfg.confidence_tanh)
        self.frozen_flow = self.multi and cfg.freeze_flow_in_multisource
        if self.frozen_flow:
            self.flow_decoder.requires_grad_(False)
            self.flow_decoder.eval()
        self.curriculum = Curriculum(cfg.curriculum_low, cfg.curriculum_high, cfg.curriculum_step,
                                     cfg.curriculum_max_high, cfg.curriculum_patience, enabled=cfg.curriculum)
        # (sum of batch mean losses, steps) since the last check; a plain attribute, not a buffer, so
        # DDP does not overwrite it with rank 0's copy. Lives on the loss device: no per-step sync.
        self._period = torch.zeros(2)
        self._initialised = not cfg.init_from

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_flow:
            self.flow_decoder.eval()  # a frozen decoder is a fixed function: running BN statistics
        return self

    def encoder(self) -> Encoder:
        return FAbNetEncoder(self.embedder)

    # Prediction -------------------------------------------------------------------------------
    def frames(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """uint8 (B,K,3,H,W) -> float [0,1] (B, n+1, 3, H, W): the target then n sources."""
        images = batch["images"]
        if images.dim() != 5 or images.shape[2] != 3:
            raise FacesslError(f"fabnet expects batch['images'] of shape (B,K,3,H,W), got {tuple(images.shape)}")
        need = self.cfg.n_sources + 1
        if images.shape[1] < need:
            raise FacesslError(f"fabnet with method.n_sources={self.cfg.n_sources} needs tuples of {need} frames, "
                               f"got {images.shape[1]}: set data.frames_per_tuple={need}")
        images = images[:, :need]
        return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()

    def jitter(self, frames: torch.Tensor) -> torch.Tensor:
        flat = random_jitter(frames.flatten(0, 1), self.cfg.jitter_translate, self.cfg.jitter_scale)
        return flat.view_as(frames)

    def predict(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """frames (B, n+1, 3, H, W) in [0,1] -> flow (B,n,2,H,W), warped (B,n,3,H,W), prediction
        (B,3,H,W) and, in the multi stage, confidence weights (B,n,1,H,W) summing to 1 over n."""
        b, k, _, h, w = frames.shape
        n = k - 1
        emb = self.embedder(frames.flatten(0, 1)).view(b, k, -1)
        v_t, v_s = emb[:, :1], emb[:, 1:]
        code = torch.cat((v_s, v_t.expand(-1, n, -1)), dim=-1).flatten(0, 1)  # (B*n, 2D): source first
        flow = self._full_size(self.flow_decoder(code) * self.cfg.flow_scale, h, w)
        warped = warp(frames[:, 1:].flatten(0, 1), flow).view(b, n, 3, h, w)
        out = {"flow": flow.view(b, n, 2, h, w), "warped": warped, "prediction": warped[:, 0]}
        if self.multi:
            conf = self._full_size(self.confidence_decoder(code), h, w).view(b, n, 1, h, w)
            out["prediction"], out["weights"] = combine_sources(warped, conf)
        return out

    @staticmethod
    def _full_size(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        if x.shape[-2:] == (h, w):
            return x
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=ALIGN_CORNERS)

    # Training ---------------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor], phase: str = "joint") -> dict[str, torch.Tensor]:
        if self.training and not self._initialised:
            load_initial_weights(self, self.cfg.init_from)
            self._initialised = True
        frames = self.frames(batch)
        if self.training:
            frames = tuple_consistent_augment(frames, self.cfg.grayscale, self.cfg.flip)
            if self.cfg.elastic > 0:
                sources = random_elastic(frames[:, 1:].flatten(0, 1), self.cfg.elastic, self.cfg.elastic_grid)
                frames = torch.cat((frames[:, :1], sources.view_as(frames[:, 1:])), dim=1)
            frames = self.jitter(frames)
        out = self.predict(frames)
        target = frames[:, 0]
        if self.multi:
            per_sample = (out["prediction"] - target).abs().flatten(1).mean(1)                # (B,)
        else:
            per_sample = (out["warped"] - target[:, None]).abs().flatten(2).mean(2).flatten()  # (B*n,)
        loss = self.curriculum.select(per_sample)
        full = per_sample.detach().mean()
        if self.training and torch.is_grad_enabled():
            if self._period.device != full.device:
                self._period = self._period.to(full.device)
            self._period += torch.stack([full.float(), torch.ones_like(full, dtype=torch.float32)])
        low, high = self.curriculum.window
        return {"loss": loss, "l1_all": full, "l1_window": loss.detach(),
                "curriculum_low": low, "curriculum_high": high}

    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        """step = iterations completed (the trainer counts from 1): a check every curriculum_check_steps."""
        if step % self.cfg.curriculum_check_steps:
            return
        period = self._period.clone()
        if dist.is_available() and dist.is_initialized():  # every rank must move the window together
            period = period.to(next(self.parameters()).device)
            dist.all_reduce(period)
        period = period.cpu()
        self._period.zero_()
        total, steps = float(period[0]), int(period[1])
        if steps:
            self.curriculum.observe(total / steps, steps)
        self.curriculum.end_period()

    def extra_state(self) -> dict:
        return {"curriculum": self.curriculum.state_dict(), "initialised": self._initialised,
                "pending_period": [float(self._period[0]), float(self._period[1])]}

    def load_extra_state(self, state: dict) -> None:
        if "curriculum" in state:
            self.curriculum.load_state_dict(state["curriculum"])
        self._period = torch.tensor(state.get("pending_period", [0.0, 0.0]), dtype=torch.float32)
        self._initialised = bool(state.get("initialised", self._initialised))

    # Figures ----------------------------------------------------------------------------------
    @torch.no_grad()
    def images_for_logging(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from facessl.viz.flow import flow_strips

        frames = self.frames({"images": batch["images"][: self.cfg.log_images]})
        strips, self._logged_columns = flow_strips(frames, self.predict(frames))  # (N, 3, H, columns*W), titles
        # one picture, samples as rows: source(s) | target | warp(s) | flow colour(s) | [confidences | blend] | error
        return {"fabnet_flow": torch.cat(list(strips), dim=1)[None]}

    def logging_column_labels(self, name: str) -> list[str] | None:
        """The titles of the columns of the last 'fabnet_flow' picture (written as its header row)."""
        columns = getattr(self, "_logged_columns", None) if name == "fabnet_flow" else None
        return list(columns) if columns else None


@torch.no_grad()
def load_initial_weights(method: FAbNet, path: str) -> None:
    """Copy weights from a FAb-Net run/checkpoint into `method`: every tensor whose key and shape
    match. The embedder and the flow decoder must be complete (the confidence decoder may be new).
    The curriculum window carries over too (the reference restarts stage 2 at stage 1's percentiles)."""
    import json

    from safetensors.torch import load_file

    from facessl.engine.checkpoint import resolve_checkpoint

    try:
        ckpt = resolve_checkpoint(path)
    except FacesslError as exc:  # say which setting named it: the recipe's init_from, not a command-line path
        raise FacesslError(f"method.init_from: {exc} (the single-source run this stage starts from)") from None
    file = ckpt / "model.safetensors"
    state = load_file(str(file))
    own = method.state_dict()
    needed = [k for k in own if k.startswith(("embedder.", "flow_decoder."))]
    bad = [k for k in needed if k not in state or state[k].shape != own[k].shape]
    if bad:
        raise FacesslError(f"{file}: method.init_from must be a FAb-Net checkpoint with the same backbone, "
                           f"size and embedding; {len(bad)} keys missing or of another shape, e.g. {bad[0]}")
    for k, v in own.items():
        if k in state and state[k].shape == v.shape:
            v.copy_(state[k].to(v.device, v.dtype))
    if (ckpt / "state.json").is_file():
        moves = json.loads((ckpt / "state.json").read_text()).get("method", {}).get("curriculum", {}).get("moves", 0)
        method.curriculum.moves = min(int(moves), method.curriculum.max_moves)
