"""Dynamic Weight Average over training periods for PCL's task weights (alpha_pose, alpha_face).

A period is `period_steps` iterations, or one epoch of the trainer (period_steps = 0; the epoch of each
iteration comes with the trainer's logs). After every iteration `end_step` receives that iteration's
unweighted task losses (host floats from the trainer's logs, already averaged over processes), adds
them to the open period and closes the period at its boundary: the period means are averaged across
processes once more (so every rank holds exactly the same weights whatever the trainer passed) and
appended to the history. Weights are 1 until two periods are complete, then
losses.dwa_weights(last, before_last, T), as the reference (which starts DWA at its third epoch).

state()/load_state() hold the history, the open period's sums and counts and the last epoch seen,
all as JSON numbers, so a resumed run continues with exactly the same weights.
"""
from __future__ import annotations

import math

import torch

from facessl.engine import distributed
from facessl.errors import FacesslError


class PeriodDWA:
    def __init__(self, tasks: tuple[str, ...], temperature: float = 2.0, period_steps: int = 0):
        self.tasks, self.temperature, self.period_steps = tuple(tasks), float(temperature), int(period_steps)
        self.history: list[list[float]] = []
        self.sums = [0.0] * len(self.tasks)
        self.counts = [0] * len(self.tasks)
        self.steps_in_period = 0
        self.last_epoch: int | None = None
        self.periods_closed = 0

    def end_step(self, values: dict[str, float], epoch: int | None = None) -> bool:
        """Add one iteration's task losses (missing tasks are skipped); True when a period was closed."""
        closed = False
        if self.period_steps == 0:
            if epoch is None:
                raise FacesslError("method.dwa_period_steps=0 (DWA per epoch) needs the trainer to pass the "
                                   "epoch to on_step_end; set method.dwa_period_steps to a number of steps")
            if self.last_epoch is not None and epoch != self.last_epoch and self.steps_in_period > 0:
                self._close()  # the previous epoch ended before this iteration
                closed = True
            self.last_epoch = int(epoch)
        for k, task in enumerate(self.tasks):
            v = values.get(task)
            if v is not None and math.isfinite(float(v)):
                self.sums[k] += float(v)
                self.counts[k] += 1
        self.steps_in_period += 1
        if self.period_steps > 0 and self.steps_in_period >= self.period_steps:
            self._close()
            closed = True
        return closed

    def _close(self) -> None:
        means = torch.tensor([s / c if c else float("nan") for s, c in zip(self.sums, self.counts)],
                             dtype=torch.float64)
        if distributed.is_distributed():
            import torch.distributed as dist

            on_gpu = dist.get_backend() == "nccl"
            dev = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
            means = distributed.all_reduce_mean(means.to(dev)).cpu()
        means = means.tolist()
        if all(math.isfinite(v) for v in means):
            self.history = (self.history + [means])[-2:]
        self.periods_closed += 1
        self.sums = [0.0] * len(self.tasks)
        self.counts = [0] * len(self.tasks)
        self.steps_in_period = 0

    def weights(self) -> dict[str, float]:
        if len(self.history) < 2:
            return {t: 1.0 for t in self.tasks}
        from facessl.losses import dwa_weights

        w = dwa_weights(self.history[-1], self.history[-2], self.temperature)
        return {t: float(v) for t, v in zip(self.tasks, w)}

    def state(self) -> dict:
        return {"tasks": list(self.tasks), "history": self.history, "sums": self.sums, "counts": self.counts,
                "steps_in_period": self.steps_in_period, "last_epoch": self.last_epoch,
                "periods_closed": self.periods_closed}

    def load_state(self, state: dict) -> None:
        if list(state.get("tasks", self.tasks)) != list(self.tasks):
            raise FacesslError(f"checkpoint DWA state is for tasks {state.get('tasks')}, "
                               f"this PCL config has {list(self.tasks)}")
        self.history = [[float(v) for v in h] for h in state.get("history", [])]
        self.sums = [float(v) for v in state.get("sums", [0.0] * len(self.tasks))]
        self.counts = [int(v) for v in state.get("counts", [0] * len(self.tasks))]
        self.steps_in_period = int(state.get("steps_in_period", 0))
        last = state.get("last_epoch")
        self.last_epoch = int(last) if last is not None else None
        self.periods_closed = int(state.get("periods_closed", 0))
