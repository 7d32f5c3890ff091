"""`facessl study`: its settings, and the table, verdicts and report built from saved evaluations."""
import json

import pytest

from facessl.cli import main
from facessl.errors import FacesslError
from facessl.study.plan import load_plan
from facessl.study.report import verdicts, write_report


def plan_file(tmp_path, **extra):
    (tmp_path / "photos").mkdir(exist_ok=True)
    (tmp_path / "legend.csv").write_text("image,label\n")
    lines = [f"photos: {tmp_path / 'photos'}", f"labels: {tmp_path / 'legend.csv'}"] + [f"{k}: {v}" for k, v in extra.items()]
    (tmp_path / "study.yaml").write_text("\n".join(lines) + "\n")
    return tmp_path / "study.yaml"


def test_plan_overrides_and_unknown_keys(tmp_path):
    path = plan_file(tmp_path, seeds="[0, 1]")
    plan = load_plan(path, ["seeds=[3]", "budget_minutes=2.5"])
    assert plan.seeds == [3] and plan.budget_minutes == 2.5 and plan.methods == ["simclr", "pcl", "fabnet"]
    from facessl.study.stages import options

    assert options(plan, True).size == plan.size == 64  # probes at the pretraining size unless eval_size says
    assert options(load_plan(path, ["eval_size=96"]), True).size == 96
    with pytest.raises(FacesslError, match="unknown key 'budget_minute' \\(did you mean 'budget_minutes'\\?\\)"):
        load_plan(path, ["budget_minute=3"])
    with pytest.raises(FacesslError, match="unknown method 'moco'"):
        load_plan(path, ["methods=[moco]"])
    with pytest.raises(FacesslError, match="labels '/nope.csv' does not exist"):
        load_plan(path, ["labels=/nope.csv"])
    with pytest.raises(FacesslError, match="eval_size must be a whole number of pixels"):
        load_plan(path, ["eval_size=4"])
    with pytest.raises(FacesslError, match="min_class_count must be a whole number >= 0"):
        load_plan(path, ["min_class_count=-3"])


def per_seed(*values):
    return {"per_seed": [v / 100 for v in values], "mean": sum(values) / len(values) / 100}


def fake_results(mca, with_baselines):
    metrics = lambda values: {"metrics": {m: per_seed(*values) for m in ("accuracy", "mean_class_accuracy", "macro_f1")}}
    rows = {"checkpoint": {"fs": metrics(mca)}}
    if with_baselines:
        rows.update(random={"fs": metrics([20, 21, 22])}, supervised={"fs": metrics([40])},
                    floor={"majority class": metrics([12.5])})
    return {"tasks": [{"name": "real expressions", "task": "classification", "rows": rows}]}


