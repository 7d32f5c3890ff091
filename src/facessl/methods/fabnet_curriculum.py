"""FAb-Net's percentile-window curriculum.

Every step the per-sample losses of the batch are sorted and only those inside a percentile window
are back-propagated: at first the easiest half, [0, 50%). Whenever the monitored loss stalls (no
new best for `patience` consecutive checks) the window moves up by `step` (10%), until its top
reaches `max_high` (90%), i.e. [0,50) -> [10,60) -> [20,70) -> [30,80) -> [40,90) and no further.
After a move the stall tracker restarts (a new best must be found from scratch), as in the
reference code, whose tracker is re-created after each move.

The monitored value is whatever `observe()` is fed; `end_period()` closes a checking period and
returns whether the window moved. The class holds plain Python numbers only, so its state_dict is
JSON and a resumed run continues exactly.
"""
from __future__ import annotations

import math

import torch

from facessl.errors import FacesslError


class Curriculum:
    def __init__(self, low: float = 0.0, high: float = 0.5, step: float = 0.1, max_high: float = 0.9,
                 patience: int = 3, min_delta: float = 0.0, enabled: bool = True):
        if not (0.0 <= low < high <= 1.0):
            raise FacesslError(f"curriculum window must satisfy 0 <= low < high <= 1, got [{low}, {high}]")
        if not (high <= max_high <= 1.0) or step < 0 or patience < 1:
            raise FacesslError(f"curriculum needs high <= max_high <= 1, step >= 0 and patience >= 1; got "
                               f"max_high={max_high}, step={step}, patience={patience}")
        self.start_low, self.start_high, self.step, self.max_high = low, high, step, max_high
        self.patience, self.min_delta, self.enabled = int(patience), float(min_delta), bool(enabled)
        self.moves = 0                # how many times the window has moved up
        self.best = math.inf          # best monitored value since the last move
        self.stalls = 0               # checks since that best
        self.checks = 0               # periods closed so far
        self.period_sum = 0.0
        self.period_count = 0
        self.history: list[dict] = []  # one entry per move: {'check': n, 'low': ., 'high': .}

    # The window -------------------------------------------------------------------------------
    @property
    def max_moves(self) -> int:
        if self.step <= 0:
            return 0
        return int(math.floor((self.max_high - self.start_high) / self.step + 1e-6))

    @property
    def window(self) -> tuple[float, float]:
        """(low, high) as fractions of the batch; (0, 1) when the curriculum is disabled."""
        if not self.enabled:
            return 0.0, 1.0
        shift = self.moves * self.step
        return round(self.start_low + shift, 6), round(self.start_high + shift, 6)

    @property
    def at_ceiling(self) -> bool:
        return self.moves >= self.max_moves

    def bounds(self, n: int) -> tuple[int, int]:
        """Index range [start, stop) of the sorted batch of size n kept by the window (never empty)."""
        low, high = self.window
        start = min(int(low * n), n - 1)
        stop = max(int(high * n), start + 1)
        return start, min(stop, n)

    def select(self, per_sample: torch.Tensor) -> torch.Tensor:
        """Mean of the per-sample losses (n,) that fall inside the window after sorting (differentiable)."""
        if per_sample.dim() != 1 or per_sample.numel() == 0:
            raise ValueError(f"per-sample losses must be a non-empty 1-D tensor, got {tuple(per_sample.shape)}")
        if not self.enabled:
            return per_sample.mean()
        start, stop = self.bounds(per_sample.numel())
        return torch.sort(per_sample).values[start:stop].mean()

    # Stall detection --------------------------------------------------------------------------
    def observe(self, value: float, count: int = 1) -> None:
        """Add a monitored value (e.g. a batch's mean loss over ALL its samples) to the current period."""
        self.period_sum += float(value) * count
        self.period_count += int(count)

    def end_period(self) -> bool:
        """Close the period: feed its mean to update(); returns True if the window moved."""
        if self.period_count == 0:
            return False
        value = self.period_sum / self.period_count
        self.period_sum, self.period_count = 0.0, 0
        return self.update(value)

    def update(self, value: float) -> bool:
        """One check with a monitored loss value; moves the window on a stall. Returns True if it moved."""
        self.checks += 1
        if value < self.best - self.min_delta:
            self.best, self.stalls = float(value), 0
            return False
        self.stalls += 1
        if not self.enabled or self.at_ceiling or self.stalls < self.patience:
            return False
        self.moves += 1
        self.best, self.stalls = math.inf, 0
        low, high = self.window
        self.history.append({"check": self.checks, "low": low, "high": high})
        return True

    # Checkpointing ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"moves": self.moves, "best": None if math.isinf(self.best) else self.best,
                "stalls": self.stalls, "checks": self.checks, "period_sum": self.period_sum,
                "period_count": self.period_count, "history": [dict(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        self.moves = int(state.get("moves", 0))
        best = state.get("best")
        self.best = math.inf if best is None else float(best)
        self.stalls = int(state.get("stalls", 0))
        self.checks = int(state.get("checks", 0))
        self.period_sum = float(state.get("period_sum", 0.0))
        self.period_count = int(state.get("period_count", 0))
        self.history = [dict(h) for h in state.get("history", [])]
