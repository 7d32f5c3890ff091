"""Linear probes: they recover known linear maps, select on validation only, standardise on train only."""
import numpy as np
import pytest

from facessl.errors import FacesslError
from facessl.evaluate.probes import SELECTED_ON_TEST, SELECTED_ON_VALIDATION, ProbeConfig, fit_predict
from facessl.evaluate.protocol import Fold, Part, ProbeTask, run_probe_task
from facessl.evaluate.splits import carve_validation, subject_folds



def linear_data(n=400, d=20, out=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32) * rng.uniform(0.5, 20, d) + rng.normal(0, 50, d)  # unscaled
    w = rng.normal(size=(d, out))
    return x, w, rng


def test_softmax_probe_recovers_linear_classes():
    x, w, _ = linear_data(n=700)
    z = (x - x.mean(0)) / x.std(0)
    y = (z @ w).argmax(1)
    r = fit_predict(x[:600], y[:600], x[600:], ProbeConfig(kind="softmax", epochs=30), device="cpu")
    assert r.predictions.shape == (100, 3)
    np.testing.assert_allclose(r.predictions.sum(1), 1.0, atol=1e-5)
    assert np.mean(r.predictions.argmax(1) == y[600:]) > 0.9
    assert r.selected_on == SELECTED_ON_VALIDATION


@pytest.mark.parametrize("loss", ["l1", "l2"])
def test_regression_probe_recovers_linear_map(loss):
    x, w, rng = linear_data(out=2)
    y = ((x - x.mean(0)) / x.std(0)) @ w * 10 + 5 + rng.normal(0, 0.05, (len(x), 2))
    r = fit_predict(x[:300], y[:300], x[300:], ProbeConfig(kind="regression", loss=loss, epochs=40), device="cpu")
    error = np.abs(r.predictions - y[300:]).mean()
    assert error < 0.05 * np.abs(y[300:] - y[300:].mean(0)).mean()


def test_sigmoid_probe_learns_multilabel():
    x, w, _ = linear_data(out=4)
    labels = (((x - x.mean(0)) / x.std(0)) @ w > 0.5).astype(np.float32)
    r = fit_predict(x[:300], labels[:300], x[300:], ProbeConfig(kind="sigmoid", epochs=30, pos_weight="balanced"),
                    device="cpu")
    assert r.predictions.min() >= 0 and r.predictions.max() <= 1
    assert np.mean((r.predictions > 0.5) == labels[300:]) > 0.85


def test_weight_decay_is_chosen_at_the_last_epoch_unless_select_epoch():
    """Default: the grid is scored once, after the whole schedule, and the refit runs all epochs; with
    select_epoch the best epoch of the validation curve is kept (early stopping)."""
    x, w, rng = linear_data(n=300, d=60)
    y = np.where(rng.random(300) < 0.3, rng.integers(0, 3, 300), (x[:, :3] @ w[:3]).argmax(1))  # 30 % noise
    calls = []
    score = lambda out, y: calls.append(1) or float(np.mean(out.argmax(1) == y))
    r = fit_predict(x[:200], y[:200], x[200:], ProbeConfig(kind="softmax", epochs=12), score=score, device="cpu")
    assert r.epochs == 12 and len(calls) == 5  # one score per grid entry
    assert set(r.grid_scores) == {0.0, 1e-2, 1e-1, 1.0, 10.0}
    calls.clear()
    e = fit_predict(x[:200], y[:200], x[200:], ProbeConfig(kind="softmax", epochs=12, select_epoch=True),
                    score=score, device="cpu")
    assert len(calls) == 5 * 12 and 1 <= e.epochs <= 12


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_classes_are_selected_on_the_validation_cross_entropy(class_weight):
    """The selection score is minus scikit-learn's log loss (balanced: each class weighs the same), and the
    chosen weight decay is the grid entry with the lowest one, whatever the accuracies say."""
    from sklearn.metrics import log_loss
    from sklearn.utils.class_weight import compute_sample_weight

    from facessl.evaluate.probes import default_score

    rng = np.random.default_rng(1)
    y = np.array([0] * 40 + [1] * 12 + [2] * 8)
    out = rng.dirichlet(np.ones(3), size=len(y))
    weights = compute_sample_weight("balanced", y) if class_weight else None
    expected = -log_loss(y, out, sample_weight=weights, labels=[0, 1, 2])
    assert default_score("softmax", class_weight)(out, y) == pytest.approx(expected, rel=1e-9)

    x, w, rng = linear_data(n=300, d=60, seed=2)
    y = np.where(rng.random(300) < 0.4, rng.integers(0, 3, 300), (x[:, :3] @ w[:3]).argmax(1))  # 40 % noise
    cfg = ProbeConfig(kind="softmax", epochs=12, class_weight=class_weight)
    r = fit_predict(x[:200], y[:200], x[200:], cfg, seed=3, device="cpu")
    # the refit on the same carve and seed, scored independently: the choice has the lowest validation log loss
    tr, va = carve_validation(200, cfg.val_fraction, np.random.default_rng(3), stratify=y[:200])
    losses = {}
    for wd in cfg.weight_decays:
        one = fit_predict(x[:200][tr], y[:200][tr], x[:200][va], ProbeConfig(kind="softmax", epochs=12,
                          class_weight=class_weight, weight_decays=(wd,), refit=False, val_fraction=cfg.val_fraction),
                          seed=3, device="cpu", val=(x[:200][va], y[:200][va]))
        sw = compute_sample_weight("balanced", y[:200][va]) if class_weight else None
        losses[wd] = log_loss(y[:200][va], one.predictions, sample_weight=sw, labels=[0, 1, 2])
    assert r.weight_decay == min(losses, key=losses.get)
    assert -r.val_score == pytest.approx(losses[r.weight_decay], rel=2e-2)  # one fit vs one entry of the batched
                                                                         # fit: other initial weights


