"""Your own labelled faces: class folders and CSV tables read into ImageSets, and one-line errors."""
import re

import numpy as np
import pytest

from facessl.data import formats
from facessl.data.formats.grouping import group_of, grouped_stratified_split
from facessl.data.formats.imagefiles import save_image as _save
from facessl.errors import DataFormatError, FacesslError

RNG = np.random.default_rng(3)


def img(path, value=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8) if value is None else np.full((8, 8, 3), value, np.uint8))


def test_imagefolder_with_split_folders_symlinks_and_nesting(tmp_path):
    for split in ("train", "val", "test"):
        for label in ("happy", "sad"):
            img(tmp_path / "data" / split / label / "deep" / f"{split}_{label}.png")
    (tmp_path / "extra").mkdir()
    img(tmp_path / "extra" / "more.jpg")
    (tmp_path / "data" / "train" / "happy" / "linked").symlink_to(tmp_path / "extra", target_is_directory=True)
    got = formats.read("imagefolder", tmp_path / "data")
    assert got.meta["class_names"] == ["happy", "sad"]
    assert sorted(got.split) == ["test"] * 2 + ["train"] * 3 + ["val"] * 2
    assert any(p.endswith("linked/more.jpg") for p in got.images)  # through the symlinked folder


def test_imagefolder_train_and_val_only_make_val_the_test_split_through_wrappers(tmp_path):
    """SFEW (Train/, Val/; test labels never released), AFEW's train_afew/ val_afew/, SFEW's
    Train/Train_Aligned_Faces/<class>/ and an archive's own folder above it all."""
    for split, inner in (("Train", "Train_Aligned_Faces"), ("Val", "Val_Aligned_Faces")):
        for label in ("Angry", "Happy"):
            img(tmp_path / "sfew" / "SFEW_2" / split / inner / label / f"{split}_{label}.png")
            img(tmp_path / "afew" / f"{split.lower()}_afew" / label / f"{split}_{label}.jpg")
    for root in ("sfew", "afew"):
        got = formats.read("imagefolder", tmp_path / root)
        assert got.meta["class_names"] == ["Angry", "Happy"]
        assert got.split.tolist() == ["train", "train", "test", "test"] if root == "sfew" else sorted(got.split) == [
            "test", "test", "train", "train"]
        assert "is the test split" in got.meta["split_from"]
    img(tmp_path / "two" / "train" / "a" / "1.png")
    img(tmp_path / "two" / "Training_Set" / "a" / "2.png")
    with pytest.raises(DataFormatError, match="both Training_Set/ and train/ look like the train folder"):
        formats.read("imagefolder", tmp_path / "two")


def test_imagefolder_seeded_grouped_stratified_split(tmp_path):
    for subject in range(10):
        for label in ("a", "b"):
            for k in range(3):
                img(tmp_path / label / f"S{subject:03d}_{k:03d}_{label}.png")
    got = formats.read("imagefolder", tmp_path, group=r"^(S\d+)_")
    subjects = np.array([p.split("/")[-1][:4] for p in got.images])
    train, test = set(subjects[got.split == "train"]), set(subjects[got.split == "test"])
    assert not train & test and train and test  # no subject on both sides
    for c in (0, 1):  # each class about 20 % in test
        share = np.mean(got.split[got.labels["class"] == c] == "test")
        assert 0.1 <= share <= 0.35
    again = formats.read("imagefolder", tmp_path, group=r"^(S\d+)_")
    assert list(again.split) == list(got.split)  # seeded


def test_grouped_split_balances_rare_classes_held_by_few_groups():
    # a rare class concentrated in two large groups: one must go to test, one stay in train
    labels = np.array([0] * 800 + [1] * 60 + [1] * 40)
    groups = np.array([f"g{i}" for i in range(800)] + ["big"] * 60 + ["other"] * 40)
    split = grouped_stratified_split(labels, groups, 0.2, seed=0)
    assert {split[800], split[860]} == {"train", "test"}
    assert 0.15 <= np.mean(split[:800] == "test") <= 0.25


def test_group_of_unmatched_names_are_their_own_group():
    import re

    pattern = re.compile(r"^([A-Za-z_]+?)_\d{1,4}\.")
    assert group_of("x/George_W_Bush_0001.jpg", pattern) == "George_W_Bush"
    assert group_of("facial-expressions_2868588k.jpg", pattern) == "facial-expressions_2868588k.jpg"


