"""Biwi Kinect Head Pose Database (Fanelli et al., IJCV 2013), as distributed (`kinect_head_pose_db.tgz`):

    hpdb/01/frame_00003_rgb.png        640x480 colour frame (fast.ai's copy: .jpg)
    hpdb/01/frame_00003_pose.txt       3 rows of the head rotation, a blank line, the head centre in mm
    hpdb/01/rgb.cal                    RGB intrinsics (3 rows), blank, distortion (1 row), blank, rotation (3 rows)
                                       and translation (1 row) from the depth to the RGB camera, blank, resolution
    hpdb/01/depth.cal, frame_00003_depth.bin, hpdb/01.obj   depth data and head template (not read)

24 sequences (01 ... 24) of 20 people: sequences 15, 18, 21 and 22 repeat the people of 03, 05, 02 and 07
(the mapping to F01..F06 / M01..M14 of the Hugging Face loading script for this database, label 'subject').
The path may be the folder holding 01/ ... 24/, `hpdb/`, `kinect_head_pose_db/` (or the folder above it),
Kaggle's `faces_0/`, or one sequence folder.

No face crop is given. Each frame's face is the square around the head centre projected into the RGB image:
p_rgb = R_cal c + t_cal (c in depth-camera mm), then the pinhole model u = fx X/Z + cx, v = fy Y/Z + cy
(distortion ignored, as other loaders that project BIWI's head centre do), side = `box_mm` (250 mm, a whole
head with a margin, close to the loose framing of the 300W-LP images the probe trains on) times f / Z; each
image is a BoxedImage.

Pose (labels 'pose', (N,3) degrees, facessl's (yaw, pitch, roll)). The camera frame is the depth camera's:
x right, y down, z away from the camera (Fanelli's code builds the cloud as X = d(x-320)/f, Y = d(y-240)/f,
Z = d). pose.txt's matrix M turns the head template into that frame (p = M x + c; a frontal head gives M ~ I,
so the template's forward axis is -z and its up axis -y). The nose direction is then n = -M[:,2], the up
direction u = -M[:,1], and facessl's signs read:
    yaw > 0   face turned to the image's left:  n_x < 0  <=>  M[0,2] > 0
    pitch > 0 looking up:                       n_y < 0  <=>  M[1,2] > 0
    roll > 0  clockwise in the image:           u_x > 0  <=>  M[0,1] < 0
With M = Rx(-pitch) Ry(yaw) Rz(roll) (right-handed rotations about the camera axes) M[0,2] = sin(yaw),
M[1,2] = sin(pitch) cos(yaw), M[2,2] = cos(pitch) cos(yaw), M[0,0] = cos(yaw) cos(roll),
M[0,1] = -cos(yaw) sin(roll), so yaw = atan2(M02, hypot(M12, M22)), pitch = atan2(M12, M22),
roll = atan2(-M01, M00). This is the conversion Hopenet (deep-head-pose), FSA-Net and 6DRepNet apply to
BIWI (they transpose M first and index the transpose), whose 300W-LP-trained models reach a few degrees
of error on BIWI: a flipped sign would show as errors several times larger. The depth->RGB rotation of
rgb.cal (about 1 degree) is not applied to the angles, as in those loaders, so results compare.
BIWI spans about +-75 degrees yaw and +-60 pitch; samples with any |angle| > 99 (none expected) are
dropped as for AFLW2000 and counted in `dropped['angle_over_99']`.

FSA-Net's preprocessed copies are read too: `BIWI_noTrack.npz` (all sequences; the usual test set for a
model trained on 300W-LP), `BIWI_train.npz` / `BIWI_test.npz` (its 70/30 split by sequence), arrays
`image` (N,64,64,3) uint8 written by OpenCV, so BGR (converted to RGB here), `pose` (N,3) degrees in the
order (yaw, pitch, roll) with the conversion above, `img_size`. Loaded with numpy.load(allow_pickle=False):
a file that needs unpickling is refused. A folder holding the npz files reads BIWI_noTrack.npz, else
BIWI_train.npz + BIWI_test.npz together as splits train / test. These copies carry no subject label.

BIWI has no official split: task `pose` tests the whole set with a probe trained on 300W-LP, looked for
beside it (`300wlp/`) as for AFLW2000, or given with --train-dataset 300wlp:PATH.

Evidence (read, not copied): shamangary/FSA-Net `README.md` (Protocol 1 tests on `BIWI_noTrack.npz`; Protocol 2
`BIWI_train.npz` / `BIWI_test.npz`, 70/30; BIWI folder put under `data/`) and `data/TYY_create_db_biwi.py`
(sequences `01` ... `24` listed by `.txt` and `.png` names, pose.txt read as 3 rotation rows + the centre row,
R transposed, yaw = -atan2(-R[2][0], hypot(R[2][1], R[2][2])), pitch = atan2(R[2][1], R[2][2]),
roll = -atan2(R[1][0], R[0][0]), which is this module's conversion of M = R^T; images read with cv2.imread
(BGR), cropped around an MTCNN box grown by 0.4 and resized to 64; saved as `np.savez(image=, pose=[yaw, pitch,
roll], img_size=)` to `--output ./BIWI.npz` by default, a name now read too when neither BIWI_noTrack.npz nor
the halves are there). thohemp/6DRepNet and loaders found by text search pass `BIWI_noTrack.npz` as the
file list of its BIWI test (`--dataset BIWI --data_dir .../faces_0 --filename_list BIWI_noTrack.npz`); some
npz copies carry a third array (landmarks or Euler angles), ignored here. Unconfirmed: which frames FSA-Net's
no-track copy keeps (MTCNN-dependent, not reproducible from the raw frames here).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import IMAGE_SUFFIXES, SKIP_MISSING_HINT, load_fsa_net_npz, parse_number, read_lines, with_dropped
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError

HEAD_BOX_MM = 250.0
# sequence -> person (Hugging Face datasets' biwi_kinect_head_pose script): 4 people recorded twice
SEQUENCE_SUBJECT = {"01": "F01", "02": "F02", "03": "F03", "04": "F04", "05": "F05", "06": "F06", "07": "M01",
                    "08": "M02", "09": "M03", "10": "M04", "11": "M05", "12": "M06", "13": "M07", "14": "M08",
                    "15": "F03", "16": "M09", "17": "M10", "18": "F05", "19": "M11", "20": "M12", "21": "F02",
                    "22": "M01", "23": "M13", "24": "M14"}
SEQUENCE_PARENTS = ("", "hpdb", "kinect_head_pose_db/hpdb", "faces_0")
NPZ_ALL, NPZ_TRAIN, NPZ_TEST = "BIWI_noTrack.npz", "BIWI_train.npz", "BIWI_test.npz"
NPZ_SCRIPT = "BIWI.npz"  # FSA-Net's TYY_create_db_biwi.py --output default
POSE_SUFFIX = "_pose.txt"
ROTATION_TOLERANCE = 1e-2  # the files keep 6 digits: M M^T is identity to ~1e-5


def rotation_to_pose(rotation) -> np.ndarray:
    """(yaw, pitch, roll) degrees in facessl's convention from pose.txt's matrix M (see the module docstring)."""
    m = np.asarray(rotation, dtype=np.float64)
    yaw = np.arctan2(m[0, 2], np.hypot(m[1, 2], m[2, 2]))
    pitch = np.arctan2(m[1, 2], m[2, 2])
    roll = np.arctan2(-m[0, 1], m[0, 0])
    return np.rad2deg([yaw, pitch, roll])


def _number_rows(path: Path, what: str) -> list[tuple[int, list[float]]]:
    """(line number, numbers) of each non-blank line."""
    rows = []
    for number, line in enumerate(read_lines(path, what), start=1):
        if line.strip():
            rows.append((number, [parse_number(v, path, number, "a number", float) for v in line.split()]))
    return rows


def _row(path: Path, rows, k: int, size: int, form: str) -> list[float]:
    if k >= len(rows):
        raise DataFormatError(path, f"expected {form}; the file ends early", rows[-1][0] if rows else None)
    number, values = rows[k]
    if len(values) != size:
        raise DataFormatError(path, f"expected {size} numbers ({form}), got {len(values)}", number)
    return values


def read_pose_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """pose.txt -> (3x3 rotation M, head centre in mm, depth-camera frame)."""
    rows = _number_rows(path, "BIWI pose file")
    form = "3 rotation rows, a blank line, the head centre x y z"
    if len(rows) != 4:
        raise DataFormatError(path, f"expected 4 rows of 3 numbers ({form}), found {len(rows)}", rows[-1][0] if rows else None)
    rotation = np.array([_row(path, rows, k, 3, form) for k in range(3)])
    centre = np.array(_row(path, rows, 3, 3, form))
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=ROTATION_TOLERANCE):
        raise DataFormatError(path, "the first 3 rows are not a rotation matrix (rows not orthonormal)", rows[0][0])
    return rotation, centre


@dataclass
class RgbCamera:
    """rgb.cal: intrinsics, and the depth -> RGB transform p_rgb = rotation p_depth + translation (mm)."""

    intrinsics: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def project(self, point_mm) -> tuple[float, float, float]:
        """(u, v) pixels in the RGB image and the depth Z (mm) of a depth-camera point."""
        x, y, z = self.rotation @ np.asarray(point_mm, dtype=np.float64) + self.translation
        k = self.intrinsics
        return k[0, 0] * x / z + k[0, 2], k[1, 1] * y / z + k[1, 2], z

    def face_box(self, centre_mm, box_mm: float = HEAD_BOX_MM) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): a box_mm-wide square about the head centre, in RGB pixels."""
        u, v, z = self.project(centre_mm)
        half_w, half_h = box_mm * self.intrinsics[0, 0] / z / 2, box_mm * self.intrinsics[1, 1] / z / 2
        return u - half_w, v - half_h, u + half_w, v + half_h


