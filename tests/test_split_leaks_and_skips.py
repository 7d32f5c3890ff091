"""Byte-identical images across a split (kept together when facessl draws the split, counted when the dataset gives
it) and skipped files named, not only counted, by `eval` (console, results.md, results.json) and `inspect`."""
import json

import numpy as np
import pytest

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data.copies import Copies
from facessl.data.formats.common import ImageSet
from facessl.data.formats.csvtable import read_csv_table
from facessl.data.formats.grouping import grouped_stratified_split
from facessl.data.formats.imagefiles import save_image
from facessl.data.formats.imagefolder import read_imagefolder
from facessl.evaluate.splits import keep_copies_together

CLI_FAST = ["--seeds", "1", "--epochs", "2", "--baselines", "none", "--device", "cpu", "--no-cache"]


def face(seed: int, colour: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(colour + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def toy_load(monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())


def copied_folder(root, split_folders=False):
    """Classes happy / sad / surprise; `surprise /` (one class with `surprise/`) holds copies of 12 of surprise's
    files under the same names, as the user's walk-through had. With split_folders: train/ and test/, and three test
    images copies of training images."""
    for label, colour in (("happy", 200), ("sad", 60), ("surprise", 130)):
        for i in range(20):
            side = ("test" if i % 5 == 0 else "train") if split_folders else ""
            folder = root / side / label
            folder.mkdir(parents=True, exist_ok=True)
            save_image(folder / f"{label}_{i:02d}.png", face(100 * colour + i, colour))
    if split_folders:
        for i in (1, 2, 3):
            (root / "test" / "happy" / f"copy_{i}.png").write_bytes((root / "train" / "happy" / f"happy_{i:02d}.png").read_bytes())
    else:
        (root / "surprise ").mkdir()
        for i in range(12):
            name = f"surprise_{i:02d}.png"
            (root / "surprise " / name).write_bytes((root / "surprise" / name).read_bytes())
    return root


def copy_sets_on_both_sides(data: ImageSet) -> list:
    return [m for m in Copies(data.images).groups() if len(set(np.asarray(data.split)[m].tolist())) > 1]


def test_copies_are_drawn_on_one_side_of_an_image_folders_seeded_split(tmp_path):
    data = read_imagefolder(copied_folder(tmp_path / "if2"))
    assert len(data) == 72 and data.meta["class_names"] == ["happy", "sad", "surprise"]
    sets = Copies(data.images).groups()
    assert len(sets) == 12 and all(len(m) == 2 for m in sets)
    # the split drawn as before (each file its own group) puts copies on both sides: the check can fail
    plain = grouped_stratified_split(data.labels["class"], data.labels["group"], 0.2, 0)
    assert any(len(set(plain[m].tolist())) > 1 for m in sets)
    assert copy_sets_on_both_sides(data) == []
    assert data.meta["split_drawn"] is True
    assert data.meta["copies_together"] == {"count": 12, "first": ["surprise/surprise_00.png",
                                                                    "surprise /surprise_00.png"]}
    assert len(set(data.labels["group"].tolist())) == 72  # the groups themselves stay each file's (the person)


def test_copies_listed_under_two_names_in_a_csv_stay_on_one_side(tmp_path):
    (tmp_path / "img").mkdir()
    lines = ["image,label"]
    for i in range(40):
        save_image(tmp_path / "img" / f"a{i}.png", face(i, 60 + 100 * (i % 2)))
        lines.append(f"a{i}.png,{('x', 'y')[i % 2]}")
    for i in range(0, 40, 3):  # the same photo saved again under another name
        (tmp_path / "img" / f"b{i}.png").write_bytes((tmp_path / "img" / f"a{i}.png").read_bytes())
        lines.append(f"b{i}.png,{('x', 'y')[i % 2]}")
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    data = read_csv_table(tmp_path / "t.csv", images=tmp_path / "img")
    sets = Copies(data.images).groups()
    assert len(sets) == 14
    plain = grouped_stratified_split(data.labels["class"], data.labels["group"], 0.2, 0)
    assert any(len(set(plain[m].tolist())) > 1 for m in sets)  # without the grouping they would leak
    assert copy_sets_on_both_sides(data) == []
    assert data.meta["copies_together"]["count"] == 14


def test_another_readers_drawn_split_gets_its_copies_moved_and_a_given_one_is_left(tmp_path):
    """In-memory images (FER-2013's pixel rows) compared as arrays; a reader that does not group copies itself is
    fixed by evaluation when its split is drawn (known by its wording), and left alone when given."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (40, 8, 8, 3), dtype=np.uint8)
    images[30:] = images[:10]  # rows 30..39 copy rows 0..9
    split = np.array(["train"] * 20 + ["test"] * 20)
    drawn = ImageSet(images, {"class": np.arange(40) % 2}, split, "toy",
                     meta={"split_from": "seeded (0) stratified split, 20% test, grouped by row"})
    fixed = keep_copies_together(drawn)
    assert copy_sets_on_both_sides(drawn) and not copy_sets_on_both_sides(fixed)
    assert fixed.meta["copies_together"] == {"count": 10, "first": ["row 0", "row 30"], "moved": True}
    assert (fixed.split[30:] == "train").all() and (fixed.split[20:30] == "test").all()
    assert (drawn.split[30:] == "test").all()  # the reader's set is not changed in place
    given = ImageSet(images, dict(drawn.labels), split, "toy", meta={"split_from": "the release's lists"})
    assert keep_copies_together(given) is given


def test_a_given_splits_test_copies_of_training_images_are_counted_and_said(tmp_path, toy_load, capsys):
    root = copied_folder(tmp_path / "given", split_folders=True)
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", f"imagefolder:{root}", "--out", str(out),
                 *CLI_FAST]) == 0
    info = json.loads((out / "results.json").read_text())["tasks"][0]["info"]
    assert info["test_copies_of_train"] == {"count": 3, "first": ["test/happy/copy_1.png", "train/happy/happy_01.png"]}
    assert info["test_rows"] == 15  # kept: the protocol is the dataset's
    line = ("3 test images are byte-identical to training images (first: test/happy/copy_1.png = "
            "train/happy/happy_01.png)")
    assert line in (out / "results.md").read_text() and line in capsys.readouterr().err


def test_a_drawn_split_says_its_copies_were_kept_together_in_eval(tmp_path, toy_load):
    root = copied_folder(tmp_path / "if2")
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", f"imagefolder:{root}", "--out", str(out),
                 "--quiet", *CLI_FAST]) == 0
    info = json.loads((out / "results.json").read_text())["tasks"][0]["info"]
    assert info["copies_together"]["count"] == 12 and "test_copies_of_train" not in info
    assert "12 images are byte-identical to another image of the set: drawn on one side of the split" in \
        (out / "results.md").read_text()


def test_only_files_of_one_size_are_hashed(tmp_path, monkeypatch):
    files = []
    for i in range(30):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(b"x" * (100 + i))  # sizes all different ...
        files.append(str(path))
    (tmp_path / "g.bin").write_bytes(b"x" * 100)  # ... but this copy of f0
    (tmp_path / "h.bin").write_bytes(b"y" * 101)  # ... and this one of f1's size, not a copy
    files += [str(tmp_path / "g.bin"), str(tmp_path / "h.bin")]
    opened = []
    copies = Copies(files)
    real = Copies._digest
    monkeypatch.setattr(Copies, "_digest", lambda self, row, whole: opened.append(row) or real(self, row, whole))
    assert [m.tolist() for m in copies.groups()] == [[0, 30]]
    assert sorted(set(opened)) == [0, 1, 30, 31]


@pytest.fixture
def legend(tmp_path):
    """A CSV of 30 photos: one missing, five that do not decode."""
    (tmp_path / "imgs").mkdir()
    lines = ["image,emotion"]
    for i in range(30):
        label = ("happy", "sad")[i % 2]
        save_image(tmp_path / "imgs" / f"p{i:02d}.png", face(i, 60 + 120 * (i % 2)))
        lines.append(f"imgs/p{i:02d}.png,{label}")
    for i in range(5):
        (tmp_path / "imgs" / f"p{i:02d}.png").write_bytes(b"<html>404 Not Found</html>")
    lines.append("imgs/gone.png,happy")
    (tmp_path / "legend.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_eval_names_the_skipped_files(legend, toy_load, capsys):
    out = legend / "out"
    assert main(["eval", "--checkpoint", str(legend), "--dataset", f"csv:{legend / 'legend.csv'}", "--label-column",
                 "emotion", "--skip-missing", "--out", str(out), *CLI_FAST]) == 0
    info = json.loads((out / "results.json").read_text())["tasks"][0]["info"]
    assert info["dropped"] == {"missing_image": 1, "undecodable image": 5}
    assert info["dropped_names"] == {"missing_image": ["imgs/gone.png"],
                                     "undecodable image": [f"imgs/p{i:02d}.png" for i in range(5)]}
    md = (out / "results.md").read_text()
    assert ("rows skipped by the reader: missing image 1 (imgs/gone.png), undecodable image 5 (imgs/p00.png, "
            "imgs/p01.png, imgs/p02.png ... (2 more))") in md
    err = capsys.readouterr().err
    assert "skipped 1 missing image (imgs/gone.png), 5 undecodable image (imgs/p00.png" in err


def test_inspect_names_the_skipped_files(legend, capsys):
    assert main(["inspect", "--dataset", f"csv:{legend / 'legend.csv'}", "--label-column", "emotion",
                 "--skip-missing"]) == 0
    out = capsys.readouterr().out
    assert "skipped: missing image 1, undecodable image 5" in out
    assert "  missing image: imgs/gone.png" in out
    assert "  undecodable image: imgs/p00.png, imgs/p01.png, imgs/p02.png ... (2 more)" in out


def test_eval_and_inspect_name_pictures_without_a_face(tmp_path, monkeypatch, toy_load, capsys):
    from test_detect_faces import photo

    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "photos"
    for label, seeds in (("happy", (0, 1, 2)), ("sad", (3, 4, 5))):
        (root / label).mkdir(parents=True)
        for seed in seeds:
            save_image(root / label / f"p{seed}.png", photo(seed))
    save_image(root / "sad" / "wall.png", np.full((128, 160, 3), 100, np.uint8))
    (root / "happy" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    assert main(["inspect", "--dataset", f"imagefolder:{root}", "--detect-faces"]) == 0
    out = capsys.readouterr().out
    assert "  image without a face (--detect-faces): sad/wall.png" in out and "  undecodable image: happy/broken.jpg" in out
    out_dir = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", f"imagefolder:{root}", "--detect-faces",
                 "--reader-option", "face_size=48", "--test-fraction", "0.34", "--out", str(out_dir), "--quiet", *CLI_FAST]) == 0
    info = json.loads((out_dir / "results.json").read_text())["tasks"][0]["info"]
    assert info["dropped_names"] == {"image without a face (--detect-faces)": ["sad/wall.png"],
                                     "undecodable image": ["happy/broken.jpg"]}
    assert "image without a face (--detect-faces) 1 (sad/wall.png)" in (out_dir / "results.md").read_text()


def test_classes_of_one_repeated_picture_are_drawn_as_before_and_counted(tmp_path, toy_load):
    """Copies filling whole classes cannot be kept on one side without leaving a class untested: the split is
    drawn as it was, and evaluation counts the test copies instead."""
    root = tmp_path / "faces"
    for k in range(24):
        (root / "ab"[k % 2]).mkdir(parents=True, exist_ok=True)
        save_image(root / "ab"[k % 2] / f"{k:02d}.png", np.full((8, 8, 3), 40 + 150 * (k % 2), np.uint8))
    data = read_imagefolder(root)
    assert set(data.split.tolist()) == {"train", "test"} and data.meta["copies_together"]["kept"] is False
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", f"imagefolder:{root}", "--out", str(out),
                 "--quiet", *CLI_FAST]) == 0
    info = json.loads((out / "results.json").read_text())["tasks"][0]["info"]
    assert info["test_copies_of_train"]["count"] == info["test_rows"] and info["test_copies_of_train"]["drawn"]
    assert "the drawn split could not keep them apart" in (out / "results.md").read_text()
