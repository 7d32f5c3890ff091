"""AFLW (aflw.sqlite + flickr/0,2,3 photos: head pose of each FaceRect crop) and AFLW-19 (AFLWinfo_release.mat, or
HRNet's CSV lists: 19 landmarks), written here in their distributed layouts with tiny photos and read back. The pose
conversion is checked against the AFLW annotation tool's own recipe (POSIT rotation -> S R -> Rz Ry Rx split)."""
import math
import sqlite3

import numpy as np
import pytest

from image_toys import write
from facessl.data import formats
from facessl.data.formats import aflw as aflw_module
from facessl.data.formats.aflw import aflw_to_pose, stored_pose
from facessl.data.formats.biwi import rotation_to_pose
from facessl.data.formats.common import load_image
from facessl.data.formats.imagefiles import save_image as _save
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError, FacesslError

RNG = np.random.default_rng(5)


def save_image(path, size=(60, 60)):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, RNG.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


# --- the pose conversion ---------------------------------------------------------------------------------
def rodrigues(axis, degrees):
    a = np.deg2rad(degrees)
    x, y, z = axis
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]], dtype=float)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def facessl_rotation(yaw, pitch, roll):
    """The head rotation in camera axes (x right, y down, z away) of a facessl pose, as formats/biwi.py defines it."""
    return rodrigues((1, 0, 0), -pitch) @ rodrigues((0, 1, 0), yaw) @ rodrigues((0, 0, 1), roll)


def aflw_tool_angles(camera_rotation):
    """(roll, pitch, yaw) radians as FacePoseCalculator.cpp stores them: POSIT's rotation R acts on the mean face's
    points given as (z, -x, -y) (model x to the viewer's right, y up, z out of the face); the tool multiplies by
    rotateCoordSystemM and splits with splitRotationMatrixToRollPitchYaw."""
    frontal = np.diag([1.0, -1.0, -1.0])  # model -> camera of a frontal face: y up -> down, z out -> towards us
    ogl = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)  # model (x, y, z) -> (z, -x, -y)
    posit = camera_rotation @ frontal @ ogl.T  # camera = R @ ogl point
    a = np.array([[0, 0, -1], [-1, 0, 0], [0, 1, 0]], dtype=float) @ posit
    return math.atan2(a[2, 1], a[2, 2]), math.asin(-a[2, 0]), math.atan2(a[1, 0], a[0, 0])


@pytest.mark.parametrize("yaw,pitch,roll", [(30, 0, 0), (0, 20, 0), (0, 0, 15), (30, 10, -5), (-70, -40, 20),
                                            (45, 55, 30), (-10, 60, -35), (0, 0, 0)])
def test_aflw_angles_convert_to_facessl_through_the_tools_recipe(yaw, pitch, roll):
    stored = aflw_tool_angles(facessl_rotation(yaw, pitch, roll))
    np.testing.assert_allclose(aflw_to_pose(*stored), [yaw, pitch, roll], atol=1e-9)
    np.testing.assert_allclose(rotation_to_pose(facessl_rotation(yaw, pitch, roll)), [yaw, pitch, roll], atol=1e-9)


def test_aflw_single_angles_agree_in_yaw_and_pitch_and_flip_roll():
    # turned to the image's left, looking up, tipped clockwise: AFLW stores +yaw, +pitch and -roll
    np.testing.assert_allclose(np.rad2deg(aflw_tool_angles(facessl_rotation(30, 0, 0))), [0, 0, 30], atol=1e-9)
    np.testing.assert_allclose(np.rad2deg(aflw_tool_angles(facessl_rotation(0, 20, 0))), [0, 20, 0], atol=1e-9)
    np.testing.assert_allclose(np.rad2deg(aflw_tool_angles(facessl_rotation(0, 0, 15))), [-15, 0, 0], atol=1e-9)
    # Hopenet's reading (stored angles, roll negated) matches for one angle at a time, not for combined ones
    np.testing.assert_allclose(stored_pose(*np.deg2rad([-15, 20, 30])), [30, 20, 15], atol=1e-9)
    combined = aflw_tool_angles(facessl_rotation(30, 10, -5))
    assert abs(stored_pose(*combined)[2] - (-5)) > 3 and np.allclose(aflw_to_pose(*combined), [30, 10, -5])


