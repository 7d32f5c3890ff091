"""Procedural facial features painted in head-local coordinates: colour, a bump height and specularity.

Works on flat arrays of hit pixels (one entry per visible surface point, `b` = its sample). Features
are functions of the hit point (x, y, z) on the head (see head.py for the frame), so they move with the
pose exactly as the geometry does; the symmetric layout uses |x|. Each feature is evaluated only on
the pixels inside its own bounding region (eyes, brows, nose, mouth ...), which keeps the cost per
frame low. Edges are anti-aliased over one pixel footprint `px` (head units).
"""
from __future__ import annotations

import torch

from .curves import brow_line, eye_lids, mouth_lines
from .head import PRIM

PART_SKIN, PART_EYE, PART_BROW, PART_MOUTH, PART_HAIR, PART_OTHER, PART_OCCLUDER = 1, 2, 3, 4, 5, 6, 7


def edge(d: torch.Tensor, w) -> torch.Tensor:
    """Soft step of a signed distance d (positive inside) over a width w."""
    return (0.5 + d / w).clamp(0.0, 1.0)


def bump(dx, dy, sx, sy):
    """Smooth compact bump (1 - r^2)^2 with r^2 = (dx / 1.8 sx)^2 + (dy / 1.8 sy)^2 (Gaussian-like, no exp)."""
    r2 = (dx / (1.8 * sx)) ** 2 + (dy / (1.8 * sy)) ** 2
    return (1 - r2).clamp_min(0) ** 2


def _mix(colour, target, w):
    return colour + (target - colour) * w.unsqueeze(-1)


_CONSTANTS: dict = {}


def _rgb(values, like):
    """A small constant tensor, created once per device and dtype."""
    key = (tuple(values), like.device, like.dtype)
    if key not in _CONSTANTS:
        _CONSTANTS[key] = torch.tensor(values, device=like.device, dtype=like.dtype)
    return _CONSTANTS[key]


class Region:
    """The pixels of a canvas inside a mask, with their per-sample feature numbers gathered lazily."""

    def __init__(self, canvas: "Canvas", mask: torch.Tensor):
        self.c, self.idx = canvas, mask.nonzero().squeeze(1)
        for name in ("x", "y", "z", "ax", "front", "b", "px"):
            setattr(self, name, getattr(canvas, name).index_select(0, self.idx))
        self._cache: dict = {}

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._cache:
            table = self.c.f["a"][int(name[2:])] if name.startswith("au") else self.c.f[name]
            self._cache[name] = table.index_select(0, self.b)
        return self._cache[name]

    def mix(self, target, w):
        self.c.albedo[self.idx] = _mix(self.c.albedo[self.idx], target, w)

    def scale(self, factor, w):
        alb = self.c.albedo[self.idx]
        self.c.albedo[self.idx] = _mix(alb, alb * factor, w)

    def add_height(self, h):
        self.c.height[self.idx] += h

    def label(self, part: int, w):
        self.c.parts[self.idx] = torch.where(w > 0.5, torch.full_like(w, part, dtype=torch.uint8), self.c.parts[self.idx])


class PerPixel:
    """Per-sample feature numbers gathered to every canvas pixel on first use."""

    def __init__(self, f: dict, b: torch.Tensor):
        self.f, self.b, self._cache = f, b, {}

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._cache:
            self._cache[name] = self.f[name].index_select(0, self.b)
        return self._cache[name]


class Canvas:
    """Flat arrays of the visible surface points and what the painter writes for them."""

    def __init__(self, x, y, z, prim, b, f: dict, px: torch.Tensor):
        self.x, self.y, self.z, self.prim, self.b, self.f = x, y, z, prim, b, f
        self.ax, self.px = x.abs(), px.index_select(0, b)
        self.P = PerPixel(f, b)
        self.face = prim <= PRIM["bridge"]
        self.front = (z - 0.15).clamp(0, 0.25) * 4.0 * self.face
        self.albedo = f["skin"].index_select(0, b)
        self.height = torch.zeros_like(x)
        self.shade = torch.zeros_like(x)
        self.spec = 0.35 * self.face.to(x.dtype)
        self.parts = torch.full_like(prim, PART_OTHER, dtype=torch.uint8)

    def region(self, mask, front: bool = True) -> Region:
        return Region(self, mask & (self.front > 0) if front else mask & self.face)


def paint(canvas: Canvas) -> Canvas:
    from .features import paint_brows, paint_eyes, paint_extras, paint_mouth, paint_nose_cheeks
    c = canvas
    f = c.f
    c.parts = torch.where(c.face | (c.prim == PRIM["ear_r"]) | (c.prim == PRIM["ear_l"]) | (c.prim == PRIM["neck"]),
                          torch.full_like(c.parts, PART_SKIN), c.parts)
    paint_nose_cheeks(c)
    paint_eyes(c)
    paint_brows(c)
    paint_mouth(c)
    paint_extras(c)
    # Hair strands, ears and the neck (shadowed below the jaw).
    hair = (c.prim == PRIM["hair"]) | (c.prim == PRIM["hair_back"])
    if bool(hair.any()):
        i = hair.nonzero().squeeze(1)
        x, y, z = c.x[i], c.y[i], c.z[i]
        ax = x.abs()  # symmetric, so a mirrored head is the mirror image
        strands = 0.92 + 0.08 * torch.sin(ax * 23.0 + z * 7.0) * torch.sin(y * 11.0 - ax * 5.0)
        c.albedo[i] = f["hair"].index_select(0, c.b[i]) * strands.unsqueeze(-1)
        c.spec[i] = 0.4
        c.parts[i] = PART_HAIR
    ear = (c.prim == PRIM["ear_r"]) | (c.prim == PRIM["ear_l"])
    if bool(ear.any()):
        # A darker bowl (concha) inside a lighter rim reads as an ear even at low resolution.
        i = ear.nonzero().squeeze(1)
        size = f["ear"].index_select(0, c.b[i])
        r2 = ((c.y[i] + 0.22) / (0.2 * size)) ** 2 + ((c.z[i] + 0.13) / (0.11 * size)) ** 2
        bowl = (1 - r2).clamp(0, 1) ** 0.5
        c.albedo[i] = c.albedo[i] * _rgb([1.0, 0.9, 0.88], c.x) * (1 - 0.45 * bowl).unsqueeze(-1)
        c.height[i] = -0.03 * bowl
    neck = c.prim == PRIM["neck"]
    if bool(neck.any()):
        i = neck.nonzero().squeeze(1)
        b = c.b[i]
        c.albedo[i] = c.albedo[i] * 0.9
        c.shade[i] = 0.55 * (c.y[i] - f["my"][b] + f["drop"][b] + 0.55).clamp(0, 0.3) / 0.3
    return c
