"""Context rows for every table: the same backbone with random weights, and trained with labels.

random:      the checkpoint's architecture, freshly initialised, then probed exactly like the checkpoint:
             built anew from its config (architecture_builder: the init its pretraining started from,
             e.g. the `small` trunk's Kaiming fan-out convolutions), or, for an encoder without a
             config, a copy with every submodule's reset_parameters() called (PyTorch's default init).
supervised:  the same architecture from PyTorch's default init (supervised_init) trained end to end with a linear head on the
             task's training split (Adam at the task's rate, SUPERVISED_LR, with a cosine decay over at most
             supervised_epochs, early stopping: training ends PATIENCE epochs after the best validation score and that epoch's
             weights are kept; the test set picks the epoch only under the paper protocol), scored with
             the task's own metrics. Training
             images are shifted by up to 1/16 of their side, and mirrored for the tasks whose labels
             a mirror leaves unchanged (expression, AUs, CelebA's attributes, none of which is sided): the rows
             are only as strong as their training.
"""
from __future__ import annotations

import copy
import json
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facessl.errors import FacesslError
from facessl.evaluate.cache import array_hash, cache_key, dataset_fingerprint, weights_hash
from facessl.evaluate.images import load_batch
from facessl.evaluate.probes import SELECTED_ON_TEST, SELECTED_ON_VALIDATION, balanced_class_weights, metric_score
from facessl.evaluate.protocol import (PROBE_VERSION, SUPERVISED_PRECISIONS, EvalOptions, ProbeTask, aggregate,
                                      concat_meta)
from facessl.evaluate.splits import carve_validation


def architecture_builder(encoder):
    """A builder of the encoder's architecture as its method constructs it (its config's init), or None
    when the encoder carries no config (then random_encoder re-initialises a copy)."""
    cfg = getattr(encoder, "config", None)
    if cfg is None:
        return None
    from facessl.methods import build_method

    return lambda: build_method(cfg).encoder()


def random_encoder(encoder: nn.Module, seed: int = 0, build_random=None) -> nn.Module:
    """A randomly initialised encoder of the same architecture: build_random() (see architecture_builder)
    after seeding, else a re-initialised copy."""
    torch.manual_seed(seed)
    if build_random is not None:
        return build_random()
    fresh = copy.deepcopy(encoder)
    covered = set()
    for module in fresh.modules():
        if callable(getattr(module, "reset_parameters", None)):
            module.reset_parameters()
            covered.update(id(p) for p in module.parameters(recurse=False))
    with torch.no_grad():  # parameters owned directly by custom modules: small normal init
        for p in fresh.parameters():
            if id(p) not in covered:
                p.normal_(0.0, 0.02)
    return fresh


FLIP_INVARIANT_TASKS = ("expression", "au", "attributes", "verification")  # a mirrored face keeps its label and its
# identity (not pose, landmarks)
SHIFTED_TASKS = ("expression", "au", "attributes", "pose", "pose_classes", "verification")  # landmarks would move


def augment_batch(x: torch.Tensor, task: str, generator: torch.Generator) -> torch.Tensor:
    """Label-preserving augmentation of a float batch (B, C, H, W) for the supervised baseline."""
    n = len(x)
    if task in FLIP_INVARIANT_TASKS:
        flip = torch.rand(n, generator=generator) < 0.5
        x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
    if task in SHIFTED_TASKS:
        shift = (torch.rand(n, 2, generator=generator) * 2 - 1) / 8  # 1/16 of the side, in [-1, 1] units
        # the identity grid plus each sample's shift: what affine_grid gives for a pure translation, without its
        # (B,H,W,3)x(3,2) product per batch, 9 of the supervised rows' 415 s in the demo (session 29)
        grid = _identity_grid(x.shape[-2], x.shape[-1], x.device, x.dtype) + shift.to(x.device, x.dtype)[:, None, None, :]
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return x


