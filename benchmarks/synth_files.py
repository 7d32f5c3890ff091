"""End-to-end speed of `facessl synth`: files and images written per second, per part, and peak memory.

    .venv/bin/python benchmarks/synth_files.py                      # small scale, 64 px, 2 threads
    .venv/bin/python benchmarks/synth_files.py --scale tiny --size 48 --parts rafdb,lfw
Also times the bare renderer on one batch, so the builder's own overhead (labels, JPEG, .mat, lists)
shows as the gap between the two rates.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def renderer_rate(size: int, n: int = 64) -> float:
    import torch

    from facessl.data.synthetic import expression_aus, render, sample_identities, sample_poses, sample_scene

    g = torch.Generator().manual_seed(0)
    args = (sample_identities(n, g), sample_poses(n, g), expression_aus(torch.zeros(n, dtype=torch.long), g), sample_scene(n, g))
    render(*(a[:2] if not isinstance(a, dict) else {k: v[:2] for k, v in a.items()} for a in args), size=size)  # warm-up
    start = time.perf_counter()
    render(*args, size=size, generator=g)
    return n / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--parts", default=None, help="comma-separated parts (default all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from facessl.data.synthetic.build import build_benchmark

    torch.set_num_threads(args.threads)
    parts = args.parts.split(",") if args.parts else None
    with tempfile.TemporaryDirectory(prefix="synth_bench_") as tmp:
        out = Path(tmp) / "synth"
        result = build_benchmark(out, scale=args.scale, size=args.size, parts=parts, jobs=args.jobs, quiet=True)
        files = sum(1 for p in out.rglob("*") if p.is_file())
        size_mib = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
        print(f"synth build: scale={args.scale} size={args.size}px threads={args.threads} jobs={args.jobs}")
        print(f"{'part':<10} {'images':>7} {'files':>7} {'seconds':>8} {'images/s':>9}")
        images = 0
        for name, seconds in result.part_seconds.items():
            stamp = result.manifest["parts"][name]
            n = stamp["result"]["images"]
            images += n
            print(f"{name:<10} {n:>7} {stamp['files']:>7} {seconds:>8.1f} {n / seconds:>9.1f}")
        print(f"total: {images} images, {files} files ({size_mib:.1f} MiB) in {result.seconds:.1f} s = "
              f"{files / result.seconds:.1f} files/s, {images / result.seconds:.1f} images/s")
    rate = renderer_rate(args.size)
    print(f"bare renderer: {rate:.1f} faces/s (batch of 64); peak memory {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
