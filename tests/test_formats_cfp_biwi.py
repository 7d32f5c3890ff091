"""CFP (frontal-profile verification) and Biwi Kinect Head Pose, each written here in its documented layouts
(tiny images) and read back; BIWI's angle conversion checked against rotations built from known angles."""
import numpy as np
import pytest

from image_toys import write
from facessl.data import formats
from facessl.data.formats.biwi import RgbCamera, rotation_to_pose
from facessl.data.formats.common import ImageSet, PairSet, load_image
from facessl.data.formats.imagefiles import save_image as _save
from facessl.errors import DataFormatError, FacesslError

RNG = np.random.default_rng(3)


def save_image(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, image)


# --- CFP ------------------------------------------------------------------------------------------------
# Pair_list_F: 1 001/01, 2 001/02, 3 002/01, 4 002/02, 5 003/01, 6 003/02; Pair_list_P: 1 001, 2 002, 3 003
SPLITS = {"FP": {"01": ("1,1\n3,2\n", "1,2\n5,1\n"), "02": ("6,3\n", "4,3\n")},
          "FF": {"01": ("1,2\n", "1,3\n"), "02": ("5,6\n", "2,6\n")}}


def write_cfp(root):
    """cfp-dataset/ as distributed, under root."""
    data = root / "cfp-dataset"
    f_lines, p_lines = [], []
    for person in ("001", "002", "003"):
        for n in ("01", "02"):
            save_image(data / "Data" / "Images" / person / "frontal" / f"{n}.jpg", RNG.integers(0, 256, (12, 12, 3), dtype=np.uint8))
            f_lines.append(f"{len(f_lines) + 1} ../Data/Images/{person}/frontal/{n}.jpg")
        save_image(data / "Data" / "Images" / person / "profile" / "01.jpg", RNG.integers(0, 256, (12, 12, 3), dtype=np.uint8))
        p_lines.append(f"{len(p_lines) + 1} ../Data/Images/{person}/profile/01.jpg")
    protocol = data / "Protocol"
    write(protocol / "Pair_list_F.txt", "\n".join(f_lines) + "\n", crlf=True, bom=True)
    write(protocol / "Pair_list_P.txt", "\n".join(p_lines) + "\n")
    for name, folds in SPLITS.items():
        for fold, (same, diff) in folds.items():
            write(protocol / "Split" / name / fold / "same.txt", same, crlf=True)
            write(protocol / "Split" / name / fold / "diff.txt", diff)
    return data


def test_cfp_fp_pairs_folds_and_views_from_every_root(tmp_path):
    data = write_cfp(tmp_path)
    for root in (tmp_path, data, data / "Protocol"):
        got = formats.read("cfp", root)
        assert isinstance(got, PairSet) and len(got.pairs) == 6
        assert list(got.same) == [True, True, False, False, True, False]
        assert list(got.fold) == [0, 0, 0, 0, 1, 1]
    labels = got.images.labels
    first = got.pairs[0]
    assert list(labels["identity"][first]) == ["001", "001"] and list(labels["view"][first]) == ["frontal", "profile"]
    assert got.images.images[first[0]].endswith("cfp-dataset/Data/Images/001/frontal/01.jpg")
    assert ".." not in got.images.images[first[1]]
    diff = got.pairs[3]  # 5,1: 003 frontal vs 001 profile
    assert list(labels["identity"][diff]) == ["003", "001"]
    assert all(labels["identity"][a] == labels["identity"][b] for (a, b), s in zip(got.pairs, got.same) if s)


def test_cfp_ff_protocol_and_variant_alias(tmp_path):
    data = write_cfp(tmp_path)
    ff = formats.read("cfp", data, protocol="FF")
    assert list(ff.same) == [True, False, True, False] and list(ff.fold) == [0, 0, 1, 1]
    assert set(ff.images.labels["view"]) == {"frontal"}
    assert list(ff.images.labels["identity"][ff.pairs[1]]) == ["001", "002"]
    alias = formats.read("cfp", data, variant="ff")  # the command line's --variant FF
    assert np.array_equal(alias.pairs, ff.pairs)
    with pytest.raises(DataFormatError, match="FP .*or FF"):
        formats.read("cfp", data, protocol="PF")