# --- AFLW: aflw.sqlite + flickr/ ------------------------------------------------------------------------
SCHEMA = """
CREATE TABLE Databases(db_id TEXT PRIMARY KEY, path TEXT, description TEXT);
CREATE TABLE AnnotationType(annot_type_id INTEGER PRIMARY KEY, description TEXT, CODE TEXT);
CREATE TABLE Faces(face_id INTEGER PRIMARY KEY, file_id TEXT, db_id TEXT);
CREATE TABLE FaceImages(image_id INTEGER PRIMARY KEY, db_id TEXT, file_id TEXT, filepath TEXT, bw INTEGER,
                        width INTEGER, height INTEGER);
CREATE TABLE FacePose(face_id INTEGER, roll REAL, pitch REAL, yaw REAL, annot_type_id INTEGER);
CREATE TABLE FaceRect(face_id INTEGER, x INTEGER, y INTEGER, w INTEGER, h INTEGER, annot_type_id INTEGER);
CREATE TABLE FaceMetaData(face_id INTEGER, sex TEXT, occluded INTEGER, glasses INTEGER, bw INTEGER, annot_type_id INTEGER);
CREATE TABLE FaceEllipse(face_id INTEGER, x REAL, y REAL, ra REAL, rb REAL, theta REAL, annot_type_id INTEGER,
                         upsidedown INTEGER);
CREATE TABLE FeatureCoordTypes(feature_id INTEGER PRIMARY KEY, descr TEXT, code TEXT, x REAL, y REAL, z REAL);
CREATE TABLE FeatureCoords(face_id INTEGER, feature_id INTEGER, x REAL, y REAL);
"""
# face_id, filepath, (roll, pitch, yaw) radians or None, (x, y, w, h) or None
FACES = [
    (39341, "0/image00002.jpg", (0.1, -0.2, 0.5), (10, 12, 20, 20)),
    (39342, "0/image00002.jpg", (0.0, 0.1, -0.3), (30, 8, 24, 24)),
    (39343, "2/image00004.jpg", (-0.05, 0.0, 0.0), (-4, 5, 30, 30)),  # the box leaves the photo
    (39344, "3/image00032.jpg", (0.0, 0.0, 0.2), (5, 5, 20, 20)),  # photo never written: missing_image
    (39345, "3/image00035.jpg", (0.0, 0.0, 2.0), (5, 5, 20, 20)),  # yaw 115 degrees: angle_over_99
    (39346, "3/image00035.jpg", None, (5, 5, 20, 20)),  # no FacePose row
    (39347, "3/image00035.jpg", (0.0, 0.0, 0.1), None),  # no FaceRect row
    (39348, "3/image00035.jpg", (None, 0.0, 0.1), (5, 5, 20, 20)),  # NULL roll: invalid_pose
] + [(39400 + k, f"{('0', '2', '3')[k % 3]}/image{10000 + k:05d}.jpg", (0.02 * k, -0.03 * k, 0.15 * k - 1.2),
       (8, 8, 30, 30)) for k in range(16)]  # one face per photo, yaw -69 .. +60 degrees
NOT_WRITTEN = {"3/image00032.jpg"}


