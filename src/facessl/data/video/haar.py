"""OpenCV Haar cascades (frontal + profile): no landmarks, box crops only.

The cascades ship inside opencv-python-headless 4.x (cv2.data.haarcascades); OpenCV 5 dropped
CascadeClassifier, so this detector is only available where OpenCV 4 is installed.
"""
from __future__ import annotations

import cv2
import numpy as np

from facessl.data.video.detectors import Detector, Face, register, shrink
from facessl.errors import FacesslError


class Haar(Detector):
    name = "haar"

    def __init__(self, max_side: int = 320, min_face: int = 20):
        if not hasattr(cv2, "CascadeClassifier"):
            raise FacesslError(f"the haar detector needs OpenCV 4 (CascadeClassifier); this is OpenCV {cv2.__version__}")
        folder = cv2.data.haarcascades
        self.frontal = cv2.CascadeClassifier(folder + "haarcascade_frontalface_default.xml")
        self.profile = cv2.CascadeClassifier(folder + "haarcascade_profileface.xml")
        self.max_side, self.min_face = max_side, min_face

    def detect(self, frame: np.ndarray) -> list[Face]:
        grey, s = shrink(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), self.max_side)
        found = []
        for cascade, flip in ((self.frontal, False), (self.profile, False), (self.profile, True)):
            img = grey[:, ::-1].copy() if flip else grey
            rects, _, weights = cascade.detectMultiScale3(img, 1.1, 5, minSize=(self.min_face, self.min_face),
                                                          outputRejectLevels=True)
            for (x, y, w, h), score in zip(rects, np.ravel(weights)):
                if flip:
                    x = img.shape[1] - x - w
                found.append(Face(np.array([x, y, x + w, y + h], float) / s, float(score)))
        from facessl.data.video.detectors import iou

        kept: list[Face] = []
        for f in sorted(found, key=lambda f: -f.score):
            if all(iou(f.box, k.box)[0, 0] < 0.3 for k in kept):
                kept.append(f)
        return kept


register("haar", Haar)
