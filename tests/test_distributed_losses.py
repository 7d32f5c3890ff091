"""Two gloo processes, each with half the batch, equal one process on the whole batch.

Each rank runs a tiny linear "encoder" on its half, computes the loss with negatives gathered
with gradients, and back-propagates. Averaging the rank losses, and the parameter gradients as
DDP does, must reproduce the single-process loss and gradients; input gradients, scaled by 1/world
as DDP's averaging does, must equal the single-process input gradients.
"""
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from facessl.engine import distributed as D
from facessl import losses as L

pytestmark = pytest.mark.distributed
WORLD, N, M, DIN, DOUT = 2, 6, 4, 5, 8


def make_data():
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(N, DIN, generator=g), torch.randn(N, DIN, generator=g)
    negs = torch.randn(M, DIN, generator=g)                 # images whose features are negatives
    weight = torch.randn(DOUT, DIN, generator=g)
    return x1, x2, negs, weight


def losses_and_grads(x1, x2, negs, weight, gather=True):
    x1, x2, negs = (t.clone().requires_grad_(True) for t in (x1, x2, negs))
    w = weight.clone().requires_grad_(True)
    out = {}
    for name in ("nt_xent", "pose"):
        if name == "nt_xent":
            loss = L.nt_xent(x1 @ w.T, x2 @ w.T, temperature=0.2, gather=gather)
        else:
            loss = L.pose_contrastive(x1 @ w.T, x2 @ w.T, negs @ w.T, temperature=0.07, gather=gather)
        grads = torch.autograd.grad(loss, (x1, x2, negs, w), allow_unused=True)
        gx1, gx2, gneg, gw = (torch.zeros_like(t) if g is None else g for g, t in zip(grads, (x1, x2, negs, w)))
        out.update({f"{name}.loss": loss.detach().reshape(1), f"{name}.x1": gx1, f"{name}.x2": gx2,
                    f"{name}.neg": gneg, f"{name}.w": gw})
    return out


def worker(rank, port, outdir):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    assert D.init_from_env() is True
    try:
        assert D.is_distributed() and D.world_size() == WORLD and D.rank() == rank and D.is_main() == (rank == 0)
        x1, x2, negs, weight = make_data()
        half, mhalf = slice(rank * N // WORLD, (rank + 1) * N // WORLD), slice(rank * M // WORLD, (rank + 1) * M // WORLD)
        out = losses_and_grads(x1[half], x2[half], negs[mhalf], weight)
        local = losses_and_grads(x1[half], x2[half], negs[mhalf], weight, gather=False)
        out["nt_xent.loss_nogather"] = local["nt_xent.loss"]
        out["mean_rank"] = D.all_reduce_mean(torch.tensor([float(rank)]))
        out["gathered"] = D.gather_no_grad(torch.full((2,), float(rank)))
        D.barrier()
        save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(outdir, f"rank{rank}.safetensors"))
    finally:
        torch.distributed.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process_on_the_whole_batch(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(WORLD)]
    full = losses_and_grads(*make_data())
    for name in ("nt_xent", "pose"):
        mean_loss = sum(r[f"{name}.loss"] for r in ranks) / WORLD
        torch.testing.assert_close(mean_loss, full[f"{name}.loss"], rtol=1e-5, atol=1e-6)
        # parameter gradients averaged over ranks (what DDP does) = single-process gradients
        torch.testing.assert_close(sum(r[f"{name}.w"] for r in ranks) / WORLD, full[f"{name}.w"], rtol=1e-4, atol=1e-6)
        # input gradients: each rank holds the full gradient of the summed rank losses for its rows
        for key in ("x1", "x2", "neg"):
            got = torch.cat([r[f"{name}.{key}"] for r in ranks]) / WORLD
            torch.testing.assert_close(got, full[f"{name}.{key}"], rtol=1e-4, atol=1e-6)
    # without the gather, each rank only contrasts its own half: a different loss
    nogather = sum(r["nt_xent.loss_nogather"] for r in ranks) / WORLD
    assert abs(nogather.item() - full["nt_xent.loss"].item()) > 1e-3
    assert ranks[0]["mean_rank"].item() == pytest.approx(0.5)
    assert ranks[1]["gathered"].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_helpers_are_no_ops_in_one_process(monkeypatch):
    for var in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert D.init_from_env() is False
    assert not D.is_distributed() and D.world_size() == 1 and D.rank() == 0 and D.is_main()
    x = torch.randn(3, 2, requires_grad=True)
    assert D.gather_with_grad(x) is x and D.gather_no_grad(x) is x
    assert D.all_reduce_mean(x) is x and D.broadcast_object({"a": 1}) == {"a": 1}
    D.barrier()
