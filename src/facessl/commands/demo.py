"""`facessl demo`: the papers' study end to end on the embedded synthetic data.

    facessl demo [--scale tiny|small|paper] [--out DIR] [--quiet]

Stages (each resumable: a rerun skips finished stages): synthetic benchmark -> preview -> pretrain
SimCLR and PCL (plan.pretrain_seeds seeds each) and FAb-Net (same backbone and budget), and beside
them the random-weights and supervised rows -> evaluate each run on every task, and (once each
method's first run is trained) analysis and figures -> verdicts -> report.md / report.html. The PCL ablation is `facessl ablate --out DIR` (same directory: it reuses
the data and the PCL runs, then adds its table and its verdict to the report).
"""
from __future__ import annotations

import time
from pathlib import Path

from facessl.commands.options import non_negative_int, positive_int
from facessl.demo import pipeline
from facessl.demo.plan import PLANS, PRECISIONS, check_made_with, get_plan
from facessl.demo.report import analysis_stage, write_report
from facessl.demo.stages import StageRunner, default_workers
from facessl.errors import FacesslError


def add_arguments(p) -> None:
    p.add_argument("--scale", default="small", choices=tuple(PLANS),
                   help="tiny: smoke run; small: the study on 2 CPU cores (about 20 min); paper: GPU-sized")
    p.add_argument("--out", default="demo", help="output directory (rerun to resume)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="first pretraining seed (further seeds: +1, +2, ...)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="stages run side by side, each in its own process with its share of the cores "
                        "(default: 2 on a CPU with 2 or more cores, 1 on a GPU)")
    add_precision_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars (stage lines still print)")


def add_precision_argument(p) -> None:
    """--precision of `facessl demo` and `facessl ablate` (the same directory must be run with the same one)."""
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="pretraining precision (default: the scale's; auto: bf16 where the CPU or GPU computes it "
                        "natively, else fp32); fp32 reproduces an AVX2 machine's table on a bf16 one")


# Seconds of a pretraining step and of the other stages (one thread, two stages side by side; the fresh-clone
# run of session 12, docs/demo_study.md): only their order matters. A free worker takes the job with the longest
# road ahead of it (a run's own time plus its evaluation's), so that the two workers finish together.
STEP_SECONDS = {"pcl": 0.89, "simclr": 0.17, "fabnet": 0.31}
EVAL_SECONDS = {"pcl": 152.0, "simclr": 52.0, "fabnet": 38.0}
BASELINES_SECONDS = 446.0
ANALYSIS_SECONDS = 31.0


def run(args) -> int:
    plan = get_plan(args.scale, args.precision)
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise FacesslError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    check_made_with(out, plan, args.seed)
    runs = [(method, i, pipeline.run_name(method, i)) for method in plan.methods
            for i in range(len(pipeline.seed_runs(plan, method)))]
    total = 2 + 2 * len(runs) + 3
    stages = StageRunner(out, total)
    start = time.perf_counter()
    quiet = args.quiet
    workers = args.workers or default_workers()
    stages.run("data", pipeline.build_data, out, plan, args.seed, quiet, workers)
    stages.run("preview", pipeline.preview, out, args.seed)
    quiet_job = quiet or workers > 1  # progress bars of two processes would garble each other
    # one group: a run's evaluation starts as soon as that run is trained, beside the other runs; the
    # random-weights and supervised rows need no run at all
    jobs = [(BASELINES_SECONDS, ("eval-baselines", pipeline.evaluate_baselines, (out, plan, quiet_job), {}))]
    for method, i, name in runs:
        train_s, eval_s = STEP_SECONDS.get(method, 0.3) * plan.steps, EVAL_SECONDS.get(method, 60.0)
        jobs.append((train_s + eval_s, (f"pretrain-{name}", pipeline.pretrain, (out, plan, method, args.seed + i, quiet_job),
                                        {"run_name": name})))
        jobs.append((eval_s, (f"eval-{name}", pipeline.evaluate_run, (out, plan, name, quiet_job), {}, (f"pretrain-{name}",))))
    # the analysis reads each method's first run only: it starts beside the last evaluations, not after them
    first_runs = tuple(f"pretrain-{pipeline.run_name(method, 0)}" for method in plan.methods)
    jobs.append((ANALYSIS_SECONDS, ("analysis", analysis_stage, (out, plan), {}, first_runs)))
    stages.run_parallel([job for _, job in sorted(jobs, key=lambda c: -c[0])], workers)
    write_report(out, plan, stages.timings())
    stages._say(f"[{total}/{total}] report: {out / 'report.html'} (total {time.perf_counter() - start:.0f} s)")
    return 0
