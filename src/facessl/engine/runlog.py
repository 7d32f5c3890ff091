"""What a training run writes besides checkpoints: metrics.jsonl, train.log (its console lines), curves.png,
TensorBoard events, PNG grids, a progress bar."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from facessl.engine.io import write_text_atomic
from facessl.errors import FacesslError


def _step_of(line: str):
    """The step of a metrics line; None for a blank or damaged one (a kill mid-write leaves half a line)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("step", 0) if isinstance(record, dict) else None


class MetricsLog:
    """Appends one JSON object per logged step to metrics.jsonl, mirrored to TensorBoard if asked.

    On resume, lines from steps after the resumed checkpoint (written before an interruption)
    are dropped so the file reads as one uninterrupted run.
    """

    def __init__(self, run_dir, tensorboard: bool = False, resume_step: int | None = None):
        self.path = Path(run_dir) / "metrics.jsonl"
        if resume_step is None:
            self.path.unlink(missing_ok=True)
        elif self.path.exists():
            kept = [line for line in self.path.read_text(errors="replace").splitlines()
                    if _step_of(line) is not None and _step_of(line) <= resume_step]
            write_text_atomic(self.path, "".join(line + "\n" for line in kept))  # a kill now keeps the old file
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise FacesslError("log.tensorboard: true needs the 'tensorboard' package "
                                   "(pip install 'facessl[tensorboard]'), or set log.tensorboard=false") from None
            self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"))

    def write(self, record: dict) -> None:
        clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in record.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")
        if self.writer is not None:
            step = record["step"]
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.writer.add_scalar(k, v, step)

    def add_images(self, name: str, grid: np.ndarray, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(name, grid, step, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class RunConsole:
    """The lines a run prints (start, settings, progress, notes, warnings, resume, the end), each also appended
    to <run>/train.log with the time: the record stays in the run folder, across resumes. Only the process that
    writes the run's files (rank 0) has one that writes; `quiet` silences the console, never the file.

    Lines said before the run folder is locked (the data summary) wait and go into the file once it is
    (`attach`), so two trainers refused at the lock never write into another's log. The file is opened for
    each line (lines are rare: progress every half minute at most), so every line is on disk when said and
    nothing is left open when a run ends in an error. Not the progress bar (tqdm), and not a redirection of
    sys.stdout: only what the trainer says through here.
    """

    FILE = "train.log"

    def __init__(self, quiet: bool = False, enabled: bool = True):
        self.quiet, self.enabled = quiet, enabled
        self.path: Path | None = None
        self._pending: list[str] | None = []

    def attach(self, run_dir) -> None:
        """Append to run_dir/train.log from now on, starting with the lines said so far."""
        if not self.enabled:
            return
        self.path = Path(run_dir) / self.FILE
        pending, self._pending = self._pending or [], []
        self._append(pending)

    def say(self, text: str, err: bool = False, console: bool = True, loud: bool = False) -> None:
        """Print `text` (stderr when err; not when console=False, nor when quiet unless loud) and append it to
        train.log."""
        if not self.enabled:
            return
        if console and (loud or not self.quiet):
            from tqdm.auto import tqdm

            tqdm.write(text, file=sys.stderr if err else sys.stdout)  # above a progress bar, not through it
        self.record(text)

    def record(self, text: str) -> None:
        """Append `text` to train.log only."""
        if not self.enabled:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        lines = [f"{stamp} {line}" for line in str(text).splitlines() or [""]]
        if self.path is None:
            if self._pending is not None:  # None: the file could not be written
                self._pending += lines
        else:
            self._append(lines)

    def _append(self, lines: list[str]) -> None:
        if not lines or self.path is None:
            return
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))
        except OSError as exc:  # a full disk or a read-only folder: the run's own writes will say so; this is a log
            print(f"warning: {self.path}: not written ({exc.strerror or exc}); the run goes on", file=sys.stderr)
            self.path = None  # said once; the console goes on
            self._pending = None


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """(N,3,H,W) float [0,1] -> uint8 (rows*(H+pad)+pad, nrow*(W+pad)+pad, 3) grid on a white background."""
    images = images.detach().float().cpu().clamp(0, 1)
    n, _, h, w = images.shape
    nrow = max(1, min(nrow, n))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    pixels = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = pixels[i]
    return grid


