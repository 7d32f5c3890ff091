"""InsightFace's face-recognition training sets, MXNet RecordIO `train.rec` + `train.idx`, read without MXNet:
MS1M-ArcFace (`faces_emore/`), MS1M-RetinaFace (`ms1m-retinaface-t1/`), CASIA-WebFace (`faces_webface_112x112/`),
Glint360K, VGGFace2 (`faces_vgg_112x112/`) as InsightFace's dataset zoo ships them, beside their `.bin`
verification sets (insightface-bin). They serve as a set of identities: the verification task's supervised row
trains on them (`--train-dataset insightface-rec:faces_emore`, evaluate/identity.py).

train.idx: one `key<TAB>offset` line per record. A record: uint32 magic 0xCED7230A, uint32 (cflag << 29 | length),
`length` payload bytes, zero padding to 4 bytes; a payload holding the magic at an aligned position is written in
parts (cflag 1 first, 2 middle, 3 last) and joined with the magic between them (dmlc-core's recordio). A payload
(mx.recordio.pack): the header <IfQQ (flag, label, id, id2); flag > 0: `flag` float32 labels follow; then the
image's JPEG / PNG bytes. InsightFace's record 0 has flag > 0 and label (a, b): the images are records 1 .. a-1, and
records a .. b-1 are one per identity, labelled (start, end), the keys of its images; without those identity records
(some packs) each image's own label (its first, when an array) is its identity, as arcface_torch reads it. A .rec
without that header record (MXNet's im2rec) is read whole: every record an image, its label the identity.

ImageSet: RecordImage items (decoded from their record's bytes), labels 'identity' (the class number). Options:
per_identity=N keeps each identity's first N images (MS1M's 5.8 M images are 5.8 M items in memory otherwise).
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.errors import DataFormatError

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_HEADER = struct.Struct("<IfQQ")  # flag, label, id, id2 (mx.recordio.IRHeader)


class RecordImage(str):
    """An image inside a RecordIO file: `<file>#<key>` for names and fingerprints; `file` is the .rec and
    `open_bytes()` gives the image's encoded bytes (what image_decode reads instead of opening a path)."""

    file: str
    offset: int

    def __new__(cls, file, key, offset):
        item = str.__new__(cls, f"{file}#{key}")
        item.file, item.offset = str(file), int(offset)
        return item

    def __reduce__(self):  # pickles (a worker process) with its file and offset
        return RecordImage, (self.file, str(self).rsplit("#", 1)[1], self.offset)

    def open_bytes(self) -> io.BytesIO:
        with open(self.file, "rb") as f:
            _, image = unpack(read_record(f, self.offset, self.file))
        return io.BytesIO(image)


def read_record(f, offset: int, name: str) -> bytes:
    """The payload of the record at `offset`, its parts joined."""
    parts, position = [], offset
    while True:
        f.seek(position)
        head = f.read(8)
        if len(head) < 8:
            raise DataFormatError(name, f"the record at byte {position} is cut off (the file ends there)")
        magic, word = struct.unpack("<II", head)
        if magic != MAGIC:
            raise DataFormatError(name, f"no RecordIO record at byte {position} (magic {magic:#010x}, expected "
                                        f"{MAGIC:#010x}): is train.idx the index of this train.rec?")
        cflag, length = word >> 29, word & ((1 << 29) - 1)
        data = f.read(length)
        if len(data) < length:
            raise DataFormatError(name, f"the record at byte {position} is cut off ({len(data)} of {length} bytes)")
        parts.append(data)
        if cflag in (0, 3):
            return _MAGIC_BYTES.join(parts)
        position += 8 + length + (-length % 4)


def unpack(payload: bytes) -> tuple[np.ndarray, bytes]:
    """(labels as float32, image bytes) of a record's payload (mx.recordio.unpack)."""
    if len(payload) < _HEADER.size:
        raise ValueError(f"a record of {len(payload)} bytes has no IRHeader")
    flag, label, _, _ = _HEADER.unpack_from(payload)
    if flag == 0:
        return np.array([label], np.float32), payload[_HEADER.size:]
    end = _HEADER.size + 4 * flag
    return np.frombuffer(payload[_HEADER.size:end], np.float32), payload[end:]


