"""Features of a large set of images in parts (`facessl embed`): each part of `PART_ROWS` images is written to
`<out>.parts/` as soon as it is computed, so a run stopped after hours resumes at the first missing part, and an
image that exists but does not decode (a truncated download) is left out of its part, counted and named, instead
of stopping the run. The parts are kept only while they describe the same job: the same checkpoint weights,
feature, input size and list of images (`job.json`); another job starts afresh."""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from facessl.data.formats.decodable import undecodable_rows
from facessl.engine.io import atomic_path
from facessl.evaluate.images import UndecodableImage

PART_ROWS = 4096  # ~15 s of a CPU at 64 px, ~1 s of a GPU: little lost to a stop, few files for a million images
PROGRESS_SECONDS = 60


def parts_folder(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def job_key(weights: str, choice: str, size: int, names: list[str]) -> dict:
    digest = hashlib.blake2b(digest_size=16)
    for name in names:
        digest.update(name.encode("utf-8", "surrogateescape") + b"\n")
    return {"weights": weights, "features": choice, "size": int(size), "images": len(names),
            "names": digest.hexdigest(), "part_rows": PART_ROWS}


def embed_in_parts(imageset, names: list[str], features_of, key: dict, out: Path, say=print):
    """(kept row indices, features (kept, D), undecodable names): features_of(ImageSet) -> (n, D) array."""
    folder = parts_folder(out)
    job = folder / "job.json"
    if folder.exists() and _read_json(job) != key:
        say(f"{folder}: parts of another job (other checkpoint, feature, size or images); starting afresh")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not job.is_file():
        with atomic_path(job) as tmp:
            tmp.write_text(json.dumps(key))
    starts = range(0, len(imageset), PART_ROWS)
    done = sum((folder / f"{k:06d}.npz").is_file() for k in range(len(starts)))
    if done:
        say(f"resuming: {done} of {len(starts)} parts of {PART_ROWS} images already in {folder}")
    kept, chunks, bad = [], [], []
    t0 = last = time.monotonic()
    computed = 0
    for k, start in enumerate(starts):
        rows = np.arange(start, min(start + PART_ROWS, len(imageset)))
        path = folder / f"{k:06d}.npz"
        if not path.is_file():
            _write_part(path, *_part(imageset, rows, features_of))
            computed += len(rows)
            if time.monotonic() - last > PROGRESS_SECONDS and k + 1 < len(starts):  # a line a minute in a job's log
                last = time.monotonic()
                say(f"embedded {rows[-1] + 1} of {len(imageset)} images ({computed / (last - t0):.0f} images/s)")
        with np.load(path) as part:
            good, feats = part["rows"], part["features"]
        kept.append(good)
        if len(good):  # a part of undecodable images alone has no feature width
            chunks.append(feats)
        bad += [names[i] for i in np.setdiff1d(rows, good)]
    kept_rows = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    features = np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
    return kept_rows, features, bad


def remove_parts(out: Path) -> None:
    shutil.rmtree(parts_folder(out), ignore_errors=True)


def _part(imageset, rows: np.ndarray, features_of):
    try:
        return rows, features_of(imageset.subset(rows))
    except UndecodableImage:  # find every such image of this part, and compute the others
        part = imageset.subset(rows)
        good = np.setdiff1d(np.arange(len(rows)), undecodable_rows(part.images))
        return rows[good], features_of(part.subset(good)) if len(good) else np.zeros((0, 0), np.float32)


def _write_part(path: Path, rows: np.ndarray, features: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, rows=rows.astype(np.int64), features=features.astype(np.float32))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
