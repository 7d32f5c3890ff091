"""`facessl demo`: the papers' study end to end on the embedded synthetic data.

    facessl demo [--scale tiny|small|paper] [--out DIR] [--no-ablation] [--quiet]

Stages (each resumable: a rerun skips finished stages): synthetic benchmark -> preview -> pretrain
SimCLR, PCL, FAb-Net (same backbone and budget) -> evaluate each on every task (+ random-weights
and supervised rows) -> PCL ablation -> analysis and figures -> report.md / report.html.
"""
from __future__ import annotations

import time
from pathlib import Path

from facessl.demo import pipeline
from facessl.demo.ablation import ablation_rows, run_ablation
from facessl.demo.plan import PLANS, get_plan
from facessl.demo.report import analysis_stage, write_report
from facessl.demo.stages import StageRunner
from facessl.errors import FacesslError


def add_arguments(p) -> None:
    p.add_argument("--scale", default="small", choices=tuple(PLANS),
                   help="tiny: smoke run; small: the study on 2 CPU cores (~20 min); paper: GPU-sized")
    p.add_argument("--out", default="demo", help="output directory (rerun to resume)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ablation", action="store_true", help="leave the PCL ablation runs out")
    p.add_argument("--quiet", action="store_true", help="no progress bars (stage lines still print)")


def run(args) -> int:
    plan = get_plan(args.scale)
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise FacesslError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    ablation = plan.ablation_steps > 0 and not args.no_ablation
    methods = plan.methods
    total = 3 + 2 * len(methods) + (1 if ablation else 0) + 1
    stages = StageRunner(out, total)
    start = time.perf_counter()
    quiet = args.quiet
    stages.run("data", pipeline.build_data, out, plan, args.seed, quiet)
    stages.run("preview", pipeline.preview, out, args.seed)
    for method in methods:
        stages.run(f"pretrain-{method}", pipeline.pretrain, out, plan, method, args.seed, quiet)
    for i, method in enumerate(methods):
        baselines = ("random", "supervised") if i == 0 else ()
        stages.run(f"eval-{method}", pipeline.evaluate_run, out, plan, method, quiet, baselines)
    ablation_result = stages.run("ablation", run_ablation, out, plan, args.seed, quiet) if ablation else None
    stages.run("analysis", analysis_stage, out, plan)
    write_report(out, plan, stages.timings(), ablation_rows(out) if ablation_result is not None else None)
    stages._say(f"[{total}/{total}] report: {out / 'report.html'} (total {time.perf_counter() - start:.0f} s)")
    return 0
