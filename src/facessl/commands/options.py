"""Checks of command-line values shared by the verbs: counts that must be positive and output paths
that must be writable as the kind of thing they will be (a file, or a folder). Each failure is one
line naming the option and what was expected, before any slow work starts."""
from __future__ import annotations

import argparse
from pathlib import Path

from facessl.errors import FacesslError


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse prints 'argument --X: ...' on failure)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


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