def _identity_grid(height: int, width: int, device, dtype) -> torch.Tensor:
    """(1, H, W, 2) sampling grid of the unmoved image (pixel centres, align_corners=False)."""
    ys = (torch.arange(height, device=device, dtype=dtype) * 2 + 1) / height - 1
    xs = (torch.arange(width, device=device, dtype=dtype) * 2 + 1) / width - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]


def _to_float(images: np.ndarray, device) -> torch.Tensor:
    """uint8 (N,H,W,3) -> float [0,1] (N,3,H,W): the input Encoder.features takes."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def _device(options: EvalOptions) -> torch.device:
    if options.device:
        return torch.device(options.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PRECISION_TEXT = {"fp32": "fp32", "bf16": "bf16 autocast"}
# Adam's learning rate of the supervised row by task (EvalOptions.supervised_lr overrides it), chosen on the validation
# build (docs/demo_study.md, session 25; 25-epoch cap, 2 seeds): landmarks, trained on a few hundred faces, reach a
# 15-18 % lower NME at 3e-3 than at 1e-3 within the cap (300-W 23.4 against 27.9, MAFL 7.7 against 9.4; 5e-3 is
# worse again); at 3e-3 expression and AUs collapse to the majority class and pose is 0.5 degrees worse
SUPERVISED_LR = {"landmarks": 3e-3}
DEFAULT_SUPERVISED_LR = 1e-3
PATIENCE = 5  # epochs without a better validation score before training stops (early stopping)
BATCH = 64


def supervised_lr(options: EvalOptions, task: str) -> float:
    """The supervised row's learning rate on a task ('landmarks', 'pose' ...): the option if given, else the task's."""
    if options.supervised_lr is not None:
        return float(options.supervised_lr)
    return SUPERVISED_LR.get(task, DEFAULT_SUPERVISED_LR)


def finetune_fold(template, fold, task: ProbeTask, choice, size, options: EvalOptions, seed):
    """Train a random-init backbone + linear head on one fold, end to end; return (test outputs, summary).

    Read top to bottom: images -> targets -> model -> training with early stopping on the
    validation split -> predictions of the best epoch on the test rows.
    """
    device = _device(options)
    precision = supervised_precision(options, device)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    probe, score = task.probe, task.score or metric_score(task.probe.kind, task.probe.class_weight)

    # 1. Images (uint8, at the evaluation size) and the validation split that picks the epoch.
    images = load_batch(fold.train.images.images, fold.train.index, size)
    test_images = load_batch(fold.test.images.images, fold.test.index, size)
    fit = np.arange(len(images))
    if probe.paper_protocol:  # the reference protocol: the best epoch on the test set
        val_images, y_val, selected_on = test_images, fold.y_test, SELECTED_ON_TEST
    elif fold.val is not None:
        val_images, y_val = load_batch(fold.val.images.images, fold.val.index, size), fold.y_val
        selected_on = "validation split given by the dataset"
    else:
        stratify = fold.y_train if probe.kind == "softmax" else None
        fit, va = carve_validation(len(images), probe.val_fraction, np.random.default_rng(seed), fold.groups, stratify)
        val_images, y_val, selected_on = images[va], fold.y_train[va], SELECTED_ON_VALIDATION

    # 2. Targets in the loss's space: class ids, 0/1 labels, or standardised regression targets.
    y = np.asarray(fold.y_train[fit])
    if probe.kind == "softmax":
        targets = torch.as_tensor(y.astype(np.int64), device=device)
        out_dim = int(np.max(fold.y_train)) + 1
        to_output = lambda logits: logits.softmax(-1)
    else:
        t = torch.as_tensor(y.reshape(len(y), -1).astype(np.float32), device=device)
        out_dim = t.shape[1]
        if probe.kind == "sigmoid":
            targets, to_output = t, lambda logits: logits.sigmoid()
        else:
            mean, std = t.mean(0), t.std(0, unbiased=False).clamp_min(1e-6)
            targets, to_output = (t - mean) / std, lambda logits: logits * std + mean
    pos_weight = class_weight = None
    if probe.kind == "softmax" and probe.class_weight == "balanced":
        class_weight = balanced_class_weights(targets, out_dim)
    if probe.kind == "sigmoid" and probe.pos_weight == "balanced":
        pos = targets.sum(0)
        pos_weight = ((len(targets) - pos) / pos.clamp_min(1)).clamp(1.0, 50.0)

    # 3. Model: the checkpoint's architecture from random weights, every parameter trained, + a linear head.
    encoder, features = trainable_encoder(template, seed, device, choice)
    encoder.eval()  # the feature width, without touching batch-norm statistics
    with torch.no_grad():
        dim = features(_to_float(images[:2], device)).shape[1]
    head = nn.Linear(dim, out_dim).to(device)

    def predict(rows_images):
        encoder.eval()
        with torch.no_grad(), autocast():
            outs = [to_output(head(features(_to_float(rows_images[s:s + 256], device))).float())
                    for s in range(0, len(rows_images), 256)]
        return torch.cat(outs).float().cpu().numpy()

    def loss_of(logits, y_batch):
        if probe.kind == "softmax":
            return F.cross_entropy(logits, y_batch, weight=class_weight)
        if probe.kind == "sigmoid":
            return F.binary_cross_entropy_with_logits(logits, y_batch, pos_weight=pos_weight)
        return (logits - y_batch).abs().mean() if probe.loss == "l1" else (logits - y_batch).pow(2).mean()

    # 4. Training: Adam with a cosine decay over the epoch cap; stop PATIENCE epochs after the best
    #    validation score and keep that epoch's weights.
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=supervised_lr(options, task.task))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=options.supervised_epochs * -(-len(fit) // BATCH))
    gen = torch.Generator().manual_seed(seed)
    best_score, best_epoch, best_state = -np.inf, 0, None
    for epoch in range(1, options.supervised_epochs + 1):
        encoder.train()
        order = torch.randperm(len(fit), generator=gen).numpy()
        for s in range(0, len(fit), BATCH):
            rows = order[s:s + BATCH]
            x = augment_batch(_to_float(images[fit[rows]], device), task.task, gen)
            with autocast():
                logits = head(features(x)).float()
            if not logits.requires_grad:
                raise FacesslError("encoder.features() runs without gradients; the supervised baseline cannot train it")
            loss = loss_of(logits, targets[torch.as_tensor(rows, device=device)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        value = float(score(predict(val_images), np.asarray(y_val)))
        if best_state is None or value > best_score:
            best_score, best_epoch = value, epoch
            best_state = copy.deepcopy((encoder.state_dict(), head.state_dict()))
        elif epoch - best_epoch >= PATIENCE:
            break

    # 5. Predictions of the best epoch on the test rows.
    encoder.load_state_dict(best_state[0])
    head.load_state_dict(best_state[1])
    return predict(test_images), {"seed": seed, "epochs": best_epoch, "epochs_run": epoch, "val_score": best_score,
                                  "selected_on": selected_on, "precision": precision}


def trainable_encoder(template, seed: int, device: torch.device, choice: str):
    """(encoder from supervised_init with every parameter trainable, features(x) -> the choice's (B, D) features)."""
    encoder = supervised_init(template, seed).to(device)
    if device.type in ("cpu", "cuda"):  # a step 1.11-1.29x faster (benchmarks/supervised_step.py)
        encoder = encoder.to(memory_format=torch.channels_last)
    for p in encoder.parameters():
        p.requires_grad_(True)
    parts = choice.split("+")

    def features(x):
        out = encoder.features(x)
        return torch.cat([out[name].reshape(len(x), -1) for name in parts], dim=1)

    return encoder, features


def supervised_precision(options: EvalOptions, device: torch.device) -> str:
    """'fp32' or 'bf16' (autocast) for the supervised row: 'auto' is bf16 where the hardware computes it natively,
    as train.precision (a step at 64 px 1.7-1.9x faster on a CPU with AVX-512 BF16), fp32 elsewhere (bf16 is several
    times slower than fp32 on AVX2 CPUs)."""
    from facessl.engine.runtime import resolve_precision

    if options.supervised_precision not in SUPERVISED_PRECISIONS:
        raise FacesslError(f"supervised precision {options.supervised_precision!r}: expected "
                           f"{', '.join(SUPERVISED_PRECISIONS[:-1])} or {SUPERVISED_PRECISIONS[-1]}")
    if device.type not in ("cpu", "cuda"):  # autocast's bf16 is checked only there
        return "fp32"
    return resolve_precision(options.supervised_precision, device)


def supervised_init(template, seed: int) -> nn.Module:
    """The supervised row's starting weights: PyTorch's default init of every layer (a re-initialised copy), not
    the architecture's own. Part of its recipe (Adam, learning rate, epoch cap), chosen on the validation build:
    within 25 epochs the `small` trunk from its Kaiming fan-out init trained to RAF-DB 77 % (88 % from this),
    AFLW2000 6.58° (5.06°), 300-W NME 32.1 (26.3), MAFL 12.1 (9.3); DISFA AUC level (docs/demo_study.md, session 24)."""
    return random_encoder(template, seed)


def supervised_key(template, fold, task: ProbeTask, choice, size, options: EvalOptions, seed) -> str:
    """Cache key of one fine-tune: the initial weights, the rows and targets, and every setting."""
    part = lambda p: None if p is None else f"{dataset_fingerprint(p.images)}|{array_hash(p.index)}"
    return cache_key({"kind": "supervised", "version": PROBE_VERSION, "task": task.task,
                      "init": weights_hash(supervised_init(template, seed)), "choice": choice,
                      "size": size, "seed": seed, "epochs": options.supervised_epochs, "patience": PATIENCE, "lr": supervised_lr(options, task.task),
                      "precision": supervised_precision(options, _device(options)),
                      "probe": asdict(task.probe), "info": json.dumps(task.info, sort_keys=True, default=str),
                      "train": part(fold.train), "test": part(fold.test), "val": part(fold.val),
                      "y_train": array_hash(fold.y_train), "y_val": array_hash(fold.y_val),
                      "groups": array_hash(fold.groups),
                      "y_test": array_hash(fold.y_test) if task.probe.paper_protocol else None})


def run_supervised_task(template, task: ProbeTask, choice: str, size: int, options: EvalOptions, seeds: int = 1,
                        cache=None) -> dict:
    per_seed, selection = [], []
    for seed in range(seeds):
        outputs, targets = [], []
        for k, fold in enumerate(task.folds):
            key = None
            if cache is not None and cache.root is not None:
                key = supervised_key(template, fold, task, choice, size, options, seed)
            hit = cache.load_probe(key) if key else None
            if hit is None:
                out, summary = finetune_fold(template, fold, task, choice, size, options, seed)
                if key:
                    cache.save_probe(key, out, summary)
            else:
                out, summary = hit
            outputs.append(out)
            targets.append(fold.y_test)
            selection.append({"fold": k, **summary})
        per_seed.append(task.metrics(np.concatenate(outputs), np.concatenate(targets), concat_meta(task.folds)))
    precision = selection[0].get("precision", "fp32")  # a cached fine-tune of an earlier facessl: fp32
    lr = supervised_lr(options, task.task)
    return {"metrics": aggregate(per_seed), "selection": selection, "selected_on": selection[0]["selected_on"],
            "paper_protocol": task.probe.paper_protocol, "feature": choice,
            "precision": precision, "lr": lr,
            "training": f"end to end from random weights, Adam lr {lr:g} with cosine decay, "
                        f"at most {options.supervised_epochs} epochs, stopped {PATIENCE} epochs after the best validation "
                        f"score (that epoch kept), batch {BATCH}, {PRECISION_TEXT[precision]}, shifts"
                        + (" and mirrors" if task.task in FLIP_INVARIANT_TASKS else "")}
