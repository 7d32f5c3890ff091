"""AFLW2000-3D and 300W-LP head-pose sets: `<name>.jpg` beside `<name>.mat`.

AFLW2000-3D: `<root>/image00002.jpg` + `image00002.mat` (numbers with gaps, as released).
300W-LP: subfolders AFW, HELEN, IBUG, LFPW and their mirrored copies AFW_Flip, ... holding
`AFW_134212_1_0.jpg` (source set, source image id, face number, profiling step).

As released, 300W-LP also holds `landmarks/AFW/AFW_134212_1_0_pts.mat` (pts_2d / pts_3d, no image
beside them) and `Code/` (MATLAB code with the 3DMM's own .mat files, `Code/ModelGeneration/Model_Shape.mat`,
`Model_Exp.mat`, `model_info.mat`): `*_pts.mat` files, and .mat files under a `Code/` folder (any case) with no
image beside them, are not samples and are skipped. AFLW2000-3D's .mat files carry more fields (Shape_Para, Exp_Para, Illum_Para, Color_Para, Tex_Para, roi, and a 2x21 `pt2d` of
the original AFLW points): only Pose_Para and the 68-point field are read.

The .mat holds `Pose_Para` (1x7: pitch, yaw, roll in radians, then tx, ty, tz, scale) and the 68
landmarks: `pt3d_68` (3x68; AFLW2000-3D) or `pt2d` (2x68; 300W-LP). Landmark rows are x, y in
0-based pixels of the stored image (z is 0 in synthetic files: the renderer exports no depth).

Sign convention (the 3DDFA/Hopenet one, kept unchanged as facessl's internal pose): degrees,
yaw > 0 = face turned towards the image's left (the subject's right), pitch > 0 = looking up,
roll > 0 = face rotated clockwise in the image. Mirroring an image negates yaw and roll.
The reader drops samples with any |angle| > 99 degrees, as the PCL evaluation does (AFLW2000-3D
has 31 such samples), and counts them in `dropped['angle_over_99']`; a Pose_Para holding NaN, inf or
text is skipped and counted in `dropped['invalid_pose']` (an error when no sample is left).

FSA-Net's preprocessed copies, which PCL's pose evaluation reads, are read too: a folder of `.npz` files (and no
.mat samples) or one `.npz`: `AFLW2000.npz`, or 300W-LP's `AFW.npz`, `AFW_Flip.npz`, `HELEN.npz`, ... each with
`image` (N,64,64,3) BGR crops and `pose` (N,3) [yaw, pitch, roll] degrees (Pose_Para's angles unchanged, so the
same numbers as the .mat gives); images in memory as RGB, 'subset' the file's stem, no landmarks; |angle| > 99
dropped, read with allow_pickle=False.

Evidence (read, not copied): shamangary/FSA-Net `data/type1/TYY_create_db_type1.py` (loadmat; Pose_Para[0]; pitch
= [0], yaw = [1], roll = [2], times 180/pi; saved as [yaw, pitch, roll]; crop from pt2d, cv2.imread (BGR), resized
to img_size 64; np.savez(image=, pose=, img_size=)) and `data/type1/run_created_db_type1.sh` (300W_LP/AFW -> AFW.npz,
AFW_Flip, HELEN(_Flip), IBUG(_Flip), LFPW(_Flip), AFLW2000 -> AFLW2000.npz); DreamMr/PCL
`configs/remote_PCL_linear_eval_pose.yaml` (train ./dataset/300W_LP, val/test ./dataset/AFLW2000) and
`data_process/linearposenpdb.py` (every `*.npz` of the folder, arrays image and pose concatenated, rows kept when
max <= 99 and min >= -99); natanielruiz/deep-head-pose `code/utils.py` (get_ypr_from_mat: Pose_Para[0][:3] =
pitch, yaw, roll in radians; get_pt2d_from_mat: `pt2d`) and `code/datasets.py` (AFLW2000: `<name>.jpg` + `<name>.mat`
from a file list). Matched: the .mat fields, the angle order and units, the 99-degree filter. Unconfirmed: PCL's
own npz copies may use FSA-Net's default 64-pixel crops or another size (PCL resizes to 256); FAb-Net's code has
no AFLW2000 loader (its example `examples/aflw/image66922.jpg` is from AFLW).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import (IMAGE_SUFFIXES, JPEG_QUALITY, SKIP_MISSING_HINT, load_fsa_net_npz, save_image,
                                             with_dropped)
from facessl.errors import DataFormatError

W300LP_SUBSETS = ("AFW", "HELEN", "IBUG", "LFPW")
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by facessl"


def pose_para(pose_deg, landmarks=None) -> np.ndarray:
    """(1,7) Pose_Para from internal (yaw, pitch, roll) degrees; tx, ty = landmark centre, tz = 0, scale = face width/100."""
    yaw, pitch, roll = np.deg2rad(np.asarray(pose_deg, dtype=np.float64))
    tx = ty = 0.0
    scale = 1.0
    if landmarks is not None:
        tx, ty = np.asarray(landmarks, dtype=np.float64).mean(axis=0)
        scale = float(np.ptp(np.asarray(landmarks)[:, 0])) / 100.0
    return np.array([[pitch, yaw, roll, tx, ty, 0.0, scale]])


def savemat_deterministic(path, fields: dict) -> None:
    """scipy.io.savemat with a fixed header text (scipy stamps the creation time, which breaks byte-identical builds)."""
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, fields, do_compression=False)
    data = bytearray(buffer.getvalue())
    data[:116] = MAT_HEADER.ljust(116, b" ")
    Path(path).write_bytes(bytes(data))


class PoseMatWriter:
    """Writes image + .mat pairs under a root; `stem` may contain a subfolder (300W-LP)."""

    def __init__(self, root, landmark_field: str = "pt3d_68", quality: int = JPEG_QUALITY):
        if landmark_field not in ("pt3d_68", "pt2d"):
            raise ValueError("landmark_field must be 'pt3d_68' (AFLW2000-3D) or 'pt2d' (300W-LP)")
        self.root = Path(root)
        self.landmark_field = landmark_field
        self.quality = quality

    def add(self, stem: str, image: np.ndarray, pose_deg, landmarks: np.ndarray) -> Path:
        """pose_deg: internal (yaw, pitch, roll); landmarks (68,2) 0-based pixel x, y."""
        path = self.root / f"{stem}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(path, image, self.quality)
        xy = np.asarray(landmarks, dtype=np.float64).T
        points = np.vstack([xy, np.zeros((1, xy.shape[1]))]) if self.landmark_field == "pt3d_68" else xy
        savemat_deterministic(path.with_suffix(".mat"), {"Pose_Para": pose_para(pose_deg, landmarks), self.landmark_field: points})
        return path


def _load_mat(path: Path) -> dict:
    from scipy.io import loadmat

    try:
        return loadmat(path)
    except Exception as exc:  # scipy raises several types for a damaged file
        raise DataFormatError(path, f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None


def _landmarks(mat: dict):
    for field in ("pt3d_68", "pt2d"):
        if field in mat and np.shape(mat[field])[0] in (2, 3) and np.shape(mat[field])[1] == 68:
            return np.asarray(mat[field][:2].T, dtype=np.float32)
    return None


def _pose_angles(value, mat_path):
    """(pitch, yaw, roll) degrees from a Pose_Para field; None when it holds NaN, inf or text (counted as
    'invalid_pose' by the reader); fewer than 3 values is a format error."""
    try:
        para = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None
    if para.size < 3:
        raise DataFormatError(mat_path, f"Pose_Para has {para.size} values, expected 7 (pitch, yaw, roll, tx, ty, tz, scale)")
    if not np.isfinite(para[:3]).all():
        return None
    return np.rad2deg(para[:3])


def is_sample_mat(path: Path, root: Path) -> bool:
    """False for the .mat files a release ships beside its samples: 300W-LP's landmarks/*_pts.mat and the 3DMM
    model files under Code/ (Code/ModelGeneration/Model_Shape.mat has no image and no Pose_Para). A .mat with its
    image beside it is a sample wherever it lies (a root above a folder that happens to be called code/)."""
    if path.stem.endswith("_pts"):
        return False
    in_code = "code" in (part.lower() for part in path.relative_to(root).parts[:-1])
    return not in_code or any(path.with_suffix(s).is_file() for s in IMAGE_SUFFIXES)


def read_aflw2000(root, max_angle: float = 99.0, skip_missing: bool = False) -> ImageSet:
    """Every `.mat` under root (recursively, sorted) with its image.

    labels: 'pose' (N,3) internal (yaw, pitch, roll) degrees; 'landmarks' (N,68,2) when every file
    has them; 'subset' (N,) the subfolder ('' at the root; AFW, AFW_Flip, ... for 300W-LP).
    """
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".npz":
        return read_pose_npz([root], max_angle)
    if not root.is_dir():
        raise DataFormatError(root, "pose dataset folder not found")
    mats = sorted(p for p in root.rglob("*.mat") if is_sample_mat(p, root))
    if not mats:
        npz = sorted(p for p in root.glob("*.npz") if p.is_file())
        if npz:  # FSA-Net's type1 copies (AFLW2000.npz; AFW.npz, AFW_Flip.npz, ... for 300W-LP), as PCL reads them
            return read_pose_npz(npz, max_angle)
        raise DataFormatError(root, "no .mat files found; expected imageXXXXX.jpg + imageXXXXX.mat pairs "
                                    "(or FSA-Net's AFLW2000.npz / AFW.npz ... with arrays image, pose)")
    dropped = {"angle_over_99": 0, "missing_image": 0, "invalid_pose": 0}
    invalid = None
    images, poses, marks, subsets = [], [], [], []
    for mat_path in mats:
        image = next((mat_path.with_suffix(s) for s in IMAGE_SUFFIXES if mat_path.with_suffix(s).is_file()), None)
        if image is None:
            if skip_missing:
                dropped["missing_image"] += 1
                continue
            raise DataFormatError(mat_path, f"no image beside this .mat (expected the same name with .jpg); {SKIP_MISSING_HINT}")
        mat = _load_mat(mat_path)
        if "Pose_Para" not in mat:
            raise DataFormatError(mat_path, "missing field Pose_Para (expected 1x7: pitch, yaw, roll [radians], tx, ty, tz, scale)")
        angles = _pose_angles(mat["Pose_Para"], mat_path)
        if angles is None:  # NaN, inf or text in a real file: skip the sample and count it
            dropped["invalid_pose"] += 1
            invalid = invalid or mat_path
            continue
        pitch, yaw, roll = angles
        if max(abs(yaw), abs(pitch), abs(roll)) > max_angle:
            dropped["angle_over_99"] += 1
            continue
        images.append(str(image))
        poses.append((yaw, pitch, roll))
        marks.append(_landmarks(mat))
        subset = mat_path.parent.relative_to(root).as_posix()
        subsets.append("" if subset == "." else subset)
    if invalid is not None and not images:
        raise DataFormatError(invalid, f"Pose_Para is not numbers in all {dropped['invalid_pose']} files that have an image "
                                       "(expected 1x7 finite values: pitch, yaw, roll [radians], tx, ty, tz, scale)")
    labels = {"pose": np.array(poses, dtype=np.float32).reshape(-1, 3), "subset": np.array(subsets)}
    have = [m is not None for m in marks]
    if all(have) and marks:
        labels["landmarks"] = np.stack(marks)
    elif any(have):
        first = images[have.index(False)]
        raise DataFormatError(Path(first).with_suffix(".mat"), "missing field pt3d_68 (3x68) or pt2d (2x68) that the other files have")
    return with_dropped(ImageSet(images, labels, None, str(root)), dropped)


read_300wlp = read_aflw2000  # same files, organised in subfolders


def _npz_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 images (N,H,W,3), (N,3) float poses) of one FSA-Net type1 npz, read without unpickling."""
    image, pose = load_fsa_net_npz(path, "type1 (TYY_create_db_type1.py)")
    if image.ndim != 4 or image.shape[-1] != 3:
        raise DataFormatError(path, f"expected 'image' of shape (N, H, W, 3), got {image.shape}")
    if pose.shape != (len(image), 3):
        raise DataFormatError(path, f"expected 'pose' of shape ({len(image)}, 3) (yaw, pitch, roll degrees per image), "
                                    f"got {pose.shape}")
    if image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.integer) or image.min(initial=0) < 0 or image.max(initial=0) > 255:
            raise DataFormatError(path, f"expected 'image' as uint8 pixels 0..255, got {image.dtype}")
        image = image.astype(np.uint8)
    try:
        pose = pose.astype(np.float64)
    except (TypeError, ValueError):
        raise DataFormatError(path, f"expected 'pose' as numbers, got {pose.dtype}") from None
    return np.ascontiguousarray(image[..., ::-1]), pose  # cv2.imread wrote BGR


