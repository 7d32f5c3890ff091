"""Tar shards of face tracks (WebDataset conventions) and a streaming pretraining dataset over them.

Writing. A shard is a plain, uncompressed tar: per frame `<identity>/<video>/<track>/<frame>.jpg`
plus `.json` (WebDataset's rule: a sample is the files sharing the path up to the first dot), whole
tracks kept in one shard, each track's members in order, with zero mtimes/owners: the bytes are a pure
function of the tracks and their order. `shards/index.json` records per shard its tracks and each JPEG's
byte offset, so a reader can seek instead of scanning, and any WebDataset or `tar` tool reads the shards
as they are. Plain `tarfile` instead of the `webdataset` package: it is all the writing needs, and the
reader needs the index's offsets for exact resume, which webdataset's sequential pipeline does not give.
`ShardWriter` appends shards while `facessl prepare` runs (each video's tracks first go to a tar "part"):
a shard as soon as the parts handed to it hold `--shard-frames` frames, then its parts are deleted and the
index rewritten (temporary file + rename), so the extra disk is about one shard and a stopped run leaves a
valid index of the shards finished. A shard file, once renamed into place, is never written again: a
later run appends shards numbered on (`next_shard` in the index, an optional field older readers ignore),
and an input removed or changed since only loses its tracks from the index (`drop`), their bytes staying
in the file. The order of the tracks is the order prepare hands parts over: its jobs' order (largest
video first, then by name), the same for any worker count and across an interruption, except when
finished parts pile up behind one slow video (writers.ShardFeed), when they go in as they finish. The
index is a list of tracks with their own offsets, so nothing reads a shard file's other members: an
index may list only some of a file's tracks, in any order of shards.

Reading (`ShardFrames`, `ShardTuples`). A unit is a frame (ShardFrames) or a track of at least k frames
(ShardTuples). The units are laid end to end in an order drawn from the seed and cut into S contiguous
streams, S = the largest divisor of the global batch that is at most min(#shards, 64): the partition
depends on the data, the seed, the sampling and S, never on the number of processes or workers.
- sampling='all_frames': the shards in a seeded order, each shard's units as stored, cut into S streams of
  equal length (to within one unit), so a stream holds a few shards and parts of shards (two streams, even
  two ranks, may read different byte ranges of one file). Epoch e of a stream reads its pieces of shards in
  a shuffled order, each piece's units shuffled.
- sampling='per_identity' (identity = the track key's first part, `identity/video/track`): the identities
  in a seeded order, each one's tracks together, cut between identities into S streams of equal identity
  count (to within one). Epoch e of a stream takes, for each identity in it, one random frame of one random
  video (ShardTuples: one random track), as `VoxCelebFrames` / `TrackTuples` do. With fewer identities than
  streams the cut falls inside identities (into equal unit counts): an identity split across streams is
  sampled once per stream it is in, and the trainer's epoch (one item per identity) is shorter than the
  streams' epochs.
An epoch of a stream is drawn from (seed, S, stream, e) alone, and all its epochs have one length (its units,
or its identities), so a stream reads its units (identities) equally often, and as the streams' lengths differ
by at most one, so does the whole set: a small shard is read no more often than a large one. Global batch b
takes items [b*G/S, (b+1)*G/S) of every stream, streams in order. Rank r of W reads only streams [r*S/W, (r+1)*S/W) -- disjoint units -- and
DataLoader worker w of K builds the batches b = w mod K, so any W and K give one process's global batches,
and resuming at step s only needs s. `loader()` checks that W processes can share the S streams before any
worker starts.

Damage. A frame that does not decode (damaged bytes, or past the end of a shard file cut short) costs an
item nothing but a replacement: ShardTuples first tries the other frames of the track; then the unit at the
same place in another shard of the stream (then any unit of the stream) is read instead, chosen from the
unit's position alone, so a resume reads the same. Every undecodable frame is counted in the batch's
'skipped' and named ('shard-000003.tar@<offset>') in 'skipped_path(s)', as the frame datasets do; only a
stream of which no frame decodes is an error.

Memory. The index is held as numpy arrays (per frame its offset and size, 12 bytes; per track a few numbers),
which DataLoader workers share copy-on-write; a process keeps one epoch plan (an int32 array) per stream it reads.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from facessl.engine.runtime import worker_init
from facessl.errors import DataFormatError

INDEX = "index.json"
FORMAT = "facessl-shards-1"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> int:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    header = len(info.tobuf(tar.format, tar.encoding, tar.errors))
    start = tar.offset
    tar.addfile(info, io.BytesIO(data))
    return start + header  # where the member's bytes begin


def write_part(path: Path, tmp_dir: Path, tracks: list) -> None:
    """One input's tracks as a tar part: tracks = [(key 'identity/video/track', crops, sidecar dict)]."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / "part.tar"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for key, crops, sidecar in tracks:
            for i, ((*_, jpeg), meta) in enumerate(zip(crops, sidecar["frames"])):
                stem = f"{key}/{i + 1:04d}"
                _add(tar, stem + ".jpg", jpeg)
                _add(tar, stem + ".json", json.dumps({"source": sidecar["source"], **meta}, sort_keys=True).encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, path)
    shutil.rmtree(tmp_dir, ignore_errors=True)


