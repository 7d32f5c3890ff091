"""Adience read in the layouts it is distributed and commonly unpacked in (formats/adience.py): fold_K_data.txt
(tab-separated, the release's header and age forms) beside aligned/ or faces/. Every fixture is written here from
the documented layout (tiny JPEGs), never from the real data."""
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
from facessl.data.formats.adience import AGE_GROUPS, age_group, nearest_group
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate.suite import FORMAT_TASK
from test_generic_eval import CLI_FAST

RNG = np.random.default_rng(11)
HEADER = ("user_id\toriginal_image\tface_id\tage\tgender\tx\ty\tdx\tdy\ttilt_ang\tfiducial_yaw_angle\t"
          "fiducial_score")
PREFIX = {"aligned": "landmark_aligned_face", "faces": "coarse_tilt_aligned_face"}
WRITTEN = ("(0, 2)", "(4, 6)", "(8, 12)", "(15, 20)", "(25, 32)", "(38, 43)", "(48, 53)", "(60, 100)")
KAGGLE = "AdienceBenchmarkGenderAndAgeClassification"


def save(path, level=None, size=8):
    return save_jpeg(path, RNG, level, size)


def user(fold, i):
    return f"{30601258 + 1000 * fold + i % 2}@N0{fold}"  # two albums per fold, none shared across folds


def default_row(fold, i):
    """(user_id, original_image, face_id, age, gender) of row i of a fold: every group, both genders."""
    return (user(fold, i), f"{10399646885 + 100 * fold + i}_67c7d20df9_o.jpg", str(1 + i % 3), WRITTEN[i % 8],
            "mf"[i % 2])


def write_adience(root, n=8, images=("aligned",), folds="", frontal=False, rows=None, crlf=False, bom=False,
                  level=False):
    """The five fold files (the release's header and 12 tab-separated fields) in root/`folds` and each image
    folder named in `images` (relative to root) with the faces they name. rows: fold -> list of rows to write
    instead of the default ones. level: brightness follows the age group (for the probe)."""
    written = {}
    for k in range(5):
        fold_rows = (rows or {}).get(k) or [default_row(k, i) for i in range(n)]
        lines = [HEADER] + ["\t".join(r) + "\t0\t414\t1086\t1383\t-115\t30\t17" for r in fold_rows]
        text = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")
        name = f"fold_{'frontal_' if frontal else ''}{k}_data.txt"
        path = root / folds / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
        for folder in images:
            variant = folder.rstrip("/").rsplit("/", 1)[-1]
            for u, original, face, age, _ in fold_rows:
                group = age_group(age)[0] if age not in ("None", "") else 0
                save(root / folder / u / f"{PREFIX[variant]}.{face}.{original}",
                     30 + 28 * group if level else None, size=12 if level else 8)
        written[k] = fold_rows
    return written


def image_name(row, variant="aligned"):
    u, original, face, _, _ = row
    return f"{u}/{PREFIX[variant]}.{face}.{original}"


def rows_by_image(got):
    return {"/".join(str(p).rsplit("/", 2)[-2:]): i for i, p in enumerate(got.images)}


# --- layouts, labels, folds --------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["release", "root is the image folder", "folds/", "images one level down",
                                    "kaggle nested twice", "crlf and bom"])
def test_adience_layouts_age_groups_and_fold_0_as_test(tmp_path, layout):
    images, folds, root, variant = ("aligned",), "", tmp_path, "aligned"
    if layout == "root is the image folder":
        root = tmp_path / "aligned"
    elif layout == "folds/":
        folds = "folds"
    elif layout == "images one level down":
        images, variant = (f"{KAGGLE}/faces",), "faces"
    elif layout == "kaggle nested twice":
        images, folds, variant = (f"{KAGGLE}/{KAGGLE}/faces",), f"{KAGGLE}/{KAGGLE}", "faces"
    written = write_adience(tmp_path, images=images, folds=folds, crlf=layout == "crlf and bom",
                            bom=layout == "crlf and bom")
    got = formats.read("adience", root)
    assert len(got) == 40 and got.dropped == {} and got.meta["variant"] == variant
    assert got.meta["class_names"] == ["0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100"]
    assert got.meta["target"] == "age" and got.meta["fold"] == 0 and got.meta["frontal"] is False
    index = rows_by_image(got)
    for k, rows in written.items():
        for i, row in enumerate(rows):
            r = index[image_name(row, variant)]
            assert got.labels["class"][r] == i % 8 and got.labels["fold"][r] == k
            assert got.labels["subject"][r] == row[0] and got.split[r] == ("test" if k == 0 else "train")
    assert "fold_0_data.txt is the test split" in got.meta["split_from"]
    assert "mean of fold=0..4" in got.meta["split_from"] and "subjects_in_train_and_test" not in got.meta
    assert FORMAT_TASK["adience"] == "classification" and "adience" in formats.FORMAT_NAMES


