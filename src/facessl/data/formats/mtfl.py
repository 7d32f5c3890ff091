"""Landmark sets distributed as one text line per face.

MTFL (Zhang et al., ECCV 2014, the TCDCN data), as unpacked: `training.txt` / `testing.txt` with lines
`lfw_5590\\Aaron_Eckhart_0001.jpg 107.25 147.75 126.25 106.25 143.75 108.75 113.75 143.25 158.75 157.25 1 2 2 3`:
the image path (Windows separators), x of the 5 points, then y of the 5 points (left eye, right eye, nose,
left and right mouth corner, image-left first, as MAFL), then gender, smile, glasses and pose codes (kept as
labels 'attributes'). Images in `lfw_5590/`, `net_7876/` (training) and `AFLW/` (testing), beside the lists.

WFLW (Wu et al., CVPR 2018), as unpacked: `WFLW_annotations/list_98pt_rect_attr_train_test/
list_98pt_rect_attr_train.txt` / `..._test.txt`, lines of 196 coordinates (x0 y0 ... x97 y97), the face box
(x_min y_min x_max y_max), 6 attribute flags (pose, expression, illumination, make-up, occlusion, blur) and
the image path under `WFLW_images/`. The photos are whole scenes: each face is the square crop around its
box enlarged by a fifth (image_decode.BoxedImage), its points moved into the crop. NME normalises by the outer
eye corners (60, 72), the WFLW convention.
"""
from __future__ import annotations

from pathlib import Path, PureWindowsPath

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import MissingImages, field_rows, parse_number, with_dropped
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError

MTFL_LISTS = {"train": "training.txt", "test": "testing.txt"}
WFLW_LISTS = {"train": "list_98pt_rect_attr_train.txt", "test": "list_98pt_rect_attr_test.txt"}
WFLW_LIST_FOLDER = "WFLW_annotations/list_98pt_rect_attr_train_test"
WFLW_BOX_SCALE = 1.2  # WFLW's boxes are tight around the points: a fifth more keeps the face's outline in


def read_mtfl(root, skip_missing: bool = False) -> ImageSet:
    """MTFL faces: labels 'landmarks' (N,5,2) and 'attributes' (N,4) codes; split train / test."""
    root = Path(root)
    folder = root.parent if root.is_file() else root
    lists = {s: folder / name for s, name in MTFL_LISTS.items() if (folder / name).is_file()}
    if not lists:
        raise DataFormatError(root, f"MTFL lists not found (expected {' and '.join(MTFL_LISTS.values())})")
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


def read_wflw(root, skip_missing: bool = False) -> ImageSet:
    """WFLW faces as box crops: labels 'landmarks' (N,98,2) in crop pixels and 'attributes' (N,6); split train / test."""
    root = Path(root)
    list_folder = next((f for f in (root / WFLW_LIST_FOLDER, root, root.parent / WFLW_LIST_FOLDER)
                        if any((f / name).is_file() for name in WFLW_LISTS.values())), None)
    if list_folder is None:
        raise DataFormatError(root, f"WFLW lists not found (expected {WFLW_LIST_FOLDER}/{WFLW_LISTS['train']})")
    images_root = next((b / "WFLW_images" for b in (root, root.parent, list_folder.parent.parent)
                        if (b / "WFLW_images").is_dir()), root)
    missing = MissingImages(skip_missing)
    images, points, attributes, split = [], [], [], []
    for split_name, name in WFLW_LISTS.items():
        path = list_folder / name
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
    return with_dropped(ImageSet(images, labels, np.array(split), str(list_folder)), missing.dropped)
