"""Shards written while prepare runs (facessl.data.shards.ShardWriter), without a detector: disk and index cost.

    python benchmarks/prepare_shards_disk.py [--videos 400] [--frames-per-video 70] [--jpeg 3000]
                                             [--shard-frames 2000] [--index-frames 2000000]

Part 1 feeds --videos fake parts (one track of --frames-per-video frames of --jpeg random bytes each; the writer
never decodes them) to a ShardWriter, as prepare does after each finished video, and measures the bytes of the
shards folder plus the parts not yet in a shard after every part: the peak over the final corpus size is the
extra disk the run needs (before, all parts stayed until one assembly at the end: about 2x). Part 2 opens a
writer on a fake index of --index-frames frames (one listed shard file holding them all, as offsets only) and
times opening it, one index rewrite, and one more shard; the writer skips rewrites that cost over 50 ms and over
1/20 of the time since the last one, so a large index adds at most ~5% to the run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from facessl.data.shards import ShardWriter, write_part  # noqa: E402


def fake_part(parts: Path, tmp: Path, i: int, frames: int, jpeg: int) -> Path:
    crops = [(f, f / 10, None, os.urandom(jpeg)) for f in range(frames)]
    meta = {"source": f"v{i}.mp4", "frames": [{"frame_index": f} for f in range(frames)]}
    part = parts / f"{i:08d}.tar"
    write_part(part, tmp / str(i), [(f"id{i // 8:05d}/v{i:06d}/00001", crops, meta)])
    return part


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0


def disk(args, root: Path) -> None:
    parts, shards = root / "parts", root / "shards"
    writer = ShardWriter(shards, args.shard_frames)
    peak, start, write_shard = 0, time.perf_counter(), writer._write_shard

    def measured(tracks):  # the fullest moment: a new shard in place, its parts not yet deleted
        nonlocal peak
        entry = write_shard(tracks)
        peak = max(peak, size(shards) + size(parts))
        return entry

    writer._write_shard = measured
    for i in range(args.videos):
        part = fake_part(parts, root / "tmp", i, args.frames_per_video, args.jpeg)
        peak = max(peak, size(shards) + size(parts))
        writer.add(part)
    writer.finish()
    seconds = time.perf_counter() - start
    final = size(shards)
    shard = final / max(writer.written, 1)
    print(f"{args.videos} parts -> {writer.written} shards, {final / 1e6:.1f} MB; peak shards+parts "
          f"{peak / 1e6:.1f} MB = final + {(peak - final) / 1e6:.1f} MB ({(peak - final) / shard:.2f} shards); "
          f"an assembly at the end needed final + {final / 1e6:.1f} MB; {seconds:.1f} s incl. making the parts")


def index_cost(args, root: Path) -> None:
    shards = root / "big"
    shards.mkdir()
    per_track, tracks, pos = 70, [], 1024
    for t in range(args.index_frames // per_track):
        offsets = [pos + i * 5000 for i in range(per_track)]
        tracks.append({"key": f"id{t // 20:05d}/v{t:07d}/00001", "offsets": offsets, "sizes": [3000] * per_track})
        pos = offsets[-1] + 5000
    rows = [{"file": "shard-000000.tar", "frames": len(tracks) * per_track, "tracks": tracks}]
    (shards / "index.json").write_text(json.dumps({"format": "facessl-shards-1", "shards": rows}))
    with open(shards / "shard-000000.tar", "wb") as f:
        f.truncate(pos)  # sparse
    mb = (shards / "index.json").stat().st_size / 1e6
    start = time.perf_counter()
    writer = ShardWriter(shards, args.shard_frames)
    opened = time.perf_counter() - start
    writer._dirty = True
    start = time.perf_counter()
    writer.write_index()
    rewrite = time.perf_counter() - start
    part = fake_part(root / "parts2", root / "tmp2", 0, args.shard_frames, args.jpeg)
    start = time.perf_counter()
    writer.add(part)  # one full shard; its index rewrite is skipped or done by that rule
    one = time.perf_counter() - start
    print(f"index of {args.index_frames} frames ({mb:.0f} MB): opened by the writer in {opened:.2f} s, rewritten in "
          f"{rewrite:.2f} s; one more shard of {args.shard_frames} frames took {one:.2f} s "
          f"(index rewritten after it: {not writer._dirty})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=400)
    parser.add_argument("--frames-per-video", type=int, default=70)
    parser.add_argument("--jpeg", type=int, default=3000)
    parser.add_argument("--shard-frames", type=int, default=2000)
    parser.add_argument("--index-frames", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        disk(args, Path(tmp))
        index_cost(args, Path(tmp))


if __name__ == "__main__":
    main()
