"""Where an input's faces go in the output tree: `<identity>/<video>/<track>/<frame>.jpg`.

A VoxCeleb2 clip `id00012/21Uxsk56VDQ/00001.mp4` keeps its names: identity id00012, video
21Uxsk56VDQ, track 00001 (more faces in the clip: 00001_02, 00001_03 ...). Any other video is
its own identity (nothing says who is in it): `talks/2019/a.mp4` -> identity `talks-2019-a`,
video `a`, tracks 00001, 00002 ... Photos mirror the input tree: `a/b.png` -> `a/b.jpg`.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath

VOXCELEB_ID = re.compile(r"id\d+")
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(text: str) -> str:
    return UNSAFE.sub("_", text).lstrip(".") or "_"


def video_place(rel: str) -> tuple[str, str, str | None]:
    """(identity, video, clip) for a video path relative to the input root; clip is None outside VoxCeleb2."""
    p = PurePosixPath(rel)
    parts = p.parts
    if len(parts) >= 3 and VOXCELEB_ID.fullmatch(parts[-3]):
        return parts[-3], _safe(parts[-2]), _safe(p.stem)
    identity = "-".join(_safe(x) for x in (*parts[:-1], p.stem))
    return identity, _safe(p.stem), None


def track_name(clip: str | None, number: int) -> str:
    """number is 1-based among the tracks written for this input."""
    if clip is None:
        return f"{number:05d}"
    return clip if number == 1 else f"{clip}_{number:02d}"


def photo_place(rel: str) -> str:
    p = PurePosixPath(rel)
    return str(p.with_name(_safe(p.stem) + ".jpg"))
