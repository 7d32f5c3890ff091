"""parquet: Hugging Face Hub datasets as Parquet files, written here as the `datasets` library writes them (the
Image feature's struct {bytes, path}, ClassLabel names in the schema's `huggingface` metadata, split-named shards)."""
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from facessl.data import formats
from facessl.errors import FacesslError

import pyarrow as pa  # a dependency of facessl (pyproject.toml): never skipped
import pyarrow.parquet as pq

NAMES = ["angry", "happy", "sad"]
PNG = b"\x89PNG"
IMAGE = pa.struct({"bytes": pa.binary(), "path": pa.string()})


def encoded(seed, fmt):
    pixels = np.random.default_rng(seed).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def write(path, rows, names=NAMES, label_type="ClassLabel", image_name="image", label_name="label"):
    """rows: (bytes or None, label or None); written as datasets' Features.arrow_schema does."""
    label_feature = {"names": names, "_type": "ClassLabel"} if label_type == "ClassLabel" else {"dtype": "string", "_type": "Value"}
    features = {image_name: {"_type": "Image"}, label_name: label_feature}
    schema = pa.schema([(image_name, IMAGE), (label_name, pa.int64() if label_type == "ClassLabel" else pa.string())],
                       metadata={"huggingface": json.dumps({"info": {"features": features}})})
    suffix = lambda b: "png" if b.startswith(PNG) else "jpg"
    images = [None if b is None else {"bytes": b, "path": f"img{i}.{suffix(b)}"} for i, (b, _) in enumerate(rows)]
    table = pa.table({image_name: pa.array(images, IMAGE), label_name: [lab for _, lab in rows]}, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


@pytest.fixture
def fer(tmp_path, monkeypatch):
    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "fer"
    blobs = {k: encoded(k, "PNG" if k % 2 else "JPEG") for k in range(8)}
    write(root / "data" / "train-00000-of-00002.parquet", [(blobs[0], 0), (blobs[1], 1), (None, 2)])
    write(root / "data" / "train-00001-of-00002.parquet", [(blobs[2], 2), (blobs[3], None), (blobs[4], 0)])
    write(root / "data" / "test-00000-of-00001.parquet", [(blobs[5], 1), (blobs[6], 2), (blobs[7], 0)])
    return root, blobs


def test_reads_images_labels_splits_and_counts(fer):
    root, blobs = fer
    data = formats.read("parquet", root)
    assert data.meta["class_names"] == NAMES
    assert data.meta["image_column"] == "image" and data.meta["label_column"] == "label"
    # train shards in name order (a null image and a null label skipped), then test
    assert [data.meta["class_names"][c] for c in data.labels["class"]] == ["angry", "happy", "sad", "angry",
                                                                           "happy", "sad", "angry"]
    assert list(data.split) == ["train"] * 4 + ["test"] * 3
    assert data.dropped == {"no image bytes": 1, "empty_label": 1}
    expected = [blobs[k] for k in (0, 1, 2, 4, 5, 6, 7)]
    for file, blob in zip(data.images, expected):
        assert open(file, "rb").read() == blob  # written unchanged
        assert file.endswith(".png" if blob.startswith(PNG) else ".jpg")
        original = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
        assert np.array_equal(formats.load_image(file), original)


def test_cache_is_reused_and_redone_when_the_file_changes(fer):
    root, blobs = fer
    first = formats.read("parquet", root)
    stamps = {f: os.stat(f).st_mtime_ns for f in first.images}
    again = formats.read("parquet", root)
    assert again.images == first.images
    assert {f: os.stat(f).st_mtime_ns for f in again.images} == stamps  # not rewritten
    test_file = root / "data" / "test-00000-of-00001.parquet"
    write(test_file, [(blobs[7], 2), (blobs[6], 1)])
    changed = formats.read("parquet", root)
    new_test = [f for f, s in zip(changed.images, changed.split) if s == "test"]
    assert not set(new_test) & set(first.images)  # a new folder for the changed file
    assert [open(f, "rb").read() for f in new_test] == [blobs[7], blobs[6]]
    assert [f for f, s in zip(changed.images, changed.split) if s == "train"] == first.images[:4]  # kept


def test_an_interrupted_extraction_leaves_nothing_used(fer, monkeypatch):
    root, _ = fer
    from facessl.data.formats import hf_parquet

    real = hf_parquet.image_suffix
    calls = []

    def failing(data, path):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(data, path)

    monkeypatch.setattr(hf_parquet, "image_suffix", failing)
    with pytest.raises(KeyboardInterrupt):
        formats.read("parquet", root)
    monkeypatch.setattr(hf_parquet, "image_suffix", real)
    assert len(formats.read("parquet", root)) == 7  # redone whole


def test_split_folders_single_file_and_values_as_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "conv" / "default"
    rows = [(encoded(k, "JPEG"), ["b", "a"][k % 2]) for k in range(10)]
    write(root / "train" / "0000.parquet", rows[:6], label_type="Value", image_name="img", label_name="emotion")
    write(root / "validation" / "0000.parquet", rows[6:], label_type="Value", image_name="img", label_name="emotion")
    data = formats.read("parquet", tmp_path / "conv", label_column="emotion")
    assert data.meta["class_names"] == ["a", "b"] and data.meta["image_column"] == "img"
    assert list(data.split) == ["train"] * 6 + ["test"] * 4  # no test split: validation is the test split
    one = formats.read("parquet", root / "train" / "0000.parquet", label_column="emotion")  # one split: seeded
    assert len(one) == 6 and set(one.split) == {"train", "test"}


def test_one_line_errors(tmp_path, fer):
    root, blobs = fer
    cases = []
    (tmp_path / "empty").mkdir()
    cases.append((tmp_path / "empty", "no .parquet files"))
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), plain)
    cases.append((plain, "no image column"))
    bad = tmp_path / "bad" / "x.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"not parquet at all")
    cases.append((bad, "not a readable Parquet file"))
    for path, words in cases:
        with pytest.raises(FacesslError) as error:
            formats.read("parquet", path)
        message = str(error.value)
        assert words in message and str(path) in message and "\n" not in message, message
    with pytest.raises(FacesslError) as error:
        formats.read("parquet", root, label_column="emotion")
    assert "no column 'emotion'" in str(error.value) and "image, label" in str(error.value)
    with pytest.raises(FacesslError) as error:
        formats.read("parquet", plain, image_column="a")
    assert "not an image" in str(error.value)


