"""MTCNN face detector: P-Net proposals over an image pyramid, R-Net and O-Net refinement, 5 landmarks.

Frames are shrunk so the longer side is at most `max_side` pixels before detection (faces a person
sees stay well above P-Net's 12 px window), and boxes and landmarks are mapped back. `refine`
runs O-Net alone on a box carried from the previous frame: tracking between full detections at a
fraction of their cost.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from facessl.data.video.detectors import Detector, Face, register, shrink
from facessl.data.video.mtcnn_nets import load_nets


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (highest score first; ties by index: deterministic)."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]) + 1, 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]) + 1, 0, None)
        inter = w * h
        overlap = inter / (np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.array(keep, dtype=np.int64)


def square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2:4] = out[:, :2] + side[:, None]
    return out


def regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, :4] = boxes[:, :4] + offsets * np.stack([w, h, w, h], 1)
    return out


def crops(image: np.ndarray, boxes: np.ndarray, size: int) -> torch.Tensor:
    """Square patches of `image` under `boxes` (zero outside the image), resized to size x size, normalised."""
    H, W = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for n, (x1, y1, x2, y2) in enumerate(np.round(boxes[:, :4]).astype(int)):
        bw, bh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        patch = np.zeros((bh, bw, 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2 + 1, W), min(y2 + 1, H)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
        out[n] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy((out - 127.5) * 0.0078125).permute(0, 3, 1, 2).contiguous()


class MTCNN(Detector):
    name = "mtcnn"
    has_landmarks = True
    can_refine = True

    def __init__(self, max_side: int = 320, min_face: int = 20, thresholds=(0.6, 0.7, 0.8), factor: float = 0.709):
        self.pnet, self.rnet, self.onet = load_nets()
        self.max_side, self.min_face, self.thresholds, self.factor = max_side, min_face, thresholds, factor

    # ---- stages ---------------------------------------------------------------------------------
    def _proposals(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale, boxes = 12.0 / self.min_face, []
        while min(h, w) * scale >= 12:
            small = cv2.resize(image, (int(w * scale + 1), int(h * scale + 1)), interpolation=cv2.INTER_AREA)
            x = torch.from_numpy((small.astype(np.float32) - 127.5) * 0.0078125).permute(2, 0, 1)[None]
            with torch.no_grad():
                offsets, prob = self.pnet(x)
            prob, offsets = prob[0].numpy(), offsets[0].numpy()
            ys, xs = np.nonzero(prob >= self.thresholds[0])
            if len(ys):
                q1 = np.floor((2 * np.stack([xs, ys], 1) + 1) / scale)
                q2 = np.floor((2 * np.stack([xs, ys], 1) + 12) / scale)
                b = np.concatenate([q1, q2, prob[ys, xs, None], offsets[:, ys, xs].T], 1)
                boxes.append(b[nms(b[:, :4], b[:, 4], 0.5)])
            scale *= self.factor
        if not boxes:
            return np.zeros((0, 5))
        b = np.concatenate(boxes)
        b = b[nms(b[:, :4], b[:, 4], 0.7)]
        w_, h_ = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        b[:, :4] = b[:, :4] + b[:, 5:9] * np.stack([w_, h_, w_, h_], 1)
        return square(b[:, :5])

    def _rnet(self, image, boxes):
        with torch.no_grad():
            offsets, prob = self.rnet(crops(image, boxes, 24))
        keep = prob.numpy() > self.thresholds[1]
        boxes = np.concatenate([boxes[keep, :4], prob.numpy()[keep, None]], 1)
        offsets = offsets.numpy()[keep]
        idx = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return square(regress(boxes[idx], offsets[idx]))

    def _onet(self, image, boxes, threshold):
        with torch.no_grad():
            offsets, points, prob = (t.numpy() for t in self.onet(crops(image, boxes, 48)))
        keep = prob > threshold
        boxes, offsets, points, prob = boxes[keep], offsets[keep], points[keep], prob[keep]
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        lm = np.stack([w * points[:, :5] + boxes[:, :1] - 1, h * points[:, 5:] + boxes[:, 1:2] - 1], 2)
        boxes = regress(np.concatenate([boxes[:, :4], prob[:, None]], 1), offsets)
        return boxes, lm

    # ---- interface ------------------------------------------------------------------------------
    def detect(self, frame: np.ndarray) -> list[Face]:
        image, s = shrink(frame, self.max_side)
        boxes = self._proposals(image)
        if len(boxes):
            boxes = self._rnet(image, boxes)
        if not len(boxes):
            return []
        boxes, lm = self._onet(image, boxes, self.thresholds[2])
        idx = nms(boxes[:, :4], boxes[:, 4], 0.7, "min")
        return [Face(boxes[i, :4] / s, float(boxes[i, 4]), lm[i] / s) for i in idx]

    def refine(self, frame: np.ndarray, box: np.ndarray) -> Face | None:
        # O-Net on the full-resolution frame: its crop is cut and shrunk to 48 px directly
        boxes, lm = self._onet(frame, square(np.asarray(box, float)[None, :4]), self.thresholds[2])
        if not len(boxes):
            return None
        return Face(boxes[0, :4], float(boxes[0, 4]), lm[0])

    def turn_scores(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        # O-Net alone, one batch of four 48 px crops: a small fraction of a full detection
        patch = crops(frame, square(np.asarray(box, float)[None, :4]), 48)
        with torch.no_grad():
            _, _, prob = self.onet(torch.cat([torch.rot90(patch, k, (2, 3)) for k in range(4)]))
        return prob.numpy()


register("mtcnn", MTCNN)
