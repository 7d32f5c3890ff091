"""Facial landmarks (300-W, 68 points; MAFL, 5 points): linear regression of the coordinates.

Targets are the (x, y) pixel coordinates divided by the stored image's width and height, so they
lie in [0, 1] whatever the crop size; predictions are mapped back to pixels and scored by NME in %
of the inter-ocular distance (68 points: outer eye corners 36 and 45; 5 points: the eye centres) and
of the true points' box size (any number of points, e.g. a user's CSV of x,y columns).

Both NMEs are blind to a shift or a scale of every label: points in another frame (a crop's coordinates on the
full photo, fractions of the image, an offset) score as well as right ones. The task therefore stops when the
points cannot be pixels of their stored images (frame_problem): most rows far outside their image, or every
coordinate within [0, 1] on images of 8 px and more. Points a little outside (occluded chins and brows of
300-W, COFW or AFLW crops) are fine.
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.evaluate import metrics
from facessl.evaluate.expression import require_label, train_test_parts
from facessl.evaluate.images import image_sizes
from facessl.evaluate.pose import require
from facessl.evaluate.protocol import EvalOptions, Fold, Part, ProbeTask
from facessl.evaluate.splits import part_groups
from facessl.errors import FacesslError

FAR_OUTSIDE = 0.5  # a point farther outside its image than this fraction of the image's width (height)
NORMALISED_SLACK = 0.5  # a row "in [0, 1]": every coordinate within [-0.5, 1.5] (occluded points of fractions)
NORMALISED_FROM_PX = 8  # images at least this big on their smaller side hold faces wider than 2 px
EXPECTED_FRAME = ("landmark coordinates must be pixels of the stored image (the file as it is on disk, or the "
                  "crop of its box), 0-based: x from the left edge, y from the top")


def normalised_targets(part: Part, sizes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """((n, K*2) coordinates in [0, 1], (n, 2) image width/height) for the rows of a Part. sizes: the (N, 2)
    image sizes of the whole set, when read already."""
    points = require_label(part.images, "landmarks", "landmarks")[part.index].astype(np.float64)
    sizes = (image_sizes(part.images) if sizes is None else sizes)[part.index]
    return (points / sizes[:, None, :]).reshape(len(points), -1), sizes


def _example(imageset: ImageSet, row: int, point, size) -> str:
    from facessl.data.video.writers import shown  # names that are not UTF-8, printable

    item = imageset.images[row]
    name = f"row {row}" if isinstance(item, np.ndarray) or isinstance(imageset.images, np.ndarray) else shown(str(item))
    return f"{name}: ({point[0]:.4g}, {point[1]:.4g}) on a {size[0]:.0f}x{size[1]:.0f} image"


def frame_problem(imageset: ImageSet, sizes: np.ndarray | None = None, rows=None) -> str | None:
    """Why the set's landmarks cannot be pixels of their stored images, in one line, or None when they can.

    - more than half the rows have a point farther outside the image than half its size, or most of their
      points outside it (an offset, the full photo's coordinates on a crop, another resolution);
    - more than half the rows (on images of NORMALISED_FROM_PX and more) have every coordinate within
      [-0.5, 1.5]: fractions of the image's width and height, as many tools export.
    A few points a little outside (occluded landmarks of real crops) pass. sizes: (N, 2) width, height of
    every image (read from the files when None); rows: the rows to look at (default all)."""
    rows = np.arange(len(imageset)) if rows is None else np.asarray(rows)
    if len(rows) == 0 or "landmarks" not in imageset.labels:
        return None
    points = np.asarray(imageset.labels["landmarks"], dtype=np.float64)[rows]
    sizes = (image_sizes(imageset.subset(rows)) if sizes is None else np.asarray(sizes, dtype=np.float64)[rows])
    where = imageset.source or "dataset"
    size = sizes[:, None, :]
    finite = np.isfinite(points).all(axis=2)  # missing points (NaN) say nothing
    counted = finite.any(axis=1)
    n = int(counted.sum())
    if n == 0:
        return None
    with np.errstate(invalid="ignore"):
        in_unit = ((points >= -NORMALISED_SLACK) & (points <= 1 + NORMALISED_SLACK)).all(axis=2)
        unit = (in_unit | ~finite).all(axis=1) & counted & (sizes.min(axis=1) >= NORMALISED_FROM_PX)
        beyond = np.maximum(-points, points - size) / size  # how far outside, as a fraction of the image's size
        outside = (beyond > 0).any(axis=2) & finite
        far = ((beyond > FAR_OUTSIDE).any(axis=2) & finite).any(axis=1)
    mostly = outside.sum(axis=1) * 2 > finite.sum(axis=1)
    if unit.sum() * 2 > n:
        k = int(np.flatnonzero(unit)[0])
        sides = sizes[unit].min(axis=1)
        return (f"{where}: the landmarks of {int(unit.sum())} of {n} rows lie within [0, 1] (coordinates "
                f"{np.nanmin(points[unit]):.3g} to {np.nanmax(points[unit]):.3g}) on images of {sides.min():.0f} px "
                f"and more, e.g. {_example(imageset, rows[k], points[k][finite[k]][0], sizes[k])}: they look "
                f"normalised (fractions of the width and height); {EXPECTED_FRAME} (multiply x by the width, y by the "
                "height)")
    bad = (far | mostly) & counted
    if bad.sum() * 2 > n:
        k = int(np.flatnonzero(bad)[0])
        j = int(np.nanargmax(np.where(finite[k], beyond[k].max(axis=1), np.nan)))
        return (f"{where}: {int(bad.sum())} of {n} rows have landmarks outside their image ({int(far.sum())} with a "
                f"point farther out than {FAR_OUTSIDE:.0%} of the image's size, {int((mostly & counted).sum())} with most "
                f"points outside), e.g. {_example(imageset, rows[k], points[k, j], sizes[k])}; {EXPECTED_FRAME} "
                "(were they written for another crop or size of the image?)")
    return None


def landmark_metrics(outputs, y, meta) -> dict:
    """NME (inter-ocular, the papers' tables; 5, 29, 68 and 98 points, or the set's box_size) and NME_box (bounding-box normalised,
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


LANDMARKS_NEEDS = "landmarks ((x, y) points per image: --point-columns of a table, or a format such as 300w:)"


def build(test_set: ImageSet, train_set: ImageSet | None, options: EvalOptions) -> ProbeTask:
    sizes = {}
    for data in (test_set, train_set):  # the points' frame, checked once per set, before any probe
        if data is not None:
            require(data, "landmarks", "landmarks", LANDMARKS_NEEDS)
            sizes[id(data)] = image_sizes(data)
            problem = frame_problem(data, sizes[id(data)])
            if problem:
                raise FacesslError(problem)
    train, val, test = train_test_parts(test_set, train_set, "landmarks")
    y_train, _ = normalised_targets(train, sizes[id(train.images)])
    y_test, test_sizes = normalised_targets(test, sizes[id(test.images)])
    y_val = None if val is None else normalised_targets(val, sizes[id(val.images)])[0]
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
    if box_size is None and n_points not in INTEROCULAR_POINTS:  # the NME column shows a dash: say why
        counts = ", ".join(map(str, sorted(INTEROCULAR_POINTS)[:-1])) + f" or {max(INTEROCULAR_POINTS)}"
        info["notes"] = [f"NME (inter-ocular) needs {counts} points, whose eye points are known, or a set that gives "
                         f"face boxes (aflw19:); these {n_points} points get NME box only"]
    return ProbeTask("landmarks", probe, [fold], landmark_metrics, score=score, info=info)
