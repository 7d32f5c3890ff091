"""Each named benchmark read in the layouts it is distributed and commonly unpacked in (docs/data_formats.md).

Every fixture is written here from the documented layout (tiny images), never from the real data.
"""
import shutil

import numpy as np
import pytest

from image_toys import write
from facessl.data import formats
from facessl.data.formats.aflw2000 import savemat_deterministic
from facessl.data.formats.common import PairSet
from facessl.data.formats.imagefiles import save_image as _save
from facessl.data.formats.lfw import LfwWriter
from facessl.data.formats.rafdb import COMPOUND
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError

RNG = np.random.default_rng(1)


def face(size=12):
    return RNG.integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def save_image(path, image, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, image, **kw)


# --- LFW / CPLFW -------------------------------------------------------------------------------------
def lfw_images(folder, people=("Ann_Lee", "Bo_Chen")):
    w = LfwWriter(folder)
    for name in people:
        w.add(name, face())
        w.add(name, face())


PAIRS = "1\t1\nAnn_Lee\t1\t2\nAnn_Lee\t1\tBo_Chen\t2\n"


@pytest.mark.parametrize("folder", ["lfw", "lfw_funneled", "lfw-deepfunneled", "lfw-deepfunneled/lfw-deepfunneled"])
def test_lfw_pairs_beside_the_image_folder(tmp_path, folder):
    lfw_images(tmp_path / folder)
    write(tmp_path / "pairs.txt", PAIRS, crlf=True, bom=True)
    for path in (tmp_path, tmp_path / folder.split("/")[0], tmp_path / "pairs.txt"):
        got = formats.read("lfw", path)
        assert isinstance(got, PairSet) and list(got.same) == [True, False]
        assert all(f"{folder}/Ann_Lee/Ann_Lee_0001.jpg" in got.images.images[0] for _ in [0])


def test_lfw_pairs_inside_and_pairs_option_and_variant(tmp_path):
    lfw_images(tmp_path / "lfw")
    lfw_images(tmp_path / "lfw_funneled")
    write(tmp_path / "lfw" / "pairs.txt", PAIRS)
    assert formats.read("lfw", tmp_path / "lfw").images.images[0].startswith(str(tmp_path / "lfw" / "Ann_Lee"))
    write(tmp_path / "lists" / "pairsDevTest.txt", "1\nAnn_Lee\t1\t2\nAnn_Lee\t2\tBo_Chen\t1\n")
    got = formats.read("lfw", tmp_path, pairs_file=str(tmp_path / "lists" / "pairsDevTest.txt"), variant="lfw_funneled")
    assert "lfw_funneled" in got.images.images[0] and list(got.same) == [True, False]


def test_lfw_kaggle_copy_pairs_csv_and_dev_match_files(tmp_path):
    """Kaggle's LFW: lfw-deepfunneled/lfw-deepfunneled/, pairs.csv in pairs.txt's order (same pairs fill three
    fields, different pairs four; a fold ends where a same pair follows a different one), and the DevTest
    match / mismatch files, read together as one fold."""
    lfw_images(tmp_path / "lfw-deepfunneled" / "lfw-deepfunneled", people=("Ann_Lee", "Bo_Chen", "Cy_Diaz"))
    rows = ["name,imagenum1,imagenum2,",
            "Ann_Lee,1,2,", "Ann_Lee,1,Bo_Chen,2",                      # fold 1
            "Bo_Chen,1,2,", "Cy_Diaz,2,Ann_Lee,1",                      # fold 2
            "Cy_Diaz,1,2,", "Bo_Chen,1,Cy_Diaz,1"]                      # fold 3
    write(tmp_path / "pairs.csv", "\n".join(rows) + "\n", crlf=True, bom=True)
    got = formats.read("lfw", tmp_path)
    assert list(got.same) == [True, False] * 3 and list(got.fold) == [0, 0, 1, 1, 2, 2]
    first = got.images.images[got.pairs[3][0]]
    assert first.endswith("lfw-deepfunneled/lfw-deepfunneled/Cy_Diaz/Cy_Diaz_0002.jpg")
    assert list(got.images.labels["identity"][got.pairs[3]]) == ["Cy_Diaz", "Ann_Lee"]
    write(tmp_path / "matchpairsDevTest.csv", "name,imagenum1,imagenum2\nAnn_Lee,1,2\nBo_Chen,1,2\n")
    write(tmp_path / "mismatchpairsDevTest.csv", "name,imagenum1,name,imagenum2\nAnn_Lee,2,Cy_Diaz,1\n")
    for given in ("matchpairsDevTest.csv", "mismatchpairsDevTest.csv"):
        dev = formats.read("lfw", tmp_path, pairs_file=str(tmp_path / given))
        assert list(dev.same) == [True, True, False] and set(dev.fold) == {0}
    (tmp_path / "mismatchpairsDevTest.csv").unlink()
    with pytest.raises(DataFormatError, match="mismatchpairsDevTest.csv.*partner file is missing"):
        formats.read("lfw", tmp_path, pairs_file=str(tmp_path / "matchpairsDevTest.csv"))
    write(tmp_path / "pairs.csv", "name,imagenum1,imagenum2,\nAnn_Lee,1,two,\n")
    with pytest.raises(DataFormatError, match="pairs.csv:2"):
        formats.read("lfw", tmp_path)


def test_cplfw_as_released(tmp_path):
    for name in ("Ann_Lee_1.jpg", "Ann_Lee_2.jpg", "Bo_Chen_1.jpg", "Cy_Diaz_3.jpg"):
        save_image(tmp_path / "images" / name, face())
    lines = ["Ann_Lee_1.jpg 1", "Ann_Lee_2.jpg 1", "Bo_Chen_1.jpg 0", "Cy_Diaz_3.jpg 0"] * 5  # 10 pairs
    write(tmp_path / "pairs_CPLFW.txt", "\n".join(lines) + "\n", crlf=True)
    got = formats.read("cplfw", tmp_path)
    assert len(got.pairs) == 10 and list(got.same[:2]) == [True, False] and list(got.fold) == list(range(10))
    assert list(got.images.labels["identity"]) == ["Ann_Lee", "Ann_Lee", "Bo_Chen", "Cy_Diaz"]


