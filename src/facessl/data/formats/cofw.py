"""COFW, Caltech Occluded Faces in the Wild (Burgos-Artizzu, Perona and Dollar, ICCV 2013), as distributed.

The images and annotations come inside MATLAB files, one per split:

    COFW_train_color.mat  IsTr (1345 x 1 cell of images), phisTr (1345 x 87), bboxesTr (1345 x 4)
    COFW_test_color.mat   IsT (507 x 1 cell), phisT (507 x 87), bboxesT (507 x 4)
    COFW_train.mat / COFW_test.mat   the first, grey release (COFW.zip, unpacked as
                          common/xpburgos/behavior/code/pose/COFW_train.mat): the same variables, grey images

phis rows: x of the 29 points, then their y, then 29 occlusion bits (1 = occluded), in 1-BASED pixels (MATLAB's:
the centre of the top-left pixel is (1, 1)); boxes: (left, top, width, height) in the same pixels, boxes that
"simulate a real face detector" (the release's readme). The first 845 training faces are LFPW's (unoccluded),
the other 500 and the whole test set COFW's own (label 'source': lfpw / cofw).

Both releases are MATLAB v7.3 files, i.e. HDF5 with a 512-byte MATLAB header: scipy.io.loadmat refuses them
("Please use HDF reader for matlab v7.3 files"), they are read with h5py (imported only here; a one-line error
says to install it). In HDF5 MATLAB stores every array transposed (column-major): phisT is a (87, 507) dataset,
bboxesT (4, 507), and the cell IsT a (1, 507) dataset of object references into the '#refs#' group, each image
(3, W, H) uint8 for colour (some images of the colour files are grey, (W, H)) and (W, H) for grey. Transposing
gives MATLAB's (H, W, 3) RGB / (H, W). Copies re-saved as v7 (e.g. `save(..., '-v7')`) are read with
scipy.io.loadmat (no unpickling either way). A path to one .mat file reads that file's split only.

Faces: the square around each box, its longer side grown by BOX_SCALE, cut from the image (black outside it),
grey images repeated to RGB, resized to `crop_size` pixels and held in memory as one uint8 array; the points are
moved into the crop (0-based pixel centres). Labels: 'landmarks' (N,29,2), 'occluded' (N,29) 0/1 (kept as in the
file: COFW evaluates occluded points too), 'source' and 'index' (1-based row in the .mat). Split train / test as
the files. An image reference that does not resolve (or an empty cell) is skipped and counted in
dropped['unreadable_image'], a row with non-finite points, flags other than 0/1 or an empty box in
dropped['invalid_annotation']. `variant` chooses the colour (default when present) or grey files.

NME: the distance between the pupils, points 17 and 18 (1-based; 16, 17 here), RCPR's normaliser (shapeGt.m
`dist`, "distance between pupils") and the one of COFW's early tables. HRNet and later papers also report an
inter-ocular NME by points 9 and 10 (outer eye corners; 8, 9 here): a different, smaller number.

COFW-68 (Ghiasi and Fowlkes, "Occlusion coherence", 2015; repository golnazghiasi/cofw68-benchmark), `points=68`:
68-point (300-W layout) annotations of the 507 test faces, `COFW68_Data/test_annotations/1_points.mat` ...
(variables Points, 68 x 2 x/y in 1-based pixels, and Occ, 68 flags), face boxes `COFW68_Data/cofw68_test_bboxes.mat`
(bboxes, 507 x 4, left top width height, 300-W-like detections) and the images of the COFW test file, by row
(the benchmark's readme moves the grey COFW_test.mat into COFW68_Data; PIPNet pairs the colour one the same way).
A test set only (split 'test'): the probe trains on 300-W, --train-dataset 300w:PATH. Missing point files are
skipped and counted. Its benchmark normalises by the eye centres (means of points 37-42 and 43-48, 1-based);
facessl's 68-point NME uses the outer eye corners, as for 300-W.

Sources: the release's loading example and RCPR code (luoyetx/rcpr-annotated shapeGt.m: 'cofw' model, 29 points
x, y, occlusion; `dist` by phis columns 17 and 18), HRNet-Facial-Landmark-Detection lib/datasets/cofw.py and
lib/core/evaluation.py (hdf5storage reads of IsTr/phisTr, NME by points 8 and 9 for 29 points),
jhb86253817/PIPNet lib/preprocess.py (COFW_*_color.mat via hdf5storage, some images 2-D grey, boxes x y w h,
COFW-68 pairing), golnazghiasi/cofw68-benchmark (README.md, ReadCofw68Data.m, VisualizeAnnotations.m, Main.m),
and h5py loaders of the grey and colour files (dataset shapes (1, 507) refs, (87, 507), (4, 507)).

Evidence (read, not copied; re-checked for this audit): jhb86253817/PIPNet `lib/preprocess.py` (COFW branch of
gen_data: `COFW/COFW_train_color.mat` and `COFW_test_color.mat` read with hdf5storage.loadmat, variables
IsTr/bboxesTr/phisTr and IsT/bboxesT/phisT, images[i, 0] 2-D for grey ones, x = phis[:29], y = phis[29:58],
box (x_min, y_min, width, height) with x_max = x_min + width - 1, i.e. 1-based inclusive pixels, as read here)
and HRNet/HRNet-Facial-Landmark-Detection `README.md` (data/cofw/ holds only COFW_test_color.mat and
COFW_train_color.mat). The AM-Former README found by text search lists `COFW/COFW_test_color.mat` and
`COFW_train_color.mat` the same way. Matched; nothing changed. Unconfirmed here: the byte layout of the grey
COFW.zip files (described from earlier h5py loaders, not re-read for this audit).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import one_of, whole_number, with_dropped
from facessl.errors import DataFormatError, FacesslError

SPLIT_VARIABLES = {"train": ("IsTr", "phisTr", "bboxesTr"), "test": ("IsT", "phisT", "bboxesT")}
FILES = {"color": {"train": "COFW_train_color.mat", "test": "COFW_test_color.mat"},
         "gray": {"train": "COFW_train.mat", "test": "COFW_test.mat"}}
FILE_KIND = {name: (kind, split) for kind, names in FILES.items() for split, name in names.items()}
ZIP_FOLDER = "common/xpburgos/behavior/code/pose"  # where COFW.zip unpacks its two files
COFW68_FOLDER, COFW68_POINTS, COFW68_BOXES = "COFW68_Data", "test_annotations", "cofw68_test_bboxes.mat"
N_POINTS, N_POINTS_68 = 29, 68
LFPW_TRAIN_FACES = 845  # the readme: the first 845 training images are LFPW's
BOX_SCALE = 1.2  # COFW's boxes are detector-like (PIPNet crops them as they are): a fifth more for their jitter
COFW68_BOX_SCALE = 1.3  # 300-W-style detections, tight on the face: PIPNet grows them by 0.3
VARIANTS = ("auto", "color", "gray")
VARIANT_KINDS = {"auto": ("color", "gray"), "color": ("color",), "gray": ("gray",)}
SPELLINGS = {"colour": "color", "grey": "gray"}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_OFFSETS = (0, 512, 1024, 2048)  # the signature follows a user block (MATLAB's: 512 bytes of header text)


def read_cofw(root, points: int = 29, variant: str = "auto", crop_size: int = 128) -> ImageSet:
    """COFW face crops: labels 'landmarks' (N,29,2) in crop pixels, 'occluded', 'source', 'index'; split
    train / test. points=68 reads COFW-68 instead (the 507 test faces with 68 points, split test)."""
    root = Path(root)
    variant = one_of(SPELLINGS.get(str(variant).strip().lower(), variant), VARIANTS, "cofw", "variant")
    crop_size = whole_number(crop_size, "cofw", "crop_size", 8)
    if str(points).strip() == str(N_POINTS_68):
        return _read_cofw68(root, variant, crop_size)
    if str(points).strip() != str(N_POINTS):
        raise FacesslError(f"cofw points {points!r}: expected 29 (COFW) or 68 (COFW-68)")
    files = _split_files(root, variant)
    rows, dropped = [], Counter()
    for path in files:
        with MatFile(path) as mat:
            for split in _splits_in(mat):
                rows += _read_split(mat, split, crop_size, dropped)
    if not rows:
        raise DataFormatError(files[0], f"no readable COFW faces ({_counts(dropped)})")
    meta = {"split_from": "the release's files: COFW_train*.mat train (its first 845 faces LFPW's), COFW_test*.mat test",
            "files": [str(p) for p in files], "variant": _kinds_read(files),
            "crop": f"square around the face box grown by {BOX_SCALE}, resized to {crop_size} px"}
    return _imageset(rows, root, meta, dropped)


def _counts(dropped: Counter) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in sorted(dropped.items())) or "the files hold no faces"


def _kinds_read(files) -> str:
    kinds = sorted({FILE_KIND.get(Path(p).name, ("other", ""))[0] for p in files})
    return "+".join(kinds)


# --- finding the files ----------------------------------------------------------------------------------------------
def _split_files(root: Path, variant: str) -> list[Path]:
    """The .mat files to read: root itself when it is a file, else one per split (colour first unless
    `variant` says otherwise) in root, the folders COFW.zip and COFW-68 unpack to, or anywhere below."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataFormatError(root, "COFW not found (expected a folder holding COFW_train_color.mat and COFW_test_color.mat)")
    found = _known_files(root)
    chosen = [_pick(found, split, variant) for split in ("train", "test")]
    chosen = [path for path in chosen if path is not None]
    if not chosen:
        present = ", ".join(sorted(p.name for p in found.values())) or "no COFW .mat files"
        wanted = " / ".join(FILES[kind][s] for kind in VARIANT_KINDS[variant] for s in ("train", "test"))
        raise DataFormatError(root, f"COFW files not found: expected {wanted} (found {present})")
    return chosen


