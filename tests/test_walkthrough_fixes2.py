"""Fixes from a walkthrough on real data (2): verification tables' floor row and their ±, the counted
'fewer than N images' reason in both orders (and `facessl embed` printing it as eval does), and a supervised row
that did not learn (at the floor) said so, in eval's tables and in the study's report."""
import numpy as np
import pytest
from PIL import Image

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data.formats.grouping import leave_out_rare_classes
from facessl.data.formats.imagefiles import skipped_text
from facessl.evaluate import tables
from facessl.evaluate.verification import chance_result


def metric(*values):
    return {"per_seed": list(values), "mean": float(np.mean(values)), "std": float(np.std(values))}


def verification_row(acc, fold_std, auc, positives=131, negatives=131, folds=10):
    return {"metrics": {"accuracy": metric(acc), "accuracy_fold_std": metric(fold_std), "roc_auc": metric(auc)},
            "selected_on": f"{folds}-fold, threshold chosen on the other folds", "pairs": positives + negatives,
            "positive_pairs": positives, "negative_pairs": negatives, "folds": folds}


def verification_results(**row):
    return {"checkpoint": {"path": "runs/x/checkpoints/step_1", "weights_hash": "abc"},
            "eval_config": {"seeds": 3, "input_size": 32},
            "baseline_inits": {"random": {"init": "the architecture as its config builds it", "seeds": [1234]}},
            "tasks": [{"name": "pairs", "task": "verification", "dataset": "csv:legend.csv", "info": {},
                       "rows": {"checkpoint": {"fs": verification_row(0.5764, 0.062, 0.6563, **row)},
                                "random": {"fs": verification_row(0.6294, 0.1163, 0.6754, **row)}}}]}


# --- 1. verification: a chance floor row, and the ± said to be over folds, not seeds ------------------------------
def test_verification_table_has_a_chance_floor_and_no_seed_claim():
    md = tables.render(verification_results())
    assert "| floor | chance | 50.00 | 50.00 |" in md
    assert "| checkpoint | fs | 57.64 ± 6.20 | 65.63 |" in md  # the ± is the folds' spread
    assert "seed(s)" not in md and "each probed with every seed" not in md
    assert "no seeds (no probe is trained; verification's ± is the standard deviation over its folds)" in md
    assert "pairs: floor — chance: a score that ignores the images" in md
    lines = md.splitlines()
    assert lines.index("| floor | chance | 50.00 | 50.00 |") > lines.index("| random | fs | 62.94 ± 11.63 | 67.54 |")


def test_verification_chance_floor_on_unbalanced_pairs_is_the_commoner_answer():
    md = tables.render(verification_results(positives=40, negatives=60))
    assert "| floor | chance | 60.00 | 50.00 |" in md


def test_verification_chance_floor_for_tar_at_far_sets():
    row = {"metrics": {"tar_at_far_1e-2": metric(0.3), "tar_at_far_1e-1": metric(0.6), "roc_auc": metric(0.8)},
           "pairs": 1000, "positive_pairs": 100, "negative_pairs": 900, "folds": 0}
    results = {"checkpoint": {"path": "c", "weights_hash": "h"}, "eval_config": {"seeds": 1},
               "tasks": [{"name": "ijb", "task": "verification", "info": {}, "rows": {"checkpoint": {"fs": row}}}]}
    md = tables.render(results)
    assert "| floor | chance | 1.00 | 10.00 | 50.00 |" in md and "TAR at each FAR equal to that FAR" in md
    assert chance_result(3, 1)["metrics"]["accuracy"]["mean"] == 0.75


def test_a_probed_table_keeps_its_seed_count_and_its_own_floor():
    results = verification_results()
    results["tasks"].append({"name": "expr", "task": "classification", "info": {}, "rows": {
        "checkpoint": {"fs": {"metrics": {"accuracy": metric(0.5, 0.6)}}},
        "floor": {"majority class": {"metrics": {"accuracy": metric(0.2)}}}}})
    md = tables.render(results)
    assert "3 seed(s)" in md and "| floor | majority class | 20.00 | — | — |" in md
    assert "| floor | chance | 50.00 | 50.00 |" in md


