"""Batched, vectorised ray-cast renderer of the procedural heads (CPU or CUDA, follows the inputs' device).

Per pixel: one analytic intersection with every ellipsoid of the head (coefficients for all pixels come
from one matrix product), procedural features painted in head-local coordinates, screen-space bump
mapping, wrapped Lambert + ambient + Blinn specular shading, then background, occluder, blur and noise.

Pixel coordinates: x right, y down, pixel (i, j) covers [j, j+1) x [i, i+1), so its centre is at
(j + 0.5, i + 0.5) and a horizontal flip maps x to size - x. Pose convention: see raycast.py.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from .head import FACE_PRIMS, PRIM, build_head
from .landmarks import project_landmarks
from .params import infer_extra_aus
from .post import background, finish, occluder_mask
from .raycast import DISTANCE, FRAME, camera_setup, hair_test, solve, to_local
from .scene import check_scene
from .texture import PART_OCCLUDER, Canvas, paint

SUPPORTED_SIZES = (48, 64, 96, 112, 128, 160, 192, 224, 256)
CHUNK_PIXELS = 64 * 64 * 64  # pixels rendered together


@dataclass
class Render:
    images: torch.Tensor     # (n, H, W, 3) uint8 RGB
    landmarks: torch.Tensor  # (n, 68, 2) float pixel coordinates (x right, y down; pixel centres at i + 0.5)
    visible: torch.Tensor    # (n, 68) bool: not hidden by the head itself, its hair or an occluder
    parts: torch.Tensor | None = None  # (n, H, W) uint8 part labels (texture.PART_*), when asked for


def _pixel_basis(size: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Camera-space ray directions d = (x, y, -1) of every pixel and their quadratic monomials (6, P)."""
    lin = (torch.arange(size, device=device, dtype=torch.float32) + 0.5 - size / 2) / (size / 2)
    lin = lin * (FRAME / 2) / DISTANCE
    yy, xx = torch.meshgrid(-lin, lin, indexing="ij")
    x, y = xx.reshape(-1), yy.reshape(-1)
    return x, y, torch.stack([x * x, y * y, x * y, x, y, torch.ones_like(x)])


def _intersect_pixels(cam: dict, basis: torch.Tensor):
    q, c, n = cam["Q"], cam["c"], cam["Q"].shape[0]
    oc = cam["origin"] - c                                               # (n, K, 3)
    v = (q @ oc.unsqueeze(-1)).squeeze(-1)
    cc = (oc * v).sum(-1, keepdim=True) - 1
    zero = torch.zeros_like(v[..., 0])
    a_coef = torch.stack([q[..., 0, 0], q[..., 1, 1], 2 * q[..., 0, 1], -2 * q[..., 0, 2], -2 * q[..., 1, 2],
                          q[..., 2, 2]], -1)
    b_coef = torch.stack([zero, zero, zero, v[..., 0], v[..., 1], -v[..., 2]], -1)
    # Head-local ray directions R^T d / s are linear in d = (x, y, -1) too.
    m = cam["R"].transpose(1, 2) / cam["scale"].view(n, 1, 1)
    z1 = torch.zeros_like(m[:, :, 0])
    dir_coef = torch.stack([z1, z1, z1, m[:, :, 0], m[:, :, 1], -m[:, :, 2]], -1)
    rows = torch.cat([a_coef, b_coef], 1) @ basis                      # (n, 2K, P)
    k = q.shape[1]
    d_local = basis.t() @ dir_coef.transpose(1, 2)                       # (n, P, 3)
    o_local = to_local(cam, cam["origin"].view(1, 1, 3).expand(n, 1, 3))
    t, prim, inside = solve(rows[:, :k], rows[:, k:2 * k], cc, cam["enabled"], hair_test(cam, o_local, d_local))
    return t, prim, inside, o_local, d_local


