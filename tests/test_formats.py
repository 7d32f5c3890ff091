"""Benchmark file formats: writer -> reader round trips, and one clear error per malformed file."""
import numpy as np
import pytest
from PIL import Image

from facessl.data import formats
from facessl.data.formats.aflw2000 import PoseMatWriter, savemat_deterministic
from facessl.data.formats.bu3dfe import Bu3dfeWriter
from facessl.data.formats.disfa import DisfaWriter
from facessl.data.formats.fer2013 import Fer2013Writer
from facessl.data.formats.imagefiles import mirror_landmarks_68
from facessl.data.formats.lfw import LfwWriter, person_name
from facessl.data.formats.mafl import MaflWriter
from facessl.data.formats.rafdb import RafdbWriter
from facessl.data.formats.voxceleb import VoxCelebWriter, track_indices
from facessl.data.formats.w300 import W300Writer
from facessl.errors import DataFormatError, FacesslError

RNG = np.random.default_rng(0)


def faces(n, size=16):
    return RNG.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def test_voxceleb_round_trip(tmp_path):
    w = VoxCelebWriter(tmp_path)
    pose = RNG.normal(size=(3, 3)).astype(np.float32)
    w.add_track("id10001", "1zcIwhmdeo4", 1, faces(3), {"pose": pose, "aus": np.zeros((3, 8)), "expression": 2, "identity": 7})
    w.add_track("id10002", "abcdefghijk", 2, faces(2))
    w.close()
    got = formats.read("voxceleb", tmp_path, with_truth=False)
    assert got.images[0].endswith("id10001/1zcIwhmdeo4/00001/0001.jpg") and len(got) == 5
    assert list(got.labels["frame"]) == [1, 2, 3, 1, 2]
    assert [len(t) for t in track_indices(got)] == [3, 2]
    (tmp_path / "_truth.jsonl").unlink()
    w = VoxCelebWriter(tmp_path / "b")
    w.add_track("id10001", "1zcIwhmdeo4", 1, faces(3), {"pose": pose, "aus": np.ones((3, 8)), "expression": 2, "identity": 7})
    w.close()
    truth = formats.read("voxceleb", tmp_path / "b", with_truth=True)
    np.testing.assert_allclose(truth.labels["pose"], pose, atol=1e-4)
    assert list(truth.labels["identity_index"]) == [7, 7, 7] and list(truth.labels["expression"]) == [2, 2, 2]


def test_voxceleb_reads_a_prepared_tree_and_rejects_a_tree_without_frames(tmp_path):
    (tmp_path / "notanid").mkdir()
    with pytest.raises(DataFormatError, match="no frames found"):
        formats.read("voxceleb", tmp_path)
    # facessl prepare names a video outside VoxCeleb by its path: any identity folder name is read
    track = tmp_path / "talks-2019-a" / "a" / "00001"
    track.mkdir(parents=True)
    for i in (1, 2):
        Image.fromarray(faces(1)[0]).save(track / f"{i:04d}.jpg")
    data = formats.read("voxceleb", tmp_path)
    assert list(data.labels["identity"]) == ["talks-2019-a"] * 2 and list(data.labels["frame"]) == [1, 2]


def test_rafdb_round_trip_and_real_names(tmp_path):
    w = RafdbWriter(tmp_path)
    expr = [0, 6, 3, 5]
    for e, s in zip(expr, ["train", "train", "test", "train"]):
        w.add(faces(1)[0], e, s)
    w.close()
    text = (tmp_path / "EmoLabel" / "list_patition_label.txt").read_text().splitlines()
    assert text == ["train_00001.jpg 1", "train_00002.jpg 7", "train_00003.jpg 6", "test_0001.jpg 4"]
    assert (tmp_path / "Image/aligned/test_0001_aligned.jpg").is_file()
    got = formats.read("rafdb", tmp_path)
    assert list(got.labels["expression"]) == [0, 6, 5, 3] and list(got.split) == ["train", "train", "train", "test"]


def test_rafdb_errors(tmp_path):
    w = RafdbWriter(tmp_path)
    w.add(faces(1)[0], 1, "train")
    w.add(faces(1)[0], 2, "test")
    w.close()
    (tmp_path / "Image/aligned/test_0001_aligned.jpg").unlink()
    with pytest.raises(DataFormatError, match=r"list_patition_label.txt:2: image .*test_0001_aligned.jpg"):
        formats.read("rafdb", tmp_path)
    got = formats.read("rafdb", tmp_path, skip_missing=True)
    assert len(got) == 1 and got.dropped == {"missing_image": 1}
    (tmp_path / "EmoLabel/list_patition_label.txt").write_text("train_00001.jpg 9\n")
    with pytest.raises(DataFormatError, match=r":1: expected a label 1..7, got 9"):
        formats.read("rafdb", tmp_path)


