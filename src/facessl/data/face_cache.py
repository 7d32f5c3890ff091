"""Faces found once and kept: what the readers that detect faces share (video clips, formats/videoclips.py; photos,
data/face_crops.py). Finding a face costs a detector pass per picture, so the crops go to a cache folder keyed by the
input file (its real path, size and modification time) and the crop settings; a rerun, another evaluation or
`inspect` reads them back, and a killed run keeps what it finished. The work runs in `workers` processes (one core
each, as `facessl prepare`'s) or, for one worker, in this process.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import astuple, dataclass
from pathlib import Path

from facessl.errors import FacesslError


@dataclass(frozen=True)
class CropSettings:
    frames: int = 4  # video clips: frames per clip
    size: int = 128  # crop side in pixels (prepare's default)
    margin: float = 0.25  # prepare's
    crop: str = "detect"  # detect | whole (the centre square: inputs that are aligned faces already)
    detector: str = "mtcnn"


def cache_root(cache, kind: str) -> Path:
    """cache (a folder a user gave) or `<$FACESSL_CACHE or ~/.cache/facessl>/<kind>`."""
    from facessl.evaluate.cache import default_cache_dir

    return Path(cache) if cache else default_cache_dir() / kind


def input_key(item, settings: CropSettings, version: int) -> str | None:
    """The cache key of one input's crops: the file's real path, size and modification time (a container's for an
    image inside one), the item's own name and face box where it has them, and the settings; None: no such file."""
    inside = str(item) if hasattr(item, "open_bytes") else None  # a record of a container file (`x.rec#12`)
    path = str(item).rsplit("#", 1)[0] if inside else item
    try:
        st = os.stat(path)
    except OSError:
        return None
    box = getattr(item, "box", None)
    text = json.dumps([version, os.path.realpath(path), st.st_size, st.st_mtime_ns, inside,
                       None if box is None else [float(v) for v in box], *astuple(settings)])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def check_writable(cache: Path, reader: str, hint: str = "--reader-option cache=DIR or $FACESSL_CACHE") -> None:
    """One line before any work when the crops cannot be kept (a read-only home, a full disk)."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=cache).close()
    except OSError as exc:
        raise FacesslError(f"{reader}: cannot write the face crops to {cache} ({exc.strerror or exc}); give another "
                           f"folder with {hint}") from None


def write_whole(path: Path, data: bytes) -> None:
    """data into path through a temporary file beside it, renamed only once every byte is written (a full disk or a
    file-size limit must not leave a short crop that a rerun would take as done)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        if os.path.getsize(tmp) != len(data):
            raise OSError(f"short write: {os.path.getsize(tmp)} of {len(data)} bytes")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def worker_count(workers, reader: str, jobs: int) -> int:
    from facessl.data.formats.imagefiles import whole_number

    chosen = whole_number(workers, reader, "workers") if workers is not None else os.cpu_count() or 1
    return max(1, min(chosen, jobs))


def find_missing(job, todo: list, settings: CropSettings, workers, cache: Path, what: str, unit: str, total: int,
                 results: list, hint: str | None = None) -> None:
    """Run job on the inputs not in the cache yet (todo: tuples whose first item is the input's row), each
    result into results[row]; one line says how many, with how many processes, and where they are kept.
    hint: how to choose another cache folder, for the error when this one cannot be written."""
    if not todo:
        return
    workers = worker_count(workers, what, len(todo))
    check_writable(cache, what, *([hint] if hint else []))
    print(f"{what}: finding the faces of {len(todo)} of {total} {unit}s ({workers} worker{'s' * (workers > 1)}; "
          f"kept in {cache})", file=sys.stderr)
    for row, result in run_jobs(job, todo, settings, workers, unit):
        results[row] = result


def run_jobs(job, todo: list, settings: CropSettings, workers: int, unit: str):
    """Yield job(item) for every item of todo (in any order: each result says which item it is), in `workers`
    processes; job is a module-level function that reads WORKER['detector'] and WORKER['settings']."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), unit=unit, desc="faces", disable=not sys.stderr.isatty())
    try:
        if workers == 1:
            init_worker(settings)
            for item in todo:
                yield job(item)
                bar.update()
            return
        from facessl.data.worker_pool import results_in_processes

        for result in results_in_processes(job, todo, workers, _init_pool_worker, (settings,),
                                           f"a face-finding process died (out of memory, or a crash while decoding; "
                                           f"workers=1 runs in this process) on the {unit}s"):
            yield result
            bar.update()
    finally:
        bar.close()


WORKER: dict = {}


def _init_pool_worker(settings: CropSettings) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the reading in the main process, not a trace a worker
    init_worker(settings)


def init_worker(settings: CropSettings) -> None:
    """The detector of these settings (prepare's: smallest face, detection resolution), built once a process."""
    import torch

    from facessl.data.video.detectors import build_detector
    from facessl.data.video.pipeline import Options

    torch.set_num_threads(1)  # one core per worker, as prepare's
    if WORKER.get("settings") != settings:
        opts = Options()
        WORKER["detector"] = (build_detector(settings.detector, min_face=opts.min_face, max_side=opts.max_side)
                              if settings.crop == "detect" else None)
        WORKER["settings"] = settings
