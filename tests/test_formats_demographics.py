"""UTKFace and FairFace read in the layouts they are distributed and commonly unpacked in (docs/data_formats.md,
formats/utkface.py, formats/fairface.py). Every fixture is written here from the documented layout (tiny
JPEGs), never from the real data."""
import json
import re

import numpy as np
import pytest
from PIL import Image

import facessl
from image_toys import save_jpeg
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data import formats
from facessl.data.formats.common import load_image
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate.suite import FORMAT_TASK
from test_generic_eval import CLI_FAST

RNG = np.random.default_rng(5)
# Names the release carries with a field missing: skipped and counted.
MISSING_RACE = ("39_1_20170116174525125.jpg.chip.jpg", "61_1_20170109142408075.jpg.chip.jpg",
                "61_3_20170109150557335.jpg.chip.jpg")
# Names whose extension is mangled but whose labels are all there: read.
MANGLED_EXTENSION = {"24_0_1_20170116220224657 .jpg.chip.jpg": (24, 0, 1),
                     "55_0_0_20170116232725357jpg.chip.jpg": (55, 0, 0)}
FAIRFACE_RACES = ("White", "Black", "Latino_Hispanic", "East Asian", "Southeast Asian", "Indian", "Middle Eastern")
FAIRFACE_AGES = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70")


def save(path, level=None, size=8):
    return save_jpeg(path, RNG, level, size)


def utk_name(i, age, gender, race, chip=True):
    return f"{age}_{gender}_{race}_201701161{i:08d}.jpg" + (".chip.jpg" if chip else "")


def utk_labels(i):
    return 1 + (i * 7) % 90, i % 2, i % 5


def write_utkface(folder, n=40, chip=True, level=False):
    """n faces named age_gender_race_time; `level`: brightness follows the age (for the probe)."""
    names = []
    for i in range(n):
        age, gender, race = utk_labels(i)
        names.append(utk_name(i, age, gender, race, chip))
        save(folder / names[-1], 30 + 2 * age if level else None, size=12 if level else 8)
    return names


def write_clutter(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Thumbs.db").write_bytes(b"\x00thumbs")
    (folder / "README.txt").write_text("UTKFace\n")
    (folder / "._25_0_1_20170116174525125.jpg.chip.jpg").write_bytes(b"resource fork")
    (folder / "__MACOSX").mkdir(exist_ok=True)
    (folder / "__MACOSX" / "25_0_1_20170116174525125.jpg.chip.jpg").write_bytes(b"resource fork")


def by_name(got):
    return {str(p).rsplit("/", 1)[1]: i for i, p in enumerate(got.images)}


# --- UTKFace -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tree, root", [("UTKFace", ""), ("UTKFace", "UTKFace"), ("UTKFace/UTKFace", ""),
                                        ("utkface_aligned_cropped/UTKFace", ""), ("crop_part1", "")])
def test_utkface_layouts_age_target_and_split(tmp_path, tree, root):
    names = write_utkface(tmp_path / tree)
    write_clutter(tmp_path / tree)
    got = formats.read("utkface", tmp_path / root)
    assert len(got) == 40 and got.dropped == {} and "unrecognised_files" not in got.meta
    rows = by_name(got)
    assert got.labels["target"].shape == (40, 1) and got.meta["target_columns"] == ["age"]
    assert got.labels["target"][rows[names[3]], 0] == utk_labels(3)[0] and "class" not in got.labels
    assert got.meta["variant"] == ("crop_part1" if tree == "crop_part1" else "aligned")
    assert set(got.split) == {"train", "test"} and sum(got.split == "test") == 8
    assert "no identity labels" in got.meta["split_from"] and "same person may be on both sides" in got.meta["split_from"]
    assert len(set(got.labels["group"])) == 40  # each image its own group
    again = formats.read("utkface", tmp_path / root)
    assert list(again.split) == list(got.split) and list(again.images) == list(got.images)
    assert FORMAT_TASK["utkface"] == "regression" and "utkface" in formats.FORMAT_NAMES


