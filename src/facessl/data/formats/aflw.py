"""AFLW, Annotated Facial Landmarks in the Wild (Koestinger et al., ICCV-W 2011): head pose of every face
(`aflw`), and the AFLW-19 landmark protocol of Zhu et al. (CVPR 2016, CFSS) over the same photos (`aflw19`).

As distributed (TU Graz): aflw-db.tar.gz holds `aflw/data/aflw.sqlite`; aflw-images-0/2/3.tar.gz hold
`aflw/data/flickr/0/image00002.jpg`, `.../2/`, `.../3/`. Unpacked side by side they make one tree
    aflw/data/aflw.sqlite
    aflw/data/flickr/{0,2,3}/imageXXXXX.jpg
The path may be `aflw/`, `aflw/data/`, the folder above `aflw/`, or the .sqlite file; the archives unpacked
each into a folder of their own name (`aflw-db/aflw/data/...`, `aflw-images-0/aflw/data/flickr/0`) are found too.

The database (read with the standard library's sqlite3, opened read-only). Columns as the AFLW tools write
them (aflw-facedbsql-src: the INSERT statements of its importers and FacePoseCalculator.cpp):
    Faces(face_id, file_id, db_id)                        one row per annotated face
    FaceImages(image_id, db_id, file_id, filepath, bw, width, height)   filepath '0/image00002.jpg' under flickr/
    FacePose(face_id, roll, pitch, yaw, annot_type_id)    radians
    FaceRect(face_id, x, y, w, h, annot_type_id)          pixels, x/y may be negative
    FaceMetaData(face_id, sex, occluded, glasses, bw, annot_type_id), FeatureCoords(face_id, feature_id, x, y),
    FeatureCoordTypes(feature_id, descr, code, x, y, z), FaceEllipse, Databases, AnnotationType   (not read)
Each face is the square crop around its FaceRect (image_decode.BoxedImage; `box_scale` enlarges the box about
its centre), labels 'pose' (N,3), 'group' (the photo, FaceImages.filepath) and 'face_id'. A face whose photo
is not on disk is skipped and counted (`dropped['missing_image']`): the database lists all three image
archives and a user may have unpacked only some. Faces with no FacePose or FaceRect row, or NULL values, are
counted too ('no_pose', 'no_rect', 'invalid_pose', 'invalid_rect').

Pose. FacePoseCalculator.cpp (and the annotation GUI) fit the mean 3D face (FeatureCoordTypes x, y, z: x to
the viewer's right on a frontal face, y up, z out of the face; AFLW's "left" points are on the image's left) to
the clicked points with POSIT (camera x right, y down, z into the scene; model points passed as
(z, -x, -y)), multiply the rotation R by S = [[0,0,-1],[-1,0,0],[0,1,0]] and split S R as
Rz(yaw) Ry(pitch) Rx(roll). S R is the head rotation G in a frame F with x towards the camera, y to the image's
left, z down (a frontal face gives G = I); in camera axes the same rotation is M = S^T G S. So in AFLW's
numbers yaw turns about the vertical, yaw > 0 turns the nose to the image's left, pitch > 0 lifts it, and
roll > 0 tips the top of the head to the image's left (anticlockwise). facessl's signs (docs/data_formats.md:
yaw > 0 to the image's left, pitch > 0 up, roll > 0 clockwise) therefore agree in yaw and pitch and are the
opposite in roll, which is also the one correction deep-head-pose (Hopenet) applies to AFLW ("roll *= -1",
code/datasets.py). The two also compose the angles in different orders (AFLW: yaw outermost; facessl /
300W-LP / BIWI: pitch outermost, see formats/biwi.py), which moves a combined pose by up to several degrees
(yaw 30, pitch 10, roll -5 reads 30.4, 8.6, 10.0 in AFLW's angles). `angles='facessl'` (default) therefore
rebuilds M from the stored angles and decomposes it as biwi.rotation_to_pose does; `angles='aflw'` keeps
the stored yaw and pitch and negates roll, as Hopenet does (comparable with results that read AFLW so).
Verified: the frame S, the split order and the OGL point mapping from the AFLW tool's source; roll's sign
against Hopenet. Reasoned: the mean face's axes (from the coordinates in MeanFace3DModel.cpp; a mirrored model
could not be fitted by POSIT at all), and that no AFLW photo was checked by eye here. Faces with any
|angle| > 99 degrees are dropped and counted in `dropped['angle_over_99']`, as for AFLW2000.

Split. AFLW defines none. FAb-Net (Wiles et al., BMVC 2018) reports head pose on AFLW, but its repository
(oawiles/FAb-Net) ships no AFLW list and the protocol is not a file a user can have; KEPLER's and Hopenet's
test lists are not distributed with AFLW either. So the split is seeded and grouped by photo (no photo on
both sides), about `test_fraction` of the faces in test, stratified by yaw bin (edges +-15, +-45, +-75 degrees);
`meta['split_from']` says so.

AFLW-19 (`aflw19`): `AFLWinfo_release.mat` from the CFSS project page, read with scipy.io.loadmat (no
unpickling). Fields, as SAN (cache_data/aflw_from_mat.py), FaRL (its AFLW_19 dataset) and 3FabRec (csl_common)
read them:
    data      N x 38   19 x, then 19 y, in photo pixels (kept as stored)
    bbox      N x 4    x1, x2, y1, y2 of the face box
    mask_new  N x 19   1 = the point is visible
    nameList  N x 1 cell of paths under flickr/ ('3/image00035.jpg')
    ra        1 x N    a permutation of 1..N: the first 20,000 faces train, the rest (4,386) test
N = 24,386. The 19 points are AFLW's 21 without the ears, in AFLW's order (brows 1-6, eyes 7-12, nose 13-15,
mouth 16-18, chin 19; HRNet's AFLW flip pairs agree), in `meta['point_names']`. `subset='frontal'` tests on the
AFLW-Frontal faces only (test faces whose 19 points are all visible, 1,165; SAN also requires them inside the
box). Each face is the square around its bbox grown by a quarter (1.25, as HRNet grows its AFLW crops),
its points moved into the crop (0-based pixels of the crop). Labels 'landmarks' (N,19,2), 'visible' (N,19),
'box_size' (N,) sqrt(w h) of the bbox (AFLW-19's NME normaliser), 'group' (the photo).
HRNet's CSV form (`face_landmarks_aflw_train.csv`, `_test.csv`, `_test_frontal.csv`: image_name, scale,
box_size, center_w, center_h, then x, y of the 19 points; crop side 200 * scale * 1.25 about the centre, as
HRNet's lib/datasets/aflw.py) is read when no .mat is there. Images are looked for under the usual homes
(`flickr/`, `data/flickr/`, `aflw/data/flickr/`, `images/flickr/`, `images/`); a missing photo is skipped and
counted. The landmark task's `nme` divides by `box_size` when a set carries it (AFLW-19's convention, the
papers' NME); its `nme_box` by the points' own box as for every set.

Evidence (read, not copied): FacePerceiver/FaRL `farl/datasets/aflw.py` (AFLWinfo_release.mat read with
scipy.io.loadmat, so a v5 file; bbox columns left, right, top, bottom; data reshaped (2, 19) then transposed:
19 x then 19 y; `ra` - 1 with the first 20,000 train, the rest test; frontal = test faces whose mask_new is all 1;
images `data/flickr/<nameList>`); jhb86253817/PIPNet `lib/preprocess.py` (AFLW branch: `AFLW/AFLWinfo_release.mat`
beside `AFLW/flickr/`, nameList[index - 1][0][0], bbox x_min x_max y_min y_max) and `README.md` (the same
folder tree); HRNet/HRNet-Facial-Landmark-Detection `README.md` (`data/aflw/face_landmarks_aflw_{train,test,
test_frontal}.csv` + `images/`). Loaders found by text search (repository not shown) keep the .mat in `aflw-19/`
and the photos in `aflw-21/data/flickr/` (both now looked in), or `AFLWinfo_release.mat` beside `images/0, 2, 3`.
For the database: the layout above is the release's (aflw-db.tar.gz / aflw-images-*.tar.gz) as described by the
AFLW tools' source; unconfirmed here: the AFLW sqlite's exact column types (read by name, NULL-tolerant).
"""
from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np

