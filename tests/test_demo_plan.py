"""The demo's plan: claims get pretraining seeds, the ablation is `facessl ablate`'s, not the demo's."""
import argparse

from facessl.commands import demo
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
    monkeypatch.setattr(demo, "write_report", lambda *a: None)
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    assert "--no-ablation" not in parser.format_help()
    demo.run(parser.parse_args(["--scale", "small", "--out", str(tmp_path / "d"), "--quiet"]))
    assert not any("ablation" in s for s in stages)
    assert stages == ["data", "preview", "pretrain-simclr", "pretrain-simclr_seed1", "pretrain-pcl",
                      "pretrain-pcl_seed1", "pretrain-fabnet", "eval-simclr", "eval-simclr_seed1", "eval-pcl",
                      "eval-pcl_seed1", "eval-fabnet", "analysis"]


def test_ablation_reuses_the_demos_pcl_runs_at_the_same_budget():
    plan = get_plan("small")
    assert plan.ablation_steps == plan.steps
    assert run_name("+dwa", 0, plan, 0) == "pcl" and run_name("+dwa", 1, plan, 0) == "pcl_seed1"
    assert run_name("simclr", 1, plan, 0) == "ablation/simclr_seed1"
