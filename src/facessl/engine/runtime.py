"""Process-level setup for training: seeds, device, precision, DataLoader workers."""
from __future__ import annotations

import random

import numpy as np
import torch

from facessl.engine import distributed as dist
from facessl.errors import FacesslError


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def select_device(name: str) -> torch.device:
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise FacesslError("train.device: cuda requested but no CUDA device is available (use train.device=auto)")
    if torch.cuda.is_available():
        return torch.device("cuda", dist.local_rank())
    return torch.device("cpu")


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' -> 'bf16' on hardware with native bf16, else 'fp32' (bf16 is ~10x slower than fp32 on AVX2 CPUs)."""
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    try:
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    except (AttributeError, RuntimeError):
        return "fp32"


def worker_init(_):
    import signal

    torch.set_num_threads(1)  # decoding workers must not fight the training threads
    # `timeout`, Slurm and Ctrl-C signal the whole process group: a worker that died of it would make the trainer
    # raise before it could save. The trainer stops them itself; one whose trainer is gone exits on its own.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
