"""Augmentation cost vs a FaceCycle training step, per batch of images.

Every augmented view goes through the network once, so the fair ratio is the augmentation time
of one view of the batch against forward+backward of the network on the same batch. Target:
<= 15 %. Times are medians of wall-clock and of process CPU time (CPU time is the steadier figure
on a shared machine; it counts all threads).

    python benchmarks/aug_speed.py [--batch 256] [--size 64] [--threads 2] [--device cpu]
                                   [--repeats 3] [--dtypes fp32,bf16]
bf16 autocast is off by default on CPU: without AMX it is about 10x slower than fp32 there.
"""
from __future__ import annotations

import argparse
import time

import torch

from facessl import augment
from facessl.models import build_backbone, build_branch_heads


def timed(fn, repeats: int, device: torch.device) -> tuple[float, float]:
    """(median wall ms, median process-CPU ms) of fn() over `repeats` runs, after one warm-up."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    fn()
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return sorted(wall)[len(wall) // 2], sorted(cpu)[len(cpu) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtypes", default=None, help="comma list of fp32,bf16 (default: fp32 on CPU, both on CUDA)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtypes = (args.dtypes or ("fp32" if device.type == "cpu" else "fp32,bf16")).split(",")
    x = torch.rand(args.batch, 3, args.size, args.size, device=device)

    # (pipeline, number of views it returns)
    recipes = {
        "simclr view (crop, flip, jitter, grey, blur)": (augment.simclr_views(args.size)[0], 1),
        "pcl face views (distance crop + colour)": (augment.pcl_face_views(args.size), 2),
        "pose-preserving view (colour, blur, Sobel)": (augment.pose_preserving(args.size), 1),
        "pdd inputs (flip + noise)": (augment.Compose([augment.HorizontalFlip(1.0), augment.GaussianNoise(0.4, clamp=False)]), 1),
    }
    aug = {}
    for name, (t, views) in recipes.items():
        wall, cpu = timed(lambda t=t: t(x), args.repeats, device)
        aug[name] = (wall / views, cpu / views)

    bb = build_backbone("facecycle", image_size=args.size).to(device).to(memory_format=torch.channels_last)
    face, pose = (h.to(device) for h in build_branch_heads(bb))
    xc = x.contiguous(memory_format=torch.channels_last)

    def step(dtype):
        def run():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16"):
                fmap = bb(xc)
                loss = face(fmap).float().square().mean() + pose(fmap).float().square().mean()
            loss.backward()
            bb.zero_grad(set_to_none=True)
        return run

    steps = {dtype: timed(step(dtype), args.repeats, device) for dtype in dtypes}

    print(f"batch {args.batch}, {args.size} px, {args.threads} threads, device {device}; ms per view of the batch")
    print(f"  {'':56s} {'wall ms':>9s} {'cpu ms':>9s}")
    for name, (wall, cpu) in aug.items():
        print(f"  augment {name:48s} {wall:9.1f} {cpu:9.1f}")
    for dtype, (wall, cpu) in steps.items():
        print(f"  facecycle fwd+bwd (trunk + 2 heads), {dtype:18s} {wall:9.1f} {cpu:9.1f}")
    for dtype, (swall, scpu) in steps.items():
        for name, (wall, cpu) in aug.items():
            print(f"  ratio {name[:40]:40s} / {dtype} step: wall {100 * wall / swall:5.1f} %  cpu {100 * cpu / scpu:5.1f} %")


if __name__ == "__main__":
    main()
