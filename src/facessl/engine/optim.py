"""Optimisers (Adam, AdamW, SGD) and the learning-rate schedule (linear warm-up, then cosine or constant)."""
from __future__ import annotations

import math

import torch


def build_optimizer(params, cfg) -> torch.optim.Optimizer:
    """One optimiser over all trainable parameters, from facessl.config.OptimConfig."""
    params = [p for p in params if p.requires_grad]
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str, progress: float | None = None) -> float:
    """Multiplier of the base lr for the update after `step` updates: linear warm-up, then cosine to 0 or flat.
    `progress` (0..1), when given, places the cosine instead of the steps (a run with a time budget)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if progress is None:
        span = max(1, total_steps - warmup_steps)
        progress = (step - warmup_steps) / span
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def build_scheduler(optimizer, cfg, total_steps: int, progress=None) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR stepped once per iteration (after all of a method's phases). `progress`: a callable giving the
    share of a time budget spent, for a schedule over time (train.minutes)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, cfg.warmup_steps, cfg.schedule,
                                          progress() if progress is not None else None))
