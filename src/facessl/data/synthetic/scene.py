"""Scene parameters around a face: lighting, background, camera jitter, sensor noise/blur and occluders.

A scene is a dict of tensors with one row per rendered frame; ``render`` reads it. Directions are in
camera coordinates (x right, y up, z towards the camera).
"""
from __future__ import annotations

import math

import torch

SCENE_KEYS = (
    "light", "light_colour", "ambient", "specular", "background", "bg_gradient", "bg_texture",
    "offset", "noise", "blur", "occluder", "occluder_colour",
)


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def sample_scene(n: int, generator: torch.Generator, occluder_rate: float = 0.08) -> dict[str, torch.Tensor]:
    """Lighting, background, framing jitter, noise and occluder parameters for n frames.

    Keys: 'light' (n,3) unit direction towards the light; 'light_colour' (n,3); 'ambient' (n,3);
    'specular' (n,); 'background' (n,2,3) two RGB colours in [0,1]; 'bg_gradient' (n,3) weight and
    direction; 'bg_texture' (n,4) weight, frequency, angle, phase; 'offset' (n,3) dx, dy (fraction of the
    frame) and log-scale of the face; 'noise' (n,) pixel noise std in [0,1] units; 'blur' (n,) blur
    mix in [0,1]; 'occluder' (n,5) kind (0 none, 1 hand-like blob, 2 bar), centre x, y (fraction),
    size (fraction), angle; 'occluder_colour' (n,3).
    """
    g = generator
    r = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    # Key light mostly from the front and above, sometimes hard from a side.
    azimuth = (r(n) * 2 - 1) * math.radians(70)
    elevation = math.radians(-10) + r(n) * math.radians(55)
    light = torch.stack([torch.sin(azimuth) * torch.cos(elevation), torch.sin(elevation),
                         torch.cos(azimuth) * torch.cos(elevation)], dim=1)
    warmth = (r(n, 1) * 2 - 1) * 0.12
    light_colour = (0.75 + 0.35 * r(n, 1)) * torch.cat([1 + warmth, torch.ones(n, 1), 1 - warmth], 1)
    ambient = (0.18 + 0.22 * r(n, 1)) * (1 + 0.1 * (r(n, 3) * 2 - 1))
    specular = 0.05 + 0.25 * r(n)
    # Backgrounds: plain, gradient or a procedural texture, in muted or bright colours.
    background = r(n, 2, 3) ** 1.3
    kind = r(n)
    grad_w = torch.where(kind < 0.35, torch.zeros(n), 0.4 + 0.6 * r(n))
    grad_angle = r(n) * 2 * math.pi
    bg_gradient = torch.stack([grad_w, torch.cos(grad_angle), torch.sin(grad_angle)], 1)
    tex_w = torch.where(kind > 0.65, 0.3 + 0.7 * r(n), torch.zeros(n))
    bg_texture = torch.stack([tex_w, 2 + 10 * r(n), r(n) * math.pi, r(n) * 2 * math.pi], 1)
    offset = torch.cat([(r(n, 2) * 2 - 1) * 0.03, (r(n, 1) * 2 - 1) * 0.05], 1)
    noise = 0.025 * r(n) ** 2
    blur = 0.6 * r(n) ** 2
    occ_kind = torch.where(r(n) < occluder_rate, 1.0 + (r(n) < 0.4).float(), torch.zeros(n))
    occluder = torch.stack([occ_kind, 0.2 + 0.6 * r(n), 0.45 + 0.5 * r(n), 0.15 + 0.2 * r(n),
                            (r(n) * 2 - 1) * math.pi / 3], 1)
    occluder_colour = r(n, 3) * 0.8 + 0.1
    return {"light": _unit(light), "light_colour": light_colour, "ambient": ambient, "specular": specular,
            "background": background, "bg_gradient": bg_gradient, "bg_texture": bg_texture,
            "offset": offset, "noise": noise, "blur": blur, "occluder": occluder,
            "occluder_colour": occluder_colour}


def plain_scene(n: int, colour=(0.5, 0.5, 0.5), light=(0.0, 0.3, 1.0)) -> dict[str, torch.Tensor]:
    """A fixed studio scene (plain background, frontal light, no noise, blur or occluder): for tests and figures."""
    rows = lambda v: torch.tensor(v, dtype=torch.float32).expand(n, -1).clone()  # noqa: E731
    return {"light": _unit(rows(light)), "light_colour": rows((1.0, 1.0, 1.0)), "ambient": rows((0.28,) * 3),
            "specular": torch.full((n,), 0.15), "background": rows(colour).unsqueeze(1).repeat(1, 2, 1),
            "bg_gradient": torch.zeros(n, 3), "bg_texture": torch.zeros(n, 4), "offset": torch.zeros(n, 3),
            "noise": torch.zeros(n), "blur": torch.zeros(n), "occluder": torch.zeros(n, 5),
            "occluder_colour": torch.zeros(n, 3)}


def check_scene(scene: dict, n: int) -> None:
    """Raise ValueError naming the first missing key or wrong leading dimension."""
    for key in SCENE_KEYS:
        if key not in scene:
            raise ValueError(f"scene is missing key {key!r} (expected keys: {', '.join(SCENE_KEYS)})")
        if scene[key].shape[0] != n:
            raise ValueError(f"scene[{key!r}] has {scene[key].shape[0]} rows, expected {n}")
