"""LFW-style verification sets (LFW and the cross-pose CPLFW-like set share this format).

Layout: `<root>/<Name>/<Name>_0001.jpg` (numbers 1-based, 4 digits) and `<root>/pairs.txt`:
a header `10<TAB>300` (number of folds, pairs per class per fold), then for each fold
`n` same-identity lines `Name<TAB>1<TAB>2` followed by `n` different-identity lines
`Name1<TAB>1<TAB>Name2<TAB>3`. A one-number header (pairsDevTrain.txt) means one fold.
LFW's folds are identity-disjoint; the synthetic builder keeps that.

Layouts read (the path may be the image folder, the folder holding pairs.txt, or the pairs file):
    data/pairs.txt + data/lfw/<Name>/...            pairs file beside the image folder (the usual unpacking)
    data/lfw/pairs.txt + data/lfw/<Name>/...        pairs file inside it (facessl's writer)
    lfw_funneled/, lfw-deepfunneled/, lfw-funneled/, lfw_deepfunneled/ (also nested twice, as Kaggle's copy)
    pairs_file=PATH (--pairs FILE): any pairs file, e.g. pairsDevTest.txt, found as given or beside the images
    Kaggle's copy: lfw-deepfunneled/lfw-deepfunneled/<Name>/... with pairs.csv (10 folds) or
    matchpairsDevTest.csv + mismatchpairsDevTest.csv (--pairs either; one fold)
CPLFW as released: `pairs_CPLFW.txt` with one `Name_1.jpg 1` line per image, two consecutive lines a
pair, label 1 same / 0 different; all 3,000 positive pairs first, then all 3,000 negative pairs. Fold k is the
k-th tenth of the positives (300) with the k-th tenth of the negatives, in file order (FaceX-Zoo's parser), so
that each fold holds both classes; images in `images/` beside it.
CALFW as released (format `calfw`, the same reader): `pairs_CALFW.txt` in that form, all positive pairs
first, each labelled with its fold number 1..10, then all negative pairs labelled 0; images in `aligned images/`
or `images&landmarks/images&landmarks/images/`. A positive goes to its numbered fold; the k-th tenth of the
negatives, in file order, goes to fold k. A two-line-per-pair file whose classes are interleaved (not every
positive first) is cut into 10 folds of consecutive pairs. The image folder is also looked for up to two
folders below the pairs file's folder.

What the reader checks (each noted in images.meta['pair_notes'], for the results): the image folder is located
from the first PROBES names of the file (a misspelt first name does not hide it); `Name_3.jpg` is read where LFW's
`Name_0003.jpg` does not exist, and a person folder named some other way is an error saying what it holds; a pair
of an image with itself, a 'different' pair naming one person twice and (CPLFW / CALFW, by the Name_N.jpg names,
unless too many pairs disagree with them for the names to be people) a 'same' pair of two people are skipped and
counted (dropped); a pair listed again is scored as listed and named; the two lines of a CPLFW pair that carry
different labels, or a pair listed as same once and as different once, are an error naming the line.

Evidence (read, not copied):
- LFW pairs files and image folders: scikit-learn/scikit-learn sklearn/datasets/_lfw.py (pairsDevTrain.txt,
  pairsDevTest.txt, pairs.txt and lfw-funneled.tgz / lfw.tgz from ndownloader.figshare.com files 5976012,
  5976009, 5976006, 5976015, 5976018, kept in `<data_home>/lfw_home/` with the images unpacked to
  `lfw_home/lfw_funneled/` or `lfw_home/lfw/`; `_fetch_lfw_pairs` splits lines on tabs, takes lines of 3 fields as
  same pairs and 4 as different ones, skips the header, and opens the n-th of the person's sorted file names);
  pytorch/vision torchvision/datasets/lfw.py (base folder `lfw-py/` holding `lfw/`, `lfw_funneled/`
  (lfw-funneled.tgz) or `lfw-deepfunneled/` and the pairs files; header `10<TAB>300` or one number for the Dev
  files; per fold n matched then n mismatched lines; `<Name>_<%04d>.jpg`).
- CPLFW / CALFW pair files: JDAI-CV/FaceX-Zoo test_protocol/lfw/pairs_parser.py (`CPLFW_PairsParser`: two lines a
  pair, the first line's label, 6,000 pairs asserted, positives at pairs 0-2999 and negatives at 3000-5999, fold k
  = positives[300k:300k+300] + negatives[300k:300k+300]; `CALFW_PairsParser` the same with any non-zero label a
  positive) and test_protocol/lfw/lfw_evaluator.py (10 subsets of 600 in that order, threshold from the other 9);
  cosanlab/py-feat feat/evaluation/datasets.py (`_load_lfw_style_pairs`: positive pairs carry the same tag on both
  lines, CALFW's tags 1..10; first half positive, second half negative; `pairs_CPLFW.txt` with `images/`,
  `pairs_CALFW.txt` with `images&landmarks/images&landmarks/images/`); a CPLFW script among the find_string hits
  compares `label == 1` (CPLFW's labels are 1/0, not fold numbers) and another keeps the first and last 300 pairs
  to get both classes. Kaggle's copy (`lfw-deepfunneled/lfw-deepfunneled/`, `pairs.csv`, `matchpairsDevTest.csv`):
  an evaluation script among the find_string hits for "pairs_CPLFW.txt" reads `datasets/lfw/pairs.csv` with
  `datasets/lfw/lfw-deepfunneled/lfw-deepfunneled`.
- DreamMr/PCL data_process/identitydb.py reads its own converted lists (LFW `Name<TAB>i<TAB>j` with labels 1/-1,
  CPLFW `a.jpg b.jpg label`), not the released files; those lists are not read here.
Unconfirmed: the whdeng.cn pages themselves (not stored); whether CALFW's positive labels always equal their
position's tenth (facessl follows the label, FaceX-Zoo the position: they agree when the file is in order).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import (BELOW, IMAGE_SUFFIXES, JPEG_QUALITY, SKIP_MISSING_HINT, MissingImages,
                                             find_wrapped, parse_number, read_lines, save_image, with_dropped)
from facessl.data.formats.pair_list import ONE_PERSON, TWO_PEOPLE, PairList
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


IMAGE_FOLDERS = ("lfw", "lfw_funneled", "lfw-funneled", "lfw-deepfunneled", "lfw_deepfunneled", "images", "aligned images")
PAIRS_FILES = ("pairs.txt", "pairs_CPLFW.txt", "pairs_CALFW.txt", "pairsDevTest.txt", "pairs.csv")


def find_pairs_file(root: Path, pairs_file: str | None) -> Path:
    """The pairs file: as given (absolute or relative to the working folder), else in root or beside it."""
    if root.is_file():
        return root
    if pairs_file is not None and Path(pairs_file).is_file():
        return Path(pairs_file)
    names = [pairs_file] if pairs_file else list(PAIRS_FILES)
    for folder in (root, root.parent):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    # an archive unpacked into a folder of its own (Kaggle's archive/): the pairs file up to two folders below
    wrapped = find_wrapped(root, lambda f: any((f / name).is_file() for name in names)) if root.is_dir() else None
    if wrapped is not None:
        return next(wrapped / name for name in names if (wrapped / name).is_file())
    raise DataFormatError(root / names[0], f"pairs file not found here, in {root.parent} or {BELOW} "
                                           f"(looked for {', '.join(names)}; give --pairs FILE)")


PROBES = 20  # names tried, in file order, to locate the image folder (one misspelt name must not hide it)


def find_image_folder(pairs_path: Path, root: Path, probe, variant: str | None = None) -> tuple[Path, str]:
    """(the folder holding <probe>/ (a person's folder) or the file <probe> (CPLFW), '' or where it was looked
    for): root, the pairs file's folder, one of IMAGE_FOLDERS in either (also nested twice:
    lfw-deepfunneled/lfw-deepfunneled/), else any folder up to two below them (CALFW's images&landmarks/
    images&landmarks/images/). variant: only a folder of that name. probe: a name, or several (the first
    PROBES distinct names of the pairs file): the folder holding any of them, so that a name misspelt on the
    first line does not send the search elsewhere."""
    probes = [probe] if isinstance(probe, str) else list(dict.fromkeys(probe))[:PROBES] or [""]
    holds = lambda folder: any((folder / name).exists() for name in probes)
    bases = list(dict.fromkeys(([root] if root.is_dir() else []) + [pairs_path.parent]))
    names = [variant] if variant else list(IMAGE_FOLDERS)
    candidates = [] if variant else list(bases)
    for base in bases:
        for name in names:
            candidates += [base / name, base / name / name]
    found = next((folder for folder in candidates if holds(folder)), None)
    wrapped = (find_wrapped(base, lambda f: holds(f) and variant in (None, f.name)) for base in bases)
    found = found or next((folder for folder in wrapped if folder is not None), None)  # searched only if needed
    if found is not None:
        return found, ""
    what = f"{variant}/" if variant else "folder"
    where = f"no {what} holding {probes[0]} in {' or '.join(map(str, bases))} (or {BELOW})"  # (nor the next names)
    return (root if root.is_dir() and not variant else candidates[0]), where


def read_lfw_pairs(root, pairs_file: str | None = None, skip_missing: bool = False, variant: str | None = None) -> PairSet:
    """PairSet over the images named in the pairs file; images.labels['identity'] holds each image's name.
    variant: the image folder's name (e.g. lfw_funneled) when several are unpacked side by side."""
    root = Path(root)
    path = find_pairs_file(root, pairs_file)
    lines = [(k, line) for k, line in enumerate(read_lines(path, "pairs file"), start=1) if line.strip()]
    if path.suffix.lower() == ".csv":
        return _read_rows(_csv_rows(path, lines), path, root, skip_missing, variant)
    if lines and len(lines[0][1].split()) == 2 and lines[0][1].split()[0].lower().endswith(IMAGE_SUFFIXES):
        return _read_cplfw_pairs(path, root, lines, skip_missing, variant)
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
    rows = [(number, line.split(), (k % (2 * n)) < n, k // (2 * n)) for k, (number, line) in enumerate(body)]
    return _read_rows(rows, path, root, skip_missing, variant)


def _csv_rows(path: Path, lines) -> list:
    """Kaggle's LFW copy: `pairs.csv` (header `name,imagenum1,imagenum2,`; a same pair fills 3 fields, a
    different pair 4; pairs.txt's order, so a fold ends where a same pair follows a different one), or
    `matchpairsDevTest.csv` / `mismatchpairsDevTest.csv` (one class each: both are read, one fold)."""
    import csv

    name = path.name.lower()
    files = [path]
    if name.startswith(("match", "mismatch")):
        partner = path.with_name(("mis" + path.name) if name.startswith("match") else path.name[3:])
        if not partner.is_file():
            raise DataFormatError(partner, f"{path.name} holds one class of pairs; its partner file is missing")
        files = sorted([path, partner], key=lambda p: p.name.lower().startswith("mis"))
        lines = None
    rows, fold, previous_same = [], 0, True
    for file in files:
        numbered = lines if lines is not None else [(k, line) for k, line in enumerate(read_lines(file, "pairs file"), 1) if line.strip()]
        for (number, line), fields in zip(numbered, csv.reader(line for _, line in numbered)):
            fields = [f.strip() for f in fields]
            while fields and not fields[-1]:
                fields.pop()
            if len(fields) < 2 or not fields[1].isdigit():
                if number == numbered[0][0]:
                    continue  # the header: name,imagenum1,imagenum2
                raise DataFormatError(file, f"expected 'name,imagenum1,imagenum2' or 'name1,imagenum1,name2,imagenum2', got {line!r}", number)
            is_same = len(fields) == 3
            if is_same and not previous_same and len(files) == 1:
                fold += 1
            previous_same = is_same
            rows.append((number, fields, is_same, fold, file))
    return rows


def _lfw_file(folder: Path, person: str, number: int, unpadded: list) -> Path:
    """<folder>/<person>/<person>_0003.jpg, or <person>_3.jpg when only that (unpadded) name exists."""
    padded = folder / person / f"{person}_{number:04d}.jpg"
    if padded.is_file():
        return padded
    plain = padded.with_name(f"{person}_{number}.jpg")
    if plain != padded and plain.is_file():
        unpadded.append((plain.name, padded.name))
        return plain
    return padded


def _not_named_so(image: Path, source: Path, line: int) -> None:
    """A missing LFW image whose person folder holds images not named as LFW names them (Name_0001.jpg): one
    error naming what the folder holds instead."""
    person = image.parent.name
    held = sorted(p.name for p in image.parent.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    lfw_named = lambda name: (name.startswith(person + "_") and name[len(person) + 1:-4].isdigit()
                              and len(name) == len(person) + 9 and name.endswith(".jpg"))
    if not held or all(lfw_named(name) for name in held):
        return  # LFW's naming, this number missing: the reader's usual message
    shown = ", ".join(held[:3]) + (f" ... ({len(held)} images)" if len(held) > 3 else "")
    raise DataFormatError(source, f"image {image} named here does not exist; {person}/ holds {shown}: LFW names a "
                                  f"person's images {person}_0001.jpg, {person}_0002.jpg ... (the number in 4 digits; "
                                  f"{person}_1.jpg is read too); {SKIP_MISSING_HINT}", line)


def _read_rows(rows, path: Path, root: Path, skip_missing: bool, variant) -> PairSet:
    """rows: (line number, fields, is_same, fold[, file]) of pairs.txt-style pairs."""
    # the image folder: the one holding the first names found (one misspelt name must not send the search elsewhere)
    probes = [name for row in rows[:PROBES] for name in row[1][:1] + row[1][2:3] if not name.isdigit()]
    folder, searched = find_image_folder(path, root, probes or [""], variant)
    missing = MissingImages(skip_missing, searched)
    read, unpadded = PairList(), []
    for number, fields, is_same, f, *file in rows:
        source = file[0] if file else path
        if is_same and len(fields) != 3:
            raise DataFormatError(source, f"expected a same-identity pair 'Name<TAB>i<TAB>j' (fold {f + 1}), got {' '.join(fields)!r}", number)
        if not is_same and len(fields) != 4:
            raise DataFormatError(source, f"expected a different-identity pair 'Name1<TAB>i<TAB>Name2<TAB>j' (fold {f + 1}), got {' '.join(fields)!r}", number)
        people = (fields[0], fields[0]) if is_same else (fields[0], fields[2])
        numbers = (fields[1], fields[2]) if is_same else (fields[1], fields[3])
        numbers = [parse_number(num, source, number, "an image number", int) for num in numbers]
        if not is_same and people[0] == people[1]:
            read.skip(ONE_PERSON, source, number, " ".join(fields))
            continue
        files = [_lfw_file(folder, person, num, unpadded) for person, num in zip(people, numbers)]
        if not skip_missing and not searched:
            for image in files:
                if not image.is_file() and image.parent.is_dir():
                    _not_named_so(image, source, number)
        if not all(missing.ok(p, source, number) for p in files):
            read.missing.append(f"{Path(source).name}:{number} ({' '.join(fields)})")
            continue
        read.add(files, people, is_same, f, source, number, " ".join(fields))
    if unpadded:
        plain, padded = unpadded[0]
        read.notes.append(f"{len(set(unpadded))} images named without LFW's 4-digit number ({plain} for {padded}): "
                          f"read under those names ({Path(path).name} names them as LFW does)")
    return _pair_set(read, folder, path, missing)


def _pair_set(read: PairList, folder, path, missing) -> PairSet:
    if not read.pairs:  # every pair skipped: say so here, not as an empty contact sheet or a one-fold protocol later
        counts = {"missing image": missing.dropped["missing_image"], **read.counts()}
        if not any(counts.values()):
            raise DataFormatError(path, "no pairs listed")
        where = f"; {missing.searched}" if missing.searched else ""
        if set(k for k, n in counts.items() if n) == {"missing image"}:
            raise DataFormatError(path, f"no pair left: {counts['missing image']} skipped (missing image{where})")
        raise DataFormatError(path, f"no pair left: {sum(counts.values())} skipped ("
                                    + ", ".join(f"{why} {n}" for why, n in counts.items() if n) + f"{where})")
    images = ImageSet(list(read.index), {"identity": np.array(read.names)}, None, str(folder))
    notes = read.notes + read.left_out_notes()
    if notes:
        images.meta["pair_notes"] = notes
    result = PairSet(images, np.array(read.pairs, dtype=np.int64).reshape(-1, 2), np.array(read.same, dtype=bool),
                     np.array(read.fold, dtype=np.int64), str(path))
    return with_dropped(result, {"missing_pair": missing.dropped["missing_image"], **read.counts()})


def _cplfw_person(file_name: str) -> str | None:
    """The person a CPLFW / CALFW image name gives (`Aaron_Peirsol_1.jpg` -> Aaron_Peirsol), or None when the
    name is not `<Name>_<number>.<ext>`."""
    stem = Path(file_name).stem
    name, _, number = stem.rpartition("_")
    return name if name and number.isdigit() and any(c.isalpha() for c in name) else None


def _read_cplfw_pairs(path: Path, root: Path, lines, skip_missing: bool, variant, n_folds: int = 10) -> PairSet:
    """CPLFW / CALFW pairs: `Name_1.jpg <label>` per image, consecutive lines a pair (folds: _cplfw_folds).
    Both lines of a pair carry its label; lines that disagree are an error naming the second."""
    if len(lines) % 2:
        raise DataFormatError(path, f"expected pairs of lines (two images per pair), found {len(lines)} lines", lines[-1][0])
    for number, line in lines:
        if len(line.split()) != 2:
            raise DataFormatError(path, f"expected 'Name_1.jpg <label>', got {line.strip()!r}", number)
    what = "a pair label (0 different; 1 same, or CALFW's fold 1..10)"
    every = [parse_number(line.split()[1], path, number, what, int) for number, line in lines]
    for k in range(0, len(lines), 2):
        if every[k] != every[k + 1]:
            raise DataFormatError(path, f"the two lines of a pair disagree on its label: line {lines[k][0]} "
                                        f"({lines[k][1].strip()}) says {every[k]}, this line {every[k + 1]} (each "
                                        "line of a pair carries the pair's label: 0 different, else same)", lines[k + 1][0])
    labels = every[::2]
    names = [line.split()[0] for _, line in lines]
    folder, searched = find_image_folder(path, root, names[:2 * PROBES], variant)
    missing = MissingImages(skip_missing, searched)
    # pairs whose label disagrees with the people their Name_N.jpg names give; when many do, the names do not
    # name people (a user's own img_1.jpg ...) and the labels are kept as they are
    people = [_cplfw_person(name) for name in names]
    odd = [k for k, label in enumerate(labels) if None not in people[2 * k:2 * k + 2]
           and (people[2 * k] == people[2 * k + 1]) != (label != 0)]
    by_name = len(odd) <= max(2, len(labels) // 20)
    read = PairList()
    odd = set(odd)
    for k, (label, pair_fold) in enumerate(zip(labels, _cplfw_folds(labels, n_folds))):
        n1, n2 = lines[2 * k][0], lines[2 * k + 1][0]
        text = f"{names[2 * k]} {names[2 * k + 1]} {label}"
        files = [folder / names[2 * k], folder / names[2 * k + 1]]
        if by_name and k in odd:
            read.check_labels(files, label != 0, path, n1, text)  # listed before with the other label: that first
            read.skip(ONE_PERSON if label == 0 else TWO_PEOPLE, path, n1, text)
            continue
        if not all(missing.ok(p, path, n) for p, n in zip(files, (n1, n2))):
            read.missing.append(f"{path.name}:{n1} ({text})")
            continue
        read.add(files, [Path(p).stem.rsplit("_", 1)[0] for p in files], label != 0, pair_fold, path, n1, text)
    if odd and not by_name:
        read.notes.append(f"{len(odd)} of {len(labels)} pairs have a label the Name_N.jpg file names contradict (a "
                          "'different' pair of one name or a 'same' pair of two): the names do not seem to name the "
                          "people, so every pair is kept as labelled")
    return _pair_set(read, folder, path, missing)


def _cplfw_folds(labels: list[int], n_folds: int) -> list[int]:
    """Each pair's fold. When every positive comes first and every negative after it (pairs_CPLFW.txt and
    pairs_CALFW.txt as released): the k-th tenth of the positives and the k-th tenth of the negatives, in file
    order, make fold k (FaceX-Zoo's parsers), except that CALFW's positives labelled with their fold number
    1..n_folds (some above 1) go to that fold. Otherwise (classes interleaved, e.g. a fold's same pairs then its
    different ones, as LFW's pairs.txt orders them): consecutive blocks."""
    n, negatives = len(labels), labels.count(0)
    positives = labels[:n - negatives]
    if not (negatives and positives and 0 not in positives):
        return [min(k * n_folds // n, n_folds - 1) for k in range(n)]
    shared = [k * n_folds // negatives for k in range(negatives)]
    if max(positives) > 1 and max(positives) <= n_folds:  # CALFW: a positive's label is its fold
        return [label - 1 for label in positives] + shared
    return [k * n_folds // len(positives) for k in range(len(positives))] + shared