def write_sqlite(path, faces=FACES, schema=SCHEMA):
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    photos = sorted({f[1] for f in faces})
    conn.executemany("INSERT INTO FaceImages(db_id, file_id, filepath, bw, width, height) VALUES ('aflw', ?, ?, 0, 60, 60)",
                     [(p.split("/")[-1], p) for p in photos])
    for face_id, photo, pose, rect in faces:
        conn.execute("INSERT INTO Faces(face_id, file_id, db_id) VALUES (?, ?, 'aflw')", (face_id, photo.split("/")[-1]))
        if pose is not None:
            conn.execute("INSERT INTO FacePose(face_id, roll, pitch, yaw, annot_type_id) VALUES (?, ?, ?, ?, 1)", (face_id, *pose))
        if rect is not None:
            conn.execute("INSERT INTO FaceRect(face_id, x, y, w, h, annot_type_id) VALUES (?, ?, ?, ?, ?, 1)", (face_id, *rect))
        conn.execute("INSERT INTO FaceMetaData VALUES (?, 'm', 0, 0, 0, 1)", (face_id,))
    conn.commit()
    conn.close()


def write_photos(flickr, faces=FACES, parts=("0", "2", "3")):
    for photo in sorted({f[1] for f in faces} - NOT_WRITTEN):
        if photo.split("/")[0] in parts:
            save_image(flickr / photo)


def write_aflw(root):
    """aflw/data/aflw.sqlite + aflw/data/flickr/{0,2,3}/ as the four archives unpack side by side, under root."""
    data = root / "aflw" / "data"
    write_sqlite(data / "aflw.sqlite")
    write_photos(data / "flickr")
    return data


GOOD = [f for f in FACES if f[2] is not None and f[3] is not None and f[2][0] is not None
        and abs(f[2][2]) < 1.7 and f[1] not in NOT_WRITTEN]


def test_aflw_reads_every_root_with_crops_poses_and_counts(tmp_path):
    data = write_aflw(tmp_path)
    for root in (tmp_path, tmp_path / "aflw", data, data / "aflw.sqlite"):
        got = formats.read("aflw", root)
        assert len(got) == len(GOOD)
        assert got.dropped == {"missing_image": 1, "no_pose": 1, "no_rect": 1, "invalid_pose": 1, "invalid_rect": 0,
                               "angle_over_99": 1}
    assert list(got.labels["face_id"]) == [f[0] for f in GOOD]
    first = got.images[0]
    assert isinstance(first, BoxedImage) and first.endswith("aflw/data/flickr/0/image00002.jpg")
    assert first.box == (10.0, 12.0, 30.0, 32.0)
    np.testing.assert_allclose(got.labels["pose"][0], aflw_to_pose(0.1, -0.2, 0.5), atol=1e-4)
    assert got.labels["pose"].shape == (len(GOOD), 3) and got.labels["pose"].dtype == np.float32
    assert list(got.labels["group"][:2]) == ["0/image00002.jpg", "0/image00002.jpg"]
    assert load_image(got.images[2]).shape == (30, 30, 3)  # partly outside the photo: filled, still square
    assert load_image(got.images[1], 16).shape == (16, 16, 3)
    assert got.source == str(data / "aflw.sqlite") and "grouped by photo" in got.meta["split_from"]


def test_aflw_split_is_seeded_grouped_by_photo_and_options_apply(tmp_path):
    write_aflw(tmp_path)
    got = formats.read("aflw", tmp_path)
    assert set(got.split) == {"train", "test"} and 0 < (got.split == "test").sum() < len(got)
    for photo in set(got.labels["group"]):
        assert len(set(got.split[got.labels["group"] == photo])) == 1  # no photo on both sides
    again = formats.read("aflw", tmp_path)
    assert list(again.split) == list(got.split)
    other = formats.read("aflw", tmp_path, seed=3, test_fraction=0.5)
    assert "seeded (3)" in other.meta["split_from"] and (other.split == "test").sum() >= (got.split == "test").sum()
    stored = formats.read("aflw", tmp_path, angles="AFLW")
    np.testing.assert_allclose(stored.labels["pose"][0], np.rad2deg([0.5, -0.2, -0.1]), atol=1e-4)
    wide = formats.read("aflw", tmp_path, box_scale=1.5)
    assert wide.images[0].box == (5.0, 7.0, 35.0, 37.0)
    strict = formats.read("aflw", tmp_path, max_angle=60)
    assert strict.dropped["angle_over_99"] > 1 and np.abs(strict.labels["pose"]).max() <= 60


