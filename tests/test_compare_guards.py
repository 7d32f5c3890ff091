"""`facessl compare` refuses evaluations whose test rows differ (class set, row counts, --images, dataset options,
protocol), names both folders and both values on one line, and keeps every evaluation's own baselines, named after
it (`random weights (simclr)`), once where two share them to the last digit. Real tiny `facessl eval` runs on a CSV
of photos (a toy encoder for the checkpoints), as tests/test_generic_eval.py runs them."""
import json
import shutil

import numpy as np
import pytest
from torch import nn

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.commands import compare
from facessl.data.formats.imagefiles import save_image

CLI_FAST = ["--seeds", "1", "--epochs", "3", "--weight-decays", "0", "--baselines", "random", "--device", "cpu",
            "--quiet", "--no-cache"]


class OtherToy(ToyEncoder):
    """Another architecture (4 channels, not 8): its random weights score other numbers than ToyEncoder's."""

    def __init__(self, seed=0):
        super().__init__(seed)
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)


@pytest.fixture
def own(tmp_path, monkeypatch):
    """legend.csv: 60 photos of 3 classes, and 2 of a rare 4th (contempt) that --min-class-count 5 leaves out."""
    models = {"simclr": lambda: ToyEncoder(0), "pcl": lambda: ToyEncoder(1), "fabnet": lambda: OtherToy(2)}
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": models[str(path).rstrip("/").split("/")[-1]]())
    for run in models:
        (tmp_path / run).mkdir()
    rng = np.random.default_rng(0)
    (tmp_path / "photos").mkdir()
    lines = ["user.id,image,emotion"]
    for i in range(62):
        label = ("happy", "sad", "angry")[i % 3] if i < 60 else "contempt"
        colour = {"happy": 200, "sad": 60, "angry": 130, "contempt": 100}[label]
        save_image(tmp_path / "photos" / f"S{i % 12:02d}_{i:03d}.png",
                   np.clip(colour + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8))
        lines.append(f"7,S{i % 12:02d}_{i:03d}.png,{label}")
    (tmp_path / "legend.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def evaluate(root, run, out, *extra, dataset=None, images=None):
    args = ["eval", "--checkpoint", str(root / run), "--dataset", dataset or f"csv:{root / 'legend.csv'}",
            "--images", images or str(root / "photos"), "--label-column", "emotion", "--group", r"^(S\d+)_",
            "--out", str(root / out), *CLI_FAST, *extra]
    assert main(args) == 0
    return json.loads((root / out / "results.json").read_text())


def refused(capsys, *folders) -> str:
    capsys.readouterr()
    assert main(["compare", *map(str, folders)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1 and err[0].startswith("facessl compare: error: ")
    assert all(str(f) in err[0] for f in folders)  # both evaluation folders named
    return err[0]


def compared(capsys, *folders) -> str:
    capsys.readouterr()
    assert main(["compare", *map(str, folders), "--out", str(folders[0].parent / "c.md")]) == 0
    capsys.readouterr()
    return (folders[0].parent / "c.md").read_text()


def cell(results, label, feature):
    return f"{results['tasks'][0]['rows'][label][feature]['metrics']['accuracy']['mean'] * 100:.2f}"


def test_comparable_evaluations_still_compare_with_one_shared_baseline(own, capsys):
    a = evaluate(own, "simclr", "ev_simclr")
    b = evaluate(own, "pcl", "ev_pcl")
    text = compared(capsys, own / "ev_simclr", own / "ev_pcl")
    assert f"| ev_simclr | fs | {cell(a, 'checkpoint', 'fs')}" in text and f"| ev_pcl | fs | {cell(b, 'checkpoint', 'fs')}" in text
    # one architecture, the same random draws: one row, naming both evaluations
    assert cell(a, "random", "fs") == cell(b, "random", "fs")
    assert text.count("| random weights") == 1 and f"| random weights (ev_simclr, ev_pcl) | fs | {cell(a, 'random', 'fs')}" in text
    assert text.count("| floor |") == 1 and "not checked" not in text
    assert text.index("| ev_pcl |") < text.index("| random weights") < text.index("| floor |")


def test_every_evaluations_own_random_weights_row_is_kept_and_named(own, capsys):
    s = evaluate(own, "simclr", "ev_simclr")
    f = evaluate(own, "fabnet", "ev_fabnet")
    assert cell(s, "random", "fs") != cell(f, "random", "fs")
    text = compared(capsys, own / "ev_fabnet", own / "ev_simclr")  # the first folder's baseline used to be the only one
    assert f"| random weights (ev_fabnet) | fs | {cell(f, 'random', 'fs')}" in text
    assert f"| random weights (ev_simclr) | fs | {cell(s, 'random', 'fs')}" in text
    assert "| random |" not in text and text.count("| floor |") == 1


def test_each_evaluations_supervised_row_is_kept_and_named(own, capsys):
    extra = ["--baselines", "random,supervised", "--supervised-epochs", "1"]
    s = evaluate(own, "simclr", "ev_simclr", *extra)
    f = evaluate(own, "fabnet", "ev_fabnet", *extra)
    text = compared(capsys, own / "ev_simclr", own / "ev_fabnet")
    assert f"| supervised (ev_simclr) | fs | {cell(s, 'supervised', 'fs')}" in text
    assert f"| supervised (ev_fabnet) | fs | {cell(f, 'supervised', 'fs')}" in text
    assert "- supervised learning rate (Adam): " in text  # render() finds it under the plain label only


def test_other_min_class_count_is_refused(own, capsys):
    a = evaluate(own, "simclr", "ev_6", "--min-class-count", "5")
    b = evaluate(own, "pcl", "ev_all")
    assert len(a["tasks"][0]["info"]["class_names"]) == 3 and len(b["tasks"][0]["info"]["class_names"]) == 4
    err = refused(capsys, own / "ev_6", own / "ev_all")
    assert f"--min-class-count 5 in {own / 'ev_6'}, not given in {own / 'ev_all'}" in err


def test_other_class_set_is_refused_where_the_options_are_not_recorded(own, capsys):
    evaluate(own, "simclr", "ev_6", "--min-class-count", "5")
    evaluate(own, "pcl", "ev_all")
    for folder in ("ev_6", "ev_all"):  # as an older facessl wrote them: no settings
        path = own / folder / "results.json"
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "settings"}))
    err = refused(capsys, own / "ev_6", own / "ev_all")
    assert (f"classes kept 3 (angry, happy, sad) in {own / 'ev_6'}, 4 (angry, contempt, happy, sad) in "
            f"{own / 'ev_all'}") in err


