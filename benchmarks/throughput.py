"""Training throughput and MFU of every method and backbone.

For each (method, backbone, precision) it builds the method from its synthetic config, runs real
training steps (views on the device, forward, backward, optimiser step) on random uint8 batches, and
prints samples/s, the FLOPs of one step counted by torch.utils.flop_counter (forward + backward,
convolutions and matmuls), the achieved FLOP/s, the same-dtype matmul peak measured in the same run,
their ratio (MFU), and the share of the step spent in the method's augmentation.

    python benchmarks/throughput.py [--methods simclr,pcl,fabnet] [--backbones facecycle,small,resnet18,resnet50]
                                    [--precisions fp32,bf16] [--batch 64] [--size 64] [--steps 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP (see facessl.cli)
from contextlib import nullcontext

import torch
from torch.utils.flop_counter import FlopCounterMode

from facessl import augment
from facessl.config import load_config
from facessl.methods import build_method
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # configs/ found from any working folder

CONFIGS = {"simclr": f"{REPO}/configs/simclr_synth.yaml", "pcl": f"{REPO}/configs/pcl_synth.yaml", "fabnet": f"{REPO}/configs/fabnet_synth.yaml"}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(dtype, device, n=2048, repeats=5) -> float:
    """Achieved FLOP/s of a square matmul in `dtype`: the practical peak this run is measured against."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0)


def autocast(precision, device):
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def make_batch(method, batch, size, device):
    if method.data_kind == "tuples":
        k = getattr(method, "frames_per_item", None) or 2
        shape = (batch, k, 3, size, size)
    else:
        shape = (batch, 3, size, size)
    return {"images": torch.randint(0, 256, shape, dtype=torch.uint8, device=device)}


def train_step(method, opt, batch, precision, device):
    for phase in method.phases:
        with autocast(precision, device):
            out = method(batch, phase)
        out["loss"].float().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)


def augmentation_time(name, x, size, device, repeats):
    """Seconds per step spent in the method's own views, timed apart from the model."""
    if name == "simclr":
        views = augment.simclr_views(size)
        fn = lambda: [v(x) for v in views]  # noqa: E731
    elif name == "pcl":
        face, pose = augment.pcl_face_views(size), augment.pose_preserving(size)
        fn = lambda: (face(x), pose(x), pose(x), augment.hflip(x))  # noqa: E731
    else:
        return 0.0
    fn()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / repeats


def bench(name, backbone, precision, args, device, peaks):
    overrides = [f"data.size={args.size}"] + ([f"backbone.name={backbone}"] if backbone else [])
    cfg = load_config(CONFIGS[name], overrides=overrides)
    backbone = cfg.backbone.name
    torch.manual_seed(0)
    method = build_method(cfg).to(device)
    if device.type == "cpu" or args.channels_last:
        method = method.to(memory_format=torch.channels_last)
    method.train()
    opt = torch.optim.Adam(method.parameters(), lr=1e-4)
    batch = make_batch(method, args.batch, args.size, device)
    train_step(method, opt, batch, precision, device)  # warm-up
    with FlopCounterMode(display=False) as counter:
        train_step(method, opt, batch, precision, device)
    flops = counter.get_total_flops()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        train_step(method, opt, batch, precision, device)
    sync(device)
    step_s = (time.perf_counter() - t0) / args.steps
    x = batch["images"].float().div(255)
    if x.dim() == 5:
        x = x[:, 0]
    aug_s = augmentation_time(name, x, args.size, device, max(1, args.steps))
    peak = peaks[precision]
    achieved = flops / step_s
    print(f"{name:7s} {backbone:10s} {precision:5s} {args.batch / step_s:9.1f} samples/s  "
          f"{flops / args.batch / 1e9:7.3f} GFLOP/sample  {achieved / 1e9:8.1f} GFLOP/s  "
          f"peak {peak / 1e9:8.1f}  MFU {100 * achieved / peak:5.1f} %  aug {100 * aug_s / step_s:5.1f} % of step",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="simclr,pcl,fabnet")
    ap.add_argument("--backbones", default="facecycle,small,resnet18,resnet50")
    ap.add_argument("--precisions", default=None,
                    help="default fp32,bf16 on CUDA; fp32 on CPU (bf16 is emulated and ~10x slower on AVX2 CPUs)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    ap.add_argument("--channels-last", action="store_true", help="also on CUDA")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precisions = (args.precisions or ("fp32,bf16" if device.type == "cuda" else "fp32")).split(",")
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    peaks = {p: matmul_peak(dtypes[p], device) for p in precisions}
    print(f"device {device}, threads {torch.get_num_threads()}, batch {args.batch}, {args.size} px; "
          + ", ".join(f"{p} matmul peak {v / 1e9:.1f} GFLOP/s" for p, v in peaks.items()), flush=True)
    for name in args.methods.split(","):
        # FAb-Net is measured with the encoder of its own config (the paper's conv stack)
        for backbone in [None] if name == "fabnet" else args.backbones.split(","):
            for precision in precisions:
                bench(name, backbone, precision, args, device, peaks)


if __name__ == "__main__":
    main()