def _pick(found: dict, split: str, variant: str) -> Path | None:
    return next((found[(kind, split)] for kind in VARIANT_KINDS[variant] if (kind, split) in found), None)


def _known_files(root: Path) -> dict:
    """(variant, split) -> path of the release's file names in root and its usual subfolders, else anywhere below."""
    found = {}
    for folder in (root, root / ZIP_FOLDER, root / "COFW", root / "cofw", root / COFW68_FOLDER):
        for name, key in FILE_KIND.items():
            if key not in found and (folder / name).is_file():
                found[key] = folder / name
    if not found:  # an archive unpacked somewhere deeper
        for path in sorted(root.rglob("*.mat")):
            if path.name in FILE_KIND and FILE_KIND[path.name] not in found:
                found[FILE_KIND[path.name]] = path
    return found


def _splits_in(mat: "MatFile") -> list[str]:
    """The splits whose image cell a file holds (COFW_train*.mat: IsTr, train; COFW_test*.mat: IsT, test)."""
    splits = [split for split, names in SPLIT_VARIABLES.items() if names[0] in mat.names]
    if not splits:
        expected = " or ".join("/".join(names) for names in SPLIT_VARIABLES.values())
        found = ", ".join(sorted(mat.names)) or "none"
        raise DataFormatError(mat.path, f"no COFW variables (expected {expected}; found {found})")
    return splits


