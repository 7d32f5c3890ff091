"""Cost of PCL's two pose-negative schemes: samples/s and FLOPs per sample of one training step.

  reference  M augmented flipped copies of each of `pose_batch` images, per-row negatives (N,M,D)
  batch      the flipped, augmented batch encoded once, negatives shared by all rows (gathered
             across processes under DDP)

For each scheme, one full PCL iteration (every phase of the chosen schedule: forward, backward, Adam
step) is timed on random images, and the forward FLOPs are counted with torch's FlopCounterMode:
'encoder' = trunk + branch heads over every image the step encodes, 'step' = everything (decoder,
projection heads, loss matmuls included). Both are per sample of the batch. Ratios reference/batch last.

    python benchmarks/pcl_negatives.py [--backbone facecycle] [--batch 32] [--size 64] [--negatives 100]
                                       [--pose-batch 10] [--schedule alternating] [--threads 2] [--repeats 2]
"""
from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import torch
from torch.utils.flop_counter import FlopCounterMode

from facessl.methods.pcl import PCL
from facessl.models import count_flops
from facessl.methods.pcl_config import PCLConfig

ENCODER_PARTS = ("backbone", "face_branch", "pose_branch")


def build(args, scheme: str) -> PCL:
    torch.manual_seed(0)
    cfg = PCLConfig(schedule=args.schedule, negatives=scheme, num_negatives=args.negatives,
                    pose_batch=args.pose_batch, decoder_channels=args.decoder_channels, dwa_period_steps=1)
    return PCL(cfg, backbone=SimpleNamespace(name=args.backbone, width=args.width), image_size=args.size)


def per_image_flops(method: PCL, size: int) -> dict[str, float]:
    """Forward FLOPs of one image through the trunk and through each branch head."""
    net = method.net
    with torch.no_grad():
        fmap = net.backbone(torch.rand(1, 3, size, size))
        out = {"backbone": count_flops(net.backbone, size)}
        for name in ("face_branch", "pose_branch"):
            with FlopCounterMode(display=False) as counter:
                getattr(net, name)(fmap)
            out[name] = counter.get_total_flops()
    return out


def step_flops(method: PCL, batch: dict, size: int) -> tuple[float, float]:
    """(encoder FLOPs, all FLOPs) of one iteration's forward passes: the encoder part counts every image
    through the trunk and branch heads (per-image cost x images seen by forward hooks)."""
    per_image = per_image_flops(method, size)
    seen = dict.fromkeys(ENCODER_PARTS, 0)
    hooks = [getattr(method.net, name).register_forward_pre_hook(
        lambda mod, inputs, name=name: seen.__setitem__(name, seen[name] + inputs[0].shape[0]))
        for name in ENCODER_PARTS]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            for phase in method.phases:
                method(batch, phase)
    finally:
        for h in hooks:
            h.remove()
    return sum(seen[n] * per_image[n] for n in ENCODER_PARTS), counter.get_total_flops()


def time_step(method: PCL, batch: dict, repeats: int) -> float:
    """Median seconds of one training iteration (all phases, backward and Adam step included)."""
    opt = torch.optim.Adam(method.parameters(), lr=1e-4)

    def once():
        for phase in method.phases:
            loss = method(batch, phase)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    once()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default="facecycle")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--negatives", type=int, default=100, help="M, reference scheme")
    ap.add_argument("--pose-batch", type=int, default=10, help="images with M negatives each (0 = whole batch)")
    ap.add_argument("--schedule", default="alternating", choices=("alternating", "joint"))
    ap.add_argument("--decoder-channels", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    batch = {"images": torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8)}
    k = args.pose_batch or args.batch
    print(f"PCL step on CPU ({args.threads} threads): {args.backbone} x{args.width} at {args.size} px, batch {args.batch}, "
          f"{args.schedule} schedule")
    results = {}
    for scheme in ("reference", "batch"):
        m = build(args, scheme)
        enc, total = (f / args.batch for f in step_flops(m, batch, args.size))
        sec = time_step(m, batch, args.repeats)
        results[scheme] = (args.batch / sec, enc, total)
        what = (f"{args.negatives} negatives per row for {k} rows" if scheme == "reference"
                else f"{args.batch} shared negatives for all {args.batch} rows")
        print(f"  {scheme:9s} ({what}): {args.batch / sec:8.1f} samples/s  "
              f"encoder {enc / 1e9:7.2f} GFLOP/sample  step {total / 1e9:7.2f} GFLOP/sample")
    (r_rate, r_enc, r_tot), (b_rate, b_enc, b_tot) = results["reference"], results["batch"]
    print(f"  batch / reference: {b_rate / r_rate:.2f}x samples/s, {r_enc / b_enc:.2f}x fewer encoder FLOPs, "
          f"{r_tot / b_tot:.2f}x fewer step FLOPs")


if __name__ == "__main__":
    main()