def test_imagefolder_errors_name_the_folder(tmp_path):
    img(tmp_path / "happy" / "1.png")
    (tmp_path / "sad").mkdir()
    with pytest.raises(DataFormatError, match=r"sad: class folder 'sad' holds no images"):
        formats.read("imagefolder", tmp_path)
    with pytest.raises(DataFormatError, match="no class folders"):
        formats.read("imagefolder", tmp_path / "happy")


def write_csv(path, text, bom=True, crlf=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (text.replace("\n", "\r\n") if crlf else text).encode())


def test_csv_classification_with_images_folder_groups_and_split_column(tmp_path):
    for i in range(6):
        img(tmp_path / "photos" / f"p{i}.jpg")
    rows = "".join(f"u{i % 2},p{i}.jpg,{'happy' if i % 2 else 'sad'},{'test' if i >= 4 else 'Train'}  \n" for i in range(6))
    write_csv(tmp_path / "legend.csv", "user.id,image,emotion,split\n" + rows)
    got = formats.read("csv", tmp_path / "legend.csv", images=tmp_path / "photos", label_column="emotion",
                       split_column="split")
    assert got.meta["class_names"] == ["happy", "sad"] and list(got.labels["class"]) == [1, 0, 1, 0, 1, 0]
    assert list(got.split) == ["train"] * 4 + ["test"] * 2


def test_csv_regression_and_points(tmp_path):
    for i in range(5):
        img(tmp_path / f"{i}.png")
    write_csv(tmp_path / "pose.csv", "file,yaw,pitch,roll,lx,ly,rx,ry\n" +
              "".join(f'{i}.png,{i},{-i},0.5,1,2,"3",4\n' for i in range(5)), bom=False)
    reg = formats.read("csv", tmp_path / "pose.csv", target_columns="yaw,pitch,roll")
    assert reg.labels["target"].shape == (5, 3) and reg.meta["target_columns"] == ["yaw", "pitch", "roll"]
    pts = formats.read("csv", tmp_path / "pose.csv", point_columns="?x,?y")
    assert pts.labels["landmarks"].shape == (5, 2, 2) and list(pts.labels["landmarks"][0].ravel()) == [1, 2, 3, 4]


def test_csv_errors_are_one_line_and_name_the_problem(tmp_path):
    img(tmp_path / "a.jpg")
    write_csv(tmp_path / "t.csv", "image,label\na.jpg,x\nmissing.jpg,y\n")
    with pytest.raises(DataFormatError, match=r"t.csv:3: image .*missing.jpg named here does not exist"):
        formats.read("csv", tmp_path / "t.csv")
    assert formats.read("csv", tmp_path / "t.csv", skip_missing=True).dropped == {"missing_image": 1}
    with pytest.raises(DataFormatError, match=r"no column 'emotion'; the header has 'image', 'label'"):
        formats.read("csv", tmp_path / "t.csv", label_column="emotion")
    write_csv(tmp_path / "n.csv", "image,yaw\na.jpg,abc\n")
    with pytest.raises(DataFormatError, match=r"n.csv:2: column 'yaw': expected a finite number, got 'abc'"):
        formats.read("csv", tmp_path / "n.csv", target_columns="yaw")
    write_csv(tmp_path / "s.csv", "image,label,split\na.jpg,x,holdout\n")
    with pytest.raises(DataFormatError, match=r"split 'holdout'"):
        formats.read("csv", tmp_path / "s.csv", split_column="split")
    with pytest.raises(FacesslError, match="--group"):
        formats.read("csv", tmp_path / "t.csv", group="([", skip_missing=True)


@pytest.mark.parametrize("table", ["legend.csv", "data/legend.csv"])
def test_a_csv_beside_its_images_folder_names_the_folder_to_pass(tmp_path, table):
    """legend.csv next to images/ (or in data/ beside it, as the facial-expressions repository ships): without
    --images the error names the folder that holds the images, and with it the table reads."""
    for i in range(4):
        img(tmp_path / "images" / f"f{i}.jpg")
    write_csv(tmp_path / table, "image,emotion\n" + "".join(f"f{i}.jpg,{'happy' if i % 2 else 'sad'}\n" for i in range(4)))
    for skip in (False, True):
        with pytest.raises(DataFormatError, match=rf"legend.csv:2: image 'f0.jpg' is not in the CSV's folder .* but in "
                                                  rf"{re.escape(str(tmp_path / 'images'))}: pass --images "):
            formats.read("csv", tmp_path / table, label_column="emotion", skip_missing=skip)
    got = formats.read("csv", tmp_path / table, images=tmp_path / "images", label_column="emotion")
    assert len(got.images) == 4 and got.meta["class_names"] == ["happy", "sad"]


