"""Face detector candidates on the shared real set: detection rate, false boxes, frames/s (1 thread).

    python benchmarks/detectors_compare.py --detector mtcnn [--videos DIR] [--images DIR] [--photos 600]
    # mediapipe (BlazeFace inside the 0.10.14 wheel) needs numpy<2 and protobuf<5, so it is measured
    # from a separate venv:  /tmp/cmpvenv/bin/python benchmarks/detectors_compare.py --detector mediapipe

Every --stride-th frame (default 10) of every clip, and the first --photos photos (default 300, sorted names). Both sets are face-centred
with one person: a frame counts as detected when a box covers its centre, every other box is false.
Speed: detection alone on decoded frames (shrunk so the longer side is <= 320 px), one thread.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


class MediaPipe:
    """BlazeFace (short-range front camera model would miss larger frames: full-range, model 1)."""

    def __init__(self):
        import mediapipe as mp

        self.fd = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)

    def detect(self, frame):
        h, w = frame.shape[:2]
        s = min(1.0, 320 / max(h, w))
        if s < 1:
            import cv2

            frame = cv2.resize(frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        res = self.fd.process(frame)
        out = []
        for d in res.detections or []:
            b = d.location_data.relative_bounding_box
            out.append(np.array([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h]))
        return out


def build(name):
    if name == "mediapipe":
        return MediaPipe()
    from facessl.data.video.detectors import build_detector

    det = build_detector(name)
    return type("Boxes", (), {"detect": lambda self, f: [x.box for x in det.detect(f)]})()


def video_frames(root: Path, every: int):
    import av

    for path in sorted(root.rglob("*.mp4")):
        with av.open(str(path)) as c:
            for i, frame in enumerate(c.decode(video=0)):
                if i % every == 0:
                    yield frame.to_ndarray(format="rgb24")


def photos(root: Path, n: int):
    from PIL import Image

    for path in sorted(root.glob("*.jpg"))[:n]:
        with Image.open(path) as im:
            yield np.asarray(im.convert("RGB"))


def score(det, frames) -> dict:
    hits = false = count = 0
    seconds = 0.0
    for frame in frames:
        t = time.perf_counter()
        boxes = det.detect(frame)
        seconds += time.perf_counter() - t
        cy, cx = frame.shape[0] / 2, frame.shape[1] / 2
        covers = [b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes]
        hits += any(covers)
        false += len(boxes) - (1 if any(covers) else 0)
        count += 1
    return {"frames": count, "detected": hits / count, "false_boxes_per_frame": false / count,
            "frames_per_s": count / seconds}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--detector", required=True)
    p.add_argument("--videos", default="/work/shared/realfaces/videos")
    p.add_argument("--images", default="/work/shared/realfaces/expressions/images")
    p.add_argument("--photos", type=int, default=300)
    p.add_argument("--stride", type=int, default=10, help="every k-th video frame")
    args = p.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    det = build(args.detector)
    result = {"detector": args.detector, "videos": score(det, video_frames(Path(args.videos), args.stride)),
              "photos": score(det, photos(Path(args.images), args.photos))}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
