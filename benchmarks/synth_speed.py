"""Throughput of the synthetic face renderer: frames/s at 64 and 128 px and peak memory.

    python benchmarks/synth_speed.py [--threads 2] [--batch 256] [--sizes 64 128] [--repeats 3]

Prints wall-clock frames/s (best of the repeats) and frames per CPU-second (process CPU time, which
stays meaningful on a shared, busy machine), plus the peak resident memory of the process.
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

from facessl.data.synthetic import expression_aus, render, sample_identities, sample_poses, sample_scene


def _inputs(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids, pose = sample_identities(n, g), sample_poses(n, g)
    aus = expression_aus(torch.randint(0, 7, (n,), generator=g), g)
    return ids, pose, aus, sample_scene(n, g), g


def measure(size: int, batch: int, repeats: int) -> tuple[float, float]:
    ids, pose, aus, scene, g = _inputs(batch)
    render(ids[:4], pose[:4], aus[:4], {k: v[:4] for k, v in scene.items()}, size, generator=g)  # warm-up
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        render(ids, pose, aus, scene, size, generator=g)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return batch / best_wall, batch / best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"synthetic renderer, torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}")
    for size in args.sizes:
        fps, per_cpu = measure(size, args.batch, args.repeats)
        print(f"  {size:4d} px: {fps:8.0f} frames/s   {per_cpu:8.0f} frames per CPU-second")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak resident memory: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