def test_cfp_missing_images_raise_or_are_skipped(tmp_path):
    data = write_cfp(tmp_path)
    (data / "Data" / "Images" / "003" / "profile" / "01.jpg").unlink()  # used by FP fold 02 (two pairs)
    with pytest.raises(DataFormatError, match=r"Split/FP/02/same.txt:1: image .*003/profile/01.jpg.*skip-missing"):
        formats.read("cfp", data)
    got = formats.read("cfp", data, skip_missing=True)
    assert len(got.pairs) == 4 and got.dropped == {"missing_pair": 2} and set(got.fold) == {0}


def test_cfp_pairs_that_measure_nothing_are_skipped_and_named(tmp_path):
    data = write_cfp(tmp_path)
    split = data / "Protocol" / "Split"
    # FF 01: 1,1 an image with itself; 1,3 (001 and 002) listed as same; diff 1,2 (both 001) listed as different
    write(split / "FF" / "01" / "same.txt", "1,2\n1,1\n1,3\n")
    write(split / "FF" / "01" / "diff.txt", "1,3\n1,2\n")
    write(split / "FF" / "02" / "same.txt", "5,6\n6,5\n")  # 6,5 is 5,6 again: scored as listed, named
    got = formats.read("cfp", data, protocol="FF")
    assert {k: n for k, n in got.dropped.items() if n} == {
        "pair of an image with itself": 1, "same pair of two people": 1, "different pair of one person": 1}
    assert list(got.same) == [True, False, True, True, False] and list(got.fold) == [0, 0, 1, 1, 1]
    notes = "\n".join(got.images.meta["pair_notes"])
    assert "1 pair of an image with itself (its cosine is 1 whatever the model) skipped: 01/same.txt:2 (1,1)" in notes
    assert "'same' pair of two people (by their Data/Images/<person> folders) skipped: 01/same.txt:3 (1,3)" in notes
    assert "'different' pair naming one person twice skipped: 01/diff.txt:2 (1,2)" in notes
    assert "listed again, scored each time as listed: 02/same.txt:2 (6,5, as at line 1)" in notes


def test_cfp_errors_name_file_and_line(tmp_path):
    data = write_cfp(tmp_path)
    protocol = data / "Protocol"
    with pytest.raises(DataFormatError, match="CFP not found.*Pair_list_F.txt"):
        formats.read("cfp", tmp_path / "elsewhere")
    same = protocol / "Split" / "FP" / "01" / "same.txt"
    cases = [(same, "1,1\n7,2\n", r"same.txt:2: pair index 7 is not in Pair_list_F.txt \(it lists 1..6\)"),
             (same, "1,4\n", r"same.txt:1: pair index 4 is not in Pair_list_P.txt"),
             (same, "1,1\n3;2\n", r"FP/01/same.txt:2: expected 'i,j'"),
             (same, "1,one\n", r"same.txt:1: expected a 1-based image index, got 'one'"),
             (protocol / "Pair_list_P.txt", "1 ../Data/Images/001/profile/01.jpg\n2\n", r"Pair_list_P.txt:2: expected 'index path'"),
             (protocol / "Pair_list_P.txt", "\n", "Pair_list_P.txt: no images listed")]
    for path, text, message in cases:  # each case on top of the previous ones' files
        write(path, text)
        with pytest.raises(DataFormatError, match=message):
            formats.read("cfp", data)
    import shutil

    shutil.rmtree(protocol / "Split" / "FF")
    with pytest.raises(DataFormatError, match="Split/FF: CFP split folder not found"):
        formats.read("cfp", data, protocol="FF")


# --- BIWI: angles ---------------------------------------------------------------------------------------
def rodrigues(axis, degrees):
    """Rotation by `degrees` about `axis` (right-handed), from the axis-angle formula."""
    k = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    t = np.deg2rad(degrees)
    return np.eye(3) + np.sin(t) * cross + (1 - np.cos(t)) * cross @ cross


NOSE, UP = np.array([0.0, 0.0, -1.0]), np.array([0.0, -1.0, 0.0])  # a frontal head in camera axes (y down, z away)


