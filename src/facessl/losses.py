"""Self-supervised losses: the public API (pure functions) and thin nn.Module wrappers.

All similarities are cosine similarities. Contrastive losses are InfoNCE with the positive in the
denominator, as in the PCL reference code. When torch.distributed is initialised with more than
one process and `gather=True`, keys/negatives are gathered from every rank WITH gradients and
labels are offset by rank, so that (loss averaged over ranks, DDP-averaged gradients) equal one
process on the whole batch.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from facessl.engine import distributed as dist
from facessl.methods.pcl_negatives import mix_negatives, mixed_negative_logits

def _accurate(x: torch.Tensor) -> torch.Tensor:
    """Half-precision inputs (autocast) are computed in float32; float32/float64 are kept."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _autocast_off(loss):
    """Run a loss with autocast off. Casting its inputs to float32 is not enough: under autocast a matmul of
    float32 tensors still runs in bf16, which rounds logits near 1/temperature = 14 to steps of 0.06 and put
    1.3 % of error into NT-Xent's gradient (tests/test_losses.py)."""
    @functools.wraps(loss)
    def run(first: torch.Tensor, *args, **kwargs):
        with torch.autocast(first.device.type, enabled=False):
            return loss(first, *args, **kwargs)
    return run


__all__ = ["nt_xent", "pose_contrastive", "orthogonality", "mix_negatives", "dwa_weights",
           "NTXentLoss", "PoseContrastiveLoss", "OrthogonalityLoss", "DynamicWeightAverage"]


