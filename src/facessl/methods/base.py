"""The contract between a method (SimCLR, PCL, FAb-Net) and the trainer.

A method owns its networks, its views (augmentation on the device) and its losses. The trainer
knows nothing of faces: it feeds batches, calls `forward(batch, phase)` once per phase, and takes
one optimiser step on the returned 'loss' after each phase (so PCL's alternating schedule is three
phases, a joint schedule one). Calling the method through `forward` keeps DDP's gradient
synchronisation intact.
"""
from __future__ import annotations

import torch
from torch import nn


class Encoder(nn.Module):
    """What evaluation sees: frozen features of images.

    features(images): images (N,3,H,W) float in [0,1] RGB -> dict name -> (N,D) float tensor.
    `feature_names` lists the keys in order (e.g. ('fs','ff','fp') for PCL).
    """

    feature_names: tuple[str, ...] = ("fs",)

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:  # pragma: no cover - interface
        raise NotImplementedError

    def same_features(self, size: int) -> dict[str, str]:
        """{feature: another feature whose numbers it equals} for inputs of `size`: evaluation probes one of them."""
        return {}


class Method(nn.Module):
    """Base class of every self-supervised method.

    Batches arrive on the device with images still uint8; the method converts them to float [0,1]
    (`images.float() / 255`) and applies its own views. `on_step_end` receives the iteration's logged
    values averaged over processes, so every rank takes the same decisions (DWA, curriculum).

    Subclasses set:
      name        registry name ('simclr', 'pcl', 'fabnet')
      data_kind   'frames' (batch['images'] uint8 (B,3,H,W)) or 'tuples' (uint8 (B,K,3,H,W), frames of one track)
      phases      names of the optimiser steps taken per iteration, e.g. ('joint',) or ('pdd','face','pose')
    and implement forward(batch, phase) -> dict with 'loss' (the tensor being optimised in that phase) and
    every loss term by name (tensors or floats, logged by the trainer), and encoder() -> Encoder.
    """

    name = "base"
    data_kind = "frames"
    phases: tuple[str, ...] = ("joint",)
    in_batch_negatives = True  # the other items of a batch are negatives (SimCLR, PCL); FAb-Net has none

    def forward(self, batch: dict[str, torch.Tensor], phase: str) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def encoder(self) -> Encoder:  # pragma: no cover - interface
        raise NotImplementedError

    # Hooks with sensible defaults -------------------------------------------------------------
    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        """Called on every rank after all phases of an iteration, with the iteration's logged values."""

    def extra_state(self) -> dict:
        """JSON-serialisable state saved in state.json (e.g. DWA loss history)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Inverse of extra_state."""

    def images_for_logging(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Optional PNG grids written during training: name -> (N,3,H,W) float [0,1], 8 a row."""
        return {}

    def logging_row_labels(self, name: str) -> list[str] | None:
        """What each row of the grid `name` shows, written at its left (None: no labels)."""
        return None
