"""Small CLI fixes from the s35 audit: --size capped as data.size is (B1), `--task pose` on a table of
--target-columns (C2), `report` on an eval folder (C4), the small-epoch note of a method without negatives (C6)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from facessl.cli import main
from facessl.data.formats.common import ImageSet
from facessl.data.formats.csvtable import read_csv_table
from facessl.errors import FacesslError
from facessl.evaluate import pose
from facessl.evaluate.protocol import EvalOptions


# ---- B1: --size 100000 was an out-of-memory kill (24 GB), not a range error ------------------------------------
@pytest.mark.parametrize("size", ["100000", "1025", "4"])
def test_eval_size_out_of_range_is_one_line(tmp_path, capsys, size):
    argv = ["eval", "--checkpoint", str(tmp_path / "no_run"), "--dataset", "lfw:" + str(tmp_path / "lfw"),
            "--out", str(tmp_path / "out"), "--size", size]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"facessl eval: error: --size must be 8 to 1024 pixels (the range of pretraining's data.size), got {size}"


def test_embed_size_out_of_range_is_one_line(tmp_path, capsys):
    (tmp_path / "imgs").mkdir()
    argv = ["embed", "--checkpoint", str(tmp_path / "no_run"), "--images", str(tmp_path / "imgs"),
            "--out", str(tmp_path / "f.npy"), "--size", "100000"]
    assert main(argv) == 2
    assert "--size must be 8 to 1024 pixels" in capsys.readouterr().err


def test_inspect_and_a_suite_tasks_size_have_the_same_range(tmp_path, capsys):
    from facessl.errors import FacesslError
    from facessl.evaluate.suite import parse_size

    (tmp_path / "imgs" / "a").mkdir(parents=True)
    assert main(["inspect", "--dataset", f"imagefolder:{tmp_path / 'imgs'}", "--size", "100000"]) == 2
    assert "--size must be 8 to 1024 pixels" in capsys.readouterr().err
    assert parse_size("96") == 96
    with pytest.raises(FacesslError, match="from 8 to 1024"):
        parse_size("100000")


# ---- C2: --task pose on yaw,pitch,roll columns ---------------------------------------------------------------
def _pose_table(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["file,yaw,pitch,roll"]
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"p{i:02d}.png")
        rows.append(f"p{i:02d}.png,{rng.normal(0, 20):.1f},{rng.normal(0, 10):.1f},{rng.normal(0, 5):.1f}")
    (tmp_path / "pose.csv").write_text("\n".join(rows) + "\n")
    return read_csv_table(tmp_path / "pose.csv", target_columns="yaw,pitch,roll")


@pytest.mark.parametrize("build, task", [(pose.build, "pose"), (pose.build_classes, "pose_classes")])
def test_pose_task_on_target_columns_says_regression(tmp_path, build, task):
    table = _pose_table(tmp_path)
    with pytest.raises(FacesslError) as err:
        build(table, None, EvalOptions(seeds=1, epochs=1))
    message = str(err.value)
    assert f"task {task!r} needs" in message and "head pose angles" in message
    assert ("a table's --target-columns (here yaw, pitch, roll) give task 'regression' (MAE per column): omit --task "
            "or give --task regression") in message
    assert "labels present" not in message


def test_pose_task_on_classes_names_the_label_column():
    data = ImageSet(np.zeros((4, 8, 8, 3), np.uint8), {"class": np.array([0, 1, 0, 1])}, None, "faces.csv",
                    meta={"label_column": "emotion"})
    with pytest.raises(FacesslError, match=r"faces.csv: task 'pose' needs .*--label-column \(here 'emotion'\) gives "
                                           r"task 'classification'"):
        pose.build(data, None, EvalOptions(seeds=1, epochs=1))


# ---- C4: report on an eval folder ----------------------------------------------------------------------------
def test_report_on_an_eval_folder_points_to_results_md(tmp_path, capsys):
    folder = tmp_path / "eval_expr"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"tasks": [], "eval_config": {}}))
    (folder / "results.md").write_text("# facessl linear evaluation\n")
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rerun `facessl demo`" not in err
    assert f"{folder} is a `facessl eval` folder: its report is {folder / 'results.md'}" in err
    assert "`facessl report` rebuilds the reports of `facessl demo` and `facessl study` folders" in err


def test_report_on_another_folder_names_demo_and_study(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "tables.json: not found" in err and "`facessl demo` and `facessl study` folders" in err


# ---- C6: the small-epoch note of FAb-Net, which has no negatives ---------------------------------------------
def test_small_epoch_note_of_fabnet_speaks_of_no_negatives(tmp_path, capsys):
    from fabnet_toydata import write_toy_voxceleb

    vox = write_toy_voxceleb(tmp_path / "voxceleb", ids=3, tracks=2, frames=4, size=32)
    argv = ["pretrain", "--config", "fabnet_synth", "--data", str(vox), "--out", str(tmp_path / "run"), "--steps", "1",
            "train.batch_size=16", "data.size=32", "data.workers=0", "backbone.width=0.25", "method.embedding_dim=32",
            "train.image_every=0", "train.precision=fp32", "train.device=cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    note = next(line for line in out.splitlines() if line.startswith("note: an epoch is"))
    assert "fewer than the batch of 16" in note and "count twice in the batch's loss (this method has no negatives)" in note
    assert "negative of the other" not in note


def test_methods_say_whether_they_use_in_batch_negatives():
    from facessl.methods import method_class

    assert method_class("simclr").in_batch_negatives and method_class("pcl").in_batch_negatives
    assert not method_class("fabnet").in_batch_negatives
