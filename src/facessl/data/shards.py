"""Tar shards of face tracks (WebDataset conventions) and a streaming pretraining dataset over them.

Writing. A shard is a plain, uncompressed tar: per frame `<identity>/<video>/<track>/<frame>.jpg`
plus `.json` (WebDataset's rule: a sample is the files sharing the path up to the first dot), whole
tracks kept in one shard, members sorted, with zero mtimes/owners: the bytes are a pure function of
the frames. `shards/index.json` records per shard its tracks and each JPEG's byte offset, so a
reader can seek instead of scanning, and any WebDataset or `tar` tool reads the shards as they are.
Plain `tarfile` instead of the `webdataset` package: it is all the writing needs, and the reader
needs the index's offsets for exact resume, which webdataset's sequential pipeline does not give.

Reading (`ShardFrames`, `ShardTuples`). The shards are dealt to S streams (S = the largest divisor
of the global batch that is at most min(#shards, 64): it depends on the data and the batch, never
on the number of processes). The shards are split once into S balanced groups; epoch e of a stream
reads its group's shards in a shuffled order, each shard's units (frames, or tracks for tuples)
shuffled, all from (seed, e). Global
batch b takes items [b*G/S, (b+1)*G/S) of every stream, streams in order. Rank r of W reads only
streams [r*S/W, (r+1)*S/W) -- disjoint shards -- and DataLoader worker w of K builds the batches
b = w mod K, so any W and K give one process's global batches, and resuming at step s only needs s.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import torch

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


def _read_part(path: Path):
    """(track key, [(member name, bytes)]) in order."""
    with tarfile.open(path, "r") as tar:
        current, members = None, []
        for info in tar:
            key = info.name.rsplit("/", 1)[0]
            if key != current and members:
                yield current, members
                members = []
            current = key
            members.append((info.name, tar.extractfile(info).read()))
        if members:
            yield current, members


def assemble(folder: Path, parts: list[Path], shard_frames: int) -> None:
    """Concatenate parts (in the given order) into shards of about shard_frames frames, then write the index."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shards, tar, entry = [], None, None
    for part in parts:
        for key, members in _read_part(part):
            if tar is None or entry["frames"] >= shard_frames:
                if tar is not None:
                    tar.close()
                entry = {"file": f"shard-{len(shards):06d}.tar", "frames": 0, "tracks": []}
                shards.append(entry)
                tar = tarfile.open(tmp / entry["file"], "w", format=tarfile.PAX_FORMAT)
            track = {"key": key, "offsets": [], "sizes": []}
            for name, data in members:
                offset = _add(tar, name, data)
                if name.endswith(".jpg"):
                    track["offsets"].append(offset)
                    track["sizes"].append(len(data))
            entry["tracks"].append(track)
            entry["frames"] += len(track["offsets"])
    if tar is not None:
        tar.close()
    (tmp / INDEX).write_text(json.dumps({"format": FORMAT, "shards": shards}) + "\n")
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)
    for part in parts:
        part.unlink(missing_ok=True)


def find_index(root) -> Path | None:
    root = Path(root)
    for candidate in (root / INDEX, root / "shards" / INDEX):
        if candidate.is_file():
            return candidate
    return None


def read_index(index_path: Path) -> dict:
    """index.json, checked: a damaged or foreign index, or a shard it lists that is gone, is one DataFormatError."""
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFormatError(index_path, f"not a readable shard index ({exc})") from None
    found = index.get("format") if isinstance(index, dict) else None
    if found != FORMAT:
        raise DataFormatError(index_path, f"expected a {FORMAT} index, got format {found!r}")
    try:
        shards = [(s["file"], s["frames"], [(t["offsets"], t["sizes"]) for t in s["tracks"]]) for s in index["shards"]]
    except (KeyError, TypeError):
        raise DataFormatError(index_path, "expected 'shards': a list of {file, frames, tracks: [{offsets, sizes}]}") from None
    missing = [f for f, _, _ in shards if not (index_path.parent / str(f)).is_file()]
    if missing:
        raise DataFormatError(index_path.parent / str(missing[0]), f"listed in {INDEX} but not found "
                                                                   f"({len(missing)} of {len(shards)} shards missing)")
    return index


def stream_count(global_batch: int, shards: int) -> int:
    limit = max(1, min(shards, 64))
    return max(d for d in range(1, limit + 1) if global_batch % d == 0)


