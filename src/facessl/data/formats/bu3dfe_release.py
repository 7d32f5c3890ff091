"""BU-3DFE, the Binghamton University 3D Facial Expression database (Yin, Wei, Sun, Wang & Rosato, FG 2006),
as its owners distribute it: the 2D face images for expression recognition.

    BU-3DFE/F0001/F0001_AN01WH_F2D.bmp ...     100 subject folders F0001-F0056, M0001-M0044

Each subject posed the six prototypical expressions at four intensities plus one neutral face: 25 samples,
2,500 in all. A sample's files share one name, `<subject>_<expression><intensity><race>_<kind>`:
subject F/M + 4 digits; expression AN angry, DI disgust, FE fear, HA happy, SA sad, SU surprise (intensity 01
low ... 04 highest) or NE neutral (intensity 00); race WH White, BL Black, AE East Asian, AM Middle-East Asian,
IN Indian, LA Hispanic/Latino (the owners' page names these six groups; the codes as they occur in a full file
list of the release; any two letters are read and kept as given). Per sample the release holds:
    _F2D.bmp   the 2D face image (loaders call it the frontal image): read by default, as by every
               expression loader checked
    _F3D.bmp   the texture map of the 3D model: the two camera views (about +45 and -45 degrees) in one image
               (`variant="F3D"`, alias "texture": read whole, as stored; one loader cuts it in two itself)
    _F3D.wrl, _F3D.bnd (83 feature points), _RAW.wrl, _RAW.pse ...   3D models and points: not read
The root is the folder holding F0001/, or one above it through folders named like `BU-3DFE/`, `BU_3DFE/`,
`Original_BU3DFE/` (any name with "3DFE") or `Subjects/`, any case, up to three levels (`BU-3DFE/BU-3DFE/`,
an archive unpacked into a folder of its own name), or a flat folder of the images. Any image suffix is read
(`.bmp`, conversions to `.png`/`.jpg`), names in any case. An image whose name is not in this form (or has an
unknown expression code, or an intensity that does not fit it) is skipped and counted (meta['unrecognised_files']
names the first few); a second file of one sample (a `.png` beside its `.bmp`) is skipped and counted; the other
variant's images are not rows and not counted. The release is handed out as per-subject archives (F0001.rar
...); a folder holding only those is an error saying to unpack them.

Labels: 'expression' (internal order; neutral only with `neutral=True`), 'intensity' (1-4, 0 for neutral),
'subject' (F0001) and 'race' (the two-letter code; meta['race_names']). Protocol: the common BU-3DFE expression
protocol keeps the two highest intensities (3 and 4) of the six expressions without neutral (Wang et al. 2006
and the 2D+3D work that followed it: 12 samples per subject); that is the default: `levels` picks intensities
("all", "4", "3,4", a list) and `neutral=True` adds the neutral faces. No split is given: seeded, stratified by
expression, grouped by subject, 20 % test. Task `expression`. The whole image is read.

Sources: the owners' page (cs.binghamton.edu/~lijun/Research/3DFE/3DFE_Analysis.html, as quoted in
public dataset lists): 100 subjects, 56 % female, six ethnic groups, 25 models each, texture images from two
views; SpriteMisaka/PyLDL pyldl/applications/facial_emotion_recognition.py (F0001.rar ... M0044.rar, extracts
*_F2D.bmp); momoComeOn/BU3DFE processing/pytorch/BU3DFE.txt (every subject's sample names, race codes WH BL
LA AE AM IN); loaders that glob `BU_3DFE/**/*_F2D.bmp` as the frontal images and `*_F3D.bmp` as the two side
views, that keep intensity 04 + NE00 of `*_F2D.bmp` per subject folder, and that read `_F3D.wrl` with
`_F3D.bnd`, `_F3D.bmp` as the model's texture and `_RAW.wrl` with `_RAW.pse`.

Evidence (read, not copied), checked again: SpriteMisaka/PyLDL pyldl/applications/facial_emotion_recognition.py
(the per-subject `F0001.rar` ... `M0044.rar`, F0001-F0056 and M0001-M0044, members ending `_F2D.bmp` extracted);
a data-preparation README giving `/my/bu/root/F0001/F0001_AN01WH_F2D.bmp` "as it comes from the vendor", a loader
globbing `data/train/image/BU_3DFE/**/*_F2D.bmp` and taking the expression from characters 6-8 of the name, and a
depth-map script reading `Original_BU3DFE/Subjects/F0001/F0001_AN01WH_F3D_depth.png` (find_string hits for
"_F2D.bmp"). Unconfirmed: the owners' page itself (quoted only); derived files such as `_F3D_depth.png` are
not the release and are counted as names not in the BU-3DFE form.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import with_dropped, yes_no
from facessl.data.formats.imagefolder import walk_images
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError

EXPRESSION_CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral",
                    "SA": "sadness", "SU": "surprise"}
RACE_NAMES = {"WH": "White", "BL": "Black", "AE": "East Asian", "AM": "Middle-East Asian", "IN": "Indian",
              "LA": "Hispanic/Latino"}
LEVELS = (1, 2, 3, 4)
DEFAULT_LEVELS = (3, 4)
VARIANTS = {"F2D": "F2D", "FRONTAL": "F2D", "F3D": "F3D", "TEXTURE": "F3D"}  # name (any case) -> file kind
NAME_PATTERN = re.compile(r"(?P<subject>[FM]\d{4})_(?P<code>[A-Z]{2})(?P<level>\d\d)(?P<race>[A-Z]{2})"
                          r"_(?P<kind>F2D|F3D)")
SUBJECT_FOLDER = re.compile(r"[FM]\d{4}", re.IGNORECASE)
WRAPPER = re.compile(r".*3dfe.*|subjects", re.IGNORECASE)  # BU-3DFE/, BU_3DFE/, Original_BU3DFE/, Subjects/
SEARCH_DEPTH = 3
ARCHIVE = re.compile(r"[FM]\d{4}\.(rar|zip|7z)", re.IGNORECASE)
SHOWN_UNRECOGNISED = 10
EXAMPLE = "F0001/F0001_AN01WH_F2D.bmp"


def read_bu3dfe_expr(root, levels=DEFAULT_LEVELS, neutral=False, variant: str | None = None,
                     test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """BU-3DFE 2D images: labels 'expression', 'intensity', 'subject', 'race'; split train / test by subject."""
    wanted, with_neutral, kind = _levels(levels), yes_no(neutral, "bu3dfe-expr", "neutral"), _variant(variant)
    folder = _release_folder(Path(root))
    rows, seen, unrecognised, other_kind = [], set(), [], 0
    dropped = {"file name not in the BU-3DFE form": 0, "second file of one sample": 0,
               "intensity left out (levels option)": 0, "neutral left out (neutral option)": 0}
    for path in walk_images(folder):
        if "__MACOSX" in path.relative_to(folder).parts:
            continue
        sample = _parse(path.stem.upper())
        if sample is None:
            dropped["file name not in the BU-3DFE form"] += 1
            unrecognised.append(path.name)
        elif sample["kind"] != kind:
            other_kind += 1  # the same sample's other image: not a row, nothing skipped
        elif sample["key"] in seen:
            dropped["second file of one sample"] += 1
        elif sample["code"] == "NE" and not with_neutral:
            dropped["neutral left out (neutral option)"] += 1
        elif sample["code"] != "NE" and sample["level"] not in wanted:
            dropped["intensity left out (levels option)"] += 1
        else:
            seen.add(sample["key"])
            rows.append((str(path), sample))
    if not rows:
        raise DataFormatError(folder, _nothing_found(unrecognised, other_kind, kind, wanted, with_neutral))
    meta = {"levels": sorted(wanted), "neutral": with_neutral, "variant": kind}
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    return _imageset(rows, folder, test_fraction, seed, {k: v for k, v in dropped.items() if v}, meta)


def _parse(stem: str) -> dict | None:
    """The fields of an upper-cased file stem, or None when it is not a BU-3DFE name with a consistent code."""
    match = NAME_PATTERN.fullmatch(stem)
    if match is None or match["code"] not in EXPRESSION_CODES:
        return None
    level = int(match["level"])
    if (match["code"] == "NE") != (level == 0) or level > max(LEVELS):  # neutral is NE00, the others 01-04
        return None
    key = (match["subject"], match["code"], level, match["race"])
    return {"subject": match["subject"], "code": match["code"], "level": level, "race": match["race"],
            "kind": match["kind"], "key": key}


def _levels(levels) -> set[int]:
    """The intensities asked for: 'all', 4, '3,4', '3 4' or a list of numbers 1-4."""
    if isinstance(levels, str) and levels.strip().lower() == "all":
        return set(LEVELS)
    try:
        items = levels.replace(",", " ").split() if isinstance(levels, str) else (
            [levels] if isinstance(levels, int) and not isinstance(levels, bool) else list(levels))
        chosen = {int(str(item).strip()) for item in items}
    except (TypeError, ValueError):
        chosen = set()
    if not chosen or not chosen <= set(LEVELS):
        raise FacesslError(f"bu3dfe-expr levels {levels!r}: expected some of 1, 2, 3, 4 (e.g. 3,4) or all")
    return chosen


def _variant(variant) -> str:
    """The file kind read: F2D (frontal image, default) or F3D (the model's two-view texture)."""
    if variant is None:
        return "F2D"
    kind = VARIANTS.get(str(variant).strip().upper())
    if kind is None:
        raise FacesslError(f"bu3dfe-expr variant {variant!r}: expected F2D (frontal image, default) "
                           "or F3D (texture, the two side views)")
    return kind


def _release_folder(root: Path) -> Path:
    """The folder holding F0001/ ...: the root or a BU-3DFE/ (BU_3DFE/, Subjects/ ...) folder below it."""
    if not root.is_dir():
        raise DataFormatError(root, f"BU-3DFE not found: expected {EXAMPLE} here (or in BU-3DFE/)")
    found = _holding_subjects(root, SEARCH_DEPTH)
    if found is not None:
        return found
    if any(ARCHIVE.fullmatch(p.name) for p in root.iterdir()):
        raise DataFormatError(root, "BU-3DFE is still packed: unpack the per-subject archives (F0001.rar ...) "
                                    f"into this folder first (expected {EXAMPLE})")
    raise DataFormatError(root, f"BU-3DFE not found: expected {EXAMPLE} here (or in BU-3DFE/)")


def _holding_subjects(folder: Path, depth: int) -> Path | None:
    """`folder` when it holds subject folders or BU-3DFE images, else the first wrapper below it that does."""
    children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if any(p.is_dir() and SUBJECT_FOLDER.fullmatch(p.name) for p in children):
        return folder
    if any(p.is_file() and _parse(p.stem.upper()) is not None for p in children):
        return folder  # a flat copy: the images without their subject folders
    for child in children:
        if depth > 0 and child.is_dir() and WRAPPER.fullmatch(child.name):
            found = _holding_subjects(child, depth - 1)
            if found is not None:
                return found
    return None


def _nothing_found(unrecognised: list[str], other_kind: int, kind: str, wanted: set[int], neutral: bool) -> str:
    if other_kind:
        other = "F3D" if kind == "F2D" else "F2D"
        return (f"no BU-3DFE {kind} images found, but {other_kind} {other} image(s): "
                f"pass --variant {other} (Python: variant='{other}') to read them")
    if unrecognised:
        return (f"no BU-3DFE images found: {len(unrecognised)} image file(s) not named like F0001_AN01WH_F2D.bmp "
                f"(e.g. {unrecognised[0]})")
    kept = ", ".join(str(level) for level in sorted(wanted)) + (" and neutral" if neutral else "")
    return f"no BU-3DFE {kind} images found with the intensities {kept}"


def _imageset(rows, folder: Path, test_fraction: float, seed: int, dropped: dict, meta: dict) -> ImageSet:
    images = [path for path, _ in rows]
    expression = np.array([EXPRESSIONS.index(EXPRESSION_CODES[s["code"]]) for _, s in rows], dtype=np.int64)
    subject = np.array([s["subject"] for _, s in rows])
    labels = {"expression": expression, "intensity": np.array([s["level"] for _, s in rows], dtype=np.int64),
              "subject": subject, "race": np.array([s["race"] for _, s in rows])}
    split = np.asarray(grouped_stratified_split(expression, subject, test_fraction, seed))
    meta = {**meta, "split_from": f"seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by subject",
            "race_names": {code: RACE_NAMES.get(code, code) for code in sorted(set(labels["race"]))}}
    return with_dropped(ImageSet(images, labels, split, str(folder), meta=meta), dropped)
