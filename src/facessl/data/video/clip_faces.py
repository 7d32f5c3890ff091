"""The faces of one labelled clip: a few frames evenly spaced over the video, each turned upright as prepare turns a
video, its largest face found and aligned by the same function as `facessl prepare`'s crops (align.py), so that a
probe sees faces framed as the pretraining frames were.

Frames are the centres of `n_frames` equal segments of the clip (TSN-style test sampling, as formats/dfew.py takes
them from frame folders). Only the chosen frames are converted from the decoder's format, and decoding stops after
the last one. A chosen frame without a face is left out and counted; `crop="whole"` takes the centre square of every
chosen frame instead of detecting (clips that are already aligned faces, such as DFEW's clip_224x224 videos).
"""
from __future__ import annotations

import numpy as np

from facessl.data.video.align import align, box_transform, warp

CROPS = ("detect", "whole")


def evenly_spaced(n_files: int, n_frames: int) -> list[int]:
    """Indices of min(n_frames, n_files) frames: the centres of equal segments of the clip."""
    k = min(n_frames, n_files)
    return [int((i + 0.5) * n_files / k) for i in range(k)]


def whole_square(frame: np.ndarray, size: int) -> np.ndarray:
    """The centre square of a frame, resized to size x size."""
    h, w = frame.shape[:2]
    side = min(h, w)
    box = np.array([(w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2])
    return warp(frame, box_transform(box, size, 0.0), size)


def clip_faces(path, n_frames: int, size: int, margin: float, detector, crop: str = "detect"):
    """([(frame index, aligned RGB crop (size, size, 3) uint8)], summary). summary: 'frames' (in the video),
    'sampled', 'no_face' (sampled frames without a face), 'not_decoded' (chosen frames the file did not give),
    'turn' (degrees) when the video stands turned, 'error' when it broke off. Raises decode.VideoError when the video
    cannot be read at all."""
    from facessl.data.video.orient import upright_frames
    from facessl.data.video.writers import best_face, detect_photo

    frames, total, summary = chosen_frames(path, n_frames)
    if crop == "detect":
        frames = list(upright_frames(iter(frames), detector, summary))
    crops = []
    for index, _, frame in frames:
        if crop == "whole":
            crops.append((index, whole_square(frame, size)))
            continue
        face = best_face(detect_photo(detector, frame))
        if face is None:
            summary["no_face"] += 1
        else:
            crops.append((index, align(frame, face.box, face.landmarks, size, margin)))
    return crops, summary


def chosen_frames(path, n_frames: int):
    """([(index, time, rgb)] of the chosen frames, the video's frame count, summary). A header that counts frames
    the decoder never gives (an edit list, a file cut short without an error) would leave the last choices
    undecoded: they are chosen again over the frames there are (a second pass, in that case only)."""
    from facessl.data.video.decode import VideoError, count_frames, sample_frames

    total = count_frames(path)
    if total == 0:
        raise VideoError("no video frames")
    for _ in range(2):
        keep, stats, frames, error = set(evenly_spaced(total, n_frames)), {}, [], None
        try:
            for item in sample_frames(path, keep=keep, stats=stats):
                frames.append(item)
        except VideoError as exc:
            if not frames:
                raise
            error = str(exc)  # a truncated file: keep the frames decoded before
        if error or len(frames) == len(keep) or not 0 < stats.get("frames_seen", 0) < total:
            break
        total = stats["frames_seen"]
    summary = {"frames": total, "sampled": len(frames), "no_face": 0, "not_decoded": len(keep) - len(frames)}
    if error:
        summary["error"] = error
    return frames, total, summary
