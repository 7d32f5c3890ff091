"""`facessl demo`: the papers' study end to end on the embedded synthetic data.

    facessl demo [--scale tiny|small|paper] [--out DIR] [--quiet]

Stages (each resumable: a rerun skips finished stages): synthetic benchmark -> preview -> pretrain
SimCLR and PCL (plan.pretrain_seeds seeds each) and FAb-Net (same backbone and budget) -> evaluate
each run on every task (+ random-weights and supervised rows) -> analysis and figures -> verdicts ->
report.md / report.html. The PCL ablation is `facessl ablate --out DIR` (same directory: it reuses
the data and the PCL runs, then adds its table and its verdict to the report).
"""
from __future__ import annotations

import time
from pathlib import Path

from facessl.commands.options import non_negative_int
from facessl.demo import pipeline
from facessl.demo.plan import PLANS, get_plan
from facessl.demo.report import analysis_stage, write_report
from facessl.demo.stages import StageRunner
from facessl.errors import FacesslError


def add_arguments(p) -> None:
    p.add_argument("--scale", default="small", choices=tuple(PLANS),
                   help="tiny: smoke run; small: the study on 2 CPU cores (< 20 min); paper: GPU-sized")
    p.add_argument("--out", default="demo", help="output directory (rerun to resume)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="first pretraining seed (further seeds: +1, +2, ...)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (stage lines still print)")


def run(args) -> int:
    plan = get_plan(args.scale)
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise FacesslError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    runs = [(method, i, pipeline.run_name(method, i)) for method in plan.methods
            for i in range(len(pipeline.seed_runs(plan, method)))]
    total = 2 + 2 * len(runs) + 2
    stages = StageRunner(out, total)
    start = time.perf_counter()
    quiet = args.quiet
    stages.run("data", pipeline.build_data, out, plan, args.seed, quiet)
    stages.run("preview", pipeline.preview, out, args.seed)
    for method, i, name in runs:
        stages.run(f"pretrain-{name}", pipeline.pretrain, out, plan, method, args.seed + i, quiet, run_name=name)
    for k, (method, i, name) in enumerate(runs):
        baselines = ("random", "supervised") if k == 0 else ()
        stages.run(f"eval-{name}", pipeline.evaluate_run, out, plan, name, quiet, baselines)
    stages.run("analysis", analysis_stage, out, plan)
    write_report(out, plan, stages.timings())
    stages._say(f"[{total}/{total}] report: {out / 'report.html'} (total {time.perf_counter() - start:.0f} s)")
    return 0
