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
per_identity=N keeps each identity's first N images. The index is held as two int64 arrays and an item is a bare
string: a million images list in about 2 s and hold 0.16 GB (benchmarks/recordio_read.py --scale; MS1M has 5.8 M).
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
    """An image inside a RecordIO file, `<file>#<key>`: its name and fingerprint, and all it holds (no per-item
    attributes: millions of them). `open_bytes()` gives the image's encoded bytes (what image_decode reads instead of
    opening a path), its offset looked up in the file's index (read again from the .idx in a worker process)."""

    __slots__ = ()

    def __new__(cls, file, key):
        return str.__new__(cls, f"{file}#{key}")

    def __reduce__(self):  # pickles (a worker process) as its name
        return RecordImage, tuple(self.rsplit("#", 1))

    def open_bytes(self) -> io.BytesIO:
        file, key = self.rsplit("#", 1)
        with open(file, "rb") as f:
            _, image = unpack(read_record(f, _index_of(file)[int(key)], file))
        return io.BytesIO(image)


_INDEXES: dict = {}  # .rec path -> its RecordIndex, for RecordImage.open_bytes (filled by the reader)


def _index_of(file: str) -> "RecordIndex":
    if file not in _INDEXES:
        _INDEXES[file] = read_index(Path(file).with_suffix(".idx"))
    return _INDEXES[file]


class RecordIndex:
    """A .idx as two sorted int64 arrays (keys, byte offsets): 16 bytes a record, where a dict takes ~100."""

    def __init__(self, keys: np.ndarray, offsets: np.ndarray):
        order = np.argsort(keys, kind="stable")
        keys, offsets = keys[order], offsets[order]
        last = np.append(keys[1:] != keys[:-1], True)  # a key written twice: its last line wins
        self.keys, self.offsets = keys[last], offsets[last]

    def __len__(self) -> int:
        return len(self.keys)

    def has(self, keys) -> np.ndarray:
        keys = np.asarray(keys, np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[at] == keys

    def __getitem__(self, key) -> int:
        at = int(np.searchsorted(self.keys, key))
        if at == len(self.keys) or self.keys[at] != key:
            raise KeyError(key)
        return int(self.offsets[at])


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


def read_index(idx: Path) -> RecordIndex:
    """The key -> byte offset index of a .idx file (`key<TAB>offset` lines; CRLF, a BOM and blank lines accepted)."""
    text = idx.read_text(encoding="utf-8-sig", errors="replace")
    tokens = text.split()
    try:  # the fast path: every line exactly `key offset`
        if tokens and len(tokens) == 2 * sum(1 for line in text.splitlines() if line.strip()):
            pairs = np.array(tokens, dtype=np.int64).reshape(-1, 2)
            return RecordIndex(pairs[:, 0], pairs[:, 1])
    except ValueError:
        pass
    keys, offsets = [], []  # line by line: extra fields are ignored, a bad line is named
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            keys.append(int(fields[0]))
            offsets.append(int(fields[1]))
        except (ValueError, IndexError):
            raise DataFormatError(f"{idx}:{number}", f"expected 'key<TAB>offset', got {line.strip()[:60]!r}") from None
    if not keys:
        raise DataFormatError(idx, "an empty RecordIO index")
    return RecordIndex(np.asarray(keys, np.int64), np.asarray(offsets, np.int64))


def identity_ranges(f, index: RecordIndex, first: np.ndarray, name: str) -> np.ndarray | None:
    """(identities, 2) first and end key of each identity from InsightFace's identity records (keys first[0] ..
    first[1]-1), or None when the file has none of them (arcface_torch reads every image's own label then, as here)."""
    images_end, identities_end = int(round(first[0])), int(round(first[1]))
    wanted = np.arange(images_end, identities_end)
    if len(wanted) == 0 or not index.has(wanted).all():
        return None
    spans = [unpack(read_record(f, index[key], name))[0] for key in wanted]
    return np.array([(int(round(span[0])), int(round(span[1]))) for span in spans], np.int64).reshape(-1, 2)


def _range_members(ranges: np.ndarray, index: RecordIndex, per_identity: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(keys, identity) of every image the identity ranges name that the index holds, at most per_identity each."""
    lengths = np.maximum(ranges[:, 1] - ranges[:, 0], 0)
    identity = np.repeat(np.arange(len(ranges)), lengths)
    keys = np.repeat(ranges[:, 0], lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    present = index.has(keys)
    keys, identity = keys[present], identity[present]
    if per_identity is not None and len(keys):
        starts = np.flatnonzero(np.r_[True, identity[1:] != identity[:-1]])
        rank = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
        keys, identity = keys[rank < per_identity], identity[rank < per_identity]
    return keys, identity


def read_insightface_rec(root, per_identity: int | None = None) -> ImageSet:
    rec, idx = find_record_files(root)
    per_identity = None if per_identity is None else int(per_identity)
    index = read_index(idx)
    _INDEXES[str(rec)] = index
    first_key = int(index.keys[0])
    with open(rec, "rb") as f:
        first, _ = unpack(read_record(f, index[first_key], str(rec)))
        header = first_key == 0 and len(first) >= 2
        ranges = identity_ranges(f, index, first, str(rec)) if header else None
        if ranges is not None:  # InsightFace's layout: identity records name their images' key ranges
            keys, identity = _range_members(ranges, index, per_identity)
        else:  # every image record's own (first) label is its identity
            image_keys = np.arange(1, int(round(first[0]))) if header else index.keys
            keys, identity, taken = [], [], {}
            for key in image_keys[index.has(image_keys)]:
                label, _ = unpack(read_record(f, index[key], str(rec)))
                person = int(round(float(label[0])))
                if per_identity is None or taken.get(person, 0) < per_identity:
                    taken[person] = taken.get(person, 0) + 1
                    keys.append(int(key))
                    identity.append(person)
    if not len(keys):
        raise DataFormatError(rec, "no image records")
    images = [RecordImage(rec, key) for key in np.asarray(keys).tolist()]
    identity = np.asarray(identity, np.int64)
    layout = "plain" if not header else "insightface" if ranges is not None else "insightface, labels per image"
    meta = {"identities": len(np.unique(identity)), "record_layout": layout}
    return ImageSet(images, {"identity": identity}, None, str(rec), {}, meta)
