"""FER+ (Microsoft's FERPlus): new labels for the FER-2013 faces, ten crowd votes per face over eight emotions
plus 'unknown' and 'not a face' (NF).

Layouts read (the path is the folder, or the label file):
    DIR/fer2013new.csv + DIR/fer2013.csv   the FER+ label file beside Kaggle's FER-2013 CSV (the pixels);
                                           header `Usage,Image name,neutral,...,contempt,unknown,NF`, its rows
                                           in fer2013.csv's order; a row with no image name has no FER+ face
    DIR/FER2013Train/label.csv + fer0000000.png ..., FER2013Valid/, FER2013Test/
                                           the PNG folders FER+'s generate_training_data.py writes; label.csv
                                           lines `fer0000000.png,"(0, 0, 48, 48)",4,0,0,1,3,2,0,0,0,0` (no header)
Both are also found up to two folders below the path (FERPlus-master/ as GitHub's zip unpacks), and fer2013.csv
below fer2013new.csv's folder (Kaggle's fer2013.tar.gz unpacks to fer2013/fer2013.csv).

Labels follow the FER+ code's 'majority' mode: a single vote for an emotion is dropped as an outlier; a face
whose top emotion then holds more than half of the votes gets it; a face without such a majority, or whose
majority is 'unknown' or 'not a face', is skipped and counted in `dropped`. Splits: Training / FER2013Train ->
train, PublicTest / FER2013Valid -> val, PrivateTest / FER2013Test -> test. Task `classification` over
CLASSES (contempt has no place in RAF-DB's seven expressions).

Also read: the first release of the label file, without the `Image name` column (`Usage,neutral,...,NF`, as
microsoft/FERPlus README.md at commit 1dcc2f4 describes it; every row is then a face); label.csv rows without the
face box (`fer0000000.png,4,0,0,1,3,2,0,0,0,0`: what generate_training_data.py writes); and the FERPlus
repository as cloned, fer2013new.csv at its root and the generated folders in data/ (FERPlus-master/data/
FER2013Train/label.csv), read from those folders when no fer2013.csv is found beside the label file.

Evidence (read, not copied): microsoft/FERPlus `fer2013new.csv` (commit 8ad5426: header `Usage,Image name,neutral,
happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF`; rows without an image name, e.g. line 19
`Training,,0,0,0,0,0,0,0,0,0,10`, are FER-2013 rows FER+ judged not a face), `README.md` (same number and order of
rows as fer2013.csv; the older README lists `usage, neutral, ..., NF` with no name column), `data/FER2013Valid/
label.csv` (the shipped lists: `fer0028638.png,"(0, 0, 48, 48)",4,0,0,0,1,0,0,4,1,0`, no header, no images),
`src/generate_training_data.py` (Training -> FER2013Train, PublicTest -> FER2013Valid, PrivateTest -> FER2013Test;
rows with an empty name skipped; label.csv written by csv.writer from the row less its Usage, i.e. name + 10 votes),
`src/ferplus.py` (majority mode: counts <= 1 zeroed as outliers, the top class kept only when it holds more than
half of the remaining votes, else unknown; faces whose top index is unknown or NF dropped; emotion header order as
CLASSES; an older version reads votes as `row[1:]`, a box-less label.csv). Matched: the vote order, the majority
rule and the splits. Unconfirmed: which repository version wrote the box column into the shipped label.csv files.
"""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import (BELOW, MissingImages, find_wrapped, parse_number, read_lines,
                                             with_dropped)
from facessl.data.formats.text import column_index, read_csv
from facessl.errors import DataFormatError

CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
VOTE_COLUMNS = CLASSES + ("unknown", "NF")
LABEL_FILE = "fer2013new.csv"
FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
USAGE_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


def majority_label(votes, minimum: int = 1) -> int | str:
    """FER+'s 'majority' label of one face's ten vote counts: a class index 0..7, or the reason it has none."""
    votes = np.where(np.asarray(votes, np.float64) > minimum, np.asarray(votes, np.float64), 0.0)  # single votes: outliers
    total = votes.sum()
    if total <= 0 or votes.max() <= 0.5 * total:
        return "no majority vote"
    top = int(votes.argmax())
    return top if top < len(CLASSES) else ("majority unknown" if top == len(CLASSES) else "majority not a face")


def read_ferplus(path, skip_missing: bool = False) -> ImageSet:
    """FER+ faces with their majority labels: 'class' (N,) index into CLASSES; images 48x48 RGB in memory
    (beside fer2013.csv) or PNG files (the generated folders). Either is also found up to two folders below
    the path (the repository unpacked as FERPlus-master/)."""
    path = Path(path)
    folder = path.parent if path.is_file() else find_wrapped(path, _holds_labels) or path
    if (folder / LABEL_FILE).is_file() or path.name == LABEL_FILE:
        label_path = folder / LABEL_FILE if path.is_dir() else path
        generated = _png_folders_beside(folder)
        if _pixels_csv(label_path) is None and generated is not None:
            return _read_folders(generated, skip_missing)  # FERPlus-master/ with data/FER2013Train/ ... generated
        return _read_with_fer2013(label_path)
    if _holds_png_folders(folder):
        return _read_folders(folder, skip_missing)
    raise DataFormatError(path, f"FER+ labels not found here or {BELOW}: expected {LABEL_FILE} beside "
                                f"fer2013.csv, or {', '.join(FOLDERS)} folders holding label.csv")


def _holds_png_folders(folder: Path) -> bool:
    return any((folder / name / "label.csv").is_file() for name in FOLDERS)