def find_record_files(root) -> tuple[Path, Path]:
    """(train.rec, train.idx) of a folder holding them (or given the .rec / .idx path), also one folder below."""
    root = Path(root)
    if root.is_file() and root.suffix in (".rec", ".idx"):
        rec, idx = root.with_suffix(".rec"), root.with_suffix(".idx")
    else:
        found = sorted(root.glob("*.rec")) + sorted(root.glob("*/*.rec")) if root.is_dir() else []
        preferred = [p for p in found if p.name == "train.rec"] or found
        if not preferred:
            raise DataFormatError(root, "no RecordIO file (train.rec + train.idx, InsightFace's training sets) here "
                                        "or one folder below")
        rec = preferred[0]
        idx = rec.with_suffix(".idx")
    for path in (rec, idx):
        if not path.is_file():
            raise DataFormatError(path, f"missing: a RecordIO set needs {rec.name} and its index {idx.name} side by side")
    return rec, idx


def read_index(idx: Path) -> dict[int, int]:
    """key -> byte offset from a .idx file (`key<TAB>offset` lines; CRLF and blank lines accepted)."""
    offsets = {}
    for number, line in enumerate(idx.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            key, offset = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):
            raise DataFormatError(f"{idx}:{number}", f"expected 'key<TAB>offset', got {line.strip()[:60]!r}") from None
        offsets[key] = offset
    if not offsets:
        raise DataFormatError(idx, "an empty RecordIO index")
    return offsets


def identity_ranges(f, offsets: dict, first: np.ndarray, name: str) -> list[tuple[int, int]] | None:
    """[(first key, end key)] of each identity from InsightFace's identity records (keys first[0] .. first[1]-1),
    or None when the file has none of them (arcface_torch reads every image's own label then, as here)."""
    images_end, identities_end = int(round(first[0])), int(round(first[1]))
    wanted = range(images_end, identities_end)
    if len(wanted) == 0 or any(key not in offsets for key in wanted):
        return None
    spans = [unpack(read_record(f, offsets[key], name))[0] for key in wanted]
    return [(int(round(span[0])), int(round(span[1]))) for span in spans]


def read_insightface_rec(root, per_identity: int | None = None) -> ImageSet:
    rec, idx = find_record_files(root)
    per_identity = None if per_identity is None else int(per_identity)
    offsets = read_index(idx)
    keys, identity = [], []
    with open(rec, "rb") as f:
        first, _ = unpack(read_record(f, offsets[min(offsets)], str(rec)))
        header = min(offsets) == 0 and len(first) >= 2
        ranges = identity_ranges(f, offsets, first, str(rec)) if header else None
        if ranges is not None:  # InsightFace's layout: identity records name their images' key ranges
            for person, (start, end) in enumerate(ranges):
                members = [k for k in range(start, end) if k in offsets][:per_identity]
                keys += members
                identity += [person] * len(members)
        else:  # every image record's own (first) label is its identity
            image_keys = range(1, int(round(first[0]))) if header else sorted(offsets)
            taken: dict[int, int] = {}
            for key in (k for k in image_keys if k in offsets):
                label, _ = unpack(read_record(f, offsets[key], str(rec)))
                person = int(round(float(label[0])))
                if per_identity is None or taken.get(person, 0) < per_identity:
                    taken[person] = taken.get(person, 0) + 1
                    keys.append(key)
                    identity.append(person)
    if not keys:
        raise DataFormatError(rec, "no image records")
    images = [RecordImage(rec, key, offsets[key]) for key in keys]
    layout = "plain" if not header else "insightface" if ranges is not None else "insightface, labels per image"
    meta = {"identities": len(set(identity)), "record_layout": layout}
    return ImageSet(images, {"identity": np.asarray(identity, np.int64)}, None, str(rec), {}, meta)