def test_aflw_archives_unpacked_into_their_own_folders_and_partial_downloads(tmp_path):
    write_sqlite(tmp_path / "aflw-db" / "aflw" / "data" / "aflw.sqlite")
    for part in ("0", "2"):  # aflw-images-3.tar.gz not downloaded
        write_photos(tmp_path / f"aflw-images-{part}" / "aflw" / "data" / "flickr", parts=(part,))
    got = formats.read("aflw", tmp_path)
    assert list(formats.read("aflw", tmp_path / "aflw-db" / "aflw").images) == list(got.images)
    assert len(got) == len([f for f in GOOD if not f[1].startswith("3/")])
    # 3/: image00032 (never written), image00035's face with yaw 115 (its photo is checked first) and the good ones
    assert got.dropped["missing_image"] == 2 + len([f for f in GOOD if f[1].startswith("3/")])
    assert got.dropped["angle_over_99"] == 0
    assert any("aflw-images-2" in str(p) for p in got.images)


def test_aflw_database_is_opened_read_only(tmp_path):
    data = write_aflw(tmp_path)
    db = data / "aflw.sqlite"
    before = (sorted(p.name for p in data.iterdir()), db.stat().st_mtime_ns, db.read_bytes())
    formats.read("aflw", tmp_path)
    assert (sorted(p.name for p in data.iterdir()), db.stat().st_mtime_ns, db.read_bytes()) == before


def test_aflw_errors_name_the_file(tmp_path):
    with pytest.raises(DataFormatError, match="AFLW database not found: expected aflw/data/aflw.sqlite"):
        formats.read("aflw", tmp_path)
    bad = tmp_path / "bad" / "aflw.sqlite"
    write(bad, "this is not a database\n" * 200)
    with pytest.raises(DataFormatError, match=r"bad/aflw.sqlite: not a readable SQLite database"):
        formats.read("aflw", bad.parent)
    no_pose = tmp_path / "nopose" / "aflw.sqlite"
    write_sqlite(no_pose, faces=[], schema=SCHEMA.replace("CREATE TABLE FacePose", "CREATE TABLE FacePoses"))
    with pytest.raises(DataFormatError, match=r"nopose/aflw.sqlite: not the AFLW database: no table FacePose "):
        formats.read("aflw", no_pose)
    no_h = tmp_path / "noh" / "aflw.sqlite"
    write_sqlite(no_h, faces=[], schema=SCHEMA.replace("w INTEGER, h INTEGER", "w INTEGER, height INTEGER"))
    with pytest.raises(DataFormatError, match=r"noh/aflw.sqlite: table FaceRect has no column h"):
        formats.read("aflw", no_h)
    photos_absent = tmp_path / "nophotos" / "aflw" / "data" / "aflw.sqlite"
    write_sqlite(photos_absent)
    with pytest.raises(DataFormatError, match=r"aflw.sqlite: no AFLW face left to read: .*missing_image.*"
                                              r"photo folders found: none \(expected .*nophotos/aflw/data/flickr/0, 2, 3\)"):
        formats.read("aflw", tmp_path / "nophotos")
    write_aflw(tmp_path / "ok")
    with pytest.raises(FacesslError, match="aflw angles 'euler': expected one of facessl, aflw"):
        formats.read("aflw", tmp_path / "ok", angles="euler")
    with pytest.raises(FacesslError, match="aflw box_scale .*: expected a number > 0"):
        formats.read("aflw", tmp_path / "ok", box_scale=0)


# --- AFLW-19: AFLWinfo_release.mat ----------------------------------------------------------------------
MAT_NAMES = ["0/image00002.jpg", "0/image00002.jpg", "2/image00004.jpg", "3/image00035.jpg", "2/image00006.jpg",
             "3/image00032.jpg"]
RA = [3, 1, 6, 2, 5, 4]  # 1-based: faces 3, 1, 6, 2 train; 5, 4 test (with AFLW19_TRAIN = 4)


