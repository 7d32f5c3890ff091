"""The demo's last stages: the analysis (disentanglement, swap test, retrieval, figures) and the report."""
from __future__ import annotations

import json
from pathlib import Path

from facessl.demo import figures as fig
from facessl.demo import pipeline
from facessl.demo.plan import DemoPlan
from facessl.engine.io import write_json_atomic

RUNS = {"SimCLR": "simclr", "PCL": "pcl", "FAb-Net": "fabnet"}

DEMO_TITLE = "facessl demo: PCL, SimCLR and FAb-Net on the embedded data"


def analysis_stage(out: Path, plan: DemoPlan) -> dict:
    """Figures and analysis numbers on held-out identities; results/analysis.json."""
    from facessl.viz.curves import training_curves

    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    runs = {label: out / "runs" / run for label, run in RUNS.items() if (out / "runs" / run).is_dir()}
    training_curves(runs, figures / "curves.png")
    test = fig.labelled_faces(out / "data", "test")
    train = fig.labelled_faces(out / "data", "train")
    test_feats = fig.features_of(out, RUNS, test, plan.size)  # the size the encoders were trained at
    train_feats = fig.features_of(out, RUNS, train, plan.size)
    result = {"tsne": fig.tsne_figures(figures, test_feats, test)}
    if "pcl" in plan.methods:
        result["pcl"] = fig.pcl_figures(out, figures, test, plan.size)
    result["fabnet"] = fig.fabnet_figures(out, figures, test, test_feats, plan.size)
    result["disentanglement"] = fig.disentanglement(figures, train_feats, test_feats, train, test)
    write_json_atomic(out / "results" / "analysis.json", result)
    return {"figures": sorted(p.name for p in figures.glob("*.png"))}


def main_rows(out: Path, plan: DemoPlan) -> tuple[dict, dict]:
    """Main table rows (random, methods, supervised) and PCL's feature-choice rows; a method with
    several pretraining seeds is pooled over them (pipeline.pooled_rows)."""
    main, features = {}, {}
    for i, method in enumerate(plan.methods):
        results = [r for r in (pipeline.read_results(out, name) for name in pipeline.seed_runs(plan, method)) if r]
        if not results:
            continue
        main[method] = pipeline.pooled_rows(results, "checkpoint", "fs")
        if i == 0:  # a demo directory written before the baselines had their own stage: the first run's
            main["random"] = pipeline.pooled_rows(results[:1], "random")
            main["supervised"] = pipeline.pooled_rows(results[:1], "supervised")
        if method == "pcl":
            for choice in ("ff", "fp", "fs", "ff+fp"):
                features[choice] = pipeline.pooled_rows(results, "checkpoint", choice, strict=True)
    baselines = pipeline.read_results(out, pipeline.BASELINES_RUN)
    if baselines:
        main["random"] = pipeline.pooled_rows([baselines], "random")
        main["supervised"] = pipeline.pooled_rows([baselines], "supervised")
    return {k: v for k, v in main.items() if v}, features


def notes(plan: DemoPlan) -> dict:
    seeds = f"{plan.pretrain_seeds} pretraining seeds x {plan.eval_seeds} probe seeds"
    inits = (f"random weights: over {plan.random_inits} initialisations x {plan.eval_seeds} probe seeds; FAb-Net: over "
             if plan.random_inits > 1 else "random weights and FAb-Net: over ")
    return {"main": f"SimCLR and PCL rows: mean ± std over {seeds}; {inits}"
                    f"{plan.eval_seeds} probe seeds (verification has no probe: its spread is the pretraining seeds' "
                    "or the initialisations'; the std over its 10 test folds is in tables.json as "
                    "lfw/accuracy_fold_std). "
                    f"Supervised: one run, early stopping on a validation split, {supervised_lr_text(plan)}; "
                    f"LFW's and CPLFW's an identity classifier trained on the pretraining frames' identities (at most "
                    f"{plan.identity_epochs} epoch{'s' * (plan.identity_epochs != 1)}, the epoch chosen by verification "
                    f"AUC on held-out identities). "
                    f"Probes and supervised rows read "
                    f"{probe_sizes_text(plan)}.",
            "feature_choice": f"Mean ± std over {seeds}.",
            "ablation": "From `facessl ablate` (mean ± std over its pretraining seeds)."}


def supervised_lr_text(plan: DemoPlan) -> str:
    """'Adam at 0.003 for landmarks and 0.001 for the other tasks': the supervised rows' learning rates."""
    rates = dict(plan.supervised_lrs)
    rest = rates.pop("other tasks")
    own = ", ".join(f"{rate:g} for {task}" for task, rate in rates.items())
    return f"Adam at {own} and {rest:g} for the other tasks" if own else f"Adam at {rest:g}"


def pretraining_precision(out: Path) -> str:
    """The precision the pretraining stages ran in ('bf16', 'fp32', 'bf16 and fp32'), from their stage records;
    '' for runs recorded before the trainer reported it. It changes the numbers, so the report says it."""
    found = set()
    for path in sorted((out / "stages").glob("pretrain-*.json")):
        result = json.loads(path.read_text()).get("result")
        found.add(result.get("precision") if isinstance(result, dict) else None)
    return _joined(found)


