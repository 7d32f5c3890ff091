"""Face sets labelled with Pascal VOC XML boxes: one XML per image, each <object> a face whose <name> is its class
(LabelImg's default save format, Roboflow's "Pascal VOC" export, CVAT's "PASCAL VOC 1.1", Kaggle's "Face Mask
Detection" with_mask / without_mask / mask_weared_incorrect).

    a.jpg  a.xml              LabelImg: each XML beside its image, in one folder
    Annotations/a.xml         VOC devkit (CVAT's export too): XMLs in Annotations/, images in JPEGImages/
    JPEGImages/a.jpg          (an Annotations/sub/a.xml looks in JPEGImages/sub/ first)
    ImageSets/Main/train.txt  the split, when present: image ids one a line in train.txt, val.txt, test.txt
                              (trainval.txt counts as train for ids no other list names; per-class lists such
                              as aeroplane_train.txt and CVAT's default.txt give no split); an annotation no
                              split list names is skipped and counted
    annotations/a.xml         Kaggle's face-mask set: annotations/ + images/ (also xmls/, labels/ beside imgs/)
    images/a.png
    train/a_jpg.rf.<hash>.jpg Roboflow: train/, valid/ (or val/), test/, each holding images with their XMLs
    train/a_jpg.rf.<hash>.xml beside them (or annotations/ + images/ in each split folder)
    classes.txt               optional, beside the XMLs or the split folders (also labels.txt, LabelImg's
                              predefined_classes.txt, CVAT's labelmap.txt `name:color::`): the classes' order

The set is also found one or two folders below the path given (VOCdevkit/VOC2012/, a zip unpacked into a folder
of its own). An XML is <annotation> with <filename>, <path>, <size> (<width>, <height>) and <object>s, each with
<name> and <bndbox> (<xmin>, <ymin>, <xmax>, <ymax>: pixels; VOC's are 1-based, LabelImg and Roboflow write
0-based, some tools floats such as 12.5: all read as VOC's, the left and top edges at xmin - 1 and ymin - 1, so
that 1 1 W H is the whole picture; a 0-based box reads one pixel wider, well inside the box's growth). <pose>,
<truncated>, <occluded> and <difficult> are not read: a `difficult` face is still a face.

The image: <filename> beside the XML, in the images folder beside its annotations folder, or in the dataset's
images folder (exactly, then in any case); when that is not found (a stale or suffix-less <filename>, as real
sets have) the image with the XML's stem (then <filename>'s stem) and any image suffix; <path>, mostly a path
on the labeller's machine, only when it exists here. An XML whose image is not found is an error
(skip_missing=True skips and counts it); an image without an XML holds no label (counted). The box divides by
<size>; when <size> is missing or 0 (it happens) by the image's size read from its header (upright, EXIF
applied). Class names: the sorted set of the <name>s (stripped), or the order a classes file lists them in
(names it lacks follow, sorted, and meta['note'] says so; a file that names none of the set's classes is not
its classes file). An XML with no <object> holds no face: skipped and counted. A malformed XML is one
DataFormatError naming file and line (ElementTree's ParseError position); a missing <name> or <bndbox>, a
coordinate that is not a number, a box with xmax <= xmin (or ymax <= ymin) or outside the picture by more than
PIXEL_TOLERANCE pixels is one DataFormatError naming the file and the object's index.

Each box is one face (boxed_faces.face_set, as formats/yolo.py): the square around it grown by `box_scale`
(1.2), a whole-picture box the picture itself. Labels 'class' and 'group' (the image, below the dataset's folder,
Roboflow's `.rf.<hash>` copy suffix removed: the faces of a photo and its augmented copies stay on one side of a
seeded split). Splits: split folders (train/ valid/ test/, also Annotations/train/ ...) or ImageSets/Main lists
as given, val the test split when there is no test split; else a seeded split stratified by class and grouped
by photo (`test_fraction`, `seed`). `min_class_count` leaves out rare classes as for csv: and yolo:.

Safety: the XML is parsed by the standard library's ElementTree (expat), which never fetches external entities
or DTDs (no XXE, no network); expat >= 2.4.1 (2.5.0 here) also caps entity-expansion blow-ups. defusedxml is
therefore not needed (nor installed); a DOCTYPE or ENTITY declaration, which no VOC annotation has, is refused
outright all the same.
Sources checked: Roboflow's "Pascal VOC XML" format page (the XML's fields, <occluded>, xmax before ymin in
their own exports), Luxonis' VOC parser docs for Roboflow's export (train/ valid/ test/ with img.xml beside
img.jpg), Datumaro / CVAT's Pascal VOC format pages (Annotations/, ImageSets/Main/<subset>.txt, JPEGImages/,
labelmap.txt), the VOC devkit layout (Annotations/, ImageSets/Main/train|val|trainval|test.txt, JPEGImages/),
LabelImg (XML saved beside the image by default, data/predefined_classes.txt), Kaggle's andrewmvd "Face Mask
Detection" (annotations/maksssksksss0.xml + images/maksssksksss0.png).
"""
from __future__ import annotations

