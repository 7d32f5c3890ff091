"""AgeDB read in the layout it is distributed in (formats/agedb.py): AgeDB/<number>_<Name>_<age>_<gender>.jpg.
Every fixture is written here from the documented naming (tiny JPEGs), never from the real data."""
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
from facessl.data.formats.agedb import name_labels
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate.suite import FORMAT_TASK
from test_generic_eval import CLI_FAST

RNG = np.random.default_rng(3)
PEOPLE = ("MariaCallas", "AlbertEinstein", "AudreyHepburn", "MarieCurie", "CharlieChaplin", "GraceKelly",
          "NelsonMandela", "FridaKahlo", "PabloPicasso", "IngridBergman")
# Names not in the number_name_age_gender form (or out of range): skipped and counted.
NOT_AGEDB = ("MariaCallas_35_f.jpg", "7_MariaCallas_f.jpg", "7_MariaCallas_35_x.jpg", "7_MariaCallas_135_f.jpg",
             "7_MariaCallas_35.jpg", "photo.jpg")


def save(path, level=None, size=8):
    return save_jpeg(path, RNG, level, size)


def labels_of(i):
    """(name, age, gender) of photo i: 6 photos a person, ages spread over a life, gender alternating by person."""
    person = i // 6
    name = PEOPLE[person % len(PEOPLE)] + ("" if person < len(PEOPLE) else str(person))
    return name, 5 + (i * 13) % 90, "mf"[person % 2]


def write_agedb(folder, n=60, level=False):
    names = []
    for i in range(n):
        name, age, gender = labels_of(i)
        names.append(f"{i}_{name}_{age}_{gender}.jpg")
        save(folder / names[-1], 30 + 2 * age if level else None, size=12 if level else 8)
    return names


