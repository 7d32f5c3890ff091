"""Face sets in YOLO detection format, as Ultralytics trains on them and Roboflow / Kaggle export them (the
Kaggle "AffectNet YOLO format" copy, Roboflow facial-expression exports). Each labelled box is one face.

    data.yaml                 names: [Anger, Contempt, ...] or {0: anger, 1: contempt}; nc: 8;
                              train: / val: / test: image folders, *.txt image lists, or lists of either,
                              relative to `path:` (else to the yaml's folder)
    train/images/a.jpg        Roboflow: a folder per split (valid/ or val/, test/), images/ and labels/ in each
    train/labels/a.txt        one face per line: `class cx cy w h`, normalised to [0, 1]
    images/train/a.jpg        Ultralytics: images/{train,val,test}/ beside labels/{train,val,test}/
    images/a.jpg              one folder pair without splits (a seeded split is made); a classes.txt beside
                              labels/ (one name a line, as some converters write) names the classes
    obj.data                  Darknet / CVAT "YOLO 1.1": `classes = 2`, `train = data/train.txt`,
                              `valid = data/valid.txt`, `names = data/obj.names` (paths from the folder above the
                              export, which Darknet calls data/: read as given, below obj.data's folder, and
                              without the leading data/)
    obj.names                 one class name a line
    train.txt                 the train images one a line (data/obj_train_data/a.jpg); without it (or without
    obj_train_data/a.jpg      obj.data) the obj_<split>_data/ folders are read whole
    obj_train_data/a.txt      the label beside its image (obj_valid_data/ for valid)
    classes.txt               LabelImg: one class name a line, beside the images and their labels (a.jpg, a.txt)
                              in one folder or in each split folder (train/, val/ ...)

The yaml is data.yaml, dataset.yaml or the one *.yaml beside the folders; the path given may be the yaml
(or a Darknet *.data file) itself. Its split paths are often not valid here: Roboflow writes `../train/images`
for a yaml that sits beside train/ (read as `train/images`, as Ultralytics does), and exporters leave absolute
paths of their own machine (their last parts are looked for beside the yaml). A split whose path is not found
is read from the split folder of that name beside the yaml. Class names come from the yaml's names:, else from
obj.data's `names =`, obj.names or classes.txt (whitespace stripped, blank lines skipped; several classes.txt
must agree, one may extend another as LabelImg appends the classes it meets). Without any the class names are
the ids ('0', '1', ...): meta['note'] says so (inspect and eval print it). The dataset is also found up to two
folders below the path given (a zip unpacked into a folder of its own).

A label file has its image's stem and sits where Ultralytics looks: the image path with its last `images`
folder replaced by `labels`, else beside the image (Darknet, LabelImg; classes.txt is never a label file).
Lines with more numbers are segmentation polygons (`class x1 y1 x2 y2 ...`, also oriented boxes): the
polygon's bounding box is the face; with `kpt_shape` in the yaml (a pose set) the first four numbers are the
box. A malformed line (field count, class outside names, a number outside [0, 1] by more than COORD_TOLERANCE,
a box of no width or height) is one DataFormatError naming file and line, as the list readers here do. An
image without a label file or with an empty one (a background image) holds no face: skipped and counted in
`dropped`.

Each face is the square crop around its box grown by `box_scale` (default 1.2, as WFLW's and COFW's
annotated boxes: tight boxes lose the face's outline otherwise) as an image_decode.BoxedImage; a box that
covers the whole picture (a set of face crops, as the AffectNet copy) is the picture itself, not grown
into black. Labels: 'class' (the line's class id, meta['class_names'] from the yaml or names file) and
'group' (the source image, below the dataset's folder, Roboflow's `.rf.<hash>` augmentation suffix removed:
every face of a photo and every augmented copy of it stay on one side of a seeded split).

Splits, as affectnet and imagefolder treat a validation split: train -> train, test -> test; val/valid ->
test when there is no test split (the split papers report), else kept as 'val'. A set with no train split
(or without any split) gets a seeded split stratified by class and grouped by photo (`test_fraction`,
`seed`). An image listed in two splits is read once, in the first of train, test, val.
Sources: docs.ultralytics.com/datasets/detect (yaml keys, path/train/val/test, names as list or dict, label
lines, labels/ beside images/), Ultralytics' img2label_paths and `../` handling, Roboflow's YOLOv5/YOLOv8
export layout (train/ valid/ test/ with images/ labels/, `../train/images`), CVAT's YOLOv8 formats page
(segmentation, oriented-box and pose lines), CVAT's "YOLO 1.1" format page and AlexeyAB darknet's README
(obj.data keys, obj.names, train.txt, obj_train_data/), LabelImg's YOLO mode (classes.txt beside the labels).
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from facessl.data.formats.boxed_faces import BOX_SCALE, box_face_set, box_options, photo_group
from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION
from facessl.data.formats.imagefiles import MissingImages, parse_number, read_lines
from facessl.data.formats.yolo_layout import (EXPECTED, NAMES_FILES, find_dataset, names_and_source,
                                             read_config, split_images)
from facessl.errors import DataFormatError

COORD_TOLERANCE = 0.01  # exporters round 1.0 to 1.0000001 and clip to -0.000001
NO_LABEL_FILE = "image without a label file"
EMPTY_LABEL_FILE = "image with an empty label file (no face)"
def read_yolo(root, box_scale: float = BOX_SCALE, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
              skip_missing: bool = False, min_class_count: int = 0) -> ImageSet:
    """YOLO-format faces: labels 'class' (the box's class id) and 'group' (its photo); split train / test (/ val).
    skip_missing: skip (and count) images an image list names that are absent, and images whose size cannot be
    read, instead of stopping. min_class_count: classes with fewer faces are left out (meta['left_out_classes'],
    counted in dropped), as for csv: and imagefolder:."""
    root = Path(root)
    box_scale, test_fraction = box_options("yolo", box_scale, test_fraction)
    folder, yaml_path = find_dataset(root)
    config = read_config(yaml_path) if yaml_path else {}
    names, names_path = names_and_source(config, yaml_path, folder)
    missing = MissingImages(skip_missing)
    parts, split_from = split_images(folder, config, yaml_path, missing)
    faces, dropped = _faces(parts, names, config, names_path, folder)
    dropped.update(missing.dropped)
    if not faces:
        raise DataFormatError(folder, "no labelled face: " + (", ".join(f"{why} {n}" for why, n in dropped.items())
                                                               or "no images found") + f"; {EXPECTED}")
    if names is None:
        names = [str(i) for i in range(max(f[1] for f in faces) + 1)]
    hint = None
    if names == [str(i) for i in range(len(names))]:  # no names file, no yaml, or one with nc: alone
        hint = ("the class names are the label files' class ids ('0', '1', ...): no data.yaml, obj.names or "
                "classes.txt names them; add a data.yaml with names: [...] or a classes.txt (one name a line)")
    return box_face_set(faces, names, folder, box_scale, test_fraction, seed, skip_missing, min_class_count,
                        split_from, dropped, "YOLO", hint)


# --- label files ---------------------------------------------------------------------------------------------
def label_path(image: Path) -> Path:
    """Where Ultralytics looks for an image's labels: its last `images` folder swapped for `labels`, the stem
    with .txt; an image with no `images` folder above it has its .txt beside it."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _label_file(image: Path) -> Path | None:
    """The image's label file: where Ultralytics looks, else beside the image (Darknet's obj_train_data/,
    LabelImg); LabelImg's classes.txt is never an image's labels, even for an image named classes.jpg."""
    ultralytics, beside = label_path(image), image.with_suffix(".txt")
    if ultralytics != beside and ultralytics.is_file():
        return ultralytics
    return beside if beside.name not in NAMES_FILES and beside.is_file() else None


def _faces(parts, names, config, names_path, folder: Path):
    """([(split, class, normalised box (x0, y0, x1, y1), image, group)], dropped counts)."""
    boxed_first = "kpt_shape" in config  # pose sets: class, box, then keypoints
    faces, dropped, seen = [], Counter(), set()
    for split, images in parts:
        for image in images:
            if image in seen:
                continue
            seen.add(image)
            labels = _label_file(image)
            if labels is None:
                dropped[NO_LABEL_FILE] += 1
                continue
            boxes = label_boxes(labels, None if names is None else len(names), boxed_first, names_path)
            if not boxes:
                dropped[EMPTY_LABEL_FILE] += 1
                continue
            group = photo_group(image, folder)
            faces += [(split, cls, box, image, group) for cls, box in boxes]
    return faces, dropped


def label_boxes(path: Path, n_classes: int | None, boxed_first: bool = False, names_path=None):
    """[(class, (x0, y0, x1, y1) normalised)] of a label file; a malformed line is one DataFormatError."""
    boxes = []
    for number, line in enumerate(read_lines(path, "YOLO label file"), start=1):
        fields = line.split()
        if not fields:
            continue
        if not (len(fields) == 5 or (boxed_first and len(fields) > 5) or (len(fields) >= 7 and len(fields) % 2)):
            raise DataFormatError(path, f"expected 'class cx cy w h' (5 fields) or a polygon 'class x1 y1 x2 y2 "
                                        f"x3 y3 ...', got {len(fields)} fields", number)
        cls = _class_id(fields[0], n_classes, path, number, names_path)
        values = [parse_number(v, path, number, "a normalised coordinate", float) for v in fields[1:]]
        checked = values[:4] if boxed_first else values
        bad = next((v for v in checked if not -COORD_TOLERANCE <= v <= 1 + COORD_TOLERANCE), None)
        if bad is not None:
            pixels = " (pixels? YOLO labels divide by the image's width and height)" if bad > 1 else ""
            raise DataFormatError(path, f"expected coordinates normalised to [0, 1], got {bad:g}{pixels}", number)
        if len(values) == 4 or boxed_first:
            cx, cy, w, h = values[:4]
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        else:
            xs, ys = values[0::2], values[1::2]
            box = (min(xs), min(ys), max(xs), max(ys))
        if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
            raise DataFormatError(path, f"expected a box of positive width and height, got "
                                        f"{box[2] - box[0]:g} x {box[3] - box[1]:g}", number)
        boxes.append((cls, box))
    return boxes


def _class_id(text: str, n_classes: int | None, path, number, names_path) -> int:
    value = parse_number(text, path, number, "a class id 0, 1, ...", float)  # some exporters write 3.0
    if not math.isfinite(value) or value != int(value) or value < 0 or (n_classes is not None and value >= n_classes):
        within = f" 0..{n_classes - 1} (the names in {names_path.name})" if n_classes is not None and names_path else ""
        raise DataFormatError(path, f"expected a class id{within or ' 0, 1, ...'}, got {text}", number)
    return int(value)