import math
import os
import re
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

from facessl.data.formats.boxed_faces import (BOX_SCALE, UNREADABLE, box_face_set, box_options, photo_group,
                                             picture_size, shown_below)
from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION
from facessl.data.formats.imagefiles import BELOW, SKIP_MISSING_HINT, find_wrapped, read_lines
from facessl.data.formats.imagefolder import SPLIT_FOLDERS, split_of
from facessl.data.formats.text import shortened
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import DataFormatError

PIXEL_TOLERANCE = 3  # a box may pass the picture's edge by this many pixels (1-based xmax = width + 1, rounding)
ANNOTATION_FOLDERS = ("annotations", "annotation", "xmls", "xml", "labels")  # any case: Annotations/, annotations/
IMAGE_FOLDERS = ("jpegimages", "images", "imgs", "img", "pngimages")  # any case: JPEGImages/, images/
NAMES_FILES = ("classes.txt", "predefined_classes.txt", "labels.txt", "labelmap.txt")
LIST_SPLITS = ("train", "test", "val")  # an id in two ImageSets lists is read in the first
SPLIT_ORDER = {"train": 0, "test": 1, "val": 2, None: 3}
NOT_VOC = "XML that is not a Pascal VOC <annotation>"
NO_OBJECT = "annotation with no object (no face)"
NO_ANNOTATION = "image without an annotation XML"
NOT_LISTED = "annotation in no ImageSets/Main split list"
MISSING_IMAGE = "missing_image"  # as imagefiles.MissingImages counts them
EXPECTED = ("expected .xml annotations beside their images (LabelImg), Annotations/ + JPEGImages/ (VOC devkit, "
            "ImageSets/Main lists), annotations/ + images/ (Kaggle), or train/ valid/ test/ holding images with "
            "their .xml (Roboflow)")


def read_voc(root, box_scale: float = BOX_SCALE, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
             skip_missing: bool = False, min_class_count: int = 0) -> ImageSet:
    """Pascal VOC faces: labels 'class' (the <object>'s <name>) and 'group' (its photo); split train / test (/ val).
    skip_missing: skip (and count) XMLs whose image is not found and images whose size cannot be read, instead
    of stopping. min_class_count: classes with fewer faces are left out (meta['left_out_classes'], counted in
    dropped), as for csv:, imagefolder: and yolo:."""
    root = Path(root)
    box_scale, test_fraction = box_options("voc", box_scale, test_fraction)
    folder = _find_dataset(root)
    xmls = _annotation_files(folder)
    splits, split_from = _splits(folder, xmls)
    faces, dropped = _faces(folder, xmls, splits, skip_missing)
    if not faces:
        raise DataFormatError(folder, "no labelled face: " + ", ".join(f"{why} {n}" for why, n in dropped.items())
                              + f"; {EXPECTED}")
    names, note = _class_names(folder, {f[1] for f in faces})
    faces = [(split, names.index(name), box, image, group) for split, name, box, image, group in faces]
    return box_face_set(faces, names, folder, box_scale, test_fraction, seed, skip_missing, min_class_count,
                        split_from, dropped, "VOC", note)


