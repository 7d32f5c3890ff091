"""InsightFace verification bundles (lfw.bin, agedb_30.bin ...): written here with Python's own pickle at every
protocol, by hand in Python 2's forms (protocol 2 str opcodes, protocol 0 text), with numpy images/flags as
InsightFace's pack scripts and users' scripts write them; read back through the opcode interpreter, which must
refuse anything that would run code without running it."""
import io
import json
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

from facessl.data import formats
from facessl.data.formats.common import PairSet
from facessl.data.formats.insightface_bin import kfold_folds
from facessl.errors import DataFormatError, FacesslError

SIDE = 24


def face(seed, side=SIDE):
    """A smooth random picture (blocks of 8 px: JPEG keeps it close) of side x side."""
    blocks = np.random.default_rng(seed).integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
    return np.kron(blocks, np.ones((8, 8, 1), np.uint8))


def encode(image, fmt="PNG"):
    out = io.BytesIO()
    Image.fromarray(image).save(out, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


def bundle(n_pairs=12, fmt="PNG"):
    """(faces, encoded bins, issame list) of n_pairs pairs: pair k = images 2k, 2k+1."""
    faces = [face(k) for k in range(2 * n_pairs)]
    issame = [k % 3 != 0 for k in range(n_pairs)]
    return faces, [encode(f, fmt) for f in faces], issame


def dump(path, value, protocol):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value, protocol=protocol))  # writing only: the reader never unpickles
    return path


def py2_protocol2(bins, issame) -> bytes:
    """What Python 2's pickle.dump((bins, issame_list), f, protocol=2) writes: str images as SHORT_BINSTRING /
    BINSTRING with BINPUT, a repeated str object as BINGET, APPENDS, NEWTRUE/NEWFALSE, TUPLE2."""
    out, memo = [b"\x80\x02]q\x00("], {}
    for data in bins:
        if data in memo:
            out.append(b"h" + bytes([memo[data]]))
            continue
        memo[data] = len(memo) + 1
        head = b"U" + bytes([len(data)]) if len(data) < 256 else b"T" + struct.pack("<i", len(data))
        out.append(head + data + b"q" + bytes([memo[data]]))
    out.append(b"e]q" + bytes([len(memo) + 1]) + b"(")
    out += [b"\x88" if s else b"\x89" for s in issame]
    out.append(b"e\x86q" + bytes([len(memo) + 2]) + b".")
    return b"".join(out)


def py2_repr(data: bytes) -> bytes:
    """Python 2's repr of a str, as protocol 0 writes it (printable ASCII kept, the rest as \\xNN)."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in "\\'":
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return ("'" + "".join(out) + "'").encode("ascii")


def py2_protocol0(bins, issame) -> bytes:
    """Python 2's default pickle.dump((bins, issame_list), f): text opcodes, STRING, PUT, APPEND, I01/I00."""
    out = [b"((lp0\n"]
    for k, data in enumerate(bins, start=1):
        out.append(b"S" + py2_repr(data) + b"\np" + str(k).encode() + b"\na")
    out.append(b"(lp" + str(len(bins) + 1).encode() + b"\n")
    out += [(b"I01\na" if s else b"I00\na") for s in issame]
    out.append(b"tp" + str(len(bins) + 2).encode() + b"\n.")
    return b"".join(out)


def read(path, **kw):
    return formats.read("insightface-bin", path, **kw)


def check(got, faces, issame, exact=True):
    assert isinstance(got, PairSet)
    assert got.images.images.shape == (len(faces), SIDE, SIDE, 3) and got.images.images.dtype == np.uint8
    assert got.pairs.tolist() == [[2 * k, 2 * k + 1] for k in range(len(issame))]
    assert got.same.tolist() == issame
    assert got.fold.tolist() == kfold_folds(len(issame)).tolist()
    if exact:
        assert np.array_equal(got.images.images, np.stack(faces))
    assert got.images.labels["position"].tolist() == list(range(len(faces)))


