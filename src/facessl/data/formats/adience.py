"""Adience, the OUI-Adience faces (Eidinger, Enbar & Hassner, IEEE TIFS 2014), as distributed
(talhassner.github.io/home/projects/Adience/Adience-data.html):

    aligned.tar.gz -> aligned/<user_id>/landmark_aligned_face.<face_id>.<original_image>   in-plane aligned faces
    faces.tar.gz   -> faces/<user_id>/coarse_tilt_aligned_face.<face_id>.<original_image>  the coarser crops
    fold_0_data.txt ... fold_4_data.txt                 the 5 subject-exclusive folds (every face with a label)
    fold_frontal_0_data.txt ... fold_frontal_4_data.txt the same folds, frontal faces only

Fold files: tab-separated, header `user_id original_image face_id age gender x y dx dy tilt_ang
fiducial_yaw_angle fiducial_score` (the dataset's readme: user_id is the Flickr album's folder, the box and
angles are in the original photo and can be ignored), e.g. `30601258@N03<TAB>10424815813_e94629b1ec_o.jpg<TAB>2
<TAB>(25, 32)<TAB>m<TAB>301 ...`. Gender `m`, `f`, `u` (unknown: the babies) or empty; age one of the 8 groups
`(0, 2) (4, 6) (8, 12) (15, 20) (25, 32) (38, 43) (48, 53) (60, 100)` (the paper's 0-2 ... 60+), `None`, or a
stray value: `(25, 23)` (a typo of (25, 32), Levi & Hassner's note), ranges off the grid `(8, 23) (27, 32)
(38, 42) (38, 48)`, single years `2 3 13 22 23 29 32 34 35 36 42 45 46 55 56 57 58`.

Stray ages (`stray_ages="map"`, the default) go to a group, as loaders do: a single year to the group holding
it, else to the nearer group (3 and 35 lie halfway: the younger, as hailo_model_zoo's bounds 3, 7, 13.5,
22.5, 35, 45.5, 56.5); a range to the group of its first year, which puts (27, 32) in 25-32, (38, 42) and
(38, 48) in 38-43, (8, 23) in 8-12 as the loaders' tables do. `stray_ages="drop"` keeps only the ages written
as one of the 8 groups, as Levi & Hassner's per-fold lists (their script keeps an age only when it is one of
the 8 strings). meta['stray_ages'] counts each stray value. Rows dropped and counted in `dropped`: age None
or empty (age task), gender u or empty (gender task), and images the fold files name but the folder lacks
(`missing_image`; `skip_missing=False` makes that an error).

Layouts: the fold files in the root (the archives unpacked beside them, as OpenCV's loader expects), in
`folds/`, in one subfolder (Kaggle's AdienceBenchmarkGenderAndAgeClassification/, nested twice or not), or in the
parent of a root that is the image folder itself; the image folder beside them or one level down.
Options: `target` "age" (default; format `adience`) or "gender" (format `adience-gender`), labels 'class' with
meta['class_names'] ("0-2" ... "60-100", ordered; or male, female); `variant` "aligned" (default when present) or
"faces"; `frontal` true reads the fold_frontal_* files; `fold` 0-4.

Protocol: 5-fold cross-validation over the release's folds, subject-exclusive (an album's faces are in one fold;
labels 'subject' = user_id and 'fold'). The classification task fits one train/test split, so a read holds
one: fold `fold` (default 0) is the test split, the other four train; the protocol's figure is the mean of the
five reads fold=0..4 (meta['split_from'] says which).

Checked against: GilLevi/AgeGenderDeepLearning `Folds/original_txt_files/fold_0_data.txt` (header, tabs, ages as
written, `u` for babies, the (25, 23) rows) and `DataPreparationCode/create_train_val_txt_files.py` (image path
`aligned/<user_id>/landmark_aligned_face.<face_id>.<original_image>`; fold k tests, the other four train; age and
gender lists keep only the 8 groups and m / f), opencv/opencv_contrib `modules/datasets/src/fr_adience.cpp` and
`doc/fr_adience.rst` (fold and fold_frontal files beside the unpacked archive; the 5 train/test splits),
cmanning00/Age-and-Gender-Prediction README.md (the readme's columns, faces.tar.gz),
hailo-ai/hailo_model_zoo `hailo_model_zoo/core/eval/age_gender_evaluation.py` (years to the 8 groups), and
public loaders' stray-age tables and Kaggle layouts (`AdienceBenchmarkGenderAndAgeClassification/faces/...`).

Evidence (read, not copied), beyond the sources above: opencv/opencv_contrib modules/datasets/doc/fr_adience.rst
(again: the fold and fold_frontal files placed in the folder the archive is unpacked to);
GilLevi/AgeGenderDeepLearning `Folds/train_val_txt_files_per_fold/test_fold_is_0/age_test.txt` (lines
`62501130@N02/landmark_aligned_face.97.11298578273_346c26b6c2_o.jpg 0`: path and class, space-separated;
age_, gender_ {train, val, test, train_subset}.txt per fold) and `DataPreparationCode/create_train_val_txt_files.py`
(age class = index into the 8 groups, gender m 0 / f 1; test list = fold K's faces; train/val = a random carve of
the other four folds that also drops one face; its DATA_DIR `AdienceFaces/DATA/aligned` beside
`AdienceFaces/folds/`); marcusangeloni/facialparts_age src/preprocessing/README.md (consumes
`folds/train_val_txt_files_per_fold/test_fold_is_K/age_train.txt`). Those per-fold lists, a common way the
benchmark is consumed, were not read: they now are when no fold_K_data.txt files are found (the fold files win
when both are there). Found as `train_val_txt_files_per_fold/` in the root, in Folds/ or folds/ below it (or
beside a root that is aligned/ or faces/), or the root itself; the images as for the fold files. Each face is in
exactly one `test_fold_is_K/<target>_test.txt`, so the five test lists give each face its fold (labels
'fold', 'subject' = the album, 'class'): fold `fold` tests, the other four train, as with the fold files under
stray_ages="drop"; Levi's validation carve is not reproduced (meta['lists'], meta['split_from'] say so).
frontal=true has no lists. Tests: tests/test_formats_layout_audit4.py.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import MissingImages, one_of, read_lines, unnested, with_dropped, yes_no
from facessl.errors import DataFormatError, FacesslError

AGE_GROUPS = ("0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100")
GROUP_RANGES = ((0, 2), (4, 6), (8, 12), (15, 20), (25, 32), (38, 43), (48, 53), (60, 100))
# Ranges read as written groups: the 8, the paper's name of 8-12 and the release's typo of 25-32.
WRITTEN_GROUPS = {**{r: i for i, r in enumerate(GROUP_RANGES)}, (8, 13): 2, (25, 23): 4}
GENDERS = ("male", "female")
GENDER_CODES = {"m": 0, "f": 1}
UNKNOWN_GENDERS = ("u", "", "none")
TARGETS = ("age", "gender")
STRAY_AGES = ("map", "drop")
VARIANTS = {"aligned": "landmark_aligned_face", "faces": "coarse_tilt_aligned_face"}  # folder -> file prefix
COLUMNS = ("user_id", "original_image", "face_id", "age", "gender")
FOLDS = 5
LIST_FOLDER = "train_val_txt_files_per_fold"  # Levi & Hassner's per-fold lists
RANGE = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")
DROPPED_AGE = "age None or empty"
DROPPED_STRAY = "age not one of the 8 groups (stray_ages=drop)"
DROPPED_GENDER = "gender u or empty"


def read_adience(root, target: str = "age", variant: str | None = None, frontal=False, fold=0,
                 stray_ages: str = "map", skip_missing=True) -> ImageSet:
    """Adience faces: labels 'class' (age group or gender), 'subject' (user_id), 'fold' (0-4); split: fold
    `fold` is test, the other four train."""
    root = Path(root)
    target = one_of(target, TARGETS, "adience", "target")
    stray_ages = one_of(stray_ages, STRAY_AGES, "adience", "stray_ages")
    frontal, test_fold = yes_no(frontal, "adience", "frontal"), _fold(fold)
    if not root.is_dir():
        raise DataFormatError(root, "Adience not found: expected fold_0_data.txt ... fold_4_data.txt and aligned/ here")
    try:
        fold_folder = _fold_folder(root, frontal)
    except DataFormatError:
        lists = None if frontal else _list_folder(root)
        if lists is None:
            raise
        return _read_lists(root, lists, target, variant, test_fold, skip_missing)
    variant, image_folder = _image_folder(root, fold_folder, variant)
    missing = MissingImages(yes_no(skip_missing, "adience", "skip_missing"))
    dropped, strays = Counter(), Counter()
    images, classes, subjects, folds = [], [], [], []
    for k, path in enumerate(_fold_paths(fold_folder, frontal)):
        for number, user, original, face, age, gender in fold_rows(path):
            value = _label(target, age, gender, stray_ages, path, number, dropped, strays)
            if value is None:
                continue
            image = image_folder / user / f"{VARIANTS[variant]}.{face}.{original}"
            if not missing.ok(image, path, number):
                continue
            images.append(str(image))
            classes.append(value)
            subjects.append(user)
            folds.append(k)
    dropped.update(missing.dropped)
    if not images:
        raise DataFormatError(fold_folder, _nothing_read(missing, image_folder, variant))
    meta = {"class_names": list(AGE_GROUPS if target == "age" else GENDERS), "target": target, "variant": variant,
            "frontal": frontal, "fold": test_fold, "stray_ages": dict(strays)}
    return _imageset(images, classes, subjects, folds, test_fold, fold_folder, frontal, meta, dropped)


def _list_folder(root: Path) -> Path | None:
    """Levi & Hassner's per-fold lists (train_val_txt_files_per_fold/test_fold_is_0/ ...): the root itself, or
    that folder in the root, in Folds/ or folds/ below it, or beside a root that is aligned/ or faces/."""
    bases = [root, *_subfolders(root)] + ([root.parent] if root.name in VARIANTS else [])
    candidates = [root] + [b / LIST_FOLDER for b in bases]
    candidates += [b / n / LIST_FOLDER for b in bases for n in ("Folds", "folds")]
    return next((c for c in candidates if (c / "test_fold_is_0").is_dir()), None)


def _read_lists(root: Path, lists: Path, target: str, variant, test_fold: int, skip_missing) -> ImageSet:
    """The faces of Levi & Hassner's per-fold lists. Each face is in exactly one test_fold_is_K/<target>_test.txt
    (K its fold in the release), so the five test lists give every face its fold: fold `fold` tests, the rest
    train (their train/val carve of the other four folds, which also leaves one face out, is not reproduced)."""
    variant, image_folder = _image_folder(root, lists.parent, variant)
    missing = MissingImages(yes_no(skip_missing, "adience", "skip_missing"))
    n_classes = len(AGE_GROUPS if target == "age" else GENDERS)
    images, classes, subjects, folds = [], [], [], []
    for k in range(FOLDS):
        path = lists / f"test_fold_is_{k}" / f"{target}_test.txt"
        if not path.is_file():
            raise DataFormatError(path, f"Adience per-fold list not found: expected test_fold_is_0/ ... "
                                        f"test_fold_is_{FOLDS - 1}/ each holding {target}_test.txt")
        for number, user, face, original, value in list_rows(path, n_classes):
            image = image_folder / user / f"{VARIANTS[variant]}.{face}.{original}"
            if missing.ok(image, path, number):
                images.append(str(image))
                classes.append(value)
                subjects.append(user)
                folds.append(k)
    if not images:
        raise DataFormatError(lists, _nothing_read(missing, image_folder, variant))
    meta = {"class_names": list(AGE_GROUPS if target == "age" else GENDERS), "target": target, "variant": variant,
            "frontal": False, "fold": test_fold, "stray_ages": {}, "lists": str(lists)}
    result = _imageset(images, classes, subjects, folds, test_fold, lists, False, meta, Counter(missing.dropped))
    result.meta["split_from"] = (f"Levi & Hassner's per-fold lists: test_fold_is_{test_fold}/{target}_test.txt is the "
                                 f"test split, the faces of the other four test lists train (fold={test_fold}); "
                                 "the 5-fold protocol reports the mean of fold=0..4")
    return result


def list_rows(path: Path, n_classes: int):
    """(line, user_id, face_id, original_image, class) of each line `<user_id>/landmark_aligned_face.<face_id>.
    <original_image> <class>` of a per-fold list (class: the age group 0-7, or 0 m / 1 f)."""
    form = f"<user_id>/landmark_aligned_face.<face_id>.<original_image> <class 0-{n_classes - 1}>"
    for number, line in enumerate(read_lines(path, "Adience per-fold list"), start=1):
        fields = line.split()
        if not fields:
            continue
        user, _, name = fields[0].partition("/")
        prefix, face, original = (name.split(".", 2) + ["", ""])[:3]
        if len(fields) != 2 or not user or prefix not in VARIANTS.values() or not face.isdigit() or not original:
            raise DataFormatError(path, f"expected '{form}', got {line.strip()[:80]!r}", number)
        if not fields[1].isdigit() or int(fields[1]) >= n_classes:
            raise DataFormatError(path, f"class {fields[1]!r} is not 0-{n_classes - 1}", number)
        yield number, user, face, original, int(fields[1])


def read_adience_gender(root, variant: str | None = None, frontal=False, fold=0, skip_missing=True) -> ImageSet:
    """Adience with the gender as the class (format `adience-gender`): male, female; u and empty dropped."""
    return read_adience(root, "gender", variant, frontal, fold, skip_missing=skip_missing)


def age_group(text: str, stray_ages: str = "map") -> tuple[int | None, bool]:
    """(group index or None, stray?) of a fold file's age field. None with stray False: not given (None or
    empty); None with stray True: a stray value dropped under stray_ages='drop'. ValueError: not an age."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return None, False
    match = RANGE.fullmatch(text)
    if match:
        low, high = int(match[1]), int(match[2])
        if (low, high) in WRITTEN_GROUPS:
            return WRITTEN_GROUPS[low, high], False
        return (nearest_group(low) if stray_ages == "map" else None), True
    if text.isdigit():
        return (nearest_group(int(text)) if stray_ages == "map" else None), True
    raise ValueError(text)


