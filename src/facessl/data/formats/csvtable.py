"""A CSV table of images and their labels, e.g. `image,label` or the shared set's `user.id,image,emotion`.

Columns are chosen by name (options of `facessl eval --dataset csv:FILE`):
    image_column   path of the image, relative to `images` (default: the CSV's folder); default the
                   first of image, file, filename, path, img
    label_column   a class label (any text or integers)              -> labels 'class', task classification
    target_columns numeric columns, e.g. yaw,pitch,roll                -> labels 'target' (N,k), task regression
    point_columns  x,y columns in pairs (x1,y1,x2,y2,... or x*,y* wildcards interleaved) -> 'landmarks' (N,K,2)
    group_column   rows sharing a value stay on one side of every split (else `group` regex on the file name)
    split_column   train / val / test per row (else a seeded split, stratified for classes, grouped; byte-identical
                   files are one group: data/copies.py)
    box_columns    four columns of a face box in the photo (box_format 'xywh': x, y, width, height; 'xyxy': x0, y0,
                   x1, y1): each row is then the square crop around its box (image_decode.BoxedImage), and point
                   columns are moved into the crop
Comma, tab or semicolon separated; quoted fields, BOM and CRLF accepted (formats.text). An Excel workbook
(`csv:labels.xlsx`) is read the same way from its first worksheet with rows, header on its first non-empty row,
numbers as Excel shows them (formats.xlsx); a sheet holding the named columns is preferred (a notes sheet before
the table is passed over), `sheet` names one; messages name `labels.xlsx [sheet NAME]:ROW`.
A table naming original photos reads the crops `facessl prepare --images` made of them (formats.prepared_photos).
"""
from __future__ import annotations

import fnmatch
import math
from pathlib import Path

import numpy as np

from facessl.data.copies import drawn_keeping_copies
from facessl.data.formats import xlsx
from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import (SPLIT_SEED, TEST_FRACTION, case_only_meta, check_group_matches,
                                           compile_group, group_of, grouped_stratified_split, leave_out_rare_classes)
from facessl.data.formats.imagefiles import MissingImages, with_dropped
from facessl.data.formats.prepared_photos import crops_of
from facessl.data.formats.text import column_index, read_csv
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError, FacesslError

IMAGE_COLUMNS = ("image", "file", "filename", "path", "img", "image_path")
SPLIT_VALUES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "test": "test", "testing": "test"}


def _names(value) -> list[str]:
    if value is None:
        return []
    return [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip()]


def _read(path: Path, columns=(), sheet: str | None = None):
    """(where for messages, header line, 'CSV' or 'sheet', header, rows) of a CSV file or an .xlsx workbook
    (the sheet named, else the first with data rows and the named columns)."""
    if path.suffix.lower() == ".xlsx":
        sheet = xlsx.read_sheet(path, "image table", columns, sheet)
        return sheet.where, sheet.header_line, "sheet", sheet.header, sheet.rows
    header, rows = read_csv(path, "image table")
    if sheet is not None:
        raise FacesslError(f"{path}: sheet={sheet!r} applies to an .xlsx workbook, not a text table")
    return path, 1, "CSV", header, rows


def _expand(patterns: list[str], header: list[str], path, line: int = 1, kind: str = "CSV") -> list[str]:
    """Column names, with shell wildcards expanded in header order; x*,y* pairs interleave."""
    groups = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            hits = [h for h in header if fnmatch.fnmatchcase(h, pattern)]
            if not hits:
                raise DataFormatError(path, f"no column matches {pattern!r}; the header has {', '.join(header)}", line)
            groups.append(hits)
        else:
            column_index(header, pattern, path, kind, line)
            groups.append([pattern])
    if len(groups) == 2 and len(groups[0]) == len(groups[1]) > 1:  # x*,y* -> x1,y1,x2,y2,...
        return [c for pair in zip(*groups) for c in pair]
    return [c for g in groups for c in g]


