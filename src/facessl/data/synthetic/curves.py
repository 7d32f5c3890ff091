"""Feature outlines shared by the painter (texture.py) and the landmarks (landmarks.py), so the 68 points
sit exactly on the painted eyes, brows and lips. Arguments are head-local coordinates with feature
numbers F broadcastable against them (build_head's 'f' entries reshaped to (n, 1))."""
from __future__ import annotations

import torch


def eye_lids(u: torch.Tensor, F: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Upper and lower lid heights above the eye line at u = (|x| - ex) / ew (u = -1 inner corner, +1 outer)."""
    shape = (1 - u * u).clamp_min(0)
    return F["ey"] + F["eu"] * shape * (1 + 0.15 * u), F["ey"] - F["el"] * shape


def brow_line(ub: torch.Tensor, F: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Bottom edge height and thickness of a brow at ub in [0 (inner end), 1 (outer end)]."""
    bottom = F["b_in"] * (1 - ub) + F["b_out"] * ub + F["b_arch"] * 4 * ub * (1 - ub)
    return bottom, F["b_th"] * (1.15 - 0.55 * ub)


def brow_x(ub: torch.Tensor, F: dict) -> torch.Tensor:
    return F["b_x0"] + ub * (F["b_x1"] - F["b_x0"])


def mouth_lines(ax: torch.Tensor, F: dict) -> dict:
    """Mouth centre line 'ym', inner lip lines 'yui'/'yli' and outer lines 'yuo'/'ylo' at |x| = ax."""
    um = ax / F["mw"]
    sm = (1 - um * um).clamp_min(0).sqrt()
    ym = F["my"] + F["lift"] * um * um - 0.01 * sm * sm
    gap = F["gap"] * sm
    yui, yli = ym + 0.3 * gap, ym - 0.7 * gap
    bow = 1 - 0.35 * torch.exp(-(ax / 0.05) ** 2) + 0.15 * torch.exp(-((ax - 0.08) / 0.05) ** 2)
    return dict(um=um, sm=sm, ym=ym, yui=yui, yli=yli, yuo=yui + F["tu"] * sm * bow, ylo=yli - F["tl"] * sm)


def nose_tip(centre: torch.Tensor, radii: torch.Tensor, tilt: torch.Tensor) -> torch.Tensor:
    """(n, 3) front-most point (largest z) of the tilted nose ellipsoid, head-local."""
    c, s = tilt.cos(), tilt.sin()
    # Rows of the tilt rotation T (about x); the support point towards e_z is c + T D^2 T^T e_z / |D T^T e_z|.
    tz = torch.stack([torch.zeros_like(c), s, c], -1)  # T^T e_z
    d2 = radii ** 2 * tz
    norm = torch.sqrt((radii ** 2 * tz * tz).sum(-1, keepdim=True))
    local = d2 / norm
    world = torch.stack([local[:, 0], c * local[:, 1] - s * local[:, 2], s * local[:, 1] + c * local[:, 2]], -1)
    return centre + world
