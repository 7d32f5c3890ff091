"""Hugging Face Hub datasets as Parquet files (`huggingface-cli download REPO --repo-type dataset`):
`--dataset parquet:PATH`, PATH one `.parquet` file or a folder searched up to 3 levels down for them.

    data/train-00000-of-00002.parquet data/train-00001-of-00002.parquet data/test-00000-of-00001.parquet
    train.parquet test.parquet                                   (a split's own file)
    default/train/0000.parquet default/test/0000.parquet          (the Hub's refs/convert/parquet branch)
Each file's split comes from its name (`<split>-NNNNN-of-NNNNN.parquet`, `<split>.parquet`) or its folder's
(`train/0000.parquet`, `partial-train/0000.parquet`), with the Hub's split keywords: train/training,
validation/valid/val/dev, test/testing/eval/evaluation. A split's files are read in name order. Splits as
`imagefolder:`'s: train + val without test makes val the test split; one split (train only) or none: a seeded
split, stratified over the classes, grouped (`group_column`, else each row its own group).

Columns (options, as `csv:`'s): `image_column` (default: the column the schema's `huggingface` metadata types as
`Image`, else the first struct column with `bytes` and `path` fields), `label_column` (default: the one `ClassLabel`
column of the metadata, else a column named `label` or `labels`), `group_column`, `min_class_count`,
`test_fraction`, `seed`. labels: 'class' (N,) int index into meta['class_names'] (the ClassLabel `names` of the
classes present, in their order; else the sorted distinct values) and 'group' (N,) str.

Images: each row's encoded bytes (the original JPEG / PNG ...) are written once, unchanged, as files into
`<cache>/parquet/<key>/` (cache: the reader option `cache=DIR`, else $FACESSL_CACHE or ~/.cache/facessl), one
folder per Parquet file, key = its real path, size and modification time and the image column; written into a
temporary folder and renamed into place whole (engine.io.atomic_path), so an interrupted extraction is redone.
The ImageSet lists those files, decoded later as any image file. The suffix comes from the bytes' magic number
(JPEG, PNG, WebP, BMP, GIF, TIFF), else from the struct's `path`. Rows with no image bytes, an image of unknown
format, or a null label (or ClassLabel -1, "no label") are skipped and counted in `dropped`. Read only with
pyarrow (no unpickling).

Conventions checked against (search tool, session 36):
- huggingface/datasets `src/datasets/features/image.py`: `Image.pa_type = pa.struct({"bytes": pa.binary(),
  "path": pa.string()})`; bytes are the image file's own bytes, `path` infers the format (older releases wrote
  the struct as `{"path", "bytes"}`: fields are found by name, not position).
- huggingface/datasets `src/datasets/features/features.py`, `Features.arrow_schema`: the schema's key-value
  metadata `{"huggingface": json.dumps({"info": {"features": self.to_dict()}})}`; a feature dict has `_type`
  ("Image", "ClassLabel" with `names`, "Value" ...); `docs/source/about_dataset_features.mdx`: ClassLabel labels
  are stored as integers, names by index.
- Hub docs "File names and splits" (huggingface.co/docs/hub/datasets-file-names-and-splits) and datasets docs
  "Structure your repository": split keywords and their synonyms, split names delimited by non-word characters,
  `data/train-*` shards as push_to_hub writes them (e.g. huggingface.co/datasets/axiong/imagenet-r commit
  "Convert dataset to Parquet": `test/test-00000-of-00005.parquet`); parquet-converter commits on the Hub
  (`default/train/0000.parquet`, `split/partial-train/0000.parquet`) for refs/convert/parquet.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import (SPLIT_SEED, TEST_FRACTION, case_only_meta, grouped_stratified_split,
                                           leave_out_rare_classes)
from facessl.data.formats.imagefiles import with_dropped
from facessl.data.formats.imagefolder import SPLIT_FOLDERS, split_of
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import DataFormatError, FacesslError

CACHE_VERSION = 1
SEARCH_DEPTH = 3
LABEL_COLUMNS = ("label", "labels")
HUB_SPLIT_WORDS = {**SPLIT_FOLDERS, "dev": "val", "eval": "test", "evaluation": "test"}  # the Hub's synonyms too
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, None: 3}
NO_BYTES = "no image bytes"
UNKNOWN_IMAGE = "image of unknown format"
NO_LABEL = "empty_label"
EXPECTED = "expected Hugging Face Parquet files, e.g. data/train-00000-of-00001.parquet"


def _pyarrow(path):
    """(pyarrow, pyarrow.parquet), imported here only: the other readers do not need them."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataFormatError(path, "reading Parquet needs pyarrow: pip install pyarrow") from None
    return pa, pq