class ShardFrames:
    """Frames of tar shards, streamed (see the module docstring). Item = one frame, uint8 (3,H,W)."""

    kind = "frames"

    def __init__(self, root, size: int | None = 64):
        index_path = find_index(root)
        if index_path is None:
            raise DataFormatError(root, f"no shard index ({INDEX}) found")
        index = read_index(index_path)
        self.folder, self.size, self._cache = index_path.parent, size, {}
        self.files = [s["file"] for s in index["shards"]]
        self.units = [self._units(s) for s in index["shards"]]  # per shard: list of units
        self.tracks = sum(len(s["tracks"]) for s in index["shards"])
        self.frames = sum(s["frames"] for s in index["shards"])
        if sum(len(u) for u in self.units) == 0:
            raise DataFormatError(index_path, f"the shards hold no {self.kind} to train on")

    def _units(self, shard) -> list:
        return [(o, s) for t in shard["tracks"] for o, s in zip(t["offsets"], t["sizes"])]

    def summary(self) -> str:
        return (f"data: {self.frames} frames in {self.tracks} tracks, {len(self.files)} shards "
                f"({self.folder}); streamed")

    def epoch_keys(self, seed: int, epoch: int) -> list:  # the epoch length the trainer logs by
        return list(range(sum(len(u) for u in self.units)))

    def __len__(self) -> int:
        return sum(len(u) for u in self.units)

    # ---- the streams ------------------------------------------------------------------------------
    def _streams_of(self, seed: int, streams: int) -> list[list[int]]:
        """A fixed partition of the shards into streams, balanced by item count (largest shard to the
        emptiest stream): a stream, and so a rank, reads the same shards in every epoch."""
        key = ("partition", seed, streams)
        if key not in self._cache:
            order = np.random.default_rng([seed]).permutation(len(self.files))
            order = sorted(order.tolist(), key=lambda s: -len(self.units[s]))  # stable: ties keep the seeded order
            parts, load = [[] for _ in range(streams)], [0] * streams
            for s in order:
                j = min(range(streams), key=lambda j: (load[j], j))
                parts[j].append(s)
                load[j] += len(self.units[s])
            self._cache[key] = parts
        return self._cache[key]

    def _epoch_plan(self, seed: int, epoch: int, streams: int, stream: int) -> list[int]:
        shards = self._streams_of(seed, streams)[stream]
        return [shards[i] for i in np.random.default_rng([seed, epoch, stream]).permutation(len(shards))]

    def _epoch_items(self, seed: int, stream: int, streams: int, epoch: int) -> list[tuple[int, int]]:
        key = (seed, stream, streams, epoch)
        if key not in self._cache:
            if len(self._cache) > 16:
                self._cache = {k: v for k, v in self._cache.items() if k[0] == "partition"}
            items = []
            for s in self._epoch_plan(seed, epoch, streams, stream):
                items += [(s, int(u)) for u in np.random.default_rng([seed, epoch, s]).permutation(len(self.units[s]))]
            self._cache[key] = items
        return self._cache[key]

    def _stream_items(self, seed: int, stream: int, streams: int, start: int, count: int) -> list[tuple]:
        """Items [start, start+count) of one stream, as (shard, unit index, epoch)."""
        out, epoch, pos = [], 0, 0
        while len(out) < count:
            length = sum(len(self.units[s]) for s in self._streams_of(seed, streams)[stream])
            if length == 0:
                raise DataFormatError(self.folder, f"the shards hold too few {self.kind} for {streams} streams")
            if pos + length > start:
                lo = max(start - pos, 0)
                out += [(s, u, epoch) for s, u in self._epoch_items(seed, stream, streams, epoch)[lo:lo + count - len(out)]]
            pos, epoch = pos + length, epoch + 1
        return out

    def batch(self, seed: int, b: int, global_batch: int, rank: int, world: int, files: dict) -> dict:
        streams = stream_count(global_batch, len(self.files))
        if streams % world:
            raise DataFormatError(self.folder, f"the shards stream in {streams} parts, which {world} processes "
                                  "cannot share evenly; use a number of processes that divides it")
        per = global_batch // streams
        mine = range(rank * streams // world, (rank + 1) * streams // world)
        items, skipped, bad = [], [], []
        for j in mine:
            for s, u, epoch in self._stream_items(seed, j, streams, b * per, per):
                img, miss, first_bad = self._load(files, s, u, seed, epoch)
                items.append(img)
                skipped.append(miss)
                bad.append(first_bad)
        return {"images": torch.stack(items), "skipped": torch.tensor(skipped), "skipped_path": bad}

    def _read(self, files: dict, shard: int, offset: int, size: int) -> torch.Tensor | None:
        from facessl.data.frames import decode_image

        if shard not in files:
            files[shard] = open(self.folder / self.files[shard], "rb")
        f = files[shard]
        f.seek(offset)
        return decode_image(io.BytesIO(f.read(size)), self.size)

    def _load(self, files, s, u, seed, epoch):
        units, miss = self.units[s], 0
        for tries in range(len(units)):  # an undecodable frame: the next one of its shard
            offset, size = units[(u + tries) % len(units)]
            img = self._read(files, s, offset, size)
            if img is not None:
                return img, tries, f"{self.files[s]}@{units[u][0]}" if tries else ""
        raise DataFormatError(self.folder / self.files[s], "no decodable frame in this shard")

    def loader(self, seed: int, global_batch: int, rank: int, world: int, start_batch: int, workers: int,
               pin_memory: bool = False):
        stream = BatchStream(self, seed, global_batch, rank, world, start_batch)
        # our own generator: creating the iterator must not draw from the global RNG (exact resume)
        return torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                                           generator=torch.Generator().manual_seed(seed + rank),
                                           prefetch_factor=4 if workers else None)


class ShardTuples(ShardFrames):
    """k frames of one track per item (FAb-Net), uint8 (k,3,H,W), from tracks with at least k frames."""

    kind = "tracks"

    def __init__(self, root, k: int = 2, size: int | None = 64):
        self.k = int(k)
        super().__init__(root, size)

    def _units(self, shard) -> list:
        return [list(zip(t["offsets"], t["sizes"])) for t in shard["tracks"] if len(t["offsets"]) >= self.k]

    def _load(self, files, s, u, seed, epoch):
        frames = self.units[s][u]
        pick = np.random.default_rng([seed, epoch, s, u]).choice(len(frames), size=self.k, replace=False)
        out, miss, first_bad = [], 0, ""
        for i in pick:
            img = None
            for tries in range(len(frames)):  # an undecodable frame: another of the same track
                img = self._read(files, s, *frames[(int(i) + tries) % len(frames)])
                if img is not None:
                    break
                miss += 1
                first_bad = first_bad or f"{self.files[s]}@{frames[int(i)][0]}"
            if img is None:
                raise DataFormatError(self.folder / self.files[s], "a track with no decodable frame")
            out.append(img)
        return torch.stack(out), miss, first_bad


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