def nearest_group(years: int) -> int:
    """The group holding an age in years, else the nearer one; halfway (3, 35) goes to the younger."""
    distances = [max(low - years, years - high, 0) for low, high in GROUP_RANGES]
    return distances.index(min(distances))  # the first minimum: the younger group on a tie


def fold_rows(path: Path):
    """(line, user_id, original_image, face_id, age, gender) of each row of a fold file, columns found by the
    header's names. Trailing empty fields (cut with the line's trailing tabs) read as empty."""
    lines = read_lines(path, "Adience fold file")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise DataFormatError(path, "empty fold file: expected a tab-separated header user_id, original_image, "
                                    "face_id, age, gender, ...", 1)
    index = _columns(lines[start], path, start + 1)
    for number, line in enumerate(lines[start + 1:], start=start + 2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) <= max(index[:3]):
            raise DataFormatError(path, f"expected tab-separated fields {', '.join(COLUMNS)}, ...; got "
                                        f"{len(fields)} field(s)", number)
        fields += [""] * (max(index) + 1 - len(fields))
        user, original, face, age, gender = (fields[i] for i in index)
        if not user or not original:
            raise DataFormatError(path, "empty user_id or original_image", number)
        if not face.isdigit():
            raise DataFormatError(path, f"face_id {face!r} is not a whole number", number)
        yield number, user, original, face, age, gender


