"""Tar shards: WebDataset-style members with an index; streaming split over ranks and workers,
equal to one process, and exact resume in the trainer."""
from __future__ import annotations

import json
import os
import socket
import tarfile

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from facessl.data.shards import ShardFrames, ShardTuples, assemble, write_part
from facessl.data.video.pipeline import encode_jpeg
from facessl.engine import checkpoint as ckpt
from facessl.engine.train import train
from train_helpers import tiny_config


def make_shards(root, identities=6, tracks=2, frames=5, size=32, shard_frames=10, seed=0):
    """Random-coloured frames as tar shards (no detector needed); returns the shards folder."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(identities):
        base = rng.integers(40, 215, 3)
        items = []
        for t in range(tracks):
            crops = [(f, f / 10, None, encode_jpeg(np.clip(base + rng.integers(-40, 40, (size, size, 3)), 0, 255).astype(np.uint8)))
                     for f in range(frames)]
            meta = {"source": f"v{i}.mp4", "frames": [{"file": f"{f + 1:04d}.jpg", "frame_index": f} for f in range(frames)]}
            items.append((f"id{i:05d}/vid/{t:05d}", crops, meta))
        part = root / "parts" / f"{i}.tar"
        write_part(part, root / "tmp" / str(i), items)
        parts.append(part)
    assemble(root / "shards", parts, shard_frames)
    return root / "shards"


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return make_shards(tmp_path_factory.mktemp("sh"))


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


def test_ranks_read_disjoint_shards_and_together_make_the_one_process_batch(shards):
    data = ShardFrames(shards, size=32)
    for b in (0, 1, 7, 20):  # 20 batches of 8 = 160 frames: past the 60-frame epoch twice
        whole = data.batch(0, b, 8, 0, 1, {})
        opened = []
        halves = []
        for rank in (0, 1):
            files = {}
            halves.append(data.batch(0, b, 8, rank, 2, files))
            opened.append(set(files))
        assert torch.equal(torch.cat([h["images"] for h in halves]), whole["images"])
        assert not opened[0] & opened[1]
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


DDP = ["method.views=deterministic", "train.sync_bn=true", "train.channels_last=false", "optim.name=sgd",
       "optim.momentum=0.0", "optim.lr=0.1", "optim.warmup_steps=0", "optim.schedule=constant"]


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


def test_processes_that_cannot_share_the_streams_are_a_clear_error(shards):
    from facessl.errors import DataFormatError

    with pytest.raises(DataFormatError, match="stream in 2 parts, which 4 processes"):
        ShardFrames(shards, 32).batch(0, 0, 2, 0, 4, {})
