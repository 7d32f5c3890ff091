"""A labelled heat map with the value printed in every cell (NaN cells are grey and show '—')."""
from __future__ import annotations

import numpy as np

from facessl.errors import FacesslError
from facessl.viz.figure import new_figure, save_png


def heatmap(matrix, row_labels, col_labels, path, title: str = "", fmt: str = ".2f", cmap: str = "viridis",
            vmin: float | None = None, vmax: float | None = None, colorbar_label: str = ""):
    """Write a PNG heat map of `matrix` (rows x cols) with numbers in the cells; return the path.

    vmin/vmax default to the finite data range. The text colour follows the cell's brightness.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape != (len(row_labels), len(col_labels)):
        raise FacesslError(f"heatmap: matrix shape {m.shape} does not match {len(row_labels)} row labels "
                           f"x {len(col_labels)} column labels")
    finite = m[np.isfinite(m)]
    lo = vmin if vmin is not None else (finite.min() if finite.size else 0.0)
    hi = vmax if vmax is not None else (finite.max() if finite.size else 1.0)
    if hi <= lo:
        hi = lo + 1.0
    n_rows, n_cols = m.shape
    longest_row = max((len(str(r)) for r in row_labels), default=1)
    fig = new_figure(1.0 + 0.09 * longest_row + 1.1 * n_cols + 1.2, 1.3 + 0.55 * n_rows + 0.6)
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot(1, 1, 1)
    from matplotlib import colormaps

    colour_map = colormaps[cmap].with_extremes(bad="#d0d0d0")
    image = ax.imshow(np.ma.masked_invalid(m), cmap=colour_map, vmin=lo, vmax=hi, aspect="auto")
    ax.set_xticks(range(n_cols), [str(c) for c in col_labels], rotation=30 if n_cols > 4 else 0,
                  ha="right" if n_cols > 4 else "center")
    ax.set_yticks(range(n_rows), [str(r) for r in row_labels])
    for r in range(n_rows):
        for c in range(n_cols):
            value = m[r, c]
            if np.isfinite(value):
                rgba = colour_map((np.clip(value, lo, hi) - lo) / (hi - lo))
                brightness = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
                text, colour = format(value, fmt), ("black" if brightness > 0.55 else "white")
            else:
                text, colour = "—", "black"
            ax.text(c, r, text, ha="center", va="center", color=colour, fontsize=10)
    bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
    if colorbar_label:
        bar.set_label(colorbar_label)
    if title:
        ax.set_title(title, fontsize=12)
    return save_png(fig, path)
