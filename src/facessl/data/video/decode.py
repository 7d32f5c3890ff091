"""Frame sampling from video files with PyAV (its wheels bundle FFmpeg).

`sample_frames` yields (frame_index, time_s, rgb uint8 (H,W,3)) for every k-th decoded frame or
for the frames closest to a target rate (--fps), in presentation order. Times come from the
stream's timestamps when present, else from the frame index and the average rate. A damaged
packet in the middle (a bad sector, a broken download) is skipped and counted, and decoding goes
on with the next one; only a file that cannot be read further ends the frames early.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

# what phones, cameras and the web save (FFmpeg reads them all): .3gp from older phones, .mts/.m2ts from
# camcorders, .ts broadcast captures, .mpg, .wmv, .flv
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".3gp", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg",
                    ".wmv", ".flv")


class VideoError(Exception):
    """A video that cannot be opened or decoded (the caller skips it and names it)."""


def list_videos(root: Path) -> list[str]:
    """Video files under root (any depth, symlinked folders followed once) as sorted POSIX paths relative to root."""
    from facessl.data.frames import walk_files

    return [f for f in walk_files(root) if f.lower().endswith(VIDEO_EXTENSIONS)]


def sample_frames(path, fps: float | None = None, every: int = 1, stats: dict | None = None, keep=None):
    """Yield (index, time_s, rgb) of the sampled frames. Raises VideoError on an unreadable file.
    keep (a set of frame indices, instead of fps / every): only those frames are converted to RGB, and decoding
    stops after the last of them.
    stats (a dict, if given) gets "bad_packets": how many packets did not decode and were skipped, "frames_seen":
    how many frames were decoded, and, when the
    file states its length, "duration" and "decoded_until" (seconds): a download cut short by a missing end
    still demuxes cleanly, and only these two tell that frames are missing."""
    import av

    if Path(path).stat().st_size == 0:
        raise VideoError("empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"cannot open: {_short(exc)}") from None
    with container:
        if not container.streams.video:
            raise VideoError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # one core per worker process: no frame threads (and deterministic order)
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        sar = float(stream.sample_aspect_ratio or 1)  # anamorphic video (DV, some broadcast): pixels not square
        base = stream.time_base or Fraction(1, 1000)
        next_time, count, last = 0.0, 0, -math.inf
        last_kept = max(keep) if keep else -1
        stats = {} if stats is None else stats
        stats["bad_packets"] = 0
        duration = _stated_duration(container, stream)
        start = float(stream.start_time * base) if stream.start_time else 0.0  # MPEG-TS clocks do not start at 0
        t, index = start, -1
        try:
            for index, frame in enumerate(_decoded(container, stream, stats)):
                t = float(frame.pts * base) if frame.pts is not None else index / rate
                if fps:
                    if t + 0.5 / rate < next_time:  # not yet the frame closest to the next sampling time
                        continue
                    # Phones record at a variable rate: after a gap, the frame taken late for one sampling time was
                    # followed a few ms later by the next one's. Samples stay half an interval apart (at a steady
                    # rate they always are, so this changes nothing there)
                    if t < last + 0.5 / fps:
                        continue
                    last = t
                    next_time += 1.0 / fps
                    while next_time <= t:
                        next_time += 1.0 / fps
                elif keep is not None:
                    if index > last_kept:
                        break
                    if index not in keep:
                        continue
                elif index % every:
                    continue
                count += 1
                rgb = square_pixels(frame.to_ndarray(format="rgb24"), sar)
                yield index, round(t, 4), upright(rgb, getattr(frame, "rotation", 0))
        except (av.FFmpegError, OSError, ValueError) as exc:
            # a truncated file: the caller keeps what was sampled before and records the error
            raise VideoError(f"cannot decode after {count} sampled frames: {_short(exc)}") from None
        finally:
            stats["frames_seen"] = index + 1  # decoded (to the last kept one, with keep=)
            if duration:
                stats["duration"], stats["decoded_until"] = round(duration, 2), round(t - start + 1.0 / rate, 2)
        if count == 0:
            bad = stats["bad_packets"]
            raise VideoError("no decodable frame" + (f" ({bad} damaged packets skipped)" if bad else ""))


def count_frames(path) -> int:
    """How many frames the video holds: the count its header states (MP4, MOV, MKV with an index), else its video
    packets counted without decoding them (AVI, FLV, WebM; one packet a frame). Raises VideoError."""
    import av

    if Path(path).stat().st_size == 0:
        raise VideoError("empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError("no video stream")
            stream = container.streams.video[0]
            if stream.frames > 0:
                return int(stream.frames)
            return sum(1 for packet in container.demux(stream) if packet.size)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"cannot open: {_short(exc)}") from None


def _stated_duration(container, stream) -> float | None:
    """The length the file states, in seconds (the stream's, else the container's), or None."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # av.time_base
    return None


def ended_early(stats: dict) -> str | None:
    """Why a video seems cut short: its frames end well before the length it states (a file copied or downloaded
    only in part), else None. A second, or a twentieth of the length, of slack: stated lengths round up."""
    duration, until = stats.get("duration"), stats.get("decoded_until")
    if not duration or until is None or until >= duration - max(1.0, 0.05 * duration):
        return None
    return f"frames end at {until:.1f} s of the {duration:.1f} s the file states (cut short?)"


def _decoded(container, stream, stats: dict):
    """The stream's frames, packet by packet: one that does not decode is counted and skipped, not the end."""
    import av

    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError:  # damaged data; demux errors (the file ends, cannot be read) stop the outer loop
            stats["bad_packets"] += 1
            continue
        yield from frames


def square_pixels(rgb: np.ndarray, sar: float) -> np.ndarray:
    """The frame at the shape a player shows: stored width stretched by the sample aspect ratio (a 240x480
    frame with SAR 2:1 is shown 480x480; a face kept at the stored shape would be half as wide)."""
    if not sar > 0 or abs(sar - 1) < 0.01:
        return rgb
    import cv2

    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, round(w * sar)), h), interpolation=cv2.INTER_AREA if sar < 1 else cv2.INTER_LINEAR)


def upright(rgb: np.ndarray, rotation) -> np.ndarray:
    """The frame as a player shows it. Phones store portrait video sideways with a display matrix; PyAV
    gives its angle (FFmpeg's av_display_rotation_get: counter-clockwise degrees, so -90 means "turn a
    quarter clockwise", as the ffmpeg command line's autorotate does)."""
    turn = int(round(-float(rotation or 0))) % 360
    if turn not in (90, 180, 270):
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k={90: -1, 180: 2, 270: 1}[turn]))


def _short(exc) -> str:
    """The first line of an FFmpeg error without its errno (`[Errno 1094995529] Invalid data` -> `Invalid data`)."""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc).splitlines()[0]) if str(exc) else ""
    return text[:160] or type(exc).__name__

