"""The 68 iBUG / 300-W landmarks as 3D points on the head, projected with the render camera.

Index layout (standard): 0-16 jaw from the image-left side of a frontal face to the image-right side,
17-21 and 22-26 brows (subject's right then left, i.e. image-left then image-right), 27-30 nose
bridge to tip, 31-35 nostril base, 36-41 and 42-47 eyes (36 = image-left outer corner, 45 =
image-right outer corner), 48-59 outer lips from the image-left corner, 60-67 inner lips.
Each point is placed in head-local (x, y) from the same curves the painter uses, then dropped onto
the surface along -z; visibility is a depth test of the camera ray against every primitive.
"""
from __future__ import annotations

import math

import torch

from .curves import brow_line, brow_x, eye_lids, mouth_lines, nose_tip
from .head import FACE_PRIMS, PIVOT, PRIM
from .raycast import DISTANCE, FRAME, cast, tilt_x

# Mirror permutation: landmark i of a horizontally flipped face is landmark FLIP_68[i] of the original.
FLIP_68 = (list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
           + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
           + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])
_FACE_PRIMS = FACE_PRIMS
_JAW_ANGLES = torch.linspace(-1.0, 1.0, 17) * math.radians(104)
_JAW_CENTRE_Y = -0.42
_JAW_CENTRE = torch.tensor([0.0, _JAW_CENTRE_Y])


def _layout(head: dict) -> torch.Tensor:
    """(n, 68-17, 2) head-local (x, y) of landmarks 17..67 (the jaw is found on the silhouette)."""
    F = {k: v.unsqueeze(1) for k, v in head["f"].items() if torch.is_tensor(v) and v.dim() == 1}
    dev = head["centre"].device
    t = lambda v: torch.tensor(v, device=dev, dtype=torch.float32).unsqueeze(0)  # noqa: E731
    pts = []
    ub = t([0.97, 0.74, 0.5, 0.26, 0.03])                    # 17..21: outer -> inner, x < 0
    bottom, thick = brow_line(ub, F)
    bx = brow_x(ub, F)
    pts.append((-bx, bottom + 0.55 * thick))
    pts.append((brow_x(ub.flip(1), F), (bottom + 0.55 * thick).flip(1)))
    tip = nose_tip(head["centre"][:, PRIM["nose"]], head["radii"][:, PRIM["nose"]], head["tilt"][:, PRIM["nose"]])
    frac = t([0.0, 1 / 3, 2 / 3, 1.0])
    top = F["ey"] * 0 + 0.04
    pts.append((frac * 0, top + (tip[:, 1:2] - 0.02 - top) * frac))
    side = t([-1.0, -0.55, 0.0, 0.55, 1.0])
    pts.append((side * (F["nx"] + 0.04), F["ny"] - 0.015 - 0.03 * (1 - side.abs())))
    u = t([1.0, 0.35, -0.35, -1.0, -0.35, 0.35])             # 36..41 on the x < 0 eye
    up, lo = eye_lids(u, F)
    lids = torch.cat([up[:, :4], lo[:, 4:]], 1)
    pts.append((-(F["ex"] + u * F["ew"]), lids))
    u2 = t([-1.0, -0.35, 0.35, 1.0, 0.35, -0.35])           # 42..47 on the x > 0 eye
    up, lo = eye_lids(u2, F)
    pts.append((F["ex"] + u2 * F["ew"], torch.cat([up[:, :4], lo[:, 4:]], 1)))
    xo = t([-1.0, -0.62, -0.28, 0.0, 0.28, 0.62, 1.0, 0.62, 0.28, 0.0, -0.28, -0.62]) * F["mw"]
    m = mouth_lines(xo.abs(), F)
    yo = torch.cat([m["ym"][:, :1], m["yuo"][:, 1:6], m["ym"][:, 6:7], m["ylo"][:, 7:]], 1)
    pts.append((xo, yo))
    xi = t([-0.86, -0.4, 0.0, 0.4, 0.86, 0.4, 0.0, -0.4]) * F["mw"]
    m = mouth_lines(xi.abs(), F)
    pts.append((xi, torch.cat([m["ym"][:, :1], m["yui"][:, 1:4], m["ym"][:, 4:5], m["yli"][:, 5:]], 1)))
    n = head["centre"].shape[0]
    xs = torch.cat([torch.broadcast_to(px, (n, px.shape[1] if px.shape[1] > 1 else py.shape[1])) for px, py in pts], 1)
    ys = torch.cat([torch.broadcast_to(py, (n, px.shape[1] if px.shape[1] > 1 else py.shape[1])) for px, py in pts], 1)
    return torch.stack([xs, ys], -1)


