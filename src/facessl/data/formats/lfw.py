"""LFW-style verification sets (LFW and the cross-pose CPLFW-like set share this format).

Layout: `<root>/<Name>/<Name>_0001.jpg` (numbers 1-based, 4 digits) and `<root>/pairs.txt`:
a header `10<TAB>300` (number of folds, pairs per class per fold), then for each fold
`n` same-identity lines `Name<TAB>1<TAB>2` followed by `n` different-identity lines
`Name1<TAB>1<TAB>Name2<TAB>3`. A one-number header (pairsDevTrain.txt) means one fold.
LFW's folds are identity-disjoint; the synthetic builder keeps that.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import JPEG_QUALITY, MissingImages, parse_number, read_lines, save_image, with_dropped
from facessl.errors import DataFormatError

FIRST_NAMES = ("Aaron Abigail Adam Adele Ahmed Aisha Alan Alice Amir Ana Andre Anna Arjun Astrid Ben Bianca Boris Carla "
               "Carlos Chen Chloe Clara Daniel Dara Diego Elena Emil Emma Eric Eva Farah Felix Fiona Gabriel Grace Hana "
               "Hugo Ines Ivan Jack Jana Jonas Julia Karim Kate Kenji Lara Leon Lina Luca Maya Marco Nadia Nina Omar "
               "Olga Paolo Priya Rafael Rosa Samir Sara Tomas Uma Victor Yara Zoe").split()
LAST_NAMES = ("Abbott Adler Alvarez Baker Bauer Becker Bianchi Brooks Castro Chang Costa Cruz Dalton Diaz Dubois "
              "Edwards Ellis Fischer Flores Garcia Gomez Grant Gupta Hansen Hayes Ibrahim Ito Jensen Kaur Keller Kim "
              "Kowalski Lambert Larsen Lopez Martin Meyer Moreau Murphy Nakamura Novak Okafor Olsen Ortiz Patel Perez "
              "Quinn Reyes Rossi Russo Sato Schmidt Silva Smith Suzuki Tanaka Torres Varga Vogel Wagner Weber Wong "
              "Young Zhang Ziegler").split()


def person_name(index: int) -> str:
    """A made-up, unique LFW-style name for identity number `index` (e.g. Aaron_Smith)."""
    first, rest = index % len(FIRST_NAMES), index // len(FIRST_NAMES)
    last, middle = (rest + index) % len(LAST_NAMES), rest // len(LAST_NAMES)
    # (first, rest) is injective; last is a bijective shuffle of rest within each block of len(LAST_NAMES)
    middle_part = "" if middle == 0 else f"_{chr(ord('A') + (middle - 1) % 26)}{'' if middle <= 26 else (middle - 1) // 26}"
    return f"{FIRST_NAMES[first]}{middle_part}_{LAST_NAMES[last]}"


class LfwWriter:
    """Adds images person by person; `write_pairs` writes pairs.txt."""

    def __init__(self, root, quality: int = JPEG_QUALITY):
        self.root = Path(root)
        self.quality = quality
        self.count: dict[str, int] = {}

    def add(self, name: str, image: np.ndarray) -> tuple[Path, int]:
        """Save the next image of `name`; returns its path and 1-based number."""
        number = self.count.get(name, 0) + 1
        self.count[name] = number
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}_{number:04d}.jpg"
        save_image(path, image, self.quality)
        return path, number

    def write_pairs(self, folds, file_name: str = "pairs.txt") -> None:
        """folds: list of (same, different); same: [(name, i, j)], different: [(name1, i, name2, j)], all of equal length n."""
        n = len(folds[0][0])
        if any(len(same) != n or len(diff) != n for same, diff in folds):
            raise ValueError("every fold needs the same number n of same and different pairs")
        lines = [f"{len(folds)}\t{n}"]
        for same, diff in folds:
            lines += [f"{a}\t{i}\t{j}" for a, i, j in same]
            lines += [f"{a}\t{i}\t{b}\t{j}" for a, i, b, j in diff]
        (self.root / file_name).write_text("".join(line + "\n" for line in lines))


def read_lfw_pairs(root, pairs_file: str = "pairs.txt", skip_missing: bool = False) -> PairSet:
    """PairSet over the images named in pairs.txt; images.labels['identity'] holds each image's name."""
    root = Path(root)
    path = root / pairs_file
    lines = [(k, line) for k, line in enumerate(read_lines(path, "pairs file"), start=1) if line.strip()]
    if not lines:
        raise DataFormatError(path, "empty pairs file; expected a header such as '10<TAB>300'", 1)
    header = lines[0][1].split()
    if len(header) not in (1, 2):
        raise DataFormatError(path, f"expected a header '<n_folds><TAB><pairs per class>', got {lines[0][1]!r}", lines[0][0])
    if len(header) == 1:  # pairsDevTrain.txt / pairsDevTest.txt: one fold, header = pairs per class
        header = ["1"] + header
    n_folds, n = (parse_number(h, path, lines[0][0], "an integer in the header", int) for h in header)
    body = lines[1:]
    if len(body) != 2 * n_folds * n:
        where = body[-1][0] if body else lines[0][0]
        raise DataFormatError(path, f"header promises {n_folds} folds x {2 * n} pairs = {2 * n_folds * n} lines, found {len(body)}", where)
    missing = MissingImages(skip_missing)
    index: dict[str, int] = {}
    names: list[str] = []
    pairs, same, fold = [], [], []
    for k, (number, line) in enumerate(body):
        f, is_same = k // (2 * n), (k % (2 * n)) < n
        fields = line.split()
        if is_same and len(fields) != 3:
            raise DataFormatError(path, f"expected a same-identity pair 'Name<TAB>i<TAB>j' (fold {f + 1}), got {line!r}", number)
        if not is_same and len(fields) != 4:
            raise DataFormatError(path, f"expected a different-identity pair 'Name1<TAB>i<TAB>Name2<TAB>j' (fold {f + 1}), got {line!r}", number)
        people = (fields[0], fields[0]) if is_same else (fields[0], fields[2])
        numbers = (fields[1], fields[2]) if is_same else (fields[1], fields[3])
        files = []
        for person, num in zip(people, numbers):
            num = parse_number(num, path, number, "an image number", int)
            files.append(root / person / f"{person}_{num:04d}.jpg")
        if not all(missing.ok(p, path, number) for p in files):
            continue
        for p, person in zip(files, people):
            if str(p) not in index:
                index[str(p)] = len(index)
                names.append(person)
        pairs.append([index[str(p)] for p in files])
        same.append(is_same)
        fold.append(f)
    images = ImageSet(list(index), {"identity": np.array(names)}, None, str(root))
    result = PairSet(images, np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(same, dtype=bool), np.array(fold, dtype=np.int64), str(path))
    return with_dropped(result, {"missing_pair": missing.dropped["missing_image"]})
