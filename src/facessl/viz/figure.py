"""Shared matplotlib plumbing for facessl figures: headless figures and atomic PNG writes.

We build `matplotlib.figure.Figure` objects directly (no pyplot), so plotting never touches a
display, global state or the user's backend.
"""
from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from facessl.engine.io import atomic_path

DPI = 100


def new_figure(width_in: float, height_in: float) -> Figure:
    """A headless figure of the given size in inches (pixels = inches * DPI)."""
    return Figure(figsize=(width_in, height_in), dpi=DPI)


def save_png(fig: Figure, path) -> Path:
    """Write `fig` as a PNG atomically at exactly its figure size (no bbox cropping) and return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return path
