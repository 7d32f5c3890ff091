"""The individual facial features, each painted only inside its own region of the face (see texture.py).
Coordinates are head-local (unit 7 cm, eye line at y = 0); `r["name"]` are per-pixel feature numbers."""
from __future__ import annotations

import torch

from .curves import brow_line, eye_lids, mouth_lines
from .texture import PART_BROW, PART_EYE, PART_MOUTH, Canvas, _rgb, bump, edge


def paint_nose_cheeks(c: Canvas) -> None:
    """Cheek colour and bulge (AU6/AU12), nasolabial folds, nostrils, nose wrinkles (AU9), nose shadow."""
    r = c.region((c.y < 0.1) & (c.y > c.P["my"] - 0.25) & (c.ax < 0.95))
    ax, y, front = r.ax, r.y, r.front
    cheek = bump(ax - 0.52, y + 0.48 - 0.08 * r["cheek"], 0.24, 0.2) * front
    r.scale(_rgb([1.02, 0.86, 0.84], y), cheek * (0.4 + 0.4 * r["cheek"]))
    h = 0.05 * r["cheek"] * cheek
    ax0, ay0 = r["nx"] + 0.12, r["ny"] + 0.02
    bx0, by0 = r["mw"] + 0.07, r["my"] - 0.03 + 0.5 * r["lift"]
    sx, sy = bx0 - ax0, by0 - ay0
    t = (((ax - ax0) * sx + (y - ay0) * sy) / (sx * sx + sy * sy)).clamp(0, 1)
    d2 = (ax - ax0 - t * sx) ** 2 + (y - ay0 - t * sy) ** 2
    h = h - 0.035 * r["fold"] * (1 - d2 / 0.004).clamp_min(0) ** 2
    r.add_height(h)
    n = c.region((c.ax < 0.36) & (c.y < 0.2) & (c.y > c.P["ny"] - 0.2))
    ax, y, front = n.ax, n.y, n.front
    nost = edge(1 - torch.sqrt(((ax - n["nx"]) / 0.05) ** 2 + ((y - n["ny"]) / 0.026) ** 2), n.px / 0.04) * front
    n.scale(0.25, nost)
    h = -0.02 * bump(ax - n["nx"] - 0.06, y - n["ny"] - 0.05, 0.035, 0.09) * front
    h = h - 0.016 * n["au9"] * (0.5 + 0.5 * torch.sin(y * 60.0)) * bump(ax, y - 0.02, 0.16, 0.1) * front
    n.scale(0.8, n["au9"] * bump(ax, y - 0.03, 0.14, 0.08) * front)
    n.add_height(h)
    c.shade[n.idx] += 0.35 * bump(ax, y - n["ny"] + 0.07, n["nx"] + 0.06, 0.06) * front * (1 - nost)


def paint_eyes(c: Canvas) -> None:
    """Sockets, lids with lashes, sclera, iris and pupil; AU5 widens, AU6/AU7 narrow; crow's feet with AU6."""
    P = c.P
    r = c.region(((c.ax - P["ex"]).abs() < P["ew"] + 0.3) & ((c.y - P["ey"]).abs() < 0.32))
    ax, y, front, px = r.ax, r.y, r.front, r.px
    u = (ax - r["ex"]) / r["ew"]
    v = y - r["ey"]
    upper, lower = eye_lids(u, r)
    upper, lower = upper - r["ey"], lower - r["ey"]
    eye = edge(upper - v, px) * edge(v - lower, px) * ((upper - lower) / px).clamp(0, 1) * front
    h = -0.05 * bump(ax - r["ex"], v - 0.03, 0.28, 0.17) * front
    h = h - 0.012 * bump(0, v - upper - 0.07, 1, 0.03) * (u.abs() < 1) * front
    crow = (0.8 * r["au6"] + 0.3 * r["age"]) * bump(ax - r["ex"] - r["ew"] - 0.06, v, 0.06, 0.1)
    h = h - 0.006 * crow * (0.5 + 0.5 * torch.sin(v * 70.0)) * front
    r.add_height(h)
    ri = 0.46 * r["ew"]
    di = torch.sqrt((ax - r["ex"]) ** 2 + (v - 0.1 * r["eu"]) ** 2)
    iris = edge(ri - di, px)
    pupil = edge(0.42 * ri - di, px)
    ball = _rgb([0.86, 0.83, 0.80], y).expand(y.shape[0], 3)
    iris_col = c.f["iris"].index_select(0, r.b) * (0.6 + 0.5 * di / ri).unsqueeze(-1)
    ball = ball + (iris_col - ball) * iris.unsqueeze(-1)
    ball = ball * (1 - 0.97 * pupil).unsqueeze(-1)
    r.mix(ball, eye)
    lash = edge(0.018 + 0.01 * u.clamp(0, 1) - (v - upper).abs(), px) * (u.abs() < 1.08) * front
    low_lash = edge(0.008 - (v - lower).abs(), px) * (u.abs() < 1.0) * front
    r.scale(0.12, lash * 0.95 + low_lash * 0.35)
    c.spec[r.idx] += 1.2 * eye
    r.label(PART_EYE, eye)