def _read_part(path: Path, keys=None):
    """(track key, [(member name, bytes)]) in order; only the tracks in `keys` when given."""
    with tarfile.open(path, "r") as tar:
        current, members = None, []
        for info in tar:
            key = info.name.rsplit("/", 1)[0]
            if key != current and members:
                yield current, members
                members = []
            current = key
            if keys is None or key in keys:
                members.append((info.name, tar.extractfile(info).read()))
        if members:
            yield current, members


def _part_tracks(path: Path) -> list[tuple[str, int]]:
    """(track key, frames) of a part, in order, from its headers alone."""
    out: list = []
    with tarfile.open(path, "r") as tar:
        for info in tar:
            key = info.name.rsplit("/", 1)[0]
            if not out or out[-1][0] != key:
                out.append((key, 0))
            if info.name.endswith(".jpg"):
                out[-1] = (key, out[-1][1] + 1)
    return out


def shard_file(number: int) -> str:
    return f"shard-{number:06d}.tar"


def _shard_number(name: str) -> int | None:
    if name.startswith("shard-") and name.endswith(".tar") and name[6:-4].isdigit():
        return int(name[6:-4])
    return None


def _scan_shard(path: Path) -> dict:
    """The index entry of a finished shard file, read from its tar headers (a shard written after the index was
    last rewritten, by a run that was then killed)."""
    entry: dict = {"file": path.name, "frames": 0, "tracks": []}
    with tarfile.open(path, "r") as tar:
        for info in tar:
            key = info.name.rsplit("/", 1)[0]
            if not entry["tracks"] or entry["tracks"][-1]["key"] != key:
                entry["tracks"].append({"key": key, "offsets": [], "sizes": []})
            if info.name.endswith(".jpg"):
                entry["tracks"][-1]["offsets"].append(info.offset_data)
                entry["tracks"][-1]["sizes"].append(info.size)
                entry["frames"] += 1
    return entry


def _entry_text(entry: dict) -> str:
    """A shard's index entry as one line of compact JSON (offsets and sizes as lists or arrays)."""
    tracks = ",".join(json.dumps({"key": str(t["key"]), "offsets": np.asarray(t["offsets"]).tolist(),
                                  "sizes": np.asarray(t["sizes"]).tolist()}, separators=(",", ":"))
                      for t in entry["tracks"])
    frames = sum(len(t["offsets"]) for t in entry["tracks"])
    return f'{{"file":{json.dumps(str(entry["file"]))},"frames":{frames},"tracks":[{tracks}]}}'