def read_rgb_calibration(path: Path) -> RgbCamera:
    """rgb.cal's non-blank lines: 3 intrinsics rows, distortion, 3 rotation rows, translation (then resolution)."""
    rows = _number_rows(path, "BIWI rgb.cal")
    form = "3 intrinsics rows, distortion, 3 rotation rows, translation"
    intrinsics = np.array([_row(path, rows, k, 3, form) for k in range(3)])
    rotation = np.array([_row(path, rows, k, 3, form) for k in range(4, 7)])
    translation = np.array(_row(path, rows, 7, 3, form))
    if intrinsics[0, 0] <= 0 or intrinsics[1, 1] <= 0:
        raise DataFormatError(path, f"expected positive focal lengths in the intrinsics, got {intrinsics[0, 0]}, "
                                    f"{intrinsics[1, 1]}", rows[0][0])
    return RgbCamera(intrinsics, rotation, translation)


def find_sequences(root: Path) -> list[Path]:
    """Sequence folders (01 ... 24, each with frame_*_pose.txt) under root or one of SEQUENCE_PARENTS."""
    if any(root.glob(f"*{POSE_SUFFIX}")):
        return [root]  # one sequence folder
    for base in (root / p for p in SEQUENCE_PARENTS):
        if base.is_dir():
            folders = sorted(p for p in base.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name))
            folders = [p for p in folders if any(p.glob(f"*{POSE_SUFFIX}"))]
            if folders:
                return folders
    return []


