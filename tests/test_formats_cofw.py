"""COFW and COFW-68 read as distributed (docs/data_formats.md, the cofw module docstring). Every .mat file is written
here the way MATLAB writes it: v7.3 = HDF5 behind a 512-byte text header, arrays stored transposed, cell arrays as
object references into '#refs#', MATLAB_class attributes; v7 copies through scipy.io.savemat. Never the real data."""
import json
import sys

import h5py
import numpy as np
import pytest
from scipy.io import savemat

import facessl
from facessl.data import formats
from facessl.data.formats import cofw
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import landmarks, metrics
from facessl.evaluate.suite import FORMAT_TASK

RNG = np.random.default_rng(7)
WIDTH, HEIGHT = 80, 60  # not square: a transposition shows as a wrong shape or a misplaced marker
MAT73_HEADER = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Tue Oct  1 12:00:00 2013 HDF5 schema 1.00 ."


# --- writing MATLAB files -------------------------------------------------------------------------------------------
def _matlab_class(array) -> str:
    return {"u": "uint8", "b": "logical"}.get(np.asarray(array).dtype.kind, "double")


def _empty(group, name, matlab_class="double"):
    """MATLAB's empty array in HDF5: its dimensions as data, flagged MATLAB_empty."""
    data = group.create_dataset(name, data=np.zeros(2, dtype=np.uint64))
    data.attrs["MATLAB_class"] = np.bytes_(matlab_class)
    data.attrs["MATLAB_empty"] = np.uint8(1)
    return data