def read_pose_npz(paths: list[Path], max_angle: float = 99.0) -> ImageSet:
    """FSA-Net's type1 npz files (data/type1/TYY_create_db_type1.py: `image` (N,64,64,3) BGR crops, `pose` (N,3)
    [yaw, pitch, roll] degrees = Pose_Para's angles, unchanged) as one ImageSet, images in memory as RGB; labels
    'pose' (internal yaw, pitch, roll degrees, the same numbers) and 'subset' (the file's stem: AFW, AFW_Flip, ...,
    AFLW2000). No landmarks (the npz has none). Rows with any |angle| > max_angle dropped (PCL's and FSA-Net's
    filter), non-finite ones counted as invalid_pose."""
    images, poses, subsets = [], [], []
    for path in paths:
        image, pose = _npz_arrays(path)
        images.append(image)
        poses.append(pose)
        subsets += [path.stem] * len(image)
    sizes = {im.shape[1:] for im in images}
    if len(sizes) > 1:
        raise DataFormatError(paths[0].parent, f"the .npz files hold images of different sizes ({sorted(sizes)}); "
                                               "read each file on its own")
    image, pose = np.concatenate(images), np.concatenate(poses)
    finite = np.isfinite(pose).all(axis=1)
    keep = finite & (np.abs(np.nan_to_num(pose)).max(axis=1) <= max_angle)
    if not keep.any():
        raise DataFormatError(paths[0], f"no image left: {len(image)} rows, none with finite angles within {max_angle:g} degrees")
    source = str(paths[0] if len(paths) == 1 else paths[0].parent)
    labels = {"pose": pose[keep].astype(np.float32), "subset": np.array(subsets)[keep]}
    result = ImageSet(image[keep], labels, None, source)
    return with_dropped(result, {"angle_over_99": int((finite & ~keep).sum()), "missing_image": 0,
                                 "invalid_pose": int((~finite).sum())})