def test_utkface_quirky_names_are_skipped_counted_or_read(tmp_path):
    folder = tmp_path / "UTKFace"
    write_utkface(folder)
    for name in MISSING_RACE + ("30_2_0_20170116174525125.jpg.chip.jpg", "30_0_5_20170116174525125.jpg.chip.jpg",
                                "117_0_0_20170116174525125.jpg.chip.jpg", "face.jpg"):
        save(folder / name)
    for name in MANGLED_EXTENSION:
        save(folder / name)
    got = formats.read("utkface", tmp_path, target="race")
    assert len(got) == 42 and got.dropped == {"file name not in the UTKFace form": 7}
    assert set(MISSING_RACE) <= set(got.meta["unrecognised_files"]) and "face.jpg" in got.meta["unrecognised_files"]
    rows = by_name(got)
    for name, (age, gender, race) in MANGLED_EXTENSION.items():
        assert got.labels["class"][rows[name]] == race
    ages = formats.read("utkface", tmp_path)
    assert ages.labels["target"][by_name(ages)["24_0_1_20170116220224657 .jpg.chip.jpg"], 0] == 24


@pytest.mark.parametrize("target, names", [("gender", ["male", "female"]),
                                           ("race", ["White", "Black", "Asian", "Indian", "Others"])])
def test_utkface_class_targets_and_their_format_names(tmp_path, target, names):
    write_utkface(tmp_path / "UTKFace", n=50)
    got = formats.read("utkface", tmp_path, target=target.upper())
    assert got.meta["class_names"] == names and "target" not in got.labels
    index = {"gender": 1, "race": 2}[target]
    rows = by_name(got)
    for i in range(50):
        assert got.labels["class"][rows[utk_name(i, *utk_labels(i))]] == utk_labels(i)[index]
    for c in range(len(names)):  # stratified: every class on both sides
        assert set(got.split[got.labels["class"] == c]) == {"train", "test"}
    assert "stratified" in got.meta["split_from"]
    named = formats.read(f"utkface-{target}", tmp_path)
    assert list(named.labels["class"]) == list(got.labels["class"]) and list(named.split) == list(got.split)
    assert FORMAT_TASK[f"utkface-{target}"] == "classification"


def test_utkface_variants_and_in_the_wild_faces_cropped_by_their_landmarks(tmp_path):
    write_utkface(tmp_path / "UTKFace", n=12)
    write_utkface(tmp_path / "crop_part1", n=6)
    wild = write_utkface(tmp_path / "part1", n=6, chip=False) + [utk_name(50, 20, 1, 2, chip=False)]
    save(tmp_path / "part2" / wild[-1], size=40)
    points = np.stack([np.linspace(10, 30, 68), np.linspace(5, 25, 68)], 1)  # box 10..30 x 5..25
    lines = [" ".join([wild[0]] + [f"{v:g}" for v in points.ravel()]) + " ",  # a trailing space, as released
             " ".join([wild[-1]] + [f"{v:g}" for v in (points / 2).ravel()])]
    (tmp_path / "landmark_list_part1.txt").write_bytes(("\r\n".join(lines[:1]) + "\r\n").encode())
    (tmp_path / "landmark_list_part2.txt").write_text(lines[1] + "\n")
    assert len(formats.read("utkface", tmp_path)) == 12  # the aligned faces when present
    assert len(formats.read("utkface", tmp_path, variant="crop_part1")) == 6
    got = formats.read("utkface", tmp_path, variant="wild")
    assert len(got) == 7 and got.meta["variant"] == "wild" and got.meta["faces_from_landmarks"] == 2
    rows = by_name(got)
    face = got.images[rows[wild[0]]]
    assert isinstance(face, BoxedImage)
    assert face.box == pytest.approx((20 - 12.5, 15 - 12.5, 20 + 12.5, 15 + 12.5))  # the 20x20 box enlarged by 1.25
    assert load_image(face).shape == (25, 25, 3)
    assert isinstance(got.images[rows[wild[-1]]], BoxedImage) and "part2" in got.images[rows[wild[-1]]]
    assert not isinstance(got.images[rows[wild[1]]], BoxedImage)  # no landmark line: the whole photo
    assert got.labels["target"][rows[wild[-1]], 0] == 20
    direct = formats.read("utkface", tmp_path / "part1")  # a part folder given directly, its lists beside it
    assert direct.meta["variant"] == "wild" and direct.meta["faces_from_landmarks"] == 1