def read_csv_table(path, images=None, image_column=None, label_column=None, target_columns=None, point_columns=None,
                   group_column=None, split_column=None, group: str | None = None,
                   test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED, skip_missing: bool = False,
                   min_class_count: int = 0, box_columns=None, box_format: str = "xywh",
                   sheet: str | None = None, require_labels: bool = True) -> ImageSet:
    """require_labels=False (`facessl embed`, `inspect`): a table of images alone is read, without a label."""
    path = Path(path)
    named = [c for c in (image_column, label_column, group_column, split_column) if c]
    where, head, kind, header, rows = _read(path, named, sheet)  # where: the file, or `book.xlsx [sheet NAME]`
    if not rows:
        raise DataFormatError(where, "no data rows below the header", head)
    if image_column is None:
        image_column = next((h for h in header if h.lower() in IMAGE_COLUMNS), None)
        if image_column is None:
            raise DataFormatError(where, f"no image column ({', '.join(IMAGE_COLUMNS)}); give --image-column "
                                         f"(the header has {', '.join(header)})", head)
    targets, points = _names(target_columns), _names(point_columns)
    if label_column is None and not targets and not points:
        if not require_labels and not any(h.lower() == "label" for h in header):
            label_column = None
        elif not any(h.lower() == "label" for h in header):
            raise DataFormatError(where, f"no label column 'label'; give --label-column, --target-columns or "
                                         f"--point-columns (the header has {', '.join(header)})", head)
        else:
            label_column = "label"
    if sum(map(bool, (label_column, targets, points))) > 1:
        raise FacesslError("give one of --label-column, --target-columns, --point-columns (one task per table)")
    col = lambda name: column_index(header, name, where, kind, head)
    image_i = col(image_column)
    label_i = col(label_column) if label_column else None
    numeric = [col(c) for c in _expand(targets or points, header, where, head, kind)]
    if points and len(numeric) % 2:
        raise DataFormatError(where, f"point columns come in x,y pairs; got {len(numeric)} columns", head)
    boxes = [col(c) for c in _names(box_columns)]
    if boxes and len(boxes) != 4:
        raise FacesslError(f"--box-columns takes four columns (x,y,width,height or x0,y0,x1,y1), got {len(boxes)}")
    if box_format not in ("xywh", "xyxy"):
        raise FacesslError(f"--box-format must be xywh or xyxy, got {box_format!r}")
    group_i = col(group_column) if group_column else None
    split_i = col(split_column) if split_column else None
    folder = Path(images) if images is not None else path.parent
    if not folder.is_dir():
        raise FacesslError(f"{folder}: image folder (--images) does not exist")
    pattern = compile_group(group)
    if images is None:
        _check_images_are_beside(folder, rows[0], image_i, where)
    missing = MissingImages(skip_missing)
    crops = crops_of(folder)  # a folder made by `facessl prepare --images`: the table may name the original photos
    files, raw_labels, values, groups, split, names_read = [], [], [], [], [], []
    for line, fields in rows:
        name = fields[image_i]
        if not name:
            raise DataFormatError(where, f"empty {image_column!r} field", line)
        if "\\" in name and not (folder / name).is_file():  # written on Windows: imgs\sub\a.jpg
            name = name.replace("\\", "/")
        file = folder / name
        if crops is not None and name in crops and not file.is_file():
            if boxes or numeric:
                raise DataFormatError(where, f"{folder} holds face crops made by facessl prepare, but this table's "
                                             "boxes or points are places in the original photos: pass --images the "
                                             "folder of the original photos", line)
            if not crops[name]:  # prepare found no face in it (or could not read it): no crop to label
                missing.dropped.add("no_crop_from_prepare", file)
                continue
            file = folder / crops[name]
        if label_i is not None and not fields[label_i]:
            if not skip_missing:
                raise DataFormatError(where, f"empty label in column {header[label_i]!r} (--skip-missing skips and "
                                             "counts unlabelled rows)", line)
            missing.dropped.add("empty_label", file)
            continue
        if not missing.ok(file, where, line):
            continue
        if boxes:
            file = BoxedImage(file, _box([_number(fields[i], header[i], where, line) for i in boxes], box_format, where, line))
        files.append(file if boxes else str(file))
        if label_i is not None:
            raw_labels.append(fields[label_i])
        if numeric:
            values.append([_number(fields[i], header[i], where, line) for i in numeric])
            if boxes and points:  # into the crop's pixels
                left, top, _, _ = file.square()
                values[-1] = [v - (left if k % 2 == 0 else top) for k, v in enumerate(values[-1])]
        groups.append(fields[group_i] if group_i is not None else group_of(name, pattern))
        names_read.append(name)
        if split_i is not None:
            value = fields[split_i].lower()
            if value not in SPLIT_VALUES:
                raise DataFormatError(where, f"split {fields[split_i]!r} in column {header[split_i]!r}: expected "
                                             "train, val or test", line)
            split.append(SPLIT_VALUES[value])
    if not files:
        raise DataFormatError(where, "every image this table names is missing")
    check_group_matches(pattern if group_i is None else None, names_read, where)
    if label_i is not None or numeric:
        files, groups, split, raw_labels, values = _unique_rows(files, groups, split, raw_labels, values, missing.dropped)
    labels, meta = {"group": np.array(groups)}, {"split_from": f"column {header[split_i]!r}" if split_i is not None else None}
    if label_i is not None and min_class_count:
        (files, groups, split, raw_labels), rare, dropped = leave_out_rare_classes(
            raw_labels, min_class_count, files, groups, split, raw_labels)
        if rare:
            labels["group"], meta["left_out_classes"] = np.array(groups), rare
            missing.dropped.update(dropped)
    if label_i is not None:
        _check_classes(raw_labels, header[label_i], where, head)
        names = sorted(set(raw_labels), key=_natural)
        labels["class"] = np.array([names.index(v) for v in raw_labels], dtype=np.int64)
        meta.update(class_names=names, label_column=header[label_i])
        meta.update(case_only_meta(names))  # fields are stripped already (formats.text); case is the labeller's call
    elif targets:
        labels["target"] = np.array(values, dtype=np.float64)
        meta["target_columns"] = [header[i] for i in numeric]
    elif points:
        labels["landmarks"] = np.array(values, dtype=np.float64).reshape(len(files), -1, 2)
        meta["point_columns"] = [header[i] for i in numeric]
    if split_i is not None:
        split = np.array(split)
    else:
        strata = labels["class"] if "class" in labels else np.zeros(len(files), dtype=np.int64)
        split, drawn = drawn_keeping_copies(  # byte-identical files (one photo under two names) kept on one side
            lambda g: grouped_stratified_split(strata, g, test_fraction, seed), files, strata, labels["group"], path)
        meta.update(drawn)
        how = f"column {group_column!r}" if group_column else (f"--group '{group}'" if group else "file name")
        meta["split_from"] = f"seeded ({seed}) {'stratified ' if 'class' in labels else ''}split, {test_fraction:.0%} test, grouped by {how}"
    return with_dropped(ImageSet(files, labels, split, str(path), meta=meta), missing.dropped)