# --- 2. the counted reason reads right in both orders ---------------------------------------------------------------
def test_fewer_than_reason_reads_in_both_orders():
    _, rare, dropped = leave_out_rare_classes(["a"] * 5 + ["b"] * 2 + ["c"], 3)
    assert rare == {"b": 2, "c": 1} and dropped == {"in classes with fewer than 3 images": 3}
    assert skipped_text(dropped, count_first=True) == "3 in classes with fewer than 3 images"
    assert skipped_text(dropped) == "in classes with fewer than 3 images 3"


@pytest.fixture
def toy_load(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    return tmp_path


def test_embed_prints_skipped_rows_as_eval_does(toy_load, capsys):
    (toy_load / "photos").mkdir()
    for i in range(5):
        Image.fromarray(np.full((10, 10, 3), 40 * i, np.uint8)).save(toy_load / "photos" / f"p{i}.png")
    rows = ["p0.png,a", "p1.png,a", "p2.png,a", "p3.png,b", "p4.png,a", "gone.png,a"]
    (toy_load / "t.csv").write_text("image,label\n" + "\n".join(rows) + "\n")
    out = toy_load / "f.npy"
    assert main(["embed", "--checkpoint", str(toy_load / "run"), "--dataset", f"csv:{toy_load / 't.csv'}",
                 "--image-root", str(toy_load / "photos"), "--out", str(out), "--device", "cpu", "--skip-missing",
                 "--min-class-count", "2"]) == 0
    printed = capsys.readouterr().out
    found = next(line for line in printed.splitlines() if line.startswith("found "))
    assert "1 in classes with fewer than 2 images" in found and "in classes with fewer than 2 images 1" not in found
    assert "1 missing image (photos/gone.png)" in found  # the skipped rows named, as eval names them


# --- 3. a supervised row that did not learn, and a baselines-only header --------------------------------------------
def classification_results(supervised_acc):
    row = lambda acc, mca: {"metrics": {"accuracy": metric(acc), "mean_class_accuracy": metric(mca),  # noqa: E731
                                        "macro_f1": metric(0.0552)}}
    supervised = row(supervised_acc, 0.1667)
    supervised["selection"] = [{"epochs": 1, "epochs_run": 1, "seed": 0}]
    return {"checkpoint": {"weights_hash": None}, "eval_config": {"seeds": 1},
            "tasks": [{"name": "real expressions", "task": "classification", "info": {}, "rows": {
                "random": {"fs": row(0.4172, 0.4068)}, "supervised": {"fs": supervised},
                "floor": {"majority class": row(0.1987, 0.1667)}}}]}


def test_supervised_row_at_the_floor_is_said_and_baselines_only_header():
    md = tables.render(classification_results(0.1987))
    assert ("real expressions: supervised row at the floor (no column better than the floor's): it did not learn in "
            "1 epoch; raise --supervised-epochs") in md
    assert "- no checkpoint: baselines only" in md and "`?`" not in md and "weights None" not in md


def test_supervised_row_above_the_floor_has_no_note():
    md = tables.render(classification_results(0.30))
    assert "supervised row at the floor" not in md


def test_study_report_says_the_supervised_row_did_not_learn():
    from facessl.study.report import supervised_at_floor

    floor = {"method": "floor", "mean_class_accuracy": [16.67], "macro_f1": [5.52], "accuracy": [19.87]}
    rows = {"Random weights": {"method": "random", "mean_class_accuracy": [40.0], "macro_f1": [39.0], "accuracy": [41.0]},
            "Supervised (fine-tuned)": {**floor, "method": "supervised"}, "Floor (majority class)": floor}
    assert supervised_at_floor(rows)
    rows["Supervised (fine-tuned)"] = {**floor, "method": "supervised", "accuracy": [25.0]}
    assert not supervised_at_floor(rows)
