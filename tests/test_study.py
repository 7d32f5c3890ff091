"""`facessl study`: its settings, and the table, verdicts and report built from saved evaluations."""
import json
from pathlib import Path

import numpy as np
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
    assert options(plan, True).supervised_seeds == 1 and options(load_plan(path, ["supervised_seeds=3"]), True).supervised_seeds == 3
    with pytest.raises(FacesslError, match="supervised_seeds must be a whole number >= 1, got 0"):
        load_plan(path, ["supervised_seeds=0"])
    assert options(plan, True).random_inits == 1 and options(load_plan(path, ["random_inits=2"]), True).random_inits == 2
    with pytest.raises(FacesslError, match="random_inits must be a whole number >= 1, got 0"):
        load_plan(path, ["random_inits=0"])
    assert options(plan, True).supervised_precision == "auto"
    assert options(load_plan(path, ["supervised_precision=fp32"]), True).supervised_precision == "fp32"
    with pytest.raises(FacesslError, match="supervised_precision must be one of auto, fp32, bf16, got 'fp16'"):
        load_plan(path, ["supervised_precision=fp16"])
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
    assert load_plan(path, ["fabnet_features=[embedding, fs]"]).fabnet_features == ["embedding", "fs"]
    with pytest.raises(FacesslError, match="fabnet_features must be a non-empty list of embedding, fs, got"):
        load_plan(path, ["fabnet_features=[ff]"])
    with pytest.raises(FacesslError, match="pcl_features must be a non-empty list of fs, ff, fp, got"):
        load_plan(path, ["pcl_features=[]"])


def test_a_fabnet_run_is_probed_on_the_chosen_read_outs(tmp_path, monkeypatch):
    from facessl.study import stages

    class FakeEncoder:
        feature_names = ("embedding", "fs")

    seen = []
    monkeypatch.setattr(stages.facessl, "load", lambda path: FakeEncoder())
    monkeypatch.setattr(stages, "_evaluate_to", lambda out, plan, name, enc, quiet, **kw: seen.append(kw["features"]))
    path = plan_file(tmp_path)
    stages.evaluate_run(tmp_path, load_plan(path, []), "fabnet_seed0", True)
    stages.evaluate_run(tmp_path, load_plan(path, ["fabnet_features=[fs, embedding]"]), "fabnet_seed0", True)
    assert seen == [["embedding"], ["fs", "embedding"]]


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
                 "budget": {"simclr": {"steps": [60, 58], "seconds_per_step": 1.0}, "pcl": {"steps": [20, 21], "seconds_per_step": 3.0}}}
    timings = {"pretrain-simclr_seed0": 60.0, "pretrain-simclr_seed1": 62.0, "pretrain-pcl_seed0": 61.0}
    verdict = write_report(out, plan, data_info, timings, ["FAb-Net: no clips"])
    assert verdict["SimCLR"]["beyond_spread"] and verdict["SimCLR"]["target_met"]
    assert verdict["SimCLR"]["gain"] == pytest.approx(29.5 - 21)
    assert verdict["SimCLR"]["macro_f1_gain"] == pytest.approx(29.5 - 21)  # the fake rows give each metric the same values
    assert verdict["PCL (F_s)"]["accuracy_gain"] == pytest.approx(22.5 - 21)
    assert not verdict["PCL (F_s)"]["beyond_spread"] and not verdict["PCL (F_s)"]["target_met"]
    md = (out / "report.md").read_text()
    assert "| SimCLR | 29.50 ± 0.96 |" in md and "| Floor (majority class) | 12.50 |" in md
    assert "target +5: met; against random weights: macro F1 +8.50, accuracy +8.50" in md
    assert "FAb-Net: no clips" in md and "SimCLR 60 / 58 at 1.00 s/step" in md and (out / "report.html").is_file()
    assert "class-balanced cross-entropy" in md  # the study's default protocol is named
    assert "left out (fewer than 50 images): contempt (9), fear (21)" in md and "probes: 96 px input" in md
    assert json.loads((out / "results" / "tables.json").read_text())["verdicts"]["SimCLR"]["target_met"]
    (out / "report.md").unlink()
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0  # `facessl report` rebuilds a study's report too
    assert (out / "report.md").read_text() == md and (out / "report.html").is_file()