# --- the forms real files take ---------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_python3_pickles_at_every_protocol(tmp_path, protocol):
    faces, bins, issame = bundle()
    got = read(dump(tmp_path / "lfw.bin", (bins, issame), protocol))
    check(got, faces, issame)
    assert got.images.meta["pickle_protocol"] == (protocol if protocol >= 2 else 0)
    assert got.dropped == {"undecodable image": 0, "pair with an undecodable image": 0}


def test_jpeg_bins_and_flags_as_ints_or_a_list_object(tmp_path):
    faces, bins, issame = bundle(fmt="JPEG")
    got = read(dump(tmp_path / "cfp_fp.bin", (bins, [int(s) for s in issame]), 4))
    check(got, faces, issame, exact=False)
    assert np.abs(got.images.images.astype(int) - np.stack(faces)).mean() < 25  # JPEG, not garbage
    got = read(dump(tmp_path / "x.bin", [bins, issame], 3))  # a list instead of a tuple
    assert got.same.tolist() == issame


def test_python2_protocol2_str_opcodes_and_memo(tmp_path):
    faces, bins, issame = bundle()
    big = encode(np.random.default_rng(9).integers(0, 256, (40, 40, 3), dtype=np.uint8))  # > 255 bytes: BINSTRING
    tiny = encode(np.full((SIDE, SIDE, 3), 7, np.uint8))
    assert len(big) >= 256 and len(tiny) < 256
    bins = [tiny, bins[1], bins[2], tiny] + bins[4:] + [big, tiny]  # the same str object twice -> BINGET
    faces = [np.full((SIDE, SIDE, 3), 7, np.uint8), faces[1], faces[2], np.full((SIDE, SIDE, 3), 7, np.uint8)] + faces[4:]
    issame = issame + [False]
    path = tmp_path / "agedb_30.bin"
    path.write_bytes(py2_protocol2(bins, issame))
    assert b"U" in path.read_bytes()[:8] and b"h\x01" in path.read_bytes()
    got = read(path)
    assert got.images.meta["pickle_protocol"] == 2 and got.images.meta["resized_images"] == 1  # the 40 px one
    assert got.same.tolist() == issame
    assert np.array_equal(got.images.images[: len(faces)], np.stack(faces))
    assert np.array_equal(got.images.images[-1], faces[0])


def test_python2_protocol0_text_strings(tmp_path):
    faces, bins, issame = bundle(n_pairs=5)
    path = tmp_path / "lfw.bin"
    path.write_bytes(py2_protocol0(bins, issame))
    assert b"S'\\x89PNG" in path.read_bytes()
    got = read(path)
    check(got, faces, issame)
    assert got.images.meta["pickle_protocol"] == 0


@pytest.mark.parametrize("protocol", [2, 4])
def test_images_as_latin1_text_from_a_re_pickled_py2_bundle(tmp_path, protocol):
    faces, bins, issame = bundle()
    got = read(dump(tmp_path / "lfw.bin", ([b.decode("latin-1") for b in bins], issame), protocol))
    check(got, faces, issame)
    with pytest.raises(DataFormatError, match="lfw.bin: image 0 is text, not encoded image bytes"):
        read(dump(tmp_path / "lfw.bin", (["\u263a"] + bins[1:], issame), protocol))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_images_and_flags_as_pack_scripts_write_them(tmp_path, protocol):
    faces, bins, issame = bundle(fmt="JPEG")
    arrays = [np.frombuffer(b, np.uint8).reshape(-1, 1).copy() for b in bins]  # what cv2.imencode returns
    got = read(dump(tmp_path / "cfp_ff.bin", (arrays, np.array(issame)), protocol))
    check(got, faces, issame, exact=False)
    got = read(dump(tmp_path / "cfp_ff.bin", (bins, [np.bool_(s) for s in issame]), protocol))
    check(got, faces, issame, exact=False)
    got = read(dump(tmp_path / "cfp_ff.bin", (bins, np.array(issame, dtype=">i8")), protocol))  # big-endian ints
    assert got.same.tolist() == issame


