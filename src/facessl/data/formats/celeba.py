"""CelebA: the aligned faces with their 40 binary attributes, and where CelebA's files lie (also for mafl).

As released (Google Drive / Baidu):
    <root>/Img/img_align_celeba/000001.jpg          178x218 aligned faces (the PNG copy: Img/img_align_celeba_png/000001.png)
    <root>/Anno/list_attr_celeba.txt                line 1: the number of images; line 2: the 40 attribute names;
                                                    then `000001.jpg -1  1  1 -1 ...` (runs of spaces; -1 absent, 1 present)
    <root>/Eval/list_eval_partition.txt             `000001.jpg 0`: 0 train, 1 validation, 2 test
    <root>/Anno/identity_CelebA.txt                 `000001.jpg 2880`: the person (10,177 people; not in Kaggle's copy)
Kaggle's copy (jessicali9530/celeba-dataset): `img_align_celeba/img_align_celeba/000001.jpg`,
`list_attr_celeba.csv` (`image_id,5_o_Clock_Shadow,...`, values -1/1), `list_eval_partition.csv`
(`image_id,partition`). The list files are also found flat in the root, and the whole tree up to two folders
below the path (the Drive folder downloaded as CelebA/, Kaggle's archive unpacked as archive/). `img_celeba/` (the in-the-wild photos)
is not the aligned set and is never read.

Labels: 'attributes' (N, A) float32 0/1, meta['attribute_names']; with the identity list also 'identity' (the
person's number as text), which makes `--task verification` draw LFW-style pairs from CelebA's people. Split train /
val / test from the partition file (162,770 / 19,867 / 19,962 images, people disjoint), else a seeded random split,
whole people to a side when the identity list is there (meta['split_from'] says which).

Evidence (read, not copied): pytorch/vision `torchvision/datasets/celeba.py` (base folder `celeba/` holding the
lists flat: list_attr_celeba.txt and list_landmarks_align_celeba.txt and list_bbox_celeba.txt read with header=1,
i.e. line 1 the count and line 2 the names; list_eval_partition.txt and identity_CelebA.txt without a header;
space-delimited, skipinitialspace (runs of spaces); split 0 train, 1 valid, 2 test; attributes mapped from {-1, 1}
to {0, 1} by (a + 1) // 2; images `img_align_celeba/` from img_align_celeba.zip). Matched: all of it (the
torchvision root is found: `celeba/` is one folder below it). Unconfirmed: TensorFlow Datasets' celeb_a builder was
not read in this session; list_bbox_celeba.txt (boxes in the unaligned photos) is not used.
"""
from __future__ import annotations

import difflib
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION
from facessl.data.formats.imagefiles import (BELOW, MissingImages, field_rows, find_wrapped, parse_number,
                                             read_lines, with_dropped)
from facessl.data.formats.text import column_index, read_csv
from facessl.errors import DataFormatError, FacesslError

ATTRIBUTE_LIST = "list_attr_celeba"
PARTITION_LIST = "list_eval_partition"
IDENTITY_LIST = "identity_CelebA"
ATTRIBUTE_COUNT = 40
PARTITIONS = {"0": "train", "1": "val", "2": "test"}
VALUES = {"-1": 0.0, "1": 1.0}


# --- where CelebA's files lie (one place, for this reader and mafl's) ----------------------------------
def find_list(root, stem: str) -> Path | None:
    """CelebA's list `stem` as released (`stem.txt` in the root, `Anno/` or `Eval/`) or Kaggle's `stem.csv`."""
    root = Path(root)
    candidates = [root / f"{stem}.txt", root / "Anno" / f"{stem}.txt", root / "Eval" / f"{stem}.txt",
                  root / f"{stem}.csv"]
    return next((c for c in candidates if c.is_file()), None)