def supervised_precision(out: Path) -> str:
    """The precision the supervised rows trained in ('bf16', 'fp32', ...), from eval/baselines; '' before facessl
    recorded it."""
    results = pipeline.read_results(out, pipeline.BASELINES_RUN) or {"tasks": []}
    found = {entry.get("precision") for task in results["tasks"]
             for entry in task.get("rows", {}).get("supervised", {}).values() if isinstance(entry, dict)}
    return _joined(found)


def _joined(precisions: set) -> str:
    """'bf16', 'fp32', 'bf16 and fp32'; '' when none was recorded."""
    return " and ".join(sorted(p for p in precisions if p))


def probe_sizes_text(plan: DemoPlan) -> str:
    """Which input size each column's probes (and its supervised row) read."""
    own = ", ".join(f"{name} at {size} px" for name, size in plan.probe_sizes.items() if size != plan.size)
    return f"input {plan.size} px" + (f" ({own}, as the reference probes each task at its own size)" if own else "")


def ablation_text(with_ablation: bool) -> str:
    if with_ablation:
        return ("The PCL ablation is not part of the demo; `facessl ablate --out <this directory>` has run it here and "
                "added its table and its verdict.")
    return ("The PCL ablation is not part of the demo: `facessl ablate --out <this directory>` runs it "
            "and adds its table and its verdict here.")


def summary_text(out: Path, plan: DemoPlan, with_ablation: bool) -> str:
    """The report's opening paragraphs; `with_ablation`: `facessl ablate` has added its table to this directory."""
    analysis = json.loads((out / "results" / "analysis.json").read_text())
    lines = [f"Scale: backbone `{plan.backbone}` (width {plan.width:g}) at {plan.size} px, {plan.steps} steps of batch "
             f"{plan.batch_size} per method ({plan.pretrain_seeds} pretraining seeds for "
             f"{' and '.join(plan.seeded_methods)}), synthetic data preset `{plan.data_scale}`; probes: "
             f"{plan.eval_seeds} seeds, selection on a validation split of the training data (never the test set), "
             f"{probe_sizes_text(plan)}. " + ablation_text(with_ablation)]
    precision = pretraining_precision(out)
    if precision:
        stem = "; the stem, the convolution that reads the image, computes in fp32" if precision != "fp32" else ""
        lines[0] += (f" Pretraining precision: {precision} (as `train.precision` resolved on this hardware; `auto` picks bf16 "
                     f"where it is native{stem}).")
    trained_in = supervised_precision(out)
    if trained_in:
        lines[0] += (f" Supervised rows: {trained_in.replace('bf16', 'bf16 autocast')} (`--supervised-precision "
                     f"{plan.supervised_precision}`).")
    swap = analysis.get("pcl", {}).get("swap_test")
    if swap:
        lines.append(f"PCL swap test (held-out faces, mean L1): D(F_f(s), F_p(ŝ)) is {swap['fp_swap_to_target']:.4f} from ŝ "
                     f"and {swap['fp_swap_to_source']:.4f} from s; D(F_f(ŝ), F_p(s)) is {swap['ff_swap_to_target']:.4f} "
                     f"from s and {swap['ff_swap_to_source']:.4f} from ŝ.")
    ret = analysis.get("fabnet", {}).get("retrieval")
    if ret:
        lines.append(f"FAb-Net retrieval: mean |yaw difference| of the top-5 cross-identity neighbours "
                     f"{ret['neighbour_yaw_error']:.1f}° vs {ret['random_yaw_error']:.1f}° for random pairs.")
    held = analysis.get("fabnet", {}).get("heldout_photometric")
    if held:
        lines.append(f"FAb-Net on {held['identities']} held-out identities' tracks (mean L1, warped source vs target, "
                     f"against copying the source): consecutive frames as stored {held['as_is']['model_l1']:.4f} vs "
                     f"{held['as_is']['copy_l1']:.4f}; re-cropped like the training tuples "
                     f"{held['jittered']['model_l1']:.4f} vs {held['jittered']['copy_l1']:.4f}.")
    return "\n\n".join(lines)


def write_report(out: Path, plan: DemoPlan, timings: dict) -> None:
    from facessl.commands.report import report_sections
    from facessl.demo.ablation import ablation_rows
    from facessl.demo.verdicts import paper_claims, targets
    from facessl.report import build_report
    from facessl.report.hardware import hardware_info

    main, features = main_rows(out, plan)
    analysis = json.loads((out / "results" / "analysis.json").read_text())
    tables = {"main": main, "feature_choice": features, "disentanglement": analysis.get("disentanglement", {}),
              "units": "percent", "notes": notes(plan)}
    ablation = ablation_rows(out) if (out / "results" / "ablation_runs.json").is_file() else None
    if ablation:  # written by `facessl ablate --out <this directory>`
        tables["ablation"] = ablation
    # strict: a NaN cell (a probe that diverged) as the string "NaN", valid JSON that the report still shows as such
    write_json_atomic(out / "results" / "tables.json", tables, strict=True)
    write_json_atomic(out / "results" / "verdicts.json", paper_claims(main, features, ablation, analysis), strict=True)
    write_json_atomic(out / "results" / "targets.json", targets(main), strict=True)
    write_json_atomic(out / "hardware.json", hardware_info())
    write_json_atomic(out / "timings.json", timings)
    (out / "summary.md").write_text(summary_text(out, plan, with_ablation=bool(ablation)) + "\n")
    sections, intro = report_sections(out)
    build_report(out, sections, title=DEMO_TITLE, intro=intro)