def test_utkface_errors_name_the_path(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: UTKFace not found: expected "
                                                        "UTKFace/25_0_1_20170116174525125.jpg.chip.jpg")):
        formats.read("utkface", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="empty: UTKFace not found"):
        formats.read("utkface", tmp_path / "empty")
    save(tmp_path / "odd" / "UTKFace" / MISSING_RACE[0])
    with pytest.raises(DataFormatError, match=r"odd: no UTKFace images found: 1 image file\(s\) not named like "
                                              r"25_0_1_20170116174525125\.jpg\.chip\.jpg \(e\.g\. 39_1_"):
        formats.read("utkface", tmp_path / "odd")
    write_utkface(tmp_path / "set" / "UTKFace", n=4)
    with pytest.raises(DataFormatError, match=r"set: UTKFace variant 'wild' not found: expected part1/, part2/, "
                                              r"part3/ here \(found: aligned\)"):
        formats.read("utkface", tmp_path / "set", variant="wild")
    with pytest.raises(FacesslError, match="utkface variant 'cropped': expected one of aligned, crop_part1, wild"):
        formats.read("utkface", tmp_path / "set", variant="cropped")
    with pytest.raises(FacesslError, match="utkface target 'ethnicity': expected one of age, gender, race"):
        formats.read("utkface", tmp_path / "set", target="ethnicity")
    names = write_utkface(tmp_path / "set" / "part1", n=3, chip=False)
    (tmp_path / "set" / "landmark_list_part1.txt").write_text(f"{names[0]} 1 2 3\n")
    with pytest.raises(DataFormatError, match=r"landmark_list_part1\.txt:1: expected a file name and 136 coordinates"):
        formats.read("utkface", tmp_path / "set", variant="wild")
    (tmp_path / "set" / "landmark_list_part1.txt").write_text("\n" + " ".join([names[0]] + ["1"] * 135 + ["x7"]) + "\n")
    with pytest.raises(DataFormatError, match=r"landmark_list_part1\.txt:2: expected a coordinate, got 'x7'"):
        formats.read("utkface", tmp_path / "set", variant="wild")


# --- FairFace ----------------------------------------------------------------------------------------------
def fairface_row(i, side):
    return f"{side}/{i + 1}.jpg", FAIRFACE_AGES[i % 9], ("Male", "Female")[i % 2], FAIRFACE_RACES[i % 7]


def write_fairface(root, images=("fairface-img-margin025-trainval",), n_train=28, n_val=14, level=False,
                   bom=True, crlf=True):
    """The two label files (BOM and CRLF as a Windows copy has them) and the image folders they name;
    `level`: brightness follows the race (for the probe)."""
    root.mkdir(parents=True, exist_ok=True)
    for side, n, name in (("train", n_train, "fairface_label_train.csv"), ("val", n_val, "fairface_label_val.csv")):
        lines = ["file,age,gender,race,service_test"]
        for i in range(n):
            file, age, gender, race = fairface_row(i, side)
            lines.append(f"{file},{age},{gender},{race},{i % 3 == 0}")
            for folder in images:
                save(root / folder / file, 30 + 30 * (i % 7) if level else None, size=12 if level else 8)
        text = ("\r\n" if crlf else "\n").join(lines) + "\n"
        (root / name).write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())


