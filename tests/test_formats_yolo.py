"""YOLO-format face sets (formats/yolo.py) in the layouts Roboflow, Ultralytics and Kaggle copies ship in.
Every fixture is written here from the documented layout (tiny PIL images), never from the real data."""
import json

import numpy as np
import pytest
from PIL import Image

import facessl
from eval_toys import ToyEncoder
from image_toys import write
from facessl.cli import main
from facessl.data import formats
from facessl.data.image_decode import BoxedImage, read_face
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate.suite import FORMAT_TASK
from test_generic_eval import CLI_FAST

RNG = np.random.default_rng(7)
NAMES = ["Anger", "Contempt", "Disgust"]
LIST_YAML = "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 3\nnames: ['Anger', 'Contempt', 'Disgust']\n"


def image(path, width=40, height=30, level=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (RNG.integers(0, 256, (height, width, 3)) if level is None
              else np.clip(level + RNG.normal(0, 6, (height, width, 3)), 0, 255)).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def labelled(images, labels, stem, lines, suffix=".jpg", **kw):
    """An image and its label file (lines joined; kw: crlf / bom as a real export may write them)."""
    image(images / f"{stem}{suffix}")
    write(labels / f"{stem}.txt", "".join(line + "\n" for line in lines), **kw)


def roboflow(root, yaml=LIST_YAML, splits=("train", "valid", "test")):
    """train/ valid/ test/ with images/ and labels/: photo k of a split holds class k % 3 and, in photo 0, a
    second face of class 1."""
    if yaml is not None:
        write(root / "data.yaml", yaml)
    for split in splits:
        for k in range(3):
            lines = [f"{k % 3} 0.5 0.5 0.4 0.6"] + (["1 0.2 0.2 0.1 0.1"] if k == 0 else [])
            labelled(root / split / "images", root / split / "labels", f"{split}{k}_jpg.rf.0123456789abcdef", lines)


def test_roboflow_export_faces_labels_groups_and_splits(tmp_path):
    roboflow(tmp_path)
    got = formats.read("yolo", tmp_path)
    assert got.meta["class_names"] == NAMES and "note" not in got.meta
    assert len(got) == 12 and got.dropped == {}
    assert list(got.split) == ["train"] * 4 + ["test"] * 4 + ["val"] * 4  # a test split: val kept as val
    assert list(got.labels["class"][:4]) == [0, 1, 1, 2]
    # the two faces of a photo share its group, Roboflow's .rf.<hash> taken off
    assert list(got.labels["group"][:2]) == ["train/images/train0_jpg.jpg"] * 2
    assert len(set(got.labels["group"])) == 9
    first = got.images[0]
    assert isinstance(first, BoxedImage) and first.endswith("train/images/train0_jpg.rf.0123456789abcdef.jpg")
    # cx 0.5 cy 0.5 w 0.4 h 0.6 of a 40x30 picture: 16 x 18 px about (20, 15), grown by 1.2
    assert np.allclose(first.box, (20 - 9.6, 15 - 10.8, 20 + 9.6, 15 + 10.8))
    assert read_face(first, 16).shape == (16, 16, 3)


def test_validation_is_the_test_split_without_a_test_folder(tmp_path):
    roboflow(tmp_path, yaml=LIST_YAML.replace("test: ../test/images\n", ""), splits=("train", "valid"))
    got = formats.read("yolo", tmp_path)
    assert sorted(set(got.split)) == ["test", "train"] and list(got.split).count("test") == 4
    assert "val is the test split" in got.meta["split_from"]


@pytest.mark.parametrize("names", ["names: ['Anger', 'Contempt', 'Disgust']",
                                   "names:\n  0: Anger\n  1: Contempt\n  2: Disgust",
                                   "names: {2: Disgust, 0: Anger, 1: Contempt}"])
def test_names_as_a_list_or_a_mapping(tmp_path, names):
    roboflow(tmp_path, yaml=f"train: train/images\nval: valid/images\ntest: test/images\nnc: 3\n{names}\n")
    assert formats.read("yolo", tmp_path).meta["class_names"] == NAMES


def test_ultralytics_layout_with_path_key(tmp_path):
    root = tmp_path / "faces"
    write(root / "faces.yaml", "path: .\ntrain: images/train\nval: images/val\ntest:\nnames:\n  0: happy\n  1: sad\n")
    for split in ("train", "val"):
        for k in range(2):
            labelled(root / "images" / split, root / "labels" / split, f"{split}{k}", [f"{k} 0.5 0.5 0.5 0.5"])
    got = formats.read("yolo", tmp_path)  # found one folder below, the yaml by its content
    assert got.meta["class_names"] == ["happy", "sad"] and got.source == str(root)
    assert list(got.split) == ["train", "train", "test", "test"] and list(got.labels["class"]) == [0, 1, 0, 1]
    assert got.images[0].endswith("images/train/train0.jpg")
    assert formats.read("yolo", root / "faces.yaml").meta["class_names"] == ["happy", "sad"]  # the yaml given


def test_found_two_folders_below_with_absolute_yaml_paths_from_another_machine(tmp_path):
    root = tmp_path / "affectnet-yolo" / "YOLO_format"
    yaml = ("train: /content/drive/MyDrive/YOLO_format/train/images\nval: C:\\Users\\me\\YOLO_format\\valid\\images\n"
            "test: /kaggle/input/elsewhere/test\nnc: 3\nnames: ['Anger', 'Contempt', 'Disgust']\n")
    roboflow(root, yaml=yaml)
    got = formats.read("yolo", tmp_path)
    assert len(got) == 12 and got.meta["class_names"] == NAMES
    assert list(got.split) == ["train"] * 4 + ["test"] * 4 + ["val"] * 4
    # train and val found by their paths' last parts; test from the test/ folder beside the yaml, said so
    assert "test: /kaggle/input/elsewhere/test not found here, read test/images/" in got.meta["split_from"]


def test_without_a_yaml_the_class_names_are_the_ids_with_a_note(tmp_path):
    roboflow(tmp_path, yaml=None)
    got = formats.read("yolo", tmp_path)
    assert got.meta["class_names"] == ["0", "1", "2"] and "data.yaml" in got.meta["note"]
    assert list(got.split) == ["train"] * 4 + ["test"] * 4 + ["val"] * 4
    write(tmp_path / "data.yaml", "nc: 4\n")  # a yaml with the number of classes alone: ids too, said so
    got = formats.read("yolo", tmp_path)
    assert got.meta["class_names"] == ["0", "1", "2", "3"]
    assert "no data.yaml, obj.names or classes.txt names them" in got.meta["note"]


def test_unsplit_folders_get_a_seeded_split_grouped_by_photo(tmp_path):
    for k in range(20):  # every photo holds two faces, and has an augmented Roboflow copy
        for copy in ("0123456789ab", "ba9876543210"):
            labelled(tmp_path / "images", tmp_path / "labels", f"p{k}_jpg.rf.{copy}",
                     [f"{k % 2} 0.3 0.5 0.2 0.2", f"{k % 2} 0.7 0.5 0.2 0.2"])
    got = formats.read("yolo", tmp_path, test_fraction=0.25, seed=1)
    assert len(got) == 80 and "seeded (1) stratified split, 25% test, grouped by photo" in got.meta["split_from"]
    for group in set(got.labels["group"]):  # two faces x two copies of a photo: always one side
        assert len(set(got.split[got.labels["group"] == group])) == 1
    assert 0 < list(got.split).count("test") < 80


def test_segmentation_polygons_keypoints_and_whole_picture_boxes(tmp_path):
    root = tmp_path / "seg"
    write(root / "data.yaml", "names: [a, b]\n")
    labelled(root / "train" / "images", root / "train" / "labels", "poly",
             ["1 0.1 0.2 0.5 0.2 0.5 0.8 0.1 0.8", "0 0 0 1 0 1 1 0 1"], suffix=".PNG")
    labelled(root / "valid" / "images", root / "valid" / "labels", "v", ["0 0.5 0.5 1 1"], suffix=".webp")
    got = formats.read("yolo", root)
    assert list(got.labels["class"]) == [1, 0, 0] and list(got.split) == ["train", "train", "test"]
    # the polygon's bounding box: x 0.1..0.5, y 0.2..0.8 of a 40x30 picture, grown by 1.2 about its centre
    assert np.allclose(got.images[0].box, (12 - 9.6, 15 - 10.8, 12 + 9.6, 15 + 10.8))
    assert type(got.images[1]) is str and type(got.images[2]) is str  # whole-picture boxes: the picture itself
    write(root / "data.yaml", "names: [a, b]\nkpt_shape: [2, 3]\n")
    write(root / "train" / "labels" / "poly.txt", "1 0.5 0.5 0.5 0.5 0.4 0.4 2 0.6 0.4 2\n")
    assert np.allclose(formats.read("yolo", root).images[0].box, (8, 6, 32, 24))
    assert np.allclose(formats.read("yolo", root, box_scale=1).images[0].box, (10, 7.5, 30, 22.5))


def test_crlf_bom_blank_lines_and_images_without_faces(tmp_path):
    root = tmp_path / "export"
    write(root / "data.yaml", LIST_YAML, crlf=True, bom=True)
    labelled(root / "train" / "images", root / "train" / "labels", "a", ["", "2 0.5 0.5 0.5 0.5", "  "],
             crlf=True, bom=True)
    labelled(root / "train" / "images", root / "train" / "labels", "background", [])
    image(root / "train" / "images" / "unlabelled.JPEG")
    labelled(root / "valid" / "images", root / "valid" / "labels", "b", ["0 0.5 0.5 0.5 0.5"])
    write(root / "train" / "labels" / "no_image.txt", "1 0.5 0.5 0.5 0.5\n")  # a label without its image: no face
    (root / "train" / "images" / "notes.txt").write_text("not an image")
    got = formats.read("yolo", root)
    assert list(got.labels["class"]) == [2, 0] and list(got.split) == ["train", "test"]
    assert got.dropped == {"image with an empty label file (no face)": 1, "image without a label file": 1}


@pytest.mark.parametrize("line, expected", [
    ("0 0.5 0.5 0.4", "expected 'class cx cy w h' \\(5 fields\\) or a polygon .*got 4 fields"),
    ("0 0.5 0.5 0.4 0.4 0.1", "expected 'class cx cy w h'.* got 6 fields"),
    ("3 0.5 0.5 0.4 0.4", "expected a class id 0..2 \\(the names in data.yaml\\), got 3"),
    ("-1 0.5 0.5 0.4 0.4", "expected a class id 0..2"),
    ("angry 0.5 0.5 0.4 0.4", "expected a class id 0, 1, ..., got 'angry'"),
    ("0 0.5 0.5 40 30", "expected coordinates normalised to \\[0, 1\\], got 40 \\(pixels\\? YOLO"),
    ("0 0.5 -0.2 0.4 0.4", "expected coordinates normalised to \\[0, 1\\], got -0.2$"),
    ("0 0.5 0.5 0 0.4", "expected a box of positive width and height, got 0 x 0.4"),
    ("0 0.5 0.5 nan 0.4", "expected coordinates normalised to \\[0, 1\\], got nan$"),
])
def test_a_malformed_label_line_names_file_and_line(tmp_path, line, expected):
    roboflow(tmp_path)
    write(tmp_path / "valid" / "labels" / "valid1_jpg.rf.0123456789abcdef.txt", f"1 0.5 0.5 0.4 0.4\n{line}\n")
    with pytest.raises(DataFormatError, match=f"valid1_jpg.rf.0123456789abcdef.txt:2: {expected}") as error:
        formats.read("yolo", tmp_path)
    assert "\n" not in str(error.value)


def test_small_rounding_outside_the_unit_square_is_accepted(tmp_path):
    roboflow(tmp_path)
    write(tmp_path / "valid" / "labels" / "valid1_jpg.rf.0123456789abcdef.txt", "1 0.5 0.5 1.000001 -0.0\n"
          "1 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataFormatError, match="positive width and height, got 1 x 0"):  # -0.0 is in range, not > 0
        formats.read("yolo", tmp_path)
    write(tmp_path / "valid" / "labels" / "valid1_jpg.rf.0123456789abcdef.txt", "1 0.5 0.5 1.004 0.3\n")
    assert len(formats.read("yolo", tmp_path)) == 12


@pytest.mark.parametrize("yaml, expected", [
    ("names: [a, b\n", "data.yaml:2: not valid YAML"),
    ("- a\n- b\n", "data.yaml: expected YOLO keys \\(names:, train:, val:\\), got list"),
    ("nc: 4\nnames: [a, b, c]\n", "data.yaml: nc: 4 but names lists 3 classes"),
    ("names: {0: a, 2: b}\n", "data.yaml: names: expected class ids 0..1, got \\[0, 2\\]"),
    ("names: {zero: a}\n", "data.yaml: names: expected class ids 0, 1, ... as keys"),
    ("names: anger\n", "data.yaml: names: expected a list"),
])
def test_a_malformed_yaml_is_one_line(tmp_path, yaml, expected):
    roboflow(tmp_path, yaml=yaml)
    with pytest.raises(DataFormatError, match=expected) as error:
        formats.read("yolo", tmp_path)
    assert "\n" not in str(error.value)


def test_image_lists_missing_images_and_unreadable_images(tmp_path):
    root = tmp_path / "cvat"
    write(root / "data.yaml", "path: ./\ntrain: train.txt\nval: val.txt\nnames:\n  0: a\n  1: b\n")
    for name, cls in (("x", 0), ("y", 1), ("z", 0)):
        labelled(root / "images" / "train", root / "labels" / "train", name, [f"{cls} 0.5 0.5 0.5 0.5"])
    write(root / "train.txt", "./images/train/x.jpg\nimages/train/y.jpg\n")
    write(root / "val.txt", "./images/train/z.jpg\n./images/train/gone.jpg\n")
    with pytest.raises(DataFormatError, match="val.txt:2: image .*gone.jpg named here does not exist"):
        formats.read("yolo", root)
    got = formats.read("yolo", root, skip_missing=True)
    assert list(got.labels["class"]) == [0, 1, 0] and list(got.split) == ["train", "train", "test"]
    assert got.dropped == {"missing_image": 1}
    (root / "images" / "train" / "y.jpg").write_bytes(b"not a jpeg")
    write(root / "val.txt", "./images/train/z.jpg\n")
    with pytest.raises(DataFormatError, match="y.jpg: cannot read the image's size"):
        formats.read("yolo", root)
    got = formats.read("yolo", root, skip_missing=True)
    assert got.dropped == {"image whose size cannot be read": 1} and len(got) == 2


def test_not_a_yolo_set_says_where_it_looked(tmp_path):
    image(tmp_path / "photos" / "a.jpg")
    with pytest.raises(DataFormatError, match="no YOLO dataset found here or up to 2 folders below.*obj.data / "
                                              "obj.names \\+ obj_train_data/.*classes.txt beside images"):
        formats.read("yolo", tmp_path)
    write(tmp_path / "a.yaml", "names: [a]\n")
    write(tmp_path / "b.yaml", "names: [b]\n")
    with pytest.raises(DataFormatError, match=r"several YOLO yaml files \(a.yaml, b.yaml\); give the one to read"):
        formats.read("yolo", tmp_path)
    with pytest.raises(DataFormatError, match="a.yaml's train:/val: paths not found here and no split folders"):
        formats.read("yolo", tmp_path / "a.yaml")
    with pytest.raises(FacesslError, match="yolo box_scale '0': expected a number > 0"):
        formats.read("yolo", tmp_path, box_scale="0")


def test_the_affectnet_reader_points_a_yolo_copy_here(tmp_path):
    roboflow(tmp_path / "kaggle" / "YOLO_format")
    with pytest.raises(DataFormatError, match=f"read it as yolo:{tmp_path / 'kaggle'}") as error:
        formats.read("affectnet", tmp_path / "kaggle")
    assert "not read" not in str(error.value)
    assert len(formats.read("yolo", tmp_path / "kaggle")) == 12


# --- Darknet / CVAT "YOLO 1.1" and LabelImg: labels beside the images, names in obj.names / classes.txt -----
OBJ_DATA = "classes = 2\ntrain = data/train.txt\nnames = data/obj.names\nbackup = backup/\n"


def darknet(root, n=6, obj_data=OBJ_DATA, listed=None, **kw):
    """CVAT's YOLO 1.1 export: obj.names (kw: crlf / bom), obj.data, obj_train_data/img<k>.jpg with img<k>.txt
    beside it (class k % 2), and train.txt naming `listed` (default: each image as data/obj_train_data/...)."""
    write(root / "obj.names", "happy\n\n  sad  \n", **kw)
    if obj_data is not None:
        write(root / "obj.data", obj_data)
    for k in range(n):
        labelled(root / "obj_train_data", root / "obj_train_data", f"img{k}", [f"{k % 2} 0.5 0.5 0.4 0.5"])
    listed = [f"data/obj_train_data/img{k}.jpg" for k in range(n)] if listed is None else listed
    if listed:
        write(root / "train.txt", "".join(line + "\n" for line in listed))


def labelimg(folder, n=6, **kw):
    """LabelImg's YOLO mode: a<k>.jpg with a<k>.txt beside it (class k % 2) and classes.txt (kw: crlf / bom)."""
    write(folder / "classes.txt", "happy\nsad\n", **kw)
    for k in range(n):
        labelled(folder, folder, f"a{k}", [f"{k % 2} 0.5 0.5 0.4 0.5"])


def test_cvat_yolo_1_1_export_names_from_obj_names_and_a_seeded_split(tmp_path):
    root = tmp_path / "cvat"
    darknet(root, crlf=True, bom=True)
    got = formats.read("yolo", root)
    assert got.meta["class_names"] == ["happy", "sad"] and "note" not in got.meta and got.dropped == {}
    assert list(got.labels["class"]) == [0, 1, 0, 1, 0, 1] and got.labels["group"][0] == "obj_train_data/img0.jpg"
    assert got.images[0].endswith("obj_train_data/img0.jpg")  # the label beside its image gave the box
    assert "seeded (" in got.meta["split_from"] and "(read from obj.data train)" in got.meta["split_from"]
    assert 0 < list(got.split).count("test") < 6
    assert formats.read("yolo", root / "obj.data").meta["class_names"] == ["happy", "sad"]  # obj.data given


def test_darknet_list_paths_with_and_without_data_and_a_valid_list(tmp_path):
    root = tmp_path / "darknet" / "data"  # Darknet's convention: the export is data/ below darknet's folder
    darknet(root, obj_data=OBJ_DATA + "valid = data/valid.txt\n",
            listed=["data/obj_train_data/img0.jpg", "obj_train_data/img1.jpg", "data\\obj_train_data\\img2.jpg",
                    str(root / "obj_train_data" / "img3.jpg")])
    labelled(root / "obj_valid_data", root / "obj_valid_data", "v0", ["1 0.5 0.5 0.4 0.5"])
    write(root / "valid.txt", "data/obj_valid_data/v0.jpg\n")
    got = formats.read("yolo", tmp_path / "darknet")  # found one folder below; img4, img5 are not listed
    assert got.source == str(root) and list(got.split) == ["train"] * 4 + ["test"]
    assert list(got.labels["class"]) == [0, 1, 0, 1, 1]
    assert got.meta["split_from"] == "obj.data train, val (no test split: val is the test split)"


def test_an_image_train_txt_names_that_is_missing(tmp_path):
    darknet(tmp_path, listed=["data/obj_train_data/img0.jpg", "obj_train_data/img1.jpg",
                              "data/obj_train_data/gone.jpg", "data/obj_train_data/img2.jpg"])
    with pytest.raises(DataFormatError, match="train.txt:3: image .*gone.jpg named here does not exist"):
        formats.read("yolo", tmp_path)
    got = formats.read("yolo", tmp_path, skip_missing=True)
    assert len(got) == 3 and got.dropped == {"missing_image": 1}


def test_without_train_txt_the_obj_split_data_folders_are_read(tmp_path):
    darknet(tmp_path, obj_data=None, listed=[])  # obj.names and obj_train_data/ alone
    labelled(tmp_path / "obj_valid_data", tmp_path / "obj_valid_data", "v0", ["1 0.5 0.5 0.4 0.5"])
    got = formats.read("yolo", tmp_path)
    assert got.meta["class_names"] == ["happy", "sad"] and list(got.split) == ["train"] * 6 + ["test"]
    assert got.meta["split_from"].startswith("folders train, val")
    write(tmp_path / "obj.data", OBJ_DATA)  # train.txt named but not there: the folder is read, and said so
    got = formats.read("yolo", tmp_path)
    assert len(got) == 7 and "train: data/train.txt not found here, read obj_train_data/" in got.meta["split_from"]
    nested = tmp_path / "nested"  # CVAT keeps the task's own folders: obj_train_data/frames/a.jpg
    write(nested / "obj.names", "happy\nsad\n")
    labelled(nested / "obj_train_data" / "frames", nested / "obj_train_data" / "frames", "a", ["1 0.5 0.5 0.4 0.5"])
    got = formats.read("yolo", nested)
    assert list(got.labels["group"]) == ["obj_train_data/frames/a.jpg"] and got.meta["class_names"] == ["happy", "sad"]


def test_darknet_class_count_class_ids_and_obj_data_lines_are_checked(tmp_path):
    darknet(tmp_path, obj_data=OBJ_DATA.replace("classes = 2", "classes = 3"))
    with pytest.raises(DataFormatError, match="obj.data: classes = 3 but obj.names lists 2 classes"):
        formats.read("yolo", tmp_path)
    write(tmp_path / "obj.data", OBJ_DATA)
    write(tmp_path / "obj_train_data" / "img4.txt", "0 0.5 0.5 0.4 0.5\n2 0.5 0.5 0.4 0.4\n")
    with pytest.raises(DataFormatError, match="img4.txt:2: expected a class id 0..1 \\(the names in obj.names\\), "
                                              "got 2"):
        formats.read("yolo", tmp_path)
    write(tmp_path / "obj.data", "classes: 2\n")
    with pytest.raises(DataFormatError, match="obj.data:1: expected 'key = value'"):
        formats.read("yolo", tmp_path)


def test_labelimg_folder_names_from_classes_txt_which_is_no_label_file(tmp_path):
    labelimg(tmp_path / "faces", crlf=True, bom=True)
    image(tmp_path / "faces" / "classes.png")  # its <stem>.txt is the names file, not its labels
    got = formats.read("yolo", tmp_path)
    assert got.meta["class_names"] == ["happy", "sad"] and "note" not in got.meta
    assert list(got.labels["class"]) == [0, 1, 0, 1, 0, 1] and got.dropped == {"image without a label file": 1}
    assert got.meta["split_from"].endswith("grouped by photo (read from folders unsplit)")
    (tmp_path / "faces" / "classes.txt").unlink()  # images and .txt files alone: not taken for a YOLO set
    with pytest.raises(DataFormatError, match="no YOLO dataset found"):
        formats.read("yolo", tmp_path)


def test_labelimg_split_folders_whose_classes_txt_must_agree(tmp_path):
    root = tmp_path / "images"  # a folder of the user's called images/: no labels/ twin, the labels stay beside
    labelimg(root / "train")
    labelimg(root / "val", n=2)
    write(root / "val" / "classes.txt", "happy\nsad\nsurprised\n")  # LabelImg appended a class met later
    got = formats.read("yolo", root)
    assert got.meta["class_names"] == ["happy", "sad", "surprised"] and list(got.split) == ["train"] * 6 + ["test"] * 2
    write(root / "val" / "classes.txt", "sad\nhappy\n")
    with pytest.raises(DataFormatError, match="val/classes.txt: lists classes \\['sad', 'happy'\\] but "
                                              "train/classes.txt lists \\['happy', 'sad'\\]"):
        formats.read("yolo", root)


def test_classes_txt_names_an_images_labels_pair_without_a_yaml(tmp_path):
    write(tmp_path / "classes.txt", "happy\nsad\n")
    for k in range(4):
        labelled(tmp_path / "images", tmp_path / "labels", f"p{k}", [f"{k % 2} 0.5 0.5 0.4 0.5"])
    got = formats.read("yolo", tmp_path)
    assert got.meta["class_names"] == ["happy", "sad"] and "note" not in got.meta and len(got) == 4
    write(tmp_path / "labels" / "p3.txt", "2 0.5 0.5 0.4 0.4\n")
    with pytest.raises(DataFormatError, match="p3.txt:1: expected a class id 0..1 \\(the names in classes.txt\\)"):
        formats.read("yolo", tmp_path)
    write(tmp_path / "labels" / "p3.txt", "1 0.5 0.5 0.4 0.4\n")
    write(tmp_path / "data.yaml", "nc: 3\n")
    with pytest.raises(DataFormatError, match="data.yaml: nc: 3 but classes.txt lists 2 classes"):
        formats.read("yolo", tmp_path)
    write(tmp_path / "data.yaml", "names: [calm, cross]\n")  # a yaml's names come first
    assert formats.read("yolo", tmp_path).meta["class_names"] == ["calm", "cross"]


# --- through the registry and the CLI -------------------------------------------------------------------
def test_inspect_reads_a_yolo_set(tmp_path, capsys):
    assert FORMAT_TASK["yolo"] == "classification" and "yolo" in formats.FORMAT_NAMES
    roboflow(tmp_path / "export")
    assert main(["inspect", "--dataset", f"yolo:{tmp_path / 'export'}", "--reader-option", "box_scale=1.5",
                 "--out", str(tmp_path / "sheet.png")]) == 0
    out = capsys.readouterr().out
    assert "format yolo, task classification" in out and "images: 12 (test 4, train 4, val 4)" in out
    assert "  Contempt: test 2, train 2, val 2" in out and "groups (kept on one side of the split): 9" in out
    assert (tmp_path / "sheet.png").is_file()


def test_eval_cli_on_a_yolo_set(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    root = tmp_path / "export"
    write(root / "data.yaml", "train: ../train/images\nval: ../valid/images\nnames: [dark, bright]\n")
    for split, n in (("train", 24), ("valid", 10)):
        for k in range(n):  # the face box's brightness follows its class; the rest of the photo is noise
            path = image(root / split / "images" / f"{k}.png", 32, 32)
            pixels = np.asarray(Image.open(path)).copy()
            pixels[8:24, 8:24] = 40 if k % 2 == 0 else 220
            Image.fromarray(pixels).save(path)
            write(root / split / "labels" / f"{k}.txt", f"{k % 2} 0.5 0.5 0.5 0.5\n")
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"yolo:{root}", "--out", str(out),
                 *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"] == ["dark", "bright"]
    assert task["info"]["test_rows"] == 10


def test_inspect_names_classes_without_faces_and_the_readers_note(tmp_path, capsys):
    """A yaml class no box carries is said (not silently absent), and so is a set whose names are only ids."""
    roboflow(tmp_path / "named", yaml=LIST_YAML.replace("nc: 3", "nc: 4").replace("'Disgust']", "'Disgust', 'Fear']"))
    assert main(["inspect", "--dataset", f"yolo:{tmp_path / 'named'}", "--out", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    assert "  no images: Fear" in out and "note:" not in out
    roboflow(tmp_path / "ids", yaml=None)
    assert main(["inspect", "--dataset", f"yolo:{tmp_path / 'ids'}", "--out", str(tmp_path / "b.png")]) == 0
    out = capsys.readouterr().out
    assert "no images" not in out and "\nnote: " in out and "data.yaml" in out


def test_min_class_count_leaves_out_rare_classes_and_renumbers_the_rest(tmp_path):
    roboflow(tmp_path)  # faces per class over the three splits: Anger 3, Contempt 6, Disgust 3
    got = formats.read("yolo", tmp_path, min_class_count=4)
    assert got.meta["class_names"] == ["Contempt"] and got.meta["left_out_classes"] == {"Anger": 3, "Disgust": 3}
    assert set(got.labels["class"].tolist()) == {0} and len(got) == 6
    assert got.dropped == {"in classes with fewer than 4 images": 6}
    assert formats.read("yolo", tmp_path, min_class_count=0).meta["class_names"] == NAMES


@pytest.mark.parametrize("layout", [darknet, labelimg])
def test_inspect_reads_darknet_and_labelimg_sets(tmp_path, capsys, layout):
    layout(tmp_path / "set")
    assert main(["inspect", "--dataset", f"yolo:{tmp_path / 'set'}", "--out", str(tmp_path / "sheet.png")]) == 0
    out = capsys.readouterr().out
    assert "format yolo, task classification" in out and "images: 6 (" in out
    assert "  happy: " in out and "  sad: " in out and "note:" not in out


def test_roboflow_darknet_export_names_from_darknet_labels_in_each_split(tmp_path):
    """Roboflow's "YOLO Darknet" export: train/ valid/ test/ each with images, their .txt and _darknet.labels."""
    for split, n in (("train", 6), ("valid", 2), ("test", 2)):
        labelimg(tmp_path / "export" / split, n=n)
        (tmp_path / "export" / split / "classes.txt").rename(tmp_path / "export" / split / "_darknet.labels")
    got = formats.read("yolo", tmp_path)
    assert got.meta["class_names"] == ["happy", "sad"] and "note" not in got.meta
    assert sorted(got.split.tolist()) == ["test"] * 2 + ["train"] * 6 + ["val"] * 2


def test_inspect_names_the_classes_min_class_count_leaves_out(tmp_path, capsys):
    roboflow(tmp_path / "export")
    assert main(["inspect", "--dataset", f"yolo:{tmp_path / 'export'}", "--min-class-count", "4",
                 "--out", str(tmp_path / "sheet.png")]) == 0
    assert "  left out (fewer images than --min-class-count): Anger (3), Disgust (3)" in capsys.readouterr().out