def test_the_eval_cli_passes_the_grid_and_epoch_choice():
    from types import SimpleNamespace

    from facessl.commands.eval import options_from_args
    args = SimpleNamespace(seeds=1, epochs=5, size=None, paper_protocol=False, au_positive=2.0, verification="10fold", verification_center=False,
                           threshold=None, supervised_epochs=1, supervised_seeds=2, identity_epochs=None, random_inits=3, supervised_lr=2e-3, supervised_precision="fp32", balanced=False, device="cpu", amp=False, quiet=True,
                           weight_decays="0, 1e-2", select_epoch=True, cv=0)
    options = options_from_args(args)
    probe = options.probe("softmax")
    assert probe.weight_decays == (0.0, 0.01) and probe.select_epoch
    assert options.supervised_seeds == 2 and options.random_inits == 3 and options.supervised_lr == 2e-3
    assert options.supervised_precision == "fp32"


def test_predictions_use_training_statistics_only():
    """Standardisation comes from the training rows: a test row's output ignores the other test rows."""
    x, w, _ = linear_data()
    y = (x @ w).argmax(1)
    cfg = ProbeConfig(kind="softmax", epochs=5)
    full = fit_predict(x[:300], y[:300], x[300:], cfg, seed=3, device="cpu").predictions
    part = fit_predict(x[:300], y[:300], x[300:310] * 1.0, cfg, seed=3, device="cpu").predictions
    np.testing.assert_allclose(full[:10], part, rtol=1e-5, atol=1e-6)


def test_a_feature_constant_on_the_training_rows_cannot_blow_up_a_test_prediction():
    # a ReLU unit that never fires on the training images but fires on a test image (seen on MAFL:
    # standardised by its ~0 spread it reached ~2e5 and the probe's NME went from 16 to 90-160 %)
    x, w, rng = linear_data(out=2)
    y = ((x - x.mean(0)) / x.std(0)) @ w + rng.normal(0, 0.05, (len(x), 2))
    dead = np.zeros((len(x), 1), np.float32)
    dead[300:] = rng.uniform(0.1, 1.0, (len(x) - 300, 1))  # zero on every training row, alive on test
    with_dead = np.concatenate([x, dead], 1)
    cfg = ProbeConfig(kind="regression", epochs=20)
    plain = fit_predict(x[:300], y[:300], x[300:], cfg, seed=0, device="cpu").predictions
    robust = fit_predict(with_dead[:300], y[:300], with_dead[300:], cfg, seed=0, device="cpu").predictions
    error = lambda p: float(np.abs(p - y[300:]).mean())  # noqa: E731
    assert error(robust) < 1.2 * error(plain) + 0.02  # (the unit's extra input changes the init a little)
    assert np.abs(robust).max() < 2 * np.abs(y).max()


def _task(x, y, paper):
    from facessl.data.formats.common import ImageSet

    images = ImageSet(np.zeros((len(x), 1, 1, 3), np.uint8))
    fold = Fold(Part(images, np.arange(300)), y[:300], Part(images, np.arange(300, len(x))), y[300:])
    metric = lambda out, t, meta: {"accuracy": float(np.mean(out.argmax(1) == t))}
    cfg = ProbeConfig(kind="softmax", epochs=12, weight_decays=(0.0, 1e-3, 1e-1), paper_protocol=paper)
    return ProbeTask("toy", cfg, [fold], metric), (lambda part: x[part.index])


