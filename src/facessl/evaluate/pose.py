"""Head pose: regression of (yaw, pitch, roll) in degrees, and discrete pose classification.

pose:          train on 300W-LP, test on AFLW2000 (the readers give degrees and drop |angle| > 99).
               Linear regression (L1 by default, as in the reference), MAE per angle and mean.
pose_classes:  BU-3DFE-style discrete pose accuracy. With a 'pose_class' label (a bu3dfe reader)
               it is used as is; otherwise 7 yaw classes are derived from the yaw angle with bins
               centred on -90, -60, -30, 0, 30, 60, 90 degrees (edges at +-15, +-45, +-75).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.labels import POSE_ANGLES
from facessl.evaluate import metrics
from facessl.evaluate.expression import classification_metrics, classification_task, require_label, train_test_parts
from facessl.evaluate.protocol import EvalOptions, Fold, Part, ProbeTask
from facessl.evaluate.splits import TEST_NAMES, copy_sets, group_labels, has_split, part_groups, subject_folds
from facessl.errors import FacesslError

YAW_EDGES = (-75.0, -45.0, -15.0, 15.0, 45.0, 75.0)
YAW_CLASS_CENTRES = (-90, -60, -30, 0, 30, 60, 90)


def yaw_classes(pose_degrees: np.ndarray) -> np.ndarray:
    """7 yaw bins (see module doc) from (N, 3) yaw/pitch/roll degrees."""
    return np.digitize(np.asarray(pose_degrees, dtype=np.float64)[:, 0], YAW_EDGES).astype(int)


def source_image_groups(part: Part):
    """Person of each training row; for 300W-LP (no identities) the source photo, so that its synthesised
    poses and flips (AFW/AFW_134212_1_3.jpg, AFW_Flip/AFW_134212_1_3.jpg) stay on one side of validation."""
    groups = part_groups(part)
    if groups is not None or "subset" not in part.images.labels or isinstance(part.images.images, np.ndarray):
        return groups
    stems = [Path(str(part.images.images[i])).stem for i in part.index]
    return np.array([stem.rsplit("_", 1)[0] if "_" in stem else stem for stem in stems])


# label -> (the task that reads it, what it is in a user's words)
LABEL_TASKS = {"pose": ("pose", "head pose angles"), "landmarks": ("landmarks", "landmarks"),
               "expression": ("expression", "expression labels"), "aus": ("au", "action units"),
               "attributes": ("attributes", "attributes"), "class": ("classification", "classes"),
               "target": ("regression", "numeric targets")}


def offered(imageset: ImageSet) -> str:
    """What a dataset's labels are good for, in the words of the command line: e.g. "a table's --target-columns
    (here yaw, pitch, roll) give task 'regression' (MAE per column): omit --task or give --task regression"."""
    meta = imageset.meta or {}
    parts = []
    for label, (task, what) in LABEL_TASKS.items():
        if label not in imageset.labels:
            continue
        if label == "target" and meta.get("target_columns"):
            parts.append(f"a table's --target-columns (here {', '.join(meta['target_columns'])}) give task 'regression' "
                         "(MAE per column): omit --task or give --task regression")
        elif label == "landmarks" and meta.get("point_columns"):
            parts.append(f"a table's --point-columns (here {len(meta['point_columns']) // 2} points) give task "
                         "'landmarks' (NME): omit --task or give --task landmarks")
        elif label == "class" and meta.get("label_column"):
            parts.append(f"a table's --label-column (here {meta['label_column']!r}) gives task 'classification': "
                         "omit --task or give --task classification")
        else:
            parts.append(f"its {what} give task {task!r} (--task {task})")
    return "; ".join(parts) or f"it holds no labels a task reads (labels present: {', '.join(imageset.labels) or 'none'})"


def require(imageset: ImageSet, name: str, task: str, needs: str) -> np.ndarray:
    """The label `name` task `task` reads, or one error saying what the task needs and what the data does offer."""
    if name not in imageset.labels:
        raise FacesslError(f"{imageset.source or 'dataset'}: task {task!r} needs {needs}; {offered(imageset)}")
    return require_label(imageset, name, task)


POSE_NEEDS = "head pose angles (yaw, pitch, roll in degrees, read by a pose format such as aflw2000: or 300wlp:)"


def pose_metrics(outputs, y, meta) -> dict:
    per_angle, mean = metrics.mae_degrees(outputs, y)
    out = {f"{name}_mae": float(v) for name, v in zip(POSE_ANGLES, per_angle)}
    out["mae"] = mean
    return out


def build(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    for data in (test_set, train_set):  # before the splits: the wrong task is the first thing to say
        if data is not None:
            require(data, "pose", "pose", POSE_NEEDS)
    train, val, test = train_test_parts(test_set, train_set, "pose")
    labels = lambda part: require(part.images, "pose", "pose", POSE_NEEDS)[part.index].astype(np.float64)
    fold = Fold(train, labels(train), test, labels(test), val, None if val is None else labels(val),
                groups=source_image_groups(train))
    probe = options.probe("regression", loss=options.pose_loss)
    info = {"train_rows": len(train), "test_rows": len(test), "angles": list(POSE_ANGLES), "unit": "degrees",
            "loss": options.pose_loss}
    return ProbeTask("pose", probe, [fold], pose_metrics, info=info)


def build_classes(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    def labels(part: Part):
        if "pose_class" in part.images.labels:
            return np.asarray(part.images.labels["pose_class"])[part.index].astype(int)
        return yaw_classes(require_label(part.images, "pose", "pose_classes")[part.index])

    for data in (test_set, train_set):
        if data is not None and "pose_class" not in data.labels:
            require(data, "pose", "pose_classes", "pose classes (bu3dfe:) or " + POSE_NEEDS)
    derived = "pose_class" not in test_set.labels
    note = (f"7 yaw classes derived from yaw (centres {list(YAW_CLASS_CENTRES)} degrees)" if derived
            else "dataset pose classes")
    subjects = group_labels(test_set)
    if train_set is None and not has_split(test_set, TEST_NAMES) and subjects is not None:
        return _subject_folds_task(test_set, subjects, labels, options, note)  # e.g. BU-3DFE without a split file
    train, val, test = train_test_parts(test_set, train_set, "pose_classes")
    return classification_task("pose_classes", train, val, test, labels(train), None if val is None else labels(val),
                               labels(test), options, {"classes_from": note})


def _subject_folds_task(data: ImageSet, subjects, labels, options: EvalOptions, note: str) -> ProbeTask:
    everything = labels(Part(data, np.arange(len(data))))
    folds = []
    for test_rows in subject_folds(subjects, options.cv_folds, copies=copy_sets(data)):
        train_rows = np.setdiff1d(np.arange(len(data)), test_rows)
        folds.append(Fold(Part(data, train_rows), everything[train_rows], Part(data, test_rows), everything[test_rows],
                          groups=subjects[train_rows]))
    info = {"classes_from": note, "folds": f"{options.cv_folds}-fold subject-exclusive cross-validation",
            "classes": int(everything.max()) + 1}
    return ProbeTask("pose_classes", options.probe("softmax"), folds, classification_metrics, info=info)
