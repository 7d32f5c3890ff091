"""Writing one finished input: a video's tracks as frame-tree folders (or a shard part), a chunk
of photos as aligned crops; and the run's summary. Each track folder or photo appears by one
atomic rename (from `<out>/.prepare/tmp/`). Input paths are str as os.fsdecode gives them: a name
that is not UTF-8 carries surrogates, written back as its own bytes (surrogateescape)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from facessl.data.video.decode import VIDEO_EXTENSIONS, VideoError
from facessl.data.video.naming import people_of_tracks, person_identity, track_name
from facessl.engine.io import atomic_path
from facessl.errors import FacesslError

STATE = ".prepare"


def job_id(key: str) -> str:
    """A file-name-safe id of one input (its temporary folder and shard part are named by it)."""
    return hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def signature(path: Path) -> list[int] | None:
    """[size, mtime_ns]: a file still being copied or fixed later has another one, so it is redone.
    None for a name that cannot be read (a broken symbolic link, a file removed while listing)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def shown(name: str) -> str:
    """A name for the console: bytes that are not UTF-8 as \\xe9 (printing a surrogate would raise)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def list_inputs(kind: str, root: Path, out: Path | None = None) -> tuple[list[str], list[str]]:
    """(the inputs under root as sorted relative paths, the other files, which are not read, in the same order).
    An output folder inside root is not read: its crops are not inputs."""
    from facessl.data.frames import walk_files
    from facessl.data.image_decode import IMAGE_SUFFIXES

    if root.is_file():
        raise FacesslError(f"--{kind} {root}: expected a folder of {kind}, not a file (put it in a folder of its own)")
    if not root.is_dir():
        raise FacesslError(f"--{kind} {root}: folder not found")
    inside = _relative_inside(out, root) if out is not None else None
    files = [f for f in walk_files(root) if (inside is None or not (f + "/").startswith(inside + "/"))
             and not _macos_metadata(f)]
    suffixes = VIDEO_EXTENSIONS if kind == "videos" else IMAGE_SUFFIXES
    found = [f for f in files if f.lower().endswith(suffixes)]
    ignored = [f for f in files if not f.lower().endswith(suffixes)]
    if not found:
        what = f"video files ({' '.join(VIDEO_EXTENSIONS)})" if kind == "videos" else "image files"
        raise FacesslError(f"--{kind} {root}: no {what} found")
    return found, ignored


def _macos_metadata(relative: str) -> bool:
    """A Mac's archive metadata, not a picture or a video: `__MACOSX/` folders and AppleDouble `._name` files
    (zips made on a Mac carry one per file), as the dataset readers pass them over too."""
    parts = relative.split("/")
    return "__MACOSX" in parts[:-1] or parts[-1].startswith("._")


def _relative_inside(path: Path, root: Path) -> str | None:
    """path relative to root (POSIX) when path lies inside root, else None (both resolved: links, `..`)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def check_separate(kind: str, root: Path, out: Path) -> None:
    """--out must not be the input folder or a folder above it: crops would be written over the inputs (a photo's
    crop keeps its name) or be read back as inputs. A folder inside the input folder is fine: it is not read."""
    if _relative_inside(root, out) is not None:
        where = "is the input folder" if _relative_inside(out, root) == "." else "holds the input folder"
        raise FacesslError(f"--out {out} {where} (--{kind} {root}): the crops would overwrite or mix with "
                           "the inputs; choose another output folder")


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


def video_job(root: Path, out: Path, fmt: str, rel: str, place: tuple, opts, detector) -> dict:
    """place: (identity, video, clip) from naming.video_places."""
    from facessl.data.video.pipeline import process_video

    try:
        result = process_video(root / rel, opts, detector)
    except VideoError as exc:
        return {"key": rel, "skipped": str(exc)}
    identity, video, clip = place
    names = [track_name(clip, n + 1) for n in range(len(result.tracks))]
    paths = [f"{owner}/{video}/{name}" for owner, name in zip(track_identities(identity, clip, result.tracks), names)]
    if fmt == "shards":
        from facessl.data.shards import write_part

        write_part(out / STATE / "parts" / f"{job_id(rel)}.tar", out / STATE / "tmp" / job_id(rel),
                   [(path, crops, track_record(rel, crops)) for path, crops in zip(paths, result.tracks)])
    else:
        for name, path, crops in zip(names, paths, result.tracks):
            tmp = _tmp_dir(out, f"{job_id(rel)}-{name}")
            for i, (*_, jpeg) in enumerate(crops):
                (tmp / f"{i + 1:04d}.jpg").write_bytes(jpeg)
            (tmp / "track.json").write_text(sidecar_text(track_record(rel, crops)))
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # left by an interrupted earlier attempt at this same input
                shutil.rmtree(target)
            os.replace(tmp, target)
    return {"key": rel, "place": f"{identity}/{video}", "out": list(place), "tracks": names, "track_paths": paths,
            **result.summary}


