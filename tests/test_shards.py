"""Tar shards: WebDataset-style members with an index; streaming split over ranks and workers,
equal to one process, and exact resume in the trainer; balanced streams, per-identity sampling,
damaged and cut-short shards skipped and counted, the index held in arrays."""
from __future__ import annotations

import json
import os
import socket
import tarfile

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from facessl.data import frames as frames_module
from facessl.data.frames import build_dataset
from facessl.data.shards import ShardFrames, ShardTuples, assemble, write_part
from facessl.data.video.pipeline import encode_jpeg
from facessl.engine import checkpoint as ckpt
from facessl.engine.train import train
from facessl.errors import DataFormatError
from train_helpers import tiny_config


def make_shards(root, identities=6, tracks=2, frames=5, size=32, shard_frames=10, seed=0):
    """Random-coloured frames as tar shards (no detector needed); returns the shards folder.
    frames: per track, or a list of it per identity."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(identities):
        base = rng.integers(40, 215, 3)
        items = []
        n = frames[i] if isinstance(frames, list) else frames
        for t in range(tracks):
            crops = [(f, f / 10, None, encode_jpeg(np.clip(base + rng.integers(-40, 40, (size, size, 3)), 0, 255).astype(np.uint8)))
                     for f in range(n)]
            meta = {"source": f"v{i}.mp4", "frames": [{"file": f"{f + 1:04d}.jpg", "frame_index": f} for f in range(n)]}
            items.append((f"id{i:05d}/vid/{t:05d}", crops, meta))
        part = root / "parts" / f"{i}.tar"
        write_part(part, root / "tmp" / str(i), items)
        parts.append(part)
    assemble(root / "shards", parts, shard_frames)
    return root / "shards"


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return make_shards(tmp_path_factory.mktemp("sh"))


def frame_table(shards) -> dict:
    """JPEG bytes -> (frame number in index order, track key)."""
    index, out = json.loads((shards / "index.json").read_text()), {}
    for s in index["shards"]:
        with open(shards / s["file"], "rb") as f:
            for t in s["tracks"]:
                for offset, size in zip(t["offsets"], t["sizes"]):
                    f.seek(offset)
                    out[f.read(size)] = (len(out), t["key"])
    return out


@pytest.fixture
def decoded(monkeypatch):
    """The bytes of every JPEG the shard readers decode, in order."""
    seen, real = [], frames_module.decode_image

    def spy(buffer, size):
        seen.append(buffer.getvalue())
        return real(buffer, size)

    monkeypatch.setattr(frames_module, "decode_image", spy)
    return seen


def spoil(shards, file: str) -> list[str]:
    """Zeros over every JPEG of one shard (its size unchanged); returns their names as the readers give them."""
    index = json.loads((shards / "index.json").read_text())
    names = []
    with open(shards / file, "r+b") as f:
        for t in next(s for s in index["shards"] if s["file"] == file)["tracks"]:
            for offset, size in zip(t["offsets"], t["sizes"]):
                f.seek(offset)
                f.write(bytes(size))
                names.append(f"{file}@{offset}")
    return names


def test_shards_follow_webdataset_conventions_and_the_index_points_at_the_jpegs(shards, tmp_path):
    index = json.loads((shards / "index.json").read_text())
    assert [s["file"] for s in index["shards"]] == [f"shard-{i:06d}.tar" for i in range(6)]
    assert all(s["frames"] == 10 for s in index["shards"])  # whole tracks: 2 tracks of 5 frames each
    with tarfile.open(shards / "shard-000000.tar") as tar:
        names = tar.getnames()
        assert names[:4] == ["id00000/vid/00000/0001.jpg", "id00000/vid/00000/0001.json",
                             "id00000/vid/00000/0002.jpg", "id00000/vid/00000/0002.json"]
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
        first = tar.extractfile(names[0]).read()
    track = index["shards"][0]["tracks"][0]
    with open(shards / "shard-000000.tar", "rb") as f:
        f.seek(track["offsets"][0])
        assert f.read(track["sizes"][0]) == first
    again = make_shards(tmp_path)  # the same frames give the same bytes
    assert all((shards / n).read_bytes() == (again / n).read_bytes() for n in os.listdir(shards))


def test_ranks_read_disjoint_frames_and_together_make_the_one_process_batch(shards):
    data = ShardFrames(shards, size=32, sampling="all_frames")
    for b in (0, 1, 7, 20):  # 20 batches of 8 = 160 frames: past the 60-frame epoch twice
        whole = data.batch(0, b, 8, 0, 1, {})
        halves = [data.batch(0, b, 8, rank, 2, {}) for rank in (0, 1)]
        assert torch.equal(torch.cat([h["images"] for h in halves]), whole["images"])
    units = [{u for b in range(30) for _, _, u in data.batch_units(0, b, 8, rank, 2)} for rank in (0, 1)]
    assert not units[0] & units[1] and len(units[0] | units[1]) == 60  # each frame on one rank only
    seen = [data.batch(0, b, 6, 0, 1, {})["images"] for b in range(10)]  # one epoch = 60 frames, each once
    flat = torch.cat(seen).flatten(1)
    assert len({tuple(x[:12].tolist()) for x in flat}) == 60


def test_dataloader_workers_give_the_same_stream(shards):
    data = ShardTuples(shards, k=2, size=32)
    plain = [b["images"] for _, b in zip(range(5), data.loader(3, 4, 0, 1, 2, 0))]
    workers = [b["images"] for _, b in zip(range(5), data.loader(3, 4, 0, 1, 2, 2))]
    assert plain[0].shape == (4, 2, 3, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(plain, workers))
    resumed = [b["images"] for _, b in zip(range(3), data.loader(3, 4, 0, 1, 4, 0))]  # starting at batch 4
    assert all(torch.equal(a, b) for a, b in zip(plain[2:], resumed))


def test_resume_from_shards_is_exact(shards, tmp_path):
    cfg = tiny_config(shards, steps=4)
    train(cfg, tmp_path / "straight", quiet=True)
    train(cfg, tmp_path / "resumed", quiet=True, until=2)
    train(cfg, tmp_path / "resumed", quiet=True)
    a, b = (load_file(str(ckpt.latest_checkpoint(tmp_path / r) / "model.safetensors")) for r in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    losses = [[json.loads(x)["loss"] for x in (tmp_path / r / "metrics.jsonl").read_text().splitlines()]
              for r in ("straight", "resumed")]
    assert losses[0] == losses[1] and len(losses[0]) == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# lr 0.02: at 0.1 the second step diverges and amplifies the float noise of a two-process reduction past 1e-4
DDP = ["method.views=deterministic", "train.sync_bn=true", "train.channels_last=false", "optim.name=sgd",
       "optim.momentum=0.0", "optim.lr=0.02", "optim.warmup_steps=0", "optim.schedule=constant"]


def _worker(rank, world, port, data, run_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(tiny_config(data, *DDP, steps=2, batch=8), run_dir, quiet=True)


@pytest.mark.distributed
def test_two_gloo_processes_on_shards_equal_one(shards, tmp_path):
    torch.set_num_threads(1)
    train(tiny_config(shards, *DDP, steps=2, batch=8), tmp_path / "one", quiet=True)
    torch.multiprocessing.start_processes(_worker, args=(2, _free_port(), str(shards), str(tmp_path / "two")),
                                          nprocs=2, start_method="spawn")
    one, two = (load_file(str(tmp_path / r / "checkpoints" / "step_00000002" / "model.safetensors")) for r in ("one", "two"))
    loss = [json.loads((tmp_path / r / "metrics.jsonl").read_text().splitlines()[-1])["loss"] for r in ("one", "two")]
    assert loss[1] == pytest.approx(loss[0], rel=1e-5)
    assert set(one) == set(two) and len(one) > 10
    for key in one:
        assert torch.allclose(one[key].float(), two[key].float(), atol=1e-5, rtol=1e-4), key


def test_processes_that_cannot_share_the_streams_are_a_clear_error_before_any_worker(shards):
    data = ShardFrames(shards, 32)
    with pytest.raises(DataFormatError, match="stream in 2 parts.*which 4 processes cannot share evenly; with this "
                                              r"batch size use 1, 2 processes, or with 4 processes a "
                                              r"train.batch_size of 4, 8"):
        data.loader(0, 2, 0, 4, 0, workers=2)  # raised here, in this process: no worker traceback
    with pytest.raises(DataFormatError, match="8 processes need at least 8 shards"):
        data.loader(0, 24, 0, 8, 0, workers=0)  # 6 shards: S is at most 6 whatever the batch
    assert next(iter(data.loader(0, 4, 0, 4, 0, workers=0)))["images"].shape == (1, 3, 32, 32)  # as suggested


def test_streams_are_balanced_whatever_the_shard_sizes(tmp_path, decoded):
    shards = make_shards(tmp_path, identities=4, tracks=1, frames=[30, 30, 30, 2], shard_frames=10)
    table = frame_table(shards)
    assert [s["frames"] for s in json.loads((shards / "index.json").read_text())["shards"]] == [30, 30, 30, 2]
    data = ShardFrames(shards, 32, sampling="all_frames")
    for b in range(58):  # 58 batches of 8: 5 epochs of the 92 frames, each stream's 23 frames 5.04 times
        data.batch(0, b, 8, 0, 1, {})
    reads = np.bincount([table[x][0] for x in decoded], minlength=len(table))
    assert reads.min() >= 5 and reads.max() - reads.min() <= 1  # the 2-frame shard was read 15 times as often


def test_per_identity_sampling_takes_one_item_of_each_identity_per_epoch(shards, decoded):
    table = frame_table(shards)
    data = ShardFrames(shards, 32, sampling="per_identity")
    assert len(data) == len(data.epoch_keys(0, 0)) == 6  # the trainer's epoch: one frame per identity
    assert "60 frames in 12 tracks of 6 identities, 6 shards" in data.summary()
    assert "one frame per identity an epoch" in data.summary()
    for b in range(4):  # 6 identities in 6 streams of one each: every batch of 6 holds each identity once
        decoded.clear()
        data.batch(0, b, 6, 0, 1, {})
        assert sorted(table[x][1].split("/")[0] for x in decoded) == [f"id{i:05d}" for i in range(6)]
    decoded.clear()
    for b in range(20):
        data.batch(0, b, 6, 0, 1, {})
    assert len({table[x][0] for x in decoded}) > 30  # a random frame each epoch, not the same one
    tuples = ShardTuples(shards, k=2, size=32, sampling="per_identity")
    assert len(tuples) == 6 and "one track per identity an epoch" in tuples.summary()
    decoded.clear()
    tuples.batch(0, 0, 6, 0, 1, {})
    keys = [table[x][1] for x in decoded]
    assert sorted({k.split("/")[0] for k in keys}) == [f"id{i:05d}" for i in range(6)] and len(keys) == 12
    assert len(ShardTuples(shards, k=2, size=32, sampling="all_frames")) == 12
    assert len(ShardFrames(shards, 32, sampling="all_frames")) == 60
    resumed = [b["images"] for _, b in zip(range(2), data.loader(0, 6, 0, 1, 3, 0))]
    straight = [b["images"] for _, b in zip(range(5), data.loader(0, 6, 0, 1, 0, 2))]
    assert all(torch.equal(a, b) for a, b in zip(straight[3:], resumed))


def test_build_dataset_passes_the_sampling_to_shards(shards):
    for sampling in ("per_identity", "all_frames"):
        cfg = tiny_config(shards, f"data.sampling={sampling}")
        assert build_dataset(cfg.data, "frames").sampling == sampling
        assert build_dataset(cfg.data, "tuples").sampling == sampling


def test_a_damaged_shard_is_skipped_counted_and_named_and_resume_reads_the_same(tmp_path):
    shards = make_shards(tmp_path)
    bad = set(spoil(shards, "shard-000002.tar"))  # every frame of one shard
    for data in (ShardFrames(shards, 32, sampling="all_frames"), ShardTuples(shards, k=2, size=32, sampling="all_frames")):
        straight = [b for _, b in zip(range(15), data.loader(0, 4, 0, 1, 0, workers=2))]  # in DataLoader workers
        named = [p for b in straight for joined in b["skipped_paths"] for p in joined.split("\n") if p]
        assert set(named) == bad  # 15 batches of 4 cover the 60 frames / 12 tracks: every bad frame named
        assert sum(int(b["skipped"].sum()) for b in straight) == len(named)
        assert all(first == (joined.split("\n")[0]) for b in straight for first, joined in
                   zip(b["skipped_path"], b["skipped_paths"]))
        resumed = [b for _, b in zip(range(5), data.loader(0, 4, 0, 1, 10, workers=0))]
        for a, b in zip(straight[10:], resumed):
            assert torch.equal(a["images"], b["images"]) and torch.equal(a["skipped"], b["skipped"])
    for i in range(6):
        spoil(shards, f"shard-{i:06d}.tar")
    with pytest.raises(DataFormatError, match="no frame of a stream decodes"):  # hopeless data: one clear error
        ShardFrames(shards, 32).batch(0, 0, 4, 0, 1, {})


def test_a_shard_cut_short_is_named_when_opened_and_its_tail_skipped(tmp_path):
    shards = make_shards(tmp_path)
    index = json.loads((shards / "index.json").read_text())
    track = index["shards"][1]["tracks"][1]
    with open(shards / "shard-000001.tar", "r+b") as f:  # cut inside the second track's third frame
        f.truncate(track["offsets"][2] + 10)
    data = ShardFrames(shards, 32, sampling="all_frames")
    assert "1 shard file(s) cut short: 3 frames past their end are skipped when read (e.g. shard-000001.tar" \
        in data.summary()
    named = {p for b in range(15) for p in data.batch(0, b, 4, 0, 1, {})["skipped_path"] if p}
    assert named == {f"shard-000001.tar@{o}" for o in track["offsets"][2:]}
    for i in range(6):
        with open(shards / f"shard-{i:06d}.tar", "r+b") as f:
            f.truncate(100)
    with pytest.raises(DataFormatError, match="every shard file ends before its first frame"):
        ShardFrames(shards, 32)


def test_the_index_is_held_in_arrays_and_epoch_plans_once_per_stream(tmp_path, monkeypatch):
    from facessl.data import shards as shards_module

    shards = make_shards(tmp_path, identities=24, tracks=1, frames=3, shard_frames=3)  # 24 shards
    data = ShardFrames(shards, 32, sampling="all_frames")
    assert data.index.offsets.dtype == np.int64 and data.index.sizes.dtype == np.int32
    assert len(data.index.offsets) == 72 and isinstance(data.index.files, np.ndarray)
    made = []
    real = shards_module._Stream.plan
    monkeypatch.setattr(shards_module._Stream, "plan", lambda self, rng: made.append(1) or real(self, rng))
    for b in range(3):  # 24 streams on this process, more than any fixed cache of 16 epochs
        data.batch_units(0, b, 24, 0, 1)
    assert len(made) == 24  # one plan a stream; each stream's 3 frames last the three batches


def _parts(root, identities, frames=5, size=16, seed=0):
    """One part per identity with one track of `frames` random frames; returns their paths."""
    rng, parts = np.random.default_rng(seed), []
    for i in identities:
        crops = [(f, 0.0, None, encode_jpeg(rng.integers(0, 255, (size, size, 3)).astype(np.uint8))) for f in range(frames)]
        meta = {"source": f"v{i}.mp4", "frames": [{"frame_index": f} for f in range(frames)]}
        part = root / "parts" / f"{i}.tar"
        write_part(part, root / "tmp" / str(i), [(f"id{i:05d}/vid/00001", crops, meta)])
        parts.append(part)
    return parts


def test_a_writer_appends_to_shards_it_never_rewrites_and_drops_tracks_from_the_index_only(tmp_path):
    """Shards written while tracks arrive (parts deleted as they go in), numbered on across writers; a dropped
    track leaves the index, not the file; a shard with every track dropped leaves the index and its number is
    not given again; a shard renamed into place but not yet listed (a kill) is adopted from its headers."""
    from facessl.data.shards import ShardWriter

    folder = tmp_path / "shards"
    writer = ShardWriter(folder, shard_frames=10)
    parts = _parts(tmp_path, range(4))
    for part in parts:
        writer.add(part)
    assert [p.exists() for p in parts] == [False, False, False, False]  # two full shards, no part left
    assert json.loads((folder / "index.json").read_text())["next_shard"] == 2
    files = {p.name: p.read_bytes() for p in folder.glob("shard-*.tar")}
    writer = ShardWriter(folder, shard_frames=10)  # a later run
    assert writer.drop(["id00000/vid/00001", "id00001/vid/00001", "id00003/vid/00001", "nope"]) == 3
    for part in _parts(tmp_path, [4, 5], seed=1):
        writer.add(part)
    writer.finish()
    index = json.loads((folder / "index.json").read_text())
    assert [(s["file"], [t["key"] for t in s["tracks"]]) for s in index["shards"]] == [
        ("shard-000001.tar", ["id00002/vid/00001"]), ("shard-000002.tar", ["id00004/vid/00001", "id00005/vid/00001"])]
    assert all((folder / name).read_bytes() == data for name, data in files.items())  # shard-000000 kept, unlisted
    data = ShardFrames(folder, 16, sampling="all_frames")
    bad: list = []
    assert data.frames == 15 and all(data._read({}, f, bad) is not None for f in range(15)) and bad == []
    # a kill after a shard's rename, before the index: the next writer lists it, numbered on
    index_before = (folder / "index.json").read_bytes()
    writer = ShardWriter(folder, shard_frames=5)
    writer.write_index = lambda: None
    writer.add(_parts(tmp_path, [6], seed=2)[0])
    assert (folder / "shard-000003.tar").is_file() and (folder / "index.json").read_bytes() == index_before
    adopted = ShardWriter(folder, shard_frames=5)
    index = json.loads((folder / "index.json").read_text())
    assert index["shards"][-1]["file"] == "shard-000003.tar" and index["next_shard"] == 4 and adopted.next == 4
    assert ShardFrames(folder, 16, sampling="all_frames").frames == 20
    with tarfile.open(folder / "shard-000003.tar") as tar:
        first = tar.getmembers()[0]
        assert index["shards"][-1]["tracks"][0]["offsets"][0] == first.offset_data