def write_clutter(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Thumbs.db").write_bytes(b"\x00thumbs")
    (folder / "README.txt").write_text("AgeDB\n")
    (folder / "._0_MariaCallas_35_f.jpg").write_bytes(b"resource fork")
    (folder / "__MACOSX").mkdir(exist_ok=True)
    (folder / "__MACOSX" / "0_MariaCallas_35_f.jpg").write_bytes(b"resource fork")


def by_name(got):
    return {str(p).rsplit("/", 1)[1]: i for i, p in enumerate(got.images)}


@pytest.mark.parametrize("tree, root", [("AgeDB", ""), ("AgeDB", "AgeDB"), ("AgeDB/AgeDB", ""), ("agedb", ""),
                                        ("AgeDB/AgeDB", "AgeDB")])
def test_agedb_layouts_age_target_and_split_grouped_by_person(tmp_path, tree, root):
    names = write_agedb(tmp_path / tree)
    write_clutter(tmp_path / tree)
    got = formats.read("agedb", tmp_path / root)
    assert len(got) == 60 and got.dropped == {} and "unrecognised_files" not in got.meta
    rows = by_name(got)
    assert got.labels["target"].shape == (60, 1) and got.meta["target_columns"] == ["age"] and "class" not in got.labels
    for i in (0, 7, 59):
        assert got.labels["target"][rows[names[i]], 0] == labels_of(i)[1]
        assert got.labels["group"][rows[names[i]]] == labels_of(i)[0]
    assert got.meta["people"] == 10 and got.meta["target"] == "age"
    assert set(got.split) == {"train", "test"} and list(got.split).count("test") == 12  # 2 of 10 people, 6 photos each
    for person in set(got.labels["group"]):  # no person on both sides
        assert len(set(got.split[got.labels["group"] == person])) == 1
    assert "grouped by person" in got.meta["split_from"] and "no person on both sides" in got.meta["split_from"]
    again = formats.read("agedb", tmp_path / root)
    assert list(again.split) == list(got.split) and list(again.images) == list(got.images)
    assert FORMAT_TASK["agedb"] == "regression" and "agedb" in formats.FORMAT_NAMES


def test_agedb_names_not_in_the_form_are_skipped_and_counted(tmp_path):
    folder = tmp_path / "AgeDB"
    write_agedb(folder, n=12)
    for name in NOT_AGEDB:
        save(folder / name)
    odd = {"100_Jean-Paul_Belmondo_40_m.jpg": ("Jean-Paul_Belmondo", 40, 0), "101_Dr.No_1_F.JPG": ("Dr.No", 1, 1),
           "102_MariaCallas_120_f.png": ("MariaCallas", 120, 1)}
    for name in odd:
        save(folder / name)
    got = formats.read("agedb", tmp_path)
    assert len(got) == 15 and got.dropped == {"file name not in the AgeDB form": len(NOT_AGEDB)}
    assert set(got.meta["unrecognised_files"]) == set(NOT_AGEDB)
    rows = by_name(got)
    for name, (person, age, gender) in odd.items():
        assert got.labels["group"][rows[name]] == person and got.labels["target"][rows[name], 0] == age
        assert name_labels(name)["gender"] == gender
    assert name_labels("0_MariaCallas_35_f.jpg") == {"number": 0, "name": "MariaCallas", "age": 35, "gender": 1}
    for name in NOT_AGEDB:
        assert name_labels(name) is None


def test_agedb_gender_target_split_stratified_and_grouped(tmp_path):
    names = write_agedb(tmp_path / "AgeDB", n=120)
    got = formats.read("agedb", tmp_path, target="GENDER")
    assert got.meta["class_names"] == ["male", "female"] and got.meta["target"] == "gender"
    assert "target" not in got.labels
    rows = by_name(got)
    assert [got.labels["class"][rows[names[i]]] for i in range(0, 120, 6)] == [p % 2 for p in range(20)]
    for c in (0, 1):  # stratified: both genders on both sides
        assert set(got.split[got.labels["class"] == c]) == {"train", "test"}
    for person in set(got.labels["group"]):
        assert len(set(got.split[got.labels["group"] == person])) == 1
    assert "stratified" in got.meta["split_from"]


def test_agedb_seed_and_test_fraction(tmp_path):
    write_agedb(tmp_path / "AgeDB", n=120)
    base = formats.read("agedb", tmp_path)
    other = formats.read("agedb", tmp_path, seed=5)
    assert list(other.split) != list(base.split) and list(other.split).count("test") == 24
    half = formats.read("agedb", tmp_path, test_fraction="0.5")
    assert list(half.split).count("test") == 60 and "50% test" in half.meta["split_from"]
    for bad in (0, 1.5, "most"):
        message = f"agedb: test_fraction must be a number in (0, 1), got {bad!r}"
        with pytest.raises(FacesslError, match=re.escape(message)):
            formats.read("agedb", tmp_path, test_fraction=bad)


def test_agedb_errors_name_the_path(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: AgeDB not found: expected "
                                                        "AgeDB/0_MariaCallas_35_f.jpg here")):
        formats.read("agedb", tmp_path / "absent")
    write_clutter(tmp_path / "empty" / "AgeDB")
    with pytest.raises(DataFormatError, match=r"empty/AgeDB: no AgeDB images found \(expected "
                                              r"AgeDB/0_MariaCallas_35_f\.jpg\)"):
        formats.read("agedb", tmp_path / "empty")
    save(tmp_path / "odd" / "AgeDB" / "MariaCallas_35_f.jpg")
    with pytest.raises(DataFormatError, match=r"odd/AgeDB: no AgeDB images found: 1 file\(s\) not named like "
                                              r"0_MariaCallas_35_f\.jpg \(number_name_age_gender; e\.g\. "
                                              r"MariaCallas_35_f\.jpg\)"):
        formats.read("agedb", tmp_path / "odd")
    write_agedb(tmp_path / "set" / "AgeDB", n=6)
    with pytest.raises(FacesslError, match="agedb target 'race': expected one of age, gender"):
        formats.read("agedb", tmp_path / "set", target="race")


def test_eval_cli_on_agedb_regresses_the_age_in_years(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    write_agedb(tmp_path / "agedb" / "AgeDB", n=90, level=True)
    save(tmp_path / "agedb" / "AgeDB" / NOT_AGEDB[0])
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"agedb:{tmp_path / 'agedb'}",
                 "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "regression" and task["info"]["columns"] == ["age"]
    assert task["info"]["dropped"] == {"file name not in the AgeDB form": 1}
    assert task["info"]["train_rows"] + task["info"]["val_rows"] + task["info"]["test_rows"] == 90
    assert "grouped by person" in task["info"]["split"]
    floor = task["rows"]["floor"]["mean prediction"]["metrics"]["mae_age"]["mean"]
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["mae_age"]["mean"] < floor  # brightness follows the age


def test_target_gender_makes_the_default_task_classification():
    from facessl.evaluate.suite import TaskSpec

    assert TaskSpec("", "agedb:/data/AgeDB", options={"target": "gender"}).task == "classification"
    assert TaskSpec("", "agedb:/data/AgeDB").task == "regression"