def _fsynced_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class ShardWriter:
    """Shards appended to `folder` while tracks arrive, and `index.json` kept listing the finished ones.

    `add(part)` queues a part's tracks (in the order given); as soon as the queue holds `shard_frames` frames, the
    next shard (numbered on from every shard this folder ever had) is written from it, whole tracks only, and the
    parts all of whose tracks are now in shards are deleted; `finish()` writes the rest as a last, smaller shard.
    A shard file is written under a hidden name, fsync'ed and renamed: a `shard-N.tar` is always whole, and never
    touched again. `index.json` is rewritten (temporary file + rename) after every new shard, unless the last
    rewrite took over 50 ms and more than 1/20 of the time since it (an index of millions of frames: it then
    lags by a few shards; `finish()` and `write_index()` always write it). What the index says is the truth
    for readers; for the writer the truth is the index plus the shard files numbered from the index's
    `next_shard` on: opening the folder adopts those (their entries read from their tar headers), so a kill
    between renaming a shard, rewriting the index and deleting its parts loses and duplicates nothing. A track
    key listed twice keeps its later copy (a redone input). `drop(keys)` takes tracks out of the index; their
    bytes stay in the shard files."""

    INDEX_EVERY, INDEX_CHEAP = 20, 0.05  # rewrite after every shard while that takes under 50 ms

    def __init__(self, folder, shard_frames: int):
        self.folder, self.shard_frames = Path(folder), max(1, int(shard_frames))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.entries: list = []  # per shard ever listed: its index entry as compact JSON, None once all dropped
        self.counts: list = []  # per shard ever listed: (frames, tracks) listed
        self.where: dict = {}  # track key -> its shard's place in entries
        self.queue: list = []  # (part, key, frames) queued, not yet in a shard
        self.queued_frames, self.written, self.dropped = 0, 0, 0
        self.next = self.listed_next = 0  # the next shard file's number; one past the last one listed
        self._index_cost, self._index_at, self._dirty = 0.0, 0.0, False
        for tmp in self.folder.glob(".*.tmp"):  # a shard or index being written when a run was killed
            tmp.unlink(missing_ok=True)
        path = self.folder / INDEX
        if path.is_file():
            try:
                index = json.loads(path.read_text(encoding="utf-8"), object_hook=_track_arrays)
                shards = index["shards"] if index.get("format") == FORMAT else None
                numbers = [_shard_number(str(s["file"])) for s in shards]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                raise DataFormatError(path, f"not a readable {FORMAT} index: move it (and the shards) away, or "
                                            "prepare into another --out") from None
            for entry in shards:
                self._list(entry)
            self._dirty = False  # as it was on disk
            self.next = self.listed_next = max([int(index.get("next_shard", 0)),
                                                *[n + 1 for n in numbers if n is not None]])
        adopted = sorted((n, p) for p in self.folder.glob("shard-*.tar")
                         if (n := _shard_number(p.name)) is not None and n >= self.next)
        for n, p in adopted:
            self._list(_scan_shard(p))
            self.next = max(self.next, n + 1)
        if adopted:
            self.write_index()

    # ---- what is listed -----------------------------------------------------------------------------
    def _list(self, entry: dict) -> None:
        keys = [str(t["key"]) for t in entry["tracks"]]
        self.drop([k for k in keys if k in self.where])  # later wins
        for key in keys:
            self.where[key] = len(self.entries)
        self.entries.append(_entry_text(entry))
        self.counts.append((sum(len(t["offsets"]) for t in entry["tracks"]), len(keys)))
        number = _shard_number(str(entry["file"]))
        self.listed_next = max(self.listed_next, 0 if number is None else number + 1)
        self._dirty = True

    def drop(self, keys) -> int:
        """Take these tracks out of the index (keys not listed are passed over); returns how many were listed."""
        by_shard: dict = {}
        for key in keys:
            if key in self.where:
                by_shard.setdefault(self.where.pop(key), set()).add(key)
        for s, gone in by_shard.items():
            entry = json.loads(self.entries[s])
            entry["tracks"] = [t for t in entry["tracks"] if t["key"] not in gone]
            entry["frames"] = sum(len(t["offsets"]) for t in entry["tracks"])
            self.entries[s] = _entry_text(entry) if entry["tracks"] else None
            self.counts[s] = (entry["frames"], len(entry["tracks"]))
        count = sum(len(g) for g in by_shard.values())
        self.dropped += count
        self._dirty = self._dirty or bool(count)
        return count

    def totals(self) -> dict:
        """Shards, tracks and frames listed; shards written and tracks dropped since this writer opened."""
        listed = [c for e, c in zip(self.entries, self.counts) if e is not None]
        return {"shards": len(listed), "tracks": sum(t for _, t in listed), "frames": sum(f for f, _ in listed),
                "written_this_run": self.written, "tracks_dropped_this_run": self.dropped}

    def write_index(self) -> None:
        if not self._dirty and (self.folder / INDEX).is_file():
            return
        start = time.monotonic()
        rows = ",\n".join(e for e in self.entries if e is not None)
        tmp = self.folder / f".{INDEX}.tmp"
        tmp.write_text(f'{{"format": "{FORMAT}", "next_shard": {self.listed_next}, "shards": [\n{rows}\n]}}\n')
        _fsynced_replace(tmp, self.folder / INDEX)
        self._dirty, self._index_at = False, time.monotonic()
        self._index_cost = self._index_at - start

    # ---- writing --------------------------------------------------------------------------------------
    def add(self, part: Path, skip=()) -> None:
        """Queue the tracks of a part but those in `skip` (already in shards); write every shard that fills."""
        part = Path(part)
        for key, frames in _part_tracks(part):
            if key not in skip:
                self.queue.append((part, key, frames))
                self.queued_frames += frames
        self._delete_parts([part])
        while self.queued_frames >= self.shard_frames:
            self._cut()

    def finish(self) -> None:
        """Write what is queued as a last shard, and the index."""
        if self.queue:
            self._cut()
        self.write_index()

    def _cut(self) -> None:
        frames, n = 0, 0
        while n < len(self.queue) and frames < self.shard_frames:
            frames += self.queue[n][2]
            n += 1
        tracks, self.queue = self.queue[:n], self.queue[n:]
        self.queued_frames -= frames
        entry = self._write_shard(tracks)
        self._list(entry)
        self.written += 1
        self._delete_parts(dict.fromkeys(part for part, _, _ in tracks))
        cost = self._index_cost
        if cost < self.INDEX_CHEAP or time.monotonic() - self._index_at >= self.INDEX_EVERY * cost:
            self.write_index()

    def _write_shard(self, tracks: list) -> dict:
        name = shard_file(self.next)
        entry: dict = {"file": name, "frames": 0, "tracks": []}
        tmp = self.folder / f".{name}.tmp"
        with open(tmp, "wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
            i = 0
            while i < len(tracks):  # the tracks of one part together: the part is read once
                j = i
                while j < len(tracks) and tracks[j][0] == tracks[i][0]:
                    j += 1
                wanted = {key for _, key, _ in tracks[i:j]}
                for key, members in _read_part(tracks[i][0], wanted):
                    track = {"key": key, "offsets": [], "sizes": []}
                    for member, data in members:
                        offset = _add(tar, member, data)
                        if member.endswith(".jpg"):
                            track["offsets"].append(offset)
                            track["sizes"].append(len(data))
                    entry["tracks"].append(track)
                    entry["frames"] += len(track["offsets"])
                i = j
        _fsynced_replace(tmp, self.folder / name)
        self.next += 1
        return entry

    def _delete_parts(self, parts) -> None:
        """Parts none of whose tracks is queued: their tracks are in shard files now (or were skipped)."""
        queued = {part for part, _, _ in self.queue}
        for part in parts:
            if part not in queued:
                part.unlink(missing_ok=True)


def assemble(folder: Path, parts: list[Path], shard_frames: int) -> None:
    """Shards of about shard_frames frames from parts (in the given order) into a new `folder` (replacing it)."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    writer = ShardWriter(tmp, shard_frames)
    for part in parts:
        writer.add(part)
    writer.finish()
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def find_index(root) -> Path | None:
    root = Path(root)
    for candidate in (root / INDEX, root / "shards" / INDEX):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class ShardIndex:
    """index.json as numpy arrays. Frames and tracks are numbered in index order (shard by shard)."""

    files: np.ndarray  # per shard: its file name (str)
    lengths: np.ndarray  # per shard: its file's size in bytes
    first_track: np.ndarray  # per shard, and one past the last: shard s holds tracks first_track[s]:first_track[s+1]
    first_frame: np.ndarray  # per track, and one past the last: its first frame
    track_shard: np.ndarray  # per track: its shard
    identity: np.ndarray  # per track: its identity's number (the key's first part)
    video: np.ndarray  # per track: its video's number (the key up to the track)
    identities: int
    offsets: np.ndarray  # per frame: where its JPEG's bytes begin (int64)
    sizes: np.ndarray  # per frame: how many bytes (int32)
    cut_short: list  # (file, frames past its end) per shard file shorter than the index says


def read_index(index_path: Path) -> ShardIndex:
    """index.json, checked: a damaged or foreign index, or a shard it lists that is gone, is one DataFormatError.

    A shard file shorter than the end of its last JPEG (offset + size: a copy cut short) is not an error but
    listed in `cut_short` (summary() names it), and its frames past the end are skipped when read, as
    undecodable frames are: one cut shard among thousands should not stop a run from starting, and the
    streams, which a resume depends on, stay the same when the file is copied again whole. Only when no
    frame at all lies within its file is it an error."""
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"), object_hook=_track_arrays)
    except (OSError, ValueError) as exc:
        raise DataFormatError(index_path, f"not a readable shard index ({exc})") from None
    found = index.get("format") if isinstance(index, dict) else None
    if found != FORMAT:
        raise DataFormatError(index_path, f"expected a {FORMAT} index, got format {found!r}")
    shape = DataFormatError(index_path, "expected 'shards': a list of {file, frames, tracks: [{key, offsets, sizes}]}, "
                                        "as many offsets as sizes")
    try:
        files = [str(s["file"]) for s in index["shards"]]
    except (KeyError, TypeError):
        raise shape from None
    missing = [f for f in files if not (index_path.parent / f).is_file()]
    if missing:
        raise DataFormatError(index_path.parent / missing[0], f"listed in {INDEX} but not found "
                                                              f"({len(missing)} of {len(files)} shards missing)")
    try:
        arrays = _index_arrays(index["shards"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise shape from None
    lengths = np.array([(index_path.parent / f).stat().st_size for f in files], np.int64)
    cut_short = _cut_short(arrays, lengths)
    if cut_short and sum(n for _, n in cut_short) == len(arrays["offsets"]):
        raise DataFormatError(index_path.parent, f"every shard file ends before its first frame: the {len(files)} "
                                                 "shards were cut short (copy them again)")
    return ShardIndex(lengths=lengths, cut_short=cut_short, **arrays)


def _cut_short(arrays: dict, lengths: np.ndarray) -> list:
    """(file, frames past its end) of each shard whose file ends before its last JPEG does."""
    first = arrays["first_frame"][arrays["first_track"]]  # per shard, and one past the last: its first frame
    offsets, sizes, out = arrays["offsets"], arrays["sizes"], []
    for s in np.flatnonzero(first[1:] > first[:-1]):
        a, b = first[s], first[s + 1]
        if offsets[b - 1] + sizes[b - 1] > lengths[s]:  # the members are in byte order: the last ends last
            out.append((str(arrays["files"][s]), int((offsets[a:b] + sizes[a:b] > lengths[s]).sum())))
    return out


def _track_arrays(obj: dict) -> dict:
    """A track's offsets and sizes as arrays while the JSON is parsed: a 2M-frame index then never holds 4M
    Python ints at once (parsing peaks at ~90 MB instead of ~220)."""
    if isinstance(obj.get("offsets"), list) and isinstance(obj.get("sizes"), list):
        try:
            obj["offsets"], obj["sizes"] = np.array(obj["offsets"], np.int64), np.array(obj["sizes"], np.int32)
        except (TypeError, ValueError, OverflowError):
            pass  # left as it is, for _index_arrays to refuse
    return obj


def _index_arrays(shards: list) -> dict:
    """The index's lists as arrays; a field missing or of the wrong type raises KeyError, TypeError or ValueError."""
    tracks = [t for s in shards for t in s["tracks"]]
    offsets = [np.asarray(t["offsets"], np.int64) for t in tracks]
    sizes = [np.asarray(t["sizes"], np.int32) for t in tracks]
    if any(o.ndim != 1 or o.shape != z.shape for o, z in zip(offsets, sizes)):
        raise ValueError("as many offsets as sizes")
    counts = np.array([len(o) for o in offsets], np.int64)
    keys = [str(t["key"]) for t in tracks]
    identity, video = _numbered(k.split("/", 1)[0] for k in keys), _numbered(k.rsplit("/", 1)[0] for k in keys)
    per_shard = [len(s["tracks"]) for s in shards]
    return {
        # names copied out of the parsed JSON: a string of it kept alive per shard pins the parser's freed memory
        # (at 2M frames 243 MB held instead of 97)
        "files": np.array([str(s["file"]) for s in shards], dtype=str),
        "first_track": np.concatenate([[0], np.cumsum(per_shard, dtype=np.int64)]),
        "first_frame": np.concatenate([[0], np.cumsum(counts)]),
        "track_shard": np.repeat(np.arange(len(shards), dtype=np.int32), per_shard),
        "identity": identity, "video": video, "identities": int(identity.max(initial=-1)) + 1,
        "offsets": np.concatenate([np.zeros(0, np.int64), *offsets]),
        "sizes": np.concatenate([np.zeros(0, np.int32), *sizes]),
    }


def _numbered(names) -> np.ndarray:
    """int32 numbers of names, in order of first appearance."""
    numbers: dict = {}
    return np.array([numbers.setdefault(n, len(numbers)) for n in names], np.int32)


def stream_count(global_batch: int, shards: int) -> int:
    limit = max(1, min(shards, 64))
    return max(d for d in range(1, limit + 1) if global_batch % d == 0)


def _cannot_share(streams: int, global_batch: int, world: int, shards: int) -> str:
    """Why `world` processes cannot read these streams, and which process counts and batch sizes would do."""
    limit = max(1, min(shards, 64))
    counts = [str(w) for w in range(1, streams + 1) if streams % w == 0]
    text = (f"the shards stream in {streams} parts (the largest divisor of train.batch_size={global_batch} up to "
            f"min({shards} shards, 64)), which {world} processes cannot share evenly; with this batch size use "
            f"{', '.join(counts)} processes")
    if world > limit:
        return text + f"; {world} processes need at least {world} shards (a smaller facessl prepare --shard-frames)"
    sizes = [g for g in range(world, 2 * global_batch + 64 * world, world) if stream_count(g, shards) % world == 0]
    nearest = sorted(sorted(sizes, key=lambda g: (abs(g - global_batch), g))[:4])
    return text + f", or with {world} processes a train.batch_size of {', '.join(map(str, nearest))}"


SAMPLINGS = ("per_identity", "all_frames")


class _Stream:
    """One stream's units: ranges of consecutive units, each in one shard (all_frames: pieces of shards;
    per_identity: pieces of tracks, grouped by identity, then video)."""

    def __init__(self, start, length, shard, identity=None, video=None):
        from facessl.data.frames import runs

        self.start, self.length, self.shard = start, length, shard
        self.cum = np.concatenate([[0], np.cumsum(length)])  # stream position of each range's first unit
        self._by_start = np.argsort(start, kind="stable")  # to find a unit's range
        self._sorted_start = start[self._by_start]
        self.by_identity = identity is not None
        if self.by_identity:
            self.v_lo = runs(video)[0]  # each video's first range
            self.v_hi = np.append(self.v_lo[1:], len(start))
            self.i_lo = runs(identity[self.v_lo])[0]  # each identity's first video
            self.i_hi = np.append(self.i_lo[1:], len(self.v_lo))
        self.items = len(self.i_lo) if self.by_identity else int(self.cum[-1])  # an epoch of this stream

    def plan(self, rng: np.random.Generator) -> np.ndarray:
        """An epoch's units in order (int32 where they fit)."""
        if not self.by_identity:  # every unit once: pieces in a random order, each piece's units shuffled
            pieces = [self.start[r] + rng.permutation(self.length[r]) for r in rng.permutation(len(self.start))]
            return _compact(np.concatenate(pieces))
        who = rng.permutation(len(self.i_lo))  # each identity once, one random video of it, one random unit of that
        video = rng.integers(self.i_lo[who], self.i_hi[who])
        pos = rng.integers(self.cum[self.v_lo[video]], self.cum[self.v_hi[video]])
        r = np.searchsorted(self.cum, pos, "right") - 1
        return _compact(self.start[r] + pos - self.cum[r])

    def fallbacks(self, unit: int):
        """Units to read instead of `unit` when it does not decode, a function of `unit` alone: the unit at its
        place in the next piece of each other shard of the stream, then every unit of the stream."""
        i = int(self._by_start[np.searchsorted(self._sorted_start, unit, "right") - 1])
        offset, count = unit - int(self.start[i]), len(self.start)
        tried = {int(self.shard[i])}
        for r in ((i + step) % count for step in range(1, count)):
            if int(self.shard[r]) not in tried:
                tried.add(int(self.shard[r]))
                yield int(self.start[r]) + offset % int(self.length[r])
        for r in ((i + step) % count for step in range(count)):
            yield from range(int(self.start[r]), int(self.start[r] + self.length[r]))


def _compact(units: np.ndarray) -> np.ndarray:
    return units.astype(np.int32) if units.size and units.max() < 2**31 else units


class ShardFrames:
    """Frames of tar shards, streamed (see the module docstring). Item = one frame, uint8 (3,H,W).

    sampling='per_identity': an epoch of a stream takes one random frame of one random video of each identity
    in it; 'all_frames': every frame once. `len()` is the trainer's epoch: the identities (with fewer identities
    than streams, the streams' epochs together hold more: a split identity is sampled once per stream) or the
    frames."""

    kind = "frames"

    def __init__(self, root, size: int | None = 64, sampling: str = "per_identity"):
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be 'per_identity' or 'all_frames', got {sampling!r}")
        index_path = find_index(root)
        if index_path is None:
            raise DataFormatError(root, f"no shard index ({INDEX}) found")
        self.index = read_index(index_path)
        self.folder, self.size, self.sampling = index_path.parent, size, sampling
        self.files = self.index.files
        self.frames, self.tracks = len(self.index.offsets), len(self.index.identity)
        self._shard_first_frame = self.index.first_frame[self.index.first_track]
        self._track_units = self._units_per_track()
        self._first_unit = np.concatenate([[0], np.cumsum(self._track_units)])  # per track: its first unit
        self.units = int(self._first_unit[-1])
        if self.units == 0:
            raise DataFormatError(index_path, f"the shards hold no {self.kind} to train on")
        self.identities_sampled = len(np.unique(self.index.identity[self._track_units > 0]))
        self._partitions: dict = {}  # (seed, S) -> the S streams
        self._plans: dict = {}  # (seed, S, stream) -> (epoch, its plan): one per stream this process reads

    def _units_per_track(self) -> np.ndarray:
        return np.diff(self.index.first_frame)

    def _video_of(self, tracks: np.ndarray) -> np.ndarray:  # what per_identity draws first within an identity
        return self.index.video[tracks]

    # ---- what the trainer asks -------------------------------------------------------------------
    def _epoch_items(self) -> int:
        return self.identities_sampled if self.sampling == "per_identity" else self.units

    def epoch_keys(self, seed: int, epoch: int) -> range:  # only its length is used: the epoch the trainer counts
        return range(self._epoch_items())

    def __len__(self) -> int:
        return self._epoch_items()

    def _sampled(self) -> str:
        return "one frame per identity an epoch" if self.sampling == "per_identity" else "every frame an epoch"

    def summary(self) -> str:
        text = (f"data: {self.frames} frames in {self.tracks} tracks of {self.index.identities} identities, "
                f"{len(self.files)} shards ({self.folder}); streamed, {self._sampled()}")
        cut = self.index.cut_short
        if cut:
            text += (f"; {len(cut)} shard file(s) cut short: {sum(n for _, n in cut)} frames past their end are "
                     f"skipped when read (e.g. {cut[0][0]}, {cut[0][1]} frames)")
        return text

    @property
    def small_epoch_hint(self) -> str:
        from facessl.data.frames import per_identity_hint

        return per_identity_hint(self.sampling, self.kind[:-1], self.identities_sampled)

    # ---- the streams ------------------------------------------------------------------------------
    def _blocks(self, seed: int):
        """The units in the order the streams cut them: (first unit, units, shard, identity, video) per block."""
        ix, rng = self.index, np.random.default_rng([seed])
        if self.sampling == "all_frames":  # blocks = shards, in a seeded order
            order = rng.permutation(len(self.files))
            first = self._first_unit[ix.first_track]
            return first[:-1][order], np.diff(first)[order], order, None, None
        place = rng.permutation(max(ix.identities, 1))  # blocks = tracks: identities in a seeded order, then by video
        tracks = np.flatnonzero(self._track_units)
        video = self._video_of(tracks)
        tracks = tracks[np.lexsort((tracks, video, place[ix.identity[tracks]]))]
        return (self._first_unit[tracks], self._track_units[tracks], ix.track_shard[tracks], ix.identity[tracks],
                self._video_of(tracks))

    def _bounds(self, count: np.ndarray, identity, streams: int) -> np.ndarray:
        """Where the streams begin in the blocks' units, and where the last ends."""
        from facessl.data.frames import runs

        total = int(count.sum())
        if identity is not None:
            firsts = runs(identity)[0]
            if len(firsts) >= streams:  # whole identities, as many to each stream to within one
                pos = np.concatenate([[0], np.cumsum(count)])
                return np.append(pos[firsts[np.arange(streams) * len(firsts) // streams]], total)
        return np.arange(streams + 1) * total // streams  # equal unit counts

    def _partition(self, seed: int, streams: int) -> list[_Stream]:
        key = (seed, streams)
        if key not in self._partitions:
            start, count, shard, identity, video = (a if a is None else np.asarray(a) for a in self._blocks(seed))
            keep = count > 0
            start, count, shard = start[keep], count[keep], shard[keep]
            if identity is not None:
                identity, video = identity[keep], video[keep]
            if int(count.sum()) < streams:
                raise DataFormatError(self.folder, f"the shards hold {int(count.sum())} {self.kind}, too few for "
                                                   f"{streams} streams (a smaller train.batch_size makes fewer)")
            pos = np.concatenate([[0], np.cumsum(count)])  # where each block begins in the order
            bounds = self._bounds(count, identity, streams)
            parts = []
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                b = slice(np.searchsorted(pos, lo, "right") - 1, np.searchsorted(pos, hi, "left"))
                first = start[b] + np.maximum(lo - pos[b], 0)
                end = start[b] + np.minimum(hi, pos[b.start + 1:b.stop + 1]) - pos[b]
                parts.append(_Stream(first, end - first, shard[b], *(() if identity is None else (identity[b], video[b]))))
            self._partitions[key] = parts
        return self._partitions[key]

    def _plan(self, seed: int, streams: int, stream: int, epoch: int) -> np.ndarray:
        """An epoch of one stream, kept until the stream moves on: a cache sized to the streams read here."""
        key = (seed, streams, stream)
        if self._plans.get(key, (None,))[0] != epoch:
            rng = np.random.default_rng([seed, streams, stream, epoch])
            self._plans[key] = (epoch, self._partition(seed, streams)[stream].plan(rng))
        return self._plans[key][1]

    def _stream_items(self, seed: int, streams: int, stream: int, start: int, count: int) -> list[tuple]:
        """Items [start, start+count) of one stream, as (stream, epoch of the stream, unit)."""
        length = self._partition(seed, streams)[stream].items
        out = []
        while len(out) < count:
            epoch, at = divmod(start + len(out), length)
            out += [(stream, epoch, int(u)) for u in self._plan(seed, streams, stream, epoch)[at:at + count - len(out)]]
        return out

    def check_world(self, global_batch: int, world: int) -> int:
        """S for this batch size, or one DataFormatError if `world` processes cannot share the S streams."""
        streams = stream_count(global_batch, len(self.files))
        if streams % world:
            raise DataFormatError(self.folder, _cannot_share(streams, global_batch, world, len(self.files)))
        return streams

    def batch_units(self, seed: int, b: int, global_batch: int, rank: int, world: int) -> list[tuple]:
        """(stream, epoch of the stream, unit) of this rank's items of global batch b, in order."""
        streams = self.check_world(global_batch, world)
        per = global_batch // streams
        mine = range(rank * streams // world, (rank + 1) * streams // world)
        return [item for j in mine for item in self._stream_items(seed, streams, j, b * per, per)]

    def batch(self, seed: int, b: int, global_batch: int, rank: int, world: int, files: dict) -> dict:
        streams = self.check_world(global_batch, world)
        items, skipped, first, every = [], [], [], []
        for j, epoch, unit in self.batch_units(seed, b, global_batch, rank, world):
            bad: list[str] = []
            img = self._load(files, seed, epoch, unit, bad)
            if img is None:
                img = self._replace(files, seed, epoch, self._partition(seed, streams)[j], unit, bad)
            items.append(img)
            skipped.append(len(bad))
            first.append(bad[0] if bad else "")
            every.append("\n".join(bad))
        return {"images": torch.stack(items), "skipped": torch.tensor(skipped), "skipped_path": first,
                "skipped_paths": every}

    # ---- reading ----------------------------------------------------------------------------------
    def _read(self, files: dict, frame: int, bad: list) -> torch.Tensor | None:
        """Frame `frame` decoded, or None with its name added to `bad`."""
        from facessl.data.frames import decode_image

        shard = int(np.searchsorted(self._shard_first_frame, frame, "right")) - 1
        offset, size = int(self.index.offsets[frame]), int(self.index.sizes[frame])
        img = None
        if offset + size <= self.index.lengths[shard]:  # past the end of a file cut short: known unreadable
            if shard not in files:
                files[shard] = open(self.folder / self.files[shard], "rb")
            files[shard].seek(offset)
            img = decode_image(io.BytesIO(files[shard].read(size)), self.size)
        if img is None:
            bad.append(f"{self.files[shard]}@{offset}")
        return img

    def _load(self, files: dict, seed: int, epoch: int, unit: int, bad: list) -> torch.Tensor | None:
        return self._read(files, unit, bad)

    def _replace(self, files, seed, epoch, stream: _Stream, unit: int, bad: list) -> torch.Tensor:
        """A unit of another shard of the stream for one that does not decode (_Stream.fallbacks)."""
        tried = {unit}
        for other in stream.fallbacks(unit):
            if other not in tried:
                tried.add(other)
                img = self._load(files, seed, epoch, other, bad)
                if img is not None:
                    return img
        names = sorted({self.files[int(s)] for s in stream.shard})
        raise DataFormatError(self.folder, f"no {self.kind[:-1]} of a stream decodes: its {len(names)} shard(s) "
                                           f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}) are damaged "
                                           "or cut short")

    def loader(self, seed: int, global_batch: int, rank: int, world: int, start_batch: int, workers: int,
               pin_memory: bool = False):
        streams = self.check_world(global_batch, world)  # here, not as a worker's traceback in the first batch
        self._partition(seed, streams)  # likewise too few units; the workers inherit it
        stream = BatchStream(self, seed, global_batch, rank, world, start_batch)
        # our own generator: creating the iterator must not draw from the global RNG (exact resume)
        return torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                                           generator=torch.Generator().manual_seed(seed + rank),
                                           worker_init_fn=worker_init if workers else None,
                                           prefetch_factor=4 if workers else None)


class ShardTuples(ShardFrames):
    """k frames of one track per item (FAb-Net), uint8 (k,3,H,W), from tracks with at least k frames.

    sampling='per_identity': an epoch of a stream takes one random track of each identity in it; 'all_frames':
    every track once. An undecodable frame is replaced by another of its track, a track with none by a track
    of another shard of the stream."""

    kind = "tracks"

    def __init__(self, root, k: int = 2, size: int | None = 64, sampling: str = "per_identity"):
        self.k = int(k)
        super().__init__(root, size, sampling)
        self._unit_track = np.flatnonzero(self._track_units)

    def _units_per_track(self) -> np.ndarray:
        return (np.diff(self.index.first_frame) >= self.k).astype(np.int64)

    def _video_of(self, tracks: np.ndarray) -> np.ndarray:  # one random track of an identity, whatever its video
        return tracks

    def _sampled(self) -> str:
        if self.sampling == "per_identity":
            return f"one track per identity an epoch ({self.k} of its frames)"
        return f"every track of {self.k}+ frames an epoch"

    def summary(self) -> str:
        short = self.tracks - self.units
        return super().summary() + (f"; skipped {short} tracks shorter than {self.k} frames (data.frames_per_tuple)"
                                    if short else "")

    def _load(self, files, seed, epoch, unit, bad):
        track = int(self._unit_track[unit])
        first, end = (int(f) for f in self.index.first_frame[track:track + 2])
        count = end - first
        pick = np.random.default_rng([seed, epoch, unit]).choice(count, size=self.k, replace=False)
        out, failed = [], set()
        for i in pick:
            img = None
            for f in (int(i + tries) % count for tries in range(count)):  # undecodable: another frame of the track
                if f not in failed:
                    img = self._read(files, first + f, bad)
                    if img is not None:
                        break
                    failed.add(f)
            if img is None:
                return None
            out.append(img)
        return torch.stack(out)


class BatchStream(torch.utils.data.IterableDataset):
    """This rank's local batches from `start_batch` on; DataLoader worker w of K makes batches w, w+K, ..."""

    def __init__(self, data: ShardFrames, seed, global_batch, rank, world, start_batch):
        self.data, self.seed, self.global_batch = data, seed, global_batch
        self.rank, self.world, self.start = rank, world, start_batch

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        files: dict = {}
        try:
            b = self.start + worker
            while True:
                yield self.data.batch(self.seed, b, self.global_batch, self.rank, self.world, files)
                b += workers
        finally:
            for f in files.values():
                f.close()