def parquet_files(path: Path) -> list[Path]:
    """The .parquet file given, or those in the folder and up to SEARCH_DEPTH folders below (hidden ones skipped)."""
    if path.is_file():
        if path.suffix.lower() != ".parquet":
            raise DataFormatError(path, f"not a .parquet file; {EXPECTED} (or a folder of them)")
        return [path]
    if not path.is_dir():
        raise DataFormatError(path, f"no such file or folder; {EXPECTED}")
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        depth = len(Path(dirpath).relative_to(path).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < SEARCH_DEPTH else []
        found += [Path(dirpath) / f for f in filenames if f.lower().endswith(".parquet") and not f.startswith(".")]
    if not found:
        raise DataFormatError(path, f"no .parquet files here or up to {SEARCH_DEPTH} folders below; {EXPECTED}")
    return sorted(found)


def split_of_file(file: Path) -> str | None:
    """train / val / test from `<split>-00000-of-00002.parquet`, `<split>.parquet` or the folder `<split>/0000.parquet`."""
    for name in (re.sub(r"-\d+-of-\d+$", "", file.stem), file.parent.name):
        split = split_of(name, HUB_SPLIT_WORDS)
        if split is not None:
            return split
    return None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _features(schema) -> dict:
    """The `huggingface` metadata's features ({column: {'_type': ...}}), {} when absent or unreadable."""
    raw = (schema.metadata or {}).get(b"huggingface")
    try:
        features = json.loads(raw)["info"]["features"] if raw else {}
    except (ValueError, KeyError, TypeError):
        return {}
    return features if isinstance(features, dict) else {}


def _type_of(features: dict, column: str) -> str | None:
    feature = features.get(column)
    return feature.get("_type") if isinstance(feature, dict) else None


def _is_image_struct(pa, dtype) -> bool:
    if not pa.types.is_struct(dtype):
        return False
    names = {dtype.field(i).name for i in range(dtype.num_fields)}
    return {"bytes", "path"} <= names


def _columns_text(schema) -> str:
    return ", ".join(schema.names)


def _image_column(pa, schema, features: dict, file: Path, image_column: str | None) -> str:
    if image_column is not None:
        if image_column not in schema.names:
            raise DataFormatError(file, f"no column {image_column!r}; the columns are {_columns_text(schema)}")
        dtype = schema.field(image_column).type
        if not (_is_image_struct(pa, dtype) or pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype)):
            raise DataFormatError(file, f"column {image_column!r} is {dtype}, not an image (expected the Image struct "
                                        "{bytes, path} or binary)")
        return image_column
    typed = [c for c in schema.names if _type_of(features, c) == "Image" and _is_image_struct(pa, schema.field(c).type)]
    structs = [c for c in schema.names if _is_image_struct(pa, schema.field(c).type)]
    if typed or structs:
        return (typed or structs)[0]
    raise DataFormatError(file, "no image column (a struct of bytes and path, the Hugging Face Image feature); give "
                                f"--image-column NAME (the columns are {_columns_text(schema)})")


def _label_column(schema, features: dict, file: Path, label_column: str | None) -> str:
    if label_column is not None:
        if label_column not in schema.names:
            raise DataFormatError(file, f"no column {label_column!r}; the columns are {_columns_text(schema)}")
        return label_column
    class_labels = [c for c in schema.names if _type_of(features, c) == "ClassLabel"]
    if len(class_labels) == 1:
        return class_labels[0]
    named = [c for c in schema.names if c.lower() in LABEL_COLUMNS]
    if named:
        return named[0]
    several = f" (ClassLabel columns: {', '.join(class_labels)})" if class_labels else ""
    raise DataFormatError(file, f"no label column (one ClassLabel column, or one named label){several}; give "
                                f"--label-column NAME (the columns are {_columns_text(schema)})")


