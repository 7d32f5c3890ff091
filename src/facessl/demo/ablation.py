"""The PCL ablation of the paper's table: SimCLR -> + L_dis -> + L_orth -> + L_pose -> + DWA.

Each step is a PCL run with the switches of that row (one config key each), the same backbone,
budget and seed, evaluated by a linear probe on RAF-DB-format expression data (the paper's column).
"""
from __future__ import annotations

from pathlib import Path

from facessl.demo import pipeline
from facessl.demo.plan import DemoPlan

STEPS = {  # row key (facessl.report.tables.ABLATION_STEPS) -> switches
    "simclr": dict(use_dis=False, use_orth=False, use_pose=False, use_dwa=False),
    "+l_dis": dict(use_dis=True, use_orth=False, use_pose=False, use_dwa=False),
    "+l_orth": dict(use_dis=True, use_orth=True, use_pose=False, use_dwa=False),
    "+l_pose": dict(use_dis=True, use_orth=True, use_pose=True, use_dwa=False),
    "+dwa": dict(use_dis=True, use_orth=True, use_pose=True, use_dwa=True),
}
TASKS = ("RAF-DB",)


def run_name(step: str, seed: int) -> str:
    return f"ablation/{step.lstrip('+')}_seed{seed}"


def run_ablation(out: Path, plan: DemoPlan, seed: int, quiet: bool, steps=tuple(STEPS)) -> dict:
    """Pretrain and evaluate every ablation row for plan.ablation_seeds seeds (each resumable)."""
    done = {}
    for s in range(seed, seed + plan.ablation_seeds):
        for step in steps:
            name = run_name(step, s)
            if pipeline.read_results(out, name) is None:
                extra = [f"method.{k}={str(v).lower()}" for k, v in STEPS[step].items()]
                pipeline.pretrain(out, plan, "pcl", s, quiet, run_name=name, steps=plan.ablation_steps, extra=extra)
                pipeline.evaluate_run(out, plan, name, quiet, features=["fs"], task_names=TASKS)
            done[name] = str(out / "eval" / name / "results.json")
    return done


def ablation_rows(out: Path) -> dict:
    """{step: {metric: [mean, std]}}: mean and std over ablation seeds of the probe accuracy."""
    import numpy as np

    rows = {}
    for step in STEPS:
        values = {}
        for path in sorted((out / "eval" / "ablation").glob(f"{step.lstrip('+')}_seed*/results.json")):
            name = f"ablation/{path.parent.name}"
            for metric, (mean, _std) in pipeline.rows_from_results(pipeline.read_results(out, name), "checkpoint", "fs").items():
                values.setdefault(metric, []).append(mean)
        if values:
            rows[step] = {m: [float(np.mean(v)), float(np.std(v)) if len(v) > 1 else None] for m, v in values.items()}
    return rows
