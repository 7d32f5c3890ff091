"""Face sets labelled with COCO-JSON boxes, as Roboflow, CVAT and many Kaggle face sets ship them. Each annotated box
is one face; its category is its class.

    train/_annotations.coco.json    Roboflow "COCO JSON": one JSON per split folder (train/, valid/, test/), the
    train/a_jpg.rf.<hash>.jpg       images beside it (file_name without a folder)
    annotations/instances_default.json
    images/a.jpg                    CVAT "COCO 1.0" (Datumaro): images/ (or images/default/) beside annotations/;
                                    file_name relative to images/ (a task's own folders kept) or to the root
    annotations/instances_train2017.json
    train2017/a.jpg                 COCO / MMDetection: instances_<subset>.json in annotations/, the images in
                                    <subset>/ or images/<subset>/ beside it; train* -> train, val* -> val,
                                    test* -> test (instances_default.json: no split)
    faces.json                      one COCO JSON of any name beside (or above) its images; train.json / val.json
                                    / test.json side by side are read as splits

    {"images": [{"id", "file_name", "width", "height"}],
     "annotations": [{"id", "image_id", "category_id", "bbox": [x, y, w, h], "iscrowd", ...}],
     "categories": [{"id", "name", "supercategory"}]}

The path given may be the folder (the dataset is also found up to two folders below it: an export unpacked into a
folder of its own) or one JSON file, which is then read alone. Files are read as UTF-8 with or without BOM, each
once (a 100 MB instances file is parsed once; folders are told apart by their file names, and a JSON of another
name by its first 256 KB). Malformed JSON is one DataFormatError naming the file and line; a missing key, a
category or image id no entry has, or a bbox that is not four numbers, of no width or height, or outside the
picture by more than BOX_TOLERANCE pixels, is one DataFormatError naming the file and the annotation (or image).

Classes: the categories that some annotation uses, or whose supercategory is not "none" (case and spaces
ignored). Roboflow writes a category 0 named after the project, supercategory "none", that no box uses, with the
real classes 1..K under it: that category is never a class. A category with supercategory "none" that boxes use
(older exports, hand-written files) is a class; a real category no box uses is a class without faces (inspect
lists it under `no images`, as for yolo:). Class ids: the kept categories ordered by id, renumbered 0..K-1, names
stripped (categories of one name are one class). Several JSONs (splits) must give a category id the same name.

file_name (`a.jpg`, `images/a.jpg`, a task's folders `frames/a.jpg`, Windows `\\` separators, or an absolute path
from the exporter's machine, whose last parts are looked for) is found below the JSON's folder, the dataset's
folder (the one above annotations/), images/, images/<subset>/ and <subset>/ in it. A missing image is one
DataFormatError naming the JSON and the image, or with skip_missing skipped and counted (`missing_image`). An
entry's width and height turn the box into fractions of the picture; where they are absent or 0 the image's
header is read (its size as shown, EXIF orientation applied). Crowd regions (iscrowd 1) are skipped and counted;
an image without any annotation holds no face (counted: `image without a box`).

Each face is the square crop around its box grown by `box_scale` (1.2, as for yolo:) as an image_decode.BoxedImage,
a box that covers the whole picture the picture itself (formats/boxed_faces.py, shared with yolo:). Labels 'class'
and 'group' (the image's path below the dataset's folder, Roboflow's `.rf.<hash>` augmentation suffix removed: the
faces of one photo and its augmented copies stay on one side of a seeded split). Splits: train -> train, test ->
test, val/valid -> test when there is no test split, else 'val'; one JSON (or no train split) gets a seeded split
stratified by class and grouped by photo (`test_fraction`, `seed`). An image listed in two splits' JSONs is read
in the first of train, test, val.

Sources checked: the COCO data format page (cocodataset.org #format-data: bbox [x, y, width, height] in pixels from
the top left, iscrowd, categories with supercategory); Roboflow's COCO JSON export as published in sample exports
(`train/_annotations.coco.json`, category 0 named after the project with supercategory "none", classes 1..K with
that name as supercategory, file names `a_jpg.rf.<hash>.jpg`); Datumaro's COCO importer (Roboflow layout: images
beside `<split>/_annotations.coco.json`; default layout: `annotations/instances_<subset>.json` with images in
`images/<subset>/` else `images/`; MMDetection layout: `<subset>/` beside `annotations/`), which CVAT's "COCO 1.0"
export (`annotations/instances_default.json`) is written by; loaders of CVAT exports (`images/` beside
`annotations/instances_default.json`) and of COCO 2017 (`annotations/instances_train2017.json` + `train2017/`).
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

from facessl.data.formats.boxed_faces import (BOX_SCALE, UNREADABLE, box_face_set, box_options, photo_group,
                                             picture_size, shown_below)
from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION
from facessl.data.formats.imagefiles import BELOW, SKIP_MISSING_HINT, find_wrapped
from facessl.data.formats.imagefolder import split_of
from facessl.data.formats.text import read_text, shortened
from facessl.errors import DataFormatError

BOX_TOLERANCE = 3.0  # pixels a box may reach outside the picture (exporters round, annotators overshoot an edge)
ROBOFLOW_JSON = "_annotations.coco.json"
INSTANCES = re.compile(r"instances_(.+)\.json", re.IGNORECASE)
SNIFF_BYTES = 256 * 1024  # a JSON of another name is taken for COCO when its head holds "images"
SPLIT_ORDER = ("train", "test", "val", None)
NO_BOX = "image without a box"
CROWD = "crowd box (iscrowd) skipped"
MISSING = "missing_image"
EXPECTED = ("expected train/_annotations.coco.json (Roboflow), annotations/instances_default.json + images/ (CVAT "
            "COCO 1.0), annotations/instances_train2017.json + train2017/ (COCO), or one COCO *.json beside its images")


def read_coco(root, box_scale: float = BOX_SCALE, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
              skip_missing: bool = False, min_class_count: int = 0) -> ImageSet:
    """COCO-JSON faces: labels 'class' (the box's category) and 'group' (its photo); split train / test (/ val).
    skip_missing: skip (and count) images a JSON names that are absent, and images whose size cannot be read,
    instead of stopping. min_class_count: classes with fewer faces are left out (meta['left_out_classes'],
    counted in dropped), as for csv:, imagefolder: and yolo:."""
    root = Path(root)
    box_scale, test_fraction = box_options("coco", box_scale, test_fraction)
    folder, jsons = find_dataset(root)
    files = [_CocoFile(path, split, subset, folder) for split, subset, path in jsons]  # each parsed once
    names, class_of = _classes(files)
    faces, dropped, seen = [], Counter(), set()
    for coco in files:
        faces += coco.faces(class_of, seen, dropped, skip_missing)
    if not faces:
        raise DataFormatError(files[0].path if len(files) == 1 else folder, "no labelled face: " + (
            ", ".join(f"{why} {n}" for why, n in dropped.items()) or "no annotations"))
    split_from = ", ".join(shown_below(c.path, folder) for c in files)
    return box_face_set(faces, names, folder, box_scale, test_fraction, seed, skip_missing, min_class_count,
                        split_from, dropped, "COCO")


# --- where the dataset is ----------------------------------------------------------------------------------
def find_dataset(root: Path) -> tuple[Path, list[tuple[str | None, str | None, Path]]]:
    """(the dataset's folder, [(split, subset, json)] in SPLIT_ORDER): the JSON given, else the first folder of
    root and up to two folders below that holds COCO JSON (see _jsons_in)."""
    if root.is_file():
        if root.suffix.lower() != ".json":
            raise DataFormatError(root, f"not a COCO JSON file: give its folder or the *.json ({EXPECTED})")
        folder = root.parent.parent if root.parent.name.lower() == "annotations" else root.parent
        return folder, [_one(root)]
    found: dict = {}  # folder -> its JSONs: each folder looked at once (a JSON's head is read once)

    def holds(f: Path) -> bool:
        found[f] = _jsons_in(f)
        return bool(found[f])

    folder = find_wrapped(root, holds) if root.is_dir() else None
    if folder is None:
        raise DataFormatError(root, f"no COCO JSON found here or {BELOW}: {EXPECTED}")
    return folder, sorted(found[folder], key=lambda j: SPLIT_ORDER.index(j[0]))


def _one(path: Path) -> tuple[str | None, str | None, Path]:
    """(split, subset, path) of one JSON: the subset of instances_<subset>.json; the split from it, from the name
    of a Roboflow split folder, or from a train.json / val.json name."""
    match = INSTANCES.fullmatch(path.name)
    subset = match.group(1) if match else None
    if path.name == ROBOFLOW_JSON:
        return _split_name(path.parent.name), None, path
    return _split_name(subset if subset else path.stem), subset, path


def _split_name(text: str) -> str | None:
    """train2017 -> train, val2017 -> val, valid -> val, test-dev -> test; default, faces -> None."""
    return split_of(text) or split_of(re.sub(r"\d+$", "", text))


def _jsons_in(folder: Path) -> list[tuple[str | None, str | None, Path]]:
    """The COCO JSONs of a dataset folder, first found of: Roboflow's <split>/_annotations.coco.json;
    annotations/instances_*.json; _annotations.coco.json here; else the COCO-looking *.json in annotations/ or
    here (several only when each names a split: train.json, val.json)."""
    roboflow = [folder / sub.name / ROBOFLOW_JSON for sub in _subfolders(folder)
                if split_of(sub.name) and (sub / ROBOFLOW_JSON).is_file()]
    if roboflow:
        return _distinct([_one(p) for p in roboflow])
    annotations = folder / "annotations"
    instances = sorted(p for p in _files(annotations) if INSTANCES.fullmatch(p.name))
    if instances:
        return _distinct([_one(p) for p in instances])
    if (folder / ROBOFLOW_JSON).is_file():
        return [_one(folder / ROBOFLOW_JSON)]
    for where in (annotations, folder):
        others = [p for p in sorted(_files(where)) if p.suffix.lower() == ".json" and _looks_like_coco(p)]
        if len(others) > 1 and any(_one(p)[0] is None for p in others):
            raise DataFormatError(where, f"several COCO JSON files ({shortened(', '.join(p.name for p in others), 120)}"
                                         f"); give the one to read as coco:{others[0]}")
        if others:
            return _distinct([_one(p) for p in others])
    return []


def _distinct(jsons):
    """One JSON per split (train/ and training/ both holding one: the first, by name)."""
    kept: dict = {}
    for split, subset, path in jsons:
        if split is None:
            kept[(None, path)] = (split, subset, path)
        else:
            kept.setdefault(split, (split, subset, path))
    return list(kept.values())


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return []


def _looks_like_coco(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and b'"images"' in head




# --- one JSON file -----------------------------------------------------------------------------------------
class _CocoFile:
    """One COCO JSON, parsed once: its categories, images and boxes checked for the keys they need."""

    def __init__(self, path: Path, split: str | None, subset: str | None, folder: Path):
        self.path, self.split, self.folder = path, split, folder
        doc = _parse(path)
        self.categories = self._categories(doc)
        self.images = self._images(doc)
        self.boxes = self._annotations(doc)  # image id -> [annotation], in the file's order
        root = path.parent.parent if path.parent.name.lower() == "annotations" else path.parent
        bases = [path.parent, root, root / "images", folder, folder / "images"]
        if subset:
            bases += [root / "images" / subset, root / subset, folder / "images" / subset, folder / subset]
        self.bases = list(dict.fromkeys(bases))  # where file_name is looked for, in order, once each

    # keys
    def _list(self, doc: dict, key: str) -> list:
        if key not in doc:
            raise DataFormatError(self.path, f"missing key '{key}': a COCO JSON holds images, annotations and "
                                             f"categories")
        if not isinstance(doc[key], list):
            raise DataFormatError(self.path, f"'{key}': expected a list, got {type(doc[key]).__name__}")
        return doc[key]

    def _field(self, entry, key: str, where: str):
        if not isinstance(entry, dict):
            raise DataFormatError(self.path, f"{where}: expected an object {{...}}, got {shortened(repr(entry), 60)}")
        if key not in entry:
            raise DataFormatError(self.path, f"{where}: missing key '{key}'")
        return entry[key]

    def _categories(self, doc: dict) -> dict:
        categories = {}
        for i, cat in enumerate(self._list(doc, "categories")):
            cid = self._field(cat, "id", f"categories[{i}]")
            name = self._field(cat, "name", f"category {cid}")
            categories[cid] = (str(name).strip() or str(cid), str(cat.get("supercategory") or "").strip())
        return categories

    def _images(self, doc: dict) -> dict:
        images = {}
        for i, entry in enumerate(self._list(doc, "images")):
            iid = self._field(entry, "id", f"images[{i}]")
            file_name = self._field(entry, "file_name", f"image {iid}")
            if iid in images:
                raise DataFormatError(self.path, f"image {iid}: id listed twice ({images[iid][0]}, {file_name})")
            images[iid] = (str(file_name), _side(entry.get("width")), _side(entry.get("height")))
        return images

    def _annotations(self, doc: dict) -> dict:
        boxes: dict = {}
        for i, ann in enumerate(self._list(doc, "annotations")):
            aid = ann.get("id", f"#{i}") if isinstance(ann, dict) else f"#{i}"
            where = f"annotation {aid}"
            iid = self._field(ann, "image_id", where)
            cid = self._field(ann, "category_id", where)
            if iid not in self.images:
                raise DataFormatError(self.path, f"{where}: image_id {iid} is not among the images")
            if cid not in self.categories:
                raise DataFormatError(self.path, f"{where}: category_id {cid} is not among the categories "
                                                 f"({shortened(str(sorted(self.categories, key=str)), 80)})")
            crowd = str(ann.get("iscrowd", 0)).strip().lower() in ("1", "true", "1.0")
            bbox = None if crowd else self._field(ann, "bbox", where)
            boxes.setdefault(iid, []).append((aid, cid, bbox, crowd))
        return boxes

    def used(self) -> set:
        return {cid for anns in self.boxes.values() for _, cid, _, crowd in anns if not crowd}

    # faces
    def faces(self, class_of: dict, seen: set, dropped: Counter, skip_missing: bool) -> list:
        """[(split, class, box as fractions (x0, y0, x1, y1), image path, group)] of this file's boxes."""
        faces, here = [], set()
        for iid, (file_name, width, height) in self.images.items():
            anns = self.boxes.get(iid)
            if not anns:
                dropped[NO_BOX] += 1
                continue
            image = self._image(file_name, iid, skip_missing)
            if image is None:
                dropped[MISSING] += 1
                continue
            if image in seen:  # listed by an earlier split's JSON: read there
                continue
            here.add(image)
            if not (width and height):
                size = picture_size(image, skip_missing, ", which its COCO entry leaves out")
                if size is None:
                    dropped[UNREADABLE] += 1
                    continue
                width, height = size
            group = photo_group(image, self.folder)
            for aid, cid, bbox, crowd in anns:
                if crowd:
                    dropped[CROWD] += 1
                    continue
                box = self._box(bbox, width, height, aid, file_name)
                faces.append((self.split, class_of[cid], box, image, group))
        seen |= here
        return faces

    def _image(self, file_name: str, iid, skip_missing: bool) -> Path | None:
        name = file_name.strip().replace("\\", "/")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        tails = [Path(*parts[i:]) for i in range(len(parts))] if parts else []  # an exporter's absolute path
        if Path(name).is_absolute() and Path(name).is_file():
            return Path(name)
        for tail in tails:
            for base in self.bases:
                if (base / tail).is_file():
                    if base is not self.bases[0]:  # the base that held this image first, for the next ones
                        self.bases.remove(base)
                        self.bases.insert(0, base)
                    return base / tail
        if skip_missing:
            return None
        looked = ", ".join(shown_below(b, self.folder) + "/" for b in self.bases[:5])
        raise DataFormatError(self.path, f"image {iid} {file_name!r} not found (looked below {looked}); "
                                         f"{SKIP_MISSING_HINT}")

    def _box(self, bbox, width: float, height: float, aid, file_name: str) -> tuple:
        where = f"annotation {aid} (image {file_name})"
        if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           for v in bbox)):
            raise DataFormatError(self.path, f"{where}: bbox: expected [x, y, width, height] in pixels, got "
                                             f"{shortened(repr(bbox), 60)}")
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            raise DataFormatError(self.path, f"{where}: bbox {bbox}: expected a box of positive width and height")
        t = BOX_TOLERANCE
        if x < -t or y < -t or x + w > width + t or y + h > height + t:
            raise DataFormatError(self.path, f"{where}: bbox {bbox} reaches outside the {width:g}x{height:g} "
                                             f"picture (more than {t:g} pixels)")
        return (x / width, y / height, (x + w) / width, (y + h) / height)