def _frame_image(pose_path: Path) -> Path | None:
    stem = pose_path.name[: -len(POSE_SUFFIX)] + "_rgb"
    return next((pose_path.with_name(stem + s) for s in IMAGE_SUFFIXES if pose_path.with_name(stem + s).is_file()), None)


def read_biwi(root, box_mm: float = HEAD_BOX_MM, max_angle: float = 99.0, skip_missing: bool = False) -> ImageSet:
    """BIWI frames as face crops (BoxedImage) with labels 'pose', 'subject', 'sequence', 'frame'; or FSA-Net's
    npz copies (a file or a folder holding them) with 'pose' and images in memory."""
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".npz":
        return read_biwi_npz([root], max_angle)
    if not root.is_dir():
        raise DataFormatError(root, "BIWI not found: expected the hpdb/ folder (01/ ... 24/), a sequence folder or an .npz file")
    sequences = find_sequences(root)
    if not sequences:
        npz = _npz_in(root)
        if npz:
            return read_biwi_npz(npz, max_angle)
        raise DataFormatError(root, f"no BIWI frames found: expected hpdb/01/frame_00003_pose.txt (+ _rgb.png, rgb.cal), "
                                    f"or {NPZ_ALL} / {NPZ_TRAIN} + {NPZ_TEST} / {NPZ_SCRIPT}")
    dropped = {"angle_over_99": 0, "missing_image": 0}
    images, poses, subjects, names, frames = [], [], [], [], []
    for sequence in sequences:
        camera = read_rgb_calibration(sequence / "rgb.cal")
        for pose_path in sorted(sequence.glob(f"*{POSE_SUFFIX}")):
            image = _frame_image(pose_path)
            if image is None:
                if not skip_missing:
                    expected = pose_path.name[: -len(POSE_SUFFIX)] + "_rgb.png"
                    raise DataFormatError(pose_path, f"no frame image beside this pose file (expected {expected}); {SKIP_MISSING_HINT}")
                dropped["missing_image"] += 1
                continue
            rotation, centre = read_pose_file(pose_path)
            pose = rotation_to_pose(rotation)
            if np.abs(pose).max() > max_angle:
                dropped["angle_over_99"] += 1
                continue
            images.append(BoxedImage(image, camera.face_box(centre, box_mm)))
            poses.append(pose)
            subjects.append(SEQUENCE_SUBJECT.get(sequence.name, sequence.name))
            names.append(sequence.name)
            frames.append(_frame_number(pose_path))
    if not images:
        raise DataFormatError(root, f"no BIWI frame left ({dropped['missing_image']} without image, "
                                    f"{dropped['angle_over_99']} with an angle over {max_angle:g} degrees)")
    labels = {"pose": np.array(poses, dtype=np.float32), "subject": np.array(subjects), "sequence": np.array(names),
              "frame": np.array(frames, dtype=np.int64)}
    return with_dropped(ImageSet(images, labels, None, str(root)), dropped)