@pytest.mark.parametrize("layout", ["release", "root is the image folder", "nested twice", "kaggle"])
def test_fairface_layouts_race_classes_and_official_split(tmp_path, layout):
    images = {"release": "fairface-img-margin025-trainval", "root is the image folder": "fairface-img-margin025-trainval",
              "nested twice": "fairface-img-margin025-trainval/fairface-img-margin025-trainval", "kaggle": "."}[layout]
    write_fairface(tmp_path / "FairFace", images=(images,))
    root = tmp_path / "FairFace" / ("fairface-img-margin025-trainval" if layout.startswith("root") else "")
    got = formats.read("fairface", root)
    assert len(got) == 42 and got.dropped == {}
    assert got.meta["class_names"] == list(FAIRFACE_RACES) and got.meta["target"] == "race"
    assert got.meta["padding"] == (None if layout == "kaggle" else "0.25")
    assert list(got.split).count("train") == 28 and list(got.split).count("test") == 14
    assert all(p.endswith(("train/1.jpg", "train/2.jpg")) for p in got.images[:2])
    test_rows = [i for i, p in enumerate(got.images) if "/val/" in p]
    assert set(got.split[test_rows]) == {"test"}
    assert [FAIRFACE_RACES[c] for c in got.labels["class"][test_rows]] == [fairface_row(i, "val")[3] for i in range(14)]
    assert "no test labels were released" in got.meta["split_from"]
    assert len(set(got.labels["group"])) == 42 and FORMAT_TASK["fairface"] == "classification"


@pytest.mark.parametrize("target, index, classes", [("gender", 2, ("Male", "Female")), ("age", 1, FAIRFACE_AGES)])
def test_fairface_gender_and_ordered_age_bins(tmp_path, target, index, classes):
    write_fairface(tmp_path, bom=False, crlf=False)
    got = formats.read("fairface", tmp_path, target=target)
    assert got.meta["class_names"] == list(classes)
    assert [classes[c] for c in got.labels["class"][:28]] == [fairface_row(i, "train")[index] for i in range(28)]
    named = formats.read(f"fairface-{target}", tmp_path)
    assert list(named.labels["class"]) == list(got.labels["class"]) and FORMAT_TASK[f"fairface-{target}"] == "classification"


def test_fairface_padding_variant(tmp_path):
    write_fairface(tmp_path, images=("fairface-img-margin025-trainval", "fairface-img-margin125-trainval"))
    assert all("margin025" in p for p in formats.read("fairface", tmp_path).images)  # the paper's main padding
    for variant in ("1.25", 1.25, "125", "margin125"):
        got = formats.read("fairface", tmp_path, variant=variant)
        assert got.meta["padding"] == "1.25" and all("margin125" in p for p in got.images)
    with pytest.raises(FacesslError, match="fairface variant '0.5': expected the padding, one of 0.25, 1.25"):
        formats.read("fairface", tmp_path, variant="0.5")
    write_fairface(tmp_path / "only025")
    with pytest.raises(DataFormatError, match=r"only025: FairFace padding 1\.25 images not found: expected "
                                              r"fairface-img-margin125-trainval/train/1\.jpg here"):
        formats.read("fairface", tmp_path / "only025", variant="1.25")


def test_fairface_errors_name_the_file_line_and_columns(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: FairFace not found")):
        formats.read("fairface", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="empty: FairFace labels not found: expected fairface_label_train.csv "
                                              "and fairface_label_val.csv here"):
        formats.read("fairface", tmp_path / "empty")
    write_fairface(tmp_path / "ff")
    train = tmp_path / "ff" / "fairface_label_train.csv"
    text = train.read_bytes()
    train.write_text("file,age,sex\ntrain/1.jpg,20-29,Male\n")
    with pytest.raises(DataFormatError, match=r"fairface_label_train\.csv:1: no 'race' column: expected "
                                              r"file,age,gender,race,service_test \(the header has file, age, sex\)"):
        formats.read("fairface", tmp_path / "ff")
    train.write_bytes(text.replace(b"East Asian", b"Asian"))
    with pytest.raises(DataFormatError, match=r"fairface_label_train\.csv:5: race 'Asian' is not one of White, Black"):
        formats.read("fairface", tmp_path / "ff")
    train.write_bytes(text.replace(b"more than 70", b"70+"))
    with pytest.raises(DataFormatError, match=r"fairface_label_train\.csv:10: age '70\+' is not one of 0-2, "):
        formats.read("fairface", tmp_path / "ff", target="age")
    train.write_bytes(text)
    (tmp_path / "ff" / "fairface-img-margin025-trainval" / "val" / "3.jpg").unlink()
    with pytest.raises(DataFormatError, match=r"fairface_label_val\.csv:4: image .*val/3\.jpg named here does not exist"):
        formats.read("fairface", tmp_path / "ff")
    got = formats.read("fairface", tmp_path / "ff", skip_missing=True)
    assert len(got) == 41 and got.dropped == {"missing_image": 1}
    with pytest.raises(FacesslError, match="fairface target 'ethnicity': expected one of race, gender, age"):
        formats.read("fairface", tmp_path / "ff", target="ethnicity")
    write_fairface(tmp_path / "none", n_train=0, n_val=0)
    (tmp_path / "none" / "fairface-img-margin025-trainval" / "train").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="none: no FairFace images: the label files have no rows"):
        formats.read("fairface", tmp_path / "none")
    write_fairface(tmp_path / "noimages", images=())
    with pytest.raises(DataFormatError, match=r"noimages: no FairFace images: expected "
                                              r"fairface-img-margin025-trainval/train/1\.jpg"):
        formats.read("fairface", tmp_path / "noimages")


