"""Where one pretraining step goes, at the demo's size: data (loader), views + forward, backward,
optimiser; with the JPEG loader (2 workers) and with the frames decoded once in
memory (data.in_memory=true). Uses the real Trainer on a synthetic pretraining tree.

    python benchmarks/step_profile.py [--data DEMO/data/voxceleb] [--methods simclr,pcl,fabnet]
        [--size 32] [--batch 64] [--steps 12] [--caches off,memory] [--top 8]

Without --data, a small synthetic pretraining tree (40 identities) is built in a temporary folder.
Prints, per (method, cache): ms per step of each part (mean over --steps after 2 warm-up steps),
and the top operators of the model's step by self CPU time (torch.profiler).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from facessl.config import load_config
from facessl.engine.train import Trainer

REPO = Path(__file__).resolve().parents[1]  # configs/ found from any working folder

CONFIGS = {"simclr": f"{REPO}/configs/simclr_synth.yaml", "pcl": f"{REPO}/configs/pcl_synth.yaml", "fabnet": f"{REPO}/configs/fabnet_synth.yaml"}


def profile(method: str, cache: str, args) -> None:
    overrides = [f"data.path={args.data}", f"data.size={args.size}", f"train.batch_size={args.batch}",
                 f"data.in_memory={cache == 'memory'}", "train.steps=1000", "train.image_every=0", "train.checkpoint_every=100000",
                 *args.set]
    cfg = load_config(CONFIGS[method], overrides=overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        t0 = time.perf_counter()
        trainer = Trainer(cfg, run_dir, quiet=True)
        setup = time.perf_counter() - t0
        loader = iter(trainer._loader())
        parts = {"data": 0.0, "model step": 0.0}
        for i in range(args.steps + 2):
            t0 = time.perf_counter()
            batch = next(loader)
            batch.pop("skipped"), batch.pop("skipped_path", None), batch.pop("skipped_paths", None)
            batch = trainer._to_device(batch)
            t1 = time.perf_counter()
            trainer.train_step(batch)
            t2 = time.perf_counter()
            if i >= 2:
                parts["data"] += t1 - t0
                parts["model step"] += t2 - t1
        per = {k: 1000 * v / args.steps for k, v in parts.items()}
        total = sum(per.values())
        print(f"{method:7s} cache={cache:6s} setup {setup:5.1f} s | " +
              " | ".join(f"{k} {v:7.1f} ms ({100 * v / total:4.1f} %)" for k, v in per.items()) +
              f" | step {total:7.1f} ms")
        if args.top:
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                for _ in range(3):
                    batch = next(loader)
                    batch.pop("skipped"), batch.pop("skipped_path", None), batch.pop("skipped_paths", None)
                    trainer.train_step(trainer._to_device(batch))
            table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top)
            print("\n".join("    " + line for line in table.splitlines()))
        del loader
        trainer.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="a VoxCeleb-layout tree (default: a small synthetic one)")
    p.add_argument("--methods", default="simclr,pcl")
    p.add_argument("--caches", default="off,memory")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--top", type=int, default=0, help="profiler rows per run (0: none)")
    p.add_argument("--set", nargs="*", default=[], help="extra config overrides key=value")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", torch.get_num_threads())))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, size {args.size}, batch {args.batch}, "
          f"load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.data is None:
            from facessl.data.synthetic.build import build_benchmark

            build_benchmark(tmp, identities=40, scale="small", parts=["voxceleb"], quiet=True)
            args.data = str(Path(tmp) / "voxceleb")
        for method in args.methods.split(","):
            for cache in args.caches.split(","):
                profile(method, cache, args)


if __name__ == "__main__":
    main()
