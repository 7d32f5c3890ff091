"""Face tracks like VoxCeleb's: one identity over T frames with smooth head motion, an expression that
rises and fades, talking mouth movement, and a scene whose light and framing drift slowly.

Frame rate is nominally 25 fps; motions are sums of a few random low-frequency sinusoids, so
consecutive frames differ by small amounts and a track is a pure function of the generator state.
"""
from __future__ import annotations

import math

import torch

from .params import EXPRESSION_PROTOTYPES, expression_aus, sample_poses
from .scene import sample_scene

FPS = 25.0
NEUTRAL = 6  # index of "neutral" in labels.EXPRESSIONS


def _smooth(n_frames: int, channels: int, generator: torch.Generator, max_hz: float, parts: int = 3) -> torch.Tensor:
    """(T, channels) zero-mean smooth noise of unit-ish amplitude: random sinusoids below max_hz."""
    t = torch.arange(n_frames, dtype=torch.float32).view(-1, 1, 1) / FPS
    freq = torch.rand(1, channels, parts, generator=generator) * max_hz
    phase = torch.rand(1, channels, parts, generator=generator) * 2 * math.pi
    amp = torch.rand(1, channels, parts, generator=generator) + 0.2
    wave = (amp * torch.sin(2 * math.pi * freq * t + phase)).sum(-1)
    return wave / amp.sum(-1).clamp_min(1e-6) * 1.5


def _envelope(n_frames: int, generator: torch.Generator) -> torch.Tensor:
    """(T,) expression strength in [0, 1]: rises from an onset, holds, and may fade before the end."""
    u = torch.rand(4, generator=generator)
    t = torch.arange(n_frames, dtype=torch.float32)
    onset = u[0] * 0.4 * n_frames
    rise = 8 + u[1] * 0.25 * n_frames  # onsets take a third of a second or more
    fade = torch.where(u[2] < 0.5, onset + rise + (0.3 + 0.5 * u[3]) * n_frames, torch.tensor(1e9))
    up = ((t - onset) / rise).clamp(0, 1)
    down = 1 - ((t - fade) / rise).clamp(0, 1)
    env = up * down
    return env * env * (3 - 2 * env)  # smoothstep


def sample_track(identity: torch.Tensor, n_frames: int, generator: torch.Generator,
                 expression: int | None = None) -> dict:
    """One track: {'identity' (T,P), 'pose' (T,3) degrees, 'aus' (T,8), 'expression' (T,) int (the track's
    expression while it is shown, neutral otherwise), 'scene' dict of (T,...) tensors}; pass the parts
    to render(). `expression` None draws one (neutral included)."""
    g = generator
    T = int(n_frames)
    if expression is None:
        expression = int(torch.randint(0, len(EXPRESSION_PROTOTYPES), (1,), generator=g))
    # Head motion around a VoxCeleb-like base pose.
    base = sample_poses(1, g)
    wobble = _smooth(T, 3, g, max_hz=0.5) * torch.tensor([9.0, 5.0, 3.0])
    pose = base + wobble
    pose = torch.stack([pose[:, 0].clamp(-90, 90), pose[:, 1].clamp(-45, 45), pose[:, 2].clamp(-45, 45)], 1)
    # Expression: its AUs scaled by an envelope, plus small spontaneous movement.
    target = expression_aus(torch.tensor([expression]), g)                   # (1, 8)
    rest = expression_aus(torch.tensor([NEUTRAL]), g)
    env = _envelope(T, g).unsqueeze(1)
    aus = rest + (target - rest) * env + 0.25 * _smooth(T, 8, g, max_hz=1.0).abs()
    # Talking: lips part and the jaw moves at syllable rate in most tracks.
    if float(torch.rand(1, generator=g)) < 0.7:
        talk = (0.5 + 0.5 * _smooth(T, 1, g, max_hz=4.0, parts=4)).clamp(0, 1).squeeze(1)
        aus[:, 6] += 1.6 * talk
        aus[:, 7] += 1.0 * talk
    aus = aus.clamp(0, 5)
    labels = torch.where(env.squeeze(1) > 0.5, torch.tensor(expression), torch.tensor(NEUTRAL))
    # Scene: one draw per track, with light direction and framing drifting slowly.
    scene = {k: v.expand(T, *v.shape[1:]).clone() for k, v in sample_scene(1, g).items()}
    light = scene["light"] + 0.15 * _smooth(T, 3, g, max_hz=0.2)
    scene["light"] = light / light.norm(dim=1, keepdim=True)
    scene["offset"] = scene["offset"] + _smooth(T, 3, g, max_hz=0.3) * torch.tensor([0.01, 0.01, 0.02])
    occ = scene["occluder"]
    occ[:, 1:3] = occ[:, 1:3] + 0.05 * _smooth(T, 2, g, max_hz=0.5)
    identity = identity.reshape(1, -1).expand(T, -1).clone()
    return {"identity": identity, "pose": pose, "aus": aus, "expression": labels, "scene": scene}