def test_min_class_count_leaves_rare_classes_out_before_the_split(tmp_path):
    rows = []
    for label, n in (("happy", 30), ("neutral", 40), ("contempt", 3)):
        for i in range(n):
            img(tmp_path / "faces" / label / f"{label}_{i}.png")
            rows.append(f"{label}/{label}_{i}.png,{label}\n")
    write_csv(tmp_path / "faces" / "legend.csv", "image,emotion\n" + "".join(rows))
    kept = formats.read("csv", tmp_path / "faces" / "legend.csv", label_column="emotion", min_class_count=10)
    folder = formats.read("imagefolder", tmp_path / "faces", min_class_count=10)
    for got in (kept, folder):
        assert got.meta["class_names"] == ["happy", "neutral"] and got.meta["left_out_classes"] == {"contempt": 3}
        assert len(got) == 70 and sorted(set(got.labels["class"])) == [0, 1]
        assert not any("contempt" in p for p in got.images)
        assert got.dropped["in classes with fewer than 10 images"] == 3
        assert {"train", "test"} == set(got.split)
    assert formats.read("imagefolder", tmp_path / "faces").meta["class_names"] == ["contempt", "happy", "neutral"]
    with pytest.raises(FacesslError, match="every class has fewer images"):
        formats.read("imagefolder", tmp_path / "faces", min_class_count=1000)


def test_imagefolder_labels_from_file_names_as_jaffe_and_kdef_code_them(tmp_path):
    for name in ("KA.AN1.39.tiff", "KA.HA2.30.tiff", "KL.AN3.57.tiff", "KL.HA1.33.tiff", "YM.NE1.49.tiff",
                 "YM.AN2.60.tiff", "TM.HA1.12.tiff", "TM.NE2.13.tiff", "README.png"):
        img(tmp_path / "jaffe" / name, 100)
    got = formats.read("imagefolder", tmp_path / "jaffe", label_regex=r"\.([A-Z]{2})\d", group=r"^([A-Z]{2})\.")
    assert got.meta["class_names"] == ["AN", "HA", "NE"] and len(got) == 8
    assert got.dropped == {"file name without a label (--label-regex)": 1}
    assert [got.meta["class_names"][c] for c in got.labels["class"][:2]] == ["AN", "HA"]
    for person in ("KA", "KL", "YM", "TM"):  # a person's photos stay on one side of the split
        assert len(set(got.split[got.labels["group"] == person])) == 1
    with pytest.raises(FacesslError, match="needs a group in parentheses"):
        formats.read("imagefolder", tmp_path / "jaffe", label_regex=r"\.[A-Z]{2}\d")
    with pytest.raises(FacesslError, match="finds a label in none"):
        formats.read("imagefolder", tmp_path / "jaffe", label_regex=r"^(zz)")


def test_a_pattern_with_a_slash_reads_the_path_for_labels_and_groups(tmp_path):
    """Oulu-CASIA's `VL/Strong/P001/Anger/000.jpeg`: the class is the second folder, the person the first."""
    root = tmp_path / "VL" / "Strong"
    for person in ("P001", "P002", "P003", "P004", "P005"):
        for emotion in ("Anger", "Happiness"):
            for frame in ("000.jpeg", "001.jpeg"):
                img(root / person / emotion / frame, 90)
    got = formats.read("imagefolder", root, label_regex=r"^P\d+/(\w+)/", group=r"^(P\d+)/")
    assert got.meta["class_names"] == ["Anger", "Happiness"] and len(got) == 20
    assert sorted(set(got.labels["group"])) == ["P001", "P002", "P003", "P004", "P005"]
    for person in set(got.labels["group"]):  # a person's sequences stay on one side of the split
        assert len(set(got.split[got.labels["group"] == person])) == 1
    assert set(got.split) == {"train", "test"}
    # without a '/' the pattern still reads the file name only (the folders above are not searched)
    with pytest.raises(FacesslError, match="finds a label in none"):
        formats.read("imagefolder", root, label_regex=r"(Anger|Happiness)")
    assert group_of("data/P001/Anger/000.jpeg", re.compile(r"/(P\d+)/")) == "P001"
    assert group_of("data\\P002\\Anger\\000.jpeg", re.compile(r"/(P\d+)/")) == "P002"  # CSV on Windows
    # a name the pattern does not match is its own group: the whole path, as other folders hold files of that name
    assert group_of("data/P001/Anger/000.jpeg", re.compile(r"(P\d+)")) == "data/P001/Anger/000.jpeg"
    with pytest.raises(FacesslError, match=r"--group '\(P\\d\+\)' matches none of the 20 files; it is searched in "
                                           r"the file name, e\.g\. '000\.jpeg'"):
        formats.read("imagefolder", root, label_regex=r"^P\d+/(\w+)/", group=r"(P\d+)")


