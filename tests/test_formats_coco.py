"""COCO-JSON face sets (formats/coco.py) in the layouts Roboflow, CVAT and COCO itself ship them in.
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

RNG = np.random.default_rng(11)
NAMES = ["Anger", "Contempt", "Disgust"]
# Roboflow: category 0 named after the project (supercategory "none", no box uses it), the classes 1..K under it
ROBOFLOW_CATEGORIES = [{"id": 0, "name": "faces-xyz", "supercategory": "none"},
                       {"id": 1, "name": "Anger", "supercategory": "faces-xyz"},
                       {"id": 2, "name": " Contempt ", "supercategory": "faces-xyz"},
                       {"id": 3, "name": "Disgust", "supercategory": "faces-xyz"}]
FACE = [12, 6, 16, 18]  # x y w h of a 40x30 picture: 16 x 18 px about (20, 15)


def image(path, width=40, height=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (height, width, 3)).astype(np.uint8)).save(path)
    return path


def entry(iid, file_name, width=40, height=30):
    return {"id": iid, "license": 1, "file_name": file_name, "height": height, "width": width,
            "date_captured": "2024-01-01T00:00:00+00:00"}


def box(aid, iid, cid, bbox=FACE, **kw):
    return {"id": aid, "image_id": iid, "category_id": cid, "bbox": bbox, "area": bbox[2] * bbox[3] if
            isinstance(bbox, list) and len(bbox) == 4 else 0, "segmentation": [], "iscrowd": 0, **kw}


def coco_json(path, images, annotations, categories=ROBOFLOW_CATEGORIES, **kw):
    """A COCO JSON as exporters write it (kw: crlf / bom)."""
    doc = {"info": {"description": "Exported from roboflow.com"}, "licenses": [], "categories": categories,
           "images": images, "annotations": annotations}
    write(path, json.dumps(doc, indent=4), **kw)
    return path


def roboflow(root, splits=("train", "valid", "test"), **kw):
    """train/ valid/ test/ each with _annotations.coco.json and its images beside it: photo k of a split holds
    class k % 3 and, in photo 0, a second face of class Contempt."""
    for split in splits:
        images, annotations = [], []
        for k in range(3):
            name = f"{split}{k}_jpg.rf.0123456789abcdef.jpg"
            image(root / split / name)
            images.append(entry(k, name))
            annotations.append(box(len(annotations), k, 1 + k % 3))
            if k == 0:
                annotations.append(box(len(annotations), k, 2, [6, 4.5, 4, 3]))
        coco_json(root / split / "_annotations.coco.json", images, annotations, **kw)


def test_roboflow_export_faces_classes_groups_and_splits(tmp_path):
    roboflow(tmp_path)
    got = formats.read("coco", tmp_path)
    assert got.meta["class_names"] == NAMES  # the project category is no class; names stripped; ids renumbered
    assert len(got) == 12 and got.dropped == {}
    assert list(got.split) == ["train"] * 4 + ["test"] * 4 + ["val"] * 4  # a test split: val kept as val
    assert list(got.labels["class"][:4]) == [0, 1, 1, 2]
    assert list(got.labels["group"][:2]) == ["train/train0_jpg.jpg"] * 2  # .rf.<hash> off, one photo one group
    assert len(set(got.labels["group"])) == 9
    first = got.images[0]
    assert isinstance(first, BoxedImage) and first.endswith("train/train0_jpg.rf.0123456789abcdef.jpg")
    assert np.allclose(first.box, (20 - 9.6, 15 - 10.8, 20 + 9.6, 15 + 10.8))  # grown by 1.2
    assert read_face(first, 16).shape == (16, 16, 3)
    assert got.meta["split_from"] == ("train/_annotations.coco.json, test/_annotations.coco.json, "
                                      "valid/_annotations.coco.json")
    assert "COCO box grown by 1.2" in got.meta["box"]


def test_validation_is_the_test_split_without_a_test_folder_and_found_below(tmp_path):
    roboflow(tmp_path / "faces.v2i.coco" / "faces.v2i.coco", splits=("train", "valid"))
    got = formats.read("coco", tmp_path)  # a zip unpacked into a folder of its own
    assert sorted(set(got.split)) == ["test", "train"] and list(got.split).count("test") == 4
    assert "val is the test split" in got.meta["split_from"]


def test_cvat_coco_1_0_export_with_folders_in_file_name_and_an_unused_class(tmp_path):
    root = tmp_path / "task_faces-2024"
    categories = [{"id": 1, "name": "happy", "supercategory": ""}, {"id": 2, "name": "sad", "supercategory": ""},
                  {"id": 3, "name": "surprised", "supercategory": ""}]  # a label nobody drew: a class, no faces
    images, annotations = [], []
    for k in range(8):
        name = f"frames/frame_{k:06d}.jpg" if k % 4 else f"frame_{k:06d}.PNG"  # CVAT keeps a task's folders
        image(root / "images" / name)
        images.append(entry(k + 1, name))
        annotations.append(box(k + 1, k + 1, 1 + k % 2, attributes={"occluded": False}))
    coco_json(root / "annotations" / "instances_default.json", images, annotations, categories)
    got = formats.read("coco", root)
    assert got.meta["class_names"] == ["happy", "sad", "surprised"] and got.dropped == {}
    assert list(got.labels["class"]) == [0, 1] * 4
    assert got.images[1].endswith("images/frames/frame_000001.jpg")
    assert got.labels["group"][0] == "images/frame_000000.PNG"
    assert "seeded (" in got.meta["split_from"] and "annotations/instances_default.json" in got.meta["split_from"]
    assert 0 < list(got.split).count("test") < 8
    # file_name with the images/ folder in it (some exporters), and Windows separators: found from the root
    for k, e in enumerate(images):
        e["file_name"] = "images\\" + e["file_name"].replace("/", "\\") if k % 2 else "images/" + e["file_name"]
    coco_json(root / "annotations" / "instances_default.json", images, annotations, categories)
    assert len(formats.read("coco", root / "annotations" / "instances_default.json")) == 8  # the JSON given
    # Datumaro's images/<subset>/ (instances_default.json -> images/default/)
    (root / "images").rename(tmp_path / "default")
    (root / "images").mkdir()
    (tmp_path / "default").rename(root / "images" / "default")
    for e in images:
        e["file_name"] = e["file_name"].replace("\\", "/").removeprefix("images/")
    coco_json(root / "annotations" / "instances_default.json", images, annotations, categories)
    assert formats.read("coco", root).images[0].endswith("images/default/frame_000000.PNG")


def test_coco_instances_layout_splits_by_file_name(tmp_path):
    root = tmp_path / "coco"
    categories = [{"id": 7, "name": "neutral", "supercategory": "face"}, {"id": 3, "name": "smile",
                                                                          "supercategory": "face"}]
    for subset, n in (("train2017", 6), ("val2017", 2)):
        images = [entry(100 + k, f"{k:012d}.jpg") for k in range(n)]
        for k in range(n):
            image(root / subset / f"{k:012d}.jpg")
        coco_json(root / "annotations" / f"instances_{subset}.json", images,
                  [box(k, 100 + k, (7, 3)[k % 2]) for k in range(n)], categories)
    write(root / "annotations" / "person_keypoints_train2017.json", "{not read")  # other COCO tasks: not read
    got = formats.read("coco", tmp_path)  # found one folder below
    assert got.meta["class_names"] == ["smile", "neutral"]  # ordered by category id
    assert list(got.labels["class"]) == [1, 0, 1, 0, 1, 0, 1, 0]
    assert list(got.split) == ["train"] * 6 + ["test"] * 2
    assert got.meta["split_from"] == ("annotations/instances_train2017.json, annotations/instances_val2017.json "
                                      "(no test split: val is the test split)")
    assert got.images[6].endswith("coco/val2017/000000000000.jpg")


def test_bom_missing_width_and_height_and_a_single_json_of_any_name(tmp_path):
    images = [{"id": 0, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg", "width": 0, "height": None}]
    image(tmp_path / "a.jpg", 80, 60)
    image(tmp_path / "b.jpg", 40, 30)
    coco_json(tmp_path / "faces.json", images, [box(0, 0, 1), box(1, 1, 2), box(2, 0, 3, [40, 30, 40, 30])],
              crlf=True, bom=True)
    got = formats.read("coco", tmp_path, box_scale=1)
    assert list(got.labels["class"]) == [0, 2, 1] and len(got) == 3
    assert np.allclose(got.images[0].box, (12, 6, 28, 24))  # the header gave 80x60: fractions of that picture
    assert np.allclose(got.images[1].box, (40, 30, 80, 60))
    assert np.allclose(got.images[2].box, (12, 6, 28, 24))
    write(tmp_path / "notes.json", '{"title": "not a dataset"}')  # a JSON without "images": not taken for COCO
    assert len(formats.read("coco", tmp_path)) == 3


def test_several_jsons_named_by_split_or_ambiguous(tmp_path):
    for name, n in (("train.json", 4), ("test.json", 2)):
        for k in range(n):
            image(tmp_path / "images" / f"{name[:-5]}{k}.jpg")
        coco_json(tmp_path / name, [entry(k, f"images/{name[:-5]}{k}.jpg") for k in range(n)],
                  [box(k, k, 1 + k % 2) for k in range(n)])
    got = formats.read("coco", tmp_path)
    # Disgust has no box, but its supercategory is the project: a class without faces
    assert list(got.split) == ["train"] * 4 + ["test"] * 2 and got.meta["class_names"] == NAMES
    coco_json(tmp_path / "extra.json", [], [])
    with pytest.raises(DataFormatError, match=r"several COCO JSON files \(extra.json, test.json, train.json\); "
                                              r"give the one to read as coco:") as error:
        formats.read("coco", tmp_path)
    assert "\n" not in str(error.value)


def test_missing_image_names_the_json_and_the_image_or_is_skipped(tmp_path):
    roboflow(tmp_path)
    (tmp_path / "valid" / "valid1_jpg.rf.0123456789abcdef.jpg").unlink()
    with pytest.raises(DataFormatError, match=r"valid/_annotations.coco.json: image 1 "
                                              r"'valid1_jpg.rf.0123456789abcdef.jpg' not found \(looked below "
                                              r"valid/.*--skip-missing") as error:
        formats.read("coco", tmp_path)
    assert "\n" not in str(error.value)
    got = formats.read("coco", tmp_path, skip_missing=True)
    assert len(got) == 11 and got.dropped == {"missing_image": 1}


def test_crowd_boxes_and_images_without_a_box_are_skipped_and_counted(tmp_path):
    images = [entry(k, f"p{k}.jpg") for k in range(5)]
    for k in range(5):
        image(tmp_path / "train" / f"p{k}.jpg")
    annotations = [box(0, 0, 1), box(1, 0, 2, iscrowd=1, segmentation={"counts": [1, 2], "size": [30, 40]}),
                   box(2, 1, 3), box(3, 2, 1), box(4, 3, 1, bbox=None, iscrowd=1)]  # image 4: no annotation
    coco_json(tmp_path / "train" / "_annotations.coco.json", images, annotations)
    got = formats.read("coco", tmp_path)
    assert list(got.labels["class"]) == [0, 2, 0] and got.meta["class_names"] == NAMES
    assert got.dropped == {"crowd box (iscrowd) skipped": 2, "image without a box": 1}


@pytest.mark.parametrize("ann, expected", [
    ({"bbox": [12, 6, 0, 18]}, r"annotation 2 \(image valid1_jpg.rf.0123456789abcdef.jpg\): bbox \[12, 6, 0, 18\]: "
                               r"expected a box of positive width and height"),
    ({"bbox": [30, 6, 16, 18]}, r"annotation 2 .*: bbox \[30, 6, 16, 18\] reaches outside the 40x30 picture "
                                r"\(more than 3 pixels\)"),
    ({"bbox": [-5, 6, 16, 18]}, r"annotation 2 .*reaches outside the 40x30 picture"),
    ({"bbox": "12,6,16,18"}, r"annotation 2 .*: bbox: expected \[x, y, width, height\] in pixels, got '12,6,16,18'"),
    ({"bbox": [12, 6, 16]}, r"annotation 2 .*: bbox: expected \[x, y, width, height\]"),
    ({"bbox": [12, 6, float("nan"), 18]}, r"annotation 2 .*: bbox: expected \[x, y, width, height\]"),
    ({"bbox": None}, r"annotation 2 .*: bbox: expected"),
    ({"category_id": 9}, r"annotation 2: category_id 9 is not among the categories \(\[0, 1, 2, 3\]\)"),
    ({"image_id": 44}, r"annotation 2: image_id 44 is not among the images"),
])
def test_a_bad_annotation_is_one_line_naming_the_json_and_the_annotation(tmp_path, ann, expected):
    roboflow(tmp_path)
    path = tmp_path / "valid" / "_annotations.coco.json"
    doc = json.loads(path.read_text())
    doc["annotations"][2].update(ann)  # annotation id 2: image 1's box
    path.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match="valid/_annotations.coco.json: " + expected) as error:
        formats.read("coco", tmp_path)
    assert "\n" not in str(error.value)


def test_a_box_a_pixel_or_two_outside_the_picture_is_accepted(tmp_path):
    roboflow(tmp_path)
    path = tmp_path / "valid" / "_annotations.coco.json"
    doc = json.loads(path.read_text())
    doc["annotations"][2]["bbox"] = [-1.5, 0, 41.5, 31]
    path.write_text(json.dumps(doc))
    assert type(formats.read("coco", tmp_path).images[10]) is str  # a whole-picture box: the picture itself


@pytest.mark.parametrize("text, expected", [
    ('{\n  "images": [],\n  "annotations": [,]\n}', r"_annotations.coco.json:3: not valid JSON: Expecting value"),
    ('{"images": [], "annotations": []}', r"_annotations.coco.json: missing key 'categories'"),
    ('{"images": {}, "annotations": [], "categories": []}', r"_annotations.coco.json: 'images': expected a list"),
    ('[1, 2]', r"_annotations.coco.json: expected a COCO object .*got a list"),
    ('{"images": [{"id": 5}], "annotations": [], "categories": []}', r"image 5: missing key 'file_name'"),
    ('{"images": [{"id": 5, "file_name": "a.jpg"}], "annotations": [{"id": 8, "image_id": 5, "bbox": [1, 1, 2, 2]}],'
     ' "categories": []}', r"annotation 8: missing key 'category_id'"),
    ('{"images": [], "annotations": [], "categories": [{"id": 1}]}', r"category 1: missing key 'name'"),
])
def test_malformed_json_and_missing_keys_are_one_line(tmp_path, text, expected):
    write(tmp_path / "train" / "_annotations.coco.json", text, bom=True)
    with pytest.raises(DataFormatError, match=expected) as error:
        formats.read("coco", tmp_path)
    assert "\n" not in str(error.value)


def test_class_rule_project_category_used_and_splits_that_disagree(tmp_path):
    roboflow(tmp_path)
    path = tmp_path / "test" / "_annotations.coco.json"
    doc = json.loads(path.read_text())
    doc["annotations"][0]["category_id"] = 0  # a box of the "none" category: then it is a class
    path.write_text(json.dumps(doc))
    got = formats.read("coco", tmp_path)
    assert got.meta["class_names"] == ["faces-xyz", *NAMES] and list(got.labels["class"][4:6]) == [0, 2]
    doc["categories"][3]["name"] = "disgusted"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match=r"test/_annotations.coco.json: category 3 is named 'disgusted' here "
                                              r"but 'Disgust' in train/_annotations.coco.json"):
        formats.read("coco", tmp_path)


def test_unsplit_set_gets_a_seeded_split_grouped_by_photo(tmp_path):
    images, annotations = [], []
    for k in range(20):  # every photo holds two faces, and has an augmented Roboflow copy
        for copy in ("0123456789ab", "ba9876543210"):
            name = f"p{k}_jpg.rf.{copy}.jpg"
            image(tmp_path / name)
            images.append(entry(len(images), name))
            for x in (2, 22):
                annotations.append(box(len(annotations), images[-1]["id"], 1 + k % 2, [x, 6, 14, 14]))
    coco_json(tmp_path / "_annotations.coco.json", images, annotations)
    got = formats.read("coco", tmp_path, test_fraction=0.25, seed=1)
    assert len(got) == 80 and "seeded (1) stratified split, 25% test, grouped by photo" in got.meta["split_from"]
    for group in set(got.labels["group"]):
        assert len(set(got.split[got.labels["group"] == group])) == 1
    assert 0 < list(got.split).count("test") < 80


def test_min_class_count_leaves_out_rare_classes_and_renumbers_the_rest(tmp_path):
    roboflow(tmp_path)  # faces per class over the three splits: Anger 3, Contempt 6, Disgust 3
    got = formats.read("coco", tmp_path, min_class_count=4)
    assert got.meta["class_names"] == ["Contempt"] and got.meta["left_out_classes"] == {"Anger": 3, "Disgust": 3}
    assert set(got.labels["class"].tolist()) == {0} and len(got) == 6
    assert got.dropped == {"in classes with fewer than 4 images": 6}


def test_not_a_coco_set_says_where_it_looked(tmp_path):
    image(tmp_path / "photos" / "a.jpg")
    with pytest.raises(DataFormatError, match="no COCO JSON found here or up to 2 folders below: expected "
                                              "train/_annotations.coco.json"):
        formats.read("coco", tmp_path)
    write(tmp_path / "data.yaml", "names: [a]\n")
    with pytest.raises(DataFormatError, match="data.yaml: not a COCO JSON file"):
        formats.read("coco", tmp_path / "data.yaml")
    with pytest.raises(FacesslError, match="coco box_scale '0': expected a number > 0"):
        formats.read("coco", tmp_path, box_scale="0")


# --- through the registry and the CLI -------------------------------------------------------------------
def test_inspect_reads_a_coco_set(tmp_path, capsys):
    assert FORMAT_TASK["coco"] == "classification" and "coco" in formats.FORMAT_NAMES
    roboflow(tmp_path / "export")
    assert main(["inspect", "--dataset", f"coco:{tmp_path / 'export'}", "--min-class-count", "4",
                 "--out", str(tmp_path / "sheet.png")]) == 0
    out = capsys.readouterr().out
    assert "format coco, task classification" in out and "images: 6 (test 2, train 2, val 2)" in out
    assert "  Contempt: test 2, train 2, val 2" in out and "skipped: in classes with fewer than 4 images 6" in out
    assert "faces-xyz" not in out and "no images" not in out
    assert (tmp_path / "sheet.png").is_file()


def test_eval_cli_on_a_coco_set(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    root = tmp_path / "export"
    categories = [{"id": 0, "name": "toy-faces", "supercategory": "none"},
                  {"id": 1, "name": "dark", "supercategory": "toy-faces"},
                  {"id": 2, "name": "bright", "supercategory": "toy-faces"}]
    for split, n in (("train", 24), ("valid", 10)):
        for k in range(n):  # the face box's brightness follows its class; the rest of the photo is noise
            path = image(root / split / f"{k}.png", 32, 32)
            pixels = np.asarray(Image.open(path)).copy()
            pixels[8:24, 8:24] = 40 if k % 2 == 0 else 220
            Image.fromarray(pixels).save(path)
        coco_json(root / split / "_annotations.coco.json", [entry(k, f"{k}.png", 32, 32) for k in range(n)],
                  [box(k, k, 1 + k % 2, [8, 8, 16, 16]) for k in range(n)], categories)
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"coco:{root}", "--out", str(out),
                 *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"] == ["dark", "bright"]
    assert task["info"]["test_rows"] == 10
