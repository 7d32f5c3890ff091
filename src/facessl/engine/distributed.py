"""Guarded torch.distributed helpers: every function works unchanged in a single process.

Launch with `torchrun --nproc_per_node=K ...`; `init_from_env()` reads RANK / WORLD_SIZE /
LOCAL_RANK / MASTER_ADDR / MASTER_PORT and picks gloo on CPU, nccl on CUDA. Without those
variables it does nothing and every helper below behaves as world size 1.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when a process group is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main() -> bool:
    return rank() == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_from_env(backend: str | None = None) -> bool:
    """Initialise the default process group from torchrun's environment; returns True if it did.

    No-op (returns False) when not launched by torchrun or when already initialised. On CUDA the
    local rank's device becomes the current device.
    """
    if not dist.is_available() or dist.is_initialized() or not launched_by_torchrun():
        return False
    use_cuda = torch.cuda.is_available() and backend in (None, "nccl")
    if use_cuda:
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend or ("nccl" if use_cuda else "gloo"))
    return True


class _GatherWithGrad(torch.autograd.Function):
    """all_gather forward; backward sums every rank's gradient for this rank's rows.

    Written on the public collectives (all_gather, all_reduce / reduce_scatter) so it works on
    gloo and nccl across torch versions (torch.distributed.nn.functional is deprecated).
    """

    @staticmethod
    def forward(ctx, x):
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rows = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()                   # the collectives below work in place
        if dist.get_backend() == "nccl":
            out = torch.empty((ctx.rows, *grad.shape[1:]), device=grad.device, dtype=grad.dtype)
            dist.reduce_scatter_tensor(out, grad, op=dist.ReduceOp.SUM)
            return out
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)       # gloo has no reduce_scatter
        start = dist.get_rank() * ctx.rows
        return grad[start:start + ctx.rows]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` from all ranks along dim 0 -> (world*N, ...), gradients flowing back to each rank.

    The backward pass sums the gradients that every rank's loss sends to this rank's rows; with
    DDP's gradient averaging, a loss computed on the gathered tensor then gives the same
    gradients as one process on the whole batch. Identity in a single process. All ranks must
    pass tensors of the same shape.
    """
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x.contiguous())


@torch.no_grad()
def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenation of `x` from all ranks without gradients (e.g. features for a kNN monitor)."""
    if not is_distributed():
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of `tensor` over ranks (a new tensor; the input is left unchanged). Identity when single."""
    if not is_distributed():
        return tensor
    out = tensor.detach().clone()
    if not out.is_floating_point():
        out = out.double()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / world_size()


def broadcast_object(obj, src: int = 0):
    """`obj` from rank `src` on every rank (e.g. a run directory name chosen by rank 0)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def union_of_sets(items: set) -> set:
    """The union of every rank's set (e.g. the unreadable files each one met). Identity when single."""
    if not is_distributed():
        return set(items)
    parts = [None] * world_size()
    dist.all_gather_object(parts, set(items))
    return set().union(*parts)
