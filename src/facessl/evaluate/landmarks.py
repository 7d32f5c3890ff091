"""Facial landmarks (300-W, 68 points; MAFL, 5 points): linear regression of the coordinates.

Targets are the (x, y) pixel coordinates divided by the stored image's width and height, so they
lie in [0, 1] whatever the crop size; predictions are mapped back to pixels and scored by NME in %
of the inter-ocular distance (68 points: outer eye corners 36 and 45; 5 points: the eye centres) and
of the true points' box size (any number of points, e.g. a user's CSV of x,y columns).
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.evaluate import metrics
from facessl.evaluate.expression import require_label, train_test_parts
from facessl.evaluate.images import image_sizes
from facessl.evaluate.protocol import EvalOptions, Fold, Part, ProbeTask
from facessl.evaluate.splits import part_groups


def normalised_targets(part: Part) -> tuple[np.ndarray, np.ndarray]:
    """((n, K*2) coordinates in [0, 1], (n, 2) image width/height) for the rows of a Part."""
    points = require_label(part.images, "landmarks", "landmarks")[part.index].astype(np.float64)
    sizes = image_sizes(part.images)[part.index]
    return (points / sizes[:, None, :]).reshape(len(points), -1), sizes


def landmark_metrics(outputs, y, meta) -> dict:
    """NME (inter-ocular, the papers' tables; 5 and 68 points only) and NME_box (bounding-box normalised,
    robust to profiles, defined for any point set)."""
    sizes = meta["sizes"][:, None, :]
    n = len(outputs)
    pred = outputs.reshape(n, -1, 2) * sizes
    true = y.reshape(n, -1, 2) * sizes
    out = {"nme_box": metrics.nme(pred, true, normaliser="box")}
    if "box_size" in meta:  # the set's own normaliser (AFLW-19: sqrt(w h) of the annotated face box)
        out["nme"] = metrics.nme(pred, true, lengths=meta["box_size"])
    elif pred.shape[1] in INTEROCULAR_POINTS:
        out["nme"] = metrics.nme(pred, true)
    return out


INTEROCULAR_POINTS = {68: "outer eye corners (36, 45)", 5: "eye centres (0, 1)", 98: "outer eye corners (60, 72)",
                      29: "pupils (16, 17)"}


def build(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    train, val, test = train_test_parts(test_set, train_set, "landmarks")
    y_train, _ = normalised_targets(train)
    y_test, test_sizes = normalised_targets(test)
    y_val = None if val is None else normalised_targets(val)[0]
    n_points = y_train.shape[1] // 2
    test_meta = {"sizes": test_sizes}
    box_size = test.images.labels.get("box_size")
    if box_size is not None:
        test_meta["box_size"] = np.asarray(box_size, dtype=np.float64)[test.index]
    fold = Fold(train, y_train, test, y_test, val, y_val, groups=part_groups(train), test_meta=test_meta)

    def score(outputs, y) -> float:  # minus the mean error in crop-normalised units (no sizes needed)
        return -float(np.mean(np.linalg.norm(outputs.reshape(len(y), -1, 2) - y.reshape(len(y), -1, 2), axis=2)))

    probe = options.probe("regression", loss=options.landmark_loss)
    info = {"train_rows": len(train), "test_rows": len(test), "points": n_points,
            "normaliser": ("NME: the set's box_size (sqrt(w h) of the annotated face box); " if box_size is not None else
                           f"NME: {INTEROCULAR_POINTS[n_points]}; " if n_points in INTEROCULAR_POINTS else
                           f"{n_points} points have no inter-ocular convention: ") + "NME box: sqrt(box area) of the true points",
            "targets": "coordinates / (image width, height)"}
    return ProbeTask("landmarks", probe, [fold], landmark_metrics, score=score, info=info)