def _unique_rows(files, groups, split, raw_labels, values, dropped):
    """One row per image (per face box): a second row with the same label is dropped; an image listed with two
    different labels is dropped whole (which is right is unknown, and its copies could land in train and test).
    Both counted and named (dropped: an imagefiles.Dropped), as `duplicate_row` and `conflicting_labels`."""
    label_of = lambda i: (raw_labels[i] if raw_labels else None, tuple(values[i]) if values else None)
    key_of = lambda i: (str(files[i]), getattr(files[i], "box", None))
    seen: dict = {}
    for i in range(len(files)):
        seen.setdefault(key_of(i), set()).add(label_of(i))
    keep, first = [], set()
    for i in range(len(files)):
        key = key_of(i)
        if len(seen[key]) > 1:
            dropped.add("conflicting_labels", files[i])
        elif key in first:
            dropped.add("duplicate_row", files[i])
        else:
            first.add(key)
            keep.append(i)
    if len(keep) == len(files):
        return files, groups, split, raw_labels, values
    pick = lambda seq: [seq[i] for i in keep] if seq else seq
    return pick(files), pick(groups), pick(split), pick(raw_labels), pick(values)


def _check_classes(raw_labels: list[str], column: str, where, line: int) -> None:
    """A column of measurements (valence 0.53, -0.21 ...) read as classes would give one class per value and a
    probe that cannot be right: said, with the option that reads it as numbers."""
    try:
        numbers = [float(v) for v in raw_labels]
    except ValueError:
        return
    distinct = set(raw_labels)
    if len(distinct) > 20 and any(not float(v).is_integer() for v in distinct) and all(map(math.isfinite, numbers)):
        examples = ", ".join(sorted(distinct)[:3])
        raise DataFormatError(where, f"label column {column!r} holds {len(distinct)} different numbers in "
                                     f"{len(raw_labels)} rows ({examples} ...): a measurement, not classes; read it "
                                     f"with --target-columns {column} (regression)", line)


def _check_images_are_beside(folder: Path, first_row, image_i: int, where) -> None:
    """Without --images the image column is read relative to the CSV's folder. Tables often sit next to the folder
    of images (legend.csv beside images/) or in a folder of their own beside it (data/legend.csv, images/): if the
    first row's image is not in the CSV's folder but a subfolder of it or of its parent holds it, say so in one line
    instead of reporting every image as missing."""
    line, fields = first_row
    name = fields[image_i]
    if not name or (folder / name).is_file():
        return
    near = [d for base in (folder, folder.parent) if base.is_dir() for d in sorted(base.iterdir())
            if d.is_dir() and d != folder and (d / name).is_file()]
    if near:
        raise DataFormatError(where, f"image {name!r} is not in the CSV's folder {folder} but in {near[0]}: pass "
                                     f"--images {near[0]} (Python: images=...), the folder the image column is relative to",
                              line)


def _number(text: str, column: str, path, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataFormatError(path, f"column {column!r}: expected a finite number, got {text!r}", line)
    return value


def _natural(text: str):
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)


def _box(values: list[float], box_format: str, path, line) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 of a face box given as x, y, width, height ('xywh') or two corners ('xyxy')."""
    x0, y0, a, b = values
    x1, y1 = (x0 + a, y0 + b) if box_format == "xywh" else (a, b)
    if x1 <= x0 or y1 <= y0:
        raise DataFormatError(path, f"face box {values} ({box_format}) has no area", line)
    return x0, y0, x1, y1