def calfw_files(root, images="aligned images", per_fold=1):
    """pairs_CALFW.txt as released: every positive pair first, labelled with its fold 1..10, then every negative
    pair labelled 0 (the negatives' folds are not in the file)."""
    positives = [(f"P{k}_0001.jpg", f"P{k}_0002.jpg", k // per_fold + 1) for k in range(10 * per_fold)]
    negatives = [(f"P{k}_0001.jpg", f"P{(k + 1) % (10 * per_fold)}_0002.jpg", 0) for k in range(10 * per_fold)]
    for a, b, _ in positives:
        save_image(root / images / a, face())
        save_image(root / images / b, face())
    write(root / "pairs_CALFW.txt", "".join(f"{a} {label}\n{b} {label}\n" for a, b, label in positives + negatives))


@pytest.mark.parametrize("per_fold", [1, 3])
def test_calfw_positives_carry_their_fold_and_negatives_are_shared_out(tmp_path, per_fold):
    calfw_files(tmp_path, per_fold=per_fold)
    for name in ("cplfw", "calfw"):  # calfw: the same reader under CALFW's name
        got = formats.read(name, tmp_path)
        assert len(got.pairs) == 20 * per_fold and got.same.sum() == 10 * per_fold
        for fold in range(10):  # each fold: its numbered positives and the fold-th block of negatives
            assert list(got.same[got.fold == fold]) == [True] * per_fold + [False] * per_fold
        negatives = np.flatnonzero(~got.same)
        assert list(got.fold[negatives]) == [k // per_fold for k in range(10 * per_fold)]  # in file order


def test_calfw_images_below_wrappers_and_no_pair_left(tmp_path):
    calfw_files(tmp_path, images="images&landmarks/images&landmarks/images")
    got = formats.read("cplfw", tmp_path)
    assert "images&landmarks/images&landmarks/images/P0_0001.jpg" in got.images.images[0] and len(got.pairs) == 20
    shutil.rmtree(tmp_path / "images&landmarks")
    with pytest.raises(DataFormatError, match=r"pairs_CALFW.txt:1: image .*P0_0001.jpg named here does not exist "
                                              rf"\(no folder holding P0_0001.jpg in {tmp_path} \(or up to 2 folders"):
        formats.read("cplfw", tmp_path)


def test_cplfw_with_every_pair_skipped_says_so(tmp_path):
    """--skip-missing that leaves no pair is one error here, not an empty contact sheet or a one-fold protocol."""
    calfw_files(tmp_path)
    for image in (tmp_path / "aligned images").iterdir():
        if image.name != "P0_0001.jpg":  # the image folder is found, every pair lacks an image
            image.unlink()
    with pytest.raises(DataFormatError, match=r"pairs_CALFW.txt: no pair left: 20 skipped \(missing image\)$"):
        formats.read("cplfw", tmp_path, skip_missing=True)
    shutil.rmtree(tmp_path / "aligned images")
    with pytest.raises(DataFormatError, match=r"pairs_CALFW.txt: no pair left: 20 skipped \(missing image; no folder "
                                              r"holding P0_0001.jpg in "):
        formats.read("cplfw", tmp_path, skip_missing=True)


def test_lfw_missing_pairs_file_names_where_it_looked(tmp_path):
    lfw_images(tmp_path / "lfw")
    with pytest.raises(DataFormatError, match="pairs file not found.*--pairs FILE"):
        formats.read("lfw", tmp_path / "lfw")


# --- RAF-DB -------------------------------------------------------------------------------------------
def rafdb_files(root, names_labels, variant="aligned", flat=False):
    for name, _ in names_labels:
        stem = name[:-4]
        image = f"{stem}_aligned.jpg" if variant == "aligned" else name
        save_image((root if flat else root / "Image") / variant / image, face())
    text = "".join(f"{n} {lab}\n" for n, lab in names_labels)
    write(root / ("list_patition_label.txt" if flat else "EmoLabel/list_patition_label.txt"), text, crlf=True)


def test_rafdb_basic_folder_original_images_and_flat_copy(tmp_path):
    rows = [("train_00001.jpg", 4), ("test_0001.jpg", 7)]
    rafdb_files(tmp_path / "RAF-DB" / "basic", rows, variant="original")
    got = formats.read("rafdb", tmp_path / "RAF-DB", variant="original")
    assert list(got.labels["expression"]) == [3, 6] and list(got.split) == ["train", "test"]
    rafdb_files(tmp_path / "flat", rows, flat=True)
    assert len(formats.read("rafdb", tmp_path / "flat")) == 2


def test_rafdb_compound_list(tmp_path):
    rafdb_files(tmp_path / "compound", [("train_0001.jpg", 1), ("train_0002.jpg", 11), ("test_0001.jpg", 5)])
    got = formats.read("rafdb-compound", tmp_path)
    assert list(got.labels["class"]) == [0, 10, 4] and got.meta["class_names"] == list(COMPOUND)


def test_rafdb_kaggle_image_folders(tmp_path):
    for split, label in (("train", "1"), ("train", "7"), ("test", "4")):
        save_image(tmp_path / "DATASET" / split / label / f"{split}_00001_aligned.jpg", face())
    got = formats.read("rafdb", tmp_path)
    assert sorted(zip(got.split, got.labels["expression"])) == [("test", 3), ("train", 0), ("train", 6)]


def test_rafdb_inside_a_wrapper_folder(tmp_path):
    """ROOT/RAF-DB/basic/ (the archive's own folder), beside macOS's __MACOSX/ copy of it; the compound reader
    does not take the basic list for its own."""
    rafdb_files(tmp_path / "RAF-DB" / "basic", [("train_00001.jpg", 4), ("test_0001.jpg", 7)])
    write(tmp_path / "__MACOSX" / "RAF-DB" / "basic" / "EmoLabel" / "._list_patition_label.txt", "x")
    got = formats.read("rafdb", tmp_path)
    assert list(got.labels["expression"]) == [3, 6] and got.source == str(tmp_path / "RAF-DB" / "basic")
    with pytest.raises(DataFormatError, match=r"RAF-DB label list not found here or up to 2 folders below \(expected "
                                              r"compound/EmoLabel/list_patition_label.txt"):
        formats.read("rafdb-compound", tmp_path)
    save_image(tmp_path / "archive" / "DATASET" / "train" / "1" / "train_00001_aligned.jpg", face())
    assert len(formats.read("rafdb", tmp_path / "archive")) == 1  # Kaggle's copy in a wrapper


# --- FER-2013 -----------------------------------------------------------------------------------------
def pixels(value):
    return " ".join([str(value)] * 2304)


def test_fer2013_csv_variants(tmp_path):
    write(tmp_path / "a" / "fer2013.csv", f'emotion,pixels,Usage\n0,"{pixels(7)}",Training\n3,{pixels(9)},PrivateTest\n',
          crlf=True, bom=True)
    got = formats.read("fer2013", tmp_path / "a")
    assert list(got.labels["expression"]) == [EXPRESSIONS.index("anger"), EXPRESSIONS.index("happiness")]
    assert got.images[0, 0, 0, 0] == 7 and list(got.split) == ["Training", "PrivateTest"]
    write(tmp_path / "b" / "icml_face_data.csv", f"emotion, Usage, pixels\n6, PublicTest, {pixels(1)} \n")
    got = formats.read("fer2013", tmp_path / "b")
    assert list(got.split) == ["PublicTest"] and got.labels["expression"][0] == EXPRESSIONS.index("neutral")
    write(tmp_path / "c" / "train.csv", f"emotion,pixels\n5,{pixels(2)}\n")
    assert list(formats.read("fer2013", tmp_path / "c").split) == ["Training"]


def test_fer2013_kaggle_image_release(tmp_path):
    for split, name in (("train", "angry"), ("train", "happy"), ("test", "surprise"), ("test", "angry")):
        save_image(tmp_path / split / name / "im0.png", face(48)[:, :, 0])
    got = formats.read("fer2013", tmp_path)
    pairs = sorted(zip(got.split, (EXPRESSIONS[i] for i in got.labels["expression"])))
    assert pairs == [("test", "anger"), ("test", "surprise"), ("train", "anger"), ("train", "happiness")]
    assert "class_names" not in got.meta  # the folders' names, in their order, would not index 'expression'


def test_fer2013_inside_wrapper_folders(tmp_path):
    """fer2013.tar.gz unpacks to fer2013/fer2013.csv; Kaggle's image release downloads as archive/train/<class>/."""
    write(tmp_path / "csv" / "fer2013" / "fer2013.csv", f"emotion,pixels,Usage\n3,{pixels(9)},Training\n")
    got = formats.read("fer2013", tmp_path / "csv")
    assert got.source == str(tmp_path / "csv" / "fer2013" / "fer2013.csv") and list(got.split) == ["Training"]
    for split, name in (("train", "happy"), ("test", "sad")):
        save_image(tmp_path / "kaggle" / "archive" / split / name / "im0.png", face(48)[:, :, 0])
    got = formats.read("fer2013", tmp_path / "kaggle")
    assert sorted(zip(got.split, (EXPRESSIONS[i] for i in got.labels["expression"]))) == [("test", "sadness"),
                                                                                          ("train", "happiness")]


def test_majority_label_follows_the_ferplus_rules():
    from facessl.data.formats.ferplus import majority_label

    assert majority_label([4, 0, 0, 1, 3, 2, 0, 0, 0, 0]) == "no majority vote"  # 4 of 9 after dropping the single vote
    assert majority_label([6, 0, 1, 1, 0, 0, 0, 0, 2, 0]) == 0                   # 6 of 8: neutral
    assert majority_label([0, 0, 6, 0, 0, 0, 4, 0, 0, 0]) == 2                   # 6 of 10: surprise
    assert majority_label([1, 0, 0, 0, 0, 0, 0, 0, 9, 0]) == "majority unknown"
    assert majority_label([0, 0, 0, 0, 0, 0, 0, 0, 0, 10]) == "majority not a face"
    assert majority_label([0, 0, 0, 0, 0, 0, 0, 3, 0, 0]) == 7                   # contempt
    assert majority_label([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]) == "no majority vote"


FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def test_ferplus_label_file_beside_fer2013_csv(tmp_path):
    """fer2013new.csv labels fer2013.csv row by row; rows without an image name or a majority are counted."""
    write(tmp_path / "fer2013.csv", "emotion,pixels,Usage\n" + "".join(
        f"0,{pixels(v)},{u}\n" for v, u in ((10, "Training"), (20, "Training"), (30, "PublicTest"), (40, "PrivateTest"), (50, "PrivateTest"))))
    write(tmp_path / "fer2013new.csv", "\n".join([FERPLUS_HEADER,
          "Training,fer0000000.png,0,10,0,0,0,0,0,0,0,0",   # happiness
          "Training,,0,0,0,0,0,0,0,0,0,10",                 # no FER+ image
          "PublicTest,fer0000002.png,4,0,0,4,2,0,0,0,0,0",  # no majority
          "PrivateTest,fer0000003.png,2,0,0,0,0,0,0,8,0,0", # contempt
          "PrivateTest,fer0000004.png,0,0,0,0,0,0,0,0,0,10"]) + "\n", crlf=True, bom=True)
    for given in (tmp_path, tmp_path / "fer2013new.csv"):
        got = formats.read("ferplus", given)
        assert list(got.labels["class"]) == [1, 7] and list(got.split) == ["train", "test"]
        assert got.images[0, 0, 0, 0] == 10 and got.images[1, 0, 0, 0] == 40  # the pixels of the matching rows
        assert got.meta["class_names"][7] == "contempt"
        assert got.dropped == {"no FER+ image": 1, "no majority vote": 1, "majority not a face": 1}
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n" + f"0,{pixels(1)},Training\n")
    with pytest.raises(DataFormatError, match="5 label rows but 1 rows in fer2013.csv"):
        formats.read("ferplus", tmp_path)


def test_ferplus_generated_png_folders(tmp_path):
    for folder, rows in (("FER2013Train", ["fer0000000.png,\"(0, 0, 48, 48)\",0,10,0,0,0,0,0,0,0,0",
                                           "fer0000001.png,\"(0, 0, 48, 48)\",9,0,0,1,0,0,0,0,0,0"]),
                         ("FER2013Valid", ["fer0028709.png,\"(0, 0, 48, 48)\",0,0,7,0,3,0,0,0,0,0"]),
                         ("FER2013Test", ["fer0032220.png,\"(0, 0, 48, 48)\",0,0,0,0,0,0,0,0,1,9"])):
        for row in rows:
            save_image(tmp_path / folder / row.split(",")[0], face(48)[:, :, 0])
        write(tmp_path / folder / "label.csv", "\n".join(rows) + "\n", crlf=True)
    got = formats.read("ferplus", tmp_path)
    assert list(got.labels["class"]) == [1, 0, 2] and list(got.split) == ["train", "train", "val"]
    assert got.images[2].endswith("FER2013Valid/fer0028709.png") and got.dropped == {"majority not a face": 1}
    (tmp_path / "FER2013Train" / "fer0000001.png").unlink()
    with pytest.raises(DataFormatError, match="label.csv:2.*does not exist"):
        formats.read("ferplus", tmp_path)
    assert formats.read("ferplus", tmp_path, skip_missing=True).dropped == {"majority not a face": 1, "missing_image": 1}


def _photo_with_face(path, box, size=(60, 40)):
    """A dark photo whose box (x0, y0, x1, y1) is bright: a crop of the box is all bright."""
    img = np.zeros((size[1], size[0], 3), np.uint8)
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = 230
    save_image(path, img)


def test_affectnet_lists_with_face_boxes(tmp_path):
    from facessl.data.formats.common import load_image

    images = tmp_path / "Manually_Annotated_Images"
    _photo_with_face(images / "689" / "a.jpg", (10, 5, 30, 25))
    _photo_with_face(images / "1012" / "b.png", (20, 10, 36, 26))
    _photo_with_face(images / "1012" / "c.jpg", (0, 0, 8, 8))
    head = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n"
    write(tmp_path / "Manually_Annotated_file_lists" / "training.csv",
          head + '689/a.jpg,10,5,20,20,"1.0;2.0;3.0",1,0.5,0.2\n1012/c.jpg,0,0,8,8,"",10,-2,-2\n', crlf=True, bom=True)
    write(tmp_path / "Manually_Annotated_file_lists" / "validation.csv", head + '1012/b.png,20,10,16,16,"",7,0.1,0.1\n')
    got = formats.read("affectnet", tmp_path)
    assert list(got.labels["class"]) == [1, 7] and list(got.split) == ["train", "test"]
    assert got.meta["class_names"][7] == "contempt" and got.dropped == {"label no-face": 1}
    crop = load_image(got.images[0])
    assert crop.shape == (20, 20, 3) and crop.min() > 200  # the face box, not the dark photo
    assert str(got.images[1]).endswith("1012/b.png")
    write(tmp_path / "Manually_Annotated_file_lists" / "validation.csv", head + '1012/b.png,20,10,16,16,"",11,0,0\n')
    with pytest.raises(DataFormatError, match="validation.csv:2.*0..10"):
        formats.read("affectnet", tmp_path)


def test_affectnet_cropped_release(tmp_path):
    for folder, stems, codes in (("train_set", ("0", "1", "5"), ("3", "9", "6")), ("val_set", ("2",), ("7",))):
        for stem, code in zip(stems, codes):
            save_image(tmp_path / folder / "images" / f"{stem}.jpg", face(24))
            (tmp_path / folder / "annotations").mkdir(parents=True, exist_ok=True)
            np.save(tmp_path / folder / "annotations" / f"{stem}_exp.npy", np.array(code))
            np.save(tmp_path / folder / "annotations" / f"{stem}_val.npy", np.array("0.25"))
    got = formats.read("affectnet", tmp_path)
    assert list(got.labels["class"]) == [3, 6, 7] and list(got.split) == ["train", "train", "test"]
    assert got.dropped == {"label uncertain": 1}
    save_image(tmp_path / "test_set" / "images" / "9.jpg", face(24))
    (tmp_path / "test_set" / "annotations").mkdir(parents=True)
    np.save(tmp_path / "test_set" / "annotations" / "9_exp.npy", np.array(0))
    assert list(formats.read("affectnet", tmp_path).split) == ["train", "train", "val", "test"]


def test_affectnet_lists_valence_arousal_target(tmp_path):
    images = tmp_path / "Manually_Annotated_Images"
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        _photo_with_face(images / "689" / name, (0, 0, 20, 20))
    head = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n"
    write(tmp_path / "Manually_Annotated_file_lists" / "training.csv",
          head + '689/a.jpg,0,0,20,20,"1.0;2.0",1,0.785714,-0.055556\n689/b.jpg,0,0,20,20,"",10,-2,-2\n'
          '689/c.jpg,0,0,20,20,"",8,-1,1\n', crlf=True, bom=True)
    write(tmp_path / "Manually_Annotated_file_lists" / "validation.csv", head + '689/d.jpg,0,0,20,20,"",9,-2,-2\n'
          '689/a.jpg,0,0,20,20,"",2,-0.5,0.25\n')
    got = formats.read("affectnet", tmp_path, target="Valence_Arousal")
    assert "class" not in got.labels and got.meta["target_columns"] == ["valence", "arousal"]
    assert got.labels["target"] == pytest.approx(np.array([[0.785714, -0.055556], [-1, 1], [-0.5, 0.25]]))
    assert list(got.split) == ["train", "train", "test"] and got.dropped == {"valence/arousal not given": 2}
    assert list(formats.read("affectnet", tmp_path).labels["class"]) == [1, 2]  # the default target: unchanged
    write(tmp_path / "Manually_Annotated_file_lists" / "validation.csv", head + '689/d.jpg,0,0,20,20,"",9,x,0\n')
    with pytest.raises(DataFormatError, match="validation.csv:2: expected a number for valence, got 'x'"):
        formats.read("affectnet", tmp_path, target="valence_arousal")
    with pytest.raises(FacesslError, match="affectnet target 'age': expected one of expression, valence_arousal"):
        formats.read("affectnet", tmp_path, target="age")


def test_affectnet_cropped_release_valence_arousal(tmp_path):
    annotations = tmp_path / "train_set" / "annotations"
    for stem, va in (("0", ("0.25", "-0.5")), ("1", ("-2", "-2")), ("2", ("1", "0")), ("3", None)):
        save_image(tmp_path / "train_set" / "images" / f"{stem}.jpg", face(24))
        annotations.mkdir(parents=True, exist_ok=True)
        np.save(annotations / f"{stem}_exp.npy", np.array("3"))
        if va:
            np.save(annotations / f"{stem}_val.npy", np.array(va[0]))
            np.save(annotations / f"{stem}_aro.npy", np.array(float(va[1])))  # strings or numbers, as releases differ
    got = formats.read("affectnet", tmp_path, target="valence_arousal")
    assert got.labels["target"].tolist() == [[0.25, -0.5], [1, 0]]
    assert got.meta["target_columns"] == ["valence", "arousal"]
    assert got.dropped == {"valence/arousal not given": 1, "image without _val.npy / _aro.npy": 1}
    np.save(annotations / "0_aro.npy", np.array([{"a": 1}], dtype=object))  # a pickled object: refused, not run
    with pytest.raises(DataFormatError, match="0_aro.npy: expected one arousal number"):
        formats.read("affectnet", tmp_path, target="valence_arousal")


AFFECTNET_HEAD = ("subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,"
                  "arousal\n")


def affectnet_lists(root, images="Manually_Annotated_Images", val_header=False):
    """training.csv with its header, validation.csv without one (as released), 136 landmark numbers a row."""
    landmarks = ";".join(["12.5"] * 136)
    for name in ("a.jpg", "b.png"):
        _photo_with_face(root / images / "689" / name, (10, 5, 30, 25))
    lists = root / "Manually_Annotated_file_lists"
    write(lists / "training.csv", AFFECTNET_HEAD + f"689/a.jpg,10,5,20,20,{landmarks},1,0.5,0.2\n")
    rows = f"689/b.png,10,5,20,20,{landmarks},3,0.1,0.1\n689/a.jpg,10,5,20,20,{landmarks},10,-2,-2\n"
    write(lists / "validation.csv", (AFFECTNET_HEAD if val_header else "") + rows)


def test_affectnet_validation_list_without_its_header(tmp_path):
    affectnet_lists(tmp_path / "released")
    affectnet_lists(tmp_path / "with_header", val_header=True)
    got = formats.read("affectnet", tmp_path / "released")
    expected = formats.read("affectnet", tmp_path / "with_header")
    assert list(got.labels["class"]) == list(expected.labels["class"]) == [1, 3]
    assert list(got.split) == ["train", "test"]
    assert got.dropped == expected.dropped == {"label no-face": 1}
    va = formats.read("affectnet", tmp_path / "released", target="valence_arousal")
    assert va.labels["target"] == pytest.approx(np.array([[0.5, 0.2], [0.1, 0.1]]))
    lists = tmp_path / "released" / "Manually_Annotated_file_lists"
    write(lists / "validation.csv", "689/b.png,10,5,20,20,3,0.1,0.1\n")  # a data row, but 8 fields: not the list
    with pytest.raises(DataFormatError, match=r"validation.csv:1: AffectNet list: no column 'subDirectory_filePath'"):
        formats.read("affectnet", tmp_path / "released")


def test_a_list_with_another_header_is_named_in_a_short_line(tmp_path):
    affectnet_lists(tmp_path)
    long_header = ",".join(["x" * 300] * 9)
    write(tmp_path / "Manually_Annotated_file_lists" / "validation.csv", long_header + "\n1,2,3,4,5,6,7,8,9\n")
    with pytest.raises(DataFormatError) as error:
        formats.read("affectnet", tmp_path)
    message = str(error.value)  # the 2,700-character header echoed cut short
    assert "validation.csv:1: AffectNet list: no column 'subDirectory_filePath'; the header has 'xxx" in message
    assert "\n" not in message and len(message) < len(str(tmp_path)) + 350, message


@pytest.mark.parametrize("images", ["Manually_Annotated/Manually_Annotated_Images",
                                    "Manually_Annotated_Images/Manually_Annotated_Images"])
def test_affectnet_images_inside_a_wrapper_folder(tmp_path, images):
    affectnet_lists(tmp_path, images=images)
    got = formats.read("affectnet", tmp_path)
    assert got.images[0] == str(tmp_path / images / "689" / "a.jpg") and len(got) == 2


def test_affectnet_images_not_found_names_where_it_looked(tmp_path):
    affectnet_lists(tmp_path, images="elsewhere/deeper/still")
    lists = tmp_path / "Manually_Annotated_file_lists"
    where = rf"no Manually_Annotated_Images/ holding 689/a.jpg in {lists} or {tmp_path} \(or up to 2 folders below\)"
    with pytest.raises(DataFormatError, match=rf"training.csv:2: image .* does not exist \({where}\); pass"):
        formats.read("affectnet", tmp_path)
    with pytest.raises(DataFormatError, match=rf"training.csv: none of the listed images found \({where}\)"):
        formats.read("affectnet", tmp_path, skip_missing=True)


def test_affectnet_cropped_release_in_a_wrapper_folder(tmp_path):
    save_image(tmp_path / "AffectNet" / "train_set" / "images" / "0.jpg", face(24))
    (tmp_path / "AffectNet" / "train_set" / "annotations").mkdir(parents=True)
    np.save(tmp_path / "AffectNet" / "train_set" / "annotations" / "0_exp.npy", np.array("4"))
    got = formats.read("affectnet", tmp_path)
    assert list(got.labels["class"]) == [4] and got.source == str(tmp_path / "AffectNet")
    with pytest.raises(DataFormatError, match=r"AffectNet not found here or up to 2 folders below"):
        formats.read("affectnet", tmp_path / "AffectNet" / "train_set" / "images")


def test_expw_label_list_with_boxes_split_by_photo(tmp_path):
    from facessl.data.formats.common import load_image

    rows = []
    for i in range(30):  # 30 photos, two faces in every third
        _photo_with_face(tmp_path / "image" / "origin" / f"p{i}.jpg", (5, 4, 25, 24))
        label = i % 7
        rows.append(f"p{i}.jpg 0 4 5 25 24 {0.9:.1f} {label}")
        if i % 3 == 0:
            rows.append(f"p{i}.jpg 1 0 30 50 20 0.8 {(label + 1) % 7}")
    write(tmp_path / "label" / "label.lst", "\n".join(rows) + "\n", crlf=True)
    got = formats.read("expw", tmp_path)
    assert len(got) == 40 and set(got.split) == {"train", "test"}
    assert EXPRESSIONS[got.labels["expression"][0]] == "anger" and EXPRESSIONS[got.labels["expression"][4]] == "happiness"
    for photo in set(got.labels["group"]):  # a photo's faces stay on one side
        assert len(set(got.split[got.labels["group"] == photo])) == 1
    crop = load_image(got.images[0])
    assert crop.shape == (20, 20, 3) and crop.min() > 200
    write(tmp_path / "label" / "label.lst", "p0.jpg 0 4 25 5 24 0.9 3\n")  # left > right
    with pytest.raises(DataFormatError, match="label.lst:1.*left < right"):
        formats.read("expw", tmp_path)


def test_expw_folder_above_data(tmp_path):
    """The archive's ExpW/data/ with label/label.lst and image/origin/: ExpW/ (or the folder above it) is read."""
    _photo_with_face(tmp_path / "ExpW" / "data" / "image" / "origin" / "p0.jpg", (5, 4, 25, 24))
    write(tmp_path / "ExpW" / "data" / "label" / "label.lst", "p0.jpg 0 4 5 25 24 0.9 3\n")
    for given in (tmp_path / "ExpW", tmp_path):
        got = formats.read("expw", given)
        assert got.source == str(tmp_path / "ExpW" / "data" / "label" / "label.lst") and len(got) == 1
    with pytest.raises(DataFormatError, match=r"ExpW label list not found here or up to 2 folders below"):
        formats.read("expw", tmp_path / "ExpW" / "data" / "image")


def test_ckplus_as_distributed_peak_frames_cropped_by_landmarks(tmp_path):
    from facessl.data.formats.common import load_image

    subjects = [f"S{n:03d}" for n in range(5, 15)]
    for k, subject in enumerate(subjects):
        for sequence, code in (("001", 1 + k % 7), ("002", None)):  # the second sequence has no emotion
            folder = tmp_path / "cohn-kanade-images" / subject / sequence
            for frame in range(1, 6):
                stem = f"{subject}_{sequence}_{frame:08d}"
                _photo_with_face(folder / f"{stem}.png", (20, 10, 40, 30), size=(64, 48))
                points = np.array([[22.0 + i % 17, 12.0 + i // 4] for i in range(68)])  # spans 22..38 x 12..28
                write(tmp_path / "Landmarks" / subject / sequence / f"{stem}_landmarks.txt",
                      "".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points), crlf=True)
            if code is not None:
                write(tmp_path / "Emotion" / subject / sequence / f"{subject}_{sequence}_00000005_emotion.txt",
                      f"   {code:.7e}\n")
    got = formats.read("ckplus", tmp_path)
    assert len(got) == 30 and got.meta["class_names"][1] == "contempt"
    assert [p.rsplit("_", 1)[1] for p in got.images[:3]] == ["00000003.png", "00000004.png", "00000005.png"]
    assert list(got.labels["class"][:3]) == [0, 0, 0] and got.labels["class"][3] == 1  # S005 anger, S006 contempt
    for subject in subjects:
        assert len(set(got.split[got.labels["group"] == subject])) == 1
    crop = load_image(got.images[0])  # the landmarks' square (16 px) enlarged by a quarter: 20 px, all face
    assert crop.shape == (20, 20, 3) and crop.min() > 200
    write(tmp_path / "Emotion" / "S005" / "001" / "S005_001_00000005_emotion.txt", "   9.0000000e+00\n")
    with pytest.raises(DataFormatError, match="S005_001_00000005_emotion.txt:1.*1..7"):
        formats.read("ckplus", tmp_path)


def test_mtfl_lists_with_windows_paths(tmp_path):
    save_image(tmp_path / "lfw_5590" / "Aaron_Eckhart_0001.jpg", face(40))
    save_image(tmp_path / "net_7876" / "prefix_0001.jpg", face(40))
    save_image(tmp_path / "AFLW" / "0001-image20056.jpg", face(40))
    write(tmp_path / "training.txt",
          " lfw_5590\\Aaron_Eckhart_0001.jpg 10.5 30.25 20 12 28 14 13.5 22 30 31 1 2 2 3\n"
          "net_7876\\prefix_0001.jpg 11 29 20 13 27 15 15 23 29 29 2 1 2 3\n", crlf=True)
    write(tmp_path / "testing.txt", "AFLW\\0001-image20056.jpg 12 28 21 14 26 15 15 24 30 30 1 1 1 2\n")
    got = formats.read("mtfl", tmp_path)
    assert list(got.split) == ["train", "train", "test"] and got.images[0].endswith("lfw_5590/Aaron_Eckhart_0001.jpg")
    np.testing.assert_allclose(got.labels["landmarks"][0], [[10.5, 14], [30.25, 13.5], [20, 22], [12, 30], [28, 31]])
    assert list(got.labels["attributes"][1]) == [2, 1, 2, 3]
    write(tmp_path / "testing.txt", "AFLW\\0001-image20056.jpg 12 28 21 14\n")
    with pytest.raises(DataFormatError, match="testing.txt:1.*15 fields"):
        formats.read("mtfl", tmp_path)


def test_wflw_lists_crop_the_face_box_and_move_the_points(tmp_path):
    from facessl.data.formats.common import load_image
    from facessl.evaluate.images import image_sizes

    points = np.stack([np.linspace(30, 70, 98), np.linspace(20, 60, 98)], 1)
    img = np.zeros((100, 120, 3), np.uint8)
    img[int(points[60, 1]), int(points[60, 0])] = 255  # one bright pixel on point 60
    save_image(tmp_path / "WFLW_images" / "0--Parade" / "0_Parade_1.png", img)
    fields = [f"{v:.3f}" for v in points.ravel()] + ["30", "20", "70", "60"] + ["0", "1", "0", "0", "0", "1"]
    line = " ".join(fields + ["0--Parade/0_Parade_1.png"])
    write(tmp_path / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_train.txt", line + "\n")
    write(tmp_path / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_test.txt", line + "\n")
    got = formats.read("wflw", tmp_path)
    assert list(got.split) == ["train", "test"] and got.labels["landmarks"].shape == (2, 98, 2)
    crop = load_image(got.images[0])  # the 40x40 box enlarged by a fifth: 48 px, centred on (50, 40)
    assert crop.shape == (48, 48, 3) and tuple(image_sizes(got)[0]) == (48, 48)
    x, y = np.floor(got.labels["landmarks"][0, 60]).astype(int)
    assert crop[y, x, 0] == 255  # the moved point still sits on its pixel
    assert list(got.labels["attributes"][0]) == [0, 1, 0, 0, 0, 1]


# --- AFLW2000-3D / 300W-LP ----------------------------------------------------------------------------
def released_mat(path, pose_rad, landmarks_field):
    save_image(path.with_suffix(".jpg"), face(20))
    fields = {"Pose_Para": np.array([[*pose_rad, 10.0, 12.0, 0.0, 0.001]], dtype=np.float32),
              "Shape_Para": np.zeros((199, 1)), "Exp_Para": np.zeros((29, 1)), "Illum_Para": np.zeros((1, 10)),
              "Color_Para": np.zeros((1, 7)), "Tex_Para": np.zeros((199, 1)), "roi": np.array([[1, 1, 19, 19]])}
    fields.update(landmarks_field)
    savemat_deterministic(path.with_suffix(".mat"), fields)


def test_aflw2000_mat_fields_as_released(tmp_path):
    root = tmp_path / "AFLW2000"
    pt3d = np.vstack([RNG.uniform(0, 19, (2, 68)), RNG.normal(size=(1, 68))])
    released_mat(root / "image00002", (0.1, -0.2, 0.05), {"pt3d_68": pt3d, "pt2d": RNG.uniform(0, 19, (2, 21))})
    got = formats.read("aflw2000", tmp_path)  # the folder above AFLW2000/ works too
    np.testing.assert_allclose(got.labels["pose"][0], np.rad2deg([-0.2, 0.1, 0.05]), atol=1e-4)  # yaw, pitch, roll
    np.testing.assert_allclose(got.labels["landmarks"][0], pt3d[:2].T, atol=1e-4)  # not the 21-point pt2d


def test_300wlp_as_released_with_landmarks_folder(tmp_path):
    root = tmp_path / "300W_LP"
    for stem in ("AFW/AFW_134212_1_0", "AFW_Flip/AFW_134212_1_0"):
        released_mat(root / stem, (0.0, 0.3, 0.0), {"pt2d": RNG.uniform(0, 19, (2, 68))})
    (root / "landmarks" / "AFW").mkdir(parents=True)
    savemat_deterministic(root / "landmarks" / "AFW" / "AFW_134212_1_0_pts.mat", {"pts_2d": np.zeros((68, 2))})
    (root / "Code").mkdir()
    (root / "Code" / "main.m").write_text("% matlab\n")
    got = formats.read("300wlp", root)
    assert len(got) == 2 and sorted(got.labels["subset"]) == ["AFW", "AFW_Flip"]


# --- 300-W --------------------------------------------------------------------------------------------
def pts_text(points):
    rows = "".join(f"{x + 1:.3f} {y + 1:.3f}  \n" for x, y in points)
    return f"version: 1\nn_points:  68\n{{\n{rows}}}\n"


@pytest.mark.parametrize("layout", ["official", "ibug", "dlib"])
def test_300w_layouts(tmp_path, layout):
    folders = {"official": ["300W/01_Indoor", "300W/02_Outdoor"],
               "ibug": ["afw", "helen/trainset", "helen/testset", "lfpw/testset", "ibug"],
               "dlib": ["ibug_300W_large_face_landmark_dataset/afw", "ibug_300W_large_face_landmark_dataset/Helen/TestSet"]}[layout]
    points = RNG.uniform(0, 19, (68, 2))
    for i, folder in enumerate(folders):
        save_image(tmp_path / folder / f"im_{i}.png", face(20))
        write(tmp_path / folder / f"im_{i}.pts", pts_text(points), crlf=True, bom=(i == 0))
    got = formats.read("300w", tmp_path)
    assert len(got) == len(folders)
    np.testing.assert_allclose(got.labels["landmarks"][0], points, atol=1e-3)
    expected = {"official": {"private"}, "ibug": {"train", "test"}, "dlib": {"train", "test"}}[layout]
    assert set(got.split) == expected


# --- MAFL on CelebA ------------------------------------------------------------------------------------
HEADER = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"


def test_mafl_on_celeba_release_layout(tmp_path):
    for name in ("000001.jpg", "000002.jpg"):
        save_image(tmp_path / "Img" / "img_align_celeba" / name, face(20))
    write(tmp_path / "Anno" / "list_landmarks_align_celeba.txt",
          f"2\n{HEADER}\n000001.jpg 1 2 3 4 5 6 7 8 9 10\n000002.jpg 2 2 3 4 5 6 7 8 9 11 \n", crlf=True)
    write(tmp_path / "MAFL" / "training.txt", "000001.jpg\n")
    write(tmp_path / "MAFL" / "testing.txt", "000002.jpg\n")
    got = formats.read("mafl", tmp_path)
    assert list(got.split) == ["train", "test"] and got.labels["landmarks"][1, 4, 1] == 11


def test_mafl_on_kaggle_celeba_csv(tmp_path):
    save_image(tmp_path / "img_align_celeba" / "img_align_celeba" / "000001.jpg", face(20))
    save_image(tmp_path / "img_align_celeba" / "img_align_celeba" / "000002.jpg", face(20))
    write(tmp_path / "list_landmarks_align_celeba.csv", "image_id," + HEADER.replace(" ", ",") + "\n"
          "000001.jpg,1,2,3,4,5,6,7,8,9,10\n000002.jpg,1,2,3,4,5,6,7,8,9,12\n")
    write(tmp_path / "training.txt", "000001.jpg\n")
    write(tmp_path / "testing.txt", "000002.jpg\n")
    got = formats.read("mafl", tmp_path)
    assert got.labels["landmarks"][1, 4, 1] == 12 and "img_align_celeba/img_align_celeba" in got.images[0]


def test_mafl_on_kaggle_celeba_without_the_mafl_lists_says_where_they_go(tmp_path):
    # Kaggle's jessicali9530/celeba-dataset: archive/img_align_celeba/img_align_celeba/ + the csv lists, no MAFL lists
    root = tmp_path / "archive"
    save_image(root / "img_align_celeba" / "img_align_celeba" / "000001.jpg", face(20))
    write(root / "list_landmarks_align_celeba.csv", "image_id," + HEADER.replace(" ", ",") + "\n"
          "000001.jpg,69,109,106,113,77,142,73,152,108,154\n")
    with pytest.raises(DataFormatError, match=r"archive/training.txt: MAFL split list training.txt and testing.txt "
                                              r"not found: CelebA \(and Kaggle's CelebA copy\) does not include MAFL's "
                                              rf"training.txt / testing.txt; put them in {root / 'MAFL'}/ or beside "
                                              r"list_landmarks_align_celeba.csv"):
        formats.read("mafl", tmp_path)
    write(root / "MAFL" / "training.txt", "000001.jpg\n")
    write(root / "MAFL" / "testing.txt", "")
    assert list(formats.read("mafl", tmp_path).labels["landmarks"][0, 0]) == [69, 109]


# --- DISFA --------------------------------------------------------------------------------------------
def disfa_labels(root, subject="SN001", frames=3):
    for au in (1, 2, 4, 6, 9, 12, 25, 26):
        write(root / "ActionUnit_Labels" / subject / f"{subject}_au{au}.txt",
              "".join(f"{k},{(k + au) % 6}\n" for k in range(1, frames + 1)), crlf=True)


@pytest.mark.parametrize("folder,names", [("Images/SN001", ["00001.jpg", "00002.jpg", "00003.jpg"]),
                                          ("img/LeftVideoSN001", ["0.png", "1.png", "2.png"]),
                                          ("Images_LeftCamera/SN001", ["frame_1.jpg", "frame_2.jpg", "frame_3.jpg"])])
def test_disfa_frame_folders(tmp_path, folder, names):
    disfa_labels(tmp_path)
    for i, name in enumerate(names):
        image = np.full((8, 8, 3), 40 * (i + 1), dtype=np.uint8)
        save_image(tmp_path / folder / name, image)
    got = formats.read("disfa", tmp_path)
    assert list(got.labels["frame"]) == [1, 2, 3]
    from facessl.data.formats.common import load_image

    assert [int(load_image(p)[0, 0, 0]) // 40 for p in got.images] == [1, 2, 3]  # frame k = k-th file


def test_disfa_right_camera_video(tmp_path):
    import cv2

    disfa_labels(tmp_path, frames=2)
    path = tmp_path / "Videos_RightCamera" / "RightVideoSN001_comp.avi"
    path.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (16, 16))
    for value in (50, 200):
        writer.write(np.full((16, 16, 3), value, dtype=np.uint8))
    writer.release()
    got = formats.read("disfa", tmp_path)
    assert got.images.shape[0] == 2 and got.images[1].mean() > got.images[0].mean() + 100


def test_calfw_is_read_as_a_verification_set_by_default(tmp_path):
    from facessl.evaluate.suite import TaskSpec

    assert TaskSpec("", f"calfw:{tmp_path}").task == "verification"