def test_verdicts_need_the_random_row():
    assert verdicts({"SimCLR": {"method": "simclr", "mean_class_accuracy": [30.0]}}) == {}


def test_one_run_a_side_is_never_beyond_the_spread():
    from facessl.study.report import _verdict_line

    rows = {"Random weights": {"method": "random", "mean_class_accuracy": [20.0]},
            "SimCLR": {"method": "simclr", "mean_class_accuracy": [20.46]},
            "PCL (F_s)": {"method": "pcl", "mean_class_accuracy": [30.0, 31.0]}}
    v = verdicts(rows)
    assert not v["SimCLR"]["beyond_spread"] and not v["PCL (F_s)"]["beyond_spread"]  # the random row: one value
    assert "seed spread not measured (one value on a side" in _verdict_line("SimCLR", v["SimCLR"])
    rows["Random weights"]["mean_class_accuracy"] = [20.0, 21.0]
    assert verdicts(rows)["PCL (F_s)"]["beyond_spread"] and not verdicts(rows)["SimCLR"]["spread_measured"]


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
    assert calls == [(["data"], 1), (["eval-baselines", "pretrain-simclr_seed0", "pretrain-pcl_seed0",
                                      "eval-simclr_seed0", "eval-pcl_seed0"], 2)]


def test_each_study_evaluation_waits_for_its_own_run(tmp_path, monkeypatch):
    from facessl.commands import study

    calls = []
    monkeypatch.setattr(study.StageRunner, "run", lambda self, name, fn, *a, **k: {})
    monkeypatch.setattr(study.StageRunner, "run_parallel", lambda self, jobs, workers: calls.append(
        {j[0]: tuple(j[4]) if len(j) > 4 else () for j in jobs}) or {j[0]: {"steps": 5} for j in jobs})
    monkeypatch.setattr(study, "write_report", lambda *a: {})
    main(["study", "--config", str(plan_file(tmp_path)), "--out", str(tmp_path / "o"), "methods=[simclr]", "seeds=[0, 1]"])
    assert calls == [{"eval-baselines": (), "pretrain-simclr_seed0": (), "pretrain-simclr_seed1": (),
                      "eval-simclr_seed0": ("pretrain-simclr_seed0",), "eval-simclr_seed1": ("pretrain-simclr_seed1",)}]


def toy_table(tmp_path, people=12, per_person=4):
    """people x per_person photos named <Name>_000k.png, two classes alternating by person."""
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir(exist_ok=True)
    rows = ["image,emotion"]
    for p in range(people):
        for k in range(per_person):
            name = f"Person{chr(65 + p)}_{k + 1:04d}.png"
            Image.new("RGB", (20, 20), (10 * p, 5 * k, 100)).save(photos / name)
            rows.append(f"{name},{'happy' if p % 2 else 'neutral'}")
    path = plan_file(tmp_path, label_column="emotion", group="'^([A-Za-z]+)_'", size=16)
    (tmp_path / "legend.csv").write_text("\r\n".join(rows) + "\r\n")  # as Windows tools write it
    return path


