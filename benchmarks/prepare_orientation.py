"""Orientation correction of `facessl prepare` (data/video/orient.py) on real photos: what it costs on
upright ones and what it finds on turned ones. Prints counts and crop differences; not a test.

    python benchmarks/prepare_orientation.py [--photos DIR] [--upright 1000] [--turned 150]

Upright: photos as they are. `searched`: the upright reading was not trusted, so the photo was detected
again in three more turns (the cost); `turned`: a turn was chosen (wrongly: these are upright); `lost`: a face
found without the search, none with it.
Turned: photos whose upright reading keeps a face, turned 90/180/270 degrees and re-saved as JPEG without
EXIF (as a messenger sends them). `found`: a face; `right`: with the turn that makes it upright; crop
difference: mean absolute difference (0-255) of the 64 px crop to the upright photo's (JPEG noise is 1-4,
a crop a quarter off 40 and more); `plain`: faces the detector finds without the turn search.
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np

SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "realfaces" / "expressions" / "images"


def as_messenger_sends(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def counting_finder(detector):
    """find_face for find_upright, counting its calls (each one or two detections)."""
    from facessl.data.video.writers import best_face, detect_photo

    def find(image):
        find.calls += 1
        return best_face(detect_photo(detector, image))

    find.calls = 0
    return find


def crop(image, face):
    from facessl.data.video.align import align

    return align(image, face.box, face.landmarks, 64, 0.25).astype(float)


def upright_cost(paths, detector) -> dict:
    from facessl.data.image_decode import read_rgb
    from facessl.data.video.orient import find_upright

    find = counting_finder(detector)
    searched, turned, lost = [], [], []
    start = time.process_time()
    for path in paths:
        image = read_rgb(path)
        before = find.calls
        k, _, face = find_upright(image, find, detector)
        if find.calls - before > 1:
            searched.append(path.name)
        if k:
            turned.append(f"{path.name} ({90 * k})")
        if face is None and find(image) is not None:  # found as it stands, but not kept
            lost.append(path.name)
    return {"photos": len(paths), "searched": len(searched), "turned": turned, "lost": lost,
            "cpu_s_per_photo": round((time.process_time() - start) / max(len(paths), 1), 4), "searched_names": searched}


def turned_search(paths, detector) -> dict:
    from facessl.data.image_decode import read_rgb
    from facessl.data.video.orient import find_upright, turn

    find = counting_finder(detector)
    rows = {k: {"n": 0, "plain": 0, "found": 0, "right": 0, "diffs": [], "wrong": []} for k in (1, 2, 3)}
    for path in paths:
        image = read_rgb(path)
        k0, _, upright_face = find_upright(image, find, detector)
        if upright_face is None or k0:
            continue
        reference = crop(image, upright_face)
        for quarters, row in rows.items():
            turned = as_messenger_sends(turn(image, quarters))
            row["n"] += 1
            row["plain"] += find(turned) is not None
            k, upright, face = find_upright(turned, find, detector)
            if face is None:
                continue
            row["found"] += 1
            if (k + quarters) % 4:
                row["wrong"].append(f"{path.name} (chose {90 * k})")
                continue
            row["right"] += 1
            row["diffs"].append(float(np.abs(crop(upright, face) - reference).mean()))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--photos", default=str(SHARED_PHOTOS))
    p.add_argument("--upright", type=int, default=1000, help="upright photos (every 13th, from the 8th)")
    p.add_argument("--turned", type=int, default=150, help="photos to turn (every 90th, from the 4th)")
    args = p.parse_args()
    import torch

    from facessl.data.video.detectors import build_detector

    torch.set_num_threads(1)
    names = sorted(Path(args.photos).glob("*.jpg"))
    if not names:
        raise SystemExit(f"no photos in {args.photos}")
    detector = build_detector("mtcnn")
    if args.upright:
        s = upright_cost(names[7::13][:args.upright], detector)
        print(f"upright: {s['photos']} photos, {s['searched']} searched in 3 more turns, {len(s['turned'])} turned "
              f"{s['turned'][:10]}, {len(s['lost'])} lost; {s['cpu_s_per_photo']} s CPU per photo")
        print("  searched:", " ".join(s["searched_names"][:30]))
    if args.turned:
        for quarters, row in turned_search(names[3::90][:args.turned], detector).items():
            d = np.percentile(row["diffs"], [50, 90, 100]).round(1).tolist() if row["diffs"] else None
            print(f"turned {90 * quarters:3d}: {row['n']} photos, {row['plain']} found plainly; with the search "
                  f"{row['found']} found, {row['right']} with the right turn; crop difference 50/90/100 %: {d}"
                  + (f"; wrong: {row['wrong']}" if row["wrong"] else ""))


if __name__ == "__main__":
    main()
