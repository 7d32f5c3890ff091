"""The head model: identity + action units -> a union of ellipsoids and the facial-feature layout.

Head-local ("anatomical") coordinates, unit = 7 cm (half the cheekbone width): x towards the image's
right in a frontal view (the subject's left), y up, z out of the face. The eye line is y = 0 and the
ear plane z = 0. Shapes are ellipsoids with their own centre, radii and tilt; facial features (eyes,
brows, lips, wrinkles ...) are described by numbers here and painted by ``texture.py``.
"""
from __future__ import annotations

import torch

from .params import AU_INDEX, EXTRA_AUS, ID_INDEX

# Primitive slots. Frames: 0 = head (rotates with the pose), 1 = neck (follows part of it).
PRIMS = ("cranium", "jaw", "nose", "bridge", "ear_r", "ear_l", "neck", "hair", "hair_back")
PRIM = {name: i for i, name in enumerate(PRIMS)}
PRIM_FRAME = (0, 0, 0, 0, 0, 0, 1, 0, 0)
FACE_PRIMS = (PRIM["cranium"], PRIM["jaw"], PRIM["nose"], PRIM["bridge"])  # where facial features are painted
PIVOT = (0.0, -0.37, 0.3)  # rotation centre of the head, also the centre of the crop


def lerp(lo: float, hi: float, v: torch.Tensor) -> torch.Tensor:
    return lo + (hi - lo) * v


