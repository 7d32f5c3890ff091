"""Ground-truth sidecar (`_truth.jsonl`) written beside a synthetic part, outside the benchmark's own files.

One JSON object per image: {"file": path relative to the part root, "identity": global identity
index, ...true labels}. For analysis and tests only (identity disjointness, true pose of an
unlabelled VoxCeleb frame); training and the format readers never need it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from facessl.errors import DataFormatError

TRUTH_FILE = "_truth.jsonl"


def _plain(value):
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


class TruthWriter:
    """Collects one record per written image; `close()` writes them sorted by file name."""

    def __init__(self, root):
        self.root = Path(root)
        self.records: dict[str, dict] = {}

    def add(self, file, **labels) -> None:
        try:  # resolve both sides: a relative output directory must not leak into the stored names
            rel = Path(file).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            rel = Path(file).as_posix()
        self.records[rel] = {k: _plain(v) for k, v in labels.items()}

    def close(self) -> None:
        lines = [json.dumps({"file": f, **self.records[f]}, sort_keys=True) for f in sorted(self.records)]
        (self.root / TRUTH_FILE).write_text("".join(line + "\n" for line in lines))


def read_truth(root) -> dict[str, dict]:
    """file (relative to root) -> its true labels."""
    path = Path(root) / TRUTH_FILE
    if not path.is_file():
        raise DataFormatError(path, "ground-truth sidecar not found (only synthetic builds have one)")
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            record = json.loads(line)
            out[record.pop("file")] = record
        except (json.JSONDecodeError, KeyError, AttributeError):
            raise DataFormatError(path, 'expected a JSON object with a "file" key', number) from None
    return out
