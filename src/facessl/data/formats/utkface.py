"""UTKFace (Zhang, Song & Qi, CVPR 2017) as distributed:

    UTKFace/25_0_1_20170116174525125.jpg.chip.jpg ...     the aligned and cropped faces (23,708)
    crop_part1/25_0_1_20170116174525125.jpg.chip.jpg      the crops of part1 only, named the same way
    part1/ part2/ part3/25_0_1_20170116174525125.jpg      the in-the-wild photos the crops were cut from
    landmark_list_part1.txt ...                           `<photo name> x1 y1 x2 y2 ... x68 y68` per line

File names, from the UTKFace page (susanqq.github.io/UTKFace, quoted in loaders' READMEs): the age (0-116),
the gender (0 male, 1 female), the race (0 White, 1 Black, 2 Asian, 3 Indian, 4 Others: Hispanic, Latino,
Middle Eastern ...), then when the photo was collected (yyyymmddHHMMSSFFF). The root holds those folders
(Kaggle's copy also has them in `utkface_aligned_cropped/`), or is one of them. The landmark lists (file
`landmark_list_partK.txt`; `landmarks_…` read too) sit beside the part folders. Their points are read as
pixels of the in-the-wild photos, as a loader that draws them on the part1/ photos does
(another draws them on crop_part1/; no source states the frame in words), so they are used for `wild` only.

Quirks of the release (loaders list and rename them): a few names lack the race
(`39_1_20170116174525125.jpg.chip.jpg`, `61_1_20170109142408075.jpg.chip.jpg`, …): skipped and counted,
meta['unrecognised_files'] naming the first few; two have a mangled extension but every label
(`24_0_1_20170116220224657 .jpg.chip.jpg`, `55_0_0_20170116232725357jpg.chip.jpg`): read.

Options: `target` "age" (labels 'target' (N,1) in years, meta['target_columns'] ['age']: task regression, MAE in
years), "gender" or "race" (labels 'class', meta['class_names']: task classification). The format names
`utkface-gender` and `utkface-race` read those targets with that task as their default; `utkface` with
`target=gender` is classification too (evaluate.suite sets it). `variant`: "aligned" (UTKFace/, the default when present),
"crop_part1", or "wild" (the part folders: each face is the square around its 68 points enlarged by a
quarter, as ckplus's, or the whole photo where no landmark line names it). No identity is given: a seeded
split (stratified for gender and race), 20 % test, by image, so the same person may be on both sides.

Evidence (read, not copied): jgabriellima/race_gender_recognition README.md (the page's naming
`[age]_[gender]_[race]_[date&time].jpg`, gender 0 male / 1 female, race 0-4 White, Black, Asian, Indian, Others;
23,708 aligned faces); Mafffia/Face-Recognization-Related utk.py (splits the name on `_` inside a try and prints
the names that fail: the race-less names exist); loaders found by the index that accept both `.jpg` and
`.jpg.chip.jpg`. All matched; nothing changed. Unconfirmed: the frame of the landmark lists (see above).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import age_or_class_labels, one_of, read_lines, unnested, with_dropped
from facessl.data.formats.imagefolder import walk_images
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError

GENDERS = ("male", "female")
RACES = ("White", "Black", "Asian", "Indian", "Others")
MAX_AGE = 116
TARGETS = ("age", "gender", "race")
# The three label fields and the collection time; whatever follows (the extension, mangled or not) is not read.
NAME_PATTERN = re.compile(r"(?P<age>\d+)_(?P<gender>\d+)_(?P<race>\d+)_\d{8,}(?!\d)")
CROP_FOLDERS = {"aligned": ("UTKFace", "utkface_aligned_cropped/UTKFace"),
                "crop_part1": ("crop_part1", "utkface_aligned_cropped/crop_part1")}
WILD_FOLDERS = ("part1", "part2", "part3")
VARIANTS = ("aligned", "crop_part1", "wild")
LANDMARK_LISTS = "landmark*_list_part*.txt"
LANDMARK_POINTS = 68
FACE_SCALE = 1.25  # the 68 points span brows to chin: a quarter more keeps the forehead and jaw (as ckplus)
SHOWN_UNRECOGNISED = 10
NOT_UTKFACE = "file name not in the UTKFace form"
EXAMPLE = "UTKFace/25_0_1_20170116174525125.jpg.chip.jpg"


def read_utkface(root, target: str = "age", variant: str | None = None, test_fraction: float = TEST_FRACTION,
                 seed: int = SPLIT_SEED) -> ImageSet:
    """UTKFace faces: labels 'target' (age) or 'class' (gender, race) and 'group' (the image); split train / test."""
    root = Path(root)
    target = one_of(target, TARGETS, "utkface", "target")
    variant, folders = _image_folders(root, None if variant is None else one_of(variant, VARIANTS, "utkface", "variant"))
    boxes = _landmark_boxes(folders) if variant == "wild" else {}
    images, values, unrecognised = [], [], []
    for folder in folders:
        for path in walk_images(folder):
            if "__MACOSX" in path.relative_to(folder).parts:
                continue
            labels = name_labels(path.name)
            if labels is None:
                unrecognised.append(path.name)
                continue
            box = boxes.get(path.name)
            images.append(BoxedImage.enlarged(path, box, FACE_SCALE) if box is not None else str(path))
            values.append(labels[target])
    if not images:
        raise DataFormatError(root, _nothing_found(unrecognised))
    meta = {"variant": variant, "target": target}
    if variant == "wild":
        meta["faces_from_landmarks"] = sum(isinstance(i, BoxedImage) for i in images)
    return _imageset(images, values, target, root, test_fraction, seed, meta, unrecognised)


def read_utkface_gender(root, variant: str | None = None, test_fraction: float = TEST_FRACTION,
                        seed: int = SPLIT_SEED) -> ImageSet:
    """UTKFace with the gender as the class (format `utkface-gender`, task classification)."""
    return read_utkface(root, "gender", variant, test_fraction, seed)


def read_utkface_race(root, variant: str | None = None, test_fraction: float = TEST_FRACTION,
                      seed: int = SPLIT_SEED) -> ImageSet:
    """UTKFace with the race as the class (format `utkface-race`, task classification)."""
    return read_utkface(root, "race", variant, test_fraction, seed)


def name_labels(name: str) -> dict | None:
    """{'age', 'gender', 'race'} of a UTKFace file name; None when it is not one (a field missing or out of range)."""
    match = NAME_PATTERN.match(name)
    if match is None:
        return None
    age, gender, race = int(match["age"]), int(match["gender"]), int(match["race"])
    if age > MAX_AGE or gender >= len(GENDERS) or race >= len(RACES):
        return None
    return {"age": age, "gender": gender, "race": race}


def _available(root: Path) -> dict[str, list[Path]]:
    """variant -> its image folders under the root, in the order of preference (aligned, crop_part1, wild)."""
    found = {}
    for variant, names in CROP_FOLDERS.items():
        folder = next((unnested(root / n) for n in names if (root / n).is_dir()), None)
        if folder is not None:
            found[variant] = [folder]
    parts = [unnested(root / n) for n in WILD_FOLDERS if (root / n).is_dir()]
    if parts:
        found["wild"] = parts
    return found


def _image_folders(root: Path, variant: str | None) -> tuple[str, list[Path]]:
    """(variant, folders to read): the one asked for, else the first present; a folder of UTKFace images given
    directly is read as it is (in-the-wild when its names are not `.chip.jpg`)."""
    if not root.is_dir():
        raise DataFormatError(root, f"UTKFace not found: expected {EXAMPLE} (or crop_part1/, part1/ ...) here")
    available = _available(root)
    if variant is not None:
        if variant not in available:
            where = ", ".join(f"{n}/" for n in (CROP_FOLDERS[variant] if variant in CROP_FOLDERS else WILD_FOLDERS))
            raise DataFormatError(root, f"UTKFace variant {variant!r} not found: expected {where} here "
                                        f"(found: {', '.join(available) or 'none'})")
        return variant, available[variant]
    if available:
        return next(iter(available.items()))
    names = [p.name for p in root.iterdir() if p.is_file() and name_labels(p.name) is not None]
    if names:
        return ("aligned" if any(".chip." in n for n in names) else "wild"), [root]
    raise DataFormatError(root, f"UTKFace not found: expected {EXAMPLE} (or crop_part1/, part1/ ...) here")


def _landmark_boxes(folders: list[Path]) -> dict[str, tuple]:
    """Photo name -> the box (x0, y0, x1, y1) around its 68 points, from the landmark lists beside the folders."""
    boxes = {}
    for folder in sorted({f.parent for f in folders}):
        for path in sorted(folder.glob(LANDMARK_LISTS)):
            for number, line in enumerate(read_lines(path, "UTKFace landmark list"), start=1):
                fields = line.split()
                if fields:
                    points = _points(fields, path, number)
                    boxes[fields[0]] = (*points.min(0), *points.max(0))
    return boxes


def _points(fields: list[str], path: Path, number: int) -> np.ndarray:
    if len(fields) != 1 + 2 * LANDMARK_POINTS:
        raise DataFormatError(path, f"expected a file name and {2 * LANDMARK_POINTS} coordinates "
                                    f"({LANDMARK_POINTS} x y points), got {len(fields)} fields", number)
    try:
        return np.array(fields[1:], dtype=np.float64).reshape(LANDMARK_POINTS, 2)
    except ValueError:
        bad = next(v for v in fields[1:] if not _is_number(v))
        raise DataFormatError(path, f"expected a coordinate, got {bad!r}", number) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _nothing_found(unrecognised: list[str]) -> str:
    if unrecognised:
        return (f"no UTKFace images found: {len(unrecognised)} image file(s) not named like "
                f"25_0_1_20170116174525125.jpg.chip.jpg (e.g. {unrecognised[0]})")
    return f"no UTKFace images found (expected {EXAMPLE})"


def _imageset(images, values, target, root, test_fraction, seed, meta, unrecognised) -> ImageSet:
    group = np.array([Path(str(i)).name for i in images])  # no person ids: each image is its own group
    labels, target_meta, strata = age_or_class_labels(values, group, target, GENDERS if target == "gender" else RACES)
    meta.update(target_meta)
    split = np.asarray(grouped_stratified_split(strata, group, test_fraction, seed))
    meta["split_from"] = (f"seeded ({seed}) {'stratified ' if target != 'age' else ''}split, {test_fraction:.0%} test, "
                          "by image: UTKFace has no identity labels, so the same person may be on both sides")
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    dropped = {NOT_UTKFACE: len(unrecognised)} if unrecognised else {}
    return with_dropped(ImageSet(images, labels, split, str(root), meta=meta), dropped)
