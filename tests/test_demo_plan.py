"""The demo's plan: claims get pretraining seeds, the ablation is `facessl ablate`'s, not the demo's."""
import argparse
import json
import os

import pytest
import torch

from facessl.commands import demo
from facessl.demo.stages import StageRunner
from facessl.errors import FacesslError
from facessl.demo import pipeline
from facessl.demo.ablation import run_name
from facessl.demo.plan import get_plan


def test_claimed_methods_get_two_pretraining_seeds():
    plan = get_plan("small")
    assert pipeline.seed_runs(plan, "simclr") == ["simclr", "simclr_seed1"]
    assert pipeline.seed_runs(plan, "pcl") == ["pcl", "pcl_seed1"]
    assert pipeline.seed_runs(plan, "fabnet") == ["fabnet"]


def test_demo_has_no_ablation_stage_and_no_ablation_flag(monkeypatch, tmp_path):
    stages = []
    monkeypatch.setattr(demo.StageRunner, "run", lambda self, name, fn, *a, **k: stages.append(name))
    monkeypatch.setattr(demo.StageRunner, "run_parallel", lambda self, jobs, workers: stages.extend(j[0] for j in jobs))
    monkeypatch.setattr(demo, "write_report", lambda *a: None)
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    assert "--no-ablation" not in parser.format_help()
    demo.run(parser.parse_args(["--scale", "small", "--out", str(tmp_path / "d"), "--quiet"]))
    assert not any("ablation" in s for s in stages)
    # one group side by side, the longest road first (a PCL step costs ~5x a SimCLR step); the baselines beside
    # the runs, each evaluation after its own run
    assert stages == ["data", "preview", "pretrain-pcl", "pretrain-pcl_seed1", "eval-baselines", "pretrain-fabnet",
                      "pretrain-simclr", "pretrain-simclr_seed1", "eval-pcl", "eval-pcl_seed1",
                      "eval-simclr", "eval-simclr_seed1", "eval-fabnet", "analysis"]


def test_each_evaluation_and_the_analysis_wait_for_their_own_runs_only(monkeypatch, tmp_path):
    groups = []
    monkeypatch.setattr(demo.StageRunner, "run", lambda self, name, fn, *a, **k: None)
    monkeypatch.setattr(demo.StageRunner, "run_parallel", lambda self, jobs, workers: groups.append(jobs))
    monkeypatch.setattr(demo, "write_report", lambda *a: None)
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    demo.run(parser.parse_args(["--scale", "small", "--out", str(tmp_path / "d"), "--quiet"]))
    (jobs,) = groups
    needs = {job[0]: tuple(job[4]) if len(job) > 4 else () for job in jobs}
    assert needs["eval-baselines"] == () and all(needs[n] == () for n in needs if n.startswith("pretrain-"))
    # the analysis figures each method's first run: it waits for those three runs and no evaluation
    assert {n: w for n, w in needs.items() if w} == {
        **{f"eval-{r}": (f"pretrain-{r}",) for r in ("pcl", "pcl_seed1", "simclr", "simclr_seed1", "fabnet")},
        "analysis": ("pretrain-simclr", "pretrain-pcl", "pretrain-fabnet")}


def test_a_stage_starts_once_the_stages_it_needs_are_done(tmp_path):
    import time

    t0 = time.time()
    # 'later' needs 'slow'; 'free' needs nothing: the worker that finishes 'quick' takes 'free' without waiting
    jobs = [("slow", time.sleep, (1.5,), {}), ("later", time.time, (), {}, ("slow",)), ("quick", time.sleep, (0.1,), {}),
            ("free", time.time, (), {})]
    results = StageRunner(tmp_path, 4).run_parallel(jobs, workers=2)
    assert results["later"] >= t0 + 1.5 and results["free"] < results["later"]
    # one at a time, the list's order gives way to what a job needs
    serial = StageRunner(tmp_path / "serial", 2).run_parallel([("b", time.time, (), {}, ("a",)), ("a", time.time, (), {})],
                                                              workers=1)
    assert serial["a"] <= serial["b"]
    # a stage recorded by an earlier group counts as done; one that is nowhere is an error
    again = StageRunner(tmp_path / "serial", 1).run_parallel([("c", time.time, (), {}, ("a",))], workers=2)
    assert again["c"] >= serial["b"]
    with pytest.raises(FacesslError, match="'nowhere' is needed by a job"):
        StageRunner(tmp_path, 1).run_parallel([("d", time.time, (), {}, ("nowhere",))], workers=2)