# --- where the set is ----------------------------------------------------------------------------------------
def _find_dataset(root: Path) -> Path:
    if root.is_file():
        raise DataFormatError(root, f"not a Pascal VOC set: give the folder of its XMLs and images ({EXPECTED})")
    folder = find_wrapped(root, lambda f: bool(_xml_places(f))) if root.is_dir() else None
    if folder is None:
        raise DataFormatError(root, f"no Pascal VOC set found here or {BELOW}: {EXPECTED}")
    return folder


def _xml_places(folder: Path) -> list[tuple[Path, bool]]:
    """(place, walk it) for the places of a set's XMLs in `folder`: the folder itself (its own files), and its
    annotation and split folders at any depth."""
    places = [(folder, False)] if _has_xml(folder, walk=False) else []
    for sub in _subfolders(folder):
        if (sub.name.lower() in ANNOTATION_FOLDERS or split_of(sub.name)) and _has_xml(sub, walk=True):
            places.append((sub, True))
    return places


def _visible(name: str) -> bool:
    return not name.startswith(".") and name != "__MACOSX"


def _is_xml(name: str) -> bool:
    return name.lower().endswith(".xml") and _visible(name)


def _has_xml(folder: Path, walk: bool) -> bool:
    for _, dirnames, filenames in os.walk(folder):
        if any(_is_xml(n) for n in filenames):
            return True
        if not walk:
            return False
        dirnames[:] = [d for d in dirnames if _visible(d)]
    return False


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p.name))
    except OSError:
        return []


def _annotation_files(folder: Path) -> list[Path]:
    found = []
    for place, walk in _xml_places(folder):
        for dirpath, dirnames, filenames in os.walk(place):
            found += [Path(dirpath) / n for n in filenames if _is_xml(n)]
            if not walk:
                break
            dirnames[:] = sorted(d for d in dirnames if _visible(d))
    return sorted(set(found))


# --- splits ------------------------------------------------------------------------------------------------------
def _path_split(xml: Path, folder: Path) -> str | None:
    """The split of the first split-named folder between the dataset's folder and the XML (train/, Valid/ ...)."""
    return next((split_of(p) for p in xml.relative_to(folder).parts[:-1] if split_of(p)), None)


def _splits(folder: Path, xmls: list[Path]) -> tuple[dict[Path, str | None | bool], str]:
    """({xml: split, None (unsplit) or False (in no ImageSets list)}, how the splits were found)."""
    splits = {xml: _path_split(xml, folder) for xml in xmls}
    if any(splits.values()):
        present = sorted({s for s in splits.values() if s}, key=SPLIT_ORDER.get)
        return splits, "folders " + ", ".join(present)
    lists = _image_set_lists(folder)
    if not lists:
        return splits, "folders unsplit"
    for xml in xmls:
        ids = {xml.stem, _below_annotations(xml, folder)}
        splits[xml] = next((split for split, listed in lists if ids & listed), False)
    used = set(splits.values())  # the lists that gave annotations (VOC2012's test.txt names none)
    names = ", ".join(f"{name}.txt" for name in _list_names(folder)
                      if ("train" if name.lower() == "trainval" else SPLIT_FOLDERS[name.lower()]) in used)
    return splits, f"ImageSets/Main {names or 'lists (none names an annotation here)'}"


def _main_folder(folder: Path) -> Path | None:
    for sets in ("ImageSets", "imagesets"):
        if (folder / sets / "Main").is_dir():
            return folder / sets / "Main"
    return None


def _list_names(folder: Path) -> list[str]:
    """The split lists in ImageSets/Main (train, val, test, trainval in any case; not per-class lists)."""
    main = _main_folder(folder)
    if main is None:
        return []
    stems = sorted(p.stem for p in main.glob("*.txt") if p.is_file())
    return [s for s in stems if s.lower() in SPLIT_FOLDERS or s.lower() == "trainval"]