def mat_faces(n=len(MAT_NAMES)):
    boxes = np.array([[10 + k, 34 + k, 8, 36] for k in range(n)], dtype=float)  # x1 x2 y1 y2
    xs = boxes[:, :1] + np.linspace(2, 22, 19)[None]
    ys = boxes[:, 2:3] + np.linspace(3, 27, 19)[None]
    mask = np.ones((n, 19))
    mask[4 % n, 12] = 0  # face 5 (test) has a hidden nose point: not AFLW-Frontal
    return boxes, np.hstack([xs, ys]), mask


def write_mat(path, names=MAT_NAMES, ra=RA, **replace):
    from scipy.io import savemat

    boxes, data, mask = mat_faces(len(names))
    name_list = np.empty((len(names), 1), dtype=object)
    for k, name in enumerate(names):
        name_list[k, 0] = name
    fields = {"bbox": boxes, "data": data, "mask_new": mask, "nameList": name_list,
              "ra": np.array([ra], dtype=float)}
    fields.update(replace)
    fields = {k: v for k, v in fields.items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, fields)


def write_aflw19(root, flickr_rel="flickr"):
    write_mat(root / "AFLWinfo_release.mat")
    for name in sorted(set(MAT_NAMES) - NOT_WRITTEN):
        save_image(root / flickr_rel / name)


@pytest.fixture
def small_protocol(monkeypatch):
    monkeypatch.setattr(aflw_module, "AFLW19_TRAIN", 4)


@pytest.mark.parametrize("flickr_rel", ["flickr", "data/flickr", "aflw/data/flickr", "images"])
def test_aflw19_mat_layouts_split_and_crop_points(tmp_path, small_protocol, flickr_rel):
    write_aflw19(tmp_path / "AFLW", flickr_rel)
    for root in (tmp_path / "AFLW", tmp_path / "AFLW" / "AFLWinfo_release.mat"):
        got = formats.read("aflw19", root)
        # order 3, 1, 6, 2 | 5, 4; face 6 (3/image00032.jpg) has no photo
        assert got.dropped == {"missing_image": 1, "invalid_box": 0, "invalid_landmarks": 0}
        assert list(got.split) == ["train", "train", "train", "test", "test"]
        assert list(got.labels["group"]) == [MAT_NAMES[i] for i in (2, 0, 1, 4, 3)]
    boxes, data, _ = mat_faces()
    face = got.images[0]  # MAT face 3: box x 12..36, y 8..36 -> 1.25 x about its centre
    assert face.endswith(f"{flickr_rel}/2/image00004.jpg".lstrip("/")) and isinstance(face, BoxedImage)
    np.testing.assert_allclose(face.box, (9.0, 4.5, 39.0, 39.5))
    left, top, right, bottom = face.square()
    points = np.stack([data[2, :19], data[2, 19:]], axis=1)
    np.testing.assert_allclose(got.labels["landmarks"][0], points - [left, top])
    assert got.labels["landmarks"].shape == (5, 19, 2) and load_image(face).shape == (right - left, right - left, 3)
    np.testing.assert_allclose(got.labels["box_size"][0], math.sqrt(24 * 28))
    assert got.labels["visible"].shape == (5, 19) and not got.labels["visible"][3, 12]
    assert got.meta["point_names"][13] == "NoseCenter" and len(got.meta["point_names"]) == 19


def test_aflw19_frontal_subset_keeps_train_and_all_visible_test_faces(tmp_path, small_protocol):
    write_aflw19(tmp_path)
    got = formats.read("aflw19", tmp_path, subset="Frontal")
    assert list(got.split) == ["train"] * 3 + ["test"]  # face 5 hides a point
    assert got.labels["visible"].all() and "AFLW-Frontal" in got.meta["split_from"]
    with pytest.raises(FacesslError, match="aflw19 subset 'profile': expected one of full, frontal"):
        formats.read("aflw19", tmp_path, subset="profile")