def _png_folders_beside(folder: Path):
    """The folder holding FER2013Train/ ... next to fer2013new.csv: the same folder, or data/ in it (the FERPlus
    repository keeps fer2013new.csv at its root and data/FER2013Train/label.csv ...); None when there are none."""
    return next((f for f in (folder, folder / "data") if _holds_png_folders(f)), None)


def _holds_labels(folder: Path) -> bool:
    return (folder / LABEL_FILE).is_file() or _holds_png_folders(folder)


def _pixels_csv(label_path: Path):
    """FER-2013's CSV beside fer2013new.csv, or below it: Kaggle's fer2013.tar.gz unpacks to fer2013/fer2013.csv."""
    from facessl.data.formats.fer2013 import find_csv

    def holds_pixels(folder: Path) -> bool:
        found = find_csv(folder)
        return found is not None and found != label_path

    folder = find_wrapped(label_path.parent, holds_pixels)
    return None if folder is None else find_csv(folder)


def _votes(fields, path, number) -> list[int]:
    votes = [parse_number(v, path, number, "a vote count", int) for v in fields]
    if any(v < 0 for v in votes):
        raise DataFormatError(path, "expected vote counts >= 0", number)
    return votes


def _labelled(rows, dropped: Counter):
    """(row, class) of the rows whose votes give a class; the others counted by reason."""
    for row, votes in rows:
        label = majority_label(votes)
        if isinstance(label, str):
            dropped[label] += 1
        else:
            yield row, label


def _read_with_fer2013(label_path: Path) -> ImageSet:
    from facessl.data.formats.fer2013 import SIDE, _parse_pixels

    header, rows = read_csv(label_path, "FER+ label file")
    usage_i = column_index(header, "Usage", label_path, "FER+ label file")
    # the first release (README: `usage, neutral, ..., NF`) has no Image name column: every row is then a face
    name_i = (column_index(header, "Image name", label_path, "FER+ label file")
              if any(h.lower() == "image name" for h in header) else None)
    vote_i = [column_index(header, c, label_path, "FER+ label file") for c in VOTE_COLUMNS]
    pixels_path = _pixels_csv(label_path)
    if pixels_path is None:
        raise DataFormatError(label_path.parent / "fer2013.csv", "FER-2013's CSV (the pixels FER+ labels) not found "
                                                                 f"beside {LABEL_FILE} or {BELOW}")
    pixel_header, pixel_rows = read_csv(pixels_path, "FER-2013 csv")
    if len(pixel_rows) != len(rows):
        raise DataFormatError(label_path, f"{len(rows)} label rows but {len(pixel_rows)} rows in {pixels_path.name}; "
                                          "FER+ labels fer2013.csv row by row")
    pixels_i = column_index(pixel_header, "pixels", pixels_path, "FER-2013 csv")
    dropped: Counter = Counter()
    faces = []
    for k, (number, fields) in enumerate(rows):
        if fields[usage_i] not in USAGE_SPLIT:
            raise DataFormatError(label_path, f"expected Usage one of {', '.join(USAGE_SPLIT)}, got {fields[usage_i]!r}", number)
        if name_i is not None and not fields[name_i]:
            dropped["no FER+ image"] += 1
            continue
        faces.append(((k, number, fields[usage_i]), _votes([fields[i] for i in vote_i], label_path, number)))
    images, labels, split = [], [], []
    for (k, number, usage), label in _labelled(faces, dropped):
        grey = _parse_pixels(pixel_rows[k][1][pixels_i], pixels_path, pixel_rows[k][0]).reshape(SIDE, SIDE)
        images.append(np.repeat(grey[..., None], 3, axis=-1))
        labels.append(label)
        split.append(USAGE_SPLIT[usage])
    return _image_set(np.stack(images) if images else np.zeros((0, SIDE, SIDE, 3), np.uint8), labels, split, label_path, dropped)


def _read_folders(root: Path, skip_missing: bool) -> ImageSet:
    dropped: Counter = Counter()
    missing = MissingImages(skip_missing)
    images, labels, split = [], [], []
    for name, split_name in FOLDERS.items():
        label_path = root / name / "label.csv"
        if not label_path.is_file():
            continue
        lines = [(k, line) for k, line in enumerate(read_lines(label_path, "FER+ label.csv"), 1) if line.strip()]
        faces = []
        for (number, _), fields in zip(lines, csv.reader(line for _, line in lines)):
            fields = [f.strip() for f in fields]
            boxed = len(fields) == 2 + len(VOTE_COLUMNS) and fields[1].startswith("(")
            if len(fields) != 1 + len(VOTE_COLUMNS) and not boxed:
                raise DataFormatError(label_path, f"expected 'fer0000000.png,\"(x, y, w, h)\",<{len(VOTE_COLUMNS)} vote "
                                                  f"counts>' (the box optional), got {len(fields)} fields", number)
            faces.append(((fields[0], number), _votes(fields[-len(VOTE_COLUMNS):], label_path, number)))
        for (file, number), label in _labelled(faces, dropped):
            image = root / name / file
            if not missing.ok(image, label_path, number):
                continue
            images.append(str(image))
            labels.append(label)
            split.append(split_name)
    dropped.update(missing.dropped)
    return _image_set(images, labels, split, root, dropped)


def _image_set(images, labels, split, source: Path, dropped: Counter) -> ImageSet:
    if len(labels) == 0:
        raise DataFormatError(source, "no FER+ face has a majority label" + (f" ({dict(dropped)})" if dropped else ""))
    meta = {"class_names": list(CLASSES), "split_from": "FER+ Usage (Training / PublicTest as val / PrivateTest)"}
    result = ImageSet(images, {"class": np.array(labels, dtype=np.int64)}, np.array(split), str(source), meta=meta)
    return with_dropped(result, {k: v for k, v in dropped.items() if v})
