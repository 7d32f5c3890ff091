"""`facessl study`: SimCLR, PCL and FAb-Net pretrained on real faces, probed on real labels, one report.

    facessl study --config configs/study_realfaces.yaml --out study [KEY=VALUE ...]

Stages (resumable: a rerun skips finished ones): the label table's grouped split and the train
photos -> pretrain each method for each seed (same backbone, batch and minutes of training: the
trainer's train.minutes), and beside them the random-weights, supervised and
majority-class rows -> probe each run (3 probe seeds) -> report.md / .html. Independent stages run two
at a time on a CPU, one thread each (`workers=1`: one at a time).
FAb-Net needs frame pairs from face tracks: give `videos=DIR` (a `facessl prepare` output);
without it FAb-Net is left out and the report says so.
"""
from __future__ import annotations

from pathlib import Path

from facessl.demo.stages import StageRunner, check_recorded, default_workers
from facessl.errors import FacesslError
from facessl.study import stages
from facessl.study.plan import load_plan
from facessl.study.report import write_report


def add_arguments(p) -> None:
    p.add_argument("--config", default=None, help="study YAML (e.g. configs/study_realfaces.yaml)")
    p.add_argument("--out", default="study", help="output directory (rerun to resume)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (stage lines still print)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override a study setting, e.g. seeds=[0]")


def run(args) -> int:
    plan = load_plan(args.config, args.overrides)
    out = Path(args.out).resolve()
    missing = []
    methods = list(plan.methods)
    if "fabnet" in methods and not plan.videos:
        methods.remove("fabnet")
        missing.append("FAb-Net: needs frame pairs from face tracks; give videos=DIR, a `facessl prepare` output")
    plan.methods = methods
    runs = [(m, s) for s in plan.seeds for m in methods]
    check_made_with(out, plan)
    runner = StageRunner(out, 2 + 2 * len(runs))
    redo_lost_outputs(runner, out, runs)
    data_info = runner.run("data", stages.prepare_data, out, plan)
    if data_info.get("holdout", "test") != plan.holdout:
        raise FacesslError(f"{out}: this study directory holds a holdout={data_info.get('holdout', 'test')} study; "
                           f"give another --out for holdout={plan.holdout}")
    workers = plan.workers or default_workers()
    quiet = args.quiet or workers > 1  # progress bars of two processes would garble each other
    # every run trains for the same minutes (train.minutes: exact, where timing a few steps beforehand was
    # off by up to 20 % with the neighbour process). One group: the baselines (supervised: the longest) need
    # no run, so they start first; a run's evaluation starts as soon as that run is trained, beside the others
    jobs = [("eval-baselines", stages.evaluate_baselines, (out, plan, quiet), {})]
    jobs += [(f"pretrain-{stages.run_name(method, seed)}", stages.pretrain, (out, plan, method, seed, quiet), {})
             for method, seed in runs]
    jobs += [(f"eval-{stages.run_name(method, seed)}", stages.evaluate_run, (out, plan, stages.run_name(method, seed), quiet),
              {}, (f"pretrain-{stages.run_name(method, seed)}",)) for method, seed in runs]
    trained = runner.run_parallel(jobs, workers)
    data_info["budget"] = stages.budget_summary(trained, plan)
    verdict = write_report(out, plan, data_info, runner.timings(), missing)
    runner._say(f"report: {out / 'report.html'}; " + "; ".join(f"{k} {v['gain']:+.1f}" for k, v in verdict.items()))
    return 0


# settings that only add or drop stages (or say how many run at once): a rerun may change them
STAGE_SET_FIELDS = ("methods", "seeds", "workers")


def check_made_with(out: Path, plan) -> None:
    """A study directory's finished stages are reused by a rerun, so they must come from the same settings: the
    first run records them (study_plan.json); a rerun with others (another size, steps, probe epochs ...) is
    refused instead of reporting old numbers under the new settings. More methods or seeds only add stages."""
    wanted = {k: v for k, v in plan.as_dict().items() if k not in STAGE_SET_FIELDS}
    check_recorded(out, "study_plan.json", wanted, "study settings", "settings")


def redo_lost_outputs(runner: StageRunner, out: Path, runs) -> None:
    """A stage recorded as done whose output is gone (a results.json deleted, a run folder moved) runs again,
    instead of its method silently dropping out of the report."""
    from facessl.engine import checkpoint as ckpt

    for method, seed in runs:
        name = stages.run_name(method, seed)
        if runner.done(f"pretrain-{name}") is not None and not ckpt.list_checkpoints(out / "runs" / name):
            runner.forget(f"pretrain-{name}")
            runner.forget(f"eval-{name}")
        if runner.done(f"eval-{name}") is not None and not (out / "eval" / name / "results.json").is_file():
            runner.forget(f"eval-{name}")
    if runner.done("eval-baselines") is not None and not (out / "eval" / stages.BASELINES_RUN / "results.json").is_file():
        runner.forget("eval-baselines")
