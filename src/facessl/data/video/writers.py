"""Writing one finished input: a video's tracks as frame-tree folders (or a shard part), a chunk
of photos as aligned crops; and the run's summary. Each track folder or photo appears by one
atomic rename (from `<out>/.prepare/tmp/`)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from facessl.data.video.decode import VideoError, list_videos
from facessl.data.video.naming import photo_place, track_name, video_place
from facessl.errors import FacesslError

STATE = ".prepare"


def job_id(key: str) -> str:
    """A file-name-safe id of one input (its temporary folder and shard part are named by it)."""
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def list_inputs(kind: str, root: Path) -> list[str]:
    from facessl.data.frames import walk_files
    from facessl.data.image_decode import IMAGE_SUFFIXES

    if not root.is_dir():
        raise FacesslError(f"--{kind} {root}: folder not found")
    if kind == "videos":
        found = list_videos(root)
        places = {}
        for rel in found:
            place = video_place(rel)
            if place in places:
                raise FacesslError(f"{root / rel} and {root / places[place]} would be written to the same place "
                                   f"{'/'.join(p for p in place if p)}; rename one")
            places[place] = rel
    else:
        found = [f for f in walk_files(root) if f.lower().endswith(IMAGE_SUFFIXES)]
    if not found:
        what = "video files (.mp4 .mov .avi .mkv .webm .m4v)" if kind == "videos" else "image files"
        raise FacesslError(f"--{kind} {root}: no {what} found")
    return found


def _tmp_dir(out: Path, name: str) -> Path:
    tmp = out / STATE / "tmp" / name
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def _round(a, nd=2):
    return None if a is None else np.round(np.asarray(a, float), nd).tolist()


def track_record(rel: str, crops: list) -> dict:
    """The per-track sidecar: source video and, per written frame, its index, time, box and landmarks."""
    return {"source": rel, "frames": [
        {"file": f"{i + 1:04d}.jpg", "frame_index": int(index), "time_s": float(time_s),
         "box": _round(face.box), "landmarks": _round(face.landmarks)}
        for i, (index, time_s, face, _) in enumerate(crops)]}


def sidecar_text(record: dict) -> str:
    """The track sidecar as JSON with one frame per line (readable, and small for long tracks)."""
    frames = ",\n  ".join(json.dumps(f) for f in record["frames"])
    return f'{{"source": {json.dumps(record["source"])},\n "frames": [\n  {frames}\n ]}}\n'


def video_job(root: Path, out: Path, fmt: str, rel: str, opts, detector) -> dict:
    from facessl.data.video.pipeline import process_video

    try:
        result = process_video(root / rel, opts, detector)
    except VideoError as exc:
        return {"key": rel, "skipped": str(exc)}
    identity, video, clip = video_place(rel)
    names = [track_name(clip, n + 1) for n in range(len(result.tracks))]
    if fmt == "shards":
        from facessl.data.shards import write_part

        write_part(out / STATE / "parts" / f"{job_id(rel)}.tar", out / STATE / "tmp" / job_id(rel),
                   [(f"{identity}/{video}/{name}", crops, track_record(rel, crops))
                    for name, crops in zip(names, result.tracks)])
    else:
        for name, crops in zip(names, result.tracks):
            tmp = _tmp_dir(out, f"{job_id(rel)}-{name}")
            for i, (*_, jpeg) in enumerate(crops):
                (tmp / f"{i + 1:04d}.jpg").write_bytes(jpeg)
            (tmp / "track.json").write_text(sidecar_text(track_record(rel, crops)))
            target = out / identity / video / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # left by an interrupted earlier attempt at this same input
                shutil.rmtree(target)
            os.replace(tmp, target)
    return {"key": rel, "place": f"{identity}/{video}", "tracks": names, **result.summary}


def read_photo(path: Path) -> np.ndarray | None:
    from facessl.data.image_decode import decode_errors, read_rgb

    try:
        return read_rgb(path)
    except decode_errors():
        return None


def detect_photo(detector, image: np.ndarray):
    """The faces of a photo. A face that fills the whole photo (tight crops, as in many datasets) gives
    the detector no context: then it looks again with a grey border of 30% around the photo
    (found 21 of the 27 faces missed in 1500 shared photos)."""
    import cv2

    faces = detector.detect(image)
    if faces:
        return faces
    pad = int(0.3 * max(image.shape[:2]))
    shift = np.array([pad, pad], float)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127))
    for f in detector.detect(padded):
        f.box = f.box - np.tile(shift, 2)
        f.landmarks = None if f.landmarks is None else f.landmarks - shift
        faces.append(f)
    return faces


def best_face(faces):
    """The face to keep from a photo: the largest confident one."""
    if not faces:
        return None
    return max(faces, key=lambda f: ((f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), f.score))


def photo_job(root: Path, out: Path, rels: list[str], opts, detector) -> dict:
    from facessl.data.video.align import align
    from facessl.data.video.pipeline import encode_jpeg

    rec = {"key": f"photos[{rels[0]}]", "images": len(rels), "written": 0, "no_face": [], "unreadable": []}
    tmp = _tmp_dir(out, job_id(rec["key"]))
    for rel in rels:
        image = read_photo(root / rel)
        if image is None:
            rec["unreadable"].append(rel)
            continue
        face = best_face(detect_photo(detector, image))
        if face is None:
            rec["no_face"].append(rel)
            continue
        target = out / photo_place(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = tmp / "crop.jpg"
        part.write_bytes(encode_jpeg(align(image, face.box, face.landmarks, opts.size, opts.margin)))
        os.replace(part, target)
        rec["written"] += 1
    shutil.rmtree(tmp, ignore_errors=True)
    return rec


def assemble_shards(out: Path, records: list[dict], shard_frames: int) -> None:
    from facessl.data.shards import assemble

    parts = [out / STATE / "parts" / f"{job_id(r['key'])}.tar" for r in records if r.get("tracks")]
    assemble(out / "shards", parts, shard_frames)


def summarise(kind: str, root: Path, opts, fmt: str, records: list[dict]) -> dict:
    skipped = [{"input": r["key"], "reason": r["skipped"]} for r in records if "skipped" in r]
    ok = [r for r in records if "skipped" not in r]
    if kind == "videos":
        totals = {k: sum(r.get(k, 0) for r in ok) for k in
                  ("frames_sampled", "frames_with_face", "tracks_written", "frames_written", "tracks_too_short")}
        totals.update(videos=len(records), videos_skipped=len(skipped),
                      videos_without_track=sum(1 for r in ok if not r.get("tracks")))
        items = {"videos": ok}
    else:
        totals = {"images": sum(r["images"] for r in ok), "written": sum(r["written"] for r in ok),
                  "no_face": sum(len(r["no_face"]) for r in ok), "unreadable": sum(len(r["unreadable"]) for r in ok)}
        items = {"no_face": sorted(x for r in ok for x in r["no_face"]),
                 "unreadable": sorted(x for r in ok for x in r["unreadable"])}
    return {"input": {"kind": kind, "root": str(root)}, "format": fmt, "options": opts.as_dict(),
            "totals": totals, "skipped": skipped, **items}