@pytest.mark.parametrize("baselines_in", ["their own stage", "the first run's evaluation (older studies)"])
def test_report_table_and_verdicts(tmp_path, baselines_in):
    plan = load_plan(plan_file(tmp_path), ["methods=[simclr, pcl]", "seeds=[0, 1]", "budget_minutes=1",
                                           "min_class_count=50", "eval_size=96"])
    out = tmp_path / "study"
    own_stage = baselines_in == "their own stage"
    scores = {("simclr", 0): [30, 31, 29], ("simclr", 1): [28, 30, 29], ("pcl", 0): [21, 25, 23], ("pcl", 1): [22, 20, 24]}
    for (method, seed), values in scores.items():
        path = out / "eval" / f"{method}_seed{seed}" / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(fake_results(values, not own_stage and (method, seed) == ("simclr", 0))))
    if own_stage:
        results = fake_results([0], True)
        del results["tasks"][0]["rows"]["checkpoint"]
        (out / "eval" / "baselines").mkdir()
        (out / "eval" / "baselines" / "results.json").write_text(json.dumps(results))
    data_info = {"pretrain_photos": 10, "counts": {"train": {"a": 8}, "test": {"a": 2}}, "split": "toy split",
                 "left_out_classes": {"contempt": 9, "fear": 21},
                 "budget": {"simclr": {"steps": 60, "seconds_per_step": 1.0}, "pcl": {"steps": 20, "seconds_per_step": 3.0}}}
    timings = {"pretrain-simclr_seed0": 60.0, "pretrain-simclr_seed1": 62.0, "pretrain-pcl_seed0": 61.0}
    verdict = write_report(out, plan, data_info, timings, ["FAb-Net: no clips"])
    assert verdict["SimCLR"]["beyond_spread"] and verdict["SimCLR"]["target_met"]
    assert verdict["SimCLR"]["gain"] == pytest.approx(29.5 - 21)
    assert not verdict["PCL (F_s)"]["beyond_spread"] and not verdict["PCL (F_s)"]["target_met"]
    md = (out / "report.md").read_text()
    assert "| SimCLR | 29.50 ± 0.96 |" in md and "| Floor (majority class) | 12.50 |" in md
    assert "FAb-Net: no clips" in md and "SimCLR 60 at 1.00 s/step" in md and (out / "report.html").is_file()
    assert "class-balanced cross-entropy" in md  # the study's default protocol is named
    assert "left out (fewer than 50 images): contempt (9), fear (21)" in md and "probes: 96 px input" in md
    assert json.loads((out / "results" / "tables.json").read_text())["verdicts"]["SimCLR"]["target_met"]


def test_verdicts_need_the_random_row():
    assert verdicts({"SimCLR": {"method": "simclr", "mean_class_accuracy": [30.0]}}) == {}


def test_study_cli_rejects_bad_override(tmp_path, capsys):
    assert main(["study", "--config", str(plan_file(tmp_path)), "--out", str(tmp_path / "o"), "steps"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_study_runs_the_baselines_beside_the_pretraining_two_at_a_time(tmp_path, monkeypatch):
    from facessl.commands import study

    calls = []
    monkeypatch.setattr(study.StageRunner, "run", lambda self, name, fn, *a, **k: calls.append(([name], 1)) or {})
    monkeypatch.setattr(study.StageRunner, "run_parallel", lambda self, jobs, workers: calls.append(
        ([j[0] for j in jobs], workers)) or {j[0]: {"steps": 5, "seconds_per_step": 1.0} for j in jobs})
    monkeypatch.setattr(study, "write_report", lambda *a: {})
    monkeypatch.setattr(study, "default_workers", lambda: 2)
    main(["study", "--config", str(plan_file(tmp_path)), "--out", str(tmp_path / "o"), "methods=[simclr, pcl]",
          "seeds=[0]"])
    assert calls == [(["data"], 1), (["budget-simclr", "budget-pcl"], 2),
                     (["eval-baselines", "pretrain-simclr_seed0", "pretrain-pcl_seed0"], 2),
                     (["eval-simclr_seed0", "eval-pcl_seed0"], 2)]


def test_a_rerun_with_every_run_trained_puts_the_baselines_beside_the_evaluations(tmp_path, monkeypatch):
    from facessl.commands import study

    calls = []
    monkeypatch.setattr(study.StageRunner, "done", lambda self, name: {"seconds": 1.0} if name.startswith("pretrain-") else None)
    monkeypatch.setattr(study.StageRunner, "run", lambda self, name, fn, *a, **k: {})
    monkeypatch.setattr(study.StageRunner, "run_parallel", lambda self, jobs, workers: calls.append(
        [j[0] for j in jobs]) or {j[0]: {"steps": 5, "seconds_per_step": 1.0} for j in jobs})
    monkeypatch.setattr(study, "write_report", lambda *a: {})
    main(["study", "--config", str(plan_file(tmp_path)), "--out", str(tmp_path / "o"), "methods=[simclr]", "seeds=[0]"])
    assert calls[1:] == [["pretrain-simclr_seed0"], ["eval-baselines", "eval-simclr_seed0"]]
