"""Camera, pose rotations and analytic ray-ellipsoid intersection, batched over samples and rays.

World/camera coordinates: x right, y up, z towards the camera; the pinhole sits at (0, 0, DISTANCE)
and looks down -z. The crop spans FRAME head units at the depth of the head's pivot.

Pose convention (degrees): R = Rz(roll) @ Ry(yaw) @ Rx(-pitch) maps head-local to world directions.
Positive yaw turns the face towards the IMAGE's right (the subject's left); positive pitch lifts the
chin (the subject looks up); positive roll tilts the head counter-clockwise as seen in the image.
A horizontal image flip therefore negates yaw and roll and keeps pitch.
"""
from __future__ import annotations

import torch

from .head import PIVOT, PRIM, PRIM_FRAME, hair_region

DISTANCE = 9.0  # camera distance in head units (7 cm): about 63 cm, a mild perspective
FRAME = 3.1     # crop width in head units at the pivot
NECK_FOLLOW = 0.35  # fraction of the head pose the neck follows


def rotation(pose_deg: torch.Tensor) -> torch.Tensor:
    """(n, 3) yaw, pitch, roll in degrees -> (n, 3, 3) head-to-world rotations (see module docstring)."""
    yaw, pitch, roll = torch.deg2rad(pose_deg).unbind(1)
    one, zero = torch.ones_like(yaw), torch.zeros_like(yaw)

    def mat(rows):
        return torch.stack([torch.stack(r, 1) for r in rows], 1)

    cy, sy, cp, sp, cr, sr = yaw.cos(), yaw.sin(), pitch.cos(), (-pitch).sin(), roll.cos(), roll.sin()
    ry = mat([(cy, zero, sy), (zero, one, zero), (-sy, zero, cy)])
    rx = mat([(one, zero, zero), (zero, cp, -sp), (zero, sp, cp)])
    rz = mat([(cr, -sr, zero), (sr, cr, zero), (zero, zero, one)])
    return rz @ ry @ rx


def tilt_x(angle: torch.Tensor) -> torch.Tensor:
    c, s, one, zero = angle.cos(), angle.sin(), torch.ones_like(angle), torch.zeros_like(angle)
    return torch.stack([torch.stack(r, -1) for r in ((one, zero, zero), (zero, c, -s), (zero, s, c))], -2)


def camera_setup(head: dict, pose: torch.Tensor, offset: torch.Tensor) -> dict:
    """World-space quadrics of every primitive and the head frame for each sample.

    Returns Q (n,K,3,3), c (n,K,3), R (n,3,3) head rotation, origin (3,) camera, shift (n,3), scale (n,),
    enabled (n,K) and the head dict (for the hairline test). World X = shift + scale * R (p - PIVOT).
    """
    n, dev = pose.shape[0], pose.device
    frames = torch.stack([rotation(pose), rotation(pose * NECK_FOLLOW),
                          torch.eye(3, device=dev).expand(n, 3, 3)], 1)          # (n, 3, 3, 3)
    rf = frames[:, list(PRIM_FRAME)]
    rk = rf @ tilt_x(head["tilt"])                                             # (n, K, 3, 3)
    scale = offset[:, 2].exp()
    shift = torch.stack([offset[:, 0] * FRAME, -offset[:, 1] * FRAME, torch.zeros_like(scale)], 1)
    inv_r2 = head["radii"].pow(-2) / scale.view(n, 1, 1) ** 2
    q = (rk * inv_r2.unsqueeze(-2)) @ rk.transpose(-1, -2)
    pivot = torch.tensor(PIVOT, device=dev)
    c = shift.unsqueeze(1) + scale.view(n, 1, 1) * (rf @ (head["centre"] - pivot).unsqueeze(-1)).squeeze(-1)
    origin = torch.tensor([0.0, 0.0, DISTANCE], device=dev)
    return dict(Q=q, c=c, R=frames[:, 0], shift=shift, scale=scale, origin=origin, enabled=head["enabled"],
                head=head)


def to_local(cam: dict, points: torch.Tensor) -> torch.Tensor:
    """(n, R, 3) world points (or directions with subtract=False) -> head-local points."""
    local = (points - cam["shift"].unsqueeze(1)) @ cam["R"] / cam["scale"].view(-1, 1, 1)
    return local + torch.tensor(PIVOT, device=points.device)


def solve(a, b, cc, enabled, hair_ok):
    """Nearest hit of each ray over primitives. a, b: (n,K,R); cc: (n,K,1) or (n,K,R); hair_ok(t) -> (n,R)
    bool says whether the hair primitive's hit at ray parameter t lies inside the hair region.
    Returns t (n,R) (inf = miss), primitive index (n,R), inside (n,R) (seen from inside the hair shell)."""
    disc = b * b - a * cc
    hit = (disc > 0) & enabled.unsqueeze(-1)
    root = disc.clamp_min_(0).sqrt_()
    k = PRIM["hair"]
    t_far = (root[:, k] - b[:, k]) / a[:, k]
    t = root.add_(b).neg_().div_(a)                                  # near roots, in place
    t.masked_fill_(~hit, float("inf"))
    near_ok = hair_ok(t[:, k])
    far_ok = hit[:, k] & hair_ok(t_far)
    t[:, k] = torch.where(near_ok, t[:, k], torch.where(far_ok, t_far, torch.full_like(t_far, float("inf"))))
    t_min, index = t.min(dim=1)
    inside = (index == k) & ~near_ok
    return t_min, index, inside


def hair_test(cam: dict, o_local: torch.Tensor, d_local: torch.Tensor):
    """Closure: ray parameter t (n,R) -> whether the head-local point o + t d is in the hair region."""
    def ok(t):
        p = o_local + t.unsqueeze(-1) * d_local
        return hair_region(p[..., 0], p[..., 1], p[..., 2], cam["head"]) > 0
    return ok


def cast(cam: dict, origins: torch.Tensor, dirs: torch.Tensor, prims=None):
    """Generic (slow-path) casting of a few rays: origins, dirs (n,R,3) in world -> t, index, inside.
    `prims`: optional list of primitive indices to consider (others are ignored)."""
    keep = list(range(cam["Q"].shape[1])) if prims is None else sorted(prims)
    q, c, enabled = cam["Q"][:, keep], cam["c"][:, keep], cam["enabled"][:, keep]
    oc = origins.unsqueeze(1) - c.unsqueeze(2)                                # (n,k,R,3)
    qd = torch.einsum("bkij,brj->bkri", q, dirs)
    a = (qd * dirs.unsqueeze(1)).sum(-1)
    b = (qd * oc).sum(-1)
    cc = (torch.einsum("bkij,bkrj->bkri", q, oc) * oc).sum(-1) - 1
    if PRIM["hair"] not in keep:
        disc = b * b - a * cc
        t = torch.where((disc > 0) & enabled.unsqueeze(-1), (-b - disc.clamp_min(0).sqrt()) / a, float("inf"))
        t_min, index = t.min(dim=1)
        return t_min, torch.tensor(keep, device=t.device)[index], torch.zeros_like(index, dtype=torch.bool)
    d_local = dirs @ cam["R"] / cam["scale"].view(-1, 1, 1)
    return solve(a, b, cc, enabled, hair_test(cam, to_local(cam, origins), d_local))
