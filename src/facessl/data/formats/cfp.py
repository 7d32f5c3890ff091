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

What the reader checks (as LFW's, facessl.data.formats.pair_list): a pair of an image with itself (an FF line
`i,i`), a same.txt pair of two people and a diff.txt pair of one person (by the Data/Images/<person> folders) are
skipped, counted and named in a note (the folders give every image's person, so a label that disagrees with them is
always one of these); a pair listed twice is scored as listed and named.

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
from facessl.data.formats.pair_list import ONE_PERSON, TWO_PEOPLE, PairList
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


def read_cfp(root, protocol: str = "FP", skip_missing: bool = False, variant: str | None = None) -> PairSet:
    """CFP pairs of one protocol as a PairSet over 10 folds. `variant` is the same choice as `protocol`
    (the command line's --variant FF). A pair of an image with itself (FF: i,i), a 'different' pair of one person
    and a 'same' pair of two people (by their Data/Images/<person>/ folders) are skipped, counted and named in a
    note, as LFW's are (pair_list)."""
    root = Path(root)
    protocol = _protocol_name(protocol, variant, root)
    protocol_dir = find_protocol_folder(root)
    frontal = read_image_list(protocol_dir / LIST_NAMES["F"])
    second = frontal if protocol == "FF" else read_image_list(protocol_dir / LIST_NAMES["P"])
    second_name = LIST_NAMES["F"] if protocol == "FF" else LIST_NAMES["P"]
    read = PairList(lambda source: f"{Path(source).parent.name}/{Path(source).name}", "their Data/Images/<person> folders")
    exists = {}
    for fold_number, folder in enumerate(split_folders(protocol_dir, protocol)):
        for file_name, is_same in (("same.txt", True), ("diff.txt", False)):
            path = folder / file_name
            for number, i, j in read_index_pairs(path):
                files = (_look_up(frontal, i, LIST_NAMES["F"], path, number), _look_up(second, j, second_name, path, number))
                text = f"{i},{j}"
                for f in files:  # each file looked up once, however many pairs name it
                    if f not in exists:
                        exists[f] = f.is_file()
                missing = next((f for f in files if not exists[f]), None)
                if missing is not None:
                    if not skip_missing:
                        raise DataFormatError(path, f"image {missing} named here does not exist; {SKIP_MISSING_HINT}", number)
                    read.missing.append(f"{folder.name}/{file_name}:{number} ({text})")
                    continue
                people = (person_of(files[0]), person_of(files[1]))
                if is_same != (people[0] == people[1]):
                    read.skip(TWO_PEOPLE if is_same else ONE_PERSON, path, number, text)
                    continue
                read.add(files, people, is_same, fold_number, path, number, text)
    if not read.pairs:
        counts = {"missing image": len(read.missing), **read.counts()}
        raise DataFormatError(protocol_dir / "Split" / protocol, "no pair left: " + ", ".join(
            f"{why} {n}" for why, n in counts.items() if n) + " skipped")
    paths = [Path(p) for p in read.index]
    images = ImageSet([str(p) for p in paths], {"identity": np.array(read.names),
                                                "view": np.array([p.parent.name for p in paths])}, None, str(protocol_dir))
    if read.left_out_notes():
        images.meta["pair_notes"] = read.left_out_notes()
    result = PairSet(images, np.array(read.pairs, dtype=np.int64).reshape(-1, 2), np.array(read.same, dtype=bool),
                     np.array(read.fold, dtype=np.int64), str(protocol_dir / "Split" / protocol))
    return with_dropped(result, {"missing_pair": len(read.missing), **read.counts()})


def person_of(image: Path) -> str:
    """The person of a CFP image: its folder two up (Data/Images/<001>/frontal/01.jpg -> 001)."""
    return image.parent.parent.name


def _look_up(images: dict[int, Path], index: int, list_name: str, path: Path, number: int) -> Path:
    if index not in images:
        raise DataFormatError(path, f"pair index {index} is not in {list_name} (it lists {min(images)}..{max(images)})", number)
    return images[index]
