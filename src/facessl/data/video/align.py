"""Face alignment: a similarity transform that puts the 5 landmarks on a canonical template, or a
square crop around the box when a detector gives no landmarks. Videos and photos go through the
same function, so evaluation images can be prepared exactly like the pretraining frames.

`margin` widens the crop: 0 is the tight ArcFace-style crop (eyes to mouth, little forehead),
0.25 (default) adds a quarter of that crop's width on each side and keeps hair and chin.
"""
from __future__ import annotations

import cv2
import numpy as np

# ArcFace's 5-point template on a 112 x 112 crop, in unit coordinates
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                     [41.5493, 92.3655], [70.7299, 92.2041]]) / 112.0


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src (N,2) to dst (N,2): (2,3).

    Umeyama's closed form, reflection excluded."""
    src, dst = np.asarray(src, float), np.asarray(dst, float)
    ms, md = src.mean(0), dst.mean(0)
    s0, d0 = src - ms, dst - md
    cov = d0.T @ s0 / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / s0.var(0).sum()
    return np.concatenate([scale * rot, (md - scale * rot @ ms)[:, None]], 1)


def template(size: int, margin: float) -> np.ndarray:
    return ((TEMPLATE - 0.5) / (1 + 2 * margin) + 0.5) * size


def landmark_transform(landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    return similarity(landmarks, template(size, margin))


def box_transform(box: np.ndarray, size: int, margin: float) -> np.ndarray:
    """Square crop around the box centre, side = longer box side x (1 + 2 margin)."""
    x1, y1, x2, y2 = np.asarray(box, float)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    s = size / max(side, 1e-6)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]])


def warp(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The aligned size x size crop; strong shrinking goes through an area-filtered copy first (no aliasing);
    outside the frame see fill_outside."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.5:  # cut the region the crop comes from, then area-shrink only that
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], float) @ inverse.T
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
        region = frame[y0:y1, x0:x1]
        if region.size == 0:
            return np.zeros((size, size, 3), np.uint8)
        h, w = region.shape[:2]
        f = 2 * scale
        frame = cv2.resize(region, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        fx, fy = frame.shape[1] / w, frame.shape[0] / h
        matrix = matrix.copy()
        matrix[:, 2] += matrix[:, 0] * x0 + matrix[:, 1] * y0  # the region's origin moved to (0, 0)
        matrix[:, 0] /= fx
        matrix[:, 1] /= fy
    return fill_outside(frame, matrix, size)


def fill_outside(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The warp, with what lies beyond the frame (a rolled head, a face at the edge of a tight crop)
    filled by the frame's edge pixels repeated and blurred (sigma a tenth of the crop). Black
    corners are sharp edges that move with the roll (a cue a network learns instead of the face);
    repeated pixels alone make streaks and mirrored ones a second, upside-down forehead."""
    out = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    h, w = frame.shape[:2]
    corners = np.array([[0, 0, 1], [size - 1, 0, 1], [0, size - 1, 1], [size - 1, size - 1, 1]], float)
    source = corners @ cv2.invertAffineTransform(matrix).T
    if (source >= 0).all() and (source[:, 0] <= w - 1).all() and (source[:, 1] <= h - 1).all():
        return out  # the crop lies inside the frame (the usual case): no mask to build
    inside = cv2.warpAffine(np.ones((h, w), np.float32), matrix, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    soft = cv2.GaussianBlur(out, (0, 0), size / 10)
    inside = inside[..., None]
    return np.clip(inside * out + (1 - inside) * soft, 0, 255).astype(np.uint8)


def align(frame: np.ndarray, box, landmarks, size: int, margin: float) -> np.ndarray:
    m = landmark_transform(landmarks, size, margin) if landmarks is not None else box_transform(box, size, margin)
    return warp(frame, m, size)