def test_aflw19_mat_errors_name_file_and_field(tmp_path, small_protocol):
    with pytest.raises(DataFormatError, match="AFLW-19 annotations not found: expected AFLWinfo_release.mat"):
        formats.read("aflw19", tmp_path)
    cases = {
        "nomask": ({"mask_new": None}, "missing field mask_new"),
        "shape": ({"data": np.zeros((6, 36))}, "field data has shape 6 x 36, expected 6 x 38"),
        "ra": ({"ra": np.array([[1, 1, 2, 3, 4, 5]], dtype=float)}, "field ra is not a permutation of 1..6"),
        "text": ({"bbox": np.array(["a", "b", "c", "d", "e", "f"])}, "field bbox is not numeric"),
    }
    for name, (replace, message) in cases.items():
        path = tmp_path / name / "AFLWinfo_release.mat"
        write_mat(path, **replace)
        with pytest.raises(DataFormatError, match=f"{name}/AFLWinfo_release.mat: {message}"):
            formats.read("aflw19", path)
    broken = tmp_path / "broken" / "AFLWinfo_release.mat"
    write(broken, "not a mat file")
    with pytest.raises(DataFormatError, match="broken/AFLWinfo_release.mat: not a readable MATLAB .mat file"):
        formats.read("aflw19", broken.parent)
    few = tmp_path / "few" / "AFLWinfo_release.mat"
    write_mat(few, names=MAT_NAMES[:4], ra=[1, 2, 3, 4])
    with pytest.raises(DataFormatError, match="4 faces: expected more than the 4 training faces"):
        formats.read("aflw19", few)
    nophotos = tmp_path / "nophotos" / "AFLWinfo_release.mat"
    write_mat(nophotos)
    with pytest.raises(DataFormatError, match="no AFLW-19 face left to read: 6 missing_image"):
        formats.read("aflw19", nophotos)


def test_aflw19_bad_rows_are_skipped_and_counted(tmp_path, small_protocol):
    boxes, data, _ = mat_faces()
    boxes[0, 1] = boxes[0, 0]  # face 1: zero-width box
    data[1, 5] = np.nan  # face 2: a point without a value
    write_mat(tmp_path / "AFLWinfo_release.mat", bbox=boxes, data=data)
    for name in set(MAT_NAMES) - NOT_WRITTEN:
        save_image(tmp_path / "flickr" / name)
    got = formats.read("aflw19", tmp_path)
    assert got.dropped == {"missing_image": 1, "invalid_box": 1, "invalid_landmarks": 1} and len(got) == 3


# --- AFLW-19: HRNet's CSV lists -------------------------------------------------------------------------
CSV_HEADER = "image_name,scale,box_size,center_w,center_h," + ",".join(
    f"original_{k}_x,original_{k}_y" for k in range(1, 20))


def csv_row(name, cx, cy, scale=0.12, box_size=24.0):
    points = ",".join(f"{cx - 9 + k:.1f},{cy - 9 + k:.1f}" for k in range(19))
    return f"{name},{scale},{box_size},{cx},{cy},{points}"


def write_hrnet(folder, crlf=False, bom=False):
    rows = {"train": [csv_row("flickr/0/image00002.jpg", 25, 22), csv_row("flickr/2/image00004.jpg", 30, 30)],
            "test": [csv_row("flickr/3/image00035.jpg", 28, 26), csv_row("3/image00032.jpg", 20, 20),
                     csv_row("2/image00006.jpg", 26, 24)],
            "test_frontal": [csv_row("2/image00006.jpg", 26, 24)]}
    for split, lines in rows.items():
        write(folder / f"face_landmarks_aflw_{split}.csv", "\n".join([CSV_HEADER] + lines) + "\n", crlf=crlf, bom=bom)
    for name in ("0/image00002.jpg", "2/image00004.jpg", "3/image00035.jpg", "2/image00006.jpg"):
        save_image(folder / "images" / "flickr" / name)


