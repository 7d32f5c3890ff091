"""Build the synthetic benchmark: every real benchmark's file layout under one root, from one seed.

    out/voxceleb  out/rafdb  out/fer2013  out/lfw  out/cplfw  out/300wlp  out/aflw2000
    out/bu3dfe    out/disfa  out/300w     out/mafl out/manifest.json

Each part is a pure function of (seed, size, its counts): it is built in a temporary folder with
its stamp `.facessl_part.json` written last, then renamed into place, so a part folder that exists
is complete. A re-run with the same arguments finds every stamp matching and does nothing. Each
part and split draws identities from its own block of indices (build_context.identity_block), so
no face appears in two parts or in both the train and test side of one.
"""
from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from facessl.data.synthetic.build_presets import PARTS, check_counts, resolve_counts
from facessl.errors import FacesslError
from facessl.engine.io import atomic_path, remove_stale_temporaries, write_json_atomic

STAMP = ".facessl_part.json"
FORMAT_VERSION = 1


@dataclass
class BuildResult:
    manifest: dict
    built: list = field(default_factory=list)
    cached: list = field(default_factory=list)
    seconds: float = 0.0
    part_seconds: dict = field(default_factory=dict)  # wall time per built part (not in the manifest: builds stay byte-identical)


def _version() -> str:
    import facessl

    return facessl.__version__


def part_spec(name: str, counts: dict, seed: int, size: int) -> dict:
    return {"part": name, "counts": counts, "seed": seed, "size": size, "facessl_version": _version(), "format_version": FORMAT_VERSION}


def _read_stamp(folder: Path):
    try:
        return json.loads((folder / STAMP).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _splits(name: str, counts: dict) -> dict:
    from facessl.data.synthetic.build_context import identity_block

    module, _, needs = PARTS[name]
    number = list(PARTS).index(name)
    wanted = getattr(importlib.import_module(f"facessl.data.synthetic.{module}"), needs)(counts)
    return {split: identity_block(number, k, n) for k, (split, n) in enumerate(wanted.items())}


def build_part(out_dir, name: str, counts: dict, seed: int, size: int, quiet: bool = True, threads: int | None = None) -> dict:
    """Build one part into out_dir/name (atomically); returns its stamp."""
    import torch

    from facessl.data.synthetic.build_context import PartContext

    if threads:
        torch.set_num_threads(threads)
    module, builder, _ = PARTS[name]
    build = getattr(importlib.import_module(f"facessl.data.synthetic.{module}"), builder)
    splits = _splits(name, counts)
    with atomic_path(Path(out_dir) / name) as tmp:
        tmp.mkdir()
        ctx = PartContext(name, list(PARTS).index(name), tmp, counts, seed, size, quiet, splits)
        try:
            info = build(ctx)
        finally:
            ctx.close()
        stamp = {**part_spec(name, counts, seed, size), "result": info,
                 "identities": {s: [int(ix[0]), int(ix[-1]) + 1] if len(ix) else [] for s, ix in splits.items()},
                 "files": sum(1 for p in tmp.rglob("*") if p.is_file()) + 1}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")  # last: marks the part complete
    return stamp


def check_arguments(out_dir, size: int, seed: int, parts, jobs: int) -> None:
    from facessl.data.synthetic import SUPPORTED_SIZES

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FacesslError(f"output {out} is a file; expected a directory (new or from an earlier facessl synth)")
    if size not in SUPPORTED_SIZES:
        raise FacesslError(f"unsupported image size {size}; supported: {', '.join(map(str, SUPPORTED_SIZES))}")
    if seed < 0:
        raise FacesslError(f"seed must be >= 0, got {seed}")
    if jobs < 1:
        raise FacesslError(f"jobs must be >= 1, got {jobs}")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise FacesslError(f"unknown part {unknown[0]!r}; parts: {', '.join(PARTS)}")


def build_benchmark(out_dir, identities: int | None = None, size: int = 64, seed: int = 0, scale: str = "default",
                    parts=None, counts: dict | None = None, jobs: int = 1, quiet: bool = False, force: bool = False) -> BuildResult:
    """Write the selected parts (default all) under out_dir and out_dir/manifest.json.

    identities: pretraining identities (voxceleb.identities); counts: overrides such as
    {"rafdb.train": 500} or {"rafdb": {"train": 500}} on top of the `scale` preset (tiny, small,
    default, large). force: replace part folders that facessl did not write.
    """
    start = time.perf_counter()
    parts = list(PARTS) if parts is None else list(dict.fromkeys(parts))  # keep order, drop repeats
    check_arguments(out_dir, size, seed, parts, jobs)
    all_counts = resolve_counts(scale, counts, identities)
    check_counts(all_counts)
    out = Path(out_dir)
    remove_stale_temporaries(out, old_versions=True)  # hidden part folders of a build that was killed midway
    result = BuildResult({})
    todo = []
    for name in parts:
        folder = out / name
        stamp = _read_stamp(folder) if folder.is_dir() else None
        spec = part_spec(name, all_counts[name], seed, size)
        if stamp is not None and all(stamp.get(k) == v for k, v in spec.items()):
            result.cached.append(name)
        elif folder.exists() and stamp is None and not force:
            raise FacesslError(f"{folder} exists but was not written by facessl synth; choose another --out or pass --force")
        else:
            todo.append(name)
    result.part_seconds = _run(out, todo, all_counts, seed, size, jobs, quiet)
    result.built = todo
    result.manifest = write_manifest(out, seed, size)
    result.seconds = time.perf_counter() - start
    return result


def _timed_part(out, name, counts, seed, size, quiet, threads=None) -> float:
    start = time.perf_counter()
    build_part(out, name, counts, seed, size, quiet, threads)
    return time.perf_counter() - start


def _run(out: Path, todo: list, all_counts: dict, seed: int, size: int, jobs: int, quiet: bool) -> dict:
    """Build the parts (in `jobs` spawned processes when > 1); returns seconds per part."""
    if jobs == 1 or len(todo) <= 1:
        return {name: _timed_part(out, name, all_counts[name], seed, size, quiet) for name in todo}
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(_timed_part, out, name, all_counts[name], seed, size, True, 1) for name in todo}
        bar = tqdm(futures.items(), desc="synth parts", disable=quiet or not sys.stderr.isatty(), leave=False)
        return {name: future.result() for name, future in bar}


def write_manifest(out: Path, seed: int, size: int) -> dict:
    """manifest.json: every complete part found under out (its stamp), plus this call's seed and size."""
    from facessl.data.formats.imagefiles import JPEG_QUALITY

    found = {name: _read_stamp(out / name) for name in PARTS if (out / name).is_dir()}
    manifest = {"facessl_version": _version(), "seed": seed, "size": size, "jpeg_quality": JPEG_QUALITY,
                "parts": {name: stamp for name, stamp in found.items() if stamp is not None}}
    path = out / "manifest.json"
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    if not path.is_file() or path.read_text() != text:
        write_json_atomic(path, manifest)
    return manifest