def test_numpy_1_module_names(tmp_path):
    """numpy < 2 (and Python 2's numpy) name numpy.core.multiarray, not numpy._core.multiarray."""
    faces, bins, issame = bundle(fmt="JPEG")
    arrays = [np.frombuffer(b, np.uint8).reshape(-1, 1).copy() for b in bins]
    for protocol in (2, 3):  # GLOBAL opcodes: the names are plain text lines
        data = pickle.dumps((arrays, [np.bool_(s) for s in issame]), protocol=protocol)
        assert b"numpy._core.multiarray" in data
        path = tmp_path / "calfw.bin"
        path.write_bytes(data.replace(b"numpy._core.", b"numpy.core."))
        check(read(path), faces, issame, exact=False)


def test_n_folds_option(tmp_path):
    faces, bins, issame = bundle(n_pairs=12)
    path = dump(tmp_path / "lfw.bin", (bins, issame), 4)
    assert read(path, n_folds="4").fold.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    for bad in (0, "x", 2.5):
        with pytest.raises(FacesslError, match=r"insightface-bin n_folds must be a whole number >= 1"):
            read(path, n_folds=bad)


def test_kfold_folds_match_sklearn():
    assert np.bincount(kfold_folds(6000)).tolist() == [600] * 10
    assert np.bincount(kfold_folds(23)).tolist() == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    assert kfold_folds(3).tolist() == [0, 1, 2]
    folds = kfold_folds(23)
    assert (np.diff(folds) >= 0).all()  # consecutive blocks, shuffle=False


# --- where the bundle is ---------------------------------------------------------------------------------
def test_folder_variant_and_one_line_choice_errors(tmp_path):
    faces, bins, issame = bundle(n_pairs=4)
    emore = tmp_path / "faces_emore"
    dump(emore / "lfw.bin", (bins, issame), 2)
    dump(emore / "agedb_30.bin", (bins[::-1], issame[::-1]), 4)
    (emore / "train.rec").write_bytes(b"records")  # the training records beside them are not bundles
    with pytest.raises(DataFormatError, match=r"faces_emore: several verification bundles \(agedb_30, lfw\); "
                                              r"pick one with --variant NAME") as err:
        read(emore)
    assert "\n" not in str(err.value)
    assert read(emore, variant="agedb_30").same.tolist() == issame[::-1]
    assert read(emore, variant="LFW.bin").same.tolist() == issame
    assert read(tmp_path, variant="lfw").source == str(emore / "lfw.bin")  # the folder above faces_emore/
    assert read(emore / "lfw.bin", variant="lfw").same.tolist() == issame
    with pytest.raises(DataFormatError, match=r"no verification bundle cplfw.bin .*bundles found: agedb_30, lfw"):
        read(emore, variant="cplfw")
    with pytest.raises(DataFormatError, match=r"lfw.bin: --variant agedb_30 names another bundle"):
        read(emore / "lfw.bin", variant="agedb_30")
    dump(tmp_path / "faces_webface_112x112" / "lfw.bin", (bins, issame), 2)
    with pytest.raises(DataFormatError, match=r"several bundles of that name .*faces_emore/lfw, faces_webface_112x112/lfw"):
        read(tmp_path, variant="lfw")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=r"empty: no verification bundle \*.bin"):
        read(tmp_path / "empty")