# --- reading faces --------------------------------------------------------------------------------------------------
def _read_split(mat: "MatFile", split: str, crop_size: int, dropped: Counter) -> list[tuple]:
    """(crop, points, occluded, source, index, split) of each readable face of one split."""
    images_name, phis_name, boxes_name = SPLIT_VARIABLES[split]
    phis = mat.matrix(phis_name, 3 * N_POINTS, "29 x, 29 y and 29 occlusion flags per face")
    boxes = mat.matrix(boxes_name, 4, "left, top, width, height per face")
    images = mat.cell(images_name)
    if not len(images) == len(phis) == len(boxes):
        raise DataFormatError(mat.path, f"{images_name}, {phis_name} and {boxes_name} hold {len(images)}, {len(phis)} "
                                        f"and {len(boxes)} faces; expected one row per image in each")
    rows = []
    for number, (phi, box) in enumerate(zip(phis, boxes), start=1):
        marks = np.stack([phi[:N_POINTS], phi[N_POINTS:2 * N_POINTS]], axis=1)
        source = "lfpw" if split == "train" and number <= LFPW_TRAIN_FACES else "cofw"
        face = _face(images, number, marks, phi[2 * N_POINTS:], box, BOX_SCALE, crop_size, dropped)
        if face is not None:
            rows.append((*face, source, number, split))
    return rows