from facessl.data.formats.biwi import rotation_to_pose
from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, grouped_stratified_split
from facessl.data.formats.imagefiles import IMAGE_SUFFIXES, one_of, parse_number, positive_number, with_dropped
from facessl.data.formats.text import read_csv
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError

DB_NAME = "aflw.sqlite"
IMAGE_PARTS = ("0", "2", "3")  # the flickr/ subfolders of aflw-images-0/2/3.tar.gz
REQUIRED_COLUMNS = {"Faces": ("face_id", "file_id"), "FaceImages": ("file_id", "filepath"),
                    "FacePose": ("face_id", "roll", "pitch", "yaw"), "FaceRect": ("face_id", "x", "y", "w", "h")}
# camera axes (x right, y down, z into the scene) -> AFLW's pose frame (x to the camera, y image-left, z down)
TO_AFLW_FRAME = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
YAW_BIN_EDGES = (-75.0, -45.0, -15.0, 15.0, 45.0, 75.0)

MAT_NAME = "AFLWinfo_release.mat"
MAT_FIELDS = ("data", "bbox", "mask_new", "nameList", "ra")
AFLW19_TRAIN = 20_000  # CFSS: the first 20,000 faces of 'ra' train, the rest test
AFLW19_BOX_SCALE = 1.25
HRNET_CSV = {"train": "face_landmarks_aflw_train.csv", "test": "face_landmarks_aflw_test.csv",
             "frontal": "face_landmarks_aflw_test_frontal.csv"}