def test_validation_holdout_never_reads_the_test_split(tmp_path):
    from facessl.data.formats.csvtable import read_csv_table
    from facessl.study import stages

    path = toy_table(tmp_path)
    test_plan, val_plan = load_plan(path), load_plan(path, ["holdout=validation"])
    labelled = stages.labelled_set(tmp_path / "test", test_plan)
    test_side = {p for p, s in zip(labelled.images, labelled.split) if s == "test"}
    info = stages.prepare_data(tmp_path / "val", val_plan)
    table, opts = stages.evaluation_table(tmp_path / "val", val_plan)
    carved = read_csv_table(table, **opts)
    assert info["holdout"] == "validation" and "test split is set aside unread" in info["split"]
    assert not test_side & set(carved.images)  # no test photo in the validation study's table
    assert len(carved) == 48 - len(test_side) and {"train", "test"} == set(carved.split)
    pretrain = {p.stem for p in (tmp_path / "val" / "data" / "pretrain_photos").iterdir()}
    carve = {Path(p).stem for p, s in zip(carved.images, carved.split) if s == "test"}
    assert pretrain and not pretrain & carve and not pretrain & {Path(p).stem for p in test_side}
    people = lambda side: {Path(p).stem.split("_")[0] for p, s in zip(carved.images, carved.split) if s == side}
    assert not people("train") & people("test")  # the carve is grouped too
    assert stages.prepare_data(tmp_path / "test", test_plan)["pretrain_photos"] == 48 - len(test_side)


def test_method_overrides_reach_the_method_config_and_are_checked(tmp_path):
    from facessl.study import stages

    path = toy_table(tmp_path)
    plan = load_plan(path, ["method_overrides={pcl: [method.face_views=simclr, method.pose_fraction=0.25]}"])
    cfg = stages.method_config(tmp_path, plan, "pcl", 0, 10)
    assert cfg.method.face_views == "simclr" and cfg.method.pose_fraction == 0.25
    assert stages.method_config(tmp_path, plan, "simclr", 0, 10).method.name == "simclr"
    with pytest.raises(FacesslError, match="unknown method 'moco'"):
        load_plan(path, ["method_overrides={moco: [a=1]}"])
    with pytest.raises(FacesslError, match="method_overrides.pcl must be a list of key=value"):
        load_plan(path, ["method_overrides={pcl: method.face_views}"])
    with pytest.raises(FacesslError, match="holdout must be one of test, validation"):
        load_plan(path, ["holdout=val"])


def test_every_method_pretrains_the_same_backbone_width(tmp_path):
    """FAb-Net's demo config narrows its backbone to width 0.5: the study gives every method, and the
    random-weights row, the plan's width."""
    from facessl.methods import build_method
    from facessl.study import stages

    path = toy_table(tmp_path)
    plan = load_plan(path)
    widths = {m: stages.method_config(tmp_path, plan, m, 0, 10).backbone.width for m in ("simclr", "pcl", "fabnet")}
    assert widths == {"simclr": 1.0, "pcl": 1.0, "fabnet": 1.0}
    fabnet = build_method(stages.method_config(tmp_path, plan, "fabnet", 0, 10))
    simclr = build_method(stages.method_config(tmp_path, plan, "simclr", 0, 10))
    assert fabnet.embedder.backbone.feature_shape(64) == simclr.encoder().backbone.feature_shape(64)
    assert stages.method_config(tmp_path, load_plan(path, ["width=0.5"]), "simclr", 0, 10).backbone.width == 0.5
    with pytest.raises(FacesslError, match="width must be a positive number"):
        load_plan(path, ["width=0"])


def test_a_validation_study_cannot_resume_a_test_one(tmp_path, monkeypatch, capsys):
    from facessl.commands import study

    monkeypatch.setattr(study.StageRunner, "run", lambda self, name, fn, *a, **k: {"holdout": "test"})
    code = main(["study", "--config", str(plan_file(tmp_path)), "--out", str(tmp_path / "o"), "holdout=validation"])
    assert code != 0 and "holds a holdout=test study; give another --out" in capsys.readouterr().err


