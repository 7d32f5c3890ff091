"""Faults no file can carry, injected for the duration of a `with` block."""
from __future__ import annotations

import contextlib


@contextlib.contextmanager
def weights_blow_up_at(step: int):
    """The update of training step `step` leaves weights of ~1e30 (finite) though its loss was finite,
    as a too-large learning rate or an fp16 overflow does; the loss turns NaN one step later."""
    import torch

    from facessl.engine.train import Trainer

    original = Trainer.train_step

    def train_step(self, batch):
        terms = original(self, batch)
        if self.step + 1 == step:
            with torch.no_grad():
                for p in self.method.parameters():
                    p.mul_(1e30)
        return terms

    Trainer.train_step = train_step
    try:
        yield
    finally:
        Trainer.train_step = original