def _face(images: "Cell", number: int, marks, flags, box, scale: float, crop_size: int, dropped: Counter):
    """(crop, points in it, 0/1 flags) of the number-th face (1-based) from MATLAB's 1-based points and box
    (left, top, width, height); None, counted, when the annotation or the image is unusable."""
    x, y, width, height = box
    if not (np.isfinite(marks).all() and np.isin(flags, (0, 1)).all() and np.isfinite(box).all()
            and width > 0 and height > 0):
        dropped["invalid_annotation"] += 1
        return None
    image = as_rgb(images.load(number - 1))
    if image is None:
        dropped["unreadable_image"] += 1
        return None
    corners = (x - 1, y - 1, x - 1 + width, y - 1 + height)  # 0-based, as the points
    crop, moved = box_crop(image, marks - 1.0, corners, scale, crop_size)
    return crop, moved, np.asarray(flags, dtype=np.int64)


def as_rgb(image) -> np.ndarray | None:
    """An image array of the file as uint8 (H,W,3) RGB (grey repeated); None when it is not an image."""
    if image is None:
        return None
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0 or image.dtype.kind not in "biuf":
        return None
    if image.dtype == np.uint8:
        return image
    values = image.astype(np.float64)
    if image.dtype.kind in "bf" and np.nanmax(values) <= 1.0:  # MATLAB's logical and double images lie in [0, 1]
        values = values * 255.0
    return np.clip(np.nan_to_num(values), 0, 255).round().astype(np.uint8)


def box_crop(image: np.ndarray, points: np.ndarray, box, scale: float, crop_size: int):
    """The square around a face box (x0, y0, x1, y1; 0-based pixels), its longer side grown by `scale`, cut from
    the image (black outside it) and resized to crop_size; and the points (0-based pixel centres) moved into it."""
    from PIL import Image

    x0, y0, x1, y1 = box
    side = max(int(round(scale * max(x1 - x0, y1 - y0))), 1)
    left, top = int(round((x0 + x1) / 2 - side / 2)), int(round((y0 + y1) / 2 - side / 2))
    crop = Image.fromarray(image).crop((left, top, left + side, top + side))
    crop = crop.resize((crop_size, crop_size), Image.BILINEAR)
    zoom = crop_size / side
    moved = (points - [left, top] + 0.5) * zoom - 0.5  # pixel centres: the resize maps pixel edges onto edges
    return np.asarray(crop, dtype=np.uint8), moved.astype(np.float32)


def _imageset(rows: list[tuple], root: Path, meta: dict, dropped: Counter) -> ImageSet:
    crops, marks, flags, sources, numbers, splits = zip(*rows)
    labels = {"landmarks": np.stack(marks), "occluded": np.stack(flags), "source": np.array(sources),
              "index": np.array(numbers, dtype=np.int64)}
    return with_dropped(ImageSet(np.stack(crops), labels, np.array(splits), str(root), meta=meta), dropped)