def _columns(header_line: str, path: Path, number: int) -> list[int]:
    header = [h.strip().lower() for h in header_line.split("\t")]
    absent = [c for c in COLUMNS if c not in header]
    if absent:
        raise DataFormatError(path, f"no {absent[0]!r} column: expected a tab-separated header user_id, "
                                    f"original_image, face_id, age, gender, x, y, ... (got {header_line[:80]!r})",
                              number)
    return [header.index(c) for c in COLUMNS]


def _label(target, age, gender, stray_ages, path, number, dropped: Counter, strays: Counter) -> int | None:
    """The row's class, or None (counted in `dropped`) when the row has none for the target."""
    if target == "gender":
        code = gender.strip().lower()
        if code in UNKNOWN_GENDERS:
            dropped[DROPPED_GENDER] += 1
            return None
        if code not in GENDER_CODES:
            raise DataFormatError(path, f"gender {gender!r} is not m, f, u or empty", number)
        return GENDER_CODES[code]
    try:
        group, stray = age_group(age, stray_ages)
    except ValueError:
        raise DataFormatError(path, f"age {age!r} is not a group like (25, 32), a number of years or None",
                              number) from None
    if stray:
        strays[age.strip()] += 1
    if group is None:
        dropped[DROPPED_STRAY if stray else DROPPED_AGE] += 1
    return group