def test_other_images_root_is_refused_even_with_the_same_row_counts(own, capsys):
    shutil.copytree(own / "photos", own / "crops")
    a = evaluate(own, "simclr", "ev_photos")
    b = evaluate(own, "simclr", "ev_crops", images=str(own / "crops"))
    assert a["tasks"][0]["info"]["test_rows"] == b["tasks"][0]["info"]["test_rows"]
    err = refused(capsys, own / "ev_photos", own / "ev_crops")
    assert f"--images {own / 'photos'} in {own / 'ev_photos'}, {own / 'crops'} in {own / 'ev_crops'}" in err


def test_relative_images_are_compared_as_the_folders_they_name(own, capsys, monkeypatch):
    (own / "data").mkdir()
    shutil.copy(own / "legend.csv", own / "data" / "legend.csv")
    shutil.copytree(own / "photos", own / "data" / "photos")
    monkeypatch.chdir(own)
    evaluate(own, "simclr", "ev_here", dataset="csv:data/legend.csv", images="photos")
    monkeypatch.chdir(own / "data")
    evaluate(own, "pcl", "ev_same", dataset="csv:legend.csv", images="../photos")  # the same folder, spelt otherwise
    evaluate(own, "pcl", "ev_other", dataset="csv:legend.csv", images="photos")  # the same words, another folder
    text = compared(capsys, own / "ev_here", own / "ev_same")
    assert "| ev_same | fs |" in text and "not checked" not in text
    err = refused(capsys, own / "ev_here", own / "ev_other")
    assert f"--images photos ({own / 'photos'}) in" in err and f"photos ({own / 'data' / 'photos'}) in" in err
    # a relative --images beside a dataset given by its absolute path: results.json records the folder it named
    evaluate(own, "pcl", "ev_unknown", dataset=f"csv:{own / 'data' / 'legend.csv'}", images="photos")
    assert json.loads((own / "ev_unknown" / "results.json").read_text())["tasks"][0]["evaluated"]["images"] == \
        str(own / "data" / "photos")
    err = refused(capsys, own / "ev_here", own / "ev_unknown")
    assert f"--images photos ({own / 'photos'}) in" in err and f"photos ({own / 'data' / 'photos'}) in" in err
    # an older results.json (no absolute --images): which folder it named is not known
    path = own / "ev_unknown" / "results.json"
    older = json.loads(path.read_text())
    for task in older["tasks"]:
        task.pop("evaluated")
    path.write_text(json.dumps(older))
    text = compared(capsys, own / "ev_here", own / "ev_unknown")
    assert "| ev_unknown | fs |" in text
    assert any(line.startswith("- not checked") and "--images 'photos'" in line and str(own / "ev_unknown") in line
               for line in text.splitlines())