def write_mat73(path, variables):
    """variables: name -> numeric array (MATLAB orientation) or list (an N x 1 cell; None = an empty item)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        _empty(refs, "a", "canonical empty")
        for name, value in variables.items():
            if isinstance(value, list):
                items = []
                for k, item in enumerate(value):
                    if item is None:
                        items.append(_empty(refs, f"{name}{k}").ref)
                        continue
                    data = refs.create_dataset(f"{name}{k}", data=np.asarray(item).T)  # column-major: (3, W, H)
                    data.attrs["MATLAB_class"] = np.bytes_(_matlab_class(item))
                    items.append(data.ref)
                data = f.create_dataset(name, data=np.array([items], dtype=h5py.ref_dtype))  # N x 1 cell -> (1, N)
                data.attrs["MATLAB_class"] = np.bytes_("cell")
            else:
                data = f.create_dataset(name, data=np.asarray(value, dtype=np.float64).T)
                data.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as handle:  # MATLAB's text header in the user block h5py left blank
        handle.write(MAT73_HEADER.encode().ljust(116) + bytes(8) + b"\x00\x02IM")
    return path


def write_mat7(path, variables):
    """The same variables saved as a v7 file (cells as object arrays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, value in variables.items():
        if isinstance(value, list):
            cell = np.empty((len(value), 1), dtype=object)
            for k, item in enumerate(value):
                cell[k, 0] = np.zeros((0, 0)) if item is None else item
            value = cell
        out[name] = value
    savemat(path, out)
    return path


# --- faces ----------------------------------------------------------------------------------------------------------
def photo(marker, grey=False):
    """A dim noisy photo with a red 3x3 marker centred on `marker` (1-based x, y), as MATLAB holds it (H, W, 3)."""
    image = RNG.integers(0, 40, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    x, y = int(marker[0]) - 1, int(marker[1]) - 1
    image[y - 1:y + 2, x - 1:x + 2] = (250, 10, 10)
    return image[:, :, 0].copy() if grey else image


def faces(n, grey=False, flags=None):
    """n faces: images, phis (n, 87: x, y 1-based, occlusion bits), boxes (n, 4: left top width height)."""
    images, phis, boxes = [], [], []
    for k in range(n):
        left, top = RNG.integers(12, 30), RNG.integers(8, 15)
        box = np.array([left, top, 40, 40], dtype=np.float64)
        marks = np.stack([RNG.uniform(left + 2, left + 38, 29), RNG.uniform(top + 2, top + 38, 29)], 1)
        marks[0] = (left + 10 + k, top + 12)  # point 1 on the marker, a whole pixel
        bits = RNG.integers(0, 2, 29) if flags is None else flags[k]
        phis.append(np.concatenate([marks[:, 0], marks[:, 1], bits]))
        boxes.append(box)
        images.append(photo(marks[0], grey))
    return images, np.array(phis), np.array(boxes)


def write_split(folder, name, split, n, grey=False, writer=write_mat73, data=None):
    images, phis, boxes = data or faces(n, grey)
    keys = cofw.SPLIT_VARIABLES[split]
    writer(folder / name, dict(zip(keys, (images, phis, boxes))))
    return images, phis, boxes


def marker_centre(crop):
    """Centroid of the bright marker in a crop (the background stays below 40)."""
    weight = np.clip(crop.max(axis=2).astype(float) - 100, 0, None)
    ys, xs = np.mgrid[:crop.shape[0], :crop.shape[1]]
    return np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()


def expected_crop_points(phi, box, crop_size, scale=cofw.BOX_SCALE):
    """The points moved into the crop, computed here from the docstring's geometry."""
    x, y, w, h = box
    side = round(scale * max(w, h))
    left, top = round(x - 1 + w / 2 - side / 2), round(y - 1 + h / 2 - side / 2)
    marks = np.stack([phi[:29], phi[29:58]], 1) - 1
    return (marks - [left, top] + 0.5) * crop_size / side - 0.5


# --- COFW -----------------------------------------------------------------------------------------------------------
def test_cofw_color_release_crops_points_flags_and_splits(tmp_path):
    train = write_split(tmp_path / "COFW", "COFW_train_color.mat", "train", 3)
    test_images, test_phis, test_boxes = faces(2)
    test_images[1] = test_images[1][:, :, 0].copy()  # the colour files hold some 2-D grey images
    write_split(tmp_path / "COFW", "COFW_test_color.mat", "test", 2, data=(test_images, test_phis, test_boxes))
    got = formats.read("cofw", tmp_path, crop_size=48)  # 48 = the grown box: no resize
    assert FORMAT_TASK["cofw"] == "landmarks"
    assert len(got) == 5 and got.dropped == {} and got.images.shape == (5, 48, 48, 3) and got.images.dtype == np.uint8
    assert list(got.split) == ["train"] * 3 + ["test"] * 2
    assert list(got.labels["source"]) == ["lfpw"] * 3 + ["cofw"] * 2  # the first 845 training faces are LFPW's
    assert list(got.labels["index"]) == [1, 2, 3, 1, 2]
    phis = np.concatenate([train[1], test_phis])
    boxes = np.concatenate([train[2], test_boxes])
    assert got.labels["landmarks"].shape == (5, 29, 2)
    np.testing.assert_array_equal(got.labels["occluded"], phis[:, 58:].astype(int))
    for k in range(5):
        np.testing.assert_allclose(got.labels["landmarks"][k], expected_crop_points(phis[k], boxes[k], 48), atol=1e-4)
        np.testing.assert_allclose(marker_centre(got.images[k]), got.labels["landmarks"][k][0], atol=0.05)
        x, y = np.round(got.labels["landmarks"][k][0]).astype(int)
        assert tuple(got.images[k][y, x]) == ((250, 10, 10) if k < 4 else (250, 250, 250))  # MATLAB's RGB order kept
    grey = got.images[4]
    assert np.array_equal(grey[:, :, 0], grey[:, :, 1])  # 2-D image repeated to RGB
    assert got.meta["variant"] == "color" and "845" in got.meta["split_from"]


def test_cofw_resized_crops_keep_the_points_on_the_face(tmp_path):
    write_split(tmp_path, "COFW_train_color.mat", "train", 2)
    write_split(tmp_path, "COFW_test_color.mat", "test", 2)
    got = formats.read("cofw", tmp_path, crop_size="96")  # a command line gives text
    assert got.images.shape == (4, 96, 96, 3)
    for k in range(4):
        np.testing.assert_allclose(marker_centre(got.images[k]), got.labels["landmarks"][k][0], atol=0.3)


def test_cofw_grey_release_as_unzipped_and_the_variant_option(tmp_path):
    nested = tmp_path / cofw.ZIP_FOLDER
    write_split(nested, "COFW_train.mat", "train", 2, grey=True)
    write_split(nested, "COFW_test.mat", "test", 3, grey=True)
    got = formats.read("cofw", tmp_path, crop_size=32)
    assert len(got) == 5 and got.meta["variant"] == "gray" and got.dropped == {}
    assert np.array_equal(got.images[..., 0], got.images[..., 2])
    write_split(tmp_path, "COFW_train_color.mat", "train", 4)
    write_split(tmp_path, "COFW_test_color.mat", "test", 1)
    colour = formats.read("cofw", tmp_path, crop_size=32)
    assert len(colour) == 5 and colour.meta["variant"] == "color" and list(colour.split).count("train") == 4
    for spelling in ("gray", "grey", "GREY"):
        assert formats.read("cofw", tmp_path, variant=spelling, crop_size=32).meta["variant"] == "gray"
    assert len(formats.read("cofw", tmp_path, variant="colour", crop_size=32)) == 5
    with pytest.raises(FacesslError, match="cofw variant 'sepia': expected one of auto, color, gray"):
        formats.read("cofw", tmp_path, variant="sepia")


def test_cofw_one_file_and_a_v7_copy_read_alike(tmp_path):
    data = faces(3)
    write_split(tmp_path / "h5", "COFW_test_color.mat", "test", 3, data=data)
    write_split(tmp_path / "v7", "COFW_test_color.mat", "test", 3, data=data, writer=write_mat7)
    with open(tmp_path / "v7" / "COFW_test_color.mat", "rb") as handle:
        assert handle.read(10) == b"MATLAB 5.0"  # scipy writes the v5/v7 container, not HDF5
    one = formats.read("cofw", tmp_path / "h5" / "COFW_test_color.mat", crop_size=40)
    copy = formats.read("cofw", tmp_path / "v7", crop_size=40)
    assert list(one.split) == ["test"] * 3 and np.array_equal(one.images, copy.images)
    np.testing.assert_array_equal(one.labels["landmarks"], copy.labels["landmarks"])
    np.testing.assert_array_equal(one.labels["occluded"], copy.labels["occluded"])
    write_split(tmp_path, "my_cofw.mat", "train", 2)  # any name: the variables tell the split
    assert list(formats.read("cofw", tmp_path / "my_cofw.mat").split) == ["train", "train"]


def test_cofw_unreadable_images_and_bad_rows_are_skipped_and_counted(tmp_path):
    images, phis, boxes = faces(6)
    images[1] = None  # an empty cell item
    phis[2, 5] = np.nan
    phis[3, 60] = 2  # an occlusion flag that is not 0/1
    boxes[4, 2] = 0  # a box without width
    write_split(tmp_path, "COFW_test_color.mat", "test", 6, data=(images, phis, boxes))
    got = formats.read("cofw", tmp_path)
    assert len(got) == 2 and list(got.labels["index"]) == [1, 6]
    assert got.dropped == {"unreadable_image": 1, "invalid_annotation": 3}
    write_split(tmp_path / "v7", "COFW_test.mat", "test", 6, data=(images, phis, boxes), writer=write_mat7)
    assert formats.read("cofw", tmp_path / "v7").dropped == {"unreadable_image": 1, "invalid_annotation": 3}
    bad = faces(2)
    write_split(tmp_path / "none", "COFW_test_color.mat", "test", 2, data=([None, None], bad[1], bad[2]))
    with pytest.raises(DataFormatError, match=r"COFW_test_color.mat: no readable COFW faces \(2 unreadable_image\)"):
        formats.read("cofw", tmp_path / "none")


def one_line_error(path, match, **options):
    with pytest.raises((DataFormatError, FacesslError)) as info:
        formats.read("cofw", path, **options)
    message = str(info.value)
    assert match in message and "\n" not in message, message
    return message


def test_cofw_errors_name_the_file_and_what_was_expected(tmp_path, monkeypatch):
    images, phis, boxes = faces(2)
    write_mat73(tmp_path / "a" / "COFW_test_color.mat", {"IsT": images, "bboxesT": boxes})
    assert "COFW_test_color.mat: missing variable phisT" in one_line_error(tmp_path / "a", "missing variable phisT")
    write_mat73(tmp_path / "b" / "COFW_test_color.mat", {"IsT": images, "phisT": phis[:, :58], "bboxesT": boxes})
    one_line_error(tmp_path / "b", "variable phisT has shape (2, 58), expected (faces, 87)")
    write_mat73(tmp_path / "c" / "COFW_test_color.mat", {"IsT": images[:1], "phisT": phis, "bboxesT": boxes})
    one_line_error(tmp_path / "c", "IsT, phisT and bboxesT hold 1, 2 and 2 faces")
    write_mat73(tmp_path / "d" / "COFW_test_color.mat", {"IsT": phis, "phisT": phis, "bboxesT": boxes})
    one_line_error(tmp_path / "d", "variable IsT is not a cell array")
    write_mat73(tmp_path / "e" / "COFW_test_color.mat", {"images": images})
    one_line_error(tmp_path / "e", "no COFW variables (expected IsTr/phisTr/bboxesTr or IsT/phisT/bboxesT; found images)")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "COFW_test_color.mat").write_text("not a mat file\r\n")
    one_line_error(tmp_path / "f", "COFW_test_color.mat: not a readable MATLAB .mat file")
    (tmp_path / "g").mkdir()
    one_line_error(tmp_path / "g", "COFW files not found: expected COFW_train_color.mat / COFW_test_color.mat")
    write_split(tmp_path / "h", "COFW_test.mat", "test", 2, grey=True)
    one_line_error(tmp_path / "h", "(found COFW_test.mat)", variant="color")
    one_line_error(tmp_path / "missing", "COFW not found")
    one_line_error(tmp_path / "h", "cofw points 30: expected 29 (COFW) or 68 (COFW-68)", points=30)
    one_line_error(tmp_path / "h", "cofw crop_size 4: expected a whole number >= 8", crop_size=4)
    monkeypatch.setitem(sys.modules, "h5py", None)  # h5py not installed
    message = one_line_error(tmp_path / "h", "is a MATLAB v7.3 (HDF5) file: reading it needs h5py (pip install h5py)")
    assert "COFW_test.mat" in message


# --- COFW-68 --------------------------------------------------------------------------------------------------------
def write_cofw68(root, n=3, skip=(), v73=()):
    """COFW68_Data as the benchmark's readme lays it out, with the grey COFW_test.mat moved into it."""
    data = root / cofw.COFW68_FOLDER
    images, _, boxes29 = faces(n, grey=True)
    boxes = boxes29.copy()
    points = []
    for k in range(n):
        left, top = boxes[k, :2]
        marks = np.stack([RNG.uniform(left + 2, left + 38, 68), RNG.uniform(top + 2, top + 38, 68)], 1)
        marks[0] = (left + 10 + k, top + 12)  # on the marker the grey photo carries
        points.append(marks)
        if k + 1 in skip:
            continue
        fields = {"Points": marks, "Occ": RNG.integers(0, 2, (68, 1)).astype(float)}
        writer = write_mat73 if k + 1 in v73 else write_mat7
        writer(data / cofw.COFW68_POINTS / f"{k + 1}_points.mat", fields)
    write_mat7(data / cofw.COFW68_BOXES, {"bboxes": boxes})
    write_mat73(data / "COFW_test.mat", {"IsT": images, "phisT": faces(n)[1], "bboxesT": boxes29})
    return np.array(points), boxes


def test_cofw68_reads_the_test_faces_with_68_points(tmp_path):
    points, boxes = write_cofw68(tmp_path, n=4, skip=(3,), v73=(2,))
    for root in (tmp_path, tmp_path / cofw.COFW68_FOLDER, tmp_path / cofw.COFW68_FOLDER / cofw.COFW68_POINTS):
        got = formats.read("cofw", root, points="68", crop_size=52)
        assert len(got) == 3 and list(got.split) == ["test"] * 3 and got.dropped == {"missing_annotation": 1}
        assert got.labels["landmarks"].shape == (3, 68, 2) and got.labels["occluded"].shape == (3, 68)
        assert list(got.labels["index"]) == [1, 2, 4] and "300w" in got.meta["split_from"]
    for row, k in enumerate([0, 1, 3]):
        side = round(cofw.COFW68_BOX_SCALE * 40)
        x, y = points[k].T - 1
        left, top = round(boxes[k, 0] - 1 + 20 - side / 2), round(boxes[k, 1] - 1 + 20 - side / 2)
        expected = (np.stack([x, y], 1) - [left, top] + 0.5) * 52 / side - 0.5
        np.testing.assert_allclose(got.labels["landmarks"][row], expected, atol=1e-4)
        np.testing.assert_allclose(marker_centre(got.images[row]), got.labels["landmarks"][row][0], atol=0.05)


def test_cofw68_errors_name_the_file(tmp_path):
    write_cofw68(tmp_path, n=2)
    data = tmp_path / cofw.COFW68_FOLDER
    write_mat7(data / cofw.COFW68_POINTS / "2_points.mat", {"Points": np.ones((67, 2)), "Occ": np.zeros((67, 1))})
    message = one_line_error(tmp_path, "expected 68 points and 68 Occ flags, got 67 and 67", points=68)
    assert "2_points.mat" in message
    write_mat7(data / cofw.COFW68_BOXES, {"bboxes": np.ones((3, 4))})
    one_line_error(tmp_path, "bboxes holds 3 boxes, COFW_test.mat 2 test images", points=68)
    (data / cofw.COFW68_BOXES).unlink()
    one_line_error(tmp_path, "COFW-68 boxes not found (expected cofw68_test_bboxes.mat", points=68)
    one_line_error(tmp_path / "nowhere", "COFW-68 annotations not found", points=68)


# --- NME and the landmarks task -------------------------------------------------------------------------------------
def test_nme_of_29_points_is_normalised_by_the_pupils():
    assert metrics.interocular_indices(29) == (16, 17) and "pupils (16, 17)" == landmarks.INTEROCULAR_POINTS[29]
    true = RNG.uniform(0, 100, (4, 29, 2))
    true[:, 16], true[:, 17] = (30, 50), (70, 50)  # pupils 40 px apart
    true[:, 8], true[:, 9] = (10, 50), (90, 50)  # outer eye corners 80 px apart: not the normaliser
    pred = true + [3, 4]  # every point 5 px off
    assert metrics.nme(pred, true) == pytest.approx(12.5)
    sizes = np.full((4, 2), 100.0)
    out = landmarks.landmark_metrics((pred / 100).reshape(4, -1), (true / 100).reshape(4, -1), {"sizes": sizes})
    assert out["nme"] == pytest.approx(12.5) and "nme_box" in out


def test_eval_cli_scores_cofw_with_pupil_nme(tmp_path, monkeypatch, capsys):
    from eval_toys import ToyEncoder
    from facessl.cli import main

    write_split(tmp_path / "cofw", "COFW_train_color.mat", "train", 24)
    write_split(tmp_path / "cofw", "COFW_test_color.mat", "test", 8)
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"cofw:{tmp_path / 'cofw'}",
                 "--reader-option", "crop_size=16", "--out", str(out), "--seeds", "1", "--epochs", "2",
                 "--supervised-epochs", "1", "--device", "cpu", "--quiet"]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert "pupils (16, 17)" in json.dumps(task)
    rows = json.dumps(task["rows"])
    assert '"nme"' in rows and '"nme_box"' in rows