def test_csv_face_boxes_crop_each_row_and_move_its_points(tmp_path):
    from facessl.data.formats.common import load_image

    photo = np.zeros((40, 60, 3), np.uint8)
    photo[10:30, 20:40] = 220  # the face
    photo[14, 25] = 255        # a landmark's pixel
    (tmp_path / "p").mkdir()
    _save(tmp_path / "p" / "a.png", photo)
    _save(tmp_path / "p" / "b.png", photo)
    (tmp_path / "t.csv").write_text("file,x,y,w,h,lx,ly,label\np/a.png,20,10,20,20,25,14,happy\np/b.png,20,10,20,20,25,14,sad\n")
    got = formats.read("csv", tmp_path / "t.csv", box_columns="x,y,w,h", label_column="label")
    crop = load_image(got.images[0])
    assert crop.shape == (20, 20, 3) and crop.min() >= 200 and str(got.images[0]).endswith("p/a.png")
    pts = formats.read("csv", tmp_path / "t.csv", box_columns="x,y,w,h", point_columns="lx,ly")
    x, y = pts.labels["landmarks"][0, 0].astype(int)
    assert (x, y) == (5, 4) and load_image(pts.images[0])[y, x, 0] == 255
    (tmp_path / "u.csv").write_text("file,x0,y0,x1,y1,label\np/a.png,20,10,40,30,happy\np/b.png,20,10,20,30,sad\n")
    with pytest.raises(DataFormatError, match="u.csv:3.*no area"):
        formats.read("csv", tmp_path / "u.csv", box_columns="x0,y0,x1,y1", box_format="xyxy")
    with pytest.raises(FacesslError, match="four columns"):
        formats.read("csv", tmp_path / "t.csv", box_columns="x,y,w")


def test_imagefolder_groups_images_in_folders_below_the_class_by_that_folder(tmp_path):
    """`class/<person or track>/*.jpg`: frames of one folder are near-identical; split apart, they inflate the score."""
    img = np.full((8, 8, 3), 120, np.uint8)
    for label in ("happy", "sad"):
        for person in range(6):
            for k in range(4):
                (tmp_path / label / f"S{person:02d}").mkdir(parents=True, exist_ok=True)
                _save(tmp_path / label / f"S{person:02d}" / f"{k:04d}.jpg", img)
        _save(tmp_path / label / "loose.jpg", img)
    data = formats.read("imagefolder", tmp_path, test_fraction=0.3)
    assert "grouped by the folders below the class folders" in data.meta["split_from"]
    groups = data.labels["group"]
    assert set(groups) == {f"S{p:02d}" for p in range(6)} | {"happy/loose.jpg", "sad/loose.jpg"}
    for group in set(groups):  # one person's folder, under both classes, on one side
        assert len(set(data.split[groups == group])) == 1


def test_imagefolder_of_videos_points_to_videofolder(tmp_path):
    for label in ("happy", "sad"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "clip.MP4").write_bytes(b"\x00")
    with pytest.raises(DataFormatError, match=r"holds no images .*; it holds 1 video\(s\): read video clips with "
                                              r"--dataset videofolder:PATH"):
        formats.read("imagefolder", tmp_path)


def test_inspect_names_classes_with_few_test_images(tmp_path):
    from facessl.commands.inspect import describe

    img = np.full((8, 8, 3), 120, np.uint8)
    for split, counts in (("train", {"happy": 6, "sad": 6}), ("test", {"happy": 6, "sad": 2})):
        for label, n in counts.items():
            (tmp_path / split / label).mkdir(parents=True)
            for k in range(n):
                _save(tmp_path / split / label / f"{k}.jpg", img)
    lines = describe(formats.read("imagefolder", tmp_path))
    assert "  few test images (under 5): sad (2); --min-class-count N leaves classes with fewer than N images out" in lines
