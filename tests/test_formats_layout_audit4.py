"""Layouts found in public loaders of KDEF, JAFFE, 300VW and RaFD (see each reader's "Evidence (read, not
copied)" paragraph): kdef.se's KDEF_and_AKDEF.zip unpacked into a folder of its own name
(`KDEF_and_AKDEF/KDEF_and_AKDEF/KDEF/AF01/...`), JAFFE's `jaffedbase/jaffe/` and `jaffe/jaffedbase/`, the 300VW
zip nested twice, and RaFD's child models named `Kid`.

Every fixture is written here from the documented layout (tiny images), never from the real data.
"""
import numpy as np
import pytest
from PIL import Image

from facessl.data import formats
from facessl.data.formats.w300 import format_pts
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError

RNG = np.random.default_rng(41)


def save(path, fmt=None, grey=False, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = RNG.integers(0, 256, size=size if grey else (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


# --- KDEF: KDEF_and_AKDEF.zip unpacked into KDEF_and_AKDEF/ ---------------------------------------------------
KDEF_PEOPLE = ("F02", "F03", "M01", "M02", "M03")  # none in kdef.KNOWN_BLANK
KDEF_CODES = ("AF", "AN", "DI", "HA", "NE", "SA", "SU")


def write_kdef(folder):
    for session in "AB":
        for person in KDEF_PEOPLE:
            for code in KDEF_CODES:
                for angle in ("FL", "S", "FR"):
                    save(folder / f"{session}{person}" / f"{session}{person}{code}{angle}.JPG", fmt="JPEG")


@pytest.mark.parametrize("root", ["parent", "outer", "inner"])
def test_kdef_download_folder_nested_twice(tmp_path, root):
    kdef = tmp_path / "KDEF_and_AKDEF" / "KDEF_and_AKDEF" / "KDEF"
    write_kdef(kdef)
    save(tmp_path / "KDEF_and_AKDEF" / "KDEF_and_AKDEF" / "AKDEF" / "FAFFL.JPG", fmt="JPEG")  # averaged: not read
    (kdef.parent / "ReadThis").mkdir()
    given = {"parent": tmp_path, "outer": tmp_path / "KDEF_and_AKDEF", "inner": kdef.parent}[root]
    got = formats.read("kdef", given)
    assert got.source == str(kdef)
    assert len(got) == 2 * len(KDEF_PEOPLE) * 7 * 3
    assert set(got.labels["group"]) == set(KDEF_PEOPLE)  # both sessions of a person are one group
    row = next(i for i, p in enumerate(got.images) if p.endswith("BM02HAFL.JPG"))
    assert EXPRESSIONS[got.labels["expression"][row]] == "happiness" and got.labels["pose"][row][0] == 90
    test_people = set(got.labels["group"][got.split == "test"])
    assert test_people and not test_people & set(got.labels["group"][got.split == "train"])


def test_kdef_folder_nested_twice_and_not_found(tmp_path):
    write_kdef(tmp_path / "KDEF" / "KDEF")
    assert len(formats.read("kdef", tmp_path)) == 2 * len(KDEF_PEOPLE) * 21
    (tmp_path / "empty" / "KDEF_and_AKDEF" / "KDEF_and_AKDEF").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="empty: KDEF not found: expected KDEF/AF01/AF01ANS.JPG"):
        formats.read("kdef", tmp_path / "empty")


# --- JAFFE: jaffedbase/jaffe/ and jaffe/jaffedbase/ -------------------------------------------------------------
JAFFE_PEOPLE = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")
JAFFE_CODES = ("AN", "DI", "FE", "HA", "NE", "SA", "SU")


def write_jaffe(folder):
    number = 0
    for person in JAFFE_PEOPLE:
        for code in JAFFE_CODES:
            for repeat in (1, 2, 3):
                number += 1
                save(folder / f"{person}.{code}{repeat}.{number}.tiff", fmt="TIFF", grey=True)
    (folder / "README_FIRST.txt").write_text("semantic ratings ...\r\n")


@pytest.mark.parametrize("inner", ["jaffedbase/jaffe", "jaffe/jaffedbase"])
def test_jaffe_folder_inside_the_other(tmp_path, inner):
    write_jaffe(tmp_path / inner)
    save(tmp_path / "results" / "confusion.png")  # the project's own output beside the data: not JAFFE, not read
    got = formats.read("jaffe", tmp_path)
    assert got.source == str(tmp_path / inner)
    assert len(got) == 210 and set(got.labels["group"]) == set(JAFFE_PEOPLE)
    row = next(i for i, p in enumerate(got.images) if p.endswith("KM.FE2.50.tiff"))
    assert EXPRESSIONS[got.labels["expression"][row]] == "fear" and got.labels["group"][row] == "KM"
    assert sum(got.split == "test") == 2 * 21  # two of the ten women


# --- 300VW: the zip unpacked into a folder of its own name --------------------------------------------------------
def write_300vw_frames(video_folder, n_frames=3):
    angle = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    for number in range(1, n_frames + 1):
        points = np.stack([40 + number + 14 * np.cos(angle), 36 + 18 * np.sin(angle)], axis=1)
        (video_folder / "annot").mkdir(parents=True, exist_ok=True)
        (video_folder / "annot" / f"{number:06d}.pts").write_text(format_pts(points))
        save(video_folder / "extraction" / f"{number:06d}.png", fmt="PNG", size=(80, 96))


@pytest.mark.parametrize("given", ["parent", "outer"])
def test_300vw_dataset_folder_nested_twice(tmp_path, given):
    data = tmp_path / "300VW_Dataset_2015_12_14" / "300VW_Dataset_2015_12_14"
    for video in ("001", "114", "410"):
        write_300vw_frames(data / video)
    got = formats.read("300vw", tmp_path if given == "parent" else tmp_path / "300VW_Dataset_2015_12_14",
                       every=1, crop_size=32)
    assert got.source == str(data)
    assert len(got) == 9 and got.images.shape == (9, 32, 32, 3)
    assert list(got.labels["category"][::3]) == ["train", "1", "3"]
    assert list(got.split[::3]) == ["train", "test", "test"] and list(got.labels["frame"][:3]) == [1, 2, 3]


# --- RaFD: child models ---------------------------------------------------------------------------------------
def test_rafd_kid_models_are_read(tmp_path):
    for number, group, gender in (("04", "Kid", "female"), ("39", "Kid", "male"), ("01", "Caucasian", "female"),
                                  ("45", "Moroccan", "male"), ("71", "Caucasian", "male")):
        for word in ("angry", "contemptuous", "happy"):
            save(tmp_path / f"Rafd090_{number}_{group}_{gender}_{word}_frontal.jpg", fmt="JPEG")
    got = formats.read("rafd", tmp_path)
    assert len(got) == 15 and got.dropped == {}
    assert sorted(set(got.labels["group"])) == ["01", "04", "39", "45", "71"]
    row = next(i for i, p in enumerate(got.images) if p.endswith("Rafd090_39_Kid_male_contemptuous_frontal.jpg"))
    assert got.meta["class_names"][got.labels["class"][row]] == "contempt" and got.labels["pose"][row][0] == 0


# --- Adience: Levi & Hassner's per-fold lists (GilLevi/AgeGenderDeepLearning Folds/train_val_txt_files_per_fold) --
def adience_rows(k):
    """Two albums per fold (subject-exclusive), three faces each: (user, face, original, age group, gender)."""
    return [(f"{1000 + 10 * k + u}@N0{u}", str(100 * k + 10 * u + i), f"{k}{u}{i}5_ab{i}_o.jpg", (k + u + i) % 8,
             (u + i) % 2) for u in (1, 2) for i in range(3)]


def write_adience_lists(lists, images, crlf=False):
    """test_fold_is_K/{age,gender}_{train,val,test}.txt as Levi's script writes them, and the aligned faces."""
    end = "\r\n" if crlf else "\n"
    for k in range(5):
        rows = adience_rows(k)
        others = [r for j in range(5) if j != k for r in adience_rows(j)]
        for target, column in (("age", 3), ("gender", 4)):
            for case, chosen in (("test", rows), ("train", others[1::2]), ("val", others[::2])):
                text = "".join(f"{u}/landmark_aligned_face.{f}.{o} {r[column]}{end}"
                               for r in chosen for u, f, o in [r[:3]])
                path = lists / f"test_fold_is_{k}" / f"{target}_{case}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        for u, f, o, _, _ in rows:
            save(images / u / f"landmark_aligned_face.{f}.{o}", fmt="JPEG")


@pytest.mark.parametrize("layout", ["GilLevi repository", "Levi's AdienceFaces", "root is aligned/"])
def test_adience_per_fold_lists(tmp_path, layout):
    if layout == "Levi's AdienceFaces":  # DATA_DIR .../AdienceFaces/DATA/aligned, lists in .../AdienceFaces/folds/
        lists, images = tmp_path / "folds" / "train_val_txt_files_per_fold", tmp_path / "DATA" / "aligned"
        root = tmp_path
    else:
        lists, images = tmp_path / "Folds" / "train_val_txt_files_per_fold", tmp_path / "aligned"
        root = tmp_path
    write_adience_lists(lists, images, crlf=layout == "Levi's AdienceFaces")
    if layout == "root is aligned/":
        root = images  # the lists are found beside it, in Folds/
    got = formats.read("adience", root, fold=2)
    assert len(got) == 5 * 6 and got.dropped == {} and got.meta["lists"] == str(lists)
    assert sorted(set(got.labels["fold"][got.split == "test"])) == [2] and sum(got.split == "test") == 6
    assert not set(got.labels["subject"][got.split == "test"]) & set(got.labels["subject"][got.split == "train"])
    by_name = {p.rsplit("/", 1)[1]: i for i, p in enumerate(got.images)}
    for k in range(5):
        for u, f, o, age, _ in adience_rows(k):
            row = by_name[f"landmark_aligned_face.{f}.{o}"]
            assert (got.labels["class"][row], got.labels["fold"][row], got.labels["subject"][row]) == (age, k, u)
    assert got.meta["class_names"][0] == "0-2" and "test_fold_is_2/age_test.txt" in got.meta["split_from"]
    gender = formats.read("adience-gender", root, fold="4")
    row = {p.rsplit("/", 1)[1]: i for i, p in enumerate(gender.images)}["landmark_aligned_face.422.4225_ab2_o.jpg"]
    assert gender.meta["class_names"] == ["male", "female"] and gender.labels["class"][row] == (2 + 2) % 2
    assert sum(gender.split == "test") == 6 and set(gender.labels["fold"][gender.split == "test"]) == {4}


def test_adience_lists_errors_and_missing_faces(tmp_path):
    lists, images = tmp_path / "Folds" / "train_val_txt_files_per_fold", tmp_path / "aligned"
    write_adience_lists(lists, images)
    u, f, o, _, _ = adience_rows(1)[0]
    (images / u / f"landmark_aligned_face.{f}.{o}").unlink()
    got = formats.read("adience", tmp_path)
    assert len(got) == 29 and got.dropped == {"missing_image": 1}
    path = lists / "test_fold_is_3" / "age_test.txt"
    good = path.read_text()
    path.write_text(good + "10@N01/landmark_aligned_face.7.x_o.jpg 8\n")
    with pytest.raises(DataFormatError, match=r"test_fold_is_3/age_test\.txt:7: class '8' is not 0-7"):
        formats.read("adience", tmp_path)
    path.write_text(good + "10@N01/face.jpg 3\n")
    with pytest.raises(DataFormatError, match=r"age_test\.txt:7: expected '<user_id>/landmark_aligned_face\.<face_id>"):
        formats.read("adience", tmp_path)
    path.unlink()
    with pytest.raises(DataFormatError, match=r"test_fold_is_3/age_test\.txt: Adience per-fold list not found"):
        formats.read("adience", tmp_path)
    with pytest.raises(DataFormatError, match="Adience fold files not found"):  # frontal folds have no lists
        formats.read("adience", tmp_path, frontal=True)
