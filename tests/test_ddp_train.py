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
                                          nprocs=2, start_method="spawn")

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


def _clocked_worker(rank, world, port, data, run_dir):
    """A time-budget run whose processes' clocks disagree: rank 0 sees 10 s pass per step, rank 1 30 s."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    import facessl.engine.train as train_module
    from facessl.engine.train import Trainer

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    clock, lrs = SimpleNamespace(now=1000.0), []
    train_module.time = SimpleNamespace(time=lambda: clock.now)
    real_step = Trainer.train_step

    def step(self, batch):
        clock.now += 10.0 if rank == 0 else 30.0
        lrs.append(self.optimizer.param_groups[0]["lr"])
        return real_step(self, batch)

    Trainer.train_step = step
    cfg = tiny_config(data, *[o for o in _overrides() if not o.startswith("optim.schedule")],
                      "optim.schedule=cosine", "train.minutes=1", steps=100, batch=8)
    summary = train(cfg, run_dir, quiet=True)
    Path(run_dir, f"rank{rank}.json").write_text(json.dumps({"step": summary["step"], "lrs": lrs}))


def test_a_time_budget_stops_every_process_after_the_same_step_with_the_same_lr(tmp_path):
    """The processes agree on the mean of their clocks (20 s a step here): 3 steps each, equal lrs."""
    import json

    data = make_track_tree(tmp_path / "data", identities=8, videos=1, tracks=1, frames=2, size=32)
    torch.multiprocessing.start_processes(_clocked_worker, args=(2, _free_port(), str(data), str(tmp_path / "run")),
                                          nprocs=2, start_method="spawn")
    ranks = [json.loads((tmp_path / "run" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["step"] == ranks[1]["step"] == 3
    assert ranks[0]["lrs"] == ranks[1]["lrs"] and len(set(ranks[0]["lrs"])) == 3