def _fold(value) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 0 <= int(text) < FOLDS:
        raise FacesslError(f"adience fold {value!r}: expected the test fold, a whole number 0-{FOLDS - 1}")
    return int(text)


def _fold_names(frontal: bool) -> list[str]:
    return [f"fold_{'frontal_' if frontal else ''}{k}_data.txt" for k in range(FOLDS)]


def _fold_paths(folder: Path, frontal: bool) -> list[Path]:
    return [folder / name for name in _fold_names(frontal)]


def _subfolders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _fold_folder(root: Path, frontal: bool) -> Path:
    """The folder holding the five fold files: the root, folds/, one subfolder (nested twice or not), or
    the root's parent when the root is aligned/ or faces/. Some of the five but not all is an error."""
    names = _fold_names(frontal)
    places = [root, unnested(root), root / "folds", *_subfolders(root)]
    places += [unnested(p) for p in _subfolders(root)]
    if root.name in VARIANTS:  # the root is aligned/ or faces/ itself
        places += [root.parent, root.parent / "folds"]
    for folder in places:
        present = [n for n in names if (folder / n).is_file()]
        if len(present) == FOLDS:
            return folder
        if present:
            absent = [n for n in names if n not in present]
            raise DataFormatError(folder, f"Adience fold files incomplete: {', '.join(absent)} missing "
                                          f"(the 5-fold protocol needs {names[0]} ... {names[-1]})")
    other = _fold_names(not frontal)[0]
    hint = ""
    if any((p / other).is_file() for p in places):
        hint = f" (found {other}: {'drop' if frontal else 'pass'} frontal=true)"
    raise DataFormatError(root, f"Adience fold files not found: expected {names[0]} ... {names[-1]} here, in "
                                f"folds/, or beside the image folder{hint}")