def release_folder(root, stem: str) -> Path:
    """The folder whose find_list finds `stem`: the root, else one up to two folders below it (the Drive
    download's CelebA/, Kaggle's archive/); the root when there is none (the reader then says what is missing)."""
    root = Path(root)
    return find_wrapped(root, lambda folder: find_list(folder, stem) is not None) or root


@dataclass(frozen=True)
class AlignedImages:
    """The folder of the aligned faces; the lists name `000001.jpg`, which the PNG copy stores as `000001.png`."""

    folder: Path
    suffix: str = ".jpg"

    def path(self, name: str) -> Path:
        return self.folder / (name if self.suffix == ".jpg" else str(Path(name).with_suffix(self.suffix)))


def find_aligned_images(root) -> AlignedImages:
    """The aligned JPEGs (Kaggle's doubled `img_align_celeba/img_align_celeba/`, the flat `img_align_celeba/`,
    the release's `Img/img_align_celeba/`), else the PNG copy; `root/img_align_celeba` when none exists (each
    image is then reported missing)."""
    root = Path(root)
    jpeg = [root / "img_align_celeba" / "img_align_celeba", root / "img_align_celeba", root / "Img" / "img_align_celeba"]
    folder = next((c for c in jpeg if c.exists()), None)
    if folder is not None:
        if folder.name == folder.parent.name and not any(folder.glob("*.jpg")):
            folder = folder.parent  # an empty doubled folder beside the images
        return AlignedImages(folder)
    png = [root / "img_align_celeba_png", root / "Img" / "img_align_celeba_png",
           root / "Img" / "img_align_celeba_png.7z" / "img_align_celeba_png"]  # the Drive folder unpacked in place
    folder = next((c for c in png if c.exists()), None)
    return AlignedImages(folder, ".png") if folder is not None else AlignedImages(root / "img_align_celeba")


# --- the attribute and partition lists ----------------------------------------------------------------
@dataclass
class AttributeTable:
    path: Path
    names: list[str]
    header_line: int  # where the names are, for errors about them
    rows: list[tuple[int, str, list[float]]]  # (line, image name, 0/1 per attribute)


def _values(fields, names, path, line) -> list[float]:
    values = []
    for name, text in zip(names, fields):
        if text not in VALUES:
            raise DataFormatError(path, f"attribute {name}: expected -1 or 1, got {text!r}", line)
        values.append(VALUES[text])
    return values


def _check_names(names: list[str], path, line: int) -> None:
    if len(names) != ATTRIBUTE_COUNT:
        raise DataFormatError(path, f"expected the {ATTRIBUTE_COUNT} CelebA attribute names, got {len(names)}", line)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataFormatError(path, f"attribute {repeated[0]!r} is named twice", line)


def read_attribute_list(path) -> AttributeTable:
    """list_attr_celeba.txt as released (see the module doc)."""
    path = Path(path)
    lines = read_lines(path, "CelebA attribute list")
    count = parse_number(lines[0].strip() if lines else "", path, 1, "the number of images on the first line", int)
    names = lines[1].split() if len(lines) > 1 else []
    _check_names(names, path, 2)
    rows = []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1:
            raise DataFormatError(path, f"expected an image name and {len(names)} values, got {len(fields)} fields", number)
        rows.append((number, fields[0], _values(fields[1:], names, path, number)))
    if len(rows) != count:
        raise DataFormatError(path, f"first line says {count} images, found {len(rows)}", 1)
    return AttributeTable(path, names, 2, rows)


def read_attribute_csv(path) -> AttributeTable:
    """Kaggle's list_attr_celeba.csv: `image_id` and one column per attribute."""
    path = Path(path)
    header, csv_rows = read_csv(path, "CelebA attribute table")
    image = column_index(header, "image_id", path, "CelebA attribute table")
    names = [h for i, h in enumerate(header) if i != image]
    _check_names(names, path, 1)
    rows = [(number, fields[image], _values([f for i, f in enumerate(fields) if i != image], names, path, number))
            for number, fields in csv_rows]
    return AttributeTable(path, names, 1, rows)


