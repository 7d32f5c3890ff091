"""Two one-thread runs side by side against one run on every thread: the demo's and the study's
stage scheduler (facessl.demo.stages.StageRunner.run_parallel) rests on the first doing more work.

    python benchmarks/parallel_stages.py [--data DEMO/data/voxceleb] [--methods simclr,pcl,fabnet]
        [--size 32] [--batch 64] [--steps 30]

For each method: the model steps per second of (a) one Trainer on all cores' threads and (b) two
Trainers in two processes, one thread each, started together (the demo's two workers); prints both
and the ratio (b)/(a). Run it on an idle machine: the point is how the cores are shared.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # configs/ found from any working folder


CONFIGS = {"simclr": f"{REPO}/configs/simclr_synth.yaml", "pcl": f"{REPO}/configs/pcl_synth.yaml", "fabnet": f"{REPO}/configs/fabnet_synth.yaml"}


def steps_per_second(method: str, data: str, size: int, batch: int, steps: int, threads: int, seed: int = 0,
                     start=None) -> float:
    """Model steps per second of one in-memory Trainer (after 3 warm-up steps) on `threads` threads."""
    import torch

    from facessl.config import load_config
    from facessl.engine.train import Trainer

    torch.set_num_threads(threads)
    cfg = load_config(CONFIGS[method], overrides=[f"data.path={data}", f"data.size={size}", f"train.batch_size={batch}",
                                                  "data.in_memory=true", "train.steps=100000", "train.image_every=0",
                                                  "train.checkpoint_every=100000", f"seed={seed}"])
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, run_dir, quiet=True)
        loader = iter(trainer._loader())

        def step():
            batch = next(loader)
            batch.pop("skipped"), batch.pop("skipped_path", None)
            trainer.train_step(trainer._to_device(batch))

        for _ in range(3):
            step()
        if start is not None:  # both processes time the same stretch
            start.wait()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        seconds = time.perf_counter() - t0
        trainer.close()
    return steps / seconds


def _worker(args, queue, start):
    queue.put(steps_per_second(*args, start=start))


def side_by_side(method, data, size, batch, steps) -> float:
    ctx = multiprocessing.get_context("spawn")
    queue, start = ctx.Queue(), ctx.Barrier(2)
    procs = [ctx.Process(target=_worker, args=((method, data, size, batch, steps, 1, seed), queue, start))
             for seed in (0, 1)]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="a VoxCeleb-layout tree (default: a small synthetic one)")
    p.add_argument("--methods", default="simclr,pcl,fabnet")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores, size {args.size}, batch {args.batch}, {args.steps} timed steps, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.data is None:
            from facessl.data.synthetic.build import build_benchmark

            build_benchmark(tmp, identities=40, scale="small", parts=["voxceleb"], quiet=True)
            args.data = str(Path(tmp) / "voxceleb")
        for method in args.methods.split(","):
            one = steps_per_second(method, args.data, args.size, args.batch, args.steps, cores)
            two = side_by_side(method, args.data, args.size, args.batch, args.steps)
            print(f"{method:7s} one run, {cores} threads: {one:5.2f} steps/s | two runs, 1 thread each: "
                  f"{two:5.2f} steps/s in all | ratio {two / one:4.2f}")


if __name__ == "__main__":
    main()
