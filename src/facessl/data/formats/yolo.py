"""Face sets in YOLO detection format, as Ultralytics trains on them and Roboflow / Kaggle export them (the
Kaggle "AffectNet YOLO format" copy, Roboflow facial-expression exports). Each labelled box is one face.

    data.yaml                 names: [Anger, Contempt, ...] or {0: anger, 1: contempt}; nc: 8;
                              train: / val: / test: image folders, *.txt image lists, or lists of either,
                              relative to `path:` (else to the yaml's folder)
    train/images/a.jpg        Roboflow: a folder per split (valid/ or val/, test/), images/ and labels/ in each
    train/labels/a.txt        one face per line: `class cx cy w h`, normalised to [0, 1]
    images/train/a.jpg        Ultralytics: images/{train,val,test}/ beside labels/{train,val,test}/
    images/a.jpg              one folder pair without splits (a seeded split is made)

The yaml is data.yaml, dataset.yaml or the one *.yaml beside the folders; the path given may be the yaml
itself. Its split paths are often not valid here: Roboflow writes `../train/images` for a yaml that sits
beside train/ (read as `train/images`, as Ultralytics does), and exporters leave absolute paths of their own
machine (their last parts are looked for beside the yaml). A split whose path is not found is read from the
split folder of that name beside the yaml. Without a yaml the class names are the ids ('0', '1', ...):
meta['note'] says so (inspect and eval print it). The dataset is also found up to two folders below the path given (a zip unpacked into a
folder of its own).

A label file has its image's stem and sits where Ultralytics looks: the image path with its last `images`
folder replaced by `labels` (else beside the image). Lines with more numbers are segmentation polygons
(`class x1 y1 x2 y2 ...`, also oriented boxes): the polygon's bounding box is the face; with `kpt_shape`
in the yaml (a pose set) the first four numbers are the box. A malformed line (field count, class outside
names, a number outside [0, 1] by more than COORD_TOLERANCE, a box of no width or height) is one
DataFormatError naming file and line, as the list readers here do. An image without a label file or with
an empty one (a background image) holds no face: skipped and counted in `dropped`.

Each face is the square crop around its box grown by `box_scale` (default 1.2, as WFLW's and COFW's
annotated boxes: tight boxes lose the face's outline otherwise) as an image_decode.BoxedImage; a box that
covers the whole picture (a set of face crops, as the AffectNet copy) is the picture itself, not grown
into black. Labels: 'class' (the line's class id, meta['class_names'] from the yaml) and 'group' (the source
image, below the dataset's folder, Roboflow's `.rf.<hash>` augmentation suffix removed: every face of a
photo and every augmented copy of it stay on one side of a seeded split).

Splits, as affectnet and imagefolder treat a validation split: train -> train, test -> test; val/valid ->
test when there is no test split (the split papers report), else kept as 'val'. A set with no train split
(or without any split) gets a seeded split stratified by class and grouped by photo (`test_fraction`,
`seed`). An image listed in two splits is read once, in the first of train, test, val.
Sources: docs.ultralytics.com/datasets/detect (yaml keys, path/train/val/test, names as list or dict, label
lines, labels/ beside images/), Ultralytics' img2label_paths and `../` handling, Roboflow's YOLOv5/YOLOv8
export layout (train/ valid/ test/ with images/ labels/, `../train/images`), CVAT's YOLOv8 formats page
(segmentation, oriented-box and pose lines).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import (SPLIT_SEED, TEST_FRACTION, case_only_differences, grouped_stratified_split,
                                          leave_out_rare_classes)
from facessl.data.formats.imagefiles import (BELOW, SKIP_MISSING_HINT, MissingImages, find_wrapped, fraction_option,
                                            parse_number, positive_number, read_lines, with_dropped)
from facessl.data.formats.imagefolder import split_of, walk_images
from facessl.data.formats.text import read_text, shortened
from facessl.data.image_decode import BoxedImage, decode_errors, upright_size
from facessl.errors import DataFormatError

YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
YAML_SUFFIXES = (".yaml", ".yml")
SPLIT_ORDER = ("train", "test", "val")  # an image in two splits is read in the first
BOX_SCALE = 1.2
COORD_TOLERANCE = 0.01  # exporters round 1.0 to 1.0000001 and clip to -0.000001
WHOLE_IMAGE = 0.98  # a box this wide and high frames the whole picture: the image is already a face crop
ROBOFLOW_COPY = re.compile(r"\.rf\.[0-9a-fA-F]{8,}")  # IMG_1_jpg.rf.3f2a....jpg: one of a photo's exported copies
NO_LABEL_FILE = "image without a label file"
EMPTY_LABEL_FILE = "image with an empty label file (no face)"
UNREADABLE = "image whose size cannot be read"
EXPECTED = ("expected data.yaml, or train/images + train/labels (Roboflow), or images/train + labels/train "
            "(Ultralytics), or images/ + labels/")


def read_yolo(root, box_scale: float = BOX_SCALE, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
              skip_missing: bool = False, min_class_count: int = 0) -> ImageSet:
    """YOLO-format faces: labels 'class' (the box's class id) and 'group' (its photo); split train / test (/ val).
    skip_missing: skip (and count) images an image list names that are absent, and images whose size cannot be
    read, instead of stopping. min_class_count: classes with fewer faces are left out (meta['left_out_classes'],
    counted in dropped), as for csv: and imagefolder:."""
    root = Path(root)
    box_scale = positive_number(box_scale, "yolo", "box_scale", "1.2: the box and a fifth more")
    test_fraction = fraction_option(test_fraction, "yolo")
    folder, yaml_path = _find(root)
    config = _read_yaml(yaml_path) if yaml_path else {}
    names = _class_names(config, yaml_path)
    missing = MissingImages(skip_missing)
    parts, split_from = _split_images(folder, config, yaml_path, missing)
    faces, dropped = _faces(parts, names, config, yaml_path, folder)
    dropped.update(missing.dropped)
    if not faces:
        raise DataFormatError(folder, "no labelled face: " + (", ".join(f"{why} {n}" for why, n in dropped.items())
                                                               or "no images found") + f"; {EXPECTED}")
    if names is None:
        names = [str(i) for i in range(max(f[1] for f in faces) + 1)]
    hint = None
    if names == [str(i) for i in range(len(names))]:  # no yaml, or one with nc: alone
        hint = ("the class names are the label files' class ids ('0', '1', ...): no data.yaml names them; add one "
                "with names: [...] to name them")
    faces, names, extra_meta = _measurable_classes(faces, names, min_class_count, dropped)
    if hint:
        extra_meta["note"] = hint
    return _image_set(faces, names, folder, box_scale, test_fraction, seed, split_from, extra_meta,
                      dropped, skip_missing)


def _measurable_classes(faces, names, min_class_count, dropped):
    """(faces, names, meta) without the classes of fewer than min_class_count faces (their ids renumbered over the
    names kept); the meta names them, and names that differ only in case."""
    (faces,), rare, left_out = leave_out_rare_classes([names[f[1]] for f in faces], min_class_count, faces)
    meta = {}
    if rare:
        kept = [n for n in names if n not in rare]
        faces = [(f[0], kept.index(names[f[1]]), *f[2:]) for f in faces]
        names, meta["left_out_classes"] = kept, rare
        dropped.update(left_out)
    if case_only_differences(names):
        meta["case_only_classes"] = case_only_differences(names)
    return faces, names, meta


# --- where the dataset is ----------------------------------------------------------------------------------
def _find(root: Path) -> tuple[Path, Path | None]:
    """(the dataset's folder, its yaml or None): the path given, a yaml file, or found up to two folders below."""
    if root.is_file():
        if root.suffix.lower() not in YAML_SUFFIXES:
            raise DataFormatError(root, f"not a YOLO dataset: give its folder or its data.yaml ({EXPECTED})")
        return root.parent, root
    folder = find_wrapped(root, lambda f: _yaml_in(f) is not None or bool(_split_folders(f))) if root.is_dir() else None
    if folder is None:
        raise DataFormatError(root, f"no YOLO dataset found here or {BELOW}: {EXPECTED}")
    return folder, _yaml_in(folder)


def _yaml_in(folder: Path) -> Path | None:
    """data.yaml or dataset.yaml; else the one *.yaml that names classes (a second one is an error)."""
    named = next((folder / n for n in YAML_NAMES if (folder / n).is_file()), None)
    if named is not None:
        return named
    try:
        others = sorted(p for p in folder.iterdir() if p.suffix.lower() in YAML_SUFFIXES and p.is_file())
    except OSError:
        return None
    others = [p for p in others if _names_classes(p)]
    if len(others) > 1:
        raise DataFormatError(folder, f"several YOLO yaml files ({', '.join(p.name for p in others)}); "
                                      f"give the one to read as yolo:{others[0]}")
    return others[0] if others else None


def _names_classes(path: Path) -> bool:
    try:
        return bool(re.search(r"^(names|nc)\s*:", path.read_text(errors="replace"), re.MULTILINE))
    except OSError:
        return False


def _split_folders(folder: Path) -> dict[str | None, Path]:
    """split (None: unsplit) -> images folder, for the layouts without a yaml: Roboflow's <split>/images/ beside
    <split>/labels/, Ultralytics' images/<split>/ beside labels/<split>/, or images/ beside labels/."""
    found: dict[str | None, Path] = {}
    for sub in _subfolders(folder):
        split = split_of(sub.name)
        if split and (sub / "images").is_dir() and (sub / "labels").is_dir():
            found.setdefault(split, sub / "images")
    if found or not ((folder / "images").is_dir() and (folder / "labels").is_dir()):
        return found
    for sub in _subfolders(folder / "images"):
        if split_of(sub.name) and (folder / "labels" / sub.name).is_dir():
            found.setdefault(split_of(sub.name), sub)
    return found or {None: folder / "images"}


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    except OSError:
        return []


# --- data.yaml -------------------------------------------------------------------------------------------------
def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        config = yaml.safe_load(read_text(path, "YOLO data.yaml"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataFormatError(path, f"not valid YAML ({getattr(exc, 'problem', None) or 'unreadable'})",
                              mark.line + 1 if mark is not None else None) from None
    if not isinstance(config, dict):
        raise DataFormatError(path, "expected YOLO keys (names:, train:, val:), got "
                                    + ("an empty file" if config is None else type(config).__name__))
    return config


def _class_names(config: dict, path: Path | None) -> list[str] | None:
    """The names in class-id order, or None when the yaml gives neither names nor nc."""
    names, nc = config.get("names"), config.get("nc")
    if nc is not None and (isinstance(nc, bool) or not isinstance(nc, int) or nc < 1):
        raise DataFormatError(path, f"nc: expected the number of classes, got {nc!r}")
    if names is None:
        return None if nc is None else [str(i) for i in range(nc)]
    if isinstance(names, dict):
        try:
            ids = {int(k): v for k, v in names.items()}
        except (TypeError, ValueError):
            raise DataFormatError(path, f"names: expected class ids 0, 1, ... as keys, got "
                                        f"{shortened(repr(list(names)), 80)}") from None
        if sorted(ids) != list(range(len(ids))):
            raise DataFormatError(path, f"names: expected class ids 0..{len(ids) - 1}, got {sorted(ids)}")
        names = [ids[i] for i in range(len(ids))]
    if not isinstance(names, list) or not names:
        raise DataFormatError(path, f"names: expected a list [anger, ...] or ids {{0: anger, ...}}, got {names!r}")
    if nc is not None and nc != len(names):
        raise DataFormatError(path, f"nc: {nc} but names lists {len(names)} classes")
    return [str(n).strip() or str(n) for n in names]


def _split_images(folder: Path, config: dict, yaml_path: Path | None, missing: MissingImages):
    """([(split, images)] in SPLIT_ORDER, how the splits were found): the yaml's split paths where they are
    found here, else the split folders beside it."""
    folders = _split_folders(folder)
    base = _yaml_base(folder, config)
    found, notes = {}, []
    for key, value in config.items():
        split = split_of(str(key)) if key not in ("path", "names", "nc") and value else None
        if split is None or split in found:
            continue
        images = _listed_images(value, base, folder, missing)
        if images is None and split in folders:
            shown = folders[split].relative_to(folder).as_posix()
            notes.append(f"{key}: {shortened(str(value), 60)} not found here, read {shown}/")
        if images is not None:
            found[split] = images
    for split, images_folder in folders.items():
        if split not in found and not (split is None and found):
            found[split] = walk_images(images_folder)
    if not found:
        where = f"{yaml_path.name}'s train:/val: paths not found here and " if yaml_path else ""
        raise DataFormatError(yaml_path or folder, f"{where}no split folders beside it; {EXPECTED}")
    parts = [(s, found[s]) for s in (*SPLIT_ORDER, None) if s in found]
    how = (f"{yaml_path.name} " if yaml_path and not notes else "folders ") + ", ".join(str(s or "unsplit")
                                                                                        for s, _ in parts)
    return parts, how + (f" ({'; '.join(notes)})" if notes else "")


def _yaml_base(folder: Path, config: dict) -> Path:
    """What the split paths are relative to: `path:` where it exists here, else the yaml's folder."""
    given = config.get("path")
    if isinstance(given, str) and given.strip():
        candidate = folder / given.strip()
        if candidate.is_dir():
            return candidate
    return folder


def _resolved(text: str, bases: list[Path]) -> Path | None:
    """A split path from the yaml as it exists here: relative to the bases; without Roboflow's leading `../`;
    or, for a path from the exporter's machine, its last two or more parts below the bases."""
    text = text.strip().replace("\\", "/")
    plain = text
    while plain.startswith(("../", "./")):
        plain = plain[3:] if plain.startswith("../") else plain[2:]
    path = Path(text)
    tries = [b / plain for b in bases if plain]  # inside the dataset first: `../` must not reach a neighbour
    tries += [path] if path.is_absolute() else [b / text for b in bases]
    parts = Path(plain).parts
    tries += [b.joinpath(*parts[i:]) for i in range(1, len(parts) - 1) for b in bases]
    return next((t for t in tries if t.exists()), None)


def _listed_images(value, base: Path, folder: Path, missing: MissingImages) -> list[Path] | None:
    """The images of one split entry (a folder, a *.txt list of images, or a list of those); None when none of
    it is found here."""
    entries = value if isinstance(value, list) else [value]
    images, any_found = [], False
    for entry in entries:
        target = _resolved(str(entry), [base, folder])
        if target is None:
            continue
        any_found = True
        images += walk_images(target) if target.is_dir() else _image_list(target, base, missing)
    return images if any_found else None


def _image_list(path: Path, base: Path, missing: MissingImages) -> list[Path]:
    """Images named one a line in a split's *.txt (`./images/train/a.jpg`: relative to the list's folder)."""
    images = []
    for number, line in enumerate(read_lines(path, "YOLO image list"), start=1):
        name = line.strip().replace("\\", "/")
        if not name:
            continue
        image = _resolved(name, [path.parent, base]) or path.parent / name
        if missing.ok(image, path, number):
            images.append(image)
    return images


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


def _faces(parts, names, config, yaml_path, folder: Path):
    """([(split, class, normalised box (x0, y0, x1, y1), image, group)], dropped counts)."""
    boxed_first = "kpt_shape" in config  # pose sets: class, box, then keypoints
    faces, dropped, seen = [], Counter(), set()
    for split, images in parts:
        for image in images:
            if image in seen:
                continue
            seen.add(image)
            labels = label_path(image)
            if not labels.is_file():
                dropped[NO_LABEL_FILE] += 1
                continue
            boxes = label_boxes(labels, None if names is None else len(names), boxed_first, yaml_path)
            if not boxes:
                dropped[EMPTY_LABEL_FILE] += 1
                continue
            group = ROBOFLOW_COPY.sub("", _below(image, folder))
            faces += [(split, cls, box, image, group) for cls, box in boxes]
    return faces, dropped


def label_boxes(path: Path, n_classes: int | None, boxed_first: bool = False, yaml_path=None):
    """[(class, (x0, y0, x1, y1) normalised)] of a label file; a malformed line is one DataFormatError."""
    boxes = []
    for number, line in enumerate(read_lines(path, "YOLO label file"), start=1):
        fields = line.split()
        if not fields:
            continue
        if not (len(fields) == 5 or (boxed_first and len(fields) > 5) or (len(fields) >= 7 and len(fields) % 2)):
            raise DataFormatError(path, f"expected 'class cx cy w h' (5 fields) or a polygon 'class x1 y1 x2 y2 "
                                        f"x3 y3 ...', got {len(fields)} fields", number)
        cls = _class_id(fields[0], n_classes, path, number, yaml_path)
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


def _class_id(text: str, n_classes: int | None, path, number, yaml_path) -> int:
    value = parse_number(text, path, number, "a class id 0, 1, ...", float)  # some exporters write 3.0
    if not math.isfinite(value) or value != int(value) or value < 0 or (n_classes is not None and value >= n_classes):
        within = f" 0..{n_classes - 1} (the names in {yaml_path.name})" if n_classes is not None and yaml_path else ""
        raise DataFormatError(path, f"expected a class id{within or ' 0, 1, ...'}, got {text}", number)
    return int(value)


def _below(image: Path, folder: Path) -> str:
    try:
        return image.relative_to(folder).as_posix()
    except ValueError:  # a list naming an image outside the dataset's folder
        return image.as_posix()


# --- faces -----------------------------------------------------------------------------------------------------
def _image_set(faces, names, folder, box_scale, test_fraction, seed, split_from, extra_meta, dropped, skip_missing):
    sizes, images, keep = {}, [], []
    for row, (_, _, box, image, _) in enumerate(faces):
        face = _face(image, box, box_scale, sizes, skip_missing)
        if face is None:
            dropped[UNREADABLE] += 1
            continue
        images.append(face)
        keep.append(row)
    if not images:
        raise DataFormatError(folder, f"no labelled face whose image can be read; skipped {dict(dropped)}")
    faces = [faces[r] for r in keep]
    classes = np.array([f[1] for f in faces], dtype=np.int64)
    groups = np.array([f[4] for f in faces])
    named = [f[0] for f in faces]
    split = _splits(named)
    if split is not None and "test" not in named:
        split_from += " (no test split: val is the test split)"
    if split is None:
        split = np.asarray(grouped_stratified_split(classes, groups, test_fraction, seed))
        split_from = (f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by photo "
                      f"(read from {split_from})")
    meta = {"class_names": list(names), "split_from": split_from,
            "box": f"YOLO box grown by {box_scale:g} (square); whole-picture boxes read whole"}
    meta.update(extra_meta)
    result = ImageSet(images, {"class": classes, "group": groups}, split, str(folder), meta=meta)
    return with_dropped(result, {k: v for k, v in dropped.items() if v})


def _splits(named) -> np.ndarray | None:
    """The folders' splits (val the test split when there is no test), or None when there is no train split
    beside a test or val one (a seeded split is made instead)."""
    present = set(named)
    if "train" not in present or not present & {"test", "val"} or None in present:
        return None
    val_is = "val" if "test" in present else "test"
    return np.array([val_is if s == "val" else s for s in named])


def _face(image: Path, box, box_scale: float, sizes: dict, skip_missing: bool):
    """The BoxedImage of one face (its box in the upright picture's pixels, grown), the path itself for a
    whole-picture box, or None when the image's size cannot be read and skip_missing is set."""
    x0, y0, x1, y1 = box
    if x1 - x0 >= WHOLE_IMAGE and y1 - y0 >= WHOLE_IMAGE:
        return str(image)
    if image not in sizes:
        sizes[image] = _upright_size(image, skip_missing)
    if sizes[image] is None:
        return None
    w, h = sizes[image]
    return BoxedImage.enlarged(image, (x0 * w, y0 * h, x1 * w, y1 * h), box_scale)


def _upright_size(image: Path, skip_missing: bool):
    from PIL import Image

    try:
        with Image.open(image) as im:
            return upright_size(im)  # YOLO boxes are fractions of the picture as shown (EXIF applied)
    except decode_errors() as exc:
        if skip_missing:
            return None
        raise DataFormatError(image, f"cannot read the image's size ({type(exc).__name__}); {SKIP_MISSING_HINT}") \
            from None
