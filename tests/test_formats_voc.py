"""Pascal VOC XML face sets (formats/voc.py) in the layouts LabelImg, the VOC devkit, Kaggle's face-mask set and
Roboflow's export ship in. Every fixture is written here from the documented layout (tiny PIL images), never from
the real data."""
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

RNG = np.random.default_rng(11)


def image(path, width=40, height=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (height, width, 3)).astype(np.uint8)).save(path)
    return path


def xml_text(filename, objects, size=(40, 30), path=None, declaration=True):
    """A LabelImg-style annotation; objects are (name, (xmin, ymin, xmax, ymax)) or (name, box, difficult)."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n' if declaration else "", "<annotation>\n",
             "\t<folder>images</folder>\n"]
    if filename is not None:
        parts.append(f"\t<filename>{filename}</filename>\n")
    parts.append(f"\t<path>{path or 'C:/Users/me/Desktop/faces/' + str(filename)}</path>\n")
    parts.append("\t<source>\n\t\t<database>Unknown</database>\n\t</source>\n")
    if size is not None:
        parts.append(f"\t<size>\n\t\t<width>{size[0]}</width>\n\t\t<height>{size[1]}</height>\n"
                     f"\t\t<depth>3</depth>\n\t</size>\n")
    parts.append("\t<segmented>0</segmented>\n")
    for obj in objects:
        name, (x0, y0, x1, y1), difficult = (*obj, 0) if len(obj) == 2 else obj
        parts.append(f"\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n"
                     f"\t\t<truncated>0</truncated>\n\t\t<difficult>{difficult}</difficult>\n"
                     f"\t\t<bndbox>\n\t\t\t<xmin>{x0}</xmin>\n\t\t\t<ymin>{y0}</ymin>\n\t\t\t<xmax>{x1}</xmax>\n"
                     f"\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n")
    parts.append("</annotation>\n")
    return "".join(parts)


def labelled(images, annotations, stem, objects, suffix=".jpg", filename="", size=(40, 30), crlf=False, bom=False,
             **kw):
    """An image <stem><suffix> in `images` and its <stem>.xml in `annotations` (filename '': the image's name)."""
    image(images / f"{stem}{suffix}", *(size or (40, 30)))
    name = f"{stem}{suffix}" if filename == "" else filename
    write(annotations / f"{stem}.xml", xml_text(name, objects, size, **kw), crlf=crlf, bom=bom)


def labelimg(folder, n=6, names=("happy", "sad")):
    """LabelImg: a<k>.jpg with a<k>.xml beside it, class names[k % 2], one face each."""
    for k in range(n):
        labelled(folder, folder, f"a{k}", [(names[k % 2], (10, 6, 30, 24))])


# --- layouts ---------------------------------------------------------------------------------------------------
def test_labelimg_folder_faces_boxes_groups_and_a_seeded_split(tmp_path):
    labelimg(tmp_path / "faces")
    labelled(tmp_path / "faces", tmp_path / "faces", "two", [("sad", (1, 1, 11, 11)), ("happy", (20, 10, 36, 28), 1)])
    got = formats.read("voc", tmp_path)  # found one folder below
    assert got.source == str(tmp_path / "faces") and got.meta["class_names"] == ["happy", "sad"]
    assert len(got) == 8 and got.dropped == {} and "note" not in got.meta
    assert list(got.labels["class"]) == [0, 1, 0, 1, 0, 1, 1, 0]  # the difficult face is kept
    assert list(got.labels["group"][-2:]) == ["two.jpg", "two.jpg"]
    first = got.images[0]
    assert isinstance(first, BoxedImage) and first.endswith("faces/a0.jpg")
    # pixels (10, 6)-(30, 24) (1-based) of a 40x30 picture: edges 9..30, 5..24, 21 x 19 px about (19.5, 14.5), grown
    assert np.allclose(first.box, (19.5 - 12.6, 14.5 - 11.4, 19.5 + 12.6, 14.5 + 11.4))
    assert read_face(first, 16).shape == (16, 16, 3)
    assert got.meta["split_from"].endswith("grouped by photo (read from folders unsplit)")
    for group in set(got.labels["group"]):
        assert len(set(got.split[got.labels["group"] == group])) == 1
    assert got.meta["box"] == "VOC box grown by 1.2 (square); whole-picture boxes read whole"


def devkit(root, ids, names=("anger", "joy")):
    """VOC devkit: Annotations/<id>.xml + JPEGImages/<id>.jpg, class names[k % 2]."""
    for k, stem in enumerate(ids):
        labelled(root / "JPEGImages", root / "Annotations", stem, [(names[k % 2], (4, 4, 36, 26))])


def test_voc_devkit_with_image_sets_two_folders_below(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2012"
    devkit(root, [f"2008_{k:06d}" for k in range(8)])
    write(root / "ImageSets" / "Main" / "train.txt", "2008_000000\n2008_000001\n2008_000002\n2008_000003\n",
          crlf=True, bom=True)
    write(root / "ImageSets" / "Main" / "val.txt", "2008_000004\n2008_000005\n2008_000006\n")
    write(root / "ImageSets" / "Main" / "anger_train.txt", "2008_000000  1\n2008_000001 -1\n")  # a per-class list
    write(root / "ImageSets" / "Main" / "test.txt", "2009_000001\n")  # test ids without annotations: no test split
    image(root / "JPEGImages" / "2010_000000.jpg")  # an image without an XML
    got = formats.read("voc", tmp_path)
    assert got.source == str(root) and got.meta["class_names"] == ["anger", "joy"]
    assert list(got.split) == ["train"] * 4 + ["test"] * 3  # val is the test split
    assert got.meta["split_from"] == "ImageSets/Main train.txt, val.txt (no test split: val is the test split)"
    assert got.dropped == {"annotation in no ImageSets/Main split list": 1, "image without an annotation XML": 1}
    assert got.images[0].endswith("VOC2012/JPEGImages/2008_000000.jpg")
    assert got.labels["group"][0] == "JPEGImages/2008_000000.jpg"


def test_trainval_and_test_lists(tmp_path):
    devkit(tmp_path, ["a", "b", "c", "d"])
    write(tmp_path / "ImageSets" / "Main" / "trainval.txt", "a\nb\nc\n")
    write(tmp_path / "ImageSets" / "Main" / "test.txt", "d\n")
    got = formats.read("voc", tmp_path)
    assert list(got.split) == ["train", "train", "train", "test"] and got.dropped == {}
    assert got.meta["split_from"] == "ImageSets/Main test.txt, trainval.txt"


def test_kaggle_face_mask_layout_annotations_and_images(tmp_path):
    root = tmp_path / "archive"
    classes = ["with_mask", "without_mask", "mask_weared_incorrect"]
    for k in range(9):
        objects = [(classes[k % 3], (2, 3, 14, 18)), ("with_mask", (20, 5, 35, 25))]
        labelled(root / "images", root / "annotations", f"maksssksksss{k}", objects, suffix=".png")
    got = formats.read("voc", tmp_path)
    assert got.meta["class_names"] == sorted(classes) and len(got) == 18 and got.dropped == {}
    assert got.images[0].endswith("archive/images/maksssksksss0.png")
    assert got.labels["group"][0] == got.labels["group"][1] == "images/maksssksksss0.png"
    assert "seeded (" in got.meta["split_from"] and set(got.split) == {"train", "test"}


def test_roboflow_export_split_folders_and_copies_share_a_group(tmp_path):
    for split in ("train", "valid", "test"):
        for k in range(3):
            objects = [("Happy" if k % 2 else "Sad", (5, 5, 30, 25))] + ([("Sad", (1, 1, 6, 6))] if k == 0 else [])
            folder = tmp_path / "export" / split
            labelled(folder, folder, f"{split}{k}_jpg.rf.0123456789abcdef0123456789abcdef", objects)
    write(tmp_path / "export" / "README.roboflow.txt", "exported from roboflow\n")
    got = formats.read("voc", tmp_path / "export")
    assert list(got.split) == ["train"] * 4 + ["test"] * 4 + ["val"] * 4  # a test split: val kept as val
    assert got.meta["split_from"] == "folders train, test, val"
    assert list(got.labels["group"][:2]) == ["train/train0_jpg.jpg"] * 2
    assert got.meta["class_names"] == ["Happy", "Sad"]


def test_validation_is_the_test_split_without_a_test_folder(tmp_path):
    for split in ("train", "valid"):
        labelimg(tmp_path / split, n=4)
    got = formats.read("voc", tmp_path)
    assert list(got.split) == ["train"] * 4 + ["test"] * 4 and "val is the test split" in got.meta["split_from"]


def test_split_folders_holding_annotations_and_images(tmp_path):
    for split in ("train", "test"):
        devkit(tmp_path / split, [f"{split}{k}" for k in range(2)])
        (tmp_path / split / "JPEGImages").rename(tmp_path / split / "images")
    got = formats.read("voc", tmp_path)
    assert list(got.split) == ["train", "train", "test", "test"]
    assert got.images[0].endswith("train/images/train0.jpg")


# --- what real files hold ---------------------------------------------------------------------------------------
def test_crlf_bom_and_no_declaration(tmp_path):
    labelled(tmp_path, tmp_path, "a", [("happy", (10, 6, 30, 24))], crlf=True, bom=True)
    labelled(tmp_path, tmp_path, "b", [("sad", (10, 6, 30, 24))], declaration=False, crlf=True)
    labelled(tmp_path, tmp_path, "c", [("sad", (10, 6, 30, 24))])
    got = formats.read("voc", tmp_path)
    assert list(got.labels["class"]) == [0, 1, 1] and got.meta["class_names"] == ["happy", "sad"]


@pytest.mark.parametrize("box, expected", [
    ((0, 0, 40, 30), None),           # 0-based, xmax exclusive: the whole picture
    ((1, 1, 40, 30), None),           # 1-based VOC: the whole picture
    ((0, 0, 41, 31), None),           # 1-based xmax = width + 1: within the tolerance
    ((10.5, 6.25, 30.5, 24.25), (20 - 12.6, 14.75 - 11.4, 20 + 12.6, 14.75 + 11.4)),  # floats
    (("  10 ", "6", "30.0", "24"), (19.5 - 12.6, 14.5 - 11.4, 19.5 + 12.6, 14.5 + 11.4)),
])
def test_zero_and_one_based_and_float_coordinates(tmp_path, box, expected):
    labelled(tmp_path, tmp_path, "a", [("happy", box)])
    got = formats.read("voc", tmp_path, test_fraction=0.5)
    if expected is None:
        assert type(got.images[0]) is str and got.images[0].endswith("a.jpg")  # the picture itself
    else:
        assert np.allclose(got.images[0].box, expected)


@pytest.mark.parametrize("size", [None, (0, 0)])
def test_a_missing_or_zero_size_is_read_from_the_image(tmp_path, size):
    image(tmp_path / "a.jpg", 80, 40)
    write(tmp_path / "a.xml", xml_text("a.jpg", [("happy", (20, 10, 60, 30))], size=size))
    got = formats.read("voc", tmp_path)
    assert np.allclose(got.images[0].box, (39.5 - 24.6, 19.5 - 12.6, 39.5 + 24.6, 19.5 + 12.6))
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataFormatError, match="a.jpg: cannot read the image's size"):
        formats.read("voc", tmp_path)


def test_the_image_by_a_wrong_or_suffixless_filename_or_an_existing_path(tmp_path):
    labelled(tmp_path, tmp_path, "stale", [("happy", (10, 6, 30, 24))], filename="IMG_0001.JPG")  # renamed
    labelled(tmp_path, tmp_path, "bare", [("sad", (10, 6, 30, 24))], suffix=".png", filename="bare")
    labelled(tmp_path, tmp_path, "upper", [("sad", (10, 6, 30, 24))], suffix=".JPG", filename="UPPER.jpg")
    labelled(tmp_path, tmp_path, "xml_a", [("happy", (10, 6, 30, 24))], filename="photo_a.jpg")
    (tmp_path / "xml_a.jpg").rename(tmp_path / "photo_a.jpg")  # the XML named otherwise than its image
    elsewhere = image(tmp_path.parent / f"{tmp_path.name}_elsewhere" / "far.jpg")
    write(tmp_path / "far.xml", xml_text("gone.jpg", [("sad", (10, 6, 30, 24))], path=str(elsewhere)))
    got = formats.read("voc", tmp_path)
    found = sorted(str(p).rsplit("/", 1)[-1] for p in got.images)
    assert found == ["bare.png", "far.jpg", "photo_a.jpg", "stale.jpg", "upper.JPG"] and got.dropped == {}


def test_an_xml_whose_image_is_missing(tmp_path):
    labelimg(tmp_path, n=4)
    write(tmp_path / "gone.xml", xml_text("gone.jpg", [("sad", (10, 6, 30, 24))]))
    with pytest.raises(DataFormatError, match="gone.xml: image 'gone.jpg' not found beside it.*--skip-missing"):
        formats.read("voc", tmp_path)
    got = formats.read("voc", tmp_path, skip_missing=True)
    assert len(got) == 4 and got.dropped == {"missing_image": 1}


def test_empty_annotations_and_images_without_one_are_counted(tmp_path):
    labelimg(tmp_path, n=4)
    labelled(tmp_path, tmp_path, "background", [])
    image(tmp_path / "unlabelled.jpeg")
    write(tmp_path / "notes.txt", "not an image")
    got = formats.read("voc", tmp_path)
    assert len(got) == 4
    assert got.dropped == {"annotation with no object (no face)": 1, "image without an annotation XML": 1}
    for k in range(4):
        labelled(tmp_path, tmp_path, f"a{k}", [])
    with pytest.raises(DataFormatError, match="no labelled face: annotation with no object \\(no face\\) 5"):
        formats.read("voc", tmp_path)


@pytest.mark.parametrize("text, expected", [
    ("<annotation><filename>a.jpg</filename>\n<object><name>happy</name>\n</annotation>\n",
     "a.xml:3: not well-formed XML \\(mismatched tag, column 3\\)"),
    ("", "a.xml:1: not well-formed XML \\(no element found"),
    ('<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<annotation>&x;</annotation>\n',
     "a.xml:2: a DOCTYPE declaration: a VOC annotation has none"),
    ("<annotations><image name='a.jpg'/></annotations>", "a.xml: expected a Pascal VOC <annotation>, got "
                                                          "<annotations> \\(CVAT's annotations.xml is not VOC"),
])
def test_malformed_xml_names_file_and_line(tmp_path, text, expected):
    labelimg(tmp_path, n=2)
    image(tmp_path / "a.jpg")
    write(tmp_path / "a.xml", text)
    with pytest.raises(DataFormatError, match=expected) as error:
        formats.read("voc", tmp_path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("box, expected", [
    ((30, 6, 10, 24), "object 2 \\(sad\\): expected xmin < xmax and ymin < ymax, got xmin 30 xmax 10"),
    ((10, 6, 10, 24), "object 2 \\(sad\\): expected xmin < xmax"),
    ((10, 6, 50, 24), "object 2 \\(sad\\): box \\(10, 6, 50, 24\\) lies outside the 40x30 picture \\(<size>\\)"),
    ((-5, 6, 30, 24), "object 2 \\(sad\\): box \\(-5, 6, 30, 24\\) lies outside"),
    ((42, 6, 43, 24), "object 2 \\(sad\\): box \\(42, 6, 43, 24\\) lies outside"),  # past the edge, in the tolerance
    (("ten", 6, 30, 24), "object 2 \\(sad\\): <xmin>: expected a number, got 'ten'"),
    (("", 6, 30, 24), "object 2 \\(sad\\): <xmin>: expected a number, got none"),
    (("nan", 6, 30, 24), "object 2 \\(sad\\): <xmin>: expected a number, got 'nan'"),
])
def test_a_bad_box_names_file_and_object(tmp_path, box, expected):
    labelimg(tmp_path, n=2)
    labelled(tmp_path, tmp_path, "bad", [("happy", (10, 6, 30, 24)), ("sad", box)])
    with pytest.raises(DataFormatError, match=f"bad.xml: {expected}") as error:
        formats.read("voc", tmp_path)
    assert "\n" not in str(error.value)


def test_objects_without_name_or_bndbox(tmp_path):
    labelimg(tmp_path, n=2)
    image(tmp_path / "bad.jpg")
    write(tmp_path / "bad.xml", "<annotation><object><name> </name><bndbox/></object></annotation>")
    with pytest.raises(DataFormatError, match="bad.xml: object 1: expected a <name>"):
        formats.read("voc", tmp_path)
    write(tmp_path / "bad.xml", "<annotation><object><name>sad</name><polygon/></object></annotation>")
    with pytest.raises(DataFormatError, match="bad.xml: object 1 \\(sad\\): expected a <bndbox>"):
        formats.read("voc", tmp_path)
    write(tmp_path / "bad.xml", "<annotation><size><width>wide</width></size></annotation>")
    with pytest.raises(DataFormatError, match="bad.xml: <size> <width>: expected a number, got 'wide'"):
        formats.read("voc", tmp_path)


# --- class names -------------------------------------------------------------------------------------------------
def test_class_names_follow_a_classes_file(tmp_path):
    labelimg(tmp_path, names=("sad", "happy"))
    write(tmp_path / "predefined_classes.txt", "sad\n\nhappy\nsurprised\n", crlf=True, bom=True)
    got = formats.read("voc", tmp_path)
    assert got.meta["class_names"] == ["sad", "happy", "surprised"] and "note" not in got.meta
    assert list(got.labels["class"]) == [0, 1, 0, 1, 0, 1]
    write(tmp_path / "predefined_classes.txt", "happy\n")  # a name the file lacks: read after, said so
    got = formats.read("voc", tmp_path)
    assert got.meta["class_names"] == ["happy", "sad"] and "does not list sad" in got.meta["note"]
    write(tmp_path / "predefined_classes.txt", "dog\nperson\ncat\n")  # LabelImg's stock list: not this set's
    assert formats.read("voc", tmp_path).meta["class_names"] == ["happy", "sad"]
    (tmp_path / "predefined_classes.txt").unlink()
    write(tmp_path / "labelmap.txt", "# label:color_rgb:parts:actions\nbackground:0,0,0::\nsad:1,2,3::\n"
                                     "happy:4,5,6::\n")
    assert formats.read("voc", tmp_path).meta["class_names"] == ["sad", "happy"]


def test_names_are_stripped_and_case_only_differences_recorded(tmp_path):
    for k, name in enumerate([" happy ", "Happy", "sad", "happy"]):
        labelled(tmp_path, tmp_path, f"a{k}", [(name, (10, 6, 30, 24))])
    got = formats.read("voc", tmp_path)
    assert got.meta["class_names"] == ["Happy", "happy", "sad"]
    assert got.meta["case_only_classes"] == [["Happy", "happy"]]


def test_min_class_count_leaves_out_rare_classes_and_renumbers_the_rest(tmp_path):
    for k in range(7):
        labelled(tmp_path, tmp_path, f"a{k}", [("joy" if k < 5 else "fear", (10, 6, 30, 24))])
    labelled(tmp_path, tmp_path, "b", [("anger", (10, 6, 30, 24))])
    got = formats.read("voc", tmp_path, min_class_count=3)
    assert got.meta["class_names"] == ["joy"] and got.meta["left_out_classes"] == {"anger": 1, "fear": 2}
    assert set(got.labels["class"].tolist()) == {0} and len(got) == 5
    assert got.dropped == {"in classes with fewer than 3 images": 3}


# --- not a VOC set -----------------------------------------------------------------------------------------------
def test_not_a_voc_set_says_where_it_looked(tmp_path):
    image(tmp_path / "photos" / "a.jpg")
    with pytest.raises(DataFormatError, match="no Pascal VOC set found here or up to 2 folders below: expected "
                                              ".xml annotations beside their images"):
        formats.read("voc", tmp_path)
    write(tmp_path / "a.csv", "image,label\n")
    with pytest.raises(DataFormatError, match="a.csv: not a Pascal VOC set: give the folder"):
        formats.read("voc", tmp_path / "a.csv")
    with pytest.raises(FacesslError, match="voc box_scale '0': expected a number > 0"):
        formats.read("voc", tmp_path, box_scale="0")


# --- through the registry and the CLI -------------------------------------------------------------------------
def test_inspect_reads_a_voc_set(tmp_path, capsys):
    assert FORMAT_TASK["voc"] == "classification" and "voc" in formats.FORMAT_NAMES
    for split in ("train", "valid", "test"):
        labelimg(tmp_path / "export" / split, n=4)
    assert main(["inspect", "--dataset", f"voc:{tmp_path / 'export'}", "--reader-option", "box_scale=1.5",
                 "--out", str(tmp_path / "sheet.png")]) == 0
    out = capsys.readouterr().out
    assert "format voc, task classification" in out and "images: 12 (test 4, train 4, val 4)" in out
    assert "  happy: test 2, train 2, val 2" in out and "groups (kept on one side of the split): 12" in out
    assert (tmp_path / "sheet.png").is_file()


def test_eval_cli_on_a_voc_set(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    root = tmp_path / "set"
    for k in range(30):  # the face box's brightness follows its class; the rest of the photo is noise
        path = image(root / "JPEGImages" / f"{k}.png", 32, 32)
        pixels = np.asarray(Image.open(path)).copy()
        pixels[8:24, 8:24] = 40 if k % 2 == 0 else 220
        Image.fromarray(pixels).save(path)
        write(root / "Annotations" / f"{k}.xml", xml_text(f"{k}.png", [("dark" if k % 2 == 0 else "bright",
                                                                         (8, 8, 24, 24))], size=(32, 32)))
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"voc:{root}", "--out", str(out),
                 "--min-class-count", "2", *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"] == ["bright", "dark"]
    assert task["info"]["test_rows"] > 0


def test_another_tools_xml_among_the_annotations_is_skipped_and_counted(tmp_path):
    labelimg(tmp_path, n=4)
    write(tmp_path / "metadata.xml", '<?xml version="1.0"?>\n<dataset><name>faces</name></dataset>\n')
    got = formats.read("voc", tmp_path)
    assert len(got) == 4 and got.dropped["XML that is not a Pascal VOC <annotation>"] == 1