def test_without_pyarrow_says_pip_install(fer, monkeypatch):
    import builtins

    root, _ = fer
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kw):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(FacesslError) as error:
        formats.read("parquet", root)
    assert "pip install pyarrow" in str(error.value) and str(root) in str(error.value)


def test_eval_reads_a_hub_dataset_end_to_end(tmp_path, monkeypatch):
    import facessl
    from eval_toys import ToyEncoder
    from facessl.cli import main

    hub = tmp_path / "hub" / "data"
    write(hub / "train-00000-of-00001.parquet", [(encoded(k, "PNG"), k % 3) for k in range(30)])
    write(hub / "test-00000-of-00001.parquet", [(encoded(100 + k, "JPEG"), k % 3) for k in range(12)])
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    (tmp_path / "run").mkdir()
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"parquet:{tmp_path / 'hub'}",
                 "--out", str(tmp_path / "ev"), "--baselines", "none", "--seeds", "1", "--epochs", "4",
                 "--device", "cpu", "--quiet"]) == 0
    task, = json.loads((tmp_path / "ev" / "results.json").read_text())["tasks"]
    assert task["task"] == "classification" and task["info"]["class_names"] == NAMES
    assert task["info"]["train_rows"] == 30 and task["info"]["test_rows"] == 12 and task["info"]["split"] == "file names"
    assert 0 <= task["rows"]["checkpoint"]["fs"]["metrics"]["accuracy"]["mean"] <= 1