def _image_set_lists(folder: Path) -> list[tuple[str, set[str]]]:
    """[(split, ids)] in LIST_SPLITS order, trainval last as train."""
    main = _main_folder(folder)
    lists: dict[str, set[str]] = {}
    for stem in _list_names(folder):
        split = "trainval" if stem.lower() == "trainval" else SPLIT_FOLDERS[stem.lower()]
        ids = {line.split()[0].replace("\\", "/") for line in read_lines(main / f"{stem}.txt", "ImageSets list")
               if line.split()}
        lists.setdefault(split, set()).update(ids)
    ordered = [(s, lists[s]) for s in LIST_SPLITS if s in lists]
    return ordered + ([("train", lists["trainval"])] if "trainval" in lists else [])


def _below_annotations(xml: Path, folder: Path) -> str:
    """An id as CVAT / Datumaro write it for an XML in a subfolder: the path below Annotations/, no suffix."""
    parts = xml.relative_to(folder).with_suffix("").parts
    return "/".join(parts[1:] if len(parts) > 1 and parts[0].lower() in ANNOTATION_FOLDERS else parts)


# --- faces -------------------------------------------------------------------------------------------------------
def _faces(folder: Path, xmls: list[Path], splits: dict, skip_missing: bool):
    """([(split, class name, box (x0, y0, x1, y1) as fractions, image, group)], dropped counts)."""
    images = _ImageIndex()
    faces, dropped, found = [], Counter(), set()
    for xml in sorted(xmls, key=lambda x: (SPLIT_ORDER[splits[x] or None], x)):
        if splits[xml] is False:
            dropped[NOT_LISTED] += 1
            continue
        annotation = _read_annotation(xml)
        if annotation is None:  # another tool's XML among the annotations (metadata, a settings file)
            dropped[NOT_VOC] += 1
            continue
        if not annotation["objects"]:
            dropped[NO_OBJECT] += 1
            continue
        image = images.find(xml, folder, annotation["filename"], annotation["path"])
        if image is None:
            if skip_missing:
                dropped[MISSING_IMAGE] += 1
                continue
            given = f"{annotation['filename']!r}" if annotation["filename"] else "(no <filename>)"
            raise DataFormatError(xml, f"image {shortened(given, 80)} not found beside it, in an images folder, "
                                       f"nor by the XML's stem with an image suffix; {SKIP_MISSING_HINT}")
        found.add(image)
        size = annotation["size"] or picture_size(image, skip_missing, " for an XML without <size>")
        if size is None:
            dropped[UNREADABLE] += 1
            continue
        group = photo_group(image, folder)
        split = splits[xml]
        faces += [(split, name, box, image, group) for name, box in _boxes(xml, annotation, size)]
    stems = {xml.stem for xml in xmls}
    unlabelled = sum(1 for image in images.scope(folder, xmls) if image not in found and image.stem not in stems)
    if unlabelled:
        dropped[NO_ANNOTATION] += unlabelled
    return faces, dropped






def _boxes(xml: Path, annotation: dict, size) -> list[tuple[str, tuple[float, float, float, float]]]:
    """[(name, (x0, y0, x1, y1) as fractions of the picture)] of an annotation's objects, each box checked."""
    w, h = size
    where = "<size>" if annotation["size"] else "image"
    boxes = []
    for index, name, (xmin, ymin, xmax, ymax) in annotation["objects"]:
        what = f"object {index} ({shortened(name, 40)})"
        if xmax <= xmin or ymax <= ymin:
            raise DataFormatError(xml, f"{what}: expected xmin < xmax and ymin < ymax, got xmin {xmin:g} xmax "
                                       f"{xmax:g} ymin {ymin:g} ymax {ymax:g}")
        if min(xmin, ymin) < -PIXEL_TOLERANCE or xmax > w + PIXEL_TOLERANCE or ymax > h + PIXEL_TOLERANCE:
            raise DataFormatError(xml, f"{what}: box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) lies outside the "
                                       f"{w:g}x{h:g} picture ({where})")
        # VOC's pixels are numbered from 1: pixel xmin's left edge is at xmin - 1, pixel xmax's right edge at xmax
        # (a whole 48x48 picture is 1 1 48 48); a 0-based tool's box reads one pixel wider to the left and top
        box = (max((xmin - 1) / w, 0.0), max((ymin - 1) / h, 0.0), min(xmax / w, 1.0), min(ymax / h, 1.0))
        if box[2] <= box[0] or box[3] <= box[1]:  # a sliver along an edge, within the tolerance
            raise DataFormatError(xml, f"{what}: box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) lies outside the "
                                       f"{w:g}x{h:g} picture ({where})")
        boxes.append((name, box))
    return boxes