def _palette(colours, v: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear colour ramp: v in [0, 1] -> (n, 3)."""
    table = torch.tensor(colours, dtype=v.dtype, device=v.device)
    pos = v.clamp(0, 1) * (len(colours) - 1)
    lo = pos.floor().long().clamp(max=len(colours) - 2)
    w = (pos - lo).unsqueeze(1)
    return table[lo] * (1 - w) + table[lo + 1] * w


SKIN = ((0.97, 0.82, 0.72), (0.90, 0.69, 0.56), (0.76, 0.55, 0.41), (0.56, 0.38, 0.26), (0.34, 0.22, 0.15))
HAIR = ((0.06, 0.05, 0.05), (0.22, 0.14, 0.09), (0.42, 0.27, 0.15), (0.58, 0.26, 0.12), (0.80, 0.65, 0.40),
        (0.93, 0.86, 0.66))
IRIS = ((0.20, 0.11, 0.05), (0.36, 0.22, 0.10), (0.42, 0.40, 0.18), (0.25, 0.45, 0.30), (0.28, 0.45, 0.70),
        (0.55, 0.62, 0.68))


def build_head(identity: torch.Tensor, aus: torch.Tensor, extra: torch.Tensor) -> dict:
    """Return {'centre' (n,K,3), 'radii' (n,K,3), 'tilt' (n,K) about x in radians, 'enabled' (n,K) bool,
    'hair_line' (n,4) front/side/back hairline heights and the cranium centre z, 'f': feature numbers}."""
    n, dev = identity.shape[0], identity.device
    p = {name: identity[:, i] for name, i in ID_INDEX.items()}
    a = {au: aus[:, i] / 5.0 for au, i in AU_INDEX.items()}  # intensities as fractions
    a.update({au: extra[:, i] / 5.0 for i, au in enumerate(EXTRA_AUS)})
    z = torch.zeros(n, device=dev)
    centre = torch.zeros(n, len(PRIMS), 3, device=dev)
    radii = torch.ones(n, len(PRIMS), 3, device=dev)
    tilt = torch.zeros(n, len(PRIMS), device=dev)
    enabled = torch.ones(n, len(PRIMS), dtype=torch.bool, device=dev)

    def put(name, c, r, t=None):
        k = PRIM[name]
        centre[:, k] = torch.stack(c, 1)
        radii[:, k] = torch.stack(r, 1)
        if t is not None:
            tilt[:, k] = t

    cr_rx, cr_ry = lerp(0.90, 1.02, p["head_width"]), lerp(1.25, 1.40, p["head_height"])
    put("cranium", (z, z + 0.30, z - 0.20), (cr_rx, cr_ry, z + 1.18))
    drop = 0.30 * a[26] + 0.05 * a[25]  # jaw opening (AU26 mostly, a little with lips parting)
    jaw_rx = lerp(0.66, 0.84, p["jaw_width"]) + 0.04 * p["cheek_fullness"]
    jaw_ry = lerp(0.88, 1.00, p["face_length"])
    put("jaw", (z, z - 0.72 - drop, z - 0.02 - 0.08 * drop), (jaw_rx, jaw_ry, z + 0.92), -0.10 - 0.5 * drop)
    # Nose: a tip ball and a thin bridge running from between the eyes down to it.
    length = lerp(0.40, 0.52, p["nose_length"])
    proj = lerp(0.30, 0.40, p["nose_projection"])
    nose_rx = lerp(0.11, 0.16, p["nose_width"]) * (1 + 0.20 * a[9])
    tip_y, tip_z = 0.12 - length + 0.05 * a[9], 0.70 + proj
    put("nose", (z, tip_y, tip_z), (nose_rx, z + 0.12, z + 0.12))
    top_y, top_z, bot_z = z + 0.02, z + 0.90, tip_z + 0.09
    half = (top_y - tip_y) / 2
    put("bridge", (z, (top_y + tip_y) / 2, (top_z + bot_z) / 2 - 0.08), (nose_rx * 0.55, half + 0.06, z + 0.10),
        -torch.atan2(bot_z - top_z, 2 * half))
    ear = lerp(0.85, 1.15, p["ear_size"])
    for side, name in ((-1, "ear_r"), (1, "ear_l")):
        put(name, (z + side * (cr_rx - 0.05), z - 0.2, z - 0.15), (0.09 * ear, 0.28 * ear, 0.18 * ear), z - 0.25)
    put("neck", (z, z - 1.75, z - 0.38), (z + 0.56, z + 1.1, z + 0.58))
    thick = lerp(0.03, 0.22, p["hair_volume"])
    put("hair", (z, z + 0.30 + 0.5 * thick, z - 0.20 - 0.4 * thick), (cr_rx + thick, cr_ry + thick, z + 1.18 + thick))
    enabled[:, PRIM["hair"]] = p["hair_volume"] > 0.0
    long_hair = (p["hair_length"] - 0.55).clamp_min(0) / 0.45
    put("hair_back", (z, z - 0.9 - 0.5 * long_hair, z - 0.85), (cr_rx + thick * 0.8, z + 1.3, z + 0.72))
    enabled[:, PRIM["hair_back"]] = (long_hair > 0) & (p["hair_volume"] > 0.0)
    # Hairline heights (head-local y) at the front, the sides and the back of the head.
    hair_line = torch.stack([lerp(0.95, 1.25, p["hairline"]), lerp(0.40, -0.95, p["hair_length"]),
                             lerp(-0.45, -1.5, p["hair_length"]), z - 0.20], 1)

    f = dict(p=p, a=a, drop=drop)
    f["skin"] = _palette(SKIN, p["skin_tone"]) * torch.stack([1 + 0.06 * (p["skin_warmth"] - 0.5),
                                                              torch.ones_like(z), 1 - 0.12 * (p["skin_warmth"] - 0.5)], 1)
    grey = (p["age"] - 0.6).clamp_min(0) * 1.6
    f["hair"] = _palette(HAIR, p["hair_colour"]) * (1 - grey[:, None]) + grey[:, None] * 0.75
    f["iris"] = _palette(IRIS, p["eye_colour"])
    # Eyes: centre x, half width, upper/lower opening.
    f["ex"] = lerp(0.40, 0.50, p["eye_spacing"])
    f["ew"] = lerp(0.19, 0.24, p["eye_size"])
    f["ey"] = z + 0.03 * a[6]
    f["eu"] = f["ew"] * (0.42 + 0.45 * a[5] - 0.22 * a[6] - 0.16 * a[7] - 0.08 * a[4] - 0.05 * a[9])
    f["el"] = f["ew"] * (0.26 - 0.24 * a[6] - 0.10 * a[7] + 0.05 * a[5] - 0.05 * a[9])
    # Brows: inner/outer heights above the eye line, thickness, arch, x span.
    base = lerp(0.22, 0.32, p["brow_height"])
    f["b_in"] = base + 0.36 * a[1] - 0.19 * a[4] - 0.05 * a[9]
    f["b_out"] = base + 0.02 + 0.34 * a[2] + 0.02 * a[1] - 0.04 * a[4] - 0.02 * a[9]
    f["b_arch"] = lerp(0.0, 0.07, p["brow_arch"]) + 0.03 * a[1] * (1 - a[2])
    f["b_th"] = lerp(0.035, 0.085, p["brow_thickness"])
    f["b_x0"] = f["ex"] - lerp(0.30, 0.24, p["eye_spacing"]) - 0.13 * a[4]
    f["b_x1"] = f["ex"] + 0.26
    # Nose (bottom of the nose ellipsoid, nostril half-spacing).
    f["ny"] = tip_y - 0.07
    f["nx"] = nose_rx * 0.62
    # Mouth: centre height, half width, corner lift, opening and lip thickness.
    f["my"] = tip_y - 0.12 - lerp(0.26, 0.32, p["face_length"]) + 0.06 * a[9]
    f["mw"] = lerp(0.30, 0.40, p["mouth_width"]) * (1 + 0.22 * a[12] + 0.18 * a[20] - 0.10 * a[23])
    f["lift"] = 0.20 * a[12] - 0.17 * a[15] - 0.01 * a[20]
    f["gap"] = 0.09 * a[25] + 0.16 * a[26] * (a[25] > 0.02).float() + 0.06 * a[26]
    thick_lip = lerp(0.040, 0.075, p["lip_thickness"]) * (1 - 0.45 * a[23])
    f["tu"] = thick_lip * 0.85 * (1 - 0.2 * a[12]) + 0.03 * a[9]
    f["tl"] = thick_lip * 1.15 * (1 - 0.2 * a[12])
    f["cheek"] = 0.8 * a[6] + 0.3 * a[12]
    f["fold"] = 0.2 * p["age"] + 0.6 * a[12] + 0.5 * a[9] + 0.3 * a[6]
    f["beard"], f["glasses"], f["age"], f["ear"] = p["beard"], p["glasses"], p["age"], ear
    return dict(centre=centre, radii=radii, tilt=tilt, enabled=enabled, hair_line=hair_line, f=f)


def hair_region(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, head: dict) -> torch.Tensor:
    """Signed height above the hairline at head-local points (n, R): positive where hair grows.
    The hairline blends from the front height over the sides to the back around the vertical axis."""
    line = head["hair_line"].unsqueeze(1)
    front, side, back, cz = line[..., 0], line[..., 1], line[..., 2], line[..., 3]
    zr = z - cz
    nz = zr / torch.sqrt(x * x + zr * zr + 1e-6)
    # Front height holds over the face (to ~55 deg around the vertical axis), then drops at the temples.
    wf, wb = ((nz - 0.26) / 0.31).clamp(0, 1), (-nz).clamp_min(0)
    height = side + (front + 0.2 * x * x - side) * wf + (back - side) * wb
    return y - height