def track_identities(identity: str, clip: str | None, tracks: list) -> list[str]:
    """Each track's identity folder: a VoxCeleb2 clip's tracks keep the clip's speaker (the dataset says who it
    is); in any other video, faces seen in one frame are different people (naming.people_of_tracks)."""
    if clip is not None:
        return [identity] * len(tracks)
    frames = [{index for index, *_ in crops} for crops in tracks]
    return [person_identity(identity, person) for person in people_of_tracks(frames)]


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


def photo_job(root: Path, out: Path, items: list[tuple[str, str]], opts, detector) -> list[dict]:
    """items: (input, output) pairs. One record per photo: {"key", "result", "output" when written, "reason"}."""
    tmp = _tmp_dir(out, job_id(items[0][0]))
    records = []
    for rel, name in items:
        try:
            rec = _photo(root / rel, out, name, tmp, opts, detector)
        except Exception as exc:  # one odd photo costs itself only, named; retried on a rerun
            rec = {"result": "error", "reason": f"unexpected error: {type(exc).__name__}: {str(exc)[:200]}",
                   "retry": True}
        records.append({"key": rel, **rec})
    shutil.rmtree(tmp, ignore_errors=True)
    return records


def photo_face(image: np.ndarray, detector, size: int, margin: float) -> tuple[int, np.ndarray | None]:
    """(quarter turns the photo needed, the aligned size x size crop of its largest face, or None): what prepare
    --images writes for a photo, and what eval's --detect-faces reads (data/face_crops.py)."""
    from facessl.data.video.align import align
    from facessl.data.video.orient import PHOTO_SURE_TURN, find_upright

    k, image, face = find_upright(image, lambda im: best_face(detect_photo(detector, im)), detector, PHOTO_SURE_TURN)
    return k, None if face is None else align(image, face.box, face.landmarks, size, margin)


def _photo(path: Path, out: Path, name: str, tmp: Path, opts, detector) -> dict:
    from facessl.data.image_decode import decode_errors, read_rgb
    from facessl.data.video.orient import degrees
    from facessl.data.video.pipeline import encode_jpeg

    target = out / name
    try:
        image = read_rgb(path)
    except decode_errors() as exc:
        target.unlink(missing_ok=True)  # the crop of an earlier version of this photo
        return {"result": "unreadable", "reason": str(exc)[:200]}
    k, crop = photo_face(image, detector, opts.size, opts.margin)
    if crop is None:
        target.unlink(missing_ok=True)
        return {"result": "no_face"}
    target.parent.mkdir(parents=True, exist_ok=True)
    part = tmp / "crop.jpg"
    part.write_bytes(encode_jpeg(crop))
    os.replace(part, target)
    return {"result": "written", "output": name, **({"turn": degrees(k)} if k else {})}


def track_keys(rec: dict) -> list[str]:
    """The track paths (shard keys) a video's record gave out; records before session 32 have no track_paths."""
    return rec.get("track_paths") or [f"{rec['place']}/{name}" for name in rec.get("tracks") or []]