def test_another_split_is_refused(own, capsys):
    evaluate(own, "simclr", "ev_a")
    evaluate(own, "pcl", "ev_b", "--test-fraction", "0.3")
    err = refused(capsys, own / "ev_a", own / "ev_b")
    assert "--test-fraction" in err
    path = own / "ev_b" / "results.json"  # not recorded: the rows themselves differ
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "settings"}))
    err = refused(capsys, own / "ev_a", own / "ev_b")  # 12 people: the same counts, but not the same rows
    assert "split seeded (0) stratified split, 20% test" in err and "30% test" in err


def test_other_size_is_refused(own, capsys):
    evaluate(own, "simclr", "ev_a")
    evaluate(own, "pcl", "ev_b", "--size", "16")
    err = refused(capsys, own / "ev_a", own / "ev_b")
    assert "size" in err and "16" in err


def test_a_setting_an_older_results_json_lacks_is_noted_not_refused(own, capsys):
    evaluate(own, "simclr", "ev_new")
    evaluate(own, "pcl", "ev_old")
    path = own / "ev_old" / "results.json"
    old = json.loads(path.read_text())
    del old["settings"], old["eval_config"]["cv"], old["tasks"][0]["info"]["class_names"]
    path.write_text(json.dumps(old))
    text = compared(capsys, own / "ev_new", own / "ev_old")
    note = next(line for line in text.splitlines() if line.startswith("- not checked"))
    assert str(own / "ev_old") in note and "eval setting cv" in note and "classes kept" in note
    assert "--images" in note and "| ev_old | fs |" in text


def test_floors_that_differ_are_each_kept_and_named():
    floor = lambda acc: {"majority class": {"floor": "majority class", "metrics": {"accuracy": {"mean": acc}}}}
    task = {"name": "t", "task": "classification", "rows": {}}
    results = {"baseline_inits": {}}
    same = compare._merged_task(task, [("a", {"rows": {"floor": floor(0.2)}}, results),
                                       ("b", {"rows": {"floor": floor(0.2)}}, results)])
    assert list(same["rows"]) == ["floor"]
    other = compare._merged_task(task, [("a", {"rows": {"floor": floor(0.2)}}, results),
                                        ("b", {"rows": {"floor": floor(0.3)}}, results)])
    assert list(other["rows"]) == ["floor (a)", "floor (b)"]
