"""Training curves: every loss term of every run, raw and smoothed, one panel per method.

Reads each run's `metrics.jsonl` (one JSON object per logged step with 'step', 'loss' and every
loss term by name; optional 'lr', 'samples_per_s', DWA weights ...). Keys that are not loss terms
are recognised by prefix (see NOT_LOSS_PREFIXES) and left out; a term that is missing in some
lines simply has gaps; non-numeric values are ignored.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from facessl.errors import DataFormatError, FacesslError
from facessl.viz.figure import new_figure, save_png

NOT_LOSS_PREFIXES = ("step", "epoch", "lr", "samples_per", "time", "wall", "elapsed", "alpha", "weight",
                     "dwa", "grad", "mem", "throughput", "phase", "iter", "eta", "scale", "knn", "w_",
                     "skipped", "curriculum")


def read_metrics(path) -> list[dict]:
    """Parse a metrics.jsonl (or the run directory holding one). A truncated last line (a run still
    writing) is skipped; any other malformed line is an error naming file and line."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise FacesslError(f"{path}: metrics file not found")
    lines = path.read_text().splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise DataFormatError(path, "not a JSON object per line", line=number) from None
        if not isinstance(record, dict):
            raise DataFormatError(path, "expected a JSON object", line=number)
        records.append(record)
    return records


def loss_series(records: list[dict], terms=None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Return (steps, values) dicts term -> array; only numeric entries, NaN/inf kept out."""
    if terms is None:
        seen = {}
        for r in records:
            for k, v in r.items():
                if _is_number(v) and not k.lower().startswith(NOT_LOSS_PREFIXES):
                    seen.setdefault(k, None)
        terms = sorted(seen, key=lambda k: (k != "loss", k))  # total first
    steps, values = {}, {}
    for term in terms:
        pts = [(float(r.get("step", i)), float(r[term])) for i, r in enumerate(records)
               if _is_number(r.get(term)) and math.isfinite(float(r[term]))]
        if pts:
            arr = np.asarray(pts)
            steps[term], values[term] = arr[:, 0], arr[:, 1]
    return steps, values


def smooth(values: np.ndarray, window: int | None = None) -> np.ndarray:
    """Centred moving average (no lag, unlike an EMA); the window defaults to ~4% of the points."""
    values = np.asarray(values, dtype=float)
    if window is None:
        window = max(1, len(values) // 25)
    half = window // 2
    if half == 0:
        return values.copy()
    kernel = np.ones(2 * half + 1)
    total = np.convolve(values, kernel, mode="same")
    count = np.convolve(np.ones_like(values), kernel, mode="same")  # shorter windows at the ends
    return total / count


def training_curves(runs: dict[str, Path], path, title: str = "Training losses", terms=None) -> Path:
    """Write one PNG with a panel per run (method): raw (faint) and smoothed loss terms against step.

    The y axis is logarithmic when every plotted value is positive and they span over a decade.
    A run whose file has no numeric loss values gets an empty panel saying so.
    """
    if not runs:
        raise FacesslError("training_curves: no runs given")
    names = list(runs)
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig = new_figure(5.0 * cols, 3.6 * rows + 0.5)
    fig.set_layout_engine("constrained")
    fig.suptitle(title, fontsize=13)
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.set_title(name, fontsize=11)
        steps, values = loss_series(read_metrics(runs[name]), terms)
        if not values:
            ax.text(0.5, 0.5, "no loss values logged", ha="center", va="center", transform=ax.transAxes)
            continue
        for j, term in enumerate(values):
            colour = palette(j % 10)
            few = len(values[term]) < 3  # a short run logs a point or two: a line alone would not show them
            ax.plot(steps[term], values[term], color=colour, alpha=0.25, linewidth=0.8)
            ax.plot(steps[term], smooth(values[term]), color=colour, linewidth=1.8, label=term,
                    marker="o" if few else None, markersize=5)
        everything = np.concatenate(list(values.values()))
        if everything.min() > 0 and everything.max() / everything.min() > 10:
            _log_axis(ax, everything.max() / everything.min())
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best", framealpha=0.8)  # where it covers the fewest points
    return save_png(fig, path)


def _log_axis(ax, span: float) -> None:
    """Log scale with plain tick labels (0.2, 0.5, 1, 2 rather than 2x10^-1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if span < 1000 else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
