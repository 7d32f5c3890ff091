"""Context rows for every table: the same backbone with random weights, and trained with labels.

random:      the checkpoint's architecture, freshly initialised (build_random(), e.g.
             `lambda: facessl.methods.build_method(cfg).encoder()`, or a copy of the encoder with
             every submodule's reset_parameters() called), then probed exactly like the checkpoint.
supervised:  the same architecture from random weights trained end to end with a linear head on the
             task's training split (Adam with a cosine decay, best epoch on the validation part; the
             test set only under the paper protocol), scored with the task's own metrics. Training
             images are shifted by up to 1/16 of their side, and mirrored for the tasks whose labels
             a mirror leaves unchanged (expression, AUs): the rows are only as strong as their training.
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
from facessl.evaluate.features import fastest_device, to_float_images
from facessl.evaluate.images import load_batch
from facessl.evaluate.probes import SELECTED_ON_TEST, SELECTED_ON_VALIDATION, default_score
from facessl.evaluate.protocol import PROBE_VERSION, EvalOptions, ProbeTask, aggregate, concat_meta
from facessl.evaluate.splits import carve_validation


def random_encoder(encoder: nn.Module, seed: int = 0, build_random=None) -> nn.Module:
    """A randomly initialised encoder of the same architecture."""
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


FLIP_INVARIANT_TASKS = ("expression", "au")  # a mirrored face keeps its label (not pose, landmarks)
SHIFTED_TASKS = ("expression", "au", "pose", "pose_classes", "verification")  # landmarks would move


def augment_batch(x: torch.Tensor, task: str, generator: torch.Generator) -> torch.Tensor:
    """Label-preserving augmentation of a float batch (B, C, H, W) for the supervised baseline."""
    n = len(x)
    if task in FLIP_INVARIANT_TASKS:
        flip = torch.rand(n, generator=generator) < 0.5
        x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
    if task in SHIFTED_TASKS:
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, :, 2] = (torch.rand(n, 2, generator=generator) * 2 - 1) / 8  # 1/16 of the side, in [-1, 1] units
        grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return x


def _features(encoder, images, choice):
    out = encoder.features(images)
    return torch.cat([out[name].reshape(len(images), -1) for name in choice.split("+")], dim=1)


class _Targets:
    """Targets on the device in the loss's space, and outputs back in target space (as the probes)."""

    def __init__(self, y, kind, device):
        self.kind = kind
        y = np.asarray(y)
        if kind == "softmax":
            self.y, self.dim = torch.as_tensor(y.astype(np.int64), device=device), int(y.max()) + 1
            return
        t = torch.as_tensor(y.reshape(len(y), -1).astype(np.float32), device=device)
        self.mean, self.std = t.mean(0), t.std(0, unbiased=False).clamp_min(1e-6)
        self.y = (t - self.mean) / self.std if kind == "regression" else t
        self.dim = t.shape[1]

    def output(self, logits):
        if self.kind == "softmax":
            return logits.softmax(-1)
        return logits.sigmoid() if self.kind == "sigmoid" else logits * self.std + self.mean


def _loss(logits, y, probe, pos_weight):
    if probe.kind == "softmax":
        return F.cross_entropy(logits, y)
    if probe.kind == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
    return (logits - y).abs().mean() if probe.loss == "l1" else (logits - y).pow(2).mean()


def _predict(encoder, head, images, choice, targets, device, batch=128):
    encoder.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            outs.append(targets.output(head(_features(encoder, to_float_images(images[s:s + batch], device), choice))))
    return torch.cat(outs).float().cpu().numpy()