# --- one XML -----------------------------------------------------------------------------------------------------
def _read_annotation(xml: Path) -> dict | None:
    """{'filename', 'path', 'size': (w, h) or None, 'objects': [(index, name, (xmin, ymin, xmax, ymax))]}; None for
    well-formed XML that is not an <annotation> (skipped and counted; CVAT's own annotations.xml is an error)."""
    try:
        data = xml.read_bytes()
    except OSError as exc:
        raise DataFormatError(xml, f"cannot read the annotation ({exc.strerror or type(exc).__name__})") from None
    for declaration in (b"<!DOCTYPE", b"<!ENTITY"):
        at = data.find(declaration)
        if at >= 0:
            raise DataFormatError(xml, f"a {declaration[2:].decode()} declaration: a VOC annotation has none "
                                       f"(not read)", data.count(b"\n", 0, at) + 1)
    try:
        root = ElementTree.fromstring(data)  # bytes: expat reads the BOM and the declared encoding; CRLF is fine
    except ElementTree.ParseError as exc:
        line, column = exc.position
        reason = re.sub(r": line \d+, column \d+$", "", str(exc))
        raise DataFormatError(xml, f"not well-formed XML ({reason}, column {column + 1})", line) from None
    tag = root.tag.rsplit("}", 1)[-1]
    if tag != "annotation":
        if tag != "annotations":
            return None
        raise DataFormatError(xml, f"expected a Pascal VOC <annotation>, got <{tag}> (CVAT's annotations.xml is not "
                                   f"VOC: export the task as PASCAL VOC)")
    objects = []
    for index, element in enumerate(root.findall("object"), start=1):
        name = (element.findtext("name") or "").strip()
        if not name:
            raise DataFormatError(xml, f"object {index}: expected a <name> (the face's class), got none")
        box = element.find("bndbox")
        if box is None:
            raise DataFormatError(xml, f"object {index} ({shortened(name, 40)}): expected a <bndbox> with <xmin>, "
                                       f"<ymin>, <xmax>, <ymax>")
        values = tuple(_number(box.findtext(key), xml, f"object {index} ({shortened(name, 40)}): <{key}>")
                       for key in ("xmin", "ymin", "xmax", "ymax"))
        objects.append((index, name, values))
    size = tuple(_number(root.findtext(f"size/{key}"), xml, f"<size> <{key}>", missing=0.0)
                 for key in ("width", "height"))
    return {"filename": (root.findtext("filename") or "").strip(), "path": (root.findtext("path") or "").strip(),
            "size": size if min(size) > 0 else None, "objects": objects}


def _number(text, xml: Path, what: str, missing: float | None = None) -> float:
    text = (text or "").strip()
    if not text and missing is not None:
        return missing
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataFormatError(xml, f"{what}: expected a number, got {shortened(repr(text), 40) if text else 'none'}")
    return value