def test_fer2013_round_trip_label_order(tmp_path):
    grey = RNG.integers(0, 256, size=(3, 48, 48), dtype=np.uint8)
    with Fer2013Writer(tmp_path / "fer2013.csv") as w:
        for g, e, u in zip(grey, [3, 0, 6], ["Training", "PublicTest", "PrivateTest"]):
            w.add(g, e, u)
    lines = (tmp_path / "fer2013.csv").read_text().splitlines()
    assert lines[0] == "emotion,pixels,Usage" and lines[1].startswith("3,")  # happiness is FER label 3
    assert lines[2].startswith("5,")  # surprise (internal 0) is FER label 5
    got = formats.read("fer2013", tmp_path)
    assert got.images.shape == (3, 48, 48, 3) and np.array_equal(got.images[..., 0], grey)
    assert list(got.labels["expression"]) == [3, 0, 6] and list(got.split) == ["Training", "PublicTest", "PrivateTest"]


def test_fer2013_short_row(tmp_path):
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n0," + " ".join(["1"] * 2304) + ",Training\n2," + " ".join(["1"] * 2300) + ",Training\n")
    with pytest.raises(DataFormatError, match=r"fer2013.csv:3: expected 2304 pixel values \(48x48\), got 2300"):
        formats.read("fer2013", path)


def lfw_fixture(root):
    w = LfwWriter(root)
    names = [person_name(i) for i in range(4)]
    for name in names:
        for _ in range(2):
            w.add(name, faces(1)[0])
    folds = [([(names[0], 1, 2)], [(names[0], 1, names[1], 2)]), ([(names[2], 2, 1)], [(names[3], 1, names[2], 1)])]
    w.write_pairs(folds)
    return names


def test_lfw_round_trip(tmp_path):
    names = lfw_fixture(tmp_path)
    assert (tmp_path / "pairs.txt").read_text().splitlines()[:3] == ["2\t1", f"{names[0]}\t1\t2", f"{names[0]}\t1\t{names[1]}\t2"]
    got = formats.read("cplfw", tmp_path)
    assert list(got.same) == [True, False, True, False] and list(got.fold) == [0, 0, 1, 1]
    ids = got.images.labels["identity"]
    assert [tuple(ids[p]) for p in got.pairs] == [(names[0],) * 2, (names[0], names[1]), (names[2],) * 2, (names[3], names[2])]
    assert got.images.images[got.pairs[0, 1]].endswith(f"{names[0]}/{names[0]}_0002.jpg")
    assert len({person_name(i) for i in range(20000)}) == 20000


def test_lfw_bad_pair_line(tmp_path):
    lfw_fixture(tmp_path)
    lines = (tmp_path / "pairs.txt").read_text().splitlines()
    lines[2] = "Aaron_Abbott\t1\t2"  # a same-style line where a different pair belongs
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"pairs.txt:3: expected a different-identity pair"):
        formats.read("lfw", tmp_path)
    (tmp_path / "pairs.txt").write_text("10\t300\n")
    with pytest.raises(DataFormatError, match=r"pairs.txt:1: header promises 10 folds"):
        formats.read("lfw", tmp_path)


def test_aflw2000_round_trip_and_drop(tmp_path):
    w = PoseMatWriter(tmp_path)
    poses = np.array([[30.0, -10.0, 5.0], [-60.5, 20.25, -3.0], [10.0, 120.0, 0.0]])
    marks = RNG.uniform(0, 16, size=(3, 68, 2))
    for k, (p, m) in enumerate(zip(poses, marks)):
        w.add(f"image{2 * k + 2:05d}", faces(1)[0], p, m)
    got = formats.read("aflw2000", tmp_path)
    assert len(got) == 2 and got.dropped["angle_over_99"] == 1
    np.testing.assert_allclose(got.labels["pose"], poses[:2], atol=1e-5)
    np.testing.assert_allclose(got.labels["landmarks"], marks[:2], atol=1e-4)
    from scipy.io import loadmat

    para = loadmat(tmp_path / "image00002.mat")["Pose_Para"]
    assert para.shape == (1, 7) and np.isclose(para[0, 1], np.deg2rad(30.0)) and np.isclose(para[0, 0], np.deg2rad(-10.0))


def test_300wlp_subfolders_and_missing_field(tmp_path):
    w = PoseMatWriter(tmp_path, landmark_field="pt2d")
    m = RNG.uniform(0, 16, size=(68, 2))
    w.add("AFW/AFW_134212_1_0", faces(1)[0], (20, 0, 0), m)
    w.add("AFW_Flip/AFW_134212_1_0", faces(1)[0], (-20, 0, 0), mirror_landmarks_68(m, 16))
    got = formats.read("300wlp", tmp_path)
    assert list(got.labels["subset"]) == ["AFW", "AFW_Flip"] and got.labels["landmarks"].shape == (2, 68, 2)
    savemat_deterministic(tmp_path / "AFW" / "AFW_134212_1_0.mat", {"pt2d": m.T})
    with pytest.raises(DataFormatError, match=r"AFW_134212_1_0.mat: missing field Pose_Para"):
        formats.read("300wlp", tmp_path)