class ShardFeed:
    """`--format shards`: each finished video's part goes into the ShardWriter of `<out>/shards`, in the order of
    `order` (the jobs' order, so the shards are the same whatever the worker count or an interruption), except
    that once the finished parts waiting for an earlier video hold more than `backlog` frames they go in as they
    are (the disk they take stays bounded; only then does the order depend on which worker finished first)."""

    def __init__(self, out: Path, shard_frames: int):
        from facessl.data.shards import ShardWriter

        self.parts = out / STATE / "parts"
        self.writer = ShardWriter(out / "shards", shard_frames)
        self.backlog = max(4 * shard_frames, 10000)
        self.order: list = []
        self.at, self.ready, self.waiting, self.fed, self.pos = 0, {}, 0, set(), {}

    def part(self, rel: str) -> Path:
        return self.parts / f"{job_id(rel)}.tar"

    def settle(self, records: dict, gone: list, redo: list) -> tuple[list[str], list[str], dict]:
        """Make the index agree with the done log before a run: the tracks of inputs gone (`gone`) or about to be
        redone (`redo`) leave the index; a finished input whose tracks are not all in shards but still in its part
        is pending (its part goes in first); one whose part is gone too is redone. Returns (gone inputs that had
        tracks, inputs to redo, {pending input: its keys already in shards})."""
        writer, pending, broken = self.writer, {}, []
        for rel in [*gone, *redo]:
            writer.drop(track_keys(records[rel]))
            self.part(rel).unlink(missing_ok=True)
        skip = set(gone) | set(redo)
        for rel, rec in records.items():
            if rel in skip or not rec.get("tracks"):
                continue
            keys = track_keys(rec)
            live = {k for k in keys if k in writer.where}
            if len(live) < len(keys) and self.part(rel).is_file():
                pending[rel] = live
            elif len(live) < len(keys):  # neither in shards nor in a part: never expected, but redone, not lost
                writer.drop(live)
                broken.append(rel)
        keep = {self.part(rel).name for rel in pending}
        for part in self.parts.glob("*.tar") if self.parts.is_dir() else []:
            if part.name not in keep:  # in shards already, or of an input not finished: redone
                part.unlink(missing_ok=True)
        writer.write_index()
        return [rel for rel in gone if records[rel].get("tracks")], broken, pending

    def start(self, order: list[str], pending: dict, records: dict) -> None:
        self.order, self.fed = order, set()
        self.pos = {rel: i for i, rel in enumerate(order)}
        for rel, live in pending.items():
            self.ready[rel] = (live, records[rel].get("frames_written", 0))
            self.waiting += self.ready[rel][1]
        self._feed()

    def finished(self, rec: dict) -> None:
        """A video's record is in the done log: its part may go in."""
        rel = rec["key"]
        if not rec.get("tracks"):
            self.part(rel).unlink(missing_ok=True)  # the empty part of a video without a track
        self.ready[rel] = ((), rec.get("frames_written", 0) if rec.get("tracks") else 0)
        self.waiting += self.ready[rel][1]
        self._feed()
        if self.waiting > self.backlog:
            self._add_ready()

    def _add_ready(self) -> None:
        for rel in sorted(self.ready, key=lambda r: self.pos.get(r, -1)):
            self._add(rel)
            self.fed.add(rel)

    def _feed(self) -> None:
        while self.at < len(self.order) and (self.order[self.at] in self.ready or self.order[self.at] in self.fed):
            if self.order[self.at] in self.ready:
                self._add(self.order[self.at])
            self.fed.discard(self.order[self.at])
            self.at += 1

    def _add(self, rel: str) -> None:
        live, frames = self.ready.pop(rel)
        self.waiting -= frames
        if self.part(rel).is_file():
            self.writer.add(self.part(rel), live)

    def finish(self) -> dict:
        self._add_ready()  # nothing is left by then when every job finished
        self.writer.finish()
        return self.writer.totals()


def summarise(kind: str, root: Path, opts, fmt: str, records: list[dict]) -> dict:
    if kind == "videos":
        skipped = [{"input": r["key"], "reason": r["skipped"]} for r in records if "skipped" in r]
        ok = [r for r in records if "skipped" not in r]
        totals = {k: sum(r.get(k, 0) for r in ok) for k in
                  ("frames_sampled", "frames_with_face", "tracks_written", "frames_written", "tracks_too_short")}
        totals.update(videos=len(records), videos_skipped=len(skipped),
                      videos_without_track=sum(1 for r in ok if not r.get("tracks")),
                      videos_turned=sum(1 for r in ok if r.get("turn")),
                      videos_partly_decoded=sum(1 for r in ok if partly_decoded(r)))
        items = {"videos": ok}
    else:
        def having(result):
            return [r for r in records if r["result"] == result]

        skipped = [{"input": r["key"], "reason": r["reason"]} for r in having("error")]
        items = {what: [r["key"] for r in having(what)] for what in ("no_face", "unreadable")}
        items["turned"] = [r["key"] for r in records if r.get("turn")]
        totals = {"images": len(records), "written": len(having("written")), "no_face": len(items["no_face"]),
                  "unreadable": len(items["unreadable"]), "errors": len(skipped), "turned": len(items["turned"])}
    return {"input": {"kind": kind, "root": str(root)}, "format": fmt, "options": opts.as_dict(),
            "totals": totals, "skipped": skipped, **items}


def partly_decoded(rec: dict) -> str | None:
    """Why a video kept only some of its frames (truncated, damaged packets skipped), or None."""
    why = [rec[k] for k in ("error", "ended_early") if rec.get(k)]
    if rec.get("bad_packets"):
        why.append(f"{rec['bad_packets']} damaged packet(s) skipped")
    return "; ".join(why) or None


def write_photo_list(out: Path, records: list[dict]) -> Path:
    """`photos.csv`: input,output,result,turn per photo, so a list of the inputs (labels) finds their crops;
    turn: degrees anticlockwise the photo was turned to stand upright (0; empty without a crop). Names are
    written as their own bytes, as `facessl embed` writes them."""
    import csv

    path = out / "photos.csv"
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            writer = csv.writer(fh)
            writer.writerow(["input", "output", "result", "turn"])
            writer.writerows([r["key"], r.get("output", ""), r["result"], r.get("turn", 0) if r.get("output") else ""]
                             for r in records)
    return path