HRNET_CROP = 200.0 * 1.25  # HRNet: the crop side is 200 * scale, scale grown by 1.25 when read
POINT_NAMES = ("LeftBrowLeftCorner", "LeftBrowCenter", "LeftBrowRightCorner", "RightBrowLeftCorner",
               "RightBrowCenter", "RightBrowRightCorner", "LeftEyeLeftCorner", "LeftEyeCenter", "LeftEyeRightCorner",
               "RightEyeLeftCorner", "RightEyeCenter", "RightEyeRightCorner", "NoseLeft", "NoseCenter", "NoseRight",
               "MouthLeftCorner", "MouthCenter", "MouthRightCorner", "ChinCenter")
FLICKR_HOMES = ("flickr", "data/flickr", "aflw/data/flickr", "images/flickr", "images", "aflw-21/data/flickr", "") + tuple(
    f"aflw-images-{part}/aflw/data/flickr" for part in IMAGE_PARTS)


# --- pose conversion -----------------------------------------------------------------------------------
def _axis_rotation(axis: int, angle: float) -> np.ndarray:
    """Right-handed rotation by `angle` radians about x (0), y (1) or z (2), as the AFLW tool's rotMatX/Y/Z."""
    c, s = math.cos(angle), math.sin(angle)
    i, j = ((1, 2), (2, 0), (0, 1))[axis]  # cyclic order keeps every rotation right-handed
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def aflw_rotation(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """The head rotation in AFLW's pose frame from FacePose's radians: Rz(yaw) Ry(pitch) Rx(roll), the order
    the tool's splitRotationMatrixToRollPitchYaw takes apart."""
    return _axis_rotation(2, yaw) @ _axis_rotation(1, pitch) @ _axis_rotation(0, roll)


def aflw_to_pose(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """facessl (yaw, pitch, roll) degrees of an AFLW pose: the rotation in camera axes, decomposed as BIWI's."""
    g = aflw_rotation(roll, pitch, yaw)
    return rotation_to_pose(TO_AFLW_FRAME.T @ g @ TO_AFLW_FRAME)


def stored_pose(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """AFLW's own angles in degrees as (yaw, pitch, roll), roll negated (Hopenet's use of AFLW)."""
    return np.rad2deg([yaw, pitch, -roll])


POSE_CONVERSIONS = {"facessl": aflw_to_pose, "aflw": stored_pose}


# --- finding the files ---------------------------------------------------------------------------------
def find_database(root: Path) -> Path:
    """aflw.sqlite for a root that is the file, aflw/data/, aflw/, the folder above or aflw-db's."""
    if root.is_file():
        return root
    for rel in ("", "data", "aflw/data", "aflw-db/aflw/data", "aflw-db/data"):
        if (root / rel / DB_NAME).is_file():
            return root / rel / DB_NAME
    raise DataFormatError(root, f"AFLW database not found: expected aflw/data/{DB_NAME} (from aflw-db.tar.gz) here, "
                                "in data/ or in aflw/data/")


def flickr_folders(bases) -> list[Path]:
    """Folders holding AFLW's photo subfolders 0/, 2/ or 3/ under any of `bases` (the usual homes)."""
    found, seen = [], set()
    for base in bases:
        for rel in FLICKR_HOMES:
            folder = base / rel if rel else base
            if folder.is_dir() and any((folder / part).is_dir() for part in IMAGE_PARTS):
                key = folder.resolve()
                if key not in seen:
                    seen.add(key)
                    found.append(folder)
    return found


class PhotoFinder:
    """A photo path as the annotations give it ('0/image00002.jpg', 'flickr/0/...') -> the file on disk or None;
    remembered per name (a photo holds several faces)."""

    def __init__(self, flickr: list[Path], bases: list[Path] = ()):
        self.flickr, self.bases, self.known = flickr, list(bases), {}

    def __call__(self, name: str):
        if name not in self.known:
            self.known[name] = self._find(name)
        return self.known[name]

    def _find(self, name: str):
        rel = name.replace("\\", "/").lstrip("/")
        tail = rel[len("flickr/"):] if rel.startswith("flickr/") else rel
        candidates = [folder / tail for folder in self.flickr] + [base / rel for base in self.bases]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:  # a copy converted to another format keeps the stem (SAN renames to .jpg)
            hit = next((c.with_suffix(s) for c in candidates for s in IMAGE_SUFFIXES
                        if c.parent.is_dir() and c.with_suffix(s).is_file()), None)
        return hit


# --- the database --------------------------------------------------------------------------------------
def open_readonly(path: Path) -> sqlite3.Connection:
    """The database opened read-only (a URI, so that no journal or lock file is written beside it)."""
    try:
        return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DataFormatError(path, f"cannot open the SQLite database ({exc})") from None


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Every table and column the reader needs, each missing one a clear error (names are case-insensitive)."""
    try:
        tables = {row[0].lower(): row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise DataFormatError(path, f"not a readable SQLite database ({exc})") from None
    for table, columns in REQUIRED_COLUMNS.items():
        if table.lower() not in tables:
            found = ", ".join(sorted(tables.values())) or "none"
            raise DataFormatError(path, f"not the AFLW database: no table {table} (expected tables "
                                        f"{', '.join(REQUIRED_COLUMNS)}; found {found})")
        have = {row[1].lower() for row in conn.execute(f'PRAGMA table_info("{tables[table.lower()]}")')}
        lacking = [c for c in columns if c.lower() not in have]
        if lacking:
            raise DataFormatError(path, f"table {table} has no column {', '.join(lacking)} "
                                        f"(expected {', '.join(columns)})")


def _first_rows(conn, path: Path, table: str, columns) -> dict:
    """face_id/file_id -> the first row's other values (ordered by rowid: a face annotated twice keeps the first)."""
    query = f"SELECT {', '.join(columns)} FROM {table}"
    try:
        try:
            rows = conn.execute(query + " ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:  # a WITHOUT ROWID copy: its own order
            rows = conn.execute(query).fetchall()
    except sqlite3.DatabaseError as exc:
        raise DataFormatError(path, f"cannot read table {table} ({exc})") from None
    out = {}
    for row in rows:
        out.setdefault(row[0], tuple(row[1:]))
    return out


def _numbers(values) -> tuple | None:
    """Finite floats, or None for a NULL, text or non-finite value."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def _face_rows(db: Path):
    """(face_id, filepath, (roll, pitch, yaw) or reason, (x, y, w, h) or reason) of every face, in face_id order."""
    conn = open_readonly(db)
    try:
        check_schema(conn, db)
        faces = _first_rows(conn, db, "Faces", ("face_id", "file_id"))
        paths = _first_rows(conn, db, "FaceImages", ("file_id", "filepath"))
        poses = _first_rows(conn, db, "FacePose", ("face_id", "roll", "pitch", "yaw"))
        rects = _first_rows(conn, db, "FaceRect", ("face_id", "x", "y", "w", "h"))
    finally:
        conn.close()
    for face_id in sorted(faces, key=lambda v: (str(type(v)), v)):
        file_id = faces[face_id][0]
        filepath = paths.get(file_id, (None,))[0]
        pose = "no_pose" if face_id not in poses else (_numbers(poses[face_id]) or "invalid_pose")
        rect = "no_rect" if face_id not in rects else (_numbers(rects[face_id]) or "invalid_rect")
        yield face_id, filepath, pose, rect


def _check_face(pose, rect, filepath, find_photo, convert, max_angle: float):
    """(why the face is skipped or None, its photo, facessl angles), checks in the order they are counted."""
    problem = next((p for p in (pose, rect) if isinstance(p, str)), None)
    if problem:
        return problem, None, None
    if rect[2] <= 0 or rect[3] <= 0:
        return "invalid_rect", None, None
    photo = find_photo(str(filepath)) if filepath is not None else None
    if photo is None:
        return "missing_image", None, None
    angles = convert(*pose)
    if np.abs(angles).max() > max_angle:
        return "angle_over_99", None, None
    return None, photo, angles


def _yaw_bins(pose: np.ndarray) -> np.ndarray:
    return np.digitize(pose[:, 0], YAW_BIN_EDGES)


def read_aflw(root, angles: str = "facessl", box_scale: float = 1.0, max_angle: float = 99.0,
              test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """AFLW faces as FaceRect crops: labels 'pose' (N,3) facessl (yaw, pitch, roll) degrees, 'group' (photo),
    'face_id'; a seeded split grouped by photo (see the module docstring)."""
    angles = one_of(angles, tuple(POSE_CONVERSIONS), "aflw", "angles")
    box_scale = positive_number(box_scale, "aflw", "box_scale")
    root = Path(root)
    if not root.exists():
        raise DataFormatError(root, "AFLW folder not found")
    db = find_database(root)
    data_dir = db.parent
    bases = [data_dir, *list(data_dir.parents)[:3], root if root.is_dir() else root.parent]  # up to aflw-db/'s parent
    flickr = flickr_folders(bases)
    find_photo = PhotoFinder(flickr)
    convert = POSE_CONVERSIONS[angles]
    dropped = dict.fromkeys(("missing_image", "no_pose", "no_rect", "invalid_pose", "invalid_rect", "angle_over_99"), 0)
    images, poses, groups, face_ids = [], [], [], []
    for face_id, filepath, pose, rect in _face_rows(db):
        problem, photo, angles_deg = _check_face(pose, rect, filepath, find_photo, convert, max_angle)
        if problem:
            dropped[problem] += 1
            continue
        x, y, w, h = rect
        images.append(BoxedImage.enlarged(photo, (x, y, x + w, y + h), box_scale))
        poses.append(angles_deg)
        groups.append(str(filepath).replace("\\", "/"))
        face_ids.append(face_id)
    if not images:
        counts = ", ".join(f"{v} {k}" for k, v in dropped.items() if v)
        where = ", ".join(str(f) for f in flickr) or f"none (expected {data_dir / 'flickr'}/0, 2, 3)"
        raise DataFormatError(db, f"no AFLW face left to read: {counts} (photo folders found: {where})")
    pose = np.array(poses, dtype=np.float32)
    group = np.array(groups)
    split = np.asarray(grouped_stratified_split(_yaw_bins(pose), group, test_fraction, seed))
    labels = {"pose": pose, "group": group, "face_id": np.array(face_ids)}
    meta = {"split_from": f"seeded ({seed}) split, {test_fraction:.0%} test, grouped by photo, stratified by yaw bin "
                          "(AFLW defines no split)",
            "angles": "facessl (rotation re-decomposed)" if angles == "facessl" else "aflw (stored, roll negated)",
            "box": f"FaceRect x {box_scale:g}"}
    return with_dropped(ImageSet(images, labels, split, str(db), meta=meta), dropped)


# --- AFLW-19 -------------------------------------------------------------------------------------------
def _load_mat(path: Path) -> dict:
    from scipy.io import loadmat

    try:
        return loadmat(path)
    except Exception as exc:  # scipy raises several types for a damaged file
        raise DataFormatError(path, f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None


def _cell_text(value):
    """The string in a loadmat cell element (array(['3/image00035.jpg']) or nested object arrays), else None."""
    while isinstance(value, np.ndarray):
        if value.dtype.kind == "U":
            return str(value.ravel()[0]) if value.size else None
        if value.size != 1:
            return None
        value = value.ravel()[0]
    return value if isinstance(value, str) else None


def _mat_array(mat: dict, path: Path, field: str, shape: tuple) -> np.ndarray:
    try:
        value = np.asarray(mat[field], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataFormatError(path, f"field {field} is not numeric (expected {' x '.join(map(str, shape))})") from None
    if field == "ra":
        value = value.ravel()
    if value.shape != shape:
        raise DataFormatError(path, f"field {field} has shape {' x '.join(map(str, value.shape))}, expected "
                                    f"{' x '.join(map(str, shape))}")
    return value


def read_aflw19_mat(path: Path) -> dict:
    """The checked arrays of AFLWinfo_release.mat: names, points (N,19,2), boxes (N,4) x1 y1 x2 y2, visible, order."""
    mat = _load_mat(path)
    lacking = [f for f in MAT_FIELDS if f not in mat]
    if lacking:
        raise DataFormatError(path, f"missing field {', '.join(lacking)} (AFLWinfo_release.mat holds "
                                    f"{', '.join(MAT_FIELDS)})")
    names = [_cell_text(v) for v in np.asarray(mat["nameList"], dtype=object).ravel()]
    n = len(names)
    if None in names:
        raise DataFormatError(path, f"nameList entry {names.index(None) + 1} is not a text path "
                                    "(expected '3/image00035.jpg')")
    data = _mat_array(mat, path, "data", (n, 38))
    bbox = _mat_array(mat, path, "bbox", (n, 4))
    mask = _mat_array(mat, path, "mask_new", (n, 19))
    order = _mat_array(mat, path, "ra", (n,))
    if not np.array_equal(np.sort(order), np.arange(1, n + 1)):
        raise DataFormatError(path, f"field ra is not a permutation of 1..{n} (the face order of the split)")
    if n <= AFLW19_TRAIN:
        raise DataFormatError(path, f"{n} faces: expected more than the {AFLW19_TRAIN} training faces of the protocol")
    points = np.stack([data[:, :19], data[:, 19:]], axis=2)
    boxes = bbox[:, [0, 2, 1, 3]]  # x1 x2 y1 y2 -> x1 y1 x2 y2
    return {"names": names, "points": points, "boxes": boxes, "visible": mask > 0.5, "order": order.astype(int) - 1}


def _find_aflw19(root: Path):
    """('mat', path) or ('csv', folder) for a root that is the file, its folder or the folder above."""
    if root.is_file():
        if root.suffix.lower() == ".mat":
            return "mat", root
        if root.suffix.lower() == ".csv":
            return "csv", root.parent
        raise DataFormatError(root, f"expected {MAT_NAME} or HRNet's {HRNET_CSV['train']}")
    folders = [root, root / "annotations", root / "aflw", root / "data" / "aflw", root / "aflw-19", root.parent]
    for folder in folders:
        if (folder / MAT_NAME).is_file():
            return "mat", folder / MAT_NAME
    for folder in folders:
        if any((folder / name).is_file() for name in HRNET_CSV.values()):
            return "csv", folder
    raise DataFormatError(root, f"AFLW-19 annotations not found: expected {MAT_NAME} (CFSS project page) or HRNet's "
                                f"{HRNET_CSV['train']} / {HRNET_CSV['test']} here or in the folder above")


class _Faces:
    """Collects AFLW-19 faces: the enlarged box crop and its points moved into it."""

    def __init__(self):
        self.images, self.points, self.visible, self.box_size, self.group, self.split = [], [], [], [], [], []
        self.dropped = dict.fromkeys(("missing_image", "invalid_box", "invalid_landmarks"), 0)

    def add(self, photo, name, box, scale, points, visible, box_size, split):
        x0, y0, x1, y1 = box
        if not (np.all(np.isfinite(box)) and x1 > x0 and y1 > y0):
            self.dropped["invalid_box"] += 1
            return
        if not np.all(np.isfinite(points)):
            self.dropped["invalid_landmarks"] += 1
            return
        if photo is None:
            self.dropped["missing_image"] += 1
            return
        face = BoxedImage.enlarged(photo, box, scale)
        left, top, _, _ = face.square()
        self.images.append(face)
        self.points.append(np.asarray(points, dtype=np.float64) - [left, top])
        self.visible.append(visible)
        self.box_size.append(box_size)
        self.group.append(name.replace("\\", "/"))
        self.split.append(split)


def _read_aflw19_from_mat(path: Path, subset: str) -> tuple[_Faces, str]:
    info = read_aflw19_mat(path)
    bases = [path.parent, path.parent.parent]
    find_photo = PhotoFinder(flickr_folders(bases), bases)
    frontal = info["visible"].all(axis=1)
    faces = _Faces()
    for rank, index in enumerate(info["order"]):
        split = "train" if rank < AFLW19_TRAIN else "test"
        if split == "test" and subset == "frontal" and not frontal[index]:
            continue
        x0, y0, x1, y1 = info["boxes"][index]
        size = math.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))
        faces.add(find_photo(info["names"][index]), info["names"][index], info["boxes"][index], AFLW19_BOX_SCALE,
                  info["points"][index], info["visible"][index], size, split)
    how = f"{MAT_NAME} 'ra': the first {AFLW19_TRAIN} faces train, the rest test"
    return faces, how + (" (AFLW-Frontal: test faces with all 19 points visible)" if subset == "frontal" else "")


def _read_hrnet_csv(path: Path, split: str, faces: _Faces, find_photo) -> None:
    header, rows = read_csv(path, "HRNet AFLW list")
    if len(header) != 5 + 38:
        raise DataFormatError(path, f"expected 43 columns (image_name, scale, box_size, center_w, center_h, x and y of "
                                    f"19 points), the header has {len(header)}", 1)
    for number, fields in rows:
        scale, box_size, cx, cy, *coords = (parse_number(v, path, number, "a number", float) for v in fields[1:])
        side = HRNET_CROP * scale
        box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        faces.add(find_photo(fields[0]), fields[0], box, 1.0, np.reshape(coords, (19, 2)), np.ones(19, dtype=bool),
                  box_size, split)


def _read_aflw19_from_csv(folder: Path, subset: str) -> tuple[_Faces, str]:
    test_name = HRNET_CSV["frontal" if subset == "frontal" else "test"]
    lists = {"train": folder / HRNET_CSV["train"], "test": folder / test_name}
    if not lists["test"].is_file():
        raise DataFormatError(lists["test"], f"HRNet's AFLW test list for subset={subset} not found")
    bases = [folder / "images", folder, folder.parent / "images", folder.parent]
    find_photo = PhotoFinder(flickr_folders(bases), bases)
    faces = _Faces()
    for split, path in lists.items():
        if path.is_file():
            _read_hrnet_csv(path, split, faces, find_photo)
    return faces, f"HRNet's {lists['train'].name if lists['train'].is_file() else '(no train list)'} / {test_name}"


def read_aflw19(root, subset: str = "full") -> ImageSet:
    """AFLW-19 faces (box crops): labels 'landmarks' (N,19,2) crop pixels, 'visible', 'box_size', 'group';
    split train / test (subset 'full' or 'frontal' for the test part)."""
    subset = one_of(subset, ("full", "frontal"), "aflw19", "subset")
    root = Path(root)
    if not root.exists():
        raise DataFormatError(root, "AFLW-19 path not found")
    kind, where = _find_aflw19(root)
    faces, how = (_read_aflw19_from_mat if kind == "mat" else _read_aflw19_from_csv)(where, subset)
    if not faces.images:
        counts = ", ".join(f"{v} {k}" for k, v in faces.dropped.items() if v)
        raise DataFormatError(where, f"no AFLW-19 face left to read: {counts} "
                                     "(photos are looked for in flickr/0, 2, 3 beside the annotations)")
    labels = {"landmarks": np.array(faces.points, dtype=np.float64), "visible": np.array(faces.visible, dtype=bool),
              "box_size": np.array(faces.box_size, dtype=np.float64), "group": np.array(faces.group)}
    meta = {"split_from": how, "subset": subset, "point_names": list(POINT_NAMES),
            "box": f"face box x {AFLW19_BOX_SCALE:g} (square about its centre)"}
    return with_dropped(ImageSet(faces.images, labels, np.array(faces.split), str(where), meta=meta), faces.dropped)