def test_biwi_angle_signs_follow_the_geometry():
    turned_left = rodrigues((0, 1, 0), 30)
    assert (turned_left @ NOSE)[0] < 0  # the nose points to the image's left
    np.testing.assert_allclose(rotation_to_pose(turned_left), [30, 0, 0], atol=1e-9)
    looking_up = rodrigues((1, 0, 0), -20)
    assert (looking_up @ NOSE)[1] < 0  # the nose points up in the image (y grows downward)
    np.testing.assert_allclose(rotation_to_pose(looking_up), [0, 20, 0], atol=1e-9)
    clockwise = rodrigues((0, 0, 1), 15)
    assert (clockwise @ UP)[0] > 0  # the top of the head tips to the image's right: clockwise
    np.testing.assert_allclose(rotation_to_pose(clockwise), [0, 0, 15], atol=1e-9)


@pytest.mark.parametrize("yaw,pitch,roll", [(30, 10, -5), (-70, -40, 20), (45, 55, 30), (-10, 60, -35), (0, 0, 0)])
def test_biwi_angles_round_trip_and_mirror(yaw, pitch, roll):
    rotation = rodrigues((1, 0, 0), -pitch) @ rodrigues((0, 1, 0), yaw) @ rodrigues((0, 0, 1), roll)
    np.testing.assert_allclose(rotation_to_pose(rotation), [yaw, pitch, roll], atol=1e-9)
    mirror = np.diag([-1.0, 1.0, 1.0])  # flipping the image left-right negates yaw and roll, as for 300W-LP
    np.testing.assert_allclose(rotation_to_pose(mirror @ rotation @ mirror), [-yaw, pitch, -roll], atol=1e-9)


def test_biwi_projection_puts_a_known_centre_where_expected():
    quarter_turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # tells R from R^T
    camera = RgbCamera(np.array([[100.0, 0, 80], [0, 120.0, 60], [0, 0, 1]]), quarter_turn, np.array([10.0, 0.0, 0.0]))
    u, v, z = camera.project([20.0, -30.0, 1000.0])  # in the RGB camera: (30 + 10, 20, 1000)
    assert (u, v, z) == pytest.approx((84.0, 62.4, 1000.0))
    assert camera.face_box([20.0, -30.0, 1000.0], 250) == pytest.approx((84 - 12.5, 62.4 - 15, 84 + 12.5, 62.4 + 15))
    assert camera.face_box([20.0, -30.0, 2000.0], 250)[2] - camera.face_box([20.0, -30.0, 2000.0], 250)[0] == pytest.approx(12.5)


# --- BIWI: the distributed layout ----------------------------------------------------------------------
K_TEXT = "100 0 80 \n0 100 60 \n0 0 1 \n"
IDENTITY_CAL = K_TEXT + "\n0 0 0 0 \n\n1 0 0 \n0 1 0 \n0 0 1 \n\n0 0 0 \n\n160 120\n"


def pose_text(rotation, centre):
    rows = "".join(" ".join(f"{v:.6f}" for v in row) + " \n" for row in rotation)
    return rows + "\n" + " ".join(f"{v:g}" for v in centre) + " \n"


def photo_with_head(path):
    """A dark 160x120 frame, bright around (80, 60) where a head 1 m away projects."""
    img = np.zeros((120, 160, 3), np.uint8)
    img[40:80, 60:100] = 230
    save_image(path, img)


def write_sequence(folder, frames, suffix=".png", cal=IDENTITY_CAL):
    """frames: {number: (yaw, pitch, roll)}; every head 1 m straight ahead."""
    write(folder / "rgb.cal", cal)
    write(folder / "depth.cal", cal)
    for number, (yaw, pitch, roll) in frames.items():
        rotation = rodrigues((1, 0, 0), -pitch) @ rodrigues((0, 1, 0), yaw) @ rodrigues((0, 0, 1), roll)
        write(folder / f"frame_{number:05d}_pose.txt", pose_text(rotation, (0, 0, 1000)))
        photo_with_head(folder / f"frame_{number:05d}_rgb{suffix}")
        (folder / f"frame_{number:05d}_depth.bin").write_bytes(b"\0" * 8)


