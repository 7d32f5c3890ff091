"""FAb-Net sanity check on held-out faces: does the predicted flow reconstruct the target better than
copying the source as it is?

`heldout_photometric` runs a FAbNet method in eval mode, without jitter, on (target, source) tuples
and returns the mean L1 of warp(source) vs target ('model_l1') and of the unwarped source vs target
('copy_l1', the identity-flow baseline). A model that learned real motion has model_l1 < copy_l1.

Held-out tuples come from frame sequences of people never seen in pretraining:
  `sequence_tuples(root, gap)`  every folder of `root` holding frames (e.g. DISFA's Images/SN001/*.jpg)
                                is one sequence; pairs are frames `gap` apart (target = the later one).
  `track_tuples(root, ids, gap)` the face tracks of some identities of a VoxCeleb-layout tree
                                (<root>/<id>/<video>/<track>/<frame>.jpg), e.g. identities held out of training.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facessl.data.frames import decode_image
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import FacesslError


def _frames_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _pairs(sequences: list[list[Path]], gap: int, size: int, max_pairs: int, seed: int) -> torch.Tensor:
    """uint8 (N, 2, 3, S, S): frame i+gap (target) and frame i (source) of each sequence, N <= max_pairs."""
    index = [(s, i) for s, seq in enumerate(sequences) for i in range(len(seq) - gap)]
    if not index:
        raise FacesslError(f"no sequence has more than gap={gap} frames")
    rng = np.random.default_rng(seed)
    if len(index) > max_pairs:
        index = [index[j] for j in sorted(rng.choice(len(index), max_pairs, replace=False))]
    out = []
    for s, i in index:
        target, source = (decode_image(sequences[s][i + k], size) for k in (gap, 0))
        if target is None or source is None:
            raise FacesslError(f"{sequences[s][i]}: unreadable frame in a held-out sequence")
        out.append(torch.stack((target, source)))
    return torch.stack(out)


def sequence_tuples(root, gap: int = 4, size: int = 64, max_pairs: int = 512, seed: int = 0) -> torch.Tensor:
    """Pairs `gap` frames apart from every frame folder under `root` (frames sorted by name)."""
    root = Path(root)
    if not root.is_dir():
        raise FacesslError(f"{root}: held-out frame folder not found")
    folders = [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
    sequences = [f for f in (_frames_of(d) for d in folders) if len(f) > gap]
    if not sequences:
        raise FacesslError(f"{root}: no folder with more than {gap} frames")
    return _pairs(sequences, gap, size, max_pairs, seed)


def track_tuples(root, identities, gap: int = 4, size: int = 64, max_pairs: int = 512,
                 seed: int = 0) -> torch.Tensor:
    """Pairs `gap` frames apart from the tracks of the given identity folders of a VoxCeleb-layout tree."""
    root = Path(root)
    sequences = []
    for ident in identities:
        tracks = sorted(t for t in (root / ident).glob("*/*") if t.is_dir())
        if not tracks:
            raise FacesslError(f"{root / ident}: no <video>/<track> folders for held-out identity '{ident}'")
        sequences += [f for f in (_frames_of(t) for t in tracks) if len(f) > gap]
    return _pairs(sequences, gap, size, max_pairs, seed)


@torch.no_grad()
def crop_jitter(tuples: torch.Tensor, translate: float = 0.05, scale: float = 0.1, seed: int = 0) -> torch.Tensor:
    """The same tuples with every frame independently re-cropped (a seeded random_jitter), as the
    reference loader crops each frame of a track (its validation tuples included): the flow then has
    to register the crops. uint8 in, uint8 out."""
    from facessl.methods.fabnet_warp import random_jitter

    g = torch.Generator().manual_seed(seed)
    flat = tuples.flatten(0, 1).float() / 255.0
    out = random_jitter(flat, translate, scale, generator=g)
    return (out * 255.0).round().clamp(0, 255).to(torch.uint8).view_as(tuples)


@torch.no_grad()
def heldout_photometric(method, tuples: torch.Tensor, batch_size: int = 64) -> dict[str, float]:
    """Eval-mode, jitter-free L1 on uint8 tuples (N, 2, 3, H, W) (target first, then the source):
    {'model_l1': warp(source) vs target, 'copy_l1': source vs target, 'pairs': N}."""
    if tuples.dim() != 5 or tuples.shape[1] < 2:
        raise FacesslError(f"held-out tuples must be (N, 2, 3, H, W), got {tuple(tuples.shape)}")
    was_training = method.training
    method.eval()
    device = next(method.parameters()).device
    model_sum = copy_sum = 0.0
    try:
        for start in range(0, len(tuples), batch_size):
            frames = tuples[start:start + batch_size, :2].to(device).float() / 255.0
            warped = method.predict(frames)["warped"][:, 0]
            target, source = frames[:, 0], frames[:, 1]
            model_sum += float((warped - target).abs().flatten(1).mean(1).sum())
            copy_sum += float((source - target).abs().flatten(1).mean(1).sum())
    finally:
        method.train(was_training)
    n = len(tuples)
    return {"model_l1": model_sum / n, "copy_l1": copy_sum / n, "pairs": n}