def finetune_fold(template, fold, task: ProbeTask, choice, size, options: EvalOptions, seed, build_random=None):
    """Train random-init backbone + linear head on one fold; return (test outputs, selection summary)."""
    device = torch.device(options.device) if options.device else fastest_device()
    probe, score = task.probe, task.score or default_score(task.probe.kind)
    images = load_batch(fold.train.images.images, fold.train.index, size)
    test_images = load_batch(fold.test.images.images, fold.test.index, size)
    if probe.paper_protocol:
        fit, (val_images, y_val), selected_on = np.arange(len(images)), (test_images, fold.y_test), SELECTED_ON_TEST
    elif fold.val is not None:
        fit, selected_on = np.arange(len(images)), "validation split given by the dataset"
        val_images, y_val = load_batch(fold.val.images.images, fold.val.index, size), fold.y_val
    else:
        stratify = fold.y_train if probe.kind == "softmax" else None
        fit, va = carve_validation(len(images), probe.val_fraction, np.random.default_rng(seed), fold.groups, stratify)
        val_images, y_val, selected_on = images[va], fold.y_train[va], SELECTED_ON_VALIDATION
    encoder = random_encoder(template, seed, build_random).to(device).train()
    for p in encoder.parameters():
        p.requires_grad_(True)
    targets = _Targets(fold.y_train[fit], probe.kind, device)
    if probe.kind == "softmax":
        targets.dim = max(targets.dim, int(np.max(fold.y_train)) + 1)
    with torch.no_grad():
        dim = _features(encoder.eval(), to_float_images(images[:2], device), choice).shape[1]
    head = nn.Linear(dim, targets.dim).to(device)
    pos_weight = None
    if probe.kind == "sigmoid" and probe.pos_weight == "balanced":
        pos = targets.y.sum(0)
        pos_weight = ((len(targets.y) - pos) / pos.clamp_min(1)).clamp(1.0, 50.0)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=options.supervised_lr)
    steps_per_epoch = -(-len(fit) // 64)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=options.supervised_epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    best = (-np.inf, 0, None)
    for epoch in range(1, options.supervised_epochs + 1):
        encoder.train()
        order = torch.randperm(len(fit), generator=gen).numpy()
        for s in range(0, len(fit), 64):
            rows = order[s:s + 64]
            x = augment_batch(to_float_images(images[fit[rows]], device), task.task, gen)
            logits = head(_features(encoder, x, choice))
            if not logits.requires_grad:
                raise FacesslError("encoder.features() runs without gradients; the supervised baseline cannot train it")
            loss = _loss(logits, targets.y[torch.as_tensor(rows, device=device)], probe, pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        value = score(_predict(encoder, head, val_images, choice, targets, device), np.asarray(y_val))
        if best[2] is None or value > best[0]:
            best = (float(value), epoch, copy.deepcopy((encoder.state_dict(), head.state_dict())))
    encoder.load_state_dict(best[2][0])
    head.load_state_dict(best[2][1])
    outputs = _predict(encoder, head, test_images, choice, targets, device)
    return outputs, {"seed": seed, "epochs": best[1], "val_score": best[0], "selected_on": selected_on}


def supervised_key(template, fold, task: ProbeTask, choice, size, options: EvalOptions, seed, build_random) -> str:
    """Cache key of one fine-tune: the initial weights, the rows and targets, and every setting."""
    part = lambda p: None if p is None else f"{dataset_fingerprint(p.images)}|{array_hash(p.index)}"
    return cache_key({"kind": "supervised", "version": PROBE_VERSION, "task": task.task,
                      "init": weights_hash(random_encoder(template, seed, build_random)), "choice": choice,
                      "size": size, "seed": seed, "epochs": options.supervised_epochs, "lr": options.supervised_lr,
                      "probe": asdict(task.probe), "info": json.dumps(task.info, sort_keys=True, default=str),
                      "train": part(fold.train), "test": part(fold.test), "val": part(fold.val),
                      "y_train": array_hash(fold.y_train), "y_val": array_hash(fold.y_val),
                      "groups": array_hash(fold.groups),
                      "y_test": array_hash(fold.y_test) if task.probe.paper_protocol else None})


def run_supervised_task(template, task: ProbeTask, choice: str, size: int, options: EvalOptions, seeds: int = 1,
                        build_random=None, cache=None) -> dict:
    per_seed, selection = [], []
    for seed in range(seeds):
        outputs, targets = [], []
        for k, fold in enumerate(task.folds):
            key = None
            if cache is not None and cache.root is not None:
                key = supervised_key(template, fold, task, choice, size, options, seed, build_random)
            hit = cache.load_probe(key) if key else None
            if hit is None:
                out, summary = finetune_fold(template, fold, task, choice, size, options, seed, build_random)
                if key:
                    cache.save_probe(key, out, summary)
            else:
                out, summary = hit
            outputs.append(out)
            targets.append(fold.y_test)
            selection.append({"fold": k, **summary})
        per_seed.append(task.metrics(np.concatenate(outputs), np.concatenate(targets), concat_meta(task.folds)))
    return {"metrics": aggregate(per_seed), "selection": selection, "selected_on": selection[0]["selected_on"],
            "paper_protocol": task.probe.paper_protocol, "feature": choice,
            "training": f"end to end from random weights, Adam lr {options.supervised_lr} with cosine decay, "
                        f"{options.supervised_epochs} epochs, batch 64, shifts"
                        + (" and mirrors" if task.task in FLIP_INVARIANT_TASKS else "")}