def image_suffix(data: bytes, path: str | None) -> str | None:
    """The file suffix of encoded image bytes, from their magic number, else from the struct's path."""
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if data[:2] == b"BM":
        return ".bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    suffix = Path(path).suffix.lower() if path else ""
    return suffix if suffix in IMAGE_SUFFIXES else None


def cache_folder(root: Path, file: Path, column: str) -> Path:
    st = file.stat()
    text = json.dumps([CACHE_VERSION, os.path.realpath(file), st.st_size, st.st_mtime_ns, column])
    return root / hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _extracted(folder: Path) -> dict | None:
    """The index of a finished extraction ({'files': {row: name}, 'skipped': {row: reason}}), None if not there."""
    try:
        index = json.loads((folder / "index.json").read_text())
        return index if isinstance(index.get("files"), dict) and isinstance(index.get("skipped"), dict) else None
    except (OSError, ValueError, AttributeError):
        return None


def extract_images(pq, pa, file: Path, column: str, folder: Path) -> dict:
    """Write each row's image bytes, unchanged, into `folder` (whole, through a temporary folder); its index."""
    from facessl.engine.io import atomic_path

    files, skipped = {}, {}
    try:
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            row = 0
            for batch in pq.ParquetFile(file).iter_batches(columns=[column], batch_size=256):
                array = batch.column(0)
                is_struct = pa.types.is_struct(array.type)
                data = array.field("bytes").to_pylist() if is_struct else array.to_pylist()
                paths = array.field("path").to_pylist() if is_struct else [None] * len(array)
                valid = array.is_valid().to_pylist()
                for ok, blob, name in zip(valid, data, paths):
                    suffix = image_suffix(blob, name) if ok and blob else None
                    if not ok or not blob:
                        skipped[row] = NO_BYTES
                    elif suffix is None:
                        skipped[row] = UNKNOWN_IMAGE
                    else:
                        files[row] = f"{row:07d}{suffix}"
                        (tmp / files[row]).write_bytes(blob)
                    row += 1
            (tmp / "index.json").write_text(json.dumps({"source": str(file), "column": column, "rows": row,
                                                        "files": files, "skipped": skipped}))
    except OSError as exc:
        raise FacesslError(f"parquet: cannot write the images of {file} to {folder} ({exc.strerror or exc}); give "
                           "another folder with --reader-option cache=DIR or $FACESSL_CACHE") from None
    return {"files": {str(k): v for k, v in files.items()}, "skipped": {str(k): v for k, v in skipped.items()}}


def _class_names(features: dict, column: str):
    feature = features.get(column)
    names = feature.get("names") if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" else None
    return [str(n) for n in names] if isinstance(names, list) else None


def _natural(text: str):
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)


