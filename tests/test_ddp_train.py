"""Two gloo processes with half batches each train exactly like one process on the whole batch."""
from __future__ import annotations

import os
import socket

import pytest
import torch
from safetensors.torch import load_file

from facessl.engine.train import train
from train_helpers import make_track_tree, tiny_config

pytestmark = pytest.mark.distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _overrides():
    # deterministic views (x, mirrored x): the augmentation RNG differs per rank by design
    # SGD: Adam's first step ~ lr*sign(grad) would amplify rounding noise in near-zero gradients.
    # channels_last off: its kernels differ between batch 4 and 8, and in so tiny a net one ReLU input
    # of ~1e-5 can flip sign and move the gradients by percents (measured); contiguous kernels agree to 1e-6.
    return ["method.views=deterministic", "train.sync_bn=true", "train.channels_last=false",
            "optim.name=sgd", "optim.momentum=0.0",
            "optim.lr=0.1", "optim.warmup_steps=0", "optim.schedule=constant"]


def _worker(rank, world, port, data, run_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(tiny_config(data, *_overrides(), steps=1, batch=8), run_dir, quiet=True)


def _final(run_dir):
    import json

    weights = load_file(str(run_dir / "checkpoints" / "step_00000001" / "model.safetensors"))
    loss = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["loss"]
    return weights, loss


def test_two_processes_equal_one(tmp_path):
    data = make_track_tree(tmp_path / "data", identities=8, videos=1, tracks=1, frames=2, size=32)
    torch.set_num_threads(1)
    train(tiny_config(data, *_overrides(), steps=1, batch=8), tmp_path / "one", quiet=True)
    # fork: the children reuse the imported modules (spawn would re-import torch: ~10 s more)
    torch.multiprocessing.start_processes(_worker, args=(2, _free_port(), str(data), str(tmp_path / "two")),
                                          nprocs=2, start_method="fork")

    one, loss_one = _final(tmp_path / "one")
    two, loss_two = _final(tmp_path / "two")
    init = tiny_config(data, *_overrides())
    assert set(one) == set(two)
    assert loss_two == pytest.approx(loss_one, rel=1e-5)
    moved = 0
    for key in one:
        assert torch.allclose(one[key].float(), two[key].float(), atol=1e-5, rtol=1e-4), key
        moved += 1
    assert moved > 10 and init.train.sync_bn