def test_a_stage_whose_need_failed_is_not_started(tmp_path):
    jobs = [("bad", get_plan, ("huge",), {}), ("needs-bad", torch.get_num_threads, (), {}, ("bad",)),
            ("good", torch.get_num_threads, (), {})]
    with pytest.raises(FacesslError, match="unknown --scale 'huge'"):
        StageRunner(tmp_path, 3).run_parallel(jobs, workers=2)
    assert (tmp_path / "stages" / "good.json").is_file()
    assert not (tmp_path / "stages" / "needs-bad.json").exists()


def test_ablation_reuses_the_demos_pcl_runs_at_the_same_budget():
    plan = get_plan("small")
    assert plan.ablation_steps == plan.steps
    assert run_name("+dwa", 0, plan, 0) == "pcl" and run_name("+dwa", 1, plan, 0) == "pcl_seed1"
    assert run_name("simclr", 1, plan, 0) == "ablation/simclr_seed1"


def test_parallel_stages_run_in_worker_processes_with_their_share_of_threads(tmp_path, capsys):
    stages = StageRunner(tmp_path, 3)
    jobs = [(name, torch.get_num_threads, (), {}) for name in ("a", "b", "c")]
    results = stages.run_parallel(jobs, workers=2)
    share = max(1, (os.cpu_count() or 1) // 2)
    assert results == {"a": share, "b": share, "c": share}
    assert json.loads((tmp_path / "stages" / "b.json").read_text())["result"] == share
    # a rerun skips every finished stage (nothing is started: the results are the saved ones)
    again = StageRunner(tmp_path, 3).run_parallel([(n, _never_called, (), {}) for n in ("a", "b", "c")], workers=2)
    assert again == results
    assert "done earlier" in capsys.readouterr().err


def test_a_failing_parallel_stage_is_raised_after_the_others_are_recorded(tmp_path):
    from facessl.demo.plan import get_plan

    jobs = [("bad", get_plan, ("huge",), {}), ("good", torch.get_num_threads, (), {})]
    with pytest.raises(FacesslError, match="unknown --scale 'huge'"):
        StageRunner(tmp_path, 2).run_parallel(jobs, workers=2)
    assert (tmp_path / "stages" / "good.json").is_file() and not (tmp_path / "stages" / "bad.json").exists()


def _never_called():
    raise AssertionError("a finished stage ran again")


def test_ablation_runs_its_missing_rows_side_by_side(tmp_path, monkeypatch):
    from dataclasses import replace

    from facessl.demo import ablation

    plan = replace(get_plan("small"), ablation_seeds=2)
    done = {"pcl", "ablation/simclr_seed0"}  # evaluated already on every ablation task: not run again
    complete = {"tasks": [{"name": task} for task in ablation.TASKS]}
    older = {"tasks": [{"name": "RAF-DB"}]}  # evaluated before LFW and AFLW2000 joined the ablation: evaluated again
    monkeypatch.setattr(ablation.pipeline, "read_results",
                        lambda out, name: complete if name in done else older if name == "ablation/l_dis_seed1" else None)
    (tmp_path / "stages").mkdir()
    for stage in ("run-ablation-simclr_seed0", "run-ablation-l_dis_seed1"):  # their stage records
        (tmp_path / "stages" / f"{stage}.json").write_text('{"seconds": 1}')
    calls = []
    monkeypatch.setattr(StageRunner, "run_parallel", lambda self, jobs, workers: calls.append((jobs, workers)))
    runs = ablation.run_ablation(tmp_path, plan, 0, quiet=False, workers=2)
    # the older run's record is dropped, or its stage would be skipped as done; the complete one's is kept
    assert sorted(p.name for p in (tmp_path / "stages").iterdir()) == ["run-ablation-simclr_seed0.json"]
    (jobs, workers), = calls
    assert workers == 2 and [j[0] for j in jobs] == [
        "run-ablation-l_dis_seed0", "run-ablation-l_orth_seed0", "run-ablation-l_pose_seed0",
        "run-ablation-simclr_seed1", "run-ablation-l_dis_seed1", "run-ablation-l_orth_seed1",
        "run-ablation-l_pose_seed1", "run-pcl_seed1"]
    assert all(j[1] is ablation.ablation_run and j[2][-1] is True for j in jobs)  # quiet in worker processes
    assert runs["+dwa"] == ["pcl", "pcl_seed1"] and runs["simclr"] == ["ablation/simclr_seed0", "ablation/simclr_seed1"]


def test_the_demos_pcl_runs_and_its_ablation_rows_use_the_simclr_face_views(tmp_path):
    plan = get_plan("small")
    assert pipeline.pretrain_config("pcl", plan, tmp_path, 0).method.face_views == "simclr"
    ablation_row = pipeline.pretrain_config("pcl", plan, tmp_path, 0, extra=["method.use_pose=false"])
    assert ablation_row.method.face_views == "simclr" and not ablation_row.method.use_pose
    assert pipeline.pretrain_config("pcl", get_plan("paper"), tmp_path, 0).method.face_views == "distance_crop"


def test_the_demos_simclr_crops_and_pcls_face_views_are_the_same_recipe(tmp_path):
    plan = get_plan("small")
    simclr = pipeline.pretrain_config("simclr", plan, tmp_path, 0).method
    pcl = pipeline.pretrain_config("pcl", plan, tmp_path, 0).method
    assert (simclr.crop_min_scale, simclr.crop_max_aspect, simclr.colour_strength) == (0.5, 1.0, 0.5)
    assert (pcl.face_crop_min_scale, pcl.face_crop_max_aspect, pcl.face_colour_strength) == (0.5, 1.0, 0.5)
    paper = pipeline.pretrain_config("simclr", get_plan("paper"), tmp_path, 0).method
    assert (paper.crop_min_scale, paper.crop_max_aspect) == (0.2, 4 / 3)  # SimCLR's own crops


def test_the_demo_verifies_on_features_centred_on_the_threshold_folds():
    assert pipeline.eval_options(get_plan("small"), quiet=True).verification_center


def test_the_report_names_the_precision_the_pretraining_stages_recorded(tmp_path):
    from facessl.demo.report import pretraining_precision
    stages = tmp_path / "stages"
    stages.mkdir()
    assert pretraining_precision(tmp_path) == ""  # nothing recorded yet
    records = {"pretrain-pcl": {"precision": "bf16"}, "pretrain-simclr": {"step": 4},  # recorded before precision was
               "pretrain-fabnet": None, "eval-pcl": {"precision": "fp32"}}             # not a pretraining stage
    for name, result in records.items():
        (stages / f"{name}.json").write_text(json.dumps({"seconds": 1.0, "result": result}))
    assert pretraining_precision(tmp_path) == "bf16"
    (stages / "pretrain-simclr.json").write_text(json.dumps({"seconds": 1.0, "result": {"precision": "fp32"}}))
    assert pretraining_precision(tmp_path) == "bf16 and fp32"


def test_the_demo_pretrains_in_bf16_only_where_the_cpu_computes_it_natively(tmp_path):
    """Every plan leaves train.precision at auto (session 27: the pinned fp32 of sessions 19-26 cost PCL 1.47x its
    bf16 time on an AVX-512 BF16 CPU, and the validation build showed the precisions level); auto resolves to bf16
    only where oneDNN computes bf16 natively, so an AVX2 machine keeps fp32."""
    from facessl.engine.runtime import resolve_precision

    for scale in ("tiny", "small", "paper"):
        for method in ("simclr", "pcl", "fabnet"):
            assert pipeline.pretrain_config(method, get_plan(scale), tmp_path, seed=0).train.precision == "auto"
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32")
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"


def test_precision_replaces_the_plans_and_a_directory_keeps_the_one_it_was_made_with(tmp_path):
    from facessl.demo.plan import check_made_with

    assert get_plan("small", "fp32").precision == "fp32" and get_plan("small").precision == "auto"
    assert get_plan("small", "fp32").steps == get_plan("small").steps  # nothing else changes
    assert pipeline.pretrain_config("pcl", get_plan("small", "fp32"), tmp_path, seed=0).train.precision == "fp32"
    with pytest.raises(FacesslError, match="precision 'half'"):
        get_plan("small", "half")
    check_made_with(tmp_path, get_plan("tiny"), seed=0)
    with pytest.raises(FacesslError, match="precision: 'auto' there, 'fp32' now"):
        check_made_with(tmp_path, get_plan("tiny", "fp32"), seed=0)


def test_a_demo_directory_is_reused_only_with_the_plan_it_was_made_with(tmp_path):
    import dataclasses

    from facessl.demo.plan import check_made_with

    out, plan = tmp_path / "demo", get_plan("tiny")
    check_made_with(out, plan, seed=0)  # the first run records its plan
    check_made_with(out, plan, seed=0)
    check_made_with(out, dataclasses.replace(plan, ablation_seeds=3, ablation_steps=9), seed=0)  # `ablate --seeds/--steps`
    newer = dataclasses.replace(plan, probe_sizes={"RAF-DB": 64})
    with pytest.raises(FacesslError, match=r"another demo plan \(probe_sizes: \{'RAF-DB': 48\} there, "
                                           r"\{'RAF-DB': 64\} now\); run into a new --out"):
        check_made_with(out, newer, seed=0)
    with pytest.raises(FacesslError, match=r"\(seed: 0 there, 1 now\)"):
        check_made_with(out, plan, seed=1)
    older = tmp_path / "older"  # stages of a facessl that did not record its plan
    (older / "stages").mkdir(parents=True)
    (older / "stages" / "data.json").write_text("{}")
    with pytest.raises(FacesslError, match="did not record its plan"):
        check_made_with(older, plan, seed=0)


def test_demo_refuses_a_directory_made_with_another_scale(tmp_path, capsys):
    from facessl.cli import main
    from facessl.demo.plan import check_made_with

    check_made_with(tmp_path / "d", get_plan("small"), seed=0)
    assert main(["demo", "--scale", "tiny", "--out", str(tmp_path / "d"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "made with another demo plan" in err and len(err.splitlines()) == 1


def test_a_demo_directory_whose_random_row_was_drawn_the_old_way_is_refused(tmp_path):
    """Before session 24 the random row was a copy re-initialised with PyTorch's default init; its plan.json has no
    random_init, and its stages must not be reported as 'the architecture as its config builds it'."""
    import json

    from facessl.demo.plan import check_made_with

    out, plan = tmp_path / "demo", get_plan("tiny")
    check_made_with(out, plan, seed=0)
    record = json.loads((out / "plan.json").read_text())
    assert record["random_init"] == "architecture"
    del record["random_init"]
    (out / "plan.json").write_text(json.dumps(record))
    with pytest.raises(FacesslError, match=r"\(random_init: None there, 'architecture' now\)"):
        check_made_with(out, plan, seed=0)


def test_the_plan_records_the_supervised_learning_rates_the_evaluation_uses(tmp_path):
    import json

    from facessl.demo.plan import check_made_with
    from facessl.evaluate.baselines import DEFAULT_SUPERVISED_LR, SUPERVISED_LR

    for scale in ("tiny", "small", "paper"):
        assert get_plan(scale).supervised_lrs == {**SUPERVISED_LR, "other tasks": DEFAULT_SUPERVISED_LR}
    out = tmp_path / "demo"
    check_made_with(out, get_plan("tiny"), seed=0)
    record = json.loads((out / "plan.json").read_text())
    del record["supervised_lrs"]  # a directory made before session 25: its landmark rows trained at 1e-3
    (out / "plan.json").write_text(json.dumps(record))
    with pytest.raises(FacesslError, match=r"\(supervised_lrs: None there"):
        check_made_with(out, get_plan("tiny"), seed=0)


def test_the_tables_hold_every_accuracy_and_f1_in_percent():
    """tables.json says "units": "percent": RAF-DB's macro F1 was left a fraction (0.107 beside 31.6 %)."""
    from facessl.demo.pipeline import rows_from_results

    metric = lambda v: {"mean": v, "per_seed": [v, v]}
    results = {"tasks": [{"name": "RAF-DB", "task": "expression", "rows": {"checkpoint": {"fs": {"metrics": {
        "accuracy": metric(0.316), "mean_class_accuracy": metric(0.25), "macro_f1": metric(0.107)}}}}}]}
    rows = rows_from_results(results)
    assert rows["rafdb/accuracy"][0] == pytest.approx(31.6) and rows["rafdb/macro_f1"][0] == pytest.approx(10.7)
