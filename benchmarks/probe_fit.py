"""Linear-probe fit speed: the probe's written-out gradients and Adam against autograd and torch.optim.Adam.

    python benchmarks/probe_fit.py [--rows 2000] [--dims 2048,512] [--repeats 3] [--threads 1]

A demo evaluation is mostly probe fits (2,000 training rows of 2,048-d features, a grid of 5 weight decays,
100 epochs, then a refit of the chosen one). Prints, per probe kind and feature width, the median seconds
of one `fit_predict`
  - before: each step through autograd (the loss, backward) and torch.optim.Adam with a LambdaLR cosine, and
  - now: the loss's gradient on the logits written out, one matrix product for the weights' gradient, and the
    probe's own Adam (facessl.evaluate.probes),
their ratio, and the current probe's optimiser steps per second. The two train the same weights to float rounding
(tests/test_probes.py). One thread by default: that is how the demo's evaluation stages run (two side by side on two
cores).
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from facessl.evaluate import probes
from facessl.evaluate.probes import ProbeConfig, fit_predict

KINDS = {"softmax": 7, "regression": 3, "sigmoid": 8, "landmarks": 136}  # expression classes, yaw/pitch/roll, AUs, 68 points


def autograd_loss(out, y, config, pos_weight, class_weight):
    """The summed grid loss as the probe computed it before (out: (G, N, C))."""
    g = out.shape[0]
    if config.kind == "softmax":
        return F.cross_entropy(out.reshape(-1, out.shape[2]), y.repeat(g), weight=class_weight,
                               reduction="sum") / out.shape[1]
    target = y.expand_as(out)
    if config.kind == "sigmoid":
        return F.binary_cross_entropy_with_logits(out, target, pos_weight=pos_weight, reduction="mean") * g
    diff = out - target
    return (diff.abs() if config.loss == "l1" else diff.pow(2)).mean() * g


def autograd_train_loop(task, weight_decays, config, seed, stop_epoch, eval_set, score):
    """probes._train_loop as it was: autograd, torch.optim.Adam and LambdaLR (same batches, same init)."""
    model = probes._BatchedLinear(task.x.shape[1], task.dim_out, weight_decays, seed, task.device)
    model.weight.requires_grad_()
    model.bias.requires_grad_()
    n = len(task.x)
    batch = n if not config.batch_size else max(1, min(config.batch_size, math.ceil(n / 8)))
    total = config.epochs * math.ceil(n / batch)
    opt = torch.optim.Adam([model.weight, model.bias], lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    xs = task.scaler(task.x)
    balanced = config.kind == "softmax" and config.class_weight == "balanced"
    class_weight = probes.balanced_class_weights(task.y, task.dim_out) if balanced else None
    best = [(-math.inf, 0, None) for _ in weight_decays]
    eval_x = None if eval_set is None else task.prepare(eval_set[0])
    for epoch in range(1, (stop_epoch or config.epochs) + 1):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            batch_x, batch_y = xs.index_select(0, idx), task.y.index_select(0, idx)
            penalty = (model.decay * model.weight.pow(2).sum((1, 2))).sum()
            loss = autograd_loss(model(batch_x), batch_y, config, task.pos_weight, class_weight) + penalty
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if eval_set is not None and (config.select_epoch or epoch == config.epochs):
            outs = task.outputs(model, eval_x)
            for g in range(len(weight_decays)):
                s = score(outs[g], eval_set[1])
                if best[g][2] is None or s > best[g][0] + 1e-12:
                    best[g] = (s, epoch, (model.weight[g].detach().clone(), model.bias[g].detach().clone()))
    model.weight, model.bias = model.weight.detach(), model.bias.detach()
    return model, best


@contextmanager
def autograd_training():
    """Swap in the autograd training loop for the duration."""
    saved = probes._train_loop
    probes._train_loop = autograd_train_loop
    try:
        yield
    finally:
        probes._train_loop = saved


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
            with autograd_training():
                before = fit_seconds(x, y, x_test, config, args.repeats)
            now = fit_seconds(x, y, x_test, config, args.repeats)
            batch = min(config.batch_size, -(-int(args.rows * (1 - config.val_fraction)) // 8))
            steps = 2 * args.epochs * -(-args.rows // batch)  # grid + refit, about
            print(f"{kind:10s} D={dim:5d} C={outputs} | before {before:6.2f} s | now {now:6.2f} s | "
                  f"{before / now:4.2f}x | {steps / now:6.0f} steps/s")


if __name__ == "__main__":
    main()