def _drop(cam: dict, xy: torch.Tensor):
    """Cast head-local rays (x, y, +4) -> -z onto the face primitives; world points (n, R, 3) and hit mask."""
    n, r, _ = xy.shape
    local = torch.cat([xy, torch.full((n, r, 1), 4.0, device=xy.device)], -1)
    pivot = torch.tensor(PIVOT, device=xy.device)
    s = cam["scale"].view(n, 1, 1)
    origins = cam["shift"].unsqueeze(1) + s * (local - pivot) @ cam["R"].transpose(1, 2)
    dirs = (-s * cam["R"][:, :, 2].unsqueeze(1)).expand(n, r, 3)
    t, _, _ = cast(cam, origins, dirs, prims=_FACE_PRIMS)
    hit = torch.isfinite(t)
    return origins + torch.where(hit, t, torch.full_like(t, 4.0)).unsqueeze(-1) * dirs, hit


def _jaw_xy(head: dict) -> torch.Tensor:
    """(n, 17, 2) head-local jaw contour points: 96% of the way from a centre below the nose to the
    frontal silhouette of cranium + jaw. The silhouette of an ellipsoid seen along z is the ellipse
    given by the Schur complement of its quadric, so the reach along each direction is a quadratic root."""
    dev = head["centre"].device
    ang = _JAW_ANGLES.to(dev)
    u = torch.stack([ang.sin(), -ang.cos()], -1)                              # (17, 2)
    reach = None
    for k in (PRIM["cranium"], PRIM["jaw"]):
        rot = tilt_x(head["tilt"][:, k])                                        # (n, 3, 3)
        a = (rot * head["radii"][:, k].pow(-2).unsqueeze(1)) @ rot.transpose(1, 2)
        s = a[:, :2, :2] - a[:, :2, 2:] @ a[:, 2:, :2] / a[:, 2:, 2:]          # (n, 2, 2)
        w = torch.stack([-head["centre"][:, k, 0], _JAW_CENTRE_Y - head["centre"][:, k, 1]], -1)
        su = u @ s                                                               # (n, 17, 2)
        qa = (su * u).sum(-1)
        qb = (su * w.unsqueeze(1)).sum(-1)
        qc = ((w.unsqueeze(1) @ s) * w.unsqueeze(1)).sum(-1) - 1
        disc = qb * qb - qa * qc
        root = torch.where(disc > 0, (disc.clamp_min(0).sqrt() - qb) / qa, torch.zeros_like(qa))
        reach = root if reach is None else torch.maximum(reach, root)
    return _JAW_CENTRE.to(dev) + 0.96 * reach.unsqueeze(-1) * u


def project(world: torch.Tensor, size: int) -> torch.Tensor:
    """(n, R, 3) world points -> (n, R, 2) pixel coordinates (x right, y down, centres at i + 0.5)."""
    focal = (size / 2) / (FRAME / 2 / DISTANCE)
    depth = (DISTANCE - world[..., 2]).clamp_min(1e-3)
    return torch.stack([size / 2 + focal * world[..., 0] / depth, size / 2 - focal * world[..., 1] / depth], -1)


def project_landmarks(head: dict, cam: dict, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 68, 2) pixel coordinates and (n, 68) self-occlusion visibility."""
    xy = torch.cat([_jaw_xy(head), _layout(head)], 1)
    world, _ = _drop(cam, xy)
    origin = cam["origin"].view(1, 1, 3)
    t, _, _ = cast(cam, origin.expand_as(world), world - origin)
    visible = t > 1 - 2e-3
    return project(world, size), visible
