"""Landmark sets distributed as one text line per face.

MTFL (Zhang et al., ECCV 2014, the TCDCN data), as unpacked: `training.txt` / `testing.txt` with lines
`lfw_5590\\Aaron_Eckhart_0001.jpg 107.25 147.75 126.25 106.25 140.75 108.75 113.25 143.75 158.75 162.75 1 2 2 3`
(every line after the first starts with a space): the image path (Windows separators), x of the 5 points, then
y of the 5 points (left eye, right eye, nose, left and right mouth corner, image-left first, as MAFL), then
gender (1 male, 2 female), smile (1 yes, 2 no), glasses (1 yes, 2 no) and pose (1 left profile ... 3 frontal ...
5 right profile) codes (kept as labels 'attributes'). Images in `lfw_5590/`, `net_7876/` (training) and `AFLW/`
(testing), beside the lists; the lists are also found up to two folders below the path (`MTFL/` inside it).

WFLW (Wu et al., CVPR 2018), as unpacked: `WFLW_annotations/list_98pt_rect_attr_train_test/
list_98pt_rect_attr_train.txt` / `..._test.txt`, lines of 196 coordinates (x0 y0 ... x97 y97), the face box
(x_min y_min x_max y_max), 6 attribute flags (pose, expression, illumination, make-up, occlusion, blur) and
the image path under `WFLW_images/`. The photos are whole scenes: each face is the square crop around its
box enlarged by a fifth (image_decode.BoxedImage), its points moved into the crop. NME normalises by the outer
eye corners (60, 72), the WFLW convention. Also found inside a wrapper up to two folders below (`WFLW/
WFLW_annotations/...`). `subset=largepose` (expression, illumination, makeup, occlusion, blur) takes the test
split from `WFLW_annotations/list_98pt_test/list_98pt_test_<subset>.txt` (the same 207 fields; the test faces
whose flag is set), the per-subset NME of WFLW's tables. HRNet's converted lists are read when no release list
is there: `face_landmarks_wflw_train.csv` / `_test.csv` / `_test_<subset>.csv` (image_name, scale, center_w,
center_h, then x, y of the 98 points; images under `images/`), each face the square of side 200 * scale * 1.25
about the centre as HRNet crops it; these carry no attributes.

Evidence (read, not copied): MTFL: vyom1911/Facial-Landmark-Detection `MTFL/readme.txt` (format `#image path
#x1...x5,y1..y5 #gender #smile #wearing glasses #head pose`, point order, the four codes), `MTFL/training.txt`
(first line `lfw_5590\\Aaron_Eckhart_0001.jpg 107.250000 ...`, later lines with a leading space, backslashes)
and `MTFL/testing1.txt` (`AFLW/0001-image20056.jpg ...`, a renamed copy with forward slashes). WFLW:
jhb86253817/PIPNet `lib/preprocess.py` (process_wflw: landmarks = first 196 fields, x = [0::2], y = [1::2];
box = fields 196:200 as x_min y_min x_max y_max; attributes 200:206; image = last field under
`WFLW/WFLW_images/`; lists at `WFLW/WFLW_annotations/list_98pt_rect_attr_train_test/` and the six
`WFLW_annotations/list_98pt_test/list_98pt_test_{largepose,expression,illumination,makeup,occlusion,blur}.txt`
matched to test lines by first + last field); HRNet/HRNet-Facial-Landmark-Detection `README.md` (data/wflw/
face_landmarks_wflw_{train,test,test_<subset>}.csv + images/) and `lib/datasets/wflw.py` (columns 0 name,
1 scale, 2 center_w, 3 center_h, 4: points; scale *= 1.25; crop of 200 * scale). A public loader found by text
search (its repository not shown) reads the box of the subset lists at the same place (`line[-11:-7]`) as of the
train/test lists; the AM-Former README lists `WFLW/WFLW_annotations/` beside `face_landmarks_wflw_*.csv`.
FacePerceiver/FaRL `farl/datasets/wflw.py` reads the same CSVs (`face_landmarks_wflw_test_{subset}.csv`; first
line a header; name, scale, center_w, center_h, then 98 x, y) with the images at `WFLW_images/<name>`, so the
names are the release's paths (both `images/` and `WFLW_images/` beside the CSVs are looked in).
Unconfirmed: STAR's and ADNet's own converted lists (.tsv of crops) are not read.
"""
from __future__ import annotations

from pathlib import Path, PureWindowsPath

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import (BELOW, MissingImages, field_rows, find_wrapped, one_of, parse_number,
                                            with_dropped)