def test_adience_fold_option_chooses_the_test_fold(tmp_path):
    write_adience(tmp_path)
    for fold in (2, "3", " 4 "):
        got = formats.read("adience", tmp_path, fold=fold)
        k = int(str(fold))
        assert set(got.split[got.labels["fold"] == k]) == {"test"} and list(got.split).count("test") == 8
        assert set(got.split[got.labels["fold"] != k]) == {"train"}
        assert f"fold_{k}_data.txt is the test split" in got.meta["split_from"] and got.meta["fold"] == k
        assert not set(got.labels["subject"][got.split == "test"]) & set(got.labels["subject"][got.split == "train"])
    for bad in (5, "-1", "one", 1.5):
        with pytest.raises(FacesslError, match=re.escape(f"adience fold {bad!r}: expected the test fold, a whole "
                                                         "number 0-4")):
            formats.read("adience", tmp_path, fold=bad)


def test_adience_gender_drops_unknown_and_counts_it(tmp_path):
    rows = {k: [default_row(k, i)[:4] + (g,) for i, g in enumerate(["m", "f", "u", "", "M", "f"])] for k in range(5)}
    write_adience(tmp_path, rows=rows)
    got = formats.read("adience-gender", tmp_path)
    assert got.meta["class_names"] == ["male", "female"] and got.meta["target"] == "gender"
    assert len(got) == 20 and got.dropped == {"gender u or empty": 10}
    index = rows_by_image(got)
    assert got.labels["class"][index[image_name(rows[1][4])]] == 0  # 'M' read as m
    assert [got.labels["class"][index[image_name(rows[3][i])]] for i in (0, 1, 5)] == [0, 1, 1]
    ages = formats.read("adience", tmp_path)  # the age task keeps the babies' u rows
    assert len(ages) == 30 and ages.dropped == {}
    same = formats.read("adience", tmp_path, target="Gender")
    assert list(same.labels["class"]) == list(got.labels["class"]) and FORMAT_TASK["adience-gender"] == "classification"


# --- the ages as written -----------------------------------------------------------------------------------
@pytest.mark.parametrize("written, group, stray", [
    ("(0, 2)", "0-2", False), ("(4, 6)", "4-6", False), ("(8, 12)", "8-12", False), ("(15, 20)", "15-20", False),
    ("(25, 32)", "25-32", False), ("(38, 43)", "38-43", False), ("(48, 53)", "48-53", False),
    ("(60, 100)", "60-100", False), ("(25, 23)", "25-32", False), ("(8, 13)", "8-12", False),
    ("(25,32)", "25-32", False),
    ("(8, 23)", "8-12", True), ("(27, 32)", "25-32", True), ("(38, 42)", "38-43", True), ("(38, 48)", "38-43", True),
    ("2", "0-2", True), ("3", "0-2", True), ("13", "8-12", True), ("22", "15-20", True), ("23", "25-32", True),
    ("29", "25-32", True), ("32", "25-32", True), ("34", "25-32", True), ("35", "25-32", True), ("36", "38-43", True),
    ("42", "38-43", True), ("45", "38-43", True), ("46", "48-53", True), ("55", "48-53", True), ("56", "48-53", True),
    ("57", "60-100", True), ("58", "60-100", True), ("101", "60-100", True)])
def test_adience_age_values_as_written_and_stray(written, group, stray):
    assert age_group(written) == (AGE_GROUPS.index(group), stray)
    assert age_group(written, "drop") == ((None, True) if stray else (AGE_GROUPS.index(group), False))


def test_adience_nearest_group_is_monotone_and_halfway_goes_younger():
    groups = [nearest_group(a) for a in range(0, 110)]
    assert groups == sorted(groups) and set(groups) == set(range(8))
    assert (nearest_group(3), nearest_group(7), nearest_group(35)) == (0, 1, 4)
    assert age_group("None") == (None, False) and age_group(" ") == (None, False)
    with pytest.raises(ValueError):
        age_group("(25, 32")


