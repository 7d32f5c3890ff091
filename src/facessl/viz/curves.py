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
        terms = [k for k in _numeric_keys(records) if not k.lower().startswith(NOT_LOSS_PREFIXES)]
        terms = sorted(terms, key=lambda k: (k != "loss", k))  # total first
    steps, values = {}, {}
    at = None
    for term in terms:
        column = np.array([v if type(v) in (int, float) else np.nan for v in (r.get(term) for r in records)], float)
        keep = np.isfinite(column)
        if keep.any():
            if at is None:  # a line's step (its index where it has none)
                at = np.array([_step(r.get("step", i)) for i, r in enumerate(records)])
            steps[term], values[term] = at[keep], column[keep]
    return steps, values


def _numeric_keys(records: list[dict]) -> list[str]:
    """Every key with a numeric value in some line, in the order first seen."""
    keys = {}
    for r in records:
        keys.update(dict.fromkeys(r))
    return [k for k in keys if any(_is_number(r.get(k)) for r in records)]


def smooth(values: np.ndarray, window: int | None = None) -> np.ndarray:
    """Centred moving average (no lag, unlike an EMA); the window defaults to ~4% of the points."""
    values = np.asarray(values, dtype=float)
    if window is None:
        window = max(1, len(values) // 25)
    half = window // 2
    if half == 0:
        return values.copy()
    n = len(values)
    index = np.arange(n)
    lo, hi = np.maximum(index - half, 0), np.minimum(index + half + 1, n)  # shorter windows at the ends
    total = np.concatenate(([0.0], np.cumsum(values)))  # O(n), however wide the window
    return (total[hi] - total[lo]) / (hi - lo)


def thin(steps: np.ndarray, values: np.ndarray, bins: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """At most about 2 * bins points that draw the same line at figure resolution: each bin of consecutive
    points keeps its lowest and its highest (in step order), so spikes stay visible. Drawing 20,000 points
    a term costs seconds (the legend's 'best' place tests every point) for pixels no one can tell apart."""
    n = len(values)
    if n <= 2 * bins:
        return steps, values
    k = n // bins
    m = k * bins
    block = values[:m].reshape(bins, k)
    pair = np.sort(np.stack((block.argmin(1), block.argmax(1)), axis=1), axis=1) + (np.arange(bins) * k)[:, None]
    keep = np.concatenate((pair.ravel(), np.arange(m, n)))
    return steps[keep], values[keep]


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
        _draw_series(ax, steps, values, palette, "loss", "no loss values logged")
    return save_png(fig, path)


def run_curves(run_dir, path, method: str = "") -> Path:
    """The curves of one pretraining run (written into the run folder by the trainer): every loss term
    against step, raw (faint) and smoothed, and beside them the DWA weights (w_face, w_pose) when the
    run logged ones that move. Titled with the method and the run folder's name."""
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    steps, values = _merge_equal(*loss_series(records))
    w_steps, w_values = loss_series(records, _weight_terms(records))
    moving = {k: v for k, v in w_values.items() if np.ptp(v) > 1e-9}
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    # fixed margins in inches, the legends right of their panels (a constrained layout costs a third of the draw)
    loss_w, weight_w, margin, legend_w = 6.0, 3.6, 0.85, 1.9
    width = margin + loss_w + legend_w + ((margin + weight_w + legend_w * 0.6) if moving else 0) + 0.2
    fig = new_figure(width, 4.6)
    last = max((int(s[-1]) for s in steps.values() if np.isfinite(s[-1])), default=0)
    fig.suptitle(f"{method + ' ' if method else ''}pretraining: {run_dir.name}, step {last}", fontsize=13)
    ax = fig.add_axes((margin / width, 0.12, loss_w / width, 0.74))
    ax.set_title("loss terms (faint: raw, bold: smoothed)", fontsize=10)
    _draw_series(ax, steps, values, palette, "loss", "no loss values logged yet", legend_outside=True)
    if moving:
        left = margin + loss_w + legend_w + margin
        ax = fig.add_axes((left / width, 0.12, weight_w / width, 0.74))
        ax.set_title("DWA loss weights", fontsize=10)
        _draw_series(ax, {k: w_steps[k] for k in moving}, moving, colormaps["Dark2"], "weight",
                     "", log=False, smoothed=False, legend_outside=True)
    return save_png(fig, path)


def _merge_equal(steps: dict, values: dict) -> tuple[dict, dict]:
    """Terms logged with the same values as an earlier one (SimCLR's loss and nt_xent, FAb-Net's loss, l1_all
    and l1_window in its first stage) become one line labelled 'loss = nt_xent': else one hides the other."""
    out_steps, out_values = {}, {}
    for term in values:
        same = next((k for k in out_values if np.array_equal(steps[term], out_steps[k])
                     and np.allclose(values[term], out_values[k], rtol=1e-6, atol=0)), None)
        if same is None:
            out_steps[term], out_values[term] = steps[term], values[term]
        else:
            label = f"{same} = {term}"
            out_steps = {label if k == same else k: v for k, v in out_steps.items()}
            out_values = {label if k == same else k: v for k, v in out_values.items()}
    return out_steps, out_values


def _weight_terms(records: list[dict]) -> list[str]:
    """The loss weights a run logs (PCL's DWA: w_face, w_pose)."""
    return sorted(k for k in _numeric_keys(records) if k.lower().startswith(("w_", "dwa")))


def _draw_series(ax, steps: dict, values: dict, palette, ylabel: str, empty: str, log: bool = True,
                 smoothed: bool = True, legend_outside: bool = False) -> None:
    """Each term on `ax`: raw (faint) and smoothed lines, or (smoothed=False) the raw line alone; a log y axis
    where the values span over a decade. Long series are thinned to what the figure resolves."""
    if not values:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
        return
    for j, term in enumerate(values):
        colour = palette(j % 10)
        x, y = steps[term], values[term]
        few = len(y) < 3  # a short run logs a point or two: a line alone would not show them
        marker = dict(marker="o", markersize=5) if few else {}
        if not smoothed:
            ax.plot(*thin(x, y), color=colour, linewidth=1.8, label=term, **marker)
            continue
        ax.plot(*thin(x, y), color=colour, alpha=0.25, linewidth=0.8)
        keep = np.unique(np.r_[np.arange(0, len(y), max(1, len(y) // 2000)), len(y) - 1])  # smooth: skip points
        ax.plot(x[keep], smooth(y)[keep], color=colour, linewidth=1.8, label=term, **marker)
    everything = np.concatenate(list(values.values()))
    logged = log and everything.min() > 0 and everything.max() / everything.min() > 10
    if logged:
        _log_axis(ax, everything.max() / everything.min())
    ax.set_xlabel("step")
    ax.set_ylabel(f"{ylabel} (log scale)" if logged else ylabel)
    ax.grid(alpha=0.3)
    if legend_outside:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, framealpha=0.8)
    else:
        ax.legend(fontsize=8, loc="best", framealpha=0.8)  # where it covers the fewest points


def _log_axis(ax, span: float) -> None:
    """Log scale with plain tick labels (0.2, 0.5, 1, 2 rather than 2x10^-1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if span < 1000 else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _step(v) -> float:
    return float(v) if _is_number(v) else math.nan
