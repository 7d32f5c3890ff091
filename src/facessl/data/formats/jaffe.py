"""JAFFE, the Japanese Female Facial Expression set (Lyons, Akamatsu, Kamachi & Gyoba, 1998), as distributed:

    jaffe/KA.AN1.39.tiff ...     213 grey 256x256 TIFFs in one flat folder, with README_FIRST.txt

File name: the expresser's initials (KA, KL, KM, KR, MK, NA, NM, TM, UY, YM), the expression (AN angry, DI
disgust, FE fear, HA happy, NE neutral, SA sad, SU surprise) with its repeat number, the image number. The
old kasrl.org zip unpacks to `jaffedbase/` (some copies nest it twice), the Zenodo release (record 3451524)
to `jaffe/`; the root may be either folder or the one holding it. Any case and any image suffix is read
(`.tiff`, `.tif`, `.TIFF`, PNG conversions); text files (the README, semantic ratings) and dot-files are
ignored. The release is small and regular, so an image whose name is not in this form (a copy mixed with
augmented or renamed files) stops the read with its name rather than being guessed at.

Labels: 'expression' (internal order; the file name's code, not the semantic ratings) and 'group', the
expresser. No split is given: seeded, stratified, grouped by expresser (20 % test: two of the ten women).
Task `expression`.

Evidence (read, not copied): amilkh/cs230-fer datasets/README.md (JAFFE from Zenodo record 3451524); loaders found
by the index (names not given by it) reading `jaffedbase/jaffedbase/`, `jaffedbase/jaffe/` and
`datasets/jaffe/jaffedbase/`, one mapping AN DI FE HA NE SA SU from the name, one converting to
`KA.AN1.39.png`. `jaffedbase/jaffe/` and `jaffe/jaffedbase/` were read before only by walking the whole root
(any other image there stopped the read): they are now found as the image folder (tests:
tests/test_formats_layout_audit4.py). Unconfirmed: the layout of the newer Zenodo record 14974867 (`jaffe.zip`).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefolder import walk_images
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError

EXPRESSION_CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral",
                    "SA": "sadness", "SU": "surprise"}
NAME_PATTERN = re.compile(r"(?P<subject>[A-Z]{2})\.(?P<code>[A-Z]{2})(?P<repeat>\d+)\.(?P<number>\d+)")
FOLDERS = ("", "jaffe", "jaffedbase", "jaffedbase/jaffedbase", "jaffe/jaffe", "jaffedbase/jaffe", "jaffe/jaffedbase")


def read_jaffe(root, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """JAFFE faces: labels 'expression' (internal order) and 'group' (the expresser); split train / test."""
    folder = _jaffe_folder(Path(root))
    images, expression, subject = [], [], []
    for path in walk_images(folder):
        if "__MACOSX" in path.relative_to(folder).parts:
            continue
        match = NAME_PATTERN.fullmatch(path.stem.upper())
        if match is None:
            raise DataFormatError(path, "expected a JAFFE name <initials>.<expression><n>.<number>, "
                                        "e.g. KA.AN1.39.tiff")
        if match["code"] not in EXPRESSION_CODES:
            raise DataFormatError(path, f"unknown expression code {match['code']!r} "
                                        f"(expected one of {', '.join(EXPRESSION_CODES)})")
        images.append(str(path))
        expression.append(EXPRESSIONS.index(EXPRESSION_CODES[match["code"]]))
        subject.append(match["subject"])
    if not images:
        raise DataFormatError(folder, "no JAFFE images found (expected KA.AN1.39.tiff ...)")
    expression, subject = np.array(expression, dtype=np.int64), np.array(subject)
    split = np.asarray(grouped_stratified_split(expression, subject, test_fraction, seed))
    meta = {"split_from": f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by expresser"}
    return ImageSet(images, {"expression": expression, "group": subject}, split, str(folder), meta=meta)


def _jaffe_folder(root: Path) -> Path:
    """The folder holding the .tiff files: the root or a jaffe/ / jaffedbase/ folder in it (either inside the
    other, or nested twice)."""
    if not root.is_dir():
        raise DataFormatError(root, "JAFFE not found: expected a folder of KA.AN1.39.tiff ... (jaffe/ or jaffedbase/)")
    for name in FOLDERS:
        folder = root / name if name else root
        if folder.is_dir() and any(NAME_PATTERN.fullmatch(p.stem.upper()) for p in folder.iterdir()):
            return folder
    return root  # no JAFFE name at the top: read the root, which reports what it finds there