@pytest.mark.parametrize("parent", ["", "hpdb", "kinect_head_pose_db/hpdb", "faces_0"])
def test_biwi_hpdb_layouts_crops_and_subjects(tmp_path, parent):
    base = tmp_path / parent
    write_sequence(base / "03", {3: (30, 10, -5), 4: (-20, 0, 0)})
    write_sequence(base / "15", {5: (0, -15, 10)})  # the person of sequence 03, recorded again
    write(base / "03.obj", "v 0 0 0\n")
    got = formats.read("biwi", tmp_path)
    assert isinstance(got, ImageSet) and len(got) == 3
    np.testing.assert_allclose(got.labels["pose"], [[30, 10, -5], [-20, 0, 0], [0, -15, 10]], atol=1e-3)
    assert list(got.labels["subject"]) == ["F03", "F03", "F03"] and list(got.labels["sequence"]) == ["03", "03", "15"]
    assert list(got.labels["frame"]) == [3, 4, 5] and got.dropped == {"angle_over_99": 0, "missing_image": 0}
    assert got.images[0].endswith("03/frame_00003_rgb.png")
    assert got.images[0].box == pytest.approx((67.5, 47.5, 92.5, 72.5))  # 250 mm at 1 m with f = 100: 25 px
    crop = load_image(got.images[0])
    assert crop.shape == (25, 25, 3) and crop.min() > 200  # the head, not the dark frame
    one = formats.read("biwi", base / "15")  # one sequence folder
    assert list(one.labels["subject"]) == ["F03"] and len(one) == 1
    wide = formats.read("biwi", base / "03", box_mm=500)
    assert wide.images[0].box[2] - wide.images[0].box[0] == pytest.approx(50)


def test_biwi_fastai_jpg_frames_and_calibration_with_extrinsics(tmp_path):
    cal = K_TEXT + "\n0.1 0 0 0 \n\n1 0 0 \n0 1 0 \n0 0 1 \n\n-25 5 0 \n\n160 120\n"
    write_sequence(tmp_path / "biwi_head_pose" / "01", {1: (0, 0, 0)}, suffix=".jpg", cal=cal)
    got = formats.read("biwi", tmp_path / "biwi_head_pose")
    assert got.images[0].endswith("frame_00001_rgb.jpg")
    assert got.images[0].box == pytest.approx((65.0, 48.0, 90.0, 73.0))  # centre moved by (-25, 5) mm: (-2.5, 0.5) px
    assert list(got.labels["subject"]) == ["F01"]


def test_biwi_drops_large_angles_and_missing_images(tmp_path):
    write_sequence(tmp_path / "hpdb" / "01", {1: (0, 0, 0), 2: (120, 0, 0), 3: (10, 0, 0)})
    (tmp_path / "hpdb" / "01" / "frame_00003_rgb.png").unlink()
    with pytest.raises(DataFormatError, match="frame_00003_pose.txt: no frame image beside.*skip-missing"):
        formats.read("biwi", tmp_path)
    got = formats.read("biwi", tmp_path, skip_missing=True)
    assert len(got) == 1 and got.dropped == {"angle_over_99": 1, "missing_image": 1}


def test_biwi_errors_name_file_and_line(tmp_path):
    folder = tmp_path / "hpdb" / "01"
    write_sequence(folder, {3: (0, 0, 0)})
    pose = folder / "frame_00003_pose.txt"
    with pytest.raises(DataFormatError, match="BIWI not found"):
        formats.read("biwi", tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="no BIWI frames found.*BIWI_noTrack.npz"):
        formats.read("biwi", tmp_path / "empty")
    for text, message in [("1 0 0 \n0 1 x \n0 0 1 \n\n0 0 1000 \n", r":2: expected a number, got 'x'"),
                          ("1 0 0 \n0 1 0 \n0 0 1 \n\n0 1000 \n", r":5: expected 3 numbers"),
                          ("1 0 0 \n0 1 0 \n0 0 1 \n", r":3: expected 4 rows"),
                          ("2 0 0 \n0 1 0 \n0 0 1 \n\n0 0 1000 \n", r":1: .*not a rotation matrix")]:
        write(pose, text)
        with pytest.raises(DataFormatError, match="frame_00003_pose.txt" + message):
            formats.read("biwi", tmp_path)
    write(pose, pose_text(np.eye(3), (0, 0, 1000)))
    write(folder / "rgb.cal", K_TEXT + "\n0 0 0 0 \n\n1 0 0 \n0 1 \n0 0 1 \n\n0 0 0 \n")
    with pytest.raises(DataFormatError, match=r"rgb.cal:8: expected 3 numbers"):
        formats.read("biwi", tmp_path)
    (folder / "rgb.cal").unlink()
    with pytest.raises(DataFormatError, match=r"01/rgb.cal: BIWI rgb.cal not found"):
        formats.read("biwi", tmp_path)


