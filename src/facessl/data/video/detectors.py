"""Face detectors behind one small interface, chosen by name.

A detector maps an RGB uint8 frame (H,W,3) to a list of `Face`s in that frame's pixel
coordinates. `refine(frame, box)` re-detects a face near a known box (cheap tracking between full
detections; detectors without such a stage return None). `turn_scores(frame, box)` scores a face's
crop turned by quarters, to tell a face standing turned (orient.py; None: cannot say). Adding a
detector = one module in this package that calls `register(name, factory)`, and its name in BUILTIN.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facessl.errors import FacesslError


@dataclass
class Face:
    box: np.ndarray                     # (4,) float x1, y1, x2, y2
    score: float
    landmarks: np.ndarray | None = field(default=None)  # (5,2) eyes (person's right, left), nose, mouth corners


def shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(image scaled so its longer side is at most max_side, the scale). Each side stays at least 1 px: a 2000x3
    strip must give "no face", not an OpenCV assertion."""
    s = min(1.0, max_side / max(image.shape[:2]))
    if s < 1.0:
        import cv2

        size = (max(1, round(image.shape[1] * s)), max(1, round(image.shape[0] * s)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image, s


class Detector:
    name = "base"
    has_landmarks = False
    can_refine = False  # True when refine() can follow a face from its previous box

    def detect(self, frame: np.ndarray) -> list[Face]:
        raise NotImplementedError

    def refine(self, frame: np.ndarray, box: np.ndarray) -> Face | None:
        return None

    def turn_scores(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """(4,) face scores of the square crop around box turned 0, 1, 2, 3 quarters anticlockwise (a face
        standing turned scores higher turned back; orient.py), or None where the detector cannot say."""
        return None


_REGISTRY: dict = {}
BUILTIN = {"mtcnn": "facessl.data.video.mtcnn", "haar": "facessl.data.video.haar"}  # imported on first use


def register(name: str, factory) -> None:
    _REGISTRY[name] = factory


def detector_names() -> list[str]:
    return sorted(set(_REGISTRY) | set(BUILTIN))


def build_detector(name: str, **options) -> Detector:
    if name not in _REGISTRY and name in BUILTIN:
        import importlib

        importlib.import_module(BUILTIN[name])  # registers itself
    if name not in _REGISTRY:
        raise FacesslError(f"--detector {name!r}: unknown face detector; choose one of {', '.join(detector_names())}")
    return _REGISTRY[name](**options)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes a (N,4) and b (M,4) -> (N,M)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)