def test_the_validation_carve_searches_placements_for_the_worst_class():
    """A class held by a few people with many photos each (as 'disgust' in the shared labels): placing the
    largest groups first holds out 11 % of it; the carve search finds a grouped placement nearer 20 %."""
    import numpy as np

    from facessl.data.formats.grouping import grouped_stratified_split
    from facessl.study.stages import best_carve

    classes, groups = [], []
    for group, counts in [("Bush", {"n": 300, "h": 220}), ("D", {"d": 104, "n": 60}), ("J", {"d": 50, "n": 60, "h": 63}),
                          ("H", {"d": 18, "n": 100, "h": 80}), ("s", {"d": 1})] + \
            [(f"g{i}", {"n" if i % 2 else "h": 1}) for i in range(800)] + [(f"a{i}", {"a": 1}) for i in range(100)]:
        for label, n in counts.items():
            classes += [label] * n
            groups += [group] * n
    classes, groups = np.array(classes), np.array(groups)
    worst = lambda carve: max(abs(np.mean(carve[classes == c] == "test") - 0.2) for c in np.unique(classes))
    standard, (carve, seed) = grouped_stratified_split(classes, groups, seed=1), best_carve(classes, groups)
    held = lambda carve: int(np.sum((carve == "test") & (classes == "d")))
    assert held(standard) == 19 and held(carve) == 50 and worst(carve) < worst(standard) and seed != 1
    assert all(len(set(carve[groups == g])) == 1 for g in np.unique(groups))  # still grouped


def test_a_budget_is_the_trainers_time_limit_and_the_report_counts_the_steps_taken(tmp_path, monkeypatch):
    import facessl.engine.train as train_module
    from facessl.study import stages

    seen = []

    def fake_train(cfg, run, quiet=False, save_on_sigterm=False):
        assert save_on_sigterm  # a study stopped by SIGTERM keeps each run's step (as `facessl pretrain`)
        seen.append((cfg.train.minutes, cfg.train.steps))
        return {"step": 40, "loss": 1.0, "training_seconds": 120.0}

    monkeypatch.setattr(train_module, "train", fake_train)
    path = toy_table(tmp_path)
    result = stages.pretrain(tmp_path / "s", load_plan(path, ["budget_minutes=2"]), "simclr", 0, True)
    assert seen[-1] == (2.0, stages.STEP_CAP) and result["steps"] == 40 and result["training_seconds"] == 120.0
    stages.pretrain(tmp_path / "s", load_plan(path, ["budget_minutes=0", "steps=7"]), "simclr", 0, True)
    assert seen[-1] == (0.0, 7)
    plan = load_plan(path, ["methods=[simclr]", "seeds=[0, 1]"])
    summary = stages.budget_summary({"pretrain-simclr_seed0": result, "pretrain-simclr_seed1": {**result, "steps": 60}}, plan)
    assert summary == {"simclr": {"steps": [40, 60], "seconds_per_step": pytest.approx((3.0 + 2.0) / 2)}}


def test_the_probe_selection_benchmark_runs_on_a_validation_study(tmp_path, monkeypatch, capsys):
    """benchmarks/probe_selection.py reads a holdout=validation study's table and scores both selection rules."""
    import runpy
    import sys

    import yaml

    from facessl.study import stages

    path = toy_table(tmp_path, people=24)
    stages.prepare_data(tmp_path / "val", load_plan(path, ["holdout=validation"]))
    run = tmp_path / "arch"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"method": {"name": "simclr"}, "backbone": {"name": "small", "width": 0.25},
                                                     "data": {"size": 16}}))
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "probe_selection.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--study", str(tmp_path / "val"), "--random-like", str(run),
                                      "--size", "16", "--carves", "2"])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "held out per weight decay 0:" in out
    assert "carve accuracy" in out and "carve cross-entropy" in out
    assert out.count("mean shortfall from the best weight decay") == 2


