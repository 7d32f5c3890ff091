"""A fast, deterministic stand-in for the face renderer, so builder tests exercise every code path in seconds.

Image colour depends on identity, expression (AUs) and pose; landmarks are a fixed template moved by
yaw. Only the builder's logic is under test here; tests/test_synth_build.py also runs the real renderer.
"""
import math

import pytest
import torch


def fake_render(identity, pose, aus, scene, size=64, generator=None, extra_aus=None):
    from facessl.data.synthetic import Render

    n = identity.shape[0]
    ramp = torch.linspace(0, 1, size).view(1, 1, size, 1)
    colour = (identity[:, :3] * 150 + aus[:, :3] * 10 + pose[:, :1].abs() * 0.5).view(n, 1, 1, 3)
    images = (colour + 60 * ramp + 40 * scene["background"][:, :1].view(n, 1, 1, 3)).clamp(0, 255).round().to(torch.uint8)
    t = torch.arange(68) * (2 * math.pi / 68)
    template = torch.stack([0.5 + 0.3 * torch.cos(t), 0.5 + 0.35 * torch.sin(t)], -1) * size
    landmarks = template.expand(n, 68, 2).clone()
    landmarks[..., 0] += 0.1 * size * torch.sin(torch.deg2rad(pose[:, :1]))
    return Render(images, landmarks, torch.ones(n, 68, dtype=torch.bool))


@pytest.fixture
def fast_render(monkeypatch):
    import facessl.data.synthetic as synthetic

    monkeypatch.setattr(synthetic, "render", fake_render)
    return fake_render