from facessl.data.formats.text import read_csv
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError

MTFL_LISTS = {"train": "training.txt", "test": "testing.txt"}
WFLW_LISTS = {"train": "list_98pt_rect_attr_train.txt", "test": "list_98pt_rect_attr_test.txt"}
WFLW_LIST_FOLDER = "WFLW_annotations/list_98pt_rect_attr_train_test"
WFLW_SUBSET_FOLDER = "list_98pt_test"  # beside list_98pt_rect_attr_train_test/ in WFLW_annotations/
WFLW_SUBSETS = ("all", "largepose", "expression", "illumination", "makeup", "occlusion", "blur")
WFLW_BOX_SCALE = 1.2  # WFLW's boxes are tight around the points: a fifth more keeps the face's outline in
HRNET_WFLW_CSV = "face_landmarks_wflw_{}.csv"  # train, test, test_largepose, ...
HRNET_CROP = 200.0 * 1.25  # HRNet: the crop side is 200 * scale, scale grown by 1.25 when read


def read_mtfl(root, skip_missing: bool = False) -> ImageSet:
    """MTFL faces: labels 'landmarks' (N,5,2) and 'attributes' (N,4) codes; split train / test."""
    root = Path(root)
    folder = root.parent if root.is_file() else find_wrapped(root, _holds_mtfl_list) or root
    lists = {s: folder / name for s, name in MTFL_LISTS.items() if (folder / name).is_file()}
    if not lists:
        raise DataFormatError(root, f"MTFL lists not found here or {BELOW} "
                                    f"(expected {' and '.join(MTFL_LISTS.values())})")
    missing = MissingImages(skip_missing)
    images, points, attributes, split = [], [], [], []
    for split_name, path in lists.items():
        for number, fields in field_rows(path, "MTFL list", 15, "path x1..x5 y1..y5 gender smile glasses pose"):
            values = [parse_number(v, path, number, "a number", float) for v in fields[1:]]
            image = folder.joinpath(*PureWindowsPath(fields[0]).parts)  # lfw_5590\Aaron_Eckhart_0001.jpg
            if not missing.ok(image, path, number):
                continue
            images.append(str(image))
            points.append(np.stack([values[0:5], values[5:10]], axis=1))
            attributes.append(values[10:14])
            split.append(split_name)
    if not images:
        raise DataFormatError(folder, "no faces listed")
    labels = {"landmarks": np.array(points, dtype=np.float64), "attributes": np.array(attributes, dtype=np.int64)}
    return with_dropped(ImageSet(images, labels, np.array(split), str(folder)), missing.dropped)


def _holds_mtfl_list(folder: Path) -> bool:
    return any((folder / name).is_file() for name in MTFL_LISTS.values())


def _wflw_lists_in(folder: Path) -> Path | None:
    """The folder of list_98pt_rect_attr_*.txt at or under `folder`, or None."""
    for candidate in (folder / WFLW_LIST_FOLDER, folder / "list_98pt_rect_attr_train_test", folder):
        if any((candidate / name).is_file() for name in WFLW_LISTS.values()):
            return candidate
    return None


def _hrnet_csv_in(folder: Path) -> bool:
    return (folder / HRNET_WFLW_CSV.format("train")).is_file() or (folder / HRNET_WFLW_CSV.format("test")).is_file()