# --- the image of an XML -----------------------------------------------------------------------------------------
class _ImageIndex:
    """Image files by folder (each folder listed once, looked up by name, name in any case and stem in any case):
    an XML's image by <filename>, else by stem."""

    def __init__(self):
        self.listed: dict[Path, tuple[dict[str, Path], dict[str, Path], dict[str, Path]]] = {}
        self.places: dict[Path, list[Path]] = {}

    def _lookup(self, folder: Path):
        """(by name, by lower-case name, by lower-case stem) of a folder's images; the first sorted name wins."""
        if folder not in self.listed:
            try:
                with os.scandir(folder) as entries:
                    names = [e.name for e in entries if e.is_file() and _visible(e.name)]
            except OSError:
                names = []
            exact, lower, stems = {}, {}, {}
            for name in sorted(n for n in names if n.lower().endswith(IMAGE_SUFFIXES)):
                exact[name] = folder / name
                lower.setdefault(name.lower(), folder / name)
                stems.setdefault(name.rsplit(".", 1)[0].lower(), folder / name)
            self.listed[folder] = exact, lower, stems
        return self.listed[folder]

    def folders(self, xml: Path, dataset: Path) -> list[Path]:
        """Where an XML's image may be, nearest first: beside it; for each folder from the XML's up to the
        dataset's, the images folders beside an annotations folder (JPEGImages/sub/ for Annotations/sub/a.xml)
        and inside that folder; the folder itself."""
        if xml.parent in self.places:
            return self.places[xml.parent]
        found, here = [xml.parent], xml.parent
        while True:
            if here.name.lower() in ANNOTATION_FOLDERS:
                below = xml.parent.relative_to(here)
                for images in _image_folders(here.parent):
                    found += [images / below, images]
            found += [*_image_folders(here), here]
            if here == dataset or dataset not in here.parents:
                break
            here = here.parent
        self.places[xml.parent] = list(dict.fromkeys(found))
        return self.places[xml.parent]

    def find(self, xml: Path, dataset: Path, filename: str, given_path: str) -> Path | None:
        folders = self.folders(xml, dataset)
        relative = filename.replace("\\", "/").lstrip("/")
        name = relative.rsplit("/", 1)[-1]
        if name:
            for folder in folders:  # exactly as written: a name, or a path below a folder (images/a.jpg)
                image = folder / relative if "/" in relative else self._lookup(folder)[0].get(name)
                if image is not None and image.name.lower().endswith(IMAGE_SUFFIXES) and image.is_file():
                    return image
            for folder in folders:  # any case (labelled on Windows or macOS)
                if name.lower() in self._lookup(folder)[1]:
                    return self._lookup(folder)[1][name.lower()]
        stems = [xml.stem] + ([name.rsplit(".", 1)[0] if name.lower().endswith(IMAGE_SUFFIXES) else name]
                              if name else [])
        for stem in dict.fromkeys(s.lower() for s in stems):
            for folder in folders:
                if stem in self._lookup(folder)[2]:
                    return self._lookup(folder)[2][stem]
        if given_path:  # the labeller's own path: mostly another machine's, read only when it is here
            image = Path(given_path)
            if image.name.lower().endswith(IMAGE_SUFFIXES) and image.is_file():
                return image
        return None

    def scope(self, dataset: Path, xmls: list[Path]) -> list[Path]:
        """Every image in the folders the XMLs' images are looked for in (for the count of unlabelled ones)."""
        folders = dict.fromkeys(f for xml in xmls for f in self.folders(xml, dataset))
        return [image for folder in folders for image in self._lookup(folder)[0].values()]


def _image_folders(folder: Path) -> list[Path]:
    return [sub for sub in _subfolders(folder) if sub.name.lower() in IMAGE_FOLDERS]


# --- class names -------------------------------------------------------------------------------------------------
def _class_names(folder: Path, found: set[str]) -> tuple[list[str], str | None]:
    """(class names, a note or None): the sorted names, or a classes file's order with the names it lacks after."""
    for path in _names_files(folder):
        listed = list(dict.fromkeys(_names_in(path)))
        if not set(listed) & found:  # not this set's classes (LabelImg's stock predefined_classes.txt)
            continue
        extra = sorted(found - set(listed))
        note = None
        if extra:
            note = (f"{shown_below(path, folder)} does not list {shortened(', '.join(extra), 120)}: read after the "
                    f"classes it lists")
        return listed + extra, note
    return sorted(found), None


def _names_files(folder: Path) -> list[Path]:
    places = [folder, *(sub for sub in _subfolders(folder) if split_of(sub.name))]
    return [place / name for place in places for name in NAMES_FILES if (place / name).is_file()]


def _names_in(path: Path) -> list[str]:
    """One name a line (blank and # lines skipped); CVAT's labelmap.txt `name:color:parts:actions`, without its
    background."""
    names = []
    for line in read_lines(path, "class names file"):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if path.name == "labelmap.txt":
            text = text.split(":", 1)[0].strip()
            if text == "background":
                continue
        names.append(text)
    return names