@_autocast_off
def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1, gather: bool = True,
            mix_alpha: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """SimCLR NT-Xent, mean over the 2N anchors.

    With u = normalise(cat(z1, z2)) (2N rows) and s_ab = u_a.u_b / temperature, anchor a with
    positive p(a) (row i of z1 <-> row i of z2):
        l_a = -log( exp(s_a,p(a)) / sum_{b != a} exp(s_ab) )      (2N-1 terms: positive included, self excluded)
        L   = (1/2N) sum_a l_a
    mix_alpha (PCL reference): each anchor's 2N-2 negatives k_j (the keys other than itself and its
    positive, in key order) are replaced by lam_j*k_j + (1-lam_j)*k_perm(j) BEFORE normalisation,
    lam ~ Beta(mix_alpha, mix_alpha) per (anchor, negative), perm a random permutation per anchor
    (see mix_negatives); computed from Gram matrices, without materialising (2N, 2N-2, D).
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"nt_xent expects two (N,D) tensors of the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.shape[0]
    if gather and dist.is_distributed():
        k1, k2, offset = dist.gather_with_grad(z1), dist.gather_with_grad(z2), dist.rank() * n
    else:
        k1, k2, offset = z1, z2, 0
    total = k1.shape[0]
    local = torch.arange(n, device=z1.device) + offset
    self_idx = torch.cat([local, local + total])
    pos_idx = torch.cat([local + total, local])
    anchors, keys = _accurate(torch.cat([z1, z2])), _accurate(torch.cat([k1, k2]))

    if mix_alpha is None:
        sim = F.normalize(anchors, dim=1) @ F.normalize(keys, dim=1).T / temperature
        sim = sim.masked_fill(F.one_hot(self_idx, 2 * total).bool(), float("-inf"))
        return F.cross_entropy(sim, pos_idx)

    # negatives of each anchor: every key except itself and its positive, in key order
    rows = torch.arange(2 * n, device=z1.device)
    keep = torch.ones(2 * n, 2 * total, dtype=torch.bool, device=z1.device)
    keep[rows, self_idx] = False
    keep[rows, pos_idx] = False
    neg_idx = torch.arange(2 * total, device=z1.device).expand(2 * n, -1)[keep].view(2 * n, 2 * total - 2)
    neg = mixed_negative_logits(anchors, keys, neg_idx, mix_alpha, generator)
    pos = F.cosine_similarity(anchors, keys[pos_idx], dim=1, eps=1e-8)
    logits = torch.cat([pos[:, None], neg], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(2 * n, dtype=torch.long, device=z1.device))


@_autocast_off
def pose_contrastive(p1: torch.Tensor, p2: torch.Tensor, negatives: torch.Tensor, temperature: float = 0.07,
                     gather: bool = True, mix_alpha: float | None = None, generator: torch.Generator | None = None,
                     symmetric: str = "sum") -> torch.Tensor:
    """PCL L_pose: InfoNCE between two pose-preserving views, negatives from pose-augmented images.

    With cosine similarities c(.,.) / temperature:
        l(p1->p2) = (1/N) sum_i -log( exp(c(p1_i, p2_i)) / (exp(c(p1_i, p2_i)) + sum_m exp(c(p1_i, n_im))) )
    negatives: (M,D) shared by every row (gathered from all ranks with gradients when distributed
    and gather=True), or (N,M,D) per row (n_im = negatives[i, m]; the reference: M flipped,
    augmented copies of image i). symmetric="sum" (default, the paper): l(p1->p2) + l(p2->p1);
    "mean": their average (what the reference code's single cross-entropy over 2N rows computes).
    mix_alpha: negatives are first mixed by mix_negatives (raw features, as the reference).
    """
    if p1.shape != p2.shape or p1.dim() != 2:
        raise ValueError(f"pose_contrastive expects two (N,D) tensors of the same shape, got {tuple(p1.shape)} and {tuple(p2.shape)}")
    per_row = negatives.dim() == 3
    if per_row and negatives.shape[0] != p1.shape[0]:
        raise ValueError(f"per-row negatives must be (N,M,D) with N={p1.shape[0]}, got {tuple(negatives.shape)}")
    if not per_row and gather and dist.is_distributed():
        negatives = dist.gather_with_grad(negatives)
    negatives = _accurate(negatives)
    if mix_alpha is not None:
        negatives = mix_negatives(negatives, mix_alpha, generator)
    a1, a2 = F.normalize(_accurate(p1), dim=1), F.normalize(_accurate(p2), dim=1)
    negn = F.normalize(negatives, dim=-1)
    pos = (a1 * a2).sum(1, keepdim=True)

    def one_direction(anchor: torch.Tensor) -> torch.Tensor:
        neg = torch.einsum("nd,nmd->nm", anchor, negn) if per_row else anchor @ negn.T
        logits = torch.cat([pos, neg], dim=1) / temperature
        return F.cross_entropy(logits, torch.zeros(len(anchor), dtype=torch.long, device=anchor.device))

    loss = one_direction(a1) + one_direction(a2)
    if symmetric == "mean":
        return loss / 2
    if symmetric != "sum":
        raise ValueError(f"symmetric must be 'sum' or 'mean', got {symmetric!r}")
    return loss


@_autocast_off
def orthogonality(ff: torch.Tensor, fp: torch.Tensor, mode: str = "batch", eps: float = 1e-6) -> torch.Tensor:
    """PCL L_orth between face features ff and pose features fp, both flattened to (N,D).

    mode="batch" (reference code, default): f = ff - mean_batch(ff), p = fp - mean_batch(fp);
        each row divided by its L2 norm (detached) + eps; L = mean over the D x D entries of (f^T p)^2.
    mode="sample" (paper): L = (1/N) sum_i cos(ff_i, fp_i)^2.
    Batch mode uses the local batch on each rank (no gather).
    """
    ff, fp = _accurate(ff.flatten(1)), _accurate(fp.flatten(1))
    if mode == "batch":
        f = ff - ff.mean(0, keepdim=True)
        p = fp - fp.mean(0, keepdim=True)
        f = f / (f.norm(dim=1, keepdim=True).detach() + eps)
        p = p / (p.norm(dim=1, keepdim=True).detach() + eps)
        return (f.T @ p).pow(2).mean()
    if mode == "sample":
        return F.cosine_similarity(ff, fp, dim=1, eps=1e-8).pow(2).mean()
    raise ValueError(f"orthogonality mode must be 'batch' or 'sample', got {mode!r}")


def dwa_weights(last: Sequence[float] | torch.Tensor, before_last: Sequence[float] | torch.Tensor,
                temperature: float = 2.0):
    """Dynamic Weight Average (Liu et al., MTAN 2019).

    r_k = last_k / before_last_k (the mean loss of task k over the last two epochs),
    w_k = K * exp(r_k / T) / sum_j exp(r_j / T). The K weights sum to K; equal ratios give all ones.
    Returns a tensor for tensor input, else a list of floats.
    """
    as_tensor = isinstance(last, torch.Tensor)
    a = torch.as_tensor(last, dtype=torch.float64)
    b = torch.as_tensor(before_last, dtype=torch.float64)
    if a.shape != b.shape or a.dim() != 1:
        raise ValueError(f"dwa_weights expects two 1-D sequences of the same length, got {tuple(a.shape)} and {tuple(b.shape)}")
    ratio = torch.where(b.abs() > 0, a / b.where(b.abs() > 0, torch.ones_like(b)), torch.ones_like(a))
    w = len(a) * torch.softmax(ratio / temperature, dim=0)
    return w.to(last.dtype if last.is_floating_point() else torch.float32) if as_tensor else w.tolist()


class NTXentLoss(nn.Module):
    def __init__(self, temperature: float = 0.1, gather: bool = True, mix_alpha: float | None = None):
        super().__init__()
        self.temperature, self.gather, self.mix_alpha = temperature, gather, mix_alpha

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return nt_xent(z1, z2, self.temperature, self.gather, self.mix_alpha)


class PoseContrastiveLoss(nn.Module):
    def __init__(self, temperature: float = 0.07, gather: bool = True, mix_alpha: float | None = None,
                 symmetric: str = "sum"):
        super().__init__()
        self.temperature, self.gather, self.mix_alpha, self.symmetric = temperature, gather, mix_alpha, symmetric

    def forward(self, p1: torch.Tensor, p2: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        return pose_contrastive(p1, p2, negatives, self.temperature, self.gather, self.mix_alpha,
                                symmetric=self.symmetric)


class OrthogonalityLoss(nn.Module):
    def __init__(self, mode: str = "batch"):
        super().__init__()
        self.mode = mode

    def forward(self, ff: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
        return orthogonality(ff, fp, self.mode)


class DynamicWeightAverage:
    """Per-epoch task weights from dwa_weights over a history of epoch-mean losses.

    update(epoch_means) after each epoch; weights() gives K ones until two epochs are recorded
    (after `warmup` extra epochs, if set), then dwa_weights(history[-1], history[-2], T).
    state()/load_state() are JSON-serialisable for checkpoints.
    """

    def __init__(self, num_tasks: int = 2, temperature: float = 2.0, warmup: int = 0):
        self.num_tasks, self.temperature, self.warmup = num_tasks, temperature, warmup
        self.history: list[list[float]] = []

    def update(self, epoch_means: Sequence[float]) -> None:
        values = [float(v) for v in epoch_means]
        if len(values) != self.num_tasks or not all(math.isfinite(v) for v in values):
            raise ValueError(f"expected {self.num_tasks} finite epoch-mean losses, got {values}")
        self.history.append(values)

    def weights(self) -> list[float]:
        if len(self.history) < 2 + self.warmup:
            return [1.0] * self.num_tasks
        return dwa_weights(self.history[-1], self.history[-2], self.temperature)

    def state(self) -> dict:
        return {"history": self.history}

    def load_state(self, state: dict) -> None:
        self.history = [list(map(float, h)) for h in state.get("history", [])]