def expw_dataset(tmp_path, photos=24):
    """An ExpW-layout set: each photo holds two faces (boxes), left and right, of different expressions."""
    from PIL import Image

    rows = []
    (tmp_path / "expw" / "image" / "origin").mkdir(parents=True)
    for i in range(photos):
        img = Image.new("RGB", (40, 20), (0, 0, 0))
        img.paste((200, 30 * (i % 4), 0), (0, 0, 20, 20))
        img.paste((0, 30 * (i % 4), 200), (20, 0, 40, 20))
        img.save(tmp_path / "expw" / "image" / "origin" / f"photo_{i}.png")
        rows += [f"photo_{i}.png 0 0 0 20 20 0.9 {i % 2 * 3}", f"photo_{i}.png 1 0 20 40 20 0.9 {6 - i % 2}"]
    (tmp_path / "expw" / "label").mkdir()
    (tmp_path / "expw" / "label" / "label.lst").write_text("\n".join(rows) + "\n")
    return tmp_path / "expw"


@pytest.mark.parametrize("holdout", ["test", "validation"])
def test_a_study_on_any_labelled_format_keeps_its_face_boxes(tmp_path, holdout):
    """`dataset: expw:DIR` (no photos/labels): the set is written as the study's table with its boxes; every
    face, two per photo, is pretrained on as its own crop; the split keeps a photo's faces together."""
    from facessl.data.formats.csvtable import read_csv_table
    from facessl.data.image_decode import BoxedImage
    from facessl.study import stages

    root = expw_dataset(tmp_path)
    (tmp_path / "study.yaml").write_text(f"dataset: expw:{root}\nsize: 16\nholdout: {holdout}\n")
    plan = load_plan(tmp_path / "study.yaml")
    info = stages.prepare_data(tmp_path / "s", plan)
    table, opts = stages.evaluation_table(tmp_path / "s", plan)
    data = read_csv_table(table, **opts)
    assert all(isinstance(i, BoxedImage) for i in data.images) and {i.box for i in data.images} == {
        (0.0, 0.0, 20.0, 20.0), (20.0, 0.0, 40.0, 20.0)}
    assert set(data.meta["class_names"]) == {"anger", "happiness", "neutral", "surprise"}
    photos = sorted((tmp_path / "s" / "data" / "pretrain_photos").iterdir())
    assert len(photos) == info["pretrain_photos"] == int((data.split == "train").sum())
    from PIL import Image

    with Image.open(photos[0]) as a, Image.open(photos[1]) as b:  # the two faces of one photo, not the photo twice
        assert a.size == (16, 16) and a.getpixel((8, 8))[0] > 150 and b.getpixel((8, 8))[2] > 150
    for photo in {str(i) for i in data.images}:
        assert len({s for i, s in zip(data.images, data.split) if str(i) == photo}) == 1
    # the report names the reader's split, not the written table's column
    assert f"expw:{root}: split seeded (0) stratified split, 20% test, grouped by photo" in info["split"]


def test_a_study_dataset_without_classes_is_one_error(tmp_path):
    from facessl.data.formats.lfw import LfwWriter
    from facessl.study import stages

    w = LfwWriter(tmp_path / "lfw")
    for name in ("Ann_Lee", "Bo_Chen"):
        w.add(name, np.zeros((8, 8, 3), np.uint8))
        w.add(name, np.zeros((8, 8, 3), np.uint8))
    w.write_pairs([([("Ann_Lee", 1, 2)], [("Ann_Lee", 1, "Bo_Chen", 2)])])
    (tmp_path / "study.yaml").write_text(f"dataset: lfw:{tmp_path / 'lfw'}\n")
    with pytest.raises(FacesslError, match="no class labels with a train/test split"):
        stages.prepare_data(tmp_path / "s", load_plan(tmp_path / "study.yaml"))
    with pytest.raises(FacesslError, match="photos '' does not exist"):
        load_plan(plan_file(tmp_path), ["photos=''"])