def read_hf_parquet(path, image_column=None, label_column=None, group_column=None,
                    test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED, min_class_count: int = 0,
                    cache=None) -> ImageSet:
    """ImageSet of a Hugging Face Parquet dataset (see module doc)."""
    from facessl.data import face_cache

    path = Path(path)
    files = parquet_files(path)
    pa, pq = _pyarrow(path)

    splits = {f: split_of_file(f) for f in files}
    if any(s is not None for s in splits.values()):
        unsplit = [f for f in files if splits[f] is None]
        if unsplit:
            raise DataFormatError(unsplit[0], "cannot tell this file's split from its name, while other files here "
                                              "are named by split (train-00000-of-00001.parquet, test/0000.parquet)")
    files.sort(key=lambda f: (SPLIT_ORDER[splits[f]], f.as_posix()))
    root = face_cache.cache_root(cache, "parquet")
    features, image_col, label_col, class_names = None, None, None, None
    images, raw, groups, split = [], [], [], []
    dropped: Counter = Counter()
    for file in files:
        try:
            schema = pq.read_schema(file)
        except (OSError, pa.ArrowException) as exc:
            raise DataFormatError(file, f"not a readable Parquet file ({_one_line(exc)})") from None
        file_features = _features(schema)
        if features is None:
            features = file_features
            image_col = _image_column(pa, schema, features, file, image_column)
            label_col = _label_column(schema, features, file, label_column)
            class_names = _class_names(features, label_col)
        else:
            _image_column(pa, schema, features, file, image_col)  # the same columns in every file
            _label_column(schema, features, file, label_col)
        if group_column is not None and group_column not in schema.names:
            raise DataFormatError(file, f"no column {group_column!r}; the columns are {_columns_text(schema)}")
        ltype = schema.field(label_col).type
        if not (pa.types.is_integer(ltype) or pa.types.is_string(ltype) or pa.types.is_large_string(ltype)
                or pa.types.is_boolean(ltype)):
            raise DataFormatError(file, f"label column {label_col!r} is {ltype}; expected one class per row "
                                        "(integers or text)")
        folder = cache_folder(root, file, image_col)
        index = _extracted(folder) or extract_images(pq, pa, file, image_col, folder)
        columns = [label_col] + ([group_column] if group_column else [])
        try:
            table = pq.read_table(file, columns=columns)
        except (OSError, pa.ArrowException) as exc:
            raise DataFormatError(file, f"not a readable Parquet file ({_one_line(exc)})") from None
        labels = table.column(label_col).to_pylist()
        group_values = table.column(group_column).to_pylist() if group_column else None
        rel = file.relative_to(path).as_posix() if file != path else file.name
        for row, value in enumerate(labels):
            key = str(row)
            if key in index["skipped"]:
                dropped[index["skipped"][key]] += 1
                continue
            if key not in index["files"]:
                raise DataFormatError(file, f"row {row} has no extracted image in the cache {folder}; delete that "
                                            "folder to extract again")
            if value is None or (class_names is not None and value == -1):
                dropped[NO_LABEL] += 1
                continue
            if class_names is not None:
                if not isinstance(value, int) or not 0 <= value < len(class_names):
                    raise DataFormatError(file, f"row {row}: label {value!r} in column {label_col!r} is not a class "
                                                f"index 0..{len(class_names) - 1} of its ClassLabel names")
                value = class_names[value]
            images.append(str(folder / index["files"][key]))
            raw.append(str(value))
            groups.append(str(group_values[row]) if group_values is not None else f"{rel}#{row}")
            split.append(splits[file])
    if not images:
        raise DataFormatError(path, f"no row with both an image and a label ({', '.join(f'{n} {why}' for why, n in dropped.items()) or 'no rows'})")
    (images, raw, groups, split), rare, rare_dropped = leave_out_rare_classes(raw, min_class_count, images, raw,
                                                                               groups, split)
    dropped.update(rare_dropped)
    present = set(raw)
    names = ([n for n in class_names if n in present] if class_names is not None
             else sorted(present, key=_natural))
    index_of = {n: i for i, n in enumerate(names)}
    labels = np.array([index_of[v] for v in raw], dtype=np.int64)
    groups = np.array(groups)
    meta = {"class_names": names, "label_column": label_col, "image_column": image_col,
            "parquet_files": len(files), "image_cache": str(root)}
    if rare:
        meta["left_out_classes"] = rare
    if class_names is not None and len(names) < len(class_names):
        meta["absent_classes"] = [n for n in class_names if n not in present]
    meta.update(case_only_meta(names))
    found = set(split)
    if found - {None, "train"}:
        if "train" not in found:
            raise DataFormatError(path, f"found the {', '.join(sorted(found))} split(s) but no train split")
        val_is_test = found == {"train", "val"}
        split = np.array(["test" if val_is_test and s == "val" else s for s in split])
        meta["split_from"] = "file names" + (" (no test split: validation is the test split)" if val_is_test else "")
    else:
        split = grouped_stratified_split(labels, groups, test_fraction, seed)
        how = f"column {group_column!r}" if group_column else "each row on its own"
        one = "one split (train) in the files: " if found == {"train"} else ""
        meta["split_from"] = f"{one}seeded ({seed}) stratified split, {test_fraction:.0%} test, grouped by {how}"
    return with_dropped(ImageSet(images, {"class": labels, "group": groups}, split, str(path), meta=meta), dropped)
