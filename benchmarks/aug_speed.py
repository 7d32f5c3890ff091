"""Augmentation cost vs a FaceCycle training step, per batch of images.

Prints ms per batch for each view recipe and for FaceCycle forward+backward (fp32 and bf16
autocast) at the same batch, then the ratio augmentation / step. The target is <= 15 %.

    python benchmarks/aug_speed.py [--batch 256] [--size 64] [--threads 2] [--device cpu] [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import torch

from facessl import augment
from facessl.models import build_backbone, build_branch_heads


def timed(fn, repeats: int, device: torch.device) -> float:
    """Median wall-clock ms of fn() over `repeats` runs, after one warm-up."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x = torch.rand(args.batch, 3, args.size, args.size, device=device)

    recipes = {
        "simclr view (crop, flip, jitter, grey, blur)": augment.simclr_views(args.size)[0],
        "pcl face views x2 (distance crop + colour)": augment.pcl_face_views(args.size),
        "pose-preserving view (colour, blur, Sobel)": augment.pose_preserving(args.size),
        "flip + noise (PDD inputs)": augment.Compose([augment.HorizontalFlip(1.0), augment.GaussianNoise(0.4, clamp=False)]),
    }
    aug_ms = {name: timed(lambda t=t: t(x), args.repeats, device) for name, t in recipes.items()}

    bb = build_backbone("facecycle", image_size=args.size).to(device).to(memory_format=torch.channels_last)
    face, pose = build_branch_heads(bb)
    face, pose = face.to(device), pose.to(device)
    xc = x.contiguous(memory_format=torch.channels_last)

    def step(dtype):
        def run():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16"):
                fmap = bb(xc)
                loss = face(fmap).float().square().mean() + pose(fmap).float().square().mean()
            loss.backward()
            bb.zero_grad(set_to_none=True)
        return run

    step_ms = {dtype: timed(step(dtype), args.repeats, device) for dtype in ("fp32", "bf16")}

    print(f"batch {args.batch}, {args.size} px, {args.threads} threads, device {device}")
    for name, ms in aug_ms.items():
        print(f"  augment  {name:48s} {ms:9.1f} ms/batch")
    for dtype, ms in step_ms.items():
        print(f"  facecycle fwd+bwd (trunk + 2 heads) {dtype:17s} {ms:9.1f} ms/batch")
    for dtype, ms in step_ms.items():
        worst = max(aug_ms.values())
        print(f"  ratio: costliest recipe / {dtype} step = {100 * worst / ms:.1f} %   "
              f"(simclr 2 views / step = {100 * 2 * aug_ms[next(iter(aug_ms))] / ms:.1f} %)")


if __name__ == "__main__":
    main()