def _parse(path: Path) -> dict:
    text = read_text(path, "COCO JSON")  # BOM tolerated; the file is read once
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    del text
    if not isinstance(doc, dict):
        raise DataFormatError(path, f"expected a COCO object {{\"images\": ..., \"annotations\": ..., "
                                    f"\"categories\": ...}}, got a {type(doc).__name__}")
    return doc


def _side(value) -> float | None:
    """An image entry's width or height; None when absent, 0 or not a positive number (the header is read)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)




# --- classes -----------------------------------------------------------------------------------------------
def _classes(files: list[_CocoFile]) -> tuple[list[str], dict]:
    """(class names, category id -> class id): the categories boxes use or whose supercategory is not "none"
    (Roboflow's project category is neither), by id; several JSONs must agree on each id's name."""
    categories, named_in, used = {}, {}, set()
    for coco in files:
        for cid, (name, supercategory) in coco.categories.items():
            if cid in categories and categories[cid][0] != name:
                raise DataFormatError(coco.path, f"category {cid} is named {name!r} here but "
                                                 f"{categories[cid][0]!r} in {named_in[cid]}")
            categories.setdefault(cid, (name, supercategory))
            named_in.setdefault(cid, shown_below(coco.path, coco.folder))
        used |= coco.used()
    kept = [cid for cid in sorted(categories, key=_id_order)
            if cid in used or categories[cid][1].lower() != "none"]
    names = list(dict.fromkeys(categories[cid][0] for cid in kept))
    return names, {cid: names.index(categories[cid][0]) for cid in kept}


def _id_order(cid):
    """Category ids in numeric order (ids written as strings too)."""
    try:
        return (0, float(cid), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(cid))
