"""Linear-probe fit speed: the batched weight-decay grid's layout and the mini-batch gather.

    python benchmarks/probe_fit.py [--rows 2000] [--dims 2048,512] [--repeats 3] [--threads 1]

A demo evaluation is mostly probe fits (2,000 training rows of 2,048-d features, a grid of 5 weight decays,
100 epochs, then a refit of the chosen one). Prints, per probe kind and feature width, the median seconds
of one `fit_predict` with
  - the layout before (weights (G, D, C), `einsum` -> bmm; rows gathered with `x[idx]`), and
  - the current one (weights (G, C, D), one `F.linear` over a (G*C, D) view; rows by `index_select`),
their ratio, and the current probe's optimiser steps per second. One thread by default: that is how the
demo's evaluation stages run (two side by side on two cores).
"""
from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager

import numpy as np
import torch

from facessl.evaluate import probes
from facessl.evaluate.probes import ProbeConfig, fit_predict

KINDS = {"softmax": 7, "regression": 3, "sigmoid": 8, "landmarks": 136}  # expression classes, yaw/pitch/roll, AUs, 68 points


class EinsumLinear(probes._BatchedLinear):
    """The layout before: (G, D, C) weights through einsum (a bmm of G narrow products)."""

    def __init__(self, dim_in, dim_out, weight_decays, seed, device):
        super().__init__(dim_in, dim_out, weight_decays, seed, device)
        self.weight = self.weight.detach().transpose(1, 2).contiguous().requires_grad_()

    def __call__(self, x):
        return torch.einsum("nd,gdc->gnc", x, self.weight) + self.bias

    def penalty(self):
        return (self.decay * self.weight.pow(2).sum((1, 2))).sum()


@contextmanager
def layout_before():
    """Swap in the earlier map and x[idx] gathers for the duration."""
    saved_linear, saved_select = probes._BatchedLinear, torch.Tensor.index_select
    probes._BatchedLinear = EinsumLinear
    torch.Tensor.index_select = lambda self, dim, index: self[index] if dim == 0 else saved_select(self, dim, index)
    try:
        yield
    finally:
        probes._BatchedLinear, torch.Tensor.index_select = saved_linear, saved_select


def fit_seconds(x, y, x_test, config, repeats):
    fit_predict(x[:64], y[:64], x_test[:8], ProbeConfig(kind=config.kind, loss=config.loss, epochs=1), device="cpu")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit_predict(x, y, x_test, config, seed=0, device="cpu")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--dims", default="2048,512")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.rows} training rows, {args.epochs} epochs, "
          f"grid of {len(probes.WEIGHT_DECAYS)} weight decays + refit; median of {args.repeats}")
    for dim in (int(d) for d in args.dims.split(",")):
        x = rng.normal(size=(args.rows, dim)).astype(np.float32)
        x_test = rng.normal(size=(600, dim)).astype(np.float32)
        for kind, outputs in KINDS.items():
            if kind == "softmax":
                y = rng.integers(0, outputs, args.rows)
            elif kind == "sigmoid":
                y = (rng.random((args.rows, outputs)) < 0.3).astype(np.float32)
            else:
                y = rng.normal(size=(args.rows, outputs)).astype(np.float32)
            config = ProbeConfig(kind="regression" if kind == "landmarks" else kind,
                                 loss="l2" if kind == "landmarks" else "l1", epochs=args.epochs)
            with layout_before():
                before = fit_seconds(x, y, x_test, config, args.repeats)
            now = fit_seconds(x, y, x_test, config, args.repeats)
            batch = min(config.batch_size, -(-int(args.rows * (1 - config.val_fraction)) // 8))
            steps = 2 * args.epochs * -(-args.rows // batch)  # grid + refit, about
            print(f"{kind:10s} D={dim:5d} C={outputs} | before {before:6.2f} s | now {now:6.2f} s | "
                  f"{before / now:4.2f}x | {steps / now:6.0f} steps/s")


if __name__ == "__main__":
    main()