# --- end to end through `facessl eval` ---------------------------------------------------------------------
@pytest.fixture
def toy_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    return tmp_path / "run"


def test_eval_cli_on_utkface_regresses_the_age_in_years(tmp_path, toy_checkpoint):
    write_utkface(tmp_path / "utk" / "UTKFace", n=60, level=True)
    save(tmp_path / "utk" / "UTKFace" / MISSING_RACE[0])
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(toy_checkpoint), "--dataset", f"utkface:{tmp_path / 'utk'}",
                 "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "regression" and task["info"]["columns"] == ["age"]
    assert task["info"]["dropped"] == {"file name not in the UTKFace form": 1}
    assert task["info"]["train_rows"] + task["info"]["val_rows"] + task["info"]["test_rows"] == 60
    floor = task["rows"]["floor"]["mean prediction"]["metrics"]["mae_age"]["mean"]
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["mae_age"]["mean"] < floor  # brightness follows the age
    md = (out / "results.md").read_text()
    assert "### Regression (MAE in the columns' units, lower is better)" in md
    assert "| model | feature | age | MAE |" in md and "| floor | mean prediction |" in md
    assert "rows skipped by the reader: file name not in the UTKFace form 1" in md


def test_eval_cli_on_fairface_classifies_the_race(tmp_path, toy_checkpoint):
    write_fairface(tmp_path / "ff", n_train=70, n_val=28, level=True)
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(toy_checkpoint), "--dataset", f"fairface:{tmp_path / 'ff'}",
                 "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"] == list(FAIRFACE_RACES)
    assert task["info"]["test_rows"] == 28 and "no test labels were released" in task["info"]["split"]
    floor = task["rows"]["floor"]["majority class"]["metrics"]["mean_class_accuracy"]["mean"]
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["mean_class_accuracy"]["mean"] > floor + 0.1  # chance: 1/7
    md = (out / "results.md").read_text()
    assert "### Classification (accuracy, mean-class accuracy, macro F1; %)" in md
    assert "| floor | majority class |" in md


def test_eval_cli_reader_options_choose_the_target(tmp_path, toy_checkpoint, capsys):
    write_fairface(tmp_path / "ff", n_train=28, n_val=14)
    assert main(["eval", "--checkpoint", str(toy_checkpoint), "--dataset", f"fairface:{tmp_path / 'ff'}",
                 "--reader-option", "target=age", "--variant", "0.25", "--out", str(tmp_path / "out"), *CLI_FAST]) == 0
    task = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"][0]
    assert task["info"]["class_names"] == list(FAIRFACE_AGES)
    write_utkface(tmp_path / "utk" / "UTKFace", n=30)
    code = main(["eval", "--checkpoint", str(toy_checkpoint), "--dataset", f"utkface:{tmp_path / 'utk'}",
                 "--reader-option", "target=colour", "--out", str(tmp_path / "bad"), *CLI_FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "utkface target 'colour': expected one of age, gender, race" in err[0]


def test_utkface_target_option_sets_the_default_task():
    from facessl.evaluate.suite import TaskSpec

    assert TaskSpec("", "utkface:U").task == "regression"
    assert TaskSpec("", "utkface:U", options={"target": "race"}).task == "classification"
    assert TaskSpec("", "utkface:U", options={"target": "Age"}).task == "regression"
