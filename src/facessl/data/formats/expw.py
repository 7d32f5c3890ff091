"""ExpW, the Expression in-the-Wild set (Zhang et al., 2018), as distributed: `label/label.lst` and the
photos in `image/origin/` (the archive unpacks to `origin/`; found beside or under the list's folder). The list
is found here or up to two folders below (ROOT/ExpW/data/label/label.lst given ROOT/ExpW).

label.lst lines: `image_name face_id_in_image face_box_top face_box_left face_box_right face_box_bottom
face_box_cofidence expression_label`, labels 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise,
6 neutral. A photo may hold several faces (one line each); each is read as the square crop around its
box (image_decode.BoxedImage). ExpW names no split: a seeded split stratified by expression, grouped by
photo (the faces of one photo stay on one side). Labels are converted to the internal expression order
(task `expression`, as RAF-DB and FER-2013).

The photos come as a split 7-Zip archive (origin.7z.001 ...); unpacked with the archive's name as a folder they
lie in `image/origin.7z/origin/`. Of the usual places (image/origin/, origin/, image/origin.7z/origin/,
origin.7z/origin/, image/origin/origin/, image/, images/, and those one folder up) the first that holds the
list's first photo is used.

Evidence (read, not copied): the field names above and the 0-6 codes as public loaders quote them (found by
text search; the search tool does not show their repository names): one keeps `{0: "Angry", 1: "Disgust", 2: "Fear", 3: "Happy", 4: "Sad", 5: "Surprise", 6: "Neutral"}` and a row
`image_name face_id top left right bottom confidence label_id`; a visualiser draws the box with `left`, `top`,
`right - left`, `bottom - top` (top/left/right/bottom order confirmed); paths used are `ExpW/data/label/label.lst`
with `ExpW/data/image/origin/`, `ExpW/label/label.lst` with `ExpW/image/origin`, and
`ExpW/data/image/origin.7z/origin` (the 7-Zip folder name kept). Unconfirmed: the exact number of lines
(91,793 faces is the paper's count) and whether any released line has other than 8 fields.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import BELOW, MissingImages, field_rows, find_wrapped, parse_number, with_dropped
from facessl.data.image_decode import BoxedImage
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError

EXPW_ORDER = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
LIST_PLACES = ("label/label.lst", "label.lst")
IMAGE_PLACES = ("image/origin", "origin", "image/origin.7z/origin", "origin.7z/origin", "image/origin/origin",
                "image", "images", "../image/origin", "../origin")  # origin.7z.001 ... unpacked as 7-Zip names it


def _list_in(folder: Path) -> Path | None:
    return next((folder / p for p in LIST_PLACES if (folder / p).is_file()), None)


def image_folder(list_path: Path, first_image: str | None) -> Path:
    """The photo folder: of the usual places beside or above label/, the first holding the list's first photo
    (else the first that exists, else the list's folder)."""
    bases = [list_path.parent, list_path.parent.parent]
    found = [b / p for b in bases for p in IMAGE_PLACES if (b / p).is_dir()]
    if first_image is not None:
        holding = next((f for f in found if (f / first_image).is_file()), None)
        if holding is not None:
            return holding
    return found[0] if found else list_path.parent


def read_expw(root, skip_missing: bool = False, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """ExpW faces: labels 'expression' (internal order) and 'group' (the photo); split train / test."""
    root = Path(root)
    if root.is_file():
        list_path = root
    else:
        folder = find_wrapped(root, lambda f: _list_in(f) is not None)
        list_path = None if folder is None else _list_in(folder)
    if list_path is None:
        raise DataFormatError(root, f"ExpW label list not found here or {BELOW} (looked for {', '.join(LIST_PLACES)})")
    rows = list(field_rows(list_path, "ExpW label list", 8, "image_name face_id top left right bottom confidence label"))
    images_root = image_folder(list_path, rows[0][1][0] if rows else None)
    to_internal = [EXPRESSIONS.index(name) for name in EXPW_ORDER]
    missing = MissingImages(skip_missing)
    images, expression, photo = [], [], []
    for number, fields in rows:
        top, left, right, bottom = (parse_number(v, list_path, number, "a face box number", float) for v in fields[2:6])
        label = parse_number(fields[7], list_path, number, "an expression label 0..6", int)
        if not 0 <= label <= 6:
            raise DataFormatError(list_path, f"expected an expression label 0..6, got {label}", number)
        if right <= left or bottom <= top:
            raise DataFormatError(list_path, f"expected a face box with left < right and top < bottom, got "
                                             f"{left:g}..{right:g} x {top:g}..{bottom:g}", number)
        image = images_root / fields[0]
        if not missing.ok(image, list_path, number):
            continue
        images.append(BoxedImage(image, (left, top, right, bottom)))
        expression.append(to_internal[label])
        photo.append(fields[0])
    if not images:
        raise DataFormatError(list_path, "no faces listed")
    expression = np.array(expression, dtype=np.int64)
    photo = np.array(photo)
    split = grouped_stratified_split(expression, photo, test_fraction, seed)
    meta = {"split_from": f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by photo"}
    result = ImageSet(images, {"expression": expression, "group": photo}, np.asarray(split), str(list_path), meta=meta)
    return with_dropped(result, missing.dropped)
