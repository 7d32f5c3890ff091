"""`facessl embed` on real-world folders: symlinked sub-folders, counts, file names that are not UTF-8
(also through `eval --no-cache` and the feature cache), and `--dataset` instead of a folder."""
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data.formats.common import ImageSet
from facessl.evaluate.cache import dataset_fingerprint


@pytest.fixture
def toy_load(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    return tmp_path


def png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((10, 10, 3), value, np.uint8)).save(path)


def test_embed_follows_symlinked_folders_and_prints_counts(toy_load, capsys):
    png(toy_load / "elsewhere" / "b.png", 90)
    png(toy_load / "imgs" / "a.png", 10)
    os.symlink(toy_load / "elsewhere", toy_load / "imgs" / "linked")
    os.symlink(toy_load / "imgs", toy_load / "imgs" / "linked" / "loop")  # a cycle must not hang
    out = toy_load / "f.npy"
    assert main(["embed", "--checkpoint", str(toy_load / "run"), "--images", str(toy_load / "imgs"), "--out", str(out),
                 "--device", "cpu"]) == 0
    assert out.with_suffix(".txt").read_text().split() == ["a.png", "linked/b.png"]
    printed = capsys.readouterr().out
    assert "found 2 images" in printed and "1 of them through symlinked folders" in printed


def test_non_utf8_file_names_embed_and_fingerprint(toy_load):
    folder = os.fsencode(toy_load / "imgs")
    os.makedirs(folder)
    raw = os.path.join(folder, "caf\xe9.png".encode("latin-1"))  # a Latin-1 name from an old zip
    Image.fromarray(np.full((10, 10, 3), 50, np.uint8)).save(raw)
    name = os.fsdecode(raw)
    assert dataset_fingerprint(ImageSet([name], source=str(toy_load)))  # no UnicodeEncodeError
    out = toy_load / "f.csv"
    assert main(["embed", "--checkpoint", str(toy_load / "run"), "--images", str(toy_load / "imgs"), "--out", str(out),
                 "--device", "cpu", "--quiet"]) == 0
    assert out.read_bytes().splitlines()[1].startswith(b"caf\xe9.png,")  # the name's own bytes
    (toy_load / "bad").mkdir()
    for label in ("a", "b"):
        for i in range(6):
            path = os.path.join(os.fsencode(toy_load / "cls" / label), f"S{i}_\xe9{i}.png".encode("latin-1"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Image.fromarray(np.full((10, 10, 3), 40 if label == "a" else 200, np.uint8)).save(path)
    for cache in (["--no-cache"], []):
        assert main(["eval", "--checkpoint", str(toy_load / "run"), "--dataset", f"imagefolder:{toy_load / 'cls'}",
                     "--out", str(toy_load / "ev"), "--seeds", "1", "--epochs", "2", "--baselines", "none",
                     "--device", "cpu", "--quiet", *cache]) == 0


def test_embed_a_csv_dataset(toy_load):
    png(toy_load / "photos" / "x.png", 10)
    png(toy_load / "photos" / "y.png", 200)
    (toy_load / "t.csv").write_text("image,label\nx.png,a\ny.png,b\n")
    out = toy_load / "f.npy"
    assert main(["embed", "--checkpoint", str(toy_load / "run"), "--dataset", f"csv:{toy_load / 't.csv'}",
                 "--image-root", str(toy_load / "photos"), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    assert np.load(out).shape[0] == 2 and out.with_suffix(".txt").read_text().split()[1].endswith("y.png")
    assert out.with_suffix(".rows.csv").read_text().splitlines()[0] == "file,label,group,split"


def test_embedded_rows_carry_the_label_group_and_split_eval_reads(toy_load):
    import csv

    from facessl.data.formats.csvtable import read_csv_table

    lines = ["image,emotion,person"]
    for i in range(24):
        png(toy_load / "photos" / f"p{i}.png", 10 * i)
        lines.append(f"p{i}.png,{('happy', 'sad', 'calm')[i % 3]},S{i % 6}")
    (toy_load / "t.csv").write_text("\n".join(lines) + "\n")
    out = toy_load / "f.csv"
    assert main(["embed", "--checkpoint", str(toy_load / "run"), "--dataset", f"csv:{toy_load / 't.csv'}",
                 "--image-root", str(toy_load / "photos"), "--label-column", "emotion", "--group-column", "person",
                 "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    rows = list(csv.DictReader(open(out)))
    data = read_csv_table(toy_load / "t.csv", images=toy_load / "photos", label_column="emotion",
                          group_column="person")
    assert [r["file"] for r in rows] == [str(f) for f in data.images]
    assert [r["label"] for r in rows] == [("happy", "sad", "calm")[int(Path(f).stem[1:]) % 3] for f in data.images]
    assert [r["group"] for r in rows] == list(data.labels["group"]) and set(r["split"] for r in rows) == {"train", "test"}
    assert [r["split"] for r in rows] == list(data.split)  # the split eval probes with
    assert len(rows[0]) == 4 + 140  # file, label, group, split, then the features


def test_embed_a_folder_skips_and_counts_undecodable_photos(toy_load, capsys):
    png(toy_load / "imgs" / "a.png", 10)
    png(toy_load / "imgs" / "c.png", 200)
    (toy_load / "imgs" / "b.jpg").write_bytes(b"<html>not a photo</html>")
    args = ["embed", "--checkpoint", str(toy_load / "run"), "--images", str(toy_load / "imgs"), "--device", "cpu"]
    assert main([*args, "--out", str(toy_load / "g.npy")]) == 0  # met while computing: skipped and named
    assert "skipped 1 image(s) that do not decode: b.jpg" in capsys.readouterr().out
    assert (toy_load / "g.txt").read_text().split() == ["a.png", "c.png"] and np.load(toy_load / "g.npy").shape[0] == 2
    assert main([*args, "--out", str(toy_load / "f.npy"), "--skip-missing"]) == 0  # checked before computing
    assert (toy_load / "f.txt").read_text().split() == ["a.png", "c.png"] and np.load(toy_load / "f.npy").shape[0] == 2
    printed = capsys.readouterr().out
    assert "found 3 images" in printed and "skipped 1 that do not decode (e.g." in printed and "b.jpg" in printed


def test_a_much_wider_feature_than_at_the_training_size_is_noted(tmp_path, monkeypatch, capsys):
    class MapEncoder(ToyEncoder):  # its map, flattened: as wide as the input is large
        feature_names = ("fs",)

        def features(self, images):
            return {"fs": self.conv(images).flatten(1)}

    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": MapEncoder())
    (tmp_path / "run").mkdir()
    png(tmp_path / "imgs" / "a.png", 10)
    args = ["embed", "--checkpoint", str(tmp_path / "run"), "--images", str(tmp_path / "imgs"), "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "f.npy"), "--size", "64"]) == 0  # 32x32x8 against 8x8x8 at 16 px
    assert "note: a feature map grows with its input: at the training size, 16 px, 'fs' is 512-d" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "g.npy"), "--size", "24"]) == 0  # 12x12x8: 2.25x, as probes choose
    assert "note:" not in capsys.readouterr().out
