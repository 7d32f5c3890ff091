"""Face sets read from boxes (formats/yolo.py and other detection-format readers): each labelled box one face, the
square crop around it grown by box_scale (an image_decode.BoxedImage), a box that frames the whole picture the picture
itself (a set of face crops is not grown into black borders); rare classes left out as csv: and imagefolder: do.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import case_only_meta, grouped_stratified_split, leave_out_rare_classes
from facessl.data.formats.imagefiles import SKIP_MISSING_HINT, fraction_option, positive_number, with_dropped
from facessl.data.image_decode import BoxedImage, decode_errors, upright_size
from facessl.errors import DataFormatError

BOX_SCALE = 1.2  # the box and a fifth more, as WFLW's and COFW's annotated boxes: tight ones lose the face's outline
WHOLE_IMAGE = 0.98  # a box this wide and high frames the whole picture: the image is already a face crop
UNREADABLE = "image whose size cannot be read"
ROBOFLOW_COPY = re.compile(r"\.rf\.[0-9a-fA-F]{8,}")  # a_jpg.rf.3f2a....jpg: one of a photo's exported copies


def box_options(reader: str, box_scale, test_fraction) -> tuple[float, float]:
    """The two numeric options every box reader takes, checked before any file is read."""
    return (positive_number(box_scale, reader, "box_scale", "1.2: the box and a fifth more"),
            fraction_option(test_fraction, reader))


def shown_below(path: Path, folder: Path) -> str:
    """path below the dataset's folder, as a message or a group names it; the whole path when it lies outside."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:  # a list, <path> or file_name naming an image outside the dataset's folder
        return path.as_posix()


def photo_group(image: Path, folder: Path) -> str:
    """The group of an image's faces: its path below the folder, Roboflow's `.rf.<hash>` removed, so that every face
    of a photo and every exported copy of it stay on one side of a seeded split."""
    return ROBOFLOW_COPY.sub("", shown_below(image, folder))


def box_face_set(faces, names, folder, box_scale, test_fraction, seed, skip_missing, min_class_count, split_from,
                 dropped, box_source: str, note: str | None = None) -> ImageSet:
    """A box reader's ImageSet: classes of fewer than min_class_count faces left out, then face_set; note: what the
    reader had to assume (printed by inspect and eval)."""
    faces, names, meta = measurable_classes(faces, names, min_class_count, dropped)
    if note:
        meta["note"] = note
    return face_set(faces, names, folder, box_scale, test_fraction, seed, split_from, meta, dropped, skip_missing,
                    box_source)


def measurable_classes(faces, names, min_class_count, dropped):
    """(faces, names, meta) without the classes of fewer than min_class_count faces (their ids renumbered over the
    names kept); the meta names them, and names that differ only in case."""
    (faces,), rare, left_out = leave_out_rare_classes([names[f[1]] for f in faces], min_class_count, faces)
    meta = {}
    if rare:
        kept = [n for n in names if n not in rare]
        faces = [(f[0], kept.index(names[f[1]]), *f[2:]) for f in faces]
        names, meta["left_out_classes"] = kept, rare
        dropped.update(left_out)
    meta.update(case_only_meta(names))
    return faces, names, meta


# --- faces -----------------------------------------------------------------------------------------------------
def face_set(faces, names, folder, box_scale, test_fraction, seed, split_from, extra_meta, dropped, skip_missing,
             box_source: str):
    """The ImageSet of labelled boxes: faces are (split or None, class id, box (x0, y0, x1, y1) as fractions of the
    picture as shown, image path, group); labels 'class' and 'group'; the given splits (val the test split when there
    is no test), else a seeded split stratified by class and grouped by photo."""
    sizes, images, keep = {}, [], []
    for row, (_, _, box, image, _) in enumerate(faces):
        face = face_crop(image, box, box_scale, sizes, skip_missing)
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
    split = _given_splits(named)
    if split is not None and "test" not in named:
        split_from += " (no test split: val is the test split)"
    if split is None:
        split = np.asarray(grouped_stratified_split(classes, groups, test_fraction, seed))
        split_from = (f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by photo "
                      f"(read from {split_from})")
    meta = {"class_names": list(names), "split_from": split_from,
            "box": f"{box_source} box grown by {box_scale:g} (square); whole-picture boxes read whole"}
    meta.update(extra_meta)
    result = ImageSet(images, {"class": classes, "group": groups}, split, str(folder), meta=meta)
    return with_dropped(result, {k: v for k, v in dropped.items() if v})


def _given_splits(named) -> np.ndarray | None:
    """The folders' splits (val the test split when there is no test), or None when there is no train split
    beside a test or val one (a seeded split is made instead)."""
    present = set(named)
    if "train" not in present or not present & {"test", "val"} or None in present:
        return None
    val_is = "val" if "test" in present else "test"
    return np.array([val_is if s == "val" else s for s in named])


def face_crop(image: Path, box, box_scale: float, sizes: dict, skip_missing: bool):
    """The BoxedImage of one face (its box in the upright picture's pixels, grown), the path itself for a
    whole-picture box, or None when the image's size cannot be read and skip_missing is set."""
    x0, y0, x1, y1 = box
    if x1 - x0 >= WHOLE_IMAGE and y1 - y0 >= WHOLE_IMAGE:
        return str(image)
    if image not in sizes:
        sizes[image] = picture_size(image, skip_missing)
    if sizes[image] is None:
        return None
    w, h = sizes[image]
    return BoxedImage.enlarged(image, (x0 * w, y0 * h, x1 * w, y1 * h), box_scale)


def picture_size(image: Path, skip_missing: bool, why: str = ""):
    """(width, height) of the picture as shown (EXIF applied: boxes are fractions of it), from its header; None when
    it cannot be read and skip_missing is set. why: what needed it, for the error."""
    from PIL import Image

    try:
        with Image.open(image) as im:
            return upright_size(im)
    except decode_errors() as exc:
        if skip_missing:
            return None
        raise DataFormatError(image, f"cannot read the image's size ({type(exc).__name__}){why}; "
                                     f"{SKIP_MISSING_HINT}") from None
