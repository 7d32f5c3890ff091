"""`facessl prepare` throughput: sampled frames per second decoded + detected + tracked + aligned +
written, end to end with worker processes, and peak memory. Also decoding alone, for scale.

    python benchmarks/prepare_speed.py [--videos DIR] [--workers 2] [--fps 10 | --every K]

Runs into a fresh temporary folder each time (nothing resumed). The machine this runs on may be
shared: the figure is the wall-clock rate seen, with the CPU time beside it.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def decode_only(videos: Path, fps, every) -> tuple[int, float]:
    from facessl.data.video.decode import list_videos, sample_frames

    n, t = 0, time.perf_counter()
    for rel in list_videos(videos):
        for _ in sample_frames(videos / rel, fps, every):
            n += 1
    return n, time.perf_counter() - t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--videos", default="/work/shared/realfaces/videos")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--every", type=int)
    p.add_argument("--size", type=int, default=128)
    args = p.parse_args()
    from facessl.data.video.pipeline import Options
    from facessl.data.video.runner import prepare

    fps = None if args.every else args.fps
    videos = Path(args.videos)
    frames, seconds = decode_only(videos, fps, args.every or 1)
    print(f"decode only (1 process): {frames} sampled frames in {seconds:.1f} s = {frames / seconds:.0f} frames/s")
    with tempfile.TemporaryDirectory() as out:
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        s = prepare("videos", videos, Path(out), Options(size=args.size, fps=fps, every=args.every or 1),
                    workers=args.workers, quiet=True)
        wall = time.perf_counter() - t
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
           + self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime)
    tot = s["totals"]
    print(f"prepare ({args.workers} workers): {tot['videos']} videos, {tot['frames_sampled']} sampled frames, "
          f"{tot['tracks_written']} tracks, {tot['frames_written']} crops in {wall:.1f} s wall")
    print(f"  {tot['frames_sampled'] / wall:.1f} sampled frames/s wall-clock; "
          f"{tot['frames_sampled'] / cpu:.1f} frames per CPU-second ({cpu:.1f} CPU-s)")
    print(f"  peak memory: main process {self1.ru_maxrss / 1024:.0f} MiB, largest worker {cpu1.ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