# --- COFW-68 --------------------------------------------------------------------------------------------------------
def _read_cofw68(root: Path, variant: str, crop_size: int) -> ImageSet:
    """COFW-68: the 68-point annotations and boxes of the COFW test faces, the images of the COFW test file."""
    annotations = _cofw68_annotations(root)
    boxes_path = _cofw68_boxes(annotations, root)
    with MatFile(boxes_path) as mat:
        boxes = mat.matrix("bboxes", 4, "left, top, width, height per test face")
    images_path = _cofw68_images(annotations.parent, root, variant)
    rows, dropped = [], Counter()
    with MatFile(images_path) as mat:
        if SPLIT_VARIABLES["test"][0] not in mat.names:
            raise DataFormatError(images_path, "no IsT (the COFW test images) in this file")
        images = mat.cell(SPLIT_VARIABLES["test"][0])
        if len(images) != len(boxes):
            raise DataFormatError(boxes_path, f"bboxes holds {len(boxes)} boxes, {images_path.name} {len(images)} "
                                              "test images; expected one box per image")
        for number, box in enumerate(boxes, start=1):
            points_path = annotations / f"{number}_points.mat"
            if not points_path.is_file():
                dropped["missing_annotation"] += 1
                continue
            marks, flags = _cofw68_points(points_path)
            face = _face(images, number, marks, flags, box, COFW68_BOX_SCALE, crop_size, dropped)
            if face is not None:
                rows.append((*face, "cofw", number, "test"))
    if not rows:
        raise DataFormatError(annotations, f"no readable COFW-68 faces ({_counts(dropped)})")
    meta = {"split_from": "COFW-68 is a test set (the COFW test faces): train the probe on 300-W (--train-dataset 300w:PATH)",
            "files": [str(images_path), str(boxes_path), str(annotations)], "variant": _kinds_read([images_path]),
            "crop": f"square around the COFW-68 box grown by {COFW68_BOX_SCALE}, resized to {crop_size} px"}
    return _imageset(rows, root, meta, dropped)


def _cofw68_annotations(root: Path) -> Path:
    """The folder of 1_points.mat ...: COFW68_Data/test_annotations in or above root, root itself, or below it."""
    candidates = [root / COFW68_FOLDER / COFW68_POINTS, root / COFW68_POINTS, root, root.parent / COFW68_POINTS]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*_points.mat")):
            return folder
    if root.is_dir():
        first = next(iter(sorted(root.rglob("1_points.mat"))), None)
        if first is not None:
            return first.parent
    raise DataFormatError(root, f"COFW-68 annotations not found (expected {COFW68_FOLDER}/{COFW68_POINTS}/1_points.mat ...)")


def _cofw68_boxes(annotations: Path, root: Path) -> Path:
    for folder in (annotations.parent, root, root / COFW68_FOLDER, annotations):
        if (folder / COFW68_BOXES).is_file():
            return folder / COFW68_BOXES
    raise DataFormatError(annotations.parent, f"COFW-68 boxes not found (expected {COFW68_BOXES} beside {COFW68_POINTS}/)")


def _cofw68_images(folder: Path, root: Path, variant: str) -> Path:
    """The COFW test file: the one the benchmark's readme moves into COFW68_Data first, else the release's."""
    for base in (folder, root) if root.is_dir() else (folder,):
        path = _pick(_known_files(base), "test", variant)
        if path is not None:
            return path
    wanted = " or ".join(FILES[kind]["test"] for kind in VARIANT_KINDS[variant])
    raise DataFormatError(folder, f"COFW-68 images not found: expected {wanted} (the COFW test file) in {folder} or {root}")