def test_a_rerun_with_other_settings_is_refused_more_methods_are_not(tmp_path, monkeypatch, capsys):
    from facessl.commands import study

    monkeypatch.setattr(study.StageRunner, "run", lambda self, name, fn, *a, **k: {"holdout": "test"})
    monkeypatch.setattr(study.StageRunner, "run_parallel", lambda self, jobs, workers: {j[0]: {"steps": 5} for j in jobs})
    monkeypatch.setattr(study, "write_report", lambda *a: {})
    args = ["study", "--config", str(plan_file(tmp_path)), "--out", str(tmp_path / "o")]
    assert main(args + ["methods=[simclr]"]) == 0
    assert main(args + ["methods=[simclr, pcl]", "seeds=[0, 1, 2]", "workers=1"]) == 0  # adds stages
    assert main(args + ["probe_epochs=50"]) == 2
    assert "made with other study settings (probe_epochs: 100 there, 50 now)" in capsys.readouterr().err


def test_a_stage_whose_output_is_gone_runs_again(tmp_path):
    from facessl.commands.study import redo_lost_outputs
    from facessl.demo.stages import StageRunner

    runner = StageRunner(tmp_path, 4, quiet=True)
    for name in ("pretrain-pcl_seed0", "eval-pcl_seed0", "pretrain-simclr_seed0", "eval-simclr_seed0", "eval-baselines"):
        runner._record(name, {}, 1.0, 1.0)
    (tmp_path / "runs" / "simclr_seed0" / "checkpoints" / "step_00000010").mkdir(parents=True)
    (tmp_path / "runs" / "simclr_seed0" / "checkpoints" / "step_00000010" / "state.json").write_text("{}")
    (tmp_path / "eval" / "simclr_seed0").mkdir(parents=True)
    (tmp_path / "eval" / "simclr_seed0" / "results.json").write_text("{}")
    redo_lost_outputs(runner, tmp_path, [("pcl", 0), ("simclr", 0)])
    assert runner.done("pretrain-pcl_seed0") is None and runner.done("eval-pcl_seed0") is None  # no run: both again
    assert runner.done("pretrain-simclr_seed0") is not None and runner.done("eval-simclr_seed0") is not None
    assert runner.done("eval-baselines") is None


def test_a_videos_folder_that_is_not_there_is_said_before_any_training(tmp_path):
    with pytest.raises(FacesslError, match="study: videos '/nowhere' is not a folder"):
        load_plan(plan_file(tmp_path), ["videos=/nowhere"])


def test_a_diverged_probe_is_shown_not_finite_and_its_verdict_is_inconclusive(tmp_path):
    """results.json stores a NaN seed value as null: the study's cell says so, its verdict is inconclusive, and
    tables.json stays strict JSON that `facessl report` rebuilds the same report from."""
    plan = load_plan(plan_file(tmp_path), ["methods=[simclr, pcl]", "seeds=[0]", "budget_minutes=1"])
    out = tmp_path / "study"
    for method, values in (("simclr", [30, 31, 29]), ("pcl", [22, None, 24])):
        results = fake_results([v if v is not None else 0 for v in values], method == "simclr")
        if None in values:
            results["tasks"][0]["rows"]["checkpoint"]["fs"]["metrics"]["mean_class_accuracy"]["per_seed"][1] = None
        path = out / "eval" / f"{method}_seed0" / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(results))
    data_info = {"pretrain_photos": 10, "counts": {"train": {"a": 8}, "test": {"a": 2}}, "split": "toy split"}
    verdict = write_report(out, plan, data_info, {"pretrain-simclr_seed0": 60.0}, [])
    assert verdict["PCL (F_s)"]["not_finite"] and not verdict["PCL (F_s)"]["target_met"]
    assert verdict["SimCLR"]["target_met"] and "not_finite" not in verdict["SimCLR"]
    md = (out / "report.md").read_text()
    assert "| PCL (F_s) | n/a (not finite) |" in md and "- PCL (F_s): inconclusive" in md
    text = (out / "results" / "tables.json").read_text()
    assert "NaN" in text and json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in tables.json"))
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.md").read_text() == md
