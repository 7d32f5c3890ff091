"""Negative mixing (PCL reference code): each negative becomes lam*neg + (1-lam)*another negative.

lam ~ Beta(alpha, alpha) per negative (per row and negative for per-row negatives); the partner
is given by a random permutation of the negatives (an independent one per row). Sampling takes
an optional torch.Generator so tests and runs can reproduce it exactly; the Beta draws come from
a vectorised Marsaglia-Tsang gamma sampler, because torch.distributions takes no generator.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _gamma(shape, a: float, generator, device) -> torch.Tensor:
    """Gamma(a, 1) samples via Marsaglia & Tsang (2000); a < 1 through Gamma(a+1) * U^(1/a)."""
    boost = a < 1
    d = (a + 1 if boost else a) - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    out = torch.empty(shape, dtype=torch.float64, device=device).view(-1)
    pending = torch.arange(out.numel(), device=device)
    while pending.numel():
        k = pending.numel()
        x = torch.randn(k, generator=generator, device=device, dtype=torch.float64)
        u = torch.rand(k, generator=generator, device=device, dtype=torch.float64)
        v = (1 + c * x) ** 3
        ok = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        out[pending[ok]] = d * v[ok]
        pending = pending[~ok]
    if boost:
        u = torch.rand(out.numel(), generator=generator, device=device, dtype=torch.float64)
        out = out * u.pow(1.0 / a)
    return out.view(shape)


def sample_beta(shape, alpha: float, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Beta(alpha, alpha) samples (float32) of `shape`, drawn from `generator` (or the global RNG)."""
    if alpha <= 0:
        raise ValueError(f"Beta alpha must be > 0, got {alpha}")
    gdev = generator.device if generator is not None else device
    x = _gamma(shape, alpha, generator, gdev)
    y = _gamma(shape, alpha, generator, gdev)
    return (x / (x + y)).float().to(device)


def mixing_params(rows: int | None, m: int, alpha: float, generator=None, device=None):
    """(lam, partner) for M negatives: shapes (M,) and (M,) when rows is None, else (rows, M) each."""
    gdev = generator.device if generator is not None else device
    shape = (m,) if rows is None else (rows, m)
    lam = sample_beta(shape, alpha, generator, device)
    if rows is None:
        partner = torch.randperm(m, generator=generator, device=gdev)
    else:
        partner = torch.rand(shape, generator=generator, device=gdev).argsort(dim=1)
    return lam, partner.to(device)


def mix_negatives(neg: torch.Tensor, alpha: float = 1.6, generator: torch.Generator | None = None) -> torch.Tensor:
    """lam*neg + (1-lam)*neg[perm], lam ~ Beta(alpha, alpha) per negative.

    neg (M,D): one lam per negative, one permutation of the M negatives.
    neg (N,M,D): one lam per (row, negative), an independent permutation of the M negatives per row.
    Shape and dtype are kept; gradients flow to both mixed negatives.
    """
    if neg.dim() not in (2, 3):
        raise ValueError(f"mix_negatives expects (M,D) or (N,M,D), got {tuple(neg.shape)}")
    if neg.dim() == 2:
        lam, partner = mixing_params(None, neg.shape[0], alpha, generator, neg.device)
        lam = lam.to(neg.dtype)[:, None]
        return lam * neg + (1 - lam) * neg[partner]
    n, m, _ = neg.shape
    lam, partner = mixing_params(n, m, alpha, generator, neg.device)
    lam = lam.to(neg.dtype)[..., None]
    other = torch.gather(neg, 1, partner[..., None].expand_as(neg))
    return lam * neg + (1 - lam) * other


def mixed_negative_logits(anchors: torch.Tensor, keys: torch.Tensor, neg_idx: torch.Tensor, alpha: float,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Cosine similarities between each anchor and its MIXED negatives, from Gram matrices.

    anchors (R,D), keys (K,D), neg_idx (R,M) indices into keys. Mixed negative of row r, slot j:
    v = lam*k_a + (1-lam)*k_b with a = neg_idx[r,j], b = neg_idx[r, partner[r,j]]; the result equals
    cos(anchor_r, v) exactly as if mix_negatives had been applied to keys[neg_idx] (same draws).
    """
    r, m = neg_idx.shape
    lam, partner = mixing_params(r, m, alpha, generator, anchors.device)
    lam = lam.to(anchors.dtype)
    idx_b = torch.gather(neg_idx, 1, partner)
    sim = anchors @ keys.T                              # (R,K) raw dot products
    gram = keys @ keys.T                                # (K,K)
    sq = gram.diagonal()
    dot_a = torch.gather(sim, 1, neg_idx)
    dot_b = torch.gather(sim, 1, idx_b)
    cross = gram[neg_idx, idx_b]
    norm2 = lam ** 2 * sq[neg_idx] + (1 - lam) ** 2 * sq[idx_b] + 2 * lam * (1 - lam) * cross
    numer = lam * dot_a + (1 - lam) * dot_b
    anchor_norm = anchors.norm(dim=1, keepdim=True)
    return numer / (anchor_norm * norm2.clamp_min(0).sqrt()).clamp_min(1e-8)