def read_wflw(root, skip_missing: bool = False, subset: str = "all") -> ImageSet:
    """WFLW faces as box crops: labels 'landmarks' (N,98,2) in crop pixels and 'attributes' (N,6); split train / test.
    subset='largepose' (expression, illumination, makeup, occlusion, blur) tests on that WFLW test subset only."""
    root = Path(root)
    subset = one_of(subset, WFLW_SUBSETS, "wflw", "subset")
    list_folder = _wflw_lists_in(root) or _wflw_lists_in(root.parent / WFLW_LIST_FOLDER)
    if list_folder is None:  # a wrapper (WFLW/WFLW_annotations/...), or HRNet's CSV lists
        wrapped = find_wrapped(root, lambda f: _wflw_lists_in(f) is not None or _hrnet_csv_in(f))
        if wrapped is not None and _wflw_lists_in(wrapped) is None:
            return _read_wflw_hrnet(wrapped, skip_missing, subset)
        list_folder = _wflw_lists_in(wrapped) if wrapped is not None else None
    if list_folder is None:
        raise DataFormatError(root, f"WFLW lists not found here or {BELOW} (expected {WFLW_LIST_FOLDER}/"
                                    f"{WFLW_LISTS['train']}, or HRNet's {HRNET_WFLW_CSV.format('train')})")
    images_root = next((b / "WFLW_images" for b in (root, root.parent, list_folder.parent.parent, list_folder.parent)
                        if (b / "WFLW_images").is_dir()), root)
    lists = {split: list_folder / name for split, name in WFLW_LISTS.items()}
    if subset != "all":
        lists["test"] = list_folder.parent / WFLW_SUBSET_FOLDER / f"list_98pt_test_{subset}.txt"
        if not lists["test"].is_file():
            raise DataFormatError(lists["test"], f"WFLW's {subset} test list not found (WFLW_annotations/"
                                                 f"{WFLW_SUBSET_FOLDER}/ is unpacked from WFLW_annotations.tar.gz)")
    missing = MissingImages(skip_missing)
    images, points, attributes, split = [], [], [], []
    for split_name, path in lists.items():
        if not path.is_file():
            continue
        for number, fields in field_rows(path, "WFLW list", 207, "196 coordinates, 4 box numbers, 6 attributes, path"):
            values = np.array([parse_number(v, path, number, "a number", float) for v in fields[:206]])
            image = images_root / fields[206]
            if not missing.ok(image, path, number):
                continue
            x0, y0, x1, y1 = values[196:200]
            if x1 <= x0 or y1 <= y0:
                raise DataFormatError(path, f"expected a face box x_min < x_max, y_min < y_max, got {values[196:200]}", number)
            face = BoxedImage.enlarged(image, (x0, y0, x1, y1), WFLW_BOX_SCALE)
            left, top, _, _ = face.square()
            images.append(face)
            points.append(values[:196].reshape(98, 2) - [left, top])
            attributes.append(values[200:206])
            split.append(split_name)
    if not images:
        raise DataFormatError(list_folder, "no faces listed")
    labels = {"landmarks": np.array(points), "attributes": np.array(attributes, dtype=np.int64)}
    meta = {"subset": subset, "split_from": f"{lists['train'].name} / {lists['test'].name}"}
    return with_dropped(ImageSet(images, labels, np.array(split), str(list_folder), meta=meta), missing.dropped)


def _read_wflw_hrnet(folder: Path, skip_missing: bool, subset: str) -> ImageSet:
    """HRNet's WFLW lists: image_name, scale, center_w, center_h, then x, y of the 98 points; the crop is the
    square of side 200 * scale * 1.25 about the centre, as HRNet's lib/datasets/wflw.py crops."""
    test_name = HRNET_WFLW_CSV.format("test" if subset == "all" else f"test_{subset}")
    lists = {"train": folder / HRNET_WFLW_CSV.format("train"), "test": folder / test_name}
    if subset != "all" and not lists["test"].is_file():
        raise DataFormatError(lists["test"], f"HRNet's WFLW {subset} test list not found")
    images_root = next((b for b in (folder / "images", folder / "WFLW_images", folder.parent / "WFLW_images")
                        if b.is_dir()), folder)
    missing = MissingImages(skip_missing)
    images, points, split = [], [], []
    for split_name, path in lists.items():
        if not path.is_file():
            continue
        header, rows = read_csv(path, "HRNet WFLW list")
        if len(header) != 4 + 196:
            raise DataFormatError(path, f"expected 200 columns (image_name, scale, center_w, center_h, x and y of "
                                        f"98 points), the header has {len(header)}", 1)
        for number, fields in rows:
            scale, cx, cy, *coords = (parse_number(v, path, number, "a number", float) for v in fields[1:])
            if not scale > 0:
                raise DataFormatError(path, f"expected a scale > 0, got {fields[1]!r}", number)
            image = images_root / fields[0]
            if not missing.ok(image, path, number):
                continue
            half = HRNET_CROP * scale / 2
            face = BoxedImage.enlarged(image, (cx - half, cy - half, cx + half, cy + half), 1.0)
            left, top, _, _ = face.square()
            images.append(face)
            points.append(np.reshape(coords, (98, 2)) - [left, top])
            split.append(split_name)
    if not images:
        raise DataFormatError(folder, "no faces listed in HRNet's WFLW lists")
    meta = {"subset": subset, "split_from": f"HRNet's {lists['train'].name} / {lists['test'].name}"}
    return with_dropped(ImageSet(images, {"landmarks": np.array(points)}, np.array(split), str(folder), meta=meta),
                        missing.dropped)