def _cofw68_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(Points (68,2) x, y in 1-based pixels, Occ (68,) flags) of one N_points.mat."""
    with MatFile(path) as mat:
        points = mat.matrix("Points", 2, "x, y of the 68 points")
        flags = mat.array("Occ").ravel()
    if len(points) != N_POINTS_68 or len(flags) != N_POINTS_68:
        raise DataFormatError(path, f"expected 68 points and 68 Occ flags, got {len(points)} and {len(flags)}")
    return points, flags


# --- MATLAB files ---------------------------------------------------------------------------------------------------
class MatFile:
    """The variables of one .mat file in MATLAB's orientation (rows x columns), whichever version wrote it:
    v7.3 (HDF5, read with h5py, arrays transposed back) or v4-v7 (scipy.io.loadmat, which never unpickles)."""

    def __init__(self, path):
        self.path = Path(path)
        self._h5py = self._file = self._variables = None
        if _is_hdf5(self.path):
            self._h5py, self._file = _open_hdf5(self.path)
            self.names = {name for name in self._file.keys() if not name.startswith("#")}  # '#refs#' holds cell items
        else:
            self._variables = _load_v7(self.path)
            self.names = {name for name in self._variables if not name.startswith("__")}

    def __enter__(self) -> "MatFile":
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()

    def _get(self, name: str):
        if name not in self.names:
            raise DataFormatError(self.path, f"missing variable {name} (found {', '.join(sorted(self.names)) or 'none'})")
        return self._file[name] if self._file is not None else self._variables[name]

    def array(self, name: str) -> np.ndarray:
        """A numeric variable as float64."""
        value = self._get(name)
        if self._file is not None:
            if not isinstance(value, self._h5py.Dataset) or value.dtype.kind not in "biuf":
                raise DataFormatError(self.path, f"variable {name} is not a numeric array")
            value = np.zeros((0, 0)) if value.attrs.get("MATLAB_empty", 0) else value[()].T  # HDF5 holds it transposed
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataFormatError(self.path, f"variable {name} is not a numeric array") from None

    def matrix(self, name: str, columns: int, what: str) -> np.ndarray:
        """A numeric (rows, columns) variable; a single row may come as a vector."""
        value = self.array(name)
        value = value.reshape(1, -1) if value.ndim == 1 else value
        if value.ndim != 2 or value.shape[1] != columns:
            raise DataFormatError(self.path, f"variable {name} has shape {value.shape}, expected (faces, {columns}): {what}")
        return value

    def cell(self, name: str) -> "Cell":
        """A cell array of images, read one item at a time."""
        value = self._get(name)
        if self._file is not None:
            if not isinstance(value, self._h5py.Dataset) or self._h5py.check_dtype(ref=value.dtype) is None:
                raise DataFormatError(self.path, f"variable {name} is not a cell array (expected object references)")
            return Cell(np.asarray(value[()]).ravel(), self._h5_item)
        if not isinstance(value, np.ndarray) or value.dtype != object:
            raise DataFormatError(self.path, f"variable {name} is not a cell array of images")
        return Cell(value.ravel(order="F"), np.asarray)

    def _h5_item(self, reference) -> np.ndarray | None:
        """A cell item behind an HDF5 object reference, transposed back; None for a null reference, an empty
        item or one the file cannot give."""
        try:
            if not reference:
                return None
            item = self._file[reference]
            if not isinstance(item, self._h5py.Dataset) or item.attrs.get("MATLAB_empty", 0):
                return None
            return np.asarray(item[()]).T
        except (OSError, KeyError, ValueError, TypeError, RuntimeError):
            return None


class Cell:
    """The items of a MATLAB cell array in order, each decoded when asked for (None when unreadable)."""

    def __init__(self, items, decode):
        self._items, self._decode = items, decode

    def __len__(self) -> int:
        return len(self._items)

    def load(self, index: int) -> np.ndarray | None:
        try:
            return self._decode(self._items[index])
        except (TypeError, ValueError):
            return None


def _is_hdf5(path: Path) -> bool:
    """MATLAB v7.3 files are HDF5 behind a 512-byte header ('MATLAB 7.3 MAT-file ...')."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(max(HDF5_OFFSETS) + len(HDF5_SIGNATURE))
    except OSError as exc:
        raise DataFormatError(path, f"cannot read the file ({exc.strerror or exc})") from None
    return head.startswith(b"MATLAB 7.3") or any(head[k:k + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE for k in HDF5_OFFSETS)


def _open_hdf5(path: Path):
    try:
        import h5py
    except ImportError:
        raise DataFormatError(path, "is a MATLAB v7.3 (HDF5) file: reading it needs h5py (pip install h5py)") from None
    try:
        return h5py, h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(path, f"not a readable MATLAB v7.3 (HDF5) file ({exc})") from None


def _load_v7(path: Path) -> dict:
    from scipy.io import loadmat

    try:
        return loadmat(path)
    except Exception as exc:  # scipy raises several types for a damaged or foreign file
        raise DataFormatError(path, f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None
