"""CFP, Celebrities in Frontal-Profile (Sengupta et al., WACV 2016), as distributed (`cfp-dataset/`):

    Data/Images/001/frontal/01.jpg ... 10.jpg       10 frontal images of each of 500 people
    Data/Images/001/profile/01.jpg ... 04.jpg       4 profile images of each
    Protocol/Pair_list_F.txt                        `1 ../Data/Images/001/frontal/01.jpg`: 1-based index, a space,
    Protocol/Pair_list_P.txt                        the path relative to Protocol/ (5000 F lines, 2000 P lines)
    Protocol/Split/FP/01 ... 10/same.txt, diff.txt  `i,j` per line: i indexes Pair_list_F, j Pair_list_P
    Protocol/Split/FF/01 ... 10/same.txt, diff.txt  `i,j` per line: both index Pair_list_F

Each same.txt / diff.txt holds 350 pairs: 10 identity-disjoint folds of 350 same + 350 different pairs.
Protocol "FP" (frontal-profile, the default: the set everybody reports as CFP-FP) or "FF" (frontal-frontal).
Read into a PairSet: fold = the split folder (01 -> 0), within a fold the same pairs, then the different ones;
images.labels 'identity' (the person's folder, 001) and 'view' (frontal / profile). Task `verification`.
The path may be `cfp-dataset/`, a folder up to two above it (`cfp-dataset/cfp-dataset/` as a zip unpacked into a
folder of its name, Kaggle's `archive/`), or `Protocol/`. Kaggle's copy (`chinafax/cfpw-dataset`)
is used unpacked as the same `cfp-dataset/` tree.

Facts checked against the dataset's own Readme.txt (folder tree, 5000 F / 2000 P, 350 pairs per file, 1-based
indices, 10 identity-disjoint splits) and loaders that parse these files (`Pair_list_*.txt` split on whitespace,
paths joined to Protocol/, `same.txt` lines stripped and split on the comma).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import BELOW, SKIP_MISSING_HINT, find_wrapped, parse_number, read_lines, with_dropped
from facessl.errors import DataFormatError

PROTOCOLS = ("FP", "FF")
LIST_NAMES = {"F": "Pair_list_F.txt", "P": "Pair_list_P.txt"}


def find_protocol_folder(root: Path) -> Path:
    """Protocol/ given as is, inside cfp-dataset/, or inside a folder up to two below root (the folder holding
    cfp-dataset/, cfp-dataset/cfp-dataset/ when the zip was unpacked into a folder of its name, Kaggle's archive/)."""
    if (root / LIST_NAMES["F"]).is_file():
        return root
    release = find_wrapped(root, lambda folder: (folder / "Protocol" / LIST_NAMES["F"]).is_file())
    if release is not None:
        return release / "Protocol"
    raise DataFormatError(root, f"CFP not found: expected Protocol/Pair_list_F.txt here or {BELOW} (cfp-dataset/), "
                                "or this to be the Protocol folder")


def read_image_list(path: Path) -> dict[int, Path]:
    """Pair_list_F/P.txt: `index path` lines -> {index: image path}; paths are relative to the list's folder."""
    images: dict[int, Path] = {}
    for number, line in enumerate(read_lines(path, "CFP image list"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DataFormatError(path, f"expected 'index path' (e.g. '1 ../Data/Images/001/frontal/01.jpg'), got {line.strip()!r}", number)
        index = parse_number(fields[0], path, number, "a 1-based image index", int)
        if index in images:
            raise DataFormatError(path, f"index {index} is listed twice", number)
        relative = fields[1].replace("\\", "/")  # a copy unpacked on Windows
        images[index] = Path(os.path.normpath(path.parent / relative))
    if not images:
        raise DataFormatError(path, "no images listed; expected lines 'index ../Data/Images/001/frontal/01.jpg'")
    return images


def read_index_pairs(path: Path) -> list[tuple[int, int, int]]:
    """same.txt / diff.txt: `i,j` lines -> [(line number, i, j)] (1-based indices as written)."""
    pairs = []
    for number, line in enumerate(read_lines(path, "CFP pair list"), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 2:
            raise DataFormatError(path, f"expected 'i,j' (two 1-based indices separated by a comma), got {line.strip()!r}", number)
        i, j = (parse_number(f.strip(), path, number, "a 1-based image index", int) for f in fields)
        pairs.append((number, i, j))
    return pairs


def split_folders(protocol_dir: Path, protocol: str) -> list[Path]:
    """Split/FP/01 ... 10 in numeric order (the folds)."""
    split_dir = protocol_dir / "Split" / protocol
    if not split_dir.is_dir():
        raise DataFormatError(split_dir, f"CFP split folder not found; expected Split/{protocol}/01 ... 10/ with same.txt and diff.txt")
    folders = sorted((p for p in split_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if not folders:
        raise DataFormatError(split_dir, "no fold folders 01 ... 10 found")
    return folders


def _protocol_name(protocol: str, variant: str | None, root: Path) -> str:
    name = str(variant or protocol).upper()
    if name not in PROTOCOLS:
        raise DataFormatError(root, f"CFP protocol must be FP (frontal-profile) or FF (frontal-frontal), got {variant or protocol!r}")
    return name


class _Images:
    """The images the pairs name, each once, in order of first use; existence checked once per file."""

    def __init__(self):
        self.index: dict[Path, int] = {}
        self.exists: dict[Path, bool] = {}

    def present(self, path: Path) -> bool:
        if path not in self.exists:
            self.exists[path] = path.is_file()
        return self.exists[path]

    def add(self, path: Path) -> int:
        return self.index.setdefault(path, len(self.index))

    def image_set(self, source: Path) -> ImageSet:
        paths = list(self.index)
        identity = np.array([p.parent.parent.name for p in paths])  # Data/Images/<001>/<frontal>/01.jpg
        view = np.array([p.parent.name for p in paths])
        return ImageSet([str(p) for p in paths], {"identity": identity, "view": view}, None, str(source))


def read_cfp(root, protocol: str = "FP", skip_missing: bool = False, variant: str | None = None) -> PairSet:
    """CFP pairs of one protocol as a PairSet over 10 folds. `variant` is the same choice as `protocol`
    (the command line's --variant FF)."""
    root = Path(root)
    protocol = _protocol_name(protocol, variant, root)
    protocol_dir = find_protocol_folder(root)
    frontal = read_image_list(protocol_dir / LIST_NAMES["F"])
    second = frontal if protocol == "FF" else read_image_list(protocol_dir / LIST_NAMES["P"])
    second_name = LIST_NAMES["F"] if protocol == "FF" else LIST_NAMES["P"]
    images = _Images()
    pairs, same, fold = [], [], []
    dropped = 0
    for fold_number, folder in enumerate(split_folders(protocol_dir, protocol)):
        for file_name, is_same in (("same.txt", True), ("diff.txt", False)):
            path = folder / file_name
            for number, i, j in read_index_pairs(path):
                files = (_look_up(frontal, i, LIST_NAMES["F"], path, number), _look_up(second, j, second_name, path, number))
                missing = next((f for f in files if not images.present(f)), None)
                if missing is not None:
                    if not skip_missing:
                        raise DataFormatError(path, f"image {missing} named here does not exist; {SKIP_MISSING_HINT}", number)
                    dropped += 1
                    continue
                pairs.append([images.add(f) for f in files])
                same.append(is_same)
                fold.append(fold_number)
    if not pairs:
        raise DataFormatError(protocol_dir / "Split" / protocol, "no pair left: every pair names a missing image")
    result = PairSet(images.image_set(protocol_dir), np.array(pairs, dtype=np.int64), np.array(same, dtype=bool),
                     np.array(fold, dtype=np.int64), str(protocol_dir / "Split" / protocol))
    return with_dropped(result, {"missing_pair": dropped})


def _look_up(images: dict[int, Path], index: int, list_name: str, path: Path, number: int) -> Path:
    if index not in images:
        raise DataFormatError(path, f"pair index {index} is not in {list_name} (it lists {min(images)}..{max(images)})", number)
    return images[index]
