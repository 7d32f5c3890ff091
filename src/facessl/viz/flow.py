"""FAb-Net figures: flow fields in colour, and source / target / warp / flow / confidence panels.

Colour code (the usual optical-flow wheel in HSV): hue = direction of the displacement, saturation =
its length relative to `max_magnitude` (white = no motion), value = 1. Angles follow image axes
(x right, y down): red points right, and the hue turns clockwise on screen through yellow-green
(down), cyan (left) and blue-violet (up).
"""
from __future__ import annotations

import math

import torch
from kornia.color import hsv_to_rgb

from facessl.viz.figure import new_figure, save_png
from facessl.methods.fabnet_warp import flow_in_pixels


def flow_to_color(flow: torch.Tensor, max_magnitude: float | None = None) -> torch.Tensor:
    """Displacements (N,2,H,W) (any unit) -> RGB (N,3,H,W) float [0,1].

    max_magnitude: the length shown fully saturated; default the 99th percentile of the batch.
    """
    flow = flow.detach().float()
    dx, dy = flow[:, 0], flow[:, 1]
    mag = torch.sqrt(dx * dx + dy * dy)
    if max_magnitude is None:
        max_magnitude = float(torch.quantile(mag.flatten()[:1_000_000], 0.99)) if mag.numel() else 1.0
    hue = torch.remainder(torch.atan2(dy, dx), 2 * math.pi)
    sat = (mag / max(max_magnitude, 1e-6)).clamp(0, 1)
    return hsv_to_rgb(torch.stack((hue, sat, torch.ones_like(sat)), dim=1)).clamp(0, 1)


def color_wheel(size: int = 64) -> torch.Tensor:
    """The legend: (3,size,size) colours of displacements pointing from the centre, radius = max."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    rgb = flow_to_color(torch.stack((xs, ys))[None], max_magnitude=1.0)[0]
    outside = (xs * xs + ys * ys) > 1
    return torch.where(outside[None], torch.ones_like(rgb), rgb)


def _grey(x: torch.Tensor) -> torch.Tensor:
    return x.expand(-1, 3, -1, -1)


def panel_columns(frames: torch.Tensor, out: dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    """Named columns (title, (N,3,H,W) in [0,1]) for frames (N, n+1, 3, H, W) and FAbNet.predict's output."""
    n = frames.shape[1] - 1
    flow_px = flow_in_pixels(out["flow"].flatten(0, 1)).view_as(out["flow"])
    scale = float(torch.quantile(flow_px.norm(dim=2).flatten()[:1_000_000].float(), 0.99)) or 1.0
    cols = [(f"source {i + 1}" if n > 1 else "source", frames[:, i + 1]) for i in range(n)]
    cols.append(("target", frames[:, 0]))
    cols += [(f"warp {i + 1}" if n > 1 else "warped source", out["warped"][:, i]) for i in range(n)]
    cols += [(f"flow {i + 1}" if n > 1 else "flow", flow_to_color(flow_px[:, i], scale)) for i in range(n)]
    if "weights" in out:
        cols += [(f"confidence {i + 1}", _grey(out["weights"][:, i])) for i in range(n)]
        cols.append(("prediction", out["prediction"]))
    cols.append(("|error|", _grey((out["prediction"] - frames[:, 0]).abs().mean(1, keepdim=True).mul(3))))
    return [(t, c.detach().float().clamp(0, 1).cpu()) for t, c in cols]


def flow_panel(frames: torch.Tensor, out: dict[str, torch.Tensor]) -> torch.Tensor:
    """One strip per sample, columns side by side: (N, 3, H, columns*W) float [0,1] (for training logs)."""
    return flow_strips(frames, out)[0]


def flow_strips(frames: torch.Tensor, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, list[str]]:
    """flow_panel's strips and the titles of their columns, left to right (the training images' header)."""
    cols = panel_columns(frames, out)
    return torch.cat([c for _, c in cols], dim=3), [t for t, _ in cols]


def save_flow_figure(path, frames: torch.Tensor, out: dict[str, torch.Tensor], title: str = "") -> None:
    """A titled PNG: rows = samples, columns = sources, target, warps, flow colours (legend wheel at
    the top right), confidences and the blended prediction in the multi-source stage, |error|."""
    cols = panel_columns(frames, out)
    rows, ncol = cols[0][1].shape[0], len(cols) + 1
    fig = new_figure(1.4 * ncol, 1.4 * rows + 0.5)
    for c, (name, imgs) in enumerate(cols):
        for r in range(rows):
            ax = fig.add_subplot(rows, ncol, r * ncol + c + 1)
            ax.imshow(imgs[r].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_axis_off()
            if r == 0:
                ax.set_title(name, fontsize=8)
    ax = fig.add_subplot(rows, ncol, ncol)
    ax.imshow(color_wheel(64).permute(1, 2, 0).numpy())
    ax.set_title("flow colours", fontsize=8)
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9 if title else 0.94, wspace=0.05, hspace=0.05)
    save_png(fig, path)


@torch.no_grad()
def fabnet_figure(method, images: torch.Tensor, path, n: int = 6, title: str = "") -> None:
    """On demand: run a FAbNet method (eval mode, no jitter) on uint8 tuples (B,K,3,H,W) and save the figure."""
    was_training = method.training
    method.eval()
    try:
        frames = method.frames({"images": images[:n]})
        save_flow_figure(path, frames, method.predict(frames), title=title)
    finally:
        method.train(was_training)
