"""`facessl eval --cv K`: person-exclusive K-fold cross-validation over a whole set, every row tested once."""
import json

import numpy as np
import pytest

import facessl
from eval_toys import ToyEncoder, au_set, expression_set
from facessl.cli import main
from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import save_image
from facessl.errors import FacesslError
from facessl.evaluate import generic, runner
from facessl.evaluate.crossval import cross_validated
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

FAST = EvalOptions(seeds=1, epochs=3, device="cpu", quiet=True)


def person_set(n=90, persons=9, seed=0):
    """3 colour classes, persons owning n / persons rows each, a given 80/20 split the --cv must ignore."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    images = np.clip(np.array([60, 130, 200])[y][:, None, None, None] + rng.normal(0, 25, (n, 8, 8, 3)), 0, 255)
    split = np.where(np.arange(n) % 5 == 0, "test", "train")
    labels = {"class": y, "subject": np.array([f"P{i % persons}" for i in range(n)])}
    return ImageSet(images.astype(np.uint8), labels, split, "toy", meta={"class_names": ["a", "b", "c"],
                                                                          "split_from": "toy split"})


def test_every_row_is_tested_once_and_no_person_is_on_both_sides():
    data = person_set()
    task = cross_validated(generic.build_classification, "classification", data, None, FAST, 3)
    assert len(task.folds) == 3
    tested = np.sort(np.concatenate([f.test.index for f in task.folds]))
    np.testing.assert_array_equal(tested, np.arange(len(data)))  # the given split is ignored
    for fold in task.folds:
        train_people = set(data.labels["subject"][fold.train.index])
        test_people = set(data.labels["subject"][fold.test.index])
        assert not train_people & test_people and len(test_people) == 3
        np.testing.assert_array_equal(fold.y_test, data.labels["class"][fold.test.index])
    assert task.info["test_rows"] == 90 and "3 folds of persons (9 groups" in task.info["folds"]
    assert task.info["split_ignored"] == "toy split"


def test_a_sets_own_folds_are_used_and_must_match_k():
    data = person_set()
    data.labels["fold"] = np.array([str(i % 5) for i in range(len(data))])  # as Adience's fold_0..4
    task = cross_validated(generic.build_classification, "classification", data, None, FAST, 5)
    assert [sorted(set(data.labels["fold"][f.test.index])) for f in task.folds] == [[str(k)] for k in range(5)]
    with pytest.raises(FacesslError, match="the set has its own 5 folds .*; give --cv 5"):
        cross_validated(generic.build_classification, "classification", data, None, FAST, 10)
    with pytest.raises(FacesslError, match="drop --train-dataset"):
        cross_validated(generic.build_classification, "classification", data, data, FAST, 5)
    with pytest.raises(FacesslError, match="needs >= 12 subjects, got 9"):
        cross_validated(generic.build_classification, "classification", person_set(), None, FAST, 12)


def test_runner_pools_the_folds_and_au_keeps_its_subject_folds():
    options = EvalOptions(seeds=1, epochs=3, device="cpu", quiet=True, cv=4)
    results = runner.evaluate(ToyEncoder(), [TaskSpec("expression", "rafdb:/toy")], options, baselines=("random",),
                              datasets={"rafdb:/toy": expression_set()})
    task = results["tasks"][0]
    assert task["info"]["test_rows"] == 160 and task["info"]["folds"].startswith("4-fold cross-validation")
    au = runner.build_task("au", au_set(subjects=6), None, EvalOptions(cv=6))
    assert len(au.folds) == 6  # the AU task's own subject folds, six of them


def test_eval_cli_cv_on_class_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):
        label = ("happy", "sad", "angry")[i % 3]
        colour = {"happy": 200, "sad": 60, "angry": 130}[label]
        (tmp_path / "faces" / label).mkdir(parents=True, exist_ok=True)
        save_image(tmp_path / "faces" / label / f"S{i % 10:02d}_{i:03d}.png",
                   np.clip(colour + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8))
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"imagefolder:{tmp_path / 'faces'}",
                 "--group", r"^(S\d+)_", "--cv", "5", "--out", str(out), "--seeds", "1", "--epochs", "3",
                 "--baselines", "random", "--device", "cpu", "--quiet", "--no-cache"]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["info"]["test_rows"] == 60 and "5 folds of persons (10 groups" in task["info"]["folds"]
    assert "5-fold cross-validation" in (out / "results.md").read_text()
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["mean_class_accuracy"]["mean"] > 0.55