@pytest.mark.parametrize("crlf,bom", [(False, False), (True, True)])
def test_aflw19_hrnet_csv_lists(tmp_path, crlf, bom):
    folder = tmp_path / "data" / "aflw"
    write_hrnet(folder, crlf, bom)
    for root in (folder, folder / "face_landmarks_aflw_test.csv"):
        got = formats.read("aflw19", root)
        assert list(got.split) == ["train", "train", "test", "test"] and got.dropped["missing_image"] == 1
    face = got.images[0]
    side = 200 * 0.12 * 1.25
    np.testing.assert_allclose(face.box, (25 - side / 2, 22 - side / 2, 25 + side / 2, 22 + side / 2))
    left, top, _, _ = face.square()
    np.testing.assert_allclose(got.labels["landmarks"][0, 0], [25 - 9 - left, 22 - 9 - top])
    assert face.endswith("images/flickr/0/image00002.jpg") and got.images[3].endswith("images/flickr/2/image00006.jpg")
    assert list(got.labels["box_size"]) == [24.0] * 4 and "HRNet" in got.meta["split_from"]
    frontal = formats.read("aflw19", folder, subset="frontal")
    assert list(frontal.split) == ["train", "train", "test"]


def test_aflw19_hrnet_csv_errors(tmp_path):
    folder = tmp_path / "aflw"
    write(folder / "face_landmarks_aflw_train.csv", CSV_HEADER + "\n")
    with pytest.raises(DataFormatError, match="face_landmarks_aflw_test.csv: HRNet's AFLW test list for subset=full not found"):
        formats.read("aflw19", folder)
    write(folder / "face_landmarks_aflw_test.csv", "image_name,scale,box_size,center_w,center_h,x,y\n")
    with pytest.raises(DataFormatError, match=r"face_landmarks_aflw_test.csv:1: expected 43 columns"):
        formats.read("aflw19", folder)
    write(folder / "face_landmarks_aflw_test.csv", CSV_HEADER + "\n" + csv_row("0/a.jpg", 1, 1).replace("0.12", "big") + "\n")
    with pytest.raises(DataFormatError, match=r"face_landmarks_aflw_test.csv:2: expected a number, got 'big'"):
        formats.read("aflw19", folder)


# --- through the registry and the CLI -------------------------------------------------------------------
def test_tasks_and_inspect_read_aflw_and_aflw19(tmp_path, capsys, small_protocol):
    from facessl.cli import main
    from facessl.evaluate.suite import FORMAT_TASK

    assert FORMAT_TASK["aflw"] == "pose" and FORMAT_TASK["aflw19"] == "landmarks"
    write_aflw(tmp_path / "a")
    write_aflw19(tmp_path / "b")
    assert main(["inspect", "--dataset", f"aflw:{tmp_path / 'a'}", "--out", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    assert "format aflw, task pose" in out and f"images: {len(GOOD)} (" in out
    assert main(["inspect", "--dataset", f"aflw19:{tmp_path / 'b'}", "--reader-option", "subset=frontal",
                 "--out", str(tmp_path / "b.png")]) == 0
    out = capsys.readouterr().out
    assert "format aflw19, task landmarks" in out and "images: 4 (test 1, train 3)" in out


def test_eval_probes_pose_on_aflw_and_landmarks_on_aflw19(tmp_path, monkeypatch, small_protocol):
    import json

    import facessl
    from eval_toys import ToyEncoder
    from facessl.cli import main

    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    write_aflw(tmp_path / "a")
    write_aflw19(tmp_path / "b")
    (tmp_path / "run").mkdir()
    fast = ["--seeds", "1", "--epochs", "2", "--supervised-epochs", "1", "--device", "cpu", "--quiet"]
    for fmt, folder, metric in (("aflw", "a", "mae"), ("aflw19", "b", "nme_box")):
        out = tmp_path / f"eval_{fmt}"
        assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"{fmt}:{tmp_path / folder}",
                     "--out", str(out), *fast]) == 0
        task = json.loads((out / "results.json").read_text())["tasks"][0]
        assert np.isfinite(task["rows"]["checkpoint"]["fs"]["metrics"][metric]["mean"])