# --- BIWI: FSA-Net's npz copies -------------------------------------------------------------------------
def bgr_faces(n):
    image = np.zeros((n, 8, 8, 3), np.uint8)
    image[..., 0] = 200  # blue, first as OpenCV stores it
    image[..., 2] = 10
    return image


def test_biwi_fsanet_npz_file_and_folder(tmp_path):
    pose = np.array([[30.0, -10.0, 5.0], [120.0, 0.0, 0.0], [-5.0, 2.0, 1.0]])
    np.savez(tmp_path / "BIWI_noTrack.npz", image=bgr_faces(3), pose=pose, img_size=8)
    for path in (tmp_path / "BIWI_noTrack.npz", tmp_path):
        got = formats.read("biwi", path)
        assert isinstance(got.images, np.ndarray) and got.images.dtype == np.uint8 and got.images.shape == (2, 8, 8, 3)
        assert got.images[0, 0, 0].tolist() == [10, 0, 200]  # RGB now
        np.testing.assert_allclose(got.labels["pose"], pose[[0, 2]])  # (yaw, pitch, roll) kept in that order
        assert got.split is None and got.dropped == {"angle_over_99": 1, "invalid_pose": 0}


def test_biwi_fsanet_train_test_halves_read_as_splits(tmp_path):
    np.savez(tmp_path / "BIWI_train.npz", image=bgr_faces(3), pose=np.zeros((3, 3)), img_size=8)
    np.savez(tmp_path / "BIWI_test.npz", image=bgr_faces(2), pose=np.ones((2, 3)), img_size=8)
    got = formats.read("biwi", tmp_path)
    assert list(got.split) == ["train"] * 3 + ["test"] * 2 and len(got) == 5
    assert formats.read("biwi", tmp_path / "BIWI_test.npz").split is None


def test_biwi_npz_errors_never_unpickle(tmp_path):
    path = tmp_path / "BIWI_noTrack.npz"
    np.savez(path, image=np.array([object()] * 2, dtype=object), pose=np.zeros((2, 3)))
    with pytest.raises(DataFormatError, match="BIWI_noTrack.npz: .*unpickl"):
        formats.read("biwi", path)
    path.write_bytes(b"\x80\x04not an npz archive")
    with pytest.raises(DataFormatError, match="BIWI_noTrack.npz: not an .npz archive of plain arrays.*unpickle"):
        formats.read("biwi", path)
    np.savez(path, images=bgr_faces(2), pose=np.zeros((2, 3)))
    with pytest.raises(DataFormatError, match="expected arrays 'image' and 'pose'.*found images, pose"):
        formats.read("biwi", path)
    np.savez(path, image=bgr_faces(2), pose=np.zeros((3, 3)))
    with pytest.raises(DataFormatError, match=r"expected 'pose' of shape \(2, 3\)"):
        formats.read("biwi", path)


# --- tasks ---------------------------------------------------------------------------------------------
def test_default_tasks_and_biwi_training_set_beside_it(tmp_path):
    from facessl.evaluate.suite import TaskSpec

    assert TaskSpec("", f"cfp:{tmp_path}").task == "verification"
    (tmp_path / "biwi").mkdir()
    with pytest.raises(FacesslError, match="--train-dataset 300wlp:PATH"):
        TaskSpec("", f"biwi:{tmp_path / 'biwi'}")
    (tmp_path / "300wlp").mkdir()
    spec = TaskSpec("", f"biwi:{tmp_path / 'biwi'}")
    assert spec.task == "pose" and spec.train_dataset == f"300wlp:{tmp_path / '300wlp'}"
