"""One video in, aligned face tracks out: sample -> turn upright (orient.py; one turn per video) ->
detect (full every k-th frame, O-Net tracking between) -> link into tracks -> smooth -> align ->
JPEG bytes in memory. Boxes and landmarks are in the coordinates of the frame as turned.

The result is a pure function of the file and the options (single-threaded torch, fixed JPEG
settings), so a rerun or another worker count writes the same bytes.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np

from facessl.data.video.align import align
from facessl.data.video.decode import VideoError, ended_early, sample_frames
from facessl.data.video.orient import upright_frames
from facessl.data.video.track import ShotCuts, Tracker

JPEG_QUALITY = 90


@dataclass(frozen=True)
class Options:
    size: int = 128
    margin: float = 0.25
    fps: float | None = 10.0
    every: int = 1
    detector: str = "mtcnn"
    detect_every: int = 5
    min_track: int = 5
    max_faces: int = 4
    smooth: int = 2
    min_face: int = 20
    max_side: int = 320

    def as_dict(self) -> dict:
        return asdict(self)


def encode_jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return buf.getvalue()


class VideoResult:
    def __init__(self):
        self.tracks, self.summary = [], {"frames_sampled": 0, "frames_with_face": 0, "tracks_found": 0,
                                         "tracks_written": 0, "frames_written": 0, "tracks_too_short": 0}


def process_video(path, opts: Options, detector) -> VideoResult:
    """Tracks kept (>= min_track crops), each a list of (frame index, time, smoothed Face, jpeg bytes)."""
    result = VideoResult()
    s = result.summary
    tracker, cuts = Tracker(max_faces=opts.max_faces), ShotCuts()
    frames, at, lost, decoding = {}, {}, True, {}

    def finalize(pos):
        frame = frames.pop(pos, None)
        for track in at.pop(pos, []):
            face = track.smoothed(pos, opts.smooth)
            _, index, time_s = track.obs[pos]
            crop = align(frame, face.box, face.landmarks, opts.size, opts.margin)
            track.crops.append((index, time_s, face, encode_jpeg(crop)))

    try:
        samples = upright_frames(sample_frames(path, opts.fps, opts.every, decoding), detector, s)
        for pos, (index, time_s, frame) in enumerate(samples):
            s["frames_sampled"] += 1
            if cuts(frame):
                tracker.close_all()
                lost = True
            if lost or pos % opts.detect_every == 0 or not detector.can_refine:
                faces, lost = detector.detect(frame), False
            else:  # follow each open track from its previous box; a miss means a full detection next frame
                refined = [detector.refine(frame, t.box()) for t in tracker.open if t.last == pos - 1]
                faces = [f for f in refined if f is not None]
                lost = len(faces) < len(refined) or not refined
            tracker.update(pos, faces, index, time_s)
            s["frames_with_face"] += bool(faces)
            frames[pos] = frame
            for t in tracker.open:
                if t.last == pos:
                    at.setdefault(pos, []).append(t)
            if pos >= opts.smooth:
                finalize(pos - opts.smooth)
    except VideoError as exc:
        if s["frames_sampled"] == 0:
            raise
        s["error"] = str(exc)  # truncated: keep what decoded before
    if decoding.get("bad_packets"):
        s["bad_packets"] = decoding["bad_packets"]  # said on the console too: the video is only partly there
    if "error" not in s and ended_early(decoding):
        s["ended_early"] = ended_early(decoding)
    for pos in sorted(frames):
        finalize(pos)
    tracker.close_all()
    s["tracks_found"] = len(tracker.closed)
    for track in sorted(tracker.closed, key=lambda t: t.number):
        if len(track.crops) >= opts.min_track:
            result.tracks.append(track.crops)
        else:
            s["tracks_too_short"] += 1
    s["tracks_written"] = len(result.tracks)
    s["frames_written"] = sum(len(t) for t in result.tracks)
    return result
