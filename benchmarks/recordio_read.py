"""Reading InsightFace's RecordIO training sets (formats/insightface_rec.py): the index and labels, and decoding
images out of train.rec against decoding the same JPEGs as files.

    python benchmarks/recordio_read.py [--people 2000] [--per-person 10] [--decode 2000] [--size 112]

Writes a synthetic set (noise JPEGs at --size px; identity i's images a shade of its own) in InsightFace's layout
(record 0, images, one record per identity) and as a folder per person, in a temporary directory; prints seconds and
images per second for reading each (index + labels; no pixels) and for load_batch of --decode images at 64 px.
Then lists a large InsightFace-layout set of --scale tiny records (68 a person, MS1M's mean; 0 skips it): seconds and
peak Python memory (tracemalloc) of the listing, per million images (MS1M-ArcFace holds 5.8 M, Glint360K 17 M).
"""
from __future__ import annotations

import argparse
import io
import struct
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from facessl.data import formats
from facessl.evaluate.images import load_batch

MAGIC = 0xCED7230A


def _payload(label, image: bytes = b"") -> bytes:
    labels = np.atleast_1d(np.asarray(label, np.float32))
    if len(labels) == 1:
        return struct.pack("<IfQQ", 0, float(labels[0]), 0, 0) + image
    return struct.pack("<IfQQ", len(labels), 0.0, 0, 0) + labels.tobytes() + image


def write_sets(root: Path, people: int, per_person: int, size: int) -> None:
    rng = np.random.default_rng(0)
    records, ranges, key = [], [], 1
    for person in range(people):
        folder = root / "folders" / f"p{person:05d}"
        folder.mkdir(parents=True)
        ranges.append((key, key + per_person))
        for k in range(per_person):
            pixels = np.clip(rng.normal(40 + person % 180, 30, (size, size, 3)), 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
            (folder / f"{k:04d}.jpg").write_bytes(buffer.getvalue())
            records.append(_payload(person, buffer.getvalue()))
            key += 1
    records = [_payload([key, key + people])] + records + [_payload(list(r)) for r in ranges]
    blob, lines = bytearray(), []
    for k, data in enumerate(records):
        lines.append(f"{k}\t{len(blob)}")
        blob += struct.pack("<II", MAGIC, len(data)) + data + b"\0" * (-len(data) % 4)
    (root / "rec").mkdir()
    (root / "rec" / "train.rec").write_bytes(bytes(blob))
    (root / "rec" / "train.idx").write_text("\n".join(lines) + "\n")


def write_large(root: Path, images: int, per_person: int = 68) -> None:
    """InsightFace's layout with `images` records of one 8 px JPEG, written straight to disk."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 60, 40)).save(buffer, format="JPEG")
    people = -(-images // per_person)
    root.mkdir()
    with open(root / "train.rec", "wb") as rec, open(root / "train.idx", "w") as idx:
        def put(key, data):
            idx.write(f"{key}\t{rec.tell()}\n")
            rec.write(struct.pack("<II", MAGIC, len(data)) + data + b"\0" * (-len(data) % 4))
        put(0, _payload([images + 1, images + 1 + people]))
        for key in range(1, images + 1):
            put(key, _payload((key - 1) // per_person, buffer.getvalue()))
        for person in range(people):
            put(images + 1 + person, _payload([1 + person * per_person, min(1 + (person + 1) * per_person, images + 1)]))


def list_at_scale(tmp: Path, images: int) -> None:
    write_large(tmp / "large", images)
    t0 = time.perf_counter()
    data = formats.read("insightface-rec", tmp / "large")
    listed = time.perf_counter() - t0
    del data
    tracemalloc.start()  # a second listing, traced (tracing slows it several times over)
    data = formats.read("insightface-rec", tmp / "large")
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_million = 1e6 / len(data)
    print(f"insightface-rec listing of {len(data)} images, {data.meta['identities']} people: {listed:.2f} s, peak "
          f"{peak / 2**20:.0f} MB, held {held / 2**20:.0f} MB (per million images: {listed * per_million:.2f} s, "
          f"peak {peak / 2**20 * per_million:.0f} MB, held {held / 2**20 * per_million:.0f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--per-person", type=int, default=10)
    ap.add_argument("--decode", type=int, default=2000)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--scale", type=int, default=200_000, help="records of the large listing (0: skip it)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_sets(root, args.people, args.per_person, args.size)
        n = args.people * args.per_person
        print(f"{n} images of {args.people} people at {args.size} px written in {time.perf_counter() - t0:.1f} s "
              f"(train.rec {(root / 'rec' / 'train.rec').stat().st_size / 2**20:.1f} MB)")
        rows = {}
        for name, fmt in (("rec", "insightface-rec"), ("folders", "imagefolder")):
            t0 = time.perf_counter()
            data = formats.read(fmt, root / name)
            listed = time.perf_counter() - t0
            index = np.random.default_rng(1).choice(len(data), min(args.decode, len(data)), replace=False)
            t0 = time.perf_counter()
            load_batch(data.images, index, 64)
            decoded = time.perf_counter() - t0
            rows[name] = (listed, decoded)
            print(f"{fmt:16s} read (index + labels) {listed:6.2f} s ({len(data) / listed:9.0f} images/s) | "
                  f"decode {len(index)} at 64 px {decoded:6.2f} s ({len(index) / decoded:7.0f} images/s)")
        (rec_list, rec_decode), (dir_list, dir_decode) = rows["rec"], rows["folders"]
        print(f"rec / folders: read {rec_list / dir_list:.2f}x the time, decode {rec_decode / dir_decode:.2f}x the time")
        if args.scale:
            list_at_scale(root, args.scale)


if __name__ == "__main__":
    main()