def read_partition(path) -> dict[str, str]:
    """image name -> 'train' / 'val' / 'test' from list_eval_partition.txt or Kaggle's .csv."""
    path = Path(path)
    if path.suffix == ".csv":
        header, csv_rows = read_csv(path, "CelebA partition table")
        columns = [column_index(header, c, path, "CelebA partition table") for c in ("image_id", "partition")]
        pairs = [(number, fields[columns[0]], fields[columns[1]]) for number, fields in csv_rows]
    else:
        pairs = [(number, f[0], f[1]) for number, f in field_rows(path, "CelebA partition list", 2, "image partition")]
    table = {}
    for number, name, code in pairs:
        if code not in PARTITIONS:
            raise DataFormatError(path, f"expected partition 0 (train), 1 (val) or 2 (test), got {code!r}", number)
        table[name] = PARTITIONS[code]
    return table


def read_identity_list(path) -> dict[str, str]:
    """image name -> its person's number (as text) from identity_CelebA.txt."""
    path = Path(path)
    table = {}
    for number, (name, person) in field_rows(path, "CelebA identity list", 2, "image person"):
        if not person.isdigit():
            raise DataFormatError(path, f"expected the person's number after {name}, got {person!r}", number)
        table[name] = person
    return table


# --- the reader -----------------------------------------------------------------------------------------
def chosen_columns(table: AttributeTable, attributes) -> list[int]:
    """Column indices of the attributes asked for (a list or a comma string; names exact, else any case)."""
    if attributes is None:
        return list(range(len(table.names)))
    if not isinstance(attributes, (str, list, tuple)):
        raise FacesslError(f"attributes: expected names, e.g. attributes=[Smiling,Male], got {attributes!r}")
    wanted = [a.strip() for a in attributes.split(",")] if isinstance(attributes, str) else [str(a) for a in attributes]
    lowered = {n.lower(): i for i, n in enumerate(table.names)}
    columns = []
    for name in filter(None, wanted):
        index = table.names.index(name) if name in table.names else lowered.get(name.lower())
        if index is None:
            close = difflib.get_close_matches(name, table.names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DataFormatError(table.path, f"no attribute {name!r}{hint}; the attributes are "
                                              f"{', '.join(table.names)}", table.header_line)
        if index not in columns:  # a name given twice is one column
            columns.append(index)
    if not columns:
        raise FacesslError("attributes: name at least one attribute, e.g. attributes=[Smiling,Male]")
    return columns


def seeded_split(n: int, seed: int, people: np.ndarray | None = None) -> np.ndarray:
    """train / test per row when no partition file is there: a seeded random TEST_FRACTION held out, of the
    people when they are known (a person's photos all on one side, as CelebA's own partition keeps them)."""
    split = np.full(n, "train", dtype=object)
    rng = np.random.default_rng(seed)
    if people is None:
        split[rng.permutation(n)[:int(round(TEST_FRACTION * n))]] = "test"
        return split
    names = np.unique(people)
    held_out = rng.permutation(names)[:int(round(TEST_FRACTION * len(names)))]
    split[np.isin(people, held_out)] = "test"
    return split


def limited_training(split: np.ndarray, limit_train, seed: int) -> np.ndarray:
    """Rows kept: every val/test row and at most `limit_train` training rows (a seeded choice)."""
    if limit_train is None:
        return np.arange(len(split))
    if isinstance(limit_train, bool) or not isinstance(limit_train, numbers.Integral) or limit_train < 1:
        raise FacesslError(f"limit_train: expected a number of training images >= 1, got {limit_train!r}")
    train = np.flatnonzero(split == "train")
    if len(train) <= limit_train:
        return np.arange(len(split))
    kept = np.random.default_rng(seed).choice(train, size=limit_train, replace=False)
    return np.sort(np.concatenate([np.flatnonzero(split != "train"), kept]))


def read_celeba(root, attributes=None, limit_train: int | None = None, skip_missing: bool = False,
                seed: int = SPLIT_SEED) -> ImageSet:
    """CelebA's aligned faces with labels 'attributes' (N, A) 0/1: all 40 in the list's order, or the `attributes`
    asked for in the order asked; split from the partition file. limit_train: use at most that many training
    images (a seeded choice; validation and test are kept whole) — extracting all 162,770 is slow on a CPU."""
    root = release_folder(root, ATTRIBUTE_LIST)
    attribute_file = find_list(root, ATTRIBUTE_LIST)
    if attribute_file is None:
        raise DataFormatError(root, f"{ATTRIBUTE_LIST}.txt not found (looked in the folder, Anno/ and for "
                                    f"Kaggle's {ATTRIBUTE_LIST}.csv, here and {BELOW})")
    table = read_attribute_csv(attribute_file) if attribute_file.suffix == ".csv" else read_attribute_list(attribute_file)
    if not table.rows:
        raise DataFormatError(attribute_file, "lists no images")
    columns = chosen_columns(table, attributes)
    people = _people(root, table)
    split, split_from = _split(root, table, seed, people)
    keep = limited_training(split, limit_train, seed)
    if len(keep) < len(split):
        split_from += f"; training images limited to {limit_train} of {int(np.sum(split == 'train'))} (seeded {seed})"
    images = find_aligned_images(root)
    missing = MissingImages(skip_missing)
    paths, values, kept_split, kept_rows = [], [], [], []
    for row in keep:
        number, name, row_values = table.rows[row]
        path = images.path(name)
        if not missing.ok(path, attribute_file, number):
            continue
        paths.append(str(path))
        values.append([row_values[c] for c in columns])
        kept_split.append(split[row])
        kept_rows.append(row)
    if not paths:
        raise DataFormatError(attribute_file, "no image it lists was found")
    labels = {"attributes": np.array(values, dtype=np.float32)}
    if people is not None:
        labels["identity"] = people[kept_rows]
    meta = {"attribute_names": [table.names[c] for c in columns], "split_from": split_from}
    if people is not None:
        meta["identity_from"] = f"{IDENTITY_LIST}.txt ({len(np.unique(labels['identity']))} people)"
    result = ImageSet(paths, labels, np.array(kept_split), str(root), meta=meta)
    return with_dropped(result, missing.dropped)


def _people(root: Path, table: AttributeTable) -> np.ndarray | None:
    """Each attribute row's person from identity_CelebA.txt, or None when the copy has no identity list."""
    identity_file = find_list(root, IDENTITY_LIST)
    if identity_file is None:
        return None
    return np.array(_per_row(table, read_identity_list(identity_file), identity_file))


def _per_row(table: AttributeTable, by_image: dict[str, str], source: Path) -> list[str]:
    """by_image's value for each attribute row; an image the other list lacks is an error naming the row."""
    values = []
    for number, name, _ in table.rows:
        if name not in by_image:
            raise DataFormatError(table.path, f"image {name} has no line in {source.name}", number)
        values.append(by_image[name])
    return values


def _split(root: Path, table: AttributeTable, seed: int, people: np.ndarray | None) -> tuple[np.ndarray, str]:
    """The split of each attribute row and where it came from."""
    partition_file = find_list(root, PARTITION_LIST)
    if partition_file is None:
        apart = (f"whole people to a side, from {IDENTITY_LIST}.txt" if people is not None
                 else "people not kept apart")
        return seeded_split(len(table.rows), seed, people), (f"seeded ({seed}) random split, {TEST_FRACTION:.0%} "
                                                             f"test (no {PARTITION_LIST} file; {apart})")
    split = _per_row(table, read_partition(partition_file), partition_file)
    return np.array(split, dtype=object), f"{partition_file.name} (0 train, 1 val, 2 test)"
