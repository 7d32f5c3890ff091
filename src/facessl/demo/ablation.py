"""The PCL ablation of the paper's table: SimCLR -> + L_dis -> + L_orth -> + L_pose -> + DWA.

Each step is a PCL run with the switches of that row (one config key each), the same backbone,
budget and seed, evaluated by a linear probe on RAF-DB-format expression data (the paper's column, which
decides the ordering claim) and, to show what each loss does to identity and pose, on LFW (cosine
verification, no probe) and AFLW2000 (pose MAE).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from facessl.demo import pipeline
from facessl.demo.plan import DemoPlan
from facessl.engine.io import write_json_atomic

STEPS = {  # row key (facessl.report.tables.ABLATION_STEPS) -> switches
    "simclr": dict(use_dis=False, use_orth=False, use_pose=False, use_dwa=False),
    "+l_dis": dict(use_dis=True, use_orth=False, use_pose=False, use_dwa=False),
    "+l_orth": dict(use_dis=True, use_orth=True, use_pose=False, use_dwa=False),
    "+l_pose": dict(use_dis=True, use_orth=True, use_pose=True, use_dwa=False),
    "+dwa": dict(use_dis=True, use_orth=True, use_pose=True, use_dwa=True),
}
TASKS = ("RAF-DB", "LFW", "AFLW2000")  # RAF-DB is the paper's ablation column
DATASET_PREFIXES = tuple(f"{pipeline.DATASET_KEYS[task]}/" for task in TASKS)


def run_name(step: str, seed: int, plan: DemoPlan, main_seed: int) -> str:
    """The run of one ablation row; the full-PCL row of the main seed is the demo's own PCL run
    when the budgets match (same config, seed and steps: retraining it would give the same weights)."""
    if step == "+dwa" and seed - main_seed < plan.pretrain_seeds and plan.ablation_steps == plan.steps:
        return pipeline.run_name("pcl", seed - main_seed)
    return f"ablation/{step.lstrip('+')}_seed{seed}"


def ablation_run(out: Path, plan: DemoPlan, step: str, seed: int, name: str, quiet: bool) -> str:
    """Pretrain and evaluate one ablation row's run (a stage: module level, so a worker process can run it)."""
    extra = [f"method.{k}={str(v).lower()}" for k, v in STEPS[step].items()]
    pipeline.pretrain(out, plan, "pcl", seed, quiet, run_name=name, steps=plan.ablation_steps, extra=extra)
    return pipeline.evaluate_run(out, plan, name, quiet, features=["fs"], task_names=TASKS)


def covers_tasks(results: dict | None) -> bool:
    """Whether a run's evaluation has every ablation task (one from before a task joined TASKS is
    evaluated again; its pretraining is kept)."""
    return results is not None and set(TASKS) <= {task.get("name") for task in results.get("tasks", [])}


def run_ablation(out: Path, plan: DemoPlan, seed: int, quiet: bool, steps=tuple(STEPS), workers: int = 1) -> dict:
    """Pretrain and evaluate every ablation row for plan.ablation_seeds seeds, `workers` runs at a time
    (facessl.demo.stages; each resumable). Returns {row: [run names]} (also results/ablation_runs.json)."""
    from facessl.demo.stages import StageRunner

    runs, jobs = {step: [] for step in steps}, []
    for s in range(seed, seed + plan.ablation_seeds):
        for step in steps:
            name = run_name(step, s, plan, seed)
            if not covers_tasks(pipeline.read_results(out, name)):
                jobs.append((f"run-{name.replace('/', '-')}", ablation_run,
                             (out, plan, step, s, name, quiet or workers > 1), {}))
            runs[step].append(name)
    stages = StageRunner(out, len(jobs))
    for name, *_ in jobs:  # a run lacking results or a task: any record of its stage is out of date
        stages.forget(name)  # (a finished run's training resumes as done; only its evaluation runs)
    stages.run_parallel(jobs, workers)
    write_json_atomic(out / "results" / "ablation_runs.json", runs)
    return runs


def ablation_rows(out: Path) -> dict:
    """{row: {metric: [mean, std]}}: mean and std over the ablation seeds of each ablation task's metrics on F_s."""
    runs = json.loads((out / "results" / "ablation_runs.json").read_text())
    rows = {}
    for step, names in runs.items():
        values = {}
        for name in names:
            for metric, (mean, _std) in pipeline.rows_from_results(pipeline.read_results(out, name), "checkpoint", "fs").items():
                if metric.startswith(tuple(DATASET_PREFIXES)):
                    values.setdefault(metric, []).append(mean)
        if values:
            rows[step] = {m: [float(np.mean(v)), float(np.std(v)) if len(v) > 1 else None] for m, v in values.items()}
    return rows