def test_adience_stray_ages_mapped_or_dropped_and_counted(tmp_path):
    ages = ["(25, 32)", "35", "(38, 48)", "None", "", "(25, 23)", "57", "35"]
    rows = {k: [default_row(k, i)[:3] + (a, "f") for i, a in enumerate(ages)] for k in range(5)}
    write_adience(tmp_path, rows=rows)
    got = formats.read("adience", tmp_path)
    assert len(got) == 30 and got.dropped == {"age None or empty": 10}
    assert got.meta["stray_ages"] == {"35": 10, "(38, 48)": 5, "57": 5}
    index = rows_by_image(got)
    assert [AGE_GROUPS[got.labels["class"][index[image_name(rows[2][i])]]] for i in (0, 1, 2, 5, 6)] == \
        ["25-32", "25-32", "38-43", "25-32", "60-100"]
    dropped = formats.read("adience", tmp_path, stray_ages="DROP")
    assert len(dropped) == 10 and dropped.meta["stray_ages"] == {"35": 10, "(38, 48)": 5, "57": 5}
    assert dropped.dropped == {"age None or empty": 10, "age not one of the 8 groups (stray_ages=drop)": 20}
    with pytest.raises(FacesslError, match="adience stray_ages 'nearest': expected one of map, drop"):
        formats.read("adience", tmp_path, stray_ages="nearest")


def test_adience_rows_cut_short_by_trailing_tabs_read_as_empty(tmp_path):
    write_adience(tmp_path)
    path = tmp_path / "fold_1_data.txt"
    lines = path.read_text().splitlines()
    u, original, face, _, _ = default_row(1, 0)
    lines[1] = f"{u}\t{original}\t{face}\tNone\t\t\t\t\t\t\t\t"  # a None row whose other fields are empty
    lines[2] = "\t".join(default_row(1, 1)[:4]) + "\t"  # gender and everything after it missing
    path.write_text("\n".join(lines) + "\n\n")
    got = formats.read("adience", tmp_path)
    assert len(got) == 39 and got.dropped == {"age None or empty": 1}
    assert formats.read("adience-gender", tmp_path).dropped == {"gender u or empty": 2}


# --- variants ----------------------------------------------------------------------------------------------
def test_adience_variants_and_frontal_folds(tmp_path):
    write_adience(tmp_path, images=("aligned", "faces"))
    assert all("/aligned/" in p and "landmark_aligned_face." in p for p in formats.read("adience", tmp_path).images)
    faces = formats.read("adience", tmp_path, variant="Faces")
    assert faces.meta["variant"] == "faces" and all("coarse_tilt_aligned_face." in p for p in faces.images)
    with pytest.raises(FacesslError, match="adience variant 'cropped': expected one of aligned, faces"):
        formats.read("adience", tmp_path, variant="cropped")
    with pytest.raises(DataFormatError, match=r"Adience fold files not found: expected fold_frontal_0_data\.txt "
                                              r"\.\.\. fold_frontal_4_data\.txt .*\(found fold_0_data\.txt: drop "
                                              r"frontal=true\)"):
        formats.read("adience", tmp_path, frontal=True)
    frontal = tmp_path / "frontal"
    write_adience(frontal, n=3, frontal=True)
    for value in (True, "true", "yes"):
        got = formats.read("adience", frontal, frontal=value)
        assert len(got) == 15 and got.meta["frontal"] is True
        assert "fold_frontal_0_data.txt is the test split" in got.meta["split_from"]
    with pytest.raises(DataFormatError, match=r"fold_0_data\.txt \.\.\. fold_4_data\.txt .*\(found "
                                              r"fold_frontal_0_data\.txt: pass frontal=true\)"):
        formats.read("adience", frontal)
    only_faces = tmp_path / "only_faces"
    write_adience(only_faces, images=("faces",))
    assert formats.read("adience", only_faces).meta["variant"] == "faces"  # the one there is
    with pytest.raises(DataFormatError, match=r"only_faces: Adience aligned images not found: expected "
                                              r"aligned/<user_id>/landmark_aligned_face\.<face_id>\.<original_image> "
                                              r"beside the fold files \(found: faces/\)"):
        formats.read("adience", only_faces, variant="aligned")


# --- missing images and errors -----------------------------------------------------------------------------
def test_adience_missing_images_skipped_and_counted_by_default(tmp_path):
    written = write_adience(tmp_path)
    for k, i in ((0, 1), (3, 5)):
        (tmp_path / "aligned" / image_name(written[k][i])).unlink()
    got = formats.read("adience", tmp_path)
    assert len(got) == 38 and got.dropped == {"missing_image": 2}
    with pytest.raises(DataFormatError, match=r"fold_0_data\.txt:3: image .*landmark_aligned_face\.2\.10399646886_"
                                              r".* named here does not exist"):
        formats.read("adience", tmp_path, skip_missing=False)
    with pytest.raises(DataFormatError, match=r"fold_0_data\.txt:3: image"):
        formats.read("adience", tmp_path, skip_missing="false")
    wrong = tmp_path / "wrong"
    write_adience(wrong, images=())
    (wrong / "aligned" / "someone@N00").mkdir(parents=True)
    with pytest.raises(DataFormatError, match=r"wrong: no Adience images: all 40 images the fold files name are "
                                              r"missing from .*aligned \(expected <user_id>/landmark_aligned_face\."):
        formats.read("adience", wrong)


