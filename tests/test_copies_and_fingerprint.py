"""Byte-identical images never straddle the probe's validation carve nor a --cv fold boundary (each set of copies is
one group, merged with the persons of its rows; copy sets computed once per image list), and results.json records
per task the fingerprint of the images evaluated and the dataset and --images by absolute path, which `facessl
compare` checks (a dataset changed in place is refused)."""
import json
import os
from dataclasses import replace

import numpy as np
import pytest

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data import copies as copies_module
from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import save_image
from facessl.evaluate import expression, probes, splits
from facessl.evaluate import crossval
from facessl.evaluate.protocol import EvalOptions, Part
from facessl.evaluate.splits import (carve_groups, carve_validation, copy_sets, part_groups, subject_folds,
                                     with_copies_grouped)

CLI_FAST = ["--seeds", "1", "--epochs", "2", "--weight-decays", "0", "--baselines", "none", "--device", "cpu",
            "--quiet", "--no-cache"]


def copied_set(n=120, persons=30, copies=((0, 61), (5, 66), (7, 8), (90, 3), (11, 100), (14, 115))):
    """In-memory faces (FER-2013's pixel rows are arrays): row b a byte copy of row a for each (a, b); the person
    of row r is r % persons, so most copies join two persons."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, 8, 8, 3), dtype=np.uint8)
    for a, b in copies:
        images[b] = images[a]
    y = np.arange(n) % 3
    return ImageSet(images, {"expression": y, "identity": np.arange(n) % persons}, None, "toy-copies")


def straddling(sets, side) -> list:
    side = np.asarray(side)
    return [m for m in sets if len(set(side[m].tolist())) > 1]


@pytest.fixture(autouse=True)
def fresh_copy_sets():
    splits._COPY_SETS.clear()
    yield
    splits._COPY_SETS.clear()


def test_the_validation_carve_keeps_copies_and_their_persons_together():
    data = copied_set()
    part = Part(data, np.arange(len(data)))
    groups = part_groups(part)
    sets = copy_sets(data)
    assert len(sets) == 6
    leaked = 0
    for seed in range(10):
        plain = np.zeros(len(data), bool)
        plain[carve_validation(len(data), 0.2, np.random.default_rng(seed), groups=groups, stratify=data.labels["expression"])[1]] = True
        leaked += len(straddling(sets, plain))  # persons alone: copies across persons leak
        joined = carve_groups(part, groups)
        val = np.zeros(len(data), bool)
        val[carve_validation(len(data), 0.2, np.random.default_rng(seed), groups=joined, stratify=data.labels["expression"])[1]] = True
        assert straddling(sets, val) == []
        for a, b in ((0, 61), (11, 100)):  # a copy joins its two persons: all of both on one side
            persons = np.isin(data.labels["identity"], [a % 30, b % 30])
            assert len(set(val[persons].tolist())) == 1
    assert leaked > 0  # the check can fail: without the copies joined they straddle the carve


def test_copies_are_kept_together_without_any_person_label():
    data = copied_set()
    part = Part(data, np.arange(20, 120))  # training rows: copies (61, 66, 90, 100, 115) without their first rows
    assert carve_groups(part, None) is None  # no two of these rows are copies: nothing joined
    part = Part(data, np.arange(120))
    joined = carve_groups(part, None)
    assert len(np.unique(joined)) == 120 - 6
    for seed in range(5):
        _, val = carve_validation(120, 0.3, np.random.default_rng(seed), groups=joined)
        side = np.isin(np.arange(120), val)
        assert straddling(copy_sets(data), side) == []


def test_a_set_without_copies_carves_and_folds_exactly_as_before():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (60, 8, 8, 3), dtype=np.uint8)
    data = ImageSet(images, {"expression": np.arange(60) % 3, "identity": np.arange(60) % 12}, None, "plain")
    part = Part(data, np.arange(10, 60))
    groups = part_groups(part)
    assert carve_groups(part, groups) is groups and carve_groups(part, None) is None
    task = expression.build(replace(data, split=np.where(np.arange(60) < 45, "train", "test")), None, EvalOptions())
    assert with_copies_grouped(task) is task
    people = data.labels["identity"].astype(str)
    rows, _ = crossval.test_rows_per_fold(data, 3)
    assert all((a == b).all() for a, b in zip(rows, subject_folds(people, 3)))


def test_cv_folds_deal_copies_with_their_copies():
    data = copied_set()
    plain = subject_folds(data.labels["identity"], 3)
    fold_of = np.zeros(len(data), int)
    for k, rows in enumerate(plain):
        fold_of[rows] = k
    assert straddling(copy_sets(data), fold_of)  # dealt by person alone, copies land in two folds
    rows, how = crossval.test_rows_per_fold(data, 3)
    fold_of = np.zeros(len(data), int)
    for k, test in enumerate(rows):
        fold_of[test] = k
    assert straddling(copy_sets(data), fold_of) == []
    assert sorted(np.concatenate(rows).tolist()) == list(range(len(data)))  # every row tested once
    assert "6 byte-identical images dealt into the fold of their copies" in how


def test_copy_sets_are_computed_once_for_every_fold_seed_and_probe(monkeypatch):
    data = copied_set()
    calls = []
    original = copies_module.Copies.groups
    monkeypatch.setattr(copies_module.Copies, "groups", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    task = with_copies_grouped(crossval.cross_validated(expression.build, "expression", data, None, EvalOptions(), 3))
    assert len(calls) == 1  # the folds, and each fold's carve groups, from one computation
    assert all(fold.groups is not None for fold in task.folds)
    seen = []
    monkeypatch.setattr(probes, "carve_validation",
                        lambda n, f, rng, groups=None, stratify=None: seen.append(groups) or carve_validation(
                            n, f, rng, groups=groups, stratify=stratify))
    from facessl.evaluate.protocol import run_probe_task
    features = lambda part: part.images.images[part.index].reshape(len(part.index), -1).astype(np.float32) / 255
    run_probe_task(replace(task, probe=replace(task.probe, epochs=1, weight_decays=(0.0,))), features, 2, "cpu")
    assert len(seen) == 6 and len(calls) == 1  # 2 seeds x 3 folds carved, the copies found once
    for fold, groups in zip(task.folds * 2, seen):
        inside = splits.copies_among(fold.train)
        assert all(len(set(np.asarray(groups)[m].tolist())) == 1 for m in inside)


def copied_folder(root):
    """train/ and test/ class folders; train/happy holds two copies of one photo (the carve may split them)."""
    rng = np.random.default_rng(0)
    for side, count in (("train", 16), ("test", 4)):
        for label, colour in (("happy", 200), ("sad", 60)):
            folder = root / side / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                save_image(folder / f"{label}_{i:02d}.png",
                           np.clip(colour + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8))
    for i in range(4):
        (root / "train" / "happy" / f"again_{i}.png").write_bytes((root / "train" / "happy" / f"happy_{i:02d}.png").read_bytes())
    return root


@pytest.fixture
def toy_load(monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())


def test_eval_carves_with_copies_joined(tmp_path, toy_load, monkeypatch):
    root = copied_folder(tmp_path / "faces")
    seen = []
    monkeypatch.setattr(probes, "carve_validation",
                        lambda n, f, rng, groups=None, stratify=None: seen.append(groups) or carve_validation(
                            n, f, rng, groups=groups, stratify=stratify))
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", f"imagefolder:{root}", "--out",
                 str(tmp_path / "out"), *CLI_FAST]) == 0
    assert seen and all(g is not None and len(g) == 36 and len(np.unique(g)) == 32 for g in seen)  # 4 pairs of copies


def test_results_record_the_fingerprint_and_absolute_paths(tmp_path, toy_load, monkeypatch):
    root = copied_folder(tmp_path / "faces")
    (tmp_path / "legend.csv").write_text("image,label\n" + "".join(
        f"{side}/{label}/{label}_{i:02d}.png,{label}\n" for side in ("train", "test") for label in ("happy", "sad")
        for i in range(4)))
    monkeypatch.chdir(tmp_path)
    args = ["eval", "--checkpoint", str(tmp_path), "--dataset", "csv:legend.csv", "--images", "faces",
            "--label-column", "label", *CLI_FAST]
    assert main([*args, "--out", "ev_a"]) == 0
    evaluated = json.loads((tmp_path / "ev_a" / "results.json").read_text())["tasks"][0]["evaluated"]
    assert evaluated["dataset"] == f"csv:{tmp_path / 'legend.csv'}"
    assert evaluated["images"] == str(root)
    assert len(evaluated["fingerprint"]) == 32
    # the same images from another working folder: the same fingerprint (paths made absolute), so comparable
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", "csv:../legend.csv", "--images", "../faces",
                 "--label-column", "label", *CLI_FAST, "--out", "../ev_b"]) == 0
    again = json.loads((tmp_path / "ev_b" / "results.json").read_text())["tasks"][0]["evaluated"]
    assert again == evaluated
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "ev_a", "ev_b"]) == 0


def test_compare_refuses_a_dataset_changed_in_place(tmp_path, toy_load, monkeypatch, capsys):
    root = copied_folder(tmp_path / "faces")
    run = lambda out: main(["eval", "--checkpoint", str(tmp_path), "--dataset", f"imagefolder:{root}", "--out",
                            str(tmp_path / out), *CLI_FAST])
    assert run("ev_a") == 0
    photo = root / "test" / "sad" / "sad_01.png"  # another photo under the same name: the same rows, other images
    save_image(photo, np.full((12, 12, 3), 7, np.uint8))
    os.utime(photo, ns=(1, 1))
    assert run("ev_b") == 0
    a, b = (json.loads((tmp_path / out / "results.json").read_text()) for out in ("ev_a", "ev_b"))
    assert a["tasks"][0]["info"]["test_rows"] == b["tasks"][0]["info"]["test_rows"]  # the rows checks pass
    assert a["tasks"][0]["evaluated"]["fingerprint"] != b["tasks"][0]["evaluated"]["fingerprint"]
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "ev_a"), str(tmp_path / "ev_b")]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1 and err[0].startswith("facessl compare: error: ")
    assert str(tmp_path / "ev_a") in err[0] and str(tmp_path / "ev_b") in err[0]
    assert "fingerprint of the images" in err[0]
    # older results.json (no fingerprint): compared as before, said to be unchecked
    for out in ("ev_a", "ev_b"):
        path = tmp_path / out / "results.json"
        older = json.loads(path.read_text())
        for task in older["tasks"]:
            task.pop("evaluated")
        path.write_text(json.dumps(older))
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "ev_a"), str(tmp_path / "ev_b")]) == 0


def test_the_au_task_deals_a_copy_into_one_subject_fold():
    """DISFA-style subject folds: an image filed under two subjects is tested in one fold only, never fitted on
    in another (au.build passes the copy sets to subject_folds)."""
    from facessl.data.formats.common import ImageSet
    from facessl.evaluate import au
    from facessl.evaluate.protocol import EvalOptions

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (12, 8, 8, 3), dtype=np.uint8)
    images[3] = images[0]  # subject S1's picture filed again under S2 (another fold, dealt round-robin)
    subjects = np.repeat(["S1", "S2", "S3", "S4"], 3)
    data = ImageSet(images, {"aus": rng.integers(0, 5, (12, 8)).astype(float), "subject": subjects}, None, "toy")
    task = au.build(data, None, EvalOptions(cv_folds=3))
    for fold in task.folds:
        tested = set(fold.test.index.tolist())
        assert {0, 3} <= tested or not {0, 3} & tested  # both in this fold's test rows, or neither