def test_selection_ignores_test_labels():
    x, w, rng = linear_data()
    y = (((x - x.mean(0)) / x.std(0)) @ w).argmax(1)
    task, feats = _task(x, y, paper=False)
    first = run_probe_task(task, feats, seeds=2, device="cpu")
    task.folds[0].y_test = rng.permutation(task.folds[0].y_test)
    second = run_probe_task(task, feats, seeds=2, device="cpu")
    keys = ("weight_decay", "epochs", "val_score", "grid_scores")
    assert [{k: s[k] for k in keys} for s in first["selection"]] == [{k: s[k] for k in keys} for s in second["selection"]]
    assert first["metrics"]["accuracy"]["mean"] > second["metrics"]["accuracy"]["mean"]


def test_paper_protocol_selects_on_test_and_says_so():
    x, w, rng = linear_data()
    y = (x @ w).argmax(1)
    task, feats = _task(x, y, paper=True)
    result = run_probe_task(task, feats, seeds=1, device="cpu")
    assert result["paper_protocol"] and result["selected_on"] == SELECTED_ON_TEST
    with pytest.raises(FacesslError, match="test labels"):
        fit_predict(x[:300], y[:300], x[300:], ProbeConfig(paper_protocol=True), device="cpu")
    # the reference's protocol: its best epoch by TEST accuracy (not the cross-entropy of the default selection)
    r = fit_predict(x[:300], y[:300], x[300:], ProbeConfig(paper_protocol=True, epochs=5), y_test=y[300:], device="cpu")
    assert r.val_score == pytest.approx(np.mean(r.predictions.argmax(1) == y[300:]), abs=2e-3)


def test_explicit_validation_set_is_used():
    x, w, _ = linear_data()
    y = (x @ w).argmax(1)
    r = fit_predict(x[:250], y[:250], x[300:], ProbeConfig(kind="softmax", epochs=5), val=(x[250:300], y[250:300]),
                    device="cpu")
    assert r.selected_on == "validation split given by the dataset"


def test_carve_validation_groups_and_strata():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 10)
    train, val = carve_validation(200, 0.15, rng, groups=groups)
    assert not set(groups[train]) & set(groups[val])
    assert 20 <= len(val) <= 40 and len(train) + len(val) == 200
    labels = np.repeat([0, 1, 2, 3], [100, 50, 30, 20])
    train, val = carve_validation(200, 0.2, rng, stratify=labels)
    assert np.bincount(labels[val]).tolist() == [20, 10, 6, 4]
    train, val = carve_validation(10, 0.2, rng)
    assert len(val) == 2 and sorted(np.concatenate([train, val]).tolist()) == list(range(10))


