"""`facessl ablate`: the PCL ablation table (SimCLR -> + L_dis -> + L_orth -> + L_pose -> + DWA) and the
feature-choice table (F_f, F_p, F_s, F_f + F_p), with seeds, on the embedded data.

    facessl ablate [--scale tiny|small|paper] [--out DIR] [--seeds N] [--steps N] [--workers N]

Shares its directory layout with `facessl demo` (same --out reuses the data, the full PCL run and
every finished ablation run). The runs go two at a time on a CPU, one thread each, like the demo.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from facessl.commands.demo import add_precision_argument
from facessl.commands.options import non_negative_int, positive_int
from facessl.demo import pipeline
from facessl.demo.ablation import ablation_rows, run_ablation
from facessl.demo.plan import PLANS, check_made_with, get_plan
from facessl.demo.report import main_rows
from facessl.demo.stages import StageRunner, default_workers
from facessl.engine.io import non_finite_from_text, write_json_atomic, write_text_atomic
from facessl.report.markdown import table_markdown
from facessl.report.tables import ablation_table, feature_choice_table


def add_arguments(p) -> None:
    p.add_argument("--scale", default="small", choices=tuple(PLANS))
    p.add_argument("--out", default="demo", help="output directory (shared with `facessl demo`)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--seeds", type=positive_int, default=None, help="pretraining seeds per ablation row (default: the scale's)")
    p.add_argument("--steps", type=positive_int, default=None, help="pretraining steps per ablation run (default: the scale's)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="runs side by side, one process each (default: 2 on a CPU with 2+ cores, 1 on a GPU)")
    add_precision_argument(p)
    p.add_argument("--quiet", action="store_true")


def run(args) -> int:
    plan = get_plan(args.scale, args.precision)
    changes = {k: v for k, v in (("ablation_seeds", args.seeds), ("ablation_steps", args.steps)) if v}
    plan = dataclasses.replace(plan, **changes)
    out = Path(args.out)
    check_made_with(out, plan, args.seed)
    stages = StageRunner(out, 3)
    stages.run("data", pipeline.build_data, out, plan, args.seed, args.quiet)
    stages.run("pretrain-pcl", pipeline.pretrain, out, plan, "pcl", args.seed, args.quiet)
    stages.run("eval-pcl", pipeline.evaluate_run, out, plan, "pcl", args.quiet)
    workers = args.workers or default_workers()
    run_ablation(out, plan, args.seed, args.quiet, workers=workers)
    rows = ablation_rows(out)
    _, features = main_rows(out, dataclasses.replace(plan, methods=("pcl",)))
    write_json_atomic(out / "results" / "ablation.json", {"ablation": rows, "feature_choice": features})
    text = table_markdown(ablation_table(rows)) + "\n\n" + table_markdown(feature_choice_table(features)) + "\n"
    write_text_atomic(out / "results" / "ablation.md", text)
    print(text)
    if (out / "results" / "tables.json").is_file() and (out / "results" / "analysis.json").is_file():
        update_demo_report(out, rows, plan)
    return 0


def update_demo_report(out: Path, ablation: dict, plan) -> None:
    """In a `facessl demo` directory: the ablation joins tables.json, its claim's verdict is decided
    from it (verdicts.json), the summary says the ablation has run, and report.md / report.html are rebuilt."""
    import json

    from facessl.commands.report import report_sections
    from facessl.demo.report import DEMO_TITLE, summary_text
    from facessl.demo.verdicts import paper_claims
    from facessl.report import build_report

    tables = non_finite_from_text(json.loads((out / "results" / "tables.json").read_text()))  # "NaN" as a number
    analysis = json.loads((out / "results" / "analysis.json").read_text())
    tables["ablation"] = ablation
    write_json_atomic(out / "results" / "tables.json", tables, strict=True)  # as demo.report writes it
    write_json_atomic(out / "results" / "verdicts.json",
                      paper_claims(tables["main"], tables.get("feature_choice", {}), ablation, analysis), strict=True)
    write_text_atomic(out / "summary.md", summary_text(out, plan, with_ablation=True) + "\n")
    sections, intro = report_sections(out)
    build_report(out, sections, title=DEMO_TITLE, intro=intro)
    print(f"updated {out / 'report.html'} (ablation table and verdict)")