def paint_brows(c: Canvas) -> None:
    """Brows (AU1 inner raise, AU2 outer raise, AU4 lower and pull together), frown and forehead lines."""
    r = c.region((c.y > c.P["ey"] + 0.08) & (c.ax < 0.95))
    ax, y, front, px = r.ax, r.y, r.front, r.px
    span = r["b_x1"] - r["b_x0"]
    ub = (ax - r["b_x0"]) / span
    yb, th = brow_line(ub, r)
    vb = y - yb
    brow = edge(th / 2 - (vb - th / 2).abs(), px) * edge(ub * span, px) * edge((1 - ub) * span, px) * front
    # Brows take the hair colour but always stay darker than the skin, so they read on dark skin too.
    colour = torch.minimum(c.f["hair"].index_select(0, r.b) * 0.6, c.f["skin"].index_select(0, r.b) * 0.35)
    r.mix(colour, brow * 0.9)
    h = 0.03 * bump(0, vb, 1, 0.12) * edge((ub + 0.2) * span, 0.1) * edge((1.1 - ub) * span, 0.1) * front
    h = h - 0.03 * r["au4"] * bump(ax - 0.06, y - 0.2, 0.02, 0.1) * front
    fore = (0.6 * r["au1"] + 0.6 * r["au2"] + 0.1 * r["age"]) * bump(0, y - 0.75, 0.6, 0.25)
    h = h + 0.008 * fore * torch.sin(y * 42.0) * front
    r.add_height(h)
    r.scale(0.75, r["au4"] * bump(ax, y - 0.2, 0.1, 0.1) * front)
    r.label(PART_BROW, brow)


def paint_mouth(c: Canvas) -> None:
    """Lips (AU12 corners up, AU15 down, AU20 stretch, AU23 tighten), opening (AU25/26) with teeth, chin."""
    P = c.P
    r = c.region((c.ax < P["mw"] + 0.2) & (c.y < P["ny"] - 0.04) & (c.y > P["my"] - P["drop"] - 0.6))
    ax, y, front, px = r.ax, r.y, r.front, r.px
    m = mouth_lines(ax, r)
    um, sm, ym, yui, yli, yuo, ylo = m["um"], m["sm"], m["ym"], m["yui"], m["yli"], m["yuo"], m["ylo"]
    lips = (edge(yuo - y, px) * edge(y - yui, px) * ((yuo - yui) / px).clamp(0, 1)
            + edge(yli - y, px) * edge(y - ylo, px) * ((yli - ylo) / px).clamp(0, 1)) * front
    inner = edge(yui - y, px) * edge(y - yli, px) * ((yui - yli) / px).clamp(0, 1) * front
    teeth = inner * (edge(y - (yui - 0.05), px) + edge((yli + 0.03) - y, px)).clamp(0, 1) * edge(0.75 * r["mw"] - ax, px)
    alb = c.albedo[r.idx]
    lip_col = alb * _rgb([0.92, 0.58, 0.58], y) + _rgb([0.06, 0.0, 0.0], y)
    r.mix(lip_col, lips)
    r.mix(_rgb([0.18, 0.04, 0.04], y), inner)
    r.mix(_rgb([0.88, 0.86, 0.78], y), teeth)
    seam = edge(0.012 - (y - ym).abs(), px) * (um < 1.05) * front
    r.scale(0.35, seam * (1 - inner))
    r.scale(0.55, bump(ax - r["mw"], y - ym, 0.03, 0.025) * front)
    h = 0.03 * sm * bump(0, y - (yuo + yui) / 2, 1, r["tu"]) * front
    h = h + 0.035 * sm * bump(0, y - (yli + ylo) / 2, 1, r["tl"]) * front
    h = h - 0.02 * bump(ax, y - ylo + 0.07, 0.25, 0.04) * front
    h = h + 0.03 * bump(ax, y - r["my"] + 0.42 + r["drop"], 0.2, 0.12) * front
    r.add_height(h)
    c.shade[r.idx] += 0.25 * bump(ax, y - ylo + 0.05, r["mw"] * 0.7, 0.04) * front
    c.spec[r.idx] += 0.5 * lips
    r.label(PART_MOUTH, lips + inner)


def paint_extras(c: Canvas) -> None:
    """Beard and moustache (stubble texture) and glasses, for the identities that have them."""
    P = c.P
    r = c.region((P["beard"] > 0) & (c.y < P["my"] + 0.12 + 0.9 * c.ax ** 2) & (c.z > -0.4)
                 & (c.parts != PART_MOUTH), front=False)
    if r.idx.numel():
        ax, y, z = r.ax, r.y, r.z
        zone = (r["my"] + 0.12 + 0.9 * ax * ax - y).clamp(0, 0.2) / 0.2
        moustache = edge(r["ny"] - 0.05 - y, 0.03) * edge(r["mw"] + 0.08 - ax, 0.03)
        cheek_side = edge(ax - r["mw"] - 0.12, 0.08)
        zone = torch.where(y > r["my"], zone * torch.maximum(moustache.clamp(0, 1), cheek_side), zone)
        stubble = 0.85 + 0.15 * torch.sin(ax * 31.0 + y * 17.0) * torch.sin(ax * 13.0 - y * 23.0 + z * 19.0)
        r.mix(c.f["hair"].index_select(0, r.b) * 0.8, (zone * r["beard"] * stubble).clamp(0, 1))
    r = c.region((P["glasses"] > 0) & ((c.y - 0.05).abs() < 0.3))
    if r.idx.numel():
        ax, y, px = r.ax, r.y, r.px
        q = torch.sqrt(((ax - r["ex"]) / 0.27) ** 2 + ((y - 0.02) / 0.19) ** 2)
        rim = edge(0.022 - (q - 1).abs() * 0.21, px)
        rim = rim + edge(0.014 - (y - 0.1).abs(), px) * edge(r["ex"] - 0.26 - ax, px)
        rim = rim + edge(0.014 - (y - 0.08).abs(), px) * edge(ax - r["ex"] - 0.26, px)
        frame = _rgb([0.05, 0.05, 0.06], y) + 0.5 * (1 - r["glasses"]).unsqueeze(-1)
        r.mix(frame, rim.clamp(0, 1))
