"""AgeDB (Moschoglou et al., CVPR-W 2017; ibug.doc.ic.ac.uk/resources/agedb) as distributed: AgeDB.zip unpacks to

    AgeDB/0_MariaCallas_35_f.jpg, 1_MariaCallas_40_f.jpg, ...     16,488 photos of 568 people, ages 1-101

File names are `<image number>_<Name>_<age>_<gender>.jpg` (number_name_age_gender): the person's name written
without spaces, the age in years when the photo was taken, gender `m` or `f`. AgeDB has no label file: the name
carries every label. The root holds `AgeDB/` (also nested twice, `AgeDB/AgeDB/`, or lower case), or is that
folder. Image files not in that form (a name field missing, an age over 120) are skipped and counted,
meta['unrecognised_files'] naming the first few; files that are not images (a README, Thumbs.db) and `__MACOSX/`
copies are ignored.

Options: `target` "age" (labels 'target' (N,1) in years, meta['target_columns'] ['age']: task regression, MAE
in years) or "gender" (labels 'class', meta['class_names'] male, female: task classification, as for utkface). AgeDB gives no split: a seeded split, 20 % test, grouped by person (the name: 'group'), so no
person is on both sides (stratified by gender for target=gender). The AgeDB-30 verification pairs are the
`insightface-bin` format's (agedb_30.bin), not read here.

Checked against: the ibug page (16,488 images, 568 subjects, ages 1-101, identity, age and gender per image;
AgeDB.zip, password by e-mail), as quoted in csy9730/tool_misc `library/dnn/dataset/face/AgeDB.md`, and public
loaders that list `AgeDB/0_MariaCallas_35_f.jpg` and split the name on `_` into number, name, age, gender.

Evidence (read, not copied): YyzHarry/imbalanced-regression agedb-dir/data/create_agedb.py (lists
`<data>/AgeDB/`, splits each name `.split('.')[0].split('_')` into exactly four fields number, name, age,
gender) and agedb-dir/README.md (AgeDB.zip extracted into the data folder); loaders found by the index naming
`AgeDB/AgeDB` as the image folder and `0_MariaCallas_35_f.jpg (number_name_age_gender.jpg)`. All matched (the
twice-nested folder was already read); nothing changed. Not read: AgeDB-DIR's own `meta/agedb.csv` split.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import age_or_class_labels, fraction_option, one_of, unnested, with_dropped
from facessl.data.formats.imagefolder import walk_images
from facessl.errors import DataFormatError

GENDERS = ("male", "female")
GENDER_CODES = {"m": 0, "f": 1}
TARGETS = ("age", "gender")
MAX_AGE = 120
# number_name_age_gender.ext; the name may hold anything but the field separator's run at its ends.
NAME_PATTERN = re.compile(r"(?P<number>\d+)_(?P<name>[^_].*?)_(?P<age>\d+)_(?P<gender>[mfMF])\.[A-Za-z]+")
FOLDER = "AgeDB"
SHOWN_UNRECOGNISED = 10
NOT_AGEDB = "file name not in the AgeDB form"
EXAMPLE = "AgeDB/0_MariaCallas_35_f.jpg"


def read_agedb(root, target: str = "age", test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """AgeDB photos: labels 'target' (age) or 'class' (gender) and 'group' (the person); split train / test."""
    root = Path(root)
    target = one_of(target, TARGETS, "agedb", "target")
    fraction = fraction_option(test_fraction, "agedb")
    folder = _image_folder(root)
    images, values, people, unrecognised = [], [], [], []
    for path in walk_images(folder):
        if "__MACOSX" in path.relative_to(folder).parts:
            continue
        labels = name_labels(path.name)
        if labels is None:
            unrecognised.append(path.name)
            continue
        images.append(str(path))
        values.append(labels[target])
        people.append(labels["name"])
    if not images:
        raise DataFormatError(folder, _nothing_found(unrecognised))
    return _imageset(images, values, people, target, folder, fraction, int(seed), unrecognised)


def name_labels(file_name: str) -> dict | None:
    """{'number', 'name', 'age', 'gender'} of an AgeDB file name; None when it is not one."""
    match = NAME_PATTERN.fullmatch(file_name)
    if match is None or int(match["age"]) > MAX_AGE:
        return None
    return {"number": int(match["number"]), "name": match["name"], "age": int(match["age"]),
            "gender": GENDER_CODES[match["gender"].lower()]}


def _image_folder(root: Path) -> Path:
    """AgeDB/ under the root (any case, nested twice or not), else the root itself."""
    if not root.is_dir():
        raise DataFormatError(root, f"AgeDB not found: expected {EXAMPLE} here")
    named = sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower() == FOLDER.lower())
    return unnested(named[0]) if named else unnested(root)


def _nothing_found(unrecognised: list[str]) -> str:
    if unrecognised:
        return (f"no AgeDB images found: {len(unrecognised)} file(s) not named like 0_MariaCallas_35_f.jpg "
                f"(number_name_age_gender; e.g. {unrecognised[0]})")
    return f"no AgeDB images found (expected {EXAMPLE})"


def _imageset(images, values, people, target, folder, fraction, seed, unrecognised) -> ImageSet:
    group = np.array(people)
    meta = {"target": target, "people": int(len(np.unique(group)))}
    labels, target_meta, strata = age_or_class_labels(values, group, target, GENDERS)
    meta.update(target_meta)
    split = np.asarray(grouped_stratified_split(strata, group, fraction, seed))
    meta["split_from"] = (f"seeded ({seed}) {'stratified ' if target != 'age' else ''}split, {fraction:.0%} test, "
                          "grouped by person (the name in the file name): no person on both sides")
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    dropped = {NOT_AGEDB: len(unrecognised)} if unrecognised else {}
    return with_dropped(ImageSet(images, labels, split, str(folder), meta=meta), dropped)