def test_adience_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: Adience not found")):
        formats.read("adience", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=r"empty: Adience fold files not found: expected fold_0_data\.txt \.\.\. "
                                              r"fold_4_data\.txt here, in folds/, or beside the image folder$"):
        formats.read("adience", tmp_path / "empty")
    write_adience(tmp_path / "noimages", images=())
    with pytest.raises(DataFormatError, match=r"noimages: no Adience images: expected aligned/ \(aligned\.tar\.gz\) or "
                                              r"faces/ \(faces\.tar\.gz\) beside the fold files"):
        formats.read("adience", tmp_path / "noimages")
    root = tmp_path / "set"
    write_adience(root)
    (root / "fold_3_data.txt").unlink()
    with pytest.raises(DataFormatError, match=r"set: Adience fold files incomplete: fold_3_data\.txt missing"):
        formats.read("adience", root)
    write_adience(root)
    path = root / "fold_2_data.txt"
    good = path.read_text()
    cases = [(good.replace("\tage\t", "\tage_group\t"),
              r"fold_2_data\.txt:1: no 'age' column: expected a tab-separated header user_id, original_image, "
              r"face_id, age, gender"),
             (good.replace("\t", "  ", 12), r"fold_2_data\.txt:1: no 'user_id' column"),
             ("", r"fold_2_data\.txt:1: empty fold file"),
             (good.replace("(15, 20)", "teen", 1), r"fold_2_data\.txt:5: age 'teen' is not a group like \(25, 32\), "
                                                   r"a number of years or None"),
             (good + "someone@N00 photo.jpg 1 (25, 32) m\n",
              r"fold_2_data\.txt:10: expected tab-separated fields user_id, original_image, face_id, age, gender, "
              r"\.\.\.; got 1"),
             (good + "someone@N00\tphoto.jpg\tx1\t(25, 32)\tm\n",
              r"fold_2_data\.txt:10: face_id 'x1' is not a whole number"),
             (good + "\tphoto.jpg\t1\t(25, 32)\tm\n", r"fold_2_data\.txt:10: empty user_id or original_image")]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(DataFormatError, match=message):
            formats.read("adience", root)
    path.write_text(good.replace("\tf\t", "\tw\t", 1))
    with pytest.raises(DataFormatError, match=r"fold_2_data\.txt:3: gender 'w' is not m, f, u or empty"):
        formats.read("adience-gender", root)
    path.write_text(HEADER + "\n" + "\t".join(default_row(2, 0)[:3]) + "\tNone\tu\n")
    for k in (0, 1, 3, 4):
        (root / f"fold_{k}_data.txt").write_text(HEADER + "\n")
    with pytest.raises(DataFormatError, match=r"set: no Adience faces: the fold files have no rows with a label"):
        formats.read("adience", root)


# --- end to end through `facessl eval` ---------------------------------------------------------------------
def test_eval_cli_on_adience_classifies_the_age_group_with_fold_0_as_test(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    groups = ("(0, 2)", "(25, 32)", "(60, 100)")
    rows = {k: [(user(k, i), f"{500 + 40 * k + i}_ab_o.jpg", "1", groups[i % 3], "mf"[i % 2]) for i in range(15)]
            for k in range(5)}
    rows[0][0] = rows[0][0][:3] + ("None", "u")
    write_adience(tmp_path / "adience", rows=rows, level=True)
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"adience:{tmp_path / 'adience'}",
                 "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"] == list(AGE_GROUPS)
    assert task["info"]["test_rows"] == 14 and "fold_0_data.txt is the test split" in task["info"]["split"]
    assert task["info"]["dropped"] == {"age None or empty": 1}
    floor = task["rows"]["floor"]["majority class"]["metrics"]["accuracy"]["mean"]
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["accuracy"]["mean"] > floor + 0.2  # brightness follows the age
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"adience-gender:{tmp_path / 'adience'}",
                 "--reader-option", "fold=2", "--variant", "aligned", "--out", str(tmp_path / "out2"), *CLI_FAST]) == 0
    task = json.loads((tmp_path / "out2" / "results.json").read_text())["tasks"][0]
    assert task["info"]["class_names"] == ["male", "female"]
    assert "fold_2_data.txt is the test split" in task["info"]["split"]
