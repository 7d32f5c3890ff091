"""Linear probes on cached features, with model selection on a validation split of the training data.

    result = fit_predict(x_train, y_train, x_test, ProbeConfig(kind="softmax"), seed=0, groups=subjects)
    result.predictions      # test outputs: class probabilities, AU probabilities or regression values
    result.weight_decay, result.epochs, result.selected_on

Selection: the weight-decay grid is trained as one batched model (G independent linear maps, one
Adam, the whole cosine schedule), scored on the validation part at the last epoch by the loss it
minimises (cross-entropy for classes: see default_score) unless the task gives its own score (AUs:
mean F1; landmarks: mean point error); the best weight decay is then refitted on
all training data. `select_epoch=True` also scores every epoch and stops
the refit at the best one (early stopping: on a small carve the chosen epoch is noise, 2 to 75 of
100 for one set of features on real expressions). The test set never enters selection unless
`paper_protocol=True`, the reference code's best-epoch-on-test protocol, which every output marks.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from facessl.errors import FacesslError
from facessl.evaluate.features import fastest_device
from facessl.evaluate.splits import carve_validation

SELECTED_ON_VALIDATION = "validation split of the training data"
SELECTED_ON_TEST = "TEST SET (paper protocol: best epoch chosen on test, optimistic)"
# L2 penalty on the weights (added to the mean loss, features standardised). Up to 10: with 1e-2 the top of
# the grid, 91 of 168 choices of the demo and 25 of 33 on real expressions were that edge; with 1, SimCLR's
# 6 probes on real expressions all chose 1.
WEIGHT_DECAYS = (0.0, 1e-2, 1e-1, 1.0, 10.0)


@dataclass
class ProbeConfig:
    kind: str = "softmax"  # softmax (classes), sigmoid (multi-label), regression
    loss: str = "l2"  # regression loss: l1 or l2 (targets are standardised)
    weight_decays: tuple = WEIGHT_DECAYS
    epochs: int = 100
    select_epoch: bool = False  # also choose the epoch on the validation part (always with paper_protocol)
    lr: float = 1e-2  # Adam, cosine schedule (the reference's probe optimiser)
    batch_size: int | None = 512  # None: full batch
    val_fraction: float = 0.15
    pos_weight: str | None = None  # sigmoid: 'balanced' weighs positives by negatives/positives
    class_weight: str | None = None  # softmax: 'balanced' weighs each class by n / (classes * its count)
                                     # and selects on the class-balanced cross-entropy (imbalanced sets, e.g. real expressions)
    refit: bool = True  # refit the chosen setting on train + carved validation
    paper_protocol: bool = False


@dataclass
class ProbeResult:
    predictions: np.ndarray
    weight_decay: float
    epochs: int
    val_score: float
    seed: int
    selected_on: str
    grid_scores: dict = field(default_factory=dict)  # weight decay -> best validation score

    def summary(self) -> dict:
        return {"seed": self.seed, "weight_decay": self.weight_decay, "epochs": self.epochs,
                "val_score": self.val_score, "selected_on": self.selected_on,
                "grid_scores": {str(k): v for k, v in self.grid_scores.items()}}


def default_score(kind: str, class_weight: str | None = None):
    """The probe's selection score, higher is better: minus the validation loss the probe minimises —
    cross-entropy (with class_weight='balanced' the mean over classes of each class's mean), BCE, MAE.

    Why a loss and not accuracy for classes: accuracy on a small carve is a step function of near-tied
    logits. On the real-face validation study, mean-class accuracy on the carve picked weight decay 10
    for one FAb-Net run three times out of three (carve 39-41 %, held out 23.4 %, where 0.01 held out
    39.5 %); over seven feature sets its choices held out 3.4 points below the best weight decay on
    average, the balanced cross-entropy's 1.0 (benchmarks/probe_selection.py, docs/own_data.md)."""
    if kind == "softmax":
        def score(out, y):
            nll = -np.log(np.clip(out[np.arange(len(y)), y], 1e-7, 1))
            if class_weight == "balanced":
                return float(-np.mean([nll[y == c].mean() for c in np.unique(y)]))
            return float(-nll.mean())
        return score
    return metric_score(kind, class_weight)


def metric_score(kind: str, class_weight: str | None = None):
    """Higher is better: accuracy (mean-class accuracy with class_weight='balanced'; ties broken by a
    1e-3 share of the cross-entropy), minus mean BCE, minus mean absolute error. The supervised row's
    early stopping watches this."""
    if kind == "softmax":
        def score(out, y):
            hit = out.argmax(1) == y
            acc = np.mean([hit[y == c].mean() for c in np.unique(y)]) if class_weight == "balanced" else hit.mean()
            return float(acc + 1e-3 * np.mean(np.log(np.clip(out[np.arange(len(y)), y], 1e-7, 1))))
        return score
    if kind == "sigmoid":
        return lambda out, y: float(-np.mean(-(y * np.log(np.clip(out, 1e-7, 1)) +
                                                (1 - y) * np.log(np.clip(1 - out, 1e-7, 1)))))
    return lambda out, y: float(-np.mean(np.abs(out - y.reshape(out.shape))))


def balanced_class_weights(y: torch.Tensor, classes: int) -> torch.Tensor:
    """n / (present classes * count) per class (0 for a class absent from y): every class weighs the same."""
    counts = torch.bincount(y, minlength=classes).float()
    present = (counts > 0).sum().clamp_min(1)
    return torch.where(counts > 0, len(y) / (present * counts.clamp_min(1)), torch.zeros_like(counts))


class _Standardiser:
    """Zero mean, unit variance with the training rows' statistics. A feature (nearly) constant on the
    training rows, e.g. a ReLU unit that never fires there, carries nothing a probe can learn and is
    dropped: divided by its ~0 spread it turned a test image on which it does fire into values of
    ~1e5 (a MAFL probe's NME went from 16 to 90-160 % that way)."""

    def __init__(self, x: torch.Tensor):
        self.mean = x.mean(0, keepdim=True)
        std = x.std(0, keepdim=True, unbiased=False)
        alive = std > max(1e-6, 1e-3 * float(std.median())) if std.numel() else std > 0
        self.scale = torch.where(alive, 1.0 / std.clamp_min(1e-12), torch.zeros_like(std))

    def __call__(self, x):
        return (x - self.mean) * self.scale


class _BatchedLinear:
    """G linear maps trained side by side, one per weight decay, with their gradients written out (no autograd).

    The weights are stored (G, C, D), nn.Linear's (out, in) layout, so that the G maps are one matrix product
    with a (G*C, D) view, and training works on logits laid out (G, C, N): W @ x^T, not x @ W^T. With a few
    outputs and a wide feature (C = 3-8, D = 2,048-8,192) BLAS is up to 2x faster that way round (an 8,192-d pose
    probe's forward 3.2 against 6.6 ms on one thread), and the weights' gradient d @ x then reads d as stored. A
    linear map's gradient is one matrix product, so training skips autograd and torch.optim; it equals their
    result to float rounding (tests/test_probes.py; speed: benchmarks/probe_fit.py)."""

    def __init__(self, dim_in, dim_out, weight_decays, seed, device):
        gen = torch.Generator().manual_seed(seed)
        bound = 1.0 / math.sqrt(dim_in)
        g = len(weight_decays)
        # drawn (G, D, C) as before, so a seed starts from the same weights in the new layout
        init = (torch.rand(g, dim_in, dim_out, generator=gen) * 2 - 1) * bound
        self.weight = init.transpose(1, 2).contiguous().to(device)
        self.bias = torch.zeros(g, 1, dim_out, device=device)
        self.decay = torch.tensor(weight_decays, dtype=torch.float32, device=device)

    def logits(self, x):  # (N, D) -> (G, C, N), the training layout
        g, c, d = self.weight.shape
        return torch.addmm(self.bias.reshape(g * c, 1), self.weight.view(g * c, d), x.t()).view(g, c, len(x))

    def __call__(self, x):  # (N, D) -> (G, N, C)
        return self.logits(x).transpose(1, 2)

    def gradients(self, x, d_logits):
        """(weight, bias) gradients of the summed grid loss, given its gradient on logits(x) (G, C, N); the
        L2 penalty decay * |W|^2 of each map included."""
        g, c, d = self.weight.shape
        grad_w = torch.mm(d_logits.reshape(g * c, len(x)), x).view(g, c, d)
        grad_w.add_(self.weight * (2 * self.decay).view(g, 1, 1))
        return grad_w, d_logits.sum(2).view(g, 1, c)


def _loss_gradient(out, y, config, pos_weight, class_weight=None):
    """Gradient on the logits out (G, C, N) of each grid entry's loss (summed over the grid), which is:
    softmax, the mean cross-entropy (with class_weight, sum of w[y] * CE over N, as F.cross_entropy's sum / N);
    sigmoid, the mean BCE over rows and outputs (positives weighed by pos_weight); regression, the mean squared or
    absolute error over rows and outputs. y: (N,) classes or (N, C) targets."""
    _, c, n = out.shape
    if config.kind == "softmax":
        grad = out.softmax(1)
        grad[:, y, torch.arange(n, device=out.device)] -= 1.0
        if class_weight is not None:
            grad.mul_(class_weight[y].view(1, 1, n))
        return grad.div_(n)
    target = y.t().unsqueeze(0)  # (1, C, N) against (G, C, N)
    if config.kind == "sigmoid":
        # d/dz of -[p*y*log(sigmoid z) + (1-y)*log(1-sigmoid z)] = sigmoid(z) * (p*y + 1 - y) - p*y
        weighted = target if pos_weight is None else target * pos_weight.view(1, c, 1)
        return (out.sigmoid() * (weighted + 1 - target) - weighted).div_(n * c)
    diff = out - target
    return (diff.sign() if config.loss == "l1" else diff.mul_(2)).div_(n * c)


class _Adam:
    """torch.optim.Adam's update (no weight decay, no amsgrad) on a few tensors, in place, with the learning rate
    given at each step: the same arithmetic without the optimiser's per-step bookkeeping."""

    def __init__(self, params, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.betas, self.eps, self.steps = params, betas, eps, 0
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]

    def step(self, grads, lr):
        self.steps += 1
        beta1, beta2 = self.betas
        step_size = lr / (1 - beta1 ** self.steps)
        root_correction = math.sqrt(1 - beta2 ** self.steps)
        for param, grad, (mean, square) in zip(self.params, grads, self.moments):
            mean.lerp_(grad, 1 - beta1)
            square.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            param.addcdiv_(mean, (square.sqrt() / root_correction).add_(self.eps), value=-step_size)


class _Task:
    """Tensors and target transforms for one probe fit."""

    def __init__(self, x, y, config, device):
        self.config, self.device = config, device
        self.x = torch.as_tensor(np.asarray(x, np.float32), device=device)
        self.scaler = _Standardiser(self.x)
        y = np.asarray(y)
        if config.kind == "softmax":
            self.y = torch.as_tensor(y.astype(np.int64), device=device)
            self.dim_out = int(y.max()) + 1
        else:
            yt = torch.as_tensor(y.reshape(len(y), -1).astype(np.float32), device=device)
            if config.kind == "regression":
                self.y_mean, self.y_std = yt.mean(0, keepdim=True), yt.std(0, keepdim=True, unbiased=False).clamp_min(1e-6)
                yt = (yt - self.y_mean) / self.y_std
            self.y = yt
            self.dim_out = yt.shape[1]
        self.pos_weight = None
        if config.kind == "sigmoid" and config.pos_weight == "balanced":
            pos = self.y.sum(0)
            self.pos_weight = ((len(self.y) - pos) / pos.clamp_min(1)).clamp(1.0, 50.0)

    def prepare(self, x) -> torch.Tensor:
        """Rows to score, on the device, standardised with the training statistics."""
        return self.scaler(torch.as_tensor(np.asarray(x, np.float32), device=self.device))

    def outputs(self, model, x) -> np.ndarray:
        """(G, N, C) in target space: probabilities or de-standardised values. x: numpy or prepare(x)."""
        with torch.no_grad():
            out = model(x if isinstance(x, torch.Tensor) else self.prepare(x))
            if self.config.kind == "softmax":
                out = out.softmax(-1)
            elif self.config.kind == "sigmoid":
                out = out.sigmoid()
            else:
                out = out * self.y_std + self.y_mean
        return out.float().cpu().numpy()


@contextmanager
def single_thread_on_cpu(device: torch.device):
    """A probe is thousands of tiny ops; on a busy CPU, extra intra-op threads only add waiting."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(task: _Task, weight_decays, config: ProbeConfig, seed: int, stop_epoch=None, eval_set=None, score=None):
    """Adam with a cosine schedule over config.epochs; stops after stop_epoch. With eval_set, returns the
    best (score, epoch, state) per grid entry."""
    with single_thread_on_cpu(task.device):
        return _train_loop(task, weight_decays, config, seed, stop_epoch, eval_set, score)


def _train_loop(task, weight_decays, config, seed, stop_epoch, eval_set, score):
    model = _BatchedLinear(task.x.shape[1], task.dim_out, weight_decays, seed, task.device)
    n = len(task.x)
    # at least 8 steps per epoch so that small training sets still get enough updates
    batch = n if not config.batch_size else max(1, min(config.batch_size, math.ceil(n / 8)))
    steps_per_epoch = math.ceil(n / batch)
    total = config.epochs * steps_per_epoch
    opt = _Adam([model.weight, model.bias])
    cosine = lambda step: config.lr * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))  # noqa: E731
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    xs = task.scaler(task.x)
    balanced = config.kind == "softmax" and config.class_weight == "balanced"  # (dim_out is final only here)
    class_weight = balanced_class_weights(task.y, task.dim_out) if balanced else None
    best = [(-math.inf, 0, None) for _ in weight_decays]
    eval_x = None if eval_set is None else task.prepare(eval_set[0])
    with torch.no_grad():
        for epoch in range(1, (stop_epoch or config.epochs) + 1):
            order = torch.randperm(n, generator=gen).to(task.device)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                # index_select, not xs[idx]: the same rows, 7x faster on CPU (advanced indexing's generic kernel)
                batch_x, batch_y = xs.index_select(0, idx), task.y.index_select(0, idx)
                d_logits = _loss_gradient(model.logits(batch_x), batch_y, config, task.pos_weight, class_weight)
                opt.step(model.gradients(batch_x, d_logits), lr=cosine(opt.steps))
            if eval_set is not None and (config.select_epoch or config.paper_protocol or epoch == config.epochs):
                outs = task.outputs(model, eval_x)
                for g in range(len(weight_decays)):
                    s = score(outs[g], eval_set[1])
                    s = -math.inf if math.isnan(s) else s
                    if best[g][2] is None or s > best[g][0] + 1e-12:  # ties keep the earlier epoch
                        best[g] = (s, epoch, (model.weight[g].clone(), model.bias[g].clone()))
    return model, best


def _pick(best, weight_decays):
    """Best validation score; ties go to the larger weight decay (simpler model), then the earlier epoch."""
    order = sorted(range(len(weight_decays)), key=lambda g: (-best[g][0], -weight_decays[g], best[g][1]))
    return order[0]


def fit_predict(x_train, y_train, x_test, config: ProbeConfig, seed: int = 0, groups=None, val=None,
                y_test=None, score=None, device=None) -> ProbeResult:
    """Train a linear probe with model selection and return its outputs on x_test.

    groups: (N,) subject/identity of each training row; the validation part is carved by group.
    val: (x_val, y_val) an explicit validation set (e.g. FER-2013 PublicTest); nothing is carved then.
    y_test: only read with config.paper_protocol (selection on the test set).
    score: f(outputs, y) -> float, higher is better (default: default_score, minus cross-entropy / BCE / MAE).
    """
    device = torch.device(device) if device is not None else fastest_device()
    # the paper protocol is the reference's: its best epoch by test accuracy
    score = score or (metric_score if config.paper_protocol else default_score)(config.kind, config.class_weight)
    torch.manual_seed(seed)
    x_train, y_train = np.asarray(x_train, np.float32), np.asarray(y_train)
    wds = tuple(float(w) for w in config.weight_decays)
    if config.paper_protocol:
        if y_test is None:
            raise FacesslError("the paper protocol selects on the test set and needs the test labels")
        fit_x, fit_y, eval_set, selected_on, carved = x_train, y_train, (x_test, np.asarray(y_test)), SELECTED_ON_TEST, False
    elif val is not None:
        fit_x, fit_y, eval_set, selected_on, carved = x_train, y_train, (val[0], np.asarray(val[1])), "validation split given by the dataset", False
    else:
        rng = np.random.default_rng(seed)
        stratify = y_train if config.kind == "softmax" else None
        tr, va = carve_validation(len(x_train), config.val_fraction, rng, groups=groups, stratify=stratify)
        fit_x, fit_y, eval_set = x_train[tr], y_train[tr], (x_train[va], y_train[va])
        selected_on, carved = SELECTED_ON_VALIDATION, True
    task = _Task(fit_x, fit_y, config, device)
    if config.kind == "softmax":  # a class may occur only in the validation rows (e.g. a small FER PublicTest)
        seen = np.concatenate([np.asarray(y_train).ravel(), np.asarray(eval_set[1]).ravel()])
        task.dim_out = max(task.dim_out, int(np.max(seen)) + 1)
    _, best = _train(task, wds, config, seed, eval_set=eval_set, score=score)
    g = _pick(best, wds)
    val_score, epoch, (weight, bias) = best[g]
    grid = {w: best[i][0] for i, w in enumerate(wds)}
    if carved and config.refit:
        full = _Task(x_train, y_train, config, device)
        full.dim_out = task.dim_out
        model, _ = _train(full, (wds[g],), config, seed, stop_epoch=epoch)
        predictions = full.outputs(model, x_test)[0]
    else:
        model = _BatchedLinear(task.x.shape[1], task.dim_out, (wds[g],), seed, device)
        model.weight, model.bias = weight[None], bias[None]
        predictions = task.outputs(model, x_test)[0]
    return ProbeResult(predictions, wds[g], epoch, float(val_score), seed, selected_on, grid)