def _frame_number(pose_path: Path) -> int:
    digits = re.findall(r"\d+", pose_path.name)
    return int(digits[-1]) if digits else -1


def _npz_in(folder: Path) -> list[Path]:
    """BIWI_noTrack.npz, else BIWI_train.npz + BIWI_test.npz (either alone if only one is there), else BIWI.npz
    (the name FSA-Net's data/TYY_create_db_biwi.py writes by default)."""
    if (folder / NPZ_ALL).is_file():
        return [folder / NPZ_ALL]
    halves = [folder / name for name in (NPZ_TRAIN, NPZ_TEST) if (folder / name).is_file()]
    if not halves and (folder / NPZ_SCRIPT).is_file():
        return [folder / NPZ_SCRIPT]
    return halves


def _npz_part(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 images (N,H,W,3) and (N,3) float poses of one npz, checked."""
    image, pose = load_fsa_net_npz(path, "BIWI")
    if image.ndim != 4 or image.shape[-1] != 3:
        raise DataFormatError(path, f"expected 'image' of shape (N, H, W, 3), got {image.shape}")
    if pose.shape != (len(image), 3):
        raise DataFormatError(path, f"expected 'pose' of shape ({len(image)}, 3) (yaw, pitch, roll per image), got {pose.shape}")
    if image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.integer) or image.min(initial=0) < 0 or image.max(initial=0) > 255:
            raise DataFormatError(path, f"expected 'image' as uint8 pixels 0..255, got {image.dtype}")
        image = image.astype(np.uint8)
    return np.ascontiguousarray(image[..., ::-1]), pose.astype(np.float32)  # OpenCV wrote BGR


def read_biwi_npz(paths: list[Path], max_angle: float = 99.0) -> ImageSet:
    """FSA-Net's BIWI npz files as one ImageSet; split train / test when both halves are read together."""
    images, poses, split = [], [], []
    for path in paths:
        image, pose = _npz_part(path)
        images.append(image)
        poses.append(pose)
        split += ["test" if path.name == NPZ_TEST else "train"] * len(image)
    image, pose = np.concatenate(images), np.concatenate(poses)
    finite = np.isfinite(pose).all(axis=1)
    keep = finite & (np.abs(np.nan_to_num(pose)).max(axis=1) <= max_angle)
    if not keep.any():
        raise DataFormatError(paths[0], f"no image left: {len(image)} rows, none with finite angles within {max_angle:g} degrees")
    use_split = len(paths) > 1
    source = str(paths[0].parent if use_split else paths[0])
    result = ImageSet(image[keep], {"pose": pose[keep]}, np.array(split)[keep] if use_split else None, source)
    return with_dropped(result, {"angle_over_99": int((finite & ~keep).sum()), "invalid_pose": int((~finite).sum())})