def render(identity: torch.Tensor, pose: torch.Tensor, aus: torch.Tensor, scene: dict, size: int = 64,
           generator: torch.Generator | None = None, extra_aus: torch.Tensor | None = None,
           return_parts: bool = False) -> Render:
    """Render n faces. identity (n, N_ID_PARAMS), pose (n, 3) degrees, aus (n, 8) in [0, 5] (AUS order),
    scene from sample_scene; extra_aus (n, len(EXTRA_AUS)) defaults to infer_extra_aus(aus).
    `generator` drives the pixel noise (a fixed default seed when None, so results stay deterministic)."""
    n, dev = identity.shape[0], identity.device
    if pose.shape != (n, 3) or aus.shape != (n, 8):
        raise ValueError(f"render expects pose (n,3) and aus (n,8) for n={n}, got {tuple(pose.shape)}, {tuple(aus.shape)}")
    check_scene(scene, n)
    scene = {k: v.to(dev, torch.float32) for k, v in scene.items()}
    pose, aus = pose.to(dev, torch.float32), aus.to(dev, torch.float32)
    extra = infer_extra_aus(aus) if extra_aus is None else extra_aus.to(dev, torch.float32)
    identity = identity.float()
    # Chunks of a few frames keep the per-pixel arrays in cache; results do not depend on the chunking.
    step = max(1, CHUNK_PIXELS // (size * size))
    def chunk(i):
        return _render_chunk(identity[i:i + step], pose[i:i + step], aus[i:i + step], extra[i:i + step],
                             {k: v[i:i + step] for k, v in scene.items()}, size, return_parts)

    starts = list(range(0, n, step))
    workers = min(torch.get_num_threads(), len(starts))
    if workers > 1 and dev.type == "cpu":
        # Chunks in parallel threads, each op single-threaded: small per-op work parallelises badly
        # inside torch (and collapses on a busy machine); whole chunks scale with the cores.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(workers) as pool:
                outs = list(pool.map(chunk, starts))
        finally:
            torch.set_num_threads(threads)
    else:
        outs = [chunk(i) for i in starts]
    image, landmarks, visible, parts = (torch.cat(x, 0) if x[0] is not None else None for x in zip(*outs))
    return Render(finish(image, scene, generator), landmarks, visible, parts)


def _render_chunk(identity, pose, aus, extra, scene, size, return_parts):
    n, dev = identity.shape[0], identity.device
    head = build_head(identity, aus, extra)
    cam = camera_setup(head, pose, scene["offset"])
    px_x, px_y, basis = _pixel_basis(size, dev)
    t, prim, inside, o_local, d_local = _intersect_pixels(cam, basis)
    # From here on only the pixels that see the head or body (flat arrays, b = their sample).
    n_pix = size * size
    hit_flat = torch.isfinite(t).view(-1).nonzero().squeeze(1)
    b, pix = hit_flat // n_pix, hit_flat % n_pix
    t, prim, inside = (v.reshape(-1).index_select(0, hit_flat) for v in (t, prim, inside))
    world = torch.stack([t * px_x.index_select(0, pix), t * px_y.index_select(0, pix), DISTANCE - t], -1)
    k = cam["Q"].shape[1]
    qc = torch.cat([cam["Q"].reshape(n, k, 9), cam["c"]], -1).view(n * k, 12).index_select(0, b * k + prim)
    normal = _matvec(qc[:, :9], world - qc[:, 9:])
    normal = torch.where(inside.unsqueeze(-1), -normal, normal)
    for pair in ((PRIM["cranium"], PRIM["jaw"]), (PRIM["nose"], PRIM["bridge"])):
        sel = ((prim == pair[0]) | (prim == pair[1])).nonzero().squeeze(1)
        normal[sel] = _blended_normal(cam, head, world.index_select(0, sel), b.index_select(0, sel), pair)
    local = o_local.view(n, 3).index_select(0, b) + t.unsqueeze(-1) * d_local.reshape(n * n_pix, 3).index_select(0, hit_flat)
    px = FRAME / size / cam["scale"]
    canvas = paint(Canvas(local[:, 0], local[:, 1], local[:, 2], prim, b, head["f"], px))
    # Screen-space bump mapping: slopes of the painted height in head units per head unit.
    h = torch.zeros(n * n_pix, device=dev).index_put_((hit_flat,), canvas.height).view(n, size, size)
    gx = torch.zeros_like(h)
    gy = torch.zeros_like(h)
    gx[:, :, 1:-1] = (h[:, :, 2:] - h[:, :, :-2]) / 2
    gy[:, 1:-1] = (h[:, 2:] - h[:, :-2]) / 2
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    slope = torch.stack([-gx.view(-1).index_select(0, hit_flat), gy.view(-1).index_select(0, hit_flat)], -1)
    slope = slope / px.index_select(0, b).unsqueeze(-1)
    normal = torch.cat([normal[:, :2] + slope * normal[:, 2:3].clamp_min(0.3), normal[:, 2:]], -1)
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    per = {k: scene[k].index_select(0, b) for k in ("light", "specular", "light_colour", "ambient")}
    light = per["light"]
    diffuse = (((normal * light).sum(-1) + 0.2) / 1.2).clamp_min(0) * (1 - canvas.shade * light[:, 1].clamp(0.2, 1))
    occl = (1 + 5 * canvas.height.clamp(max=0)).clamp(0.45, 1.0)
    half = light + torch.tensor([0.0, 0.0, 1.0], device=dev)
    half = half / half.norm(dim=-1, keepdim=True)
    spec_term = (normal * half).sum(-1).clamp_min(0) ** 24 * canvas.spec * per["specular"]
    light_col = per["light_colour"]
    colour = canvas.albedo * (per["ambient"] * occl.unsqueeze(-1) + light_col * (diffuse * occl).unsqueeze(-1))
    colour = colour + spec_term.unsqueeze(-1) * light_col
    bg = background(scene, px_x, px_y)
    image = bg.reshape(n * n_pix, 3).index_put_((hit_flat,), colour).view(n, size, size, 3)
    occ = occluder_mask(scene["occluder"], size)
    image = torch.where(occ.unsqueeze(-1) > 0, image * (1 - occ.unsqueeze(-1)) + occ.unsqueeze(-1)
                        * scene["occluder_colour"].view(n, 1, 1, 3) * 0.9, image)
    landmarks, visible = project_landmarks(head, cam, size)
    lm_occ = _sample(occ, landmarks) > 0.5
    parts_out = None
    if return_parts:
        parts_out = torch.zeros(n * n_pix, dtype=torch.uint8, device=dev).index_put_((hit_flat,), canvas.parts)
        parts_out = parts_out.view(n, size, size)
        parts_out = torch.where(occ > 0.5, torch.full_like(parts_out, PART_OCCLUDER), parts_out)
    return image, landmarks, visible & ~lm_occ, parts_out


def _matvec(m9: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Row-major 3x3 matrices (..., 9) times vectors (..., 3), elementwise (no tiny matmuls)."""
    return torch.stack([m9[..., 3 * i] * v[..., 0] + m9[..., 3 * i + 1] * v[..., 1] + m9[..., 3 * i + 2] * v[..., 2]
                        for i in range(3)], -1)


def _blended_normal(cam: dict, head: dict, world: torch.Tensor, b: torch.Tensor, prims) -> torch.Tensor:
    """Normal of a smooth union of two ellipsoids (cranium + jaw, nose tip + bridge): each surface's unit
    normal weighted by how close (in head units) the point is to it, which hides the crease where they meet."""
    total = 0
    for k in prims:
        q = cam["Q"][:, k].reshape(-1, 9).index_select(0, b)
        rel = world - cam["c"][:, k].index_select(0, b)
        g = _matvec(q, rel)
        f = (g * rel).sum(-1) - 1
        dist = f.clamp_min(0) * head["radii"][:, k].mean(-1).index_select(0, b) / 2
        width = 0.15 if k in (PRIM["cranium"], PRIM["jaw"]) else 0.015
        total = total + torch.exp(-dist / width).unsqueeze(-1) * g / g.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return total


def _sample(mask: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Nearest-pixel lookup of (n, H, W) at (n, L, 2) pixel coordinates; outside the image reads 0."""
    n, h, w = mask.shape
    col, row = points[..., 0].floor().long(), points[..., 1].floor().long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    idx = row.clamp(0, h - 1) * w + col.clamp(0, w - 1)
    return mask.reshape(n, -1).gather(1, idx) * inside
