"""Where the demo's baselines stage spends its time: per task, the random-weights rows and the supervised row.

    python benchmarks/baselines_stage.py [--demo DEMO | --data-scale tiny] [--tasks RAF-DB,AFLW2000,...]
        [--scale small] [--supervised-epochs N] [--threads 1]

The stage as `facessl demo` runs it (pipeline.evaluate_baselines: the plan's suite, probe sizes, random draws,
supervised cap, precision and learning rates), without the feature cache, so every row is computed. With --demo,
on that demo directory's synthetic benchmark (DEMO/data, as `facessl demo` or `facessl synth --out DEMO/data`
wrote it); without, on the parts the tasks need, built in a temporary folder first at --data-scale (the demo's
is `default`; `tiny` for a smoke run).
Prints, per task, the seconds of its supervised row and of the rest (the random rows' features and probe fits),
then the totals and the supervised rows' share. One thread by default: that is how the demo's stages run.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from facessl.demo import pipeline
from facessl.demo.plan import get_plan
from facessl.evaluate import runner

PARTS = {"RAF-DB": ("rafdb",), "FER-2013": ("fer2013",), "LFW": ("lfw",), "CPLFW": ("cplfw",),
         "AFLW2000": ("aflw2000", "300wlp"), "DISFA": ("disfa",), "300-W": ("300w",), "MAFL": ("mafl",),
         "BU-3DFE": ("bu3dfe",)}  # the synthetic parts each demo column reads


def measure(out: Path, plan, tasks: list[str]) -> list[tuple[str, float, float]]:
    """(task, supervised seconds, total seconds) for each task, computed from scratch."""
    from facessl.methods import build_method

    cfg = pipeline.pretrain_config("simclr", plan, out, seed=0)
    encoder = build_method(cfg).encoder()
    encoder.config = cfg  # as evaluate_baselines: the random row is the architecture's own init
    options = pipeline.eval_options(plan, quiet=True)
    took: list[float] = []  # seconds of the supervised fine-tunes of the task being evaluated
    train_supervised = runner.run_supervised_task

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return train_supervised(*args, **kwargs)
        finally:
            took.append(time.perf_counter() - start)

    rows = []
    runner.run_supervised_task = timed
    try:
        for spec in pipeline.suite_specs(out, plan, tasks):
            took.clear()
            start = time.perf_counter()
            runner.evaluate(encoder, [spec], options, features=["fs"], baselines=("random", "supervised"),
                            cache=None, checkpoint_row=False)
            rows.append((spec.name, sum(took), time.perf_counter() - start))
    finally:
        runner.run_supervised_task = train_supervised
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", help="a demo directory whose data/ is built (default: a tiny build in a temporary folder)")
    ap.add_argument("--data-scale", default="tiny", help="synth preset of the temporary build (the demo's: default)")
    ap.add_argument("--tasks", default=",".join(PARTS), help="comma list of the suite's task names")
    ap.add_argument("--scale", default="small", help="the demo plan whose settings the stage uses")
    ap.add_argument("--supervised-epochs", type=int, default=None, help="override the plan's cap (a quick run)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in PARTS]
    if unknown:
        ap.error(f"--tasks: unknown {', '.join(unknown)}; expected some of {', '.join(PARTS)}")
    plan = get_plan(args.scale)
    if args.supervised_epochs:
        plan = dataclasses.replace(plan, supervised_epochs=args.supervised_epochs)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.demo) if args.demo else Path(scratch)
        if not args.demo:
            from facessl.data.synthetic.build import build_benchmark

            parts = sorted({p for t in tasks for p in PARTS[t]})
            build_benchmark(out / "data", size=64, seed=0, scale=args.data_scale, parts=parts, jobs=1, quiet=True)
        elif not (out / "data").is_dir():
            ap.error(f"--demo {out}: no data/ folder (run `facessl synth --out {out / 'data'}` first)")
        print(f"baselines stage, plan {args.scale} (supervised cap {plan.supervised_epochs} epochs, "
              f"{plan.random_inits} random draw(s) x {plan.eval_seeds} probe seeds), {args.threads} thread(s), "
              f"data {out / 'data' if args.demo else args.data_scale + ' build'}")
        rows = measure(out, plan, tasks)
    print(f"{'task':<10} {'supervised s':>13} {'random rows s':>14} {'total s':>9}")
    for name, supervised, total in rows:
        print(f"{name:<10} {supervised:>13.1f} {total - supervised:>14.1f} {total:>9.1f}")
    supervised, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    share = supervised / total if total else 0.0
    print(f"{'all':<10} {supervised:>13.1f} {total - supervised:>14.1f} {total:>9.1f}   supervised share {share:.0%}")


if __name__ == "__main__":
    main()
