"""One step of the supervised baseline (a random-init backbone + linear head trained end to end, as
facessl.evaluate.baselines.finetune_fold does it), with the backbone's weights in the default layout and in
channels_last. The input is already channels_last (an NHWC uint8 batch permuted), so the weights' layout is
the only difference.

    python benchmarks/supervised_step.py [--sizes 32,64] [--tasks pose,expression] [--batch 64] [--steps 12]
        [--repeats 2] [--backbone small] [--threads 1]

Prints the median ms per step of each layout, alternating them --repeats times, and their ratio.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn

from facessl.config import load_config
from facessl.evaluate.baselines import _to_float, augment_batch
from facessl.methods import build_method
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # configs/ found from any working folder


def median_step_ms(cfg, images: np.ndarray, task: str, channels_last: bool, steps: int) -> float:
    encoder = build_method(cfg).encoder()
    if channels_last:
        encoder = encoder.to(memory_format=torch.channels_last)
    features = lambda x: encoder.features(x)["fs"].reshape(len(x), -1)
    with torch.no_grad():
        head = nn.Linear(features(_to_float(images[:2], "cpu")).shape[1], 2)
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], 1e-3)
    generator, times = torch.Generator().manual_seed(0), []
    encoder.train()
    for _ in range(steps + 2):  # two warm-up steps
        start = time.perf_counter()
        x = augment_batch(_to_float(images, "cpu"), task, generator)
        loss = head(features(x)).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times[2:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="32,64")
    ap.add_argument("--tasks", default="pose,expression")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--backbone", default="small")
    ap.add_argument("--threads", type=int, default=1, help="the demo's stages run one thread each")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(f"{REPO}/configs/simclr_synth.yaml", overrides=[f"backbone.name={args.backbone}"])
    print(f"torch {torch.__version__}, {args.threads} thread(s), backbone {args.backbone}, batch {args.batch}")
    for size in map(int, args.sizes.split(",")):
        images = np.random.default_rng(0).integers(0, 256, (args.batch, size, size, 3), dtype=np.uint8)
        for task in args.tasks.split(","):
            ms = {False: [], True: []}
            for _ in range(args.repeats):
                for layout in (False, True):
                    ms[layout].append(median_step_ms(cfg, images, task, layout, args.steps))
            plain, last = np.median(ms[False]), np.median(ms[True])
            print(f"size {size:3d} {task:10s} default {plain:6.1f} ms | channels_last {last:6.1f} ms | "
                  f"{plain / last:4.2f}x")


if __name__ == "__main__":
    main()