@pytest.mark.parametrize("seed", range(6))
def test_grouped_carve_is_stratified_even_when_three_people_hold_a_class(seed):
    """Class 1 is 160 photos of three people plus 10 of others (the shared set's disgust: three people hold
    172 of 173); class 0 is 400 people with 2 photos each. A carve of whole random people gives class 1
    none or two of the three (0-65 % of it); the grouped stratified carve keeps every class near 15 %."""
    groups = np.concatenate([np.repeat([0, 1, 2], [60, 50, 50]), 3 + np.arange(10), 100 + np.arange(800) // 2])
    labels = np.concatenate([np.ones(170, int), np.zeros(800, int)])
    fit, val = carve_validation(len(labels), 0.15, np.random.default_rng(seed), groups=groups, stratify=labels)
    assert not set(groups[fit]) & set(groups[val]) and len(fit) + len(val) == len(labels)
    share = [np.mean(np.isin(np.flatnonzero(labels == c), val)) for c in (0, 1)]
    assert 0.1 <= share[0] <= 0.2 and 0.05 <= share[1] <= 0.36, share


def test_a_carve_whose_groups_are_single_rows_is_the_plain_stratified_carve():
    """A CSV without --group makes every photo its own group: nothing to keep together, so no placement
    search (at 100k photos it costs ~12 s a carve) and the classes split exactly in proportion."""
    labels = np.repeat([0, 1, 2], [100, 60, 40])
    a = carve_validation(200, 0.2, np.random.default_rng(5), groups=np.arange(200).astype(str), stratify=labels)
    b = carve_validation(200, 0.2, np.random.default_rng(5), stratify=labels)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert np.bincount(labels[a[1]]).tolist() == [20, 12, 8]


def test_subject_folds_are_exclusive_and_cover():
    subjects = np.array([f"SN{i % 7:03d}" for i in range(70)])
    folds = subject_folds(subjects, 3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(70))
    for a in range(3):
        for b in range(a + 1, 3):
            assert not set(subjects[folds[a]]) & set(subjects[folds[b]])
    with pytest.raises(FacesslError, match="subjects"):
        subject_folds(["a", "b"], 3)


def test_balanced_class_weights_equal_scikit_learns():
    import torch
    from sklearn.utils.class_weight import compute_class_weight

    from facessl.evaluate.probes import balanced_class_weights

    y = np.array([0] * 50 + [1] * 5 + [3] * 20)  # class 2 absent
    ours = balanced_class_weights(torch.as_tensor(y), 4).numpy()
    theirs = compute_class_weight("balanced", classes=np.array([0, 1, 3]), y=y)
    np.testing.assert_allclose(ours[[0, 1, 3]], theirs, rtol=1e-6)
    assert ours[2] == 0


def test_balanced_probe_raises_mean_class_accuracy_on_imbalanced_classes():
    from facessl.evaluate.metrics import mean_class_accuracy

    rng = np.random.default_rng(0)
    counts = [900, 60, 40]  # a majority class and two rare ones, overlapping
    x = np.concatenate([rng.normal(c * 1.2, 1.0, (n, 8)) for c, n in enumerate(counts)]).astype(np.float32)
    y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    train, test = slice(0, 700), slice(700, None)
    scores = {}
    for weight in (None, "balanced"):
        cfg = ProbeConfig(kind="softmax", epochs=30, class_weight=weight)
        pred = fit_predict(x[train], y[train], x[test], cfg, seed=0, device="cpu").predictions.argmax(1)
        scores[weight] = mean_class_accuracy(pred, y[test])
    assert scores["balanced"] > scores[None] + 0.05


def test_the_batched_grid_is_g_independent_linear_maps_written_out_naively():
    """The grid's G maps share one (G*C, D) product; each must equal x @ W_g + b_g with W_g drawn (D, C)
    from the seed, and its weight gradient must be its own map's alone plus its L2 penalty's 2 * decay_g * W_g."""
    import torch

    from facessl.evaluate.probes import _BatchedLinear

    decays, (n, d, c) = (0.0, 0.1, 10.0), (9, 6, 4)
    model = _BatchedLinear(d, c, decays, seed=3, device=torch.device("cpu"))
    gen = torch.Generator().manual_seed(3)
    drawn = (torch.rand(len(decays), d, c, generator=gen) * 2 - 1) / np.sqrt(d)  # (G, D, C), as seeded
    model.bias += torch.arange(len(decays) * c, dtype=torch.float32).view(len(decays), 1, c)
    x = torch.randn(n, d)
    out = model(x)
    assert out.shape == (len(decays), n, c)
    for g in range(len(decays)):
        naive = np.asarray(x) @ np.asarray(drawn[g]) + np.asarray(model.bias[g])
        np.testing.assert_allclose(out[g].numpy(), naive, rtol=1e-5, atol=1e-5)
    d_logits = torch.zeros(len(decays), c, n)  # the training layout (G, C, N)
    d_logits[1] = 1.0  # the gradient of out[1].sum()
    grad_w, grad_b = model.gradients(x, d_logits)
    for g, decay in enumerate(decays):
        own = np.repeat(np.asarray(x).sum(0)[None], c, axis=0) if g == 1 else 0.0
        np.testing.assert_allclose(grad_w[g].numpy(), own + 2 * decay * drawn[g].numpy().T, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad_b[g].numpy(), np.full((1, c), n if g == 1 else 0.0))


def _autograd_reference(task, weight_decays, config, seed, epochs):
    """The probe's training written the plain way: autograd through each grid entry's loss formula, torch.optim.Adam
    and a LambdaLR cosine, from the same initial weights and batch order."""
    import math

    import torch

    from facessl.evaluate.probes import _BatchedLinear, balanced_class_weights

    init = _BatchedLinear(task.x.shape[1], task.dim_out, weight_decays, seed, "cpu")
    weight, bias = init.weight.clone().requires_grad_(), init.bias.clone().requires_grad_()
    n = len(task.x)
    batch = max(1, min(config.batch_size, math.ceil(n / 8)))
    total = config.epochs * math.ceil(n / batch)
    opt = torch.optim.Adam([weight, bias], lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    gen = torch.Generator().manual_seed(seed + 1)
    xs = task.scaler(task.x)
    class_weight = balanced_class_weights(task.y, task.dim_out) if config.class_weight == "balanced" else None
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            x, y = xs[idx], task.y[idx]
            loss = 0.0
            for g, decay in enumerate(weight_decays):
                z = x @ weight[g].t() + bias[g]
                if config.kind == "softmax":
                    w = torch.ones(len(y)) if class_weight is None else class_weight[y]
                    term = -(w * torch.log_softmax(z, 1)[torch.arange(len(y)), y]).sum() / len(y)
                elif config.kind == "sigmoid":
                    p = torch.ones(z.shape[1]) if task.pos_weight is None else task.pos_weight
                    term = -(p * y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z))).mean()
                else:
                    term = ((z - y).abs() if config.loss == "l1" else (z - y) ** 2).mean()
                loss = loss + term + decay * (weight[g] ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return weight.detach(), bias.detach()


@pytest.mark.parametrize("kind,extra", [("softmax", {}), ("softmax", {"class_weight": "balanced"}),
                                        ("sigmoid", {"pos_weight": "balanced"}), ("sigmoid", {}),
                                        ("regression", {"loss": "l2"})])
def test_the_probe_trains_as_autograd_and_torch_adam_would(kind, extra):
    """The probe's gradients are written out (no autograd) and its Adam is its own: after 3 epochs the 5 maps'
    weights equal the plain formulation's to float rounding."""
    import torch

    from facessl.evaluate.probes import _Task, _train

    x, w, rng = linear_data(n=300, d=24, out=4, seed=5)
    z = ((x - x.mean(0)) / x.std(0)) @ w
    y = {"softmax": np.where(z[:, 0] > 1.5, 0, z[:, 1:].argmax(1) + 1), "sigmoid": (z > 0.8).astype(np.float32),
         "regression": z + rng.normal(0, 0.3, z.shape)}[kind]
    config = ProbeConfig(kind=kind, epochs=10, **extra)
    task = _Task(x, y, config, torch.device("cpu"))
    model, _ = _train(task, config.weight_decays, config, seed=7, stop_epoch=3)
    weight, bias = _autograd_reference(task, config.weight_decays, config, seed=7, epochs=3)
    assert np.abs(weight.numpy()).max() > 0.05  # it trained
    np.testing.assert_allclose(model.weight.numpy(), weight.numpy(), atol=2e-5)
    np.testing.assert_allclose(model.bias.numpy(), bias.numpy(), atol=2e-5)


@pytest.mark.parametrize("kind,extra", [("softmax", {"class_weight": "balanced"}), ("sigmoid", {"pos_weight": "balanced"}),
                                        ("regression", {"loss": "l1"}), ("regression", {"loss": "l2"})])
def test_the_written_out_loss_gradient_is_autograds(kind, extra):
    """One step's gradient on the logits, every loss. (L1 is not in the training comparison above: its gradient is
    a sign, so a residual within rounding of 0 flips one output's step and Adam carries it on.)"""
    import torch

    from facessl.evaluate.probes import _loss_gradient

    n, g, c = 40, 3, 4
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(g, c, n, generator=gen).requires_grad_()  # the training layout
    if kind == "softmax":
        y = torch.randint(0, c, (n,), generator=gen)
        weights = torch.rand(c, generator=gen) + 0.5
        loss = sum(-(weights[y] * torch.log_softmax(logits[k].t(), 1)[torch.arange(n), y]).sum() / n for k in range(g))
    elif kind == "sigmoid":
        y = (torch.rand(n, c, generator=gen) < 0.3).float()
        weights = torch.rand(c, generator=gen) * 3 + 1
        s = torch.sigmoid(logits.transpose(1, 2))
        loss = sum(-(weights * y * torch.log(s[k]) + (1 - y) * torch.log(1 - s[k])).mean() for k in range(g))
    else:
        y, weights = torch.randn(n, c, generator=gen), None
        loss = sum(((logits[k].t() - y).abs() if extra["loss"] == "l1" else (logits[k].t() - y) ** 2).mean()
                   for k in range(g))
    loss.backward()
    config = ProbeConfig(kind=kind, **extra)
    written = _loss_gradient(logits.detach().clone(), y, config, pos_weight=weights if kind == "sigmoid" else None,
                             class_weight=weights if kind == "softmax" else None)
    np.testing.assert_allclose(written.numpy(), logits.grad.numpy(), rtol=1e-5, atol=1e-7)
