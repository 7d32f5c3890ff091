"""AffectNet (Mollahosseini et al., 2017), in the two forms its authors distribute.

    full images + lists   Manually_Annotated_file_lists/training.csv, validation.csv (or beside the images):
                          `subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,
                          valence,arousal`, the path relative to Manually_Annotated_Images/; each face is read as
                          the square crop around its box (image_decode.BoxedImage). validation.csv is released
                          without this header row: a list whose first row is a data row (an image path, nine
                          fields) is read in this column order. The images folder may sit in a wrapper
                          (Manually_Annotated/Manually_Annotated_Images/, Manually_Annotated_Images/ twice)
    cropped release       train_set/images/0.jpg + train_set/annotations/0_exp.npy (also _val, _aro, _lnd),
                          val_set/..., sometimes test_set/...

Expression codes: 0 neutral, 1 happiness, 2 sadness, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt;
8 none, 9 uncertain and 10 no-face are not expressions and are skipped and counted. The test set was never
released: validation is the test split (as every paper reports it), unless a test_set/ folder is present,
when val_set/ is the validation split. Task `classification` over CLASSES. Either form is also found up to
two folders below the path given (ROOT/AffectNet/train_set/, an archive's own folder).

Option `target="valence_arousal"` reads the continuous labels instead (the lists' valence,arousal columns, the
cropped release's <n>_val.npy / <n>_aro.npy): 'target' (N,2) in [-1, 1], meta['target_columns'] ['valence',
'arousal'], task regression (evaluate.suite sets it). Faces without them (-2: no-face / uncertain, or any value
outside [-1, 1]) are skipped and counted; the expression code is then not read.
Sources: Mollahosseini et al., AffectNet (IEEE TAC 2017, arXiv 1708.03985); public loaders that drop rows with
valence == arousal == -2 before regression.

Option `classes=7` is the 7-class protocol most tables report beside the 8-class one: contempt (code 7) is skipped
and counted (`dropped['contempt (7-class protocol)']`), meta['class_names'] lists the other seven (codes 0..6
keep their numbers). Default 8.

Evidence (read, not copied): loaders found by text search (repositories not shown) read
`Manually_Annotated_file_lists/training.csv` / `validation.csv` with pandas (columns `subDirectory_filePath`,
`expression`; keep `expression < 8`), the images under `Manually_Annotated/Manually_Annotated_Images/` or
`Manually_Annotated_compressed/Manually_Annotated_Images/` (wrappers two deep: found); one drops codes > 6 from
both lists for seven classes and skips the first row of validation.csv as a header (so copies with a header row
exist: both are read); another's comment lists 0 Neutral ... 7 Contempt, 8 None, 9 Uncertain, 10 No-Face, and an
mmcls-style AffectNet dataset takes num_classes=7 by default over the same code order; msy1412/AU-ViT
`utils/parameter.py` keeps separate `AffectNet/split_7` and `split` copies. oawiles/FAb-Net
`FAb-Net/code/examples/affectnet/991_7803ea5b....jpg` is a Manually_Annotated_Images `<dir>/<hash>.jpg` name.
Unconfirmed: the cropped release (train_set/val_set/annotations/*.npy) was not found in a loader this time;
whether 7-class papers also drop contempt from training (they do in the loader above) is each paper's choice.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import (BELOW, MissingImages, find_wrapped, one_of, parse_number, with_dropped,
                                            wrapped_folders)
from facessl.data.formats.text import column_index, read_csv
from facessl.data.image_decode import IMAGE_SUFFIXES, BoxedImage
from facessl.errors import DataFormatError, FacesslError

CLASSES = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt")
NOT_EXPRESSIONS = {8: "label none", 9: "label uncertain", 10: "label no-face"}
LISTS = {"training.csv": "train", "validation.csv": "test"}
LIST_FOLDER = "Manually_Annotated_file_lists"
LIST_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
                "expression", "valence", "arousal")  # training.csv's header; validation.csv comes without one
IMAGE_FOLDER = "Manually_Annotated_Images"
CROPPED_SETS = ("train_set", "val_set", "test_set")
TARGETS = ("expression", "valence_arousal")
VA_COLUMNS = ("valence", "arousal")
CONTEMPT_LEFT_OUT = "contempt (7-class protocol)"
NO_VA = "valence/arousal not given"  # -2 in the release: no face, or uncertain
PTH_TABLE = "labels.csv"  # Kaggle's class-folder copy: `,pth,label,relFCs`


def read_affectnet(root, skip_missing: bool = False, target: str = "expression", classes: int = 8) -> ImageSet:
    """AffectNet faces: labels 'class' (N,) index into CLASSES, or with target="valence_arousal" 'target' (N,2);
    split train / test (/ val). classes=7: the 7-class protocol (contempt, code 7, skipped and counted)."""
    root, target = Path(root), one_of(target, TARGETS, "affectnet", "target")
    classes = _class_count(classes)
    folder = root.parent if root.is_file() else find_wrapped(root, lambda f: _is_cropped(f) or bool(_lists_in(f)))
    if folder is not None and _is_cropped(folder):
        return _read_cropped(folder, target, classes)
    lists = _lists_in(folder if folder is not None else root.parent / LIST_FOLDER)  # root: the images folder
    if not lists:
        raise DataFormatError(root, f"AffectNet not found here or {BELOW}: expected training.csv / validation.csv "
                                    f"(alone or in {LIST_FOLDER}/) or train_set/, val_set/ with annotations/"
                                    + _other_copy_hint(root))
    return _read_lists(lists, skip_missing, target, classes)


def _class_count(classes) -> int:
    """7 (AffectNet's 7-class protocol: contempt left out) or 8 (all eight expressions)."""
    text = str(classes).strip()
    if text not in ("7", "8"):
        raise FacesslError(f"affectnet classes {classes!r}: expected 7 (without contempt) or 8")
    return int(text)


def _protocol_label(label, reason, target: str, classes: int):
    """Contempt (code 7) skipped under the 7-class protocol; everything else as given."""
    if reason is None and target == "expression" and classes == 7 and label == 7:
        return None, CONTEMPT_LEFT_OUT
    return label, reason


def _other_copy_hint(root: Path) -> str:
    """What a Kaggle copy in another layout needs: class folders are read by imagefolder:, a YOLO copy by yolo:."""
    if not root.is_dir():
        return ""
    below = [f for f in wrapped_folders(root) if f.is_dir()]
    if any((f / "labels").is_dir() and (f / "images").is_dir() for f in below):
        return (f"; this looks like a YOLO-format copy (images/ + labels/*.txt, class names in data.yaml): "
                f"read it as yolo:{root}")
    classes = {"anger", "angry", "contempt", "disgust", "fear", "happy", "happiness", "neutral", "sad", "sadness",
               "surprise"}
    folders = next((f for f in below if sum((f / c).is_dir() or (f / c.capitalize()).is_dir() for c in classes) >= 3),
                   None)
    if folders is not None:
        return _pth_table_hint(folders, root) or f"; a copy in class folders (train/<class>/) is read as imagefolder:{root}"
    if any(_numbered_classes(f) for f in below):
        return (f"; numbered class folders (0/, 1/, ...) are numbered by whoever made the copy, not always in AffectNet's "
                f"code order: read them as imagefolder:{root} (classes named by the numbers)")
    return ""


def _numbered_classes(folder: Path) -> bool:
    """folder holds 3 to 8 class folders 0/ .. 7/ and nothing else (Manually_Annotated_Images/ holds 1/ .. 1000+/)."""
    names = [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    return 3 <= len(names) and all(n in {str(code) for code in range(len(CLASSES))} for n in names)


def _pth_table_hint(folder: Path, root: Path) -> str:
    """Kaggle's noamsegal/affectnet-training-data: <class>/ folders + labels.csv (`,pth,label,relFCs`), whose label
    disagrees with the image's folder for some images (loaders such as AffectNetCSVDataset read the csv's label)."""
    table = next((f / PTH_TABLE for f in (folder, folder.parent) if (f / PTH_TABLE).is_file()), None)
    if table is None:
        return ""
    try:
        header = read_csv(table, "AffectNet labels.csv")[0]
    except DataFormatError:
        return ""
    if not {"pth", "label"} <= {h.lower() for h in header}:
        return ""
    return (f"; its {PTH_TABLE} (pth,label) labels each image, for some images otherwise than its folder (as users of "
            f"this copy report): read it as "
            f"csv:{table} with --reader-option image_column=pth --reader-option label_column=label "
            f"(imagefolder:{root} takes the folders')")


def _is_cropped(folder: Path) -> bool:
    return any((folder / name / "annotations").is_dir() for name in CROPPED_SETS)


def _lists_in(folder: Path) -> list[Path]:
    """training.csv / validation.csv in folder or in its Manually_Annotated_file_lists/."""
    for place in (folder, folder / LIST_FOLDER):
        found = [place / name for name in LISTS if (place / name).is_file()]
        if found:
            return found
    return []


def _list_rows(path: Path, wanted) -> tuple[list[int], list]:
    """(indices of the `wanted` columns, (line, fields) rows) of a list. A first row that is not the header but a
    data row (an image path, as many fields as LIST_COLUMNS: validation.csv as released) is read as data."""
    header, rows = read_csv(path, "AffectNet list")
    named = any(h.lower() == LIST_COLUMNS[0].lower() for h in header)
    if not named and len(header) == len(LIST_COLUMNS) and header[0].lower().endswith(IMAGE_SUFFIXES):
        header, rows = list(LIST_COLUMNS), [(1, header)] + rows
    return [column_index(header, name, path, "AffectNet list") for name in wanted], rows


def _images_root(lists: list[Path], first: str | None) -> tuple[Path, str]:
    """(the folder the lists' paths are relative to, '' or where it was looked for): a Manually_Annotated_Images/
    or the folder holding the first listed image, at or below the lists' folder or the one above it (wrappers
    such as Manually_Annotated/ looked through); else the lists' folder."""
    bases = [lists[0].parent, lists[0].parent.parent]
    holds = lambda f: f.name == IMAGE_FOLDER or (first is not None and (f / first).is_file())
    found = next((f for f in (find_wrapped(b, holds) for b in bases) if f is not None), None)
    if found is not None:
        return found, ""
    return bases[0], f"no {IMAGE_FOLDER}/ holding {first} in {bases[0]} or {bases[1]} (or {BELOW})"


def _code(text: str, path, number) -> int:
    code = parse_number(text, path, number, "an expression code 0..10", int)
    if not 0 <= code <= 10:
        raise DataFormatError(path, f"expected an expression code 0..10, got {code}", number)
    return code


def _va(valence: str, arousal: str, path, number) -> tuple[float, float] | None:
    """(valence, arousal), or None where not given (-2, or anything outside [-1, 1])."""
    values = tuple(parse_number(t, path, number, f"a number for {n}", float) for t, n in zip((valence, arousal),
                                                                                             VA_COLUMNS))
    return values if all(-1 <= v <= 1 for v in values) else None


def _read_lists(lists: list[Path], skip_missing: bool, target: str, classes: int = 8) -> ImageSet:
    wanted = LIST_COLUMNS[:5] + (("expression",) if target == "expression" else VA_COLUMNS)
    tables = [(path, *_list_rows(path, wanted)) for path in lists]
    first = next((rows[0][1][columns[0]] for _, columns, rows in tables if rows), None)
    images_root, searched = _images_root(lists, first)
    missing = MissingImages(skip_missing, searched)
    dropped: Counter = Counter()
    images, labels, split = [], [], []
    for path, columns, rows in tables:
        for number, fields in rows:
            rel, x, y, w, h, *values = (fields[i] for i in columns)
            label, reason = _protocol_label(*_list_label(values, path, number), target, classes)
            if reason:
                dropped[reason] += 1
                continue
            x, y, w, h = (parse_number(v, path, number, "a face box number", float) for v in (x, y, w, h))
            if w <= 0 or h <= 0:
                raise DataFormatError(path, f"expected a face box of positive size, got {w:g} x {h:g}", number)
            image = images_root / rel
            if not missing.ok(image, path, number):
                continue
            images.append(BoxedImage(image, (x, y, x + w, y + h)))
            labels.append(label)
            split.append(LISTS[path.name])
    if searched and not images:
        raise DataFormatError(lists[0], f"none of the listed images found ({searched})")
    dropped.update(missing.dropped)
    return _image_set(images, labels, split, lists[0].parent, dropped, "AffectNet lists (validation.csv as test)",
                      target, classes)


def _list_label(values: list[str], path, number):
    """(label, None) of a list row, or (None, why it is skipped): the expression code, or (valence, arousal)."""
    if len(values) == 2:
        va = _va(*values, path, number)
        return (va, None) if va else (None, NO_VA)
    code = _code(values[0], path, number)
    return (None, NOT_EXPRESSIONS[code]) if code in NOT_EXPRESSIONS else (code, None)


def _npy_value(path: Path, what: str) -> str:
    try:
        return str(np.load(path, allow_pickle=False).reshape(-1)[0])  # '3' or 3, as releases differ
    except (ValueError, OSError, IndexError) as exc:
        raise DataFormatError(path, f"expected one {what} ({exc})") from None


def _cropped_label(annotations: Path, stem: str, target: str):
    """(label, None) of one cropped face, or (None, why it is skipped)."""
    if target == "expression":
        path = annotations / f"{stem}_exp.npy"
        if not path.is_file():
            return None, "image without _exp.npy"
        code = _code(_npy_value(path, "expression code 0..10"), path, None)
        return (None, NOT_EXPRESSIONS[code]) if code in NOT_EXPRESSIONS else (code, None)
    paths = [annotations / f"{stem}_{suffix}.npy" for suffix in ("val", "aro")]
    if not all(p.is_file() for p in paths):
        return None, "image without _val.npy / _aro.npy"
    va = _va(*(_npy_value(p, f"{n} number") for p, n in zip(paths, VA_COLUMNS)), paths[0], None)
    return (va, None) if va else (None, NO_VA)


def _read_cropped(root: Path, target: str, classes: int = 8) -> ImageSet:
    has_test = (root / "test_set" / "annotations").is_dir()
    names = {"train_set": "train", "val_set": "val" if has_test else "test", "test_set": "test"}
    dropped: Counter = Counter()
    images, labels, split = [], [], []
    for name in CROPPED_SETS:
        folder = root / name
        if not (folder / "annotations").is_dir():
            continue
        for image in sorted((folder / "images").iterdir()) if (folder / "images").is_dir() else []:
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            label, reason = _protocol_label(*_cropped_label(folder / "annotations", image.stem, target), target, classes)
            if reason:
                dropped[reason] += 1
                continue
            images.append(str(image))
            labels.append(label)
            split.append(names[name])
    how = "AffectNet train_set / val_set / test_set" if has_test else "AffectNet train_set / val_set (as test)"
    return _image_set(images, labels, split, root, dropped, how, target, classes)


def _image_set(images, labels, split, source: Path, dropped: Counter, split_from: str, target: str,
               classes: int = 8) -> ImageSet:
    if not labels:
        wanted = (f"an expression label (codes 0..{classes - 1})" if target == "expression"
                  else "valence/arousal in [-1, 1]")
        raise DataFormatError(source, f"no AffectNet face with {wanted}"
                                      + (f"; skipped {dict(dropped)}" if dropped else ""))
    if target == "expression":
        meta, values = {"class_names": list(CLASSES[:classes])}, {"class": np.array(labels, dtype=np.int64)}
    else:
        meta = {"target_columns": list(VA_COLUMNS), "report_ccc": True}  # scored by MAE and CCC
        values = {"target": np.array(labels, dtype=np.float32)}
    meta["split_from"] = split_from
    result = ImageSet(images, values, np.array(split), str(source), meta=meta)
    return with_dropped(result, {k: v for k, v in dropped.items() if v})