# --- damage inside the file ------------------------------------------------------------------------------
def test_corrupt_image_skipped_with_its_pair_and_counted(tmp_path):
    faces, bins, issame = bundle(n_pairs=20)
    bins[5] = b"<html>not an image</html>"  # pair 2
    bins[8] = bins[8][: len(bins[8]) // 2]  # pair 4: a truncated PNG
    got = read(dump(tmp_path / "lfw.bin", (bins, issame), 4))
    assert got.dropped == {"undecodable image": 2, "pair with an undecodable image": 2}
    kept = [k for k in range(20) if k not in (2, 4)]
    assert got.same.tolist() == [issame[k] for k in kept]
    assert got.fold.tolist() == [kfold_folds(20)[k] for k in kept]  # folds of the file's pairs, not renumbered
    position = got.images.labels["position"]
    assert position.tolist() == [i for k in kept for i in (2 * k, 2 * k + 1)]
    assert np.array_equal(got.images.images, np.stack(faces)[position])
    assert got.pairs.max() == len(got.images) - 1
    with pytest.raises(DataFormatError, match="lfw.bin: none of its 4 images decodes"):
        read(dump(tmp_path / "lfw.bin", ([b"x"] * 4, [True, False]), 4))


def test_a_pair_of_two_images_with_the_same_pixels_is_skipped_and_named(tmp_path):
    faces, bins, issame = bundle(n_pairs=12)
    bins[7] = bins[6]  # pair 4 (1-based): the same bytes twice
    buffer = io.BytesIO()
    Image.fromarray(faces[18]).save(buffer, "PNG", compress_level=0)  # pair 10: the same pixels, other bytes
    bins[19] = buffer.getvalue()
    assert bins[19] != bins[18]
    got = read(dump(tmp_path / "lfw.bin", (bins, issame), 4))
    assert got.dropped == {"undecodable image": 0, "pair with an undecodable image": 0, "pair of an image with itself": 2}
    kept = [k for k in range(12) if k not in (3, 9)]
    assert got.same.tolist() == [issame[k] for k in kept] and len(got.pairs) == 10
    assert got.images.meta["pair_notes"] == ["2 pairs of two images with the same pixels (a cosine of 1 whatever the "
                                             "model) skipped: pair 4, 10 (1-based, in the bundle's order)"]
    assert "pair_notes" not in read(dump(tmp_path / "agedb_30.bin", bundle(n_pairs=12)[1:], 4)).images.meta
    with pytest.raises(DataFormatError, match="no pair left: every pair that decodes is two images with the same pixels"):
        read(dump(tmp_path / "cfp_fp.bin", ([bins[6]] * 4, [True, False]), 4))


def test_odd_sized_image_resized_to_the_bundle_size(tmp_path):
    faces, bins, issame = bundle(n_pairs=6)
    bins[3] = encode(face(3, side=32))
    got = read(dump(tmp_path / "lfw.bin", (bins, issame), 3))
    assert got.images.images.shape[1:] == (SIDE, SIDE, 3) and got.images.meta["resized_images"] == 1


# --- refused without running anything ---------------------------------------------------------------------
class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


class CallsEval:
    def __reduce__(self):
        return eval, ("1 + 1",)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_code_in_the_pickle_is_refused_not_run(tmp_path, protocol):
    marker = tmp_path / "ran"
    faces, bins, issame = bundle(n_pairs=2)
    for payload, name in (((RunsCode(marker), issame), r"posix\.system|os\.system"),
                          (([bins[0], RunsCode(marker)] + bins[2:], issame), r"posix\.system|os\.system"),
                          ((bins, CallsEval()), r"builtins\.eval|__builtin__\.eval")):
        path = dump(tmp_path / "evil.bin", payload, protocol)
        with pytest.raises(DataFormatError, match=rf"evil.bin: refused at byte \d+: global ({name}), which only "
                                                  r"unpickling could run") as err:
            read(path)
        assert "\n" not in str(err.value)
    assert not marker.exists()


def test_allowed_names_used_otherwise_are_refused(tmp_path):
    faces, bins, issame = bundle(n_pairs=2)
    cases = [((bins, np.array([b"a", b"b"], dtype=object)), r"numpy dtype 'O"),
             ((bins, {"issame": issame}), "pickle opcode EMPTY_DICT"),
             ((bins, [1.0, 0.0]), "pickle opcode BINFLOAT")]
    for value, message in cases:
        with pytest.raises(DataFormatError, match=rf"x.bin: refused at byte \d+: {message}"):
            read(dump(tmp_path / "x.bin", value, 4))
    # _codecs.encode with another codec, numpy.ndarray called directly
    rot13 = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R."
    (tmp_path / "x.bin").write_bytes(rot13)
    with pytest.raises(DataFormatError, match=r"_codecs.encode other than \(text, 'latin1'\)"):
        read(tmp_path / "x.bin")
    direct = b"\x80\x02cnumpy\nndarray\nK\x01\x85R."
    (tmp_path / "x.bin").write_bytes(direct)
    with pytest.raises(DataFormatError, match=r"a REDUCE of numpy.ndarray"):
        read(tmp_path / "x.bin")


def test_truncated_empty_and_foreign_files(tmp_path):
    faces, bins, issame = bundle(n_pairs=4)
    whole = pickle.dumps((bins, issame), protocol=4)
    path = tmp_path / "lfw.bin"
    for data, message in ((whole[: len(whole) // 2], "not a complete pickle"), (whole[:-1], "not a complete pickle"),
                          (b"", "empty file"), (b"<!DOCTYPE html><html>quota exceeded</html>", "not a complete pickle")):
        path.write_bytes(data)
        with pytest.raises(DataFormatError, match=f"lfw.bin: {message}") as err:
            read(path)
        assert "\n" not in str(err.value)
    # a forged 8-byte length: a short read and an error, not an 8 EiB allocation
    path.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 62) + b"\xff\xd8")
    with pytest.raises(DataFormatError, match="lfw.bin: not a complete pickle"):
        read(path)


def test_wrong_shapes_are_one_line_errors(tmp_path):
    faces, bins, issame = bundle(n_pairs=4)
    cases = [((bins, [0] * 4, issame), r"expected a pickled \(images, issame\) pair, got a tuple of 3 items"),
             ((bins[:-1], issame), r"7 images for 4 pairs; expected 2 images per pair"),
             ((bins, [1, 0, 2, 1]), r"expected issame flags True/False or 1/0, got 2"),
             ((bins, ["same"] * 4), r"expected issame flags True/False or 1/0, got a str"),
             (([1] * 8, issame), r"image 0 is int; expected encoded image bytes"),
             (([], []), r"holds no pairs")]
    for value, message in cases:
        with pytest.raises(DataFormatError, match=message) as err:
            read(dump(tmp_path / "vgg2_fp.bin", value, 3))
        assert str(err.value).startswith(str(tmp_path / "vgg2_fp.bin")) and "\n" not in str(err.value)


# --- through the command line ----------------------------------------------------------------------------
def test_eval_cli_on_a_bundle(tmp_path, monkeypatch):
    import facessl
    from eval_toys import ToyEncoder
    from facessl.cli import main

    rng = np.random.default_rng(0)
    people = rng.integers(0, 256, (20, 16, 16, 3))
    bins, issame = [], []
    for k in range(40):  # same pairs: two noisy views of one person; different pairs: two people
        a, b = k % 20, (k % 20 if k % 2 == 0 else (k + 7) % 20)
        for person in (a, b):
            bins.append(encode(np.clip(people[person] + rng.normal(0, 12, (16, 16, 3)), 0, 255).astype(np.uint8)))
        issame.append(a == b)
    folder = tmp_path / "faces_emore"
    dump(folder / "lfw.bin", (bins, issame), 2)
    dump(folder / "cfp_fp.bin", (bins, issame), 4)
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"insightface-bin:{folder}",
                 "--variant", "lfw", "--out", str(out), "--features", "fs", "--baselines", "none",
                 "--seeds", "1", "--device", "cpu", "--quiet"]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "verification"
    row = task["rows"]["checkpoint"]["fs"]
    assert row["pairs"] == 40 and row["metrics"]["accuracy"]["mean"] > 0.8
    assert row["selected_on"].startswith("10-fold")