def test_bu3dfe_round_trip(tmp_path):
    w = Bu3dfeWriter(tmp_path)
    w.add("F0001", 3, 2, "WH", 30, faces(1)[0], test=False)
    w.add("M0001", 6, 1, "AE", -45, faces(1)[0], test=True)
    w.close()
    got = formats.read("bu3dfe", tmp_path)
    assert got.images[0].endswith("F0001/F0001_HA02WH_yaw+30.jpg")
    assert list(got.labels["pose_class"]) == [5, 0] and list(got.split) == ["train", "test"]
    assert list(got.labels["expression"]) == [3, 6]


def test_disfa_round_trip_and_errors(tmp_path):
    w = DisfaWriter(tmp_path)
    aus = RNG.uniform(0, 5, size=(4, 8))
    w.add_subject("SN001", faces(4), aus)
    w.add_subject("SN002", faces(2), np.zeros((2, 8)))
    assert (tmp_path / "ActionUnit_Labels/SN001/SN001_au26.txt").read_text().splitlines()[0] == f"1,{int(np.rint(aus[0, 7]))}"
    got = formats.read("disfa", tmp_path)
    np.testing.assert_array_equal(got.labels["aus"][:4], np.rint(aus))
    assert list(got.labels["subject"]) == ["SN001"] * 4 + ["SN002"] * 2 and list(got.labels["frame"][:4]) == [1, 2, 3, 4]
    (tmp_path / "Images/SN002/00002.jpg").unlink()
    assert formats.read("disfa", tmp_path, skip_missing=True).dropped == {"missing_image": 1}
    (tmp_path / "ActionUnit_Labels/SN001/SN001_au4.txt").write_text("1,0\n2,x\n")
    with pytest.raises(DataFormatError, match=r"SN001_au4.txt:2: expected an intensity 0..5, got 'x'"):
        formats.read("disfa", tmp_path)


def test_disfa_reads_video(tmp_path):
    import cv2

    frames = np.full((3, 32, 32, 3), 128, dtype=np.uint8)
    w = DisfaWriter(tmp_path)
    w.add_subject("SN003", frames, np.ones((3, 8)))
    for f in (tmp_path / "Images/SN003").iterdir():
        f.unlink()
    (tmp_path / "Images/SN003").rmdir()
    video = cv2.VideoWriter(str(tmp_path / "SN003.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    for f in frames:
        video.write(f)
    video.release()
    got = formats.read("disfa", tmp_path)
    assert isinstance(got.images, np.ndarray) and got.images.shape == (3, 32, 32, 3)
    assert abs(int(got.images[0, 16, 16, 0]) - 128) < 8


def test_300w_round_trip_one_based_pts(tmp_path):
    w = W300Writer(tmp_path)
    m = np.round(RNG.uniform(0, 16, size=(68, 2)), 3)
    w.add("lfpw/trainset", "image_0001.png", faces(1)[0], m)
    w.add("ibug", "image_003_1.jpg", faces(1)[0], m)
    first = (tmp_path / "ibug/image_003_1.pts").read_text().splitlines()
    assert first[:3] == ["version: 1", "n_points:  68", "{"] and first[3] == f"{m[0, 0] + 1:.3f} {m[0, 1] + 1:.3f}"
    got = formats.read("300w", tmp_path)
    assert list(got.split) == ["test", "train"] and list(got.labels["subset"]) == ["ibug", "lfpw/trainset"]
    np.testing.assert_allclose(got.labels["landmarks"][1], m, atol=1e-5)
    lines = first[:10] + ["12.0"] + first[11:]
    (tmp_path / "ibug/image_003_1.pts").write_text("\n".join(lines))
    with pytest.raises(DataFormatError, match=r"image_003_1.pts:11: expected point 8 of 68 as 'x y'"):
        formats.read("300w", tmp_path)


def test_mafl_round_trip(tmp_path):
    w = MaflWriter(tmp_path)
    m = RNG.integers(0, 16, size=(3, 5, 2)).astype(np.float32)
    for k in range(3):
        w.add(faces(1)[0], m[k], "train" if k < 2 else "test")
    w.close()
    lines = (tmp_path / "list_landmarks_align_celeba.txt").read_text().splitlines()
    assert lines[0] == "3" and lines[1].startswith("lefteye_x lefteye_y") and lines[2].startswith("000001.jpg ")
    assert (tmp_path / "testing.txt").read_text() == "000003.jpg\n"
    got = formats.read("mafl", tmp_path)
    np.testing.assert_array_equal(got.labels["landmarks"], m)
    (tmp_path / "testing.txt").write_text("000009.jpg\n")
    with pytest.raises(DataFormatError, match=r"testing.txt:1: image 000009.jpg has no row"):
        formats.read("mafl", tmp_path)


def test_unknown_format_names_nearest():
    with pytest.raises(FacesslError, match="did you mean 'rafdb'"):
        formats.read("raf-db", ".")


def test_lfw_dev_pairs_one_number_header(tmp_path):
    names = lfw_fixture(tmp_path)
    (tmp_path / "pairsDevTest.txt").write_text(f"1\n{names[0]}\t1\t2\n{names[1]}\t1\t{names[2]}\t2\n")
    got = formats.read("lfw", tmp_path, pairs_file="pairsDevTest.txt")
    assert list(got.same) == [True, False] and list(got.fold) == [0, 0]
