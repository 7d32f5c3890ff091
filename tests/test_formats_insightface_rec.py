"""InsightFace's RecordIO training sets (train.rec + train.idx), written here byte by byte as MXNet's recordio
and InsightFace's packing scripts write them, read without MXNet."""
import io
import struct

import numpy as np
import pytest
from PIL import Image

from eval_toys import ToyEncoder
from facessl.data import formats
from facessl.data.formats import insightface_rec
from facessl.errors import FacesslError
from facessl.evaluate import runner
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec
from test_identity_supervised import people_pairs

MAGIC = 0xCED7230A


def png(seed, size=12):
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return pixels, buffer.getvalue()


def payload(label, image=b""):
    """mx.recordio.pack: IRHeader (flag, label, id, id2), a label array after it when flag > 0."""
    labels = np.atleast_1d(np.asarray(label, np.float32))
    if len(labels) == 1:
        return struct.pack("<IfQQ", 0, float(labels[0]), 0, 0) + image
    return struct.pack("<IfQQ", len(labels), 0.0, 0, 0) + labels.tobytes() + image


def record(data, cflag=0):
    return struct.pack("<II", MAGIC, (cflag << 29) | len(data)) + data + b"\0" * (-len(data) % 4)


def write_rec(folder, payloads, name="train"):
    """train.rec + train.idx (`key<TAB>offset`) of payloads keyed 0, 1, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    blob, lines = b"", []
    for key, data in enumerate(payloads):
        lines.append(f"{key}\t{len(blob)}")
        blob += record(data)
    (folder / f"{name}.rec").write_bytes(blob)
    (folder / f"{name}.idx").write_text("\n".join(lines) + "\n")


def insightface_layout(folder, per_person=(3, 2, 4)):
    """Record 0: (first identity record, end); images 1..n; then one record per identity with its key range."""
    images, payloads, ranges, key = [], [], [], 1
    for person, count in enumerate(per_person):
        ranges.append((key, key + count))
        for k in range(count):
            pixels, data = png(10 * person + k)
            images.append(pixels)
            payloads.append(payload(person, data))
            key += 1
    first_identity = key
    header = payload([first_identity, first_identity + len(per_person)])
    write_rec(folder, [header, *payloads, *(payload(list(r)) for r in ranges)])
    return images


def test_insightfaces_layout_gives_each_image_its_identity_and_pixels(tmp_path):
    images = insightface_layout(tmp_path / "faces_emore")
    data = formats.read("insightface-rec", tmp_path / "faces_emore")
    assert list(data.labels["identity"]) == [0, 0, 0, 1, 1, 2, 2, 2, 2]
    assert data.meta == {"identities": 3, "record_layout": "insightface"}
    for item, pixels in zip(data.images, images):
        assert np.array_equal(formats.load_image(item), pixels)
    assert str(data.images[0]).endswith("train.rec#1") and data.source.endswith("train.rec")
    one_each = formats.read("insightface-rec", tmp_path / "faces_emore" / "train.rec", per_identity=1)
    assert list(one_each.labels["identity"]) == [0, 1, 2]


def test_without_identity_records_each_images_own_label_names_its_identity(tmp_path):
    pictures = [png(k) for k in range(4)]
    # record 0 says images are 1..4 and identities 5..6, but the identity records were not packed; labels are arrays
    write_rec(tmp_path / "glint", [payload([5, 7])] + [payload([k // 2, 0.0], data) for k, (_, data) in enumerate(pictures)])
    data = formats.read("insightface-rec", tmp_path / "glint")
    assert list(data.labels["identity"]) == [0, 0, 1, 1] and data.meta["record_layout"] == "insightface, labels per image"
    assert np.array_equal(formats.load_image(data.images[3]), pictures[3][0])


def test_a_plain_im2rec_file_is_read_record_by_record(tmp_path):
    pictures = [png(k) for k in range(5)]
    write_rec(tmp_path / "casia", [payload(k % 2, data) for k, (_, data) in enumerate(pictures)])
    (tmp_path / "casia" / "train.idx").write_text("0\t0\r\n\r\n" + "\n".join(
        (tmp_path / "casia" / "train.idx").read_text().splitlines()[1:]) + "\n")  # CRLF and a blank line
    data = formats.read("insightface-rec", tmp_path)  # the folder above: found one folder below
    assert list(data.labels["identity"]) == [0, 1, 0, 1, 0] and data.meta["record_layout"] == "plain"
    assert np.array_equal(formats.load_image(data.images[4], None), pictures[4][0])


def test_a_record_written_in_parts_is_joined_with_the_magic_between_them(tmp_path):
    first, second = b"abcd", b"efgh"
    path = tmp_path / "parts.rec"
    path.write_bytes(record(first, cflag=1) + record(second, cflag=3))
    with open(path, "rb") as f:
        assert insightface_rec.read_record(f, 0, str(path)) == first + struct.pack("<I", MAGIC) + second


def test_broken_record_files_fail_in_one_line_naming_the_file(tmp_path):
    insightface_layout(tmp_path / "a")
    (tmp_path / "a" / "train.idx").write_text("0\t4\n")  # points inside a record
    with pytest.raises(FacesslError, match=r"train.rec.*no RecordIO record at byte 4"):
        formats.read("insightface-rec", tmp_path / "a")
    insightface_layout(tmp_path / "b")
    (tmp_path / "b" / "train.idx").write_text("0\t0\nnot a line\n")
    with pytest.raises(FacesslError, match=r"train.idx:2.*expected 'key<TAB>offset'"):
        formats.read("insightface-rec", tmp_path / "b")
    insightface_layout(tmp_path / "c")
    (tmp_path / "c" / "train.idx").unlink()
    with pytest.raises(FacesslError, match=r"train.idx.*needs train.rec and its index train.idx"):
        formats.read("insightface-rec", tmp_path / "c")


def test_a_recordio_set_alone_is_verified_on_pairs_drawn_from_its_identities(tmp_path):
    insightface_layout(tmp_path / "ids", per_person=(2,) * 20)
    spec = TaskSpec("", f"insightface-rec:{tmp_path / 'ids'}")
    assert spec.task == "verification"
    results = runner.evaluate(ToyEncoder(input_size=12), [spec], EvalOptions(seeds=1, device="cpu", quiet=True),
                              baselines=())
    assert results["tasks"][0]["rows"]["checkpoint"]["fs"]["pairs"] == 40


def test_a_recordio_set_trains_the_verification_rows_supervised_baseline(tmp_path):
    insightface_layout(tmp_path / "ids", per_person=(3, 3, 3, 3, 3, 3, 3))
    options = EvalOptions(seeds=1, supervised_epochs=1, device="cpu", quiet=True)
    spec = TaskSpec("verification", "lfw:toy", f"insightface-rec:{tmp_path / 'ids'}", name="LFW",
                    options={"per_identity": 2})  # an option only the training set's reader takes
    results = runner.evaluate(ToyEncoder(input_size=12), [spec], options, baselines=("supervised",),
                              datasets={"lfw:toy": people_pairs()})
    row = results["tasks"][0]["rows"]["supervised"]["fs"]
    assert row["selection"][0]["identities"] + row["selection"][0]["val_identities"] == 7
    assert row["selection"][0]["images"] == 2 * row["selection"][0]["identities"]
    assert 0 <= row["metrics"]["accuracy"]["mean"] <= 1


def test_the_index_arrays_answer_as_the_lines_read_into_a_dict_would(tmp_path):
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 400, 300)  # unsorted, some written twice (the last line wins, as a dict keeps it)
    offsets = rng.integers(0, 10**12, 300)
    lines = [f"{k}\t{o}" for k, o in zip(keys, offsets)]
    naive = {}
    for k, o in zip(keys, offsets):
        naive[int(k)] = int(o)
    variants = {"fast": "\n".join(lines) + "\n",
                "crlf, bom, blank lines, an extra field": "\ufeff" + "\r\n\r\n".join(lines[:-1]) + f"\r\n{lines[-1]}\tx\r\n"}
    for name, text in variants.items():
        (tmp_path / "train.idx").write_text(text, encoding="utf-8")
        index = insightface_rec.read_index(tmp_path / "train.idx")
        assert len(index) == len(naive), name
        assert {int(k): index[int(k)] for k in index.keys} == naive, name
        probes = np.arange(-5, 410)
        assert list(index.has(probes)) == [int(p) in naive for p in probes], name
        with pytest.raises(KeyError):
            index[401]


def test_an_item_opened_in_another_process_finds_its_offset_again_from_the_idx(tmp_path):
    import pickle

    images = insightface_layout(tmp_path / "faces_emore")
    data = formats.read("insightface-rec", tmp_path / "faces_emore", per_identity=2)
    assert list(data.labels["identity"]) == [0, 0, 1, 1, 2, 2]
    item = pickle.loads(pickle.dumps(data.images[5]))
    insightface_rec._INDEXES.clear()  # a spawned worker holds no index: the item reads train.idx itself
    assert str(item) == str(data.images[5]) and not hasattr(item, "__dict__")
    assert np.array_equal(formats.load_image(item), images[6])  # identity 2's second image (images 5..8 are its)
