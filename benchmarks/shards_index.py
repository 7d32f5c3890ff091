"""Opening a large shard index (facessl.data.shards) and planning its batches, without real shards.

    python benchmarks/shards_index.py [--frames 2000000] [--streams-per-process 32] [--batches 20]
                                      [--sampling all_frames|per_identity]

Writes a fake `index.json` of --frames frames (tracks of 70 frames, 20 tracks an identity, shards of about
2,000 frames; offsets and sizes as a real shard's, 3 KB a JPEG) and sparse shard files of the right sizes in a
temporary directory. Then, each in a fresh process (so one measurement's memory cannot hide another's): the
seconds to open it (`ShardFrames(root)`), the resident memory it holds afterwards and the peak while opening
(MB over the process with torch imported), and the milliseconds to plan one global batch (which frame each
item reads; no decoding) on rank 0 of the processes that give it --streams-per-process of the 64 streams of a
batch of 256, over --batches batches after the first (and the first alone: it draws the streams and their epochs). --module names another copy of the module (e.g. an older version on PYTHONPATH) to compare against.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JPEG, SIDE, HEADER = 3000, 200, 1024  # bytes of a frame's JPEG, its .json, and the pax headers before each


def write_fake(root: Path, frames: int, track_frames: int = 70, tracks_per_identity: int = 20,
               shard_frames: int = 2000) -> None:
    shards, pos, shard, t = [], 0, None, 0
    while pos < frames:
        if shard is None or shard["frames"] >= shard_frames:
            shard = {"file": f"shard-{len(shards):06d}.tar", "frames": 0, "tracks": [], "end": 0}
            shards.append(shard)
        n = min(track_frames, frames - pos)
        end = shard["end"]
        offsets = [end + HEADER + i * (JPEG + SIDE + 2 * HEADER) for i in range(n)]
        key = f"id{t // tracks_per_identity:06d}/vid{t // 4:07d}/{t % 4:05d}"
        shard["tracks"].append({"key": key, "offsets": offsets, "sizes": [JPEG] * n})
        shard["end"] = offsets[-1] + JPEG + SIDE + HEADER
        shard["frames"] += n
        pos, t = pos + n, t + 1
    for s in shards:
        with open(root / s["file"], "wb") as f:  # sparse: the right size, no data
            f.truncate(s.pop("end") + 1024)
    (root / "index.json").write_text(json.dumps({"format": "facessl-shards-1", "shards": shards}))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def measure(root: str, module: str, streams_per_process: int, batches: int, sampling: str) -> dict:
    importlib.import_module("torch")  # the baseline holds torch, as a training process does
    shards = importlib.import_module(module)
    gc.collect()
    before, t0 = rss_mb(), time.perf_counter()
    kwargs = {"sampling": sampling} if "sampling" in inspect.signature(shards.ShardFrames).parameters else {}
    data = shards.ShardFrames(root, **kwargs)
    seconds = time.perf_counter() - t0
    gc.collect()
    held = rss_mb() - before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6 - before
    streams, world = 64, 64 // streams_per_process  # rank 0 of `world`: 64 streams of 4 items a global batch
    global_batch = 4 * streams
    assert shards.stream_count(global_batch, len(data.files)) == streams

    def plan(b):
        if hasattr(data, "batch_units"):  # this version
            return data.batch_units(0, b, global_batch, 0, world)
        return [data._stream_items(0, j, streams, b * 4, 4) for j in range(streams // world)]  # the version before

    t0 = time.perf_counter()
    plan(0)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in range(1, batches + 1):
        plan(b)
    return {"open_s": seconds, "held_mb": held, "peak_mb": peak, "first_ms": first * 1e3,
            "plan_ms": (time.perf_counter() - t0) / batches * 1e3}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2_000_000)
    ap.add_argument("--streams-per-process", type=int, default=32)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--module", default="facessl.data.shards")
    ap.add_argument("--sampling", default="all_frames", choices=["all_frames", "per_identity"])
    ap.add_argument("--_measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._measure:
        print(json.dumps(measure(args._measure, args.module, args.streams_per_process, args.batches, args.sampling)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_fake(Path(tmp), args.frames)
        size = (Path(tmp) / "index.json").stat().st_size / 1e6
        print(f"fake index: {args.frames} frames, {size:.0f} MB of JSON, written in {time.perf_counter() - t0:.1f} s")
        out = subprocess.run([sys.executable, __file__, "--_measure", tmp, "--module", args.module,
                              "--streams-per-process", str(args.streams_per_process), "--batches", str(args.batches),
                              "--sampling", args.sampling],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"open {r['open_s']:.2f} s; held {r['held_mb']:.0f} MB ({r['held_mb'] * 1e6 / args.frames:.1f} bytes a "
              f"frame), peak while opening {r['peak_mb']:.0f} MB; plan a batch with {args.streams_per_process} "
              f"streams on this process {r['plan_ms']:.2f} ms (the first, which draws the streams and their "
              f"epochs, {r['first_ms']:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
