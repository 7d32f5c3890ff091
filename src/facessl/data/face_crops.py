"""`--detect-faces` (dataset option `detect_faces: true`): any set's pictures replaced by the aligned crop of their
largest face, found and aligned exactly as `facessl prepare --images` does it (turned upright when the face only
reads turned, a grey border for faces that fill the picture, the 5-point alignment of data/video/align.py at
`face_size` px with `face_margin`). For labelled photos that are not face crops (whole scenes, selfies, scans,
class folders of web images): the probe then reads the face, framed as the pretraining frames were, not the picture.

A picture with a face box (AffectNet, ExpW, a box reader's BoxedImage) is searched inside its box's crop. The crops
are kept (data/face_cache.py: `<cache>/photo_faces/`, keyed by the file and the settings), so the detector runs once
per picture. A picture without a face, and one that does not decode, is skipped and counted (a pair that uses one
is dropped and counted); label 'source_file' keeps each row's original picture, which `embed` writes as its name.

Labels that live in the picture's pixels cannot follow the crop: a set with landmarks or head pose (whose roll the
alignment turns upright) is refused with one line.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data import face_cache
from facessl.data.face_cache import CropSettings
from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.decodable import pairs_of_kept
from facessl.data.formats.imagefiles import add_dropped_names
from facessl.errors import FacesslError

CACHE_VERSION = 2  # 2: a photo is turned only for a sure find (orient.PHOTO_SURE_TURN)
NO_FACE = "image without a face (--detect-faces)"
UNREADABLE = "undecodable image"
UNEXPECTED = "picture that failed to read (an unexpected error; tried again on a rerun)"
PIXEL_LABELS = {"landmarks": "landmarks are pixels of the picture", "pose": "the alignment turns the head's roll "
                "upright, so the pose label would no longer describe the crop"}
OPTIONS = ("detect_faces", "face_size", "face_margin")


def face_options(options: dict) -> tuple[CropSettings | None, dict]:
    """(the crop settings when `detect_faces` is on, else None; the other options, for the reader). face_size and
    face_margin without detect_faces are an error."""
    from facessl.data.formats.imagefiles import whole_number, yes_no

    rest = {k: v for k, v in options.items() if k not in OPTIONS}
    detect = yes_no(options.get("detect_faces", False), "--detect-faces", "detect_faces")
    if not detect:
        given = [k for k in OPTIONS[1:] if k in options]
        if given:
            raise FacesslError(f"{given[0]} applies with --detect-faces only")
        return None, rest
    size = whole_number(options.get("face_size", 128), "--detect-faces", "face_size", 16)
    try:
        margin = float(options.get("face_margin", 0.25))
    except (TypeError, ValueError):
        margin = float("nan")
    if not 0 <= margin <= 2:
        raise FacesslError(f"--detect-faces face_margin {options.get('face_margin')!r}: expected a number from 0 to 2")
    return CropSettings(frames=1, size=size, margin=margin), rest


def with_detected_faces(data: ImageSet | PairSet, settings: CropSettings, what: str, cache=None, workers=None):
    """The set with each picture replaced by its face's aligned crop (see the module doc)."""
    images = data.images if isinstance(data, PairSet) else data
    if isinstance(images.images, np.ndarray):
        raise FacesslError(f"{what}: --detect-faces needs image files; this set's images are held in memory "
                           "(decoded from a table: face crops already)")
    for label, why in PIXEL_LABELS.items():
        if label in images.labels:
            raise FacesslError(f"{what}: --detect-faces cannot be used with label {label!r}: {why}")
    if "clip" in images.labels and "frame" in images.labels:
        raise FacesslError(f"{what}: --detect-faces does not apply: this set's rows are faces already found in its "
                           "videos and aligned (their size and margin are the reader's options)")
    root = face_cache.cache_root(cache, "photo_faces")
    found = _find(list(images.images), settings, root, workers, what)
    bad = np.array([i for i, f in enumerate(found) if not isinstance(f, Path)], np.int64)
    reasons = {}
    for f in found:
        if not isinstance(f, Path):
            reasons[f] = reasons.get(f, 0) + 1
    keep = np.setdiff1d(np.arange(len(images)), bad)
    if len(keep) == 0:
        raise FacesslError(f"{what}: --detect-faces found no face in any of its {len(images)} pictures ("
                           + ", ".join(f"{reason} {n}" for reason, n in reasons.items()) + ")")
    crops = images.subset(keep)
    crops.labels["source_file"] = np.array([str(images.images[i]) for i in keep], dtype=object)
    crops.images = [str(found[i]) for i in keep]
    for reason, n in reasons.items():
        crops.dropped[reason] = crops.dropped.get(reason, 0) + n
        add_dropped_names(crops, reason, [images.images[i] for i in bad if found[i] == reason])  # named too
    crops.meta = {**crops.meta, "faces": f"detected and aligned as facessl prepare --images ({settings.size} px, "
                                         f"margin {settings.margin:g}); {len(keep)} of {len(images)} pictures"}
    if not isinstance(data, PairSet):
        return crops
    return pairs_of_kept(data, crops, keep, reasons, "pair with a picture without a face")


def _find(items: list, settings: CropSettings, root: Path, workers, what: str) -> list:
    """Per item: the Path of its face crop, or the reason it has none (NO_FACE, UNREADABLE, UNEXPECTED: text)."""
    found, todo, rows_of = [None] * len(items), [], {}
    for i, item in enumerate(items):
        key = face_cache.input_key(item, settings, CACHE_VERSION)
        if key is None:
            found[i] = UNREADABLE
            continue
        target = root / key[:2] / key
        if key in rows_of:  # the same picture twice (a pairs file names it in many pairs)
            rows_of[key].append(i)
            continue
        rows_of[key] = [i]
        found[i] = _cached(target)
        if found[i] is None:
            todo.append((i, item, str(target)))
    face_cache.find_missing(_photo_job, todo, settings, workers, root, what, "picture", len(items), found,
                            hint="$FACESSL_CACHE")
    for rows in rows_of.values():
        for i in rows[1:]:
            found[i] = found[rows[0]]
    return found


def _cached(target: Path):
    if target.with_suffix(".jpg").exists():
        return target.with_suffix(".jpg")
    for marker, reason in ((".noface", NO_FACE), (".unreadable", UNREADABLE)):
        if target.with_suffix(marker).exists():
            return reason
    return None


def _photo_job(job) -> tuple[int, Path | str]:
    """(row, the crop's path or the reason there is none); the crop (or an empty marker) written whole."""
    from facessl.data.image_decode import decode_errors, read_face
    from facessl.data.video.pipeline import encode_jpeg
    from facessl.data.video.writers import photo_face

    i, item, target = job
    target = Path(target)
    settings, detector = face_cache.WORKER["settings"], face_cache.WORKER["detector"]
    try:
        image = read_face(item)
    except decode_errors():
        return i, _mark(target, ".unreadable", UNREADABLE)
    except Exception:  # one odd picture costs itself only; not kept, so a rerun tries it again
        return i, UNEXPECTED
    try:
        _, crop = photo_face(image, detector, settings.size, settings.margin)
        if crop is None:
            return i, _mark(target, ".noface", NO_FACE)
        face_cache.write_whole(target.with_suffix(".jpg"), encode_jpeg(crop))
    except Exception:  # one odd picture (or a full disk) costs itself only; not kept, so a rerun tries it again
        return i, UNEXPECTED
    return i, target.with_suffix(".jpg")


def _mark(target: Path, suffix: str, reason: str) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_suffix(suffix).touch()
    return reason