def save_image_grid(images: torch.Tensor, path, nrow: int = 8, min_side: int = 256,
                    row_labels: list[str] | None = None, col_labels: list[str] | None = None,
                    min_tile: int = 0) -> np.ndarray:
    """Write a PNG grid, upscaled with nearest neighbours when tiny (so 64-px faces stay visible): to min_side
    for the whole grid, and so that a tile is at least min_tile pixels wide. row_labels, when given, are
    written in a white margin at the left of their rows; col_labels in a header row above the columns, one a
    column: the grid's nrow columns, or for a single image (a method's own layout, e.g. FAb-Net's strips of
    source | target | warp | flow ...) len(col_labels) equal columns cut out of it and set apart."""
    from PIL import Image

    from facessl.engine.io import atomic_path

    if col_labels and images.shape[0] == 1 and len(col_labels) > 1 and images.shape[-1] % len(col_labels) == 0:
        # one picture of equal columns: cut into them, so that the grid sets them apart like any tiles
        images = images[0].unflatten(-1, (len(col_labels), -1)).permute(2, 0, 1, 3)
        nrow = len(col_labels)
    grid = image_grid(images, nrow)
    im = Image.fromarray(grid)
    pad = 2
    columns = max(1, min(nrow, images.shape[0]))
    tile = images.shape[-1]
    scale = max(1, min_side // max(1, min(im.size)), math.ceil(min_tile / max(1, tile)) if min_tile else 1)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    width = im.width
    if row_labels:
        im = _with_row_labels(im, row_labels)
    if col_labels:  # after the row labels: their margin is at the left of the header too
        im = _with_col_labels(im, list(col_labels)[:columns], columns, pad * scale, left=im.width - width)
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")
    return grid


def _with_col_labels(im, labels: list[str], columns: int, pad: int, left: int = 0):
    """A white header row above the grid naming each column (pad: the grid's between and around the tiles;
    left: a margin before the grid's first column)."""
    from PIL import Image, ImageDraw

    from facessl.viz.grids import _centred_text, _font

    width = (im.width - left - pad) / columns - pad  # one tile
    font_px = max(11, min(16, int(width) // 7))
    font = _font(font_px)
    lines = [_two_lines(ImageDraw.Draw(im), str(label), int(width), font) for label in labels]
    header = (font_px + 4) * max(len(x) for x in lines) + 6
    out = Image.new("RGB", (im.width, im.height + header), "white")
    out.paste(im, (0, header))
    draw = ImageDraw.Draw(out)
    for c, text in enumerate(lines):
        for i, line in enumerate(text):
            _centred_text(draw, line, int(left + pad + c * (width + pad)), 3 + i * (font_px + 4), int(width), font)
    return out


def _two_lines(draw, text: str, width: int, font) -> list[str]:
    """`text` as one line, or split at a space into two when one is too wide (a longer rest is cut, with …)."""
    if draw.textlength(text, font=font) <= width or " " not in text:
        return [text]
    words = text.split(" ")
    for i in range(len(words) - 1, 0, -1):
        first = " ".join(words[:i])
        if draw.textlength(first, font=font) <= width:
            return [first, " ".join(words[i:])]
    return [words[0], " ".join(words[1:])]


def _with_row_labels(im, labels: list[str]):
    from PIL import Image, ImageDraw

    margin = 8 + 7 * max(len(label) for label in labels)  # the default bitmap font: about 6 px a character
    out = Image.new("RGB", (im.width + margin, im.height), "white")
    out.paste(im, (margin, 0))
    draw, row_height = ImageDraw.Draw(out), im.height / len(labels)
    for i, label in enumerate(labels):
        draw.text((4, int((i + 0.5) * row_height) - 5), label, fill="black")
    return out


def progress_bar(total: int, initial: int, quiet: bool, main: bool):
    """tqdm bar with rate and ETA; disabled when quiet, on non-main ranks or when stderr is not a terminal."""
    from tqdm.auto import tqdm

    disable = quiet or not main or not sys.stderr.isatty()
    return tqdm(total=total, initial=initial, disable=disable, unit="step", desc="pretrain")
