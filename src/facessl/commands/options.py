"""Checks of command-line values shared by the verbs: counts that must be positive and output paths
that must be writable as the kind of thing they will be (a file, or a folder). Each failure is one
line naming the option and what was expected, before any slow work starts."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from facessl.errors import FacesslError


def _int_at_least(minimum: int, name: str):
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    check.__name__ = name  # argparse names the type in some messages
    return check


# argparse types (argparse prints 'argument --X: ...' on failure)
positive_int = _int_at_least(1, "positive_int")  # counts: steps, seeds, batch sizes, epochs
non_negative_int = _int_at_least(0, "non_negative_int")  # seeds


def finite_float(text: str) -> float:
    """argparse type: a finite number (NaN would silently turn every score into garbage)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def device(text: str) -> str:
    """argparse type: a torch device name this machine has (cpu, cuda, cuda:1, mps)."""
    import torch

    try:
        chosen = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or mps, got {text!r}") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if not available.get(chosen.type, False):
        raise argparse.ArgumentTypeError(f"{text}: no such device on this machine (cpu is; leave --device out "
                                         "for the fastest available)")
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return text


def _blocking_file(path: Path) -> Path | None:
    """The first existing ancestor of `path` that is a file (nothing can be created under it)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def output_file(path, option: str) -> Path:
    """`path` can be written as a file: it is not a folder and no folder above it is a file."""
    path = Path(path)
    if path.is_dir():
        raise FacesslError(f"{option} {path} is a directory; expected a file name")
    blocker = _blocking_file(path)
    if blocker is not None:
        raise FacesslError(f"{option} {path}: {blocker} is a file, not a folder")
    return path


def output_dir(path, option: str) -> Path:
    """`path` is or can become a folder: it is not a file and no folder above it is a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FacesslError(f"{option} {path} is a file; expected a directory (new or existing)")
    blocker = _blocking_file(path)
    if blocker is not None:
        raise FacesslError(f"{option} {path}: {blocker} is a file, not a folder")
    return path
