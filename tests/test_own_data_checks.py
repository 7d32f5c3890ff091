"""A user's own tables and folders as they really come: a measurement given as the label column, Windows
paths, rows listed twice or with two labels, a table of images alone (embed), test classes no training image
has, broken images `inspect` must find, names with line breaks (embed's .npy)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data.formats.csvtable import read_csv_table
from facessl.data.formats.imagefiles import save_image
from facessl.errors import FacesslError

CLI_FAST = ["--seeds", "1", "--epochs", "3", "--baselines", "none", "--device", "cpu", "--quiet", "--no-cache"]


def images(folder, names, seed: int = 0):
    rng = np.random.default_rng(seed)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        save_image(folder / name, rng.integers(0, 255, (12, 12, 3), dtype=np.uint8))


def test_a_measurement_as_the_label_column_points_to_target_columns(tmp_path):
    names = [f"p{i}.png" for i in range(30)]
    images(tmp_path, names)
    (tmp_path / "t.csv").write_text("image,valence\n" + "".join(f"{n},{0.01 * i - 0.13:.2f}\n" for i, n in enumerate(names)))
    with pytest.raises(FacesslError, match=r"label column 'valence' holds 30 different numbers in 30 rows .*"
                                           r"--target-columns valence"):
        read_csv_table(tmp_path / "t.csv", label_column="valence")
    data = read_csv_table(tmp_path / "t.csv", target_columns="valence")  # what it says works
    assert data.labels["target"].shape == (30, 1)
    (tmp_path / "ids.csv").write_text("image,person\n" + "".join(f"{n},{i}\n" for i, n in enumerate(names)))
    assert len(read_csv_table(tmp_path / "ids.csv", label_column="person").meta["class_names"]) == 30  # integers: classes


def test_windows_separators_in_the_image_column_are_read(tmp_path):
    images(tmp_path, ["imgs/sub/a.png", "imgs/sub/b.png"])
    (tmp_path / "t.csv").write_text("image,label\r\nimgs\\sub\\a.png,x\r\nimgs\\sub\\b.png,y\r\n")
    data = read_csv_table(tmp_path / "t.csv")
    assert sorted(str(f) for f in data.images) == [str(tmp_path / "imgs/sub/a.png"), str(tmp_path / "imgs/sub/b.png")]


def test_a_row_twice_is_read_once_and_an_image_with_two_labels_is_dropped(tmp_path):
    images(tmp_path, [f"{c}.png" for c in "abcd"])
    rows = ["a.png,happy", "b.png,sad", "a.png,happy", "c.png,sad", "c.png,happy", "d.png,happy"]
    (tmp_path / "t.csv").write_text("image,label\n" + "\n".join(rows) + "\n")
    data = read_csv_table(tmp_path / "t.csv")
    assert sorted(str(f).rsplit("/", 1)[1] for f in data.images) == ["a.png", "b.png", "d.png"]
    assert data.dropped == {"duplicate_row": 1, "conflicting_labels": 2}
    names = data.meta["class_names"]
    assert {str(f).rsplit("/", 1)[1]: names[c] for f, c in zip(data.images, data.labels["class"])} == \
        {"a.png": "happy", "b.png": "sad", "d.png": "happy"}


def test_one_photo_with_two_face_boxes_is_two_rows_not_a_duplicate(tmp_path):
    images(tmp_path, ["group.png"])
    (tmp_path / "t.csv").write_text("image,label,x,y,w,h\ngroup.png,happy,0,0,6,6\ngroup.png,sad,6,6,6,6\n")
    data = read_csv_table(tmp_path / "t.csv", box_columns="x,y,w,h")
    assert len(data) == 2 and not any(data.dropped.values())


def test_embed_reads_a_table_of_images_without_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    images(tmp_path / "photos", ["a.png", "b.png", "c.png"])
    (tmp_path / "list.csv").write_text("image\na.png\nb.png\nc.png\n")
    out = tmp_path / "f.csv"
    assert main(["embed", "--checkpoint", str(tmp_path), "--dataset", f"csv:{tmp_path / 'list.csv'}",
                 "--image-root", str(tmp_path / "photos"), "--out", str(out), "--quiet"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and lines[1].startswith(str(tmp_path / "photos" / "a.png"))
    with pytest.raises(FacesslError, match="no label column"):  # eval still needs one
        read_csv_table(tmp_path / "list.csv", images=tmp_path / "photos")


def test_embed_to_npy_refuses_a_name_with_a_line_break(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    images(tmp_path / "photos", ["a.png", "new\nline.png"])
    assert main(["embed", "--checkpoint", str(tmp_path), "--images", str(tmp_path / "photos"),
                 "--out", str(tmp_path / "f.npy"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "line break" in err and "--out FILE.csv" in err
    assert not (tmp_path / "f.npy").exists()
    assert main(["embed", "--checkpoint", str(tmp_path), "--images", str(tmp_path / "photos"),
                 "--out", str(tmp_path / "f.csv"), "--quiet"]) == 0


def test_results_name_test_classes_no_training_image_has(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    for split, classes in (("Train", ("happy", "sad")), ("Test", ("sad", "surprise"))):
        for c in classes:
            images(tmp_path / "set" / split / c, [f"{c}{i}.png" for i in range(6)], seed=hash(c) % 100)
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", f"imagefolder:{tmp_path / 'set'}",
                 "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["info"]["unseen_test_classes"] == {"surprise": 6}
    md = (out / "results.md").read_text()
    assert "test classes with no training image, which the probe cannot predict" in md and "surprise (6)" in md
    assert "- imagefolder (classification): imagefolder:" in md and "rows train 12, test 12" in md
    # and the other way: a class the probe learns that test never asks about is out of the per-class averages
    assert list(task["info"]["untested_classes"]) == ["happy"]
    assert "classes with training images but none in test, so not in the per-class averages" in md


def test_inspect_finds_images_that_do_not_decode(tmp_path, capsys):
    images(tmp_path / "set" / "a", ["1.png", "2.png"])
    images(tmp_path / "set" / "b", ["3.png", "4.png"])
    (tmp_path / "set" / "b" / "broken.jpg").write_bytes(b"<html>not an image</html>")
    assert main(["inspect", "--dataset", f"imagefolder:{tmp_path / 'set'}", "--out", str(tmp_path / "s.png")]) == 0
    printed = capsys.readouterr().out
    assert "do not decode: 1, e.g. " in printed and "broken.jpg" in printed and (tmp_path / "s.png").is_file()


def test_an_unlabelled_row_stops_or_is_skipped_and_counted(tmp_path):
    images(tmp_path, ["a.png", "b.png", "c.png"])
    (tmp_path / "t.csv").write_text("image,label\na.png,x\nb.png,\nc.png,y\n")
    with pytest.raises(FacesslError, match=r"t.csv:3: empty label in column 'label' \(--skip-missing skips"):
        read_csv_table(tmp_path / "t.csv")
    data = read_csv_table(tmp_path / "t.csv", skip_missing=True)
    assert len(data) == 2 and data.dropped == {"empty_label": 1}


def test_small_messages_say_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    images(tmp_path / "set" / "happy", ["1.png", "2.png"])
    images(tmp_path / "set" / "sad", ["3.png", "4.png"])
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", f"imagefolder:{tmp_path / 'set'}",
                 "--task", "expression", "--out", str(tmp_path / "o"), *CLI_FAST]) == 2
    assert "(--task classification)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "--checkpoint", str(tmp_path), "--dataset", "csv:x.csv", "--out", "o", "--cv", "1"])
    assert "expected a number of folds, 2 or more, got '1'" in capsys.readouterr().err
    assert main(["embed", "--checkpoint", str(tmp_path), "--images", str(tmp_path), "--dataset", "csv:x.csv",
                 "--out", str(tmp_path / "f.csv")]) == 2
    assert "is --image-root" in capsys.readouterr().err


def test_a_checkpoint_without_its_config_names_where_it_looked(tmp_path, capsys):
    from facessl.engine.checkpoint import load_method

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.safetensors").write_bytes(b"")
    with pytest.raises(FacesslError, match=r"weights: no config.yaml beside the weights nor in the run folder above"):
        load_method(tmp_path / "weights")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with pytest.raises(FacesslError, match="a run directory without a checkpoint yet"):
        load_method(tmp_path / "run")