def _image_folder(root: Path, fold_folder: Path, variant: str | None) -> tuple[str, Path]:
    """(variant, folder of the <user_id>/ folders): the one asked for, else aligned before faces; found as the
    root itself, beside the fold files (or their folds/ folder), or one folder down."""
    variant = None if variant is None else one_of(variant, tuple(VARIANTS), "adience", "variant")
    found = {}
    for name in VARIANTS:
        places = [root] if root.name == name else []
        places += [root / name, fold_folder / name]
        if fold_folder.name == "folds":  # the fold files put in a folder of their own, beside the images
            places.append(fold_folder.parent / name)
        places += [sub / name for base in (root, fold_folder) for sub in _subfolders(base)]
        folder = next((unnested(p) for p in places if p.is_dir()), None)
        if folder is not None:
            found[name] = folder
    if variant is not None:
        if variant not in found:
            raise DataFormatError(root, f"Adience {variant} images not found: expected {variant}/<user_id>/"
                                        f"{VARIANTS[variant]}.<face_id>.<original_image> beside the fold files "
                                        f"(found: {', '.join(f'{v}/' for v in found) or 'none'})")
        return variant, found[variant]
    if not found:
        raise DataFormatError(root, "no Adience images: expected aligned/ (aligned.tar.gz) or faces/ "
                                    "(faces.tar.gz) beside the fold files")
    return next(iter(found.items()))


def _nothing_read(missing: MissingImages, image_folder: Path, variant: str) -> str:
    if missing.dropped:
        return (f"no Adience images: all {missing.dropped['missing_image']} images the fold files name are "
                f"missing from {image_folder} (expected <user_id>/{VARIANTS[variant]}.<face_id>.<original_image>)")
    return "no Adience faces: the fold files have no rows with a label"


def _imageset(images, classes, subjects, folds, test_fold, fold_folder, frontal, meta, dropped) -> ImageSet:
    folds, subjects = np.array(folds, dtype=np.int64), np.array(subjects)
    split = np.where(folds == test_fold, "test", "train")
    names = _fold_names(frontal)
    meta["split_from"] = (f"Adience's subject-exclusive folds: {names[test_fold]} is the test split, the other four "
                          f"train (fold={test_fold}); the 5-fold protocol reports the mean of fold=0..4")
    shared = np.intersect1d(subjects[split == "test"], subjects[split == "train"])
    if len(shared):  # the release's folds are by album; say so if a copy's are not
        meta["subjects_in_train_and_test"] = int(len(shared))
    labels = {"class": np.array(classes, dtype=np.int64), "subject": subjects, "fold": folds}
    return with_dropped(ImageSet(images, labels, split, str(fold_folder), meta=meta), dropped)
