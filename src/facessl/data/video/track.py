"""Linking detections across sampled frames into face tracks: one track = one person in one shot.

Greedy IoU matching of each frame's faces to the open tracks; a track closes after `max_gap`
sampled frames without a match or at a shot cut (a large change of a small grey thumbnail).
At most `max_faces` faces per frame are kept (the largest). Landmarks and boxes are smoothed
with a centred moving average of radius `smooth` within a track before alignment.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from facessl.data.video.detectors import Face, iou


@dataclass
class Track:
    number: int                                    # order of appearance in the video
    obs: dict = field(default_factory=dict)        # sampled-frame position -> (Face, frame index, time)
    last: int = -1
    crops: list = field(default_factory=list)      # (position, jpeg bytes)

    def box(self) -> np.ndarray:
        return self.obs[self.last][0].box

    def smoothed(self, pos: int, radius: int) -> Face:
        near = [self.obs[p][0] for p in range(pos - radius, pos + radius + 1) if p in self.obs]
        lms = [f.landmarks for f in near if f.landmarks is not None]
        face = self.obs[pos][0]
        return Face(np.mean([f.box for f in near], 0), face.score, np.mean(lms, 0) if lms else None)


class ShotCuts:
    """True when a sampled frame starts a new shot (mean absolute change of a 32x32 grey thumbnail)."""

    def __init__(self, threshold: float = 45.0):
        self.threshold, self.previous = threshold, None

    def __call__(self, frame: np.ndarray) -> bool:
        thumb = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
        cut = self.previous is not None and float(np.abs(thumb - self.previous).mean()) > self.threshold
        self.previous = thumb
        return cut


class Tracker:
    def __init__(self, iou_threshold: float = 0.3, max_gap: int = 2, max_faces: int = 4):
        self.iou_threshold, self.max_gap, self.max_faces = iou_threshold, max_gap, max_faces
        self.open: list[Track] = []
        self.closed: list[Track] = []
        self.count = 0

    def close_all(self) -> None:
        self.closed += self.open
        self.open = []

    def update(self, pos: int, faces: list[Face], frame_index: int, time_s: float) -> None:
        area = lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])  # noqa: E731
        faces = sorted(faces, key=lambda f: -area(f))[:self.max_faces]
        matched = set()
        if self.open and faces:
            overlap = iou(np.stack([t.box() for t in self.open]), np.stack([f.box for f in faces]))
            for flat in np.argsort(-overlap, axis=None, kind="stable"):
                ti, fi = divmod(int(flat), len(faces))
                if overlap[ti, fi] < self.iou_threshold:
                    break
                track = self.open[ti]
                if track.last == pos or fi in matched:
                    continue
                track.obs[pos], track.last = (faces[fi], frame_index, time_s), pos
                matched.add(fi)
        for fi, face in enumerate(faces):
            if fi not in matched:
                self.count += 1
                self.open.append(Track(self.count, {pos: (face, frame_index, time_s)}, pos))
        still = []
        for t in self.open:
            (still if pos - t.last <= self.max_gap else self.closed).append(t)
        self.open = still
