"""The supervised row trains to convergence: early stopping on the validation split, best epoch kept."""
import numpy as np

from eval_toys import ToyEncoder, expression_set
from facessl.evaluate import expression
from facessl.evaluate import runner
from facessl.evaluate.baselines import PATIENCE, finetune_fold, run_supervised_task, supervised_key
from facessl.evaluate.protocol import EvalOptions


def _task(options):
    return expression.build(expression_set(n=120), None, options)


def test_training_stops_patience_epochs_after_the_best_validation_score():
    options = EvalOptions(seeds=1, supervised_epochs=40, supervised_lr=1e-2, device="cpu", quiet=True)
    task = _task(options)
    fold = task.folds[0]
    outputs, summary = finetune_fold(ToyEncoder(), fold, task, "fs", 16, options, seed=0)
    # toy classes are colours: validation accuracy saturates early, so training ends well before the cap
    assert summary["epochs_run"] == summary["epochs"] + PATIENCE < 40
    assert summary["selected_on"].startswith("validation")
    assert np.mean(outputs.argmax(1) == fold.y_test) > 0.9


def test_the_cap_ends_training_when_validation_keeps_improving():
    options = EvalOptions(seeds=1, supervised_epochs=2, device="cpu", quiet=True)
    task = _task(options)
    _, summary = finetune_fold(ToyEncoder(), task.folds[0], task, "fs", 16, options, seed=0)
    assert summary["epochs_run"] == 2 and 1 <= summary["epochs"] <= 2


def test_supervised_seeds_are_separate_training_runs_reported_with_their_spread():
    options = EvalOptions(seeds=1, supervised_epochs=2, supervised_seeds=2, device="cpu", quiet=True)
    task = _task(options)
    row = run_supervised_task(ToyEncoder(), task, "fs", 16, options, seeds=options.supervised_seeds)
    accuracy = row["metrics"]["accuracy"]
    assert len(accuracy["per_seed"]) == 2 and [s["seed"] for s in row["selection"]] == [0, 1]
    assert accuracy["mean"] == np.mean(accuracy["per_seed"]) and accuracy["std"] == np.std(accuracy["per_seed"])
    one = run_supervised_task(ToyEncoder(), task, "fs", 16, options, seeds=1)
    assert one["metrics"]["accuracy"]["per_seed"] == accuracy["per_seed"][:1]  # seed 0 is the one-seed row


def test_more_supervised_seeds_change_the_options_hash():
    # (one seed keeps the hash of before the option: test_eval_protocols' hash check leaves the key out)
    assert runner.options_hash(EvalOptions(supervised_seeds=3), ["fs"], ["supervised"]) != \
        runner.options_hash(EvalOptions(), ["fs"], ["supervised"])


def test_the_supervised_row_trains_in_the_precision_asked_and_says_which():
    import pytest
    import torch

    from facessl.errors import FacesslError

    task = _task(EvalOptions(seeds=1, device="cpu", quiet=True))
    rows = {}
    for precision in ("fp32", "bf16"):
        options = EvalOptions(seeds=1, supervised_epochs=40, supervised_lr=1e-2, supervised_precision=precision,
                              device="cpu", quiet=True)
        rows[precision] = run_supervised_task(ToyEncoder(), task, "fs", 16, options)
        assert rows[precision]["precision"] == precision and rows[precision]["selection"][0]["precision"] == precision
        assert rows[precision]["metrics"]["accuracy"]["mean"] > 0.9  # bf16 autocast still learns the toy classes
    assert "bf16 autocast" in rows["bf16"]["training"] and "bf16" not in rows["fp32"]["training"]
    # the two precisions are different computations: their fine-tunes must not share a cache entry
    fold = task.folds[0]
    keys = {p: supervised_key(ToyEncoder(), fold, task, "fs", 16, EvalOptions(supervised_precision=p, device="cpu"), 0)
            for p in ("fp32", "bf16")}
    assert keys["fp32"] != keys["bf16"]
    auto = EvalOptions(seeds=1, supervised_epochs=1, device="cpu", quiet=True)
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert finetune_fold(ToyEncoder(), fold, task, "fs", 16, auto, seed=0)[1]["precision"] == ("bf16" if native else "fp32")
    with pytest.raises(FacesslError, match="supervised precision 'fp16': expected auto, fp32 or bf16"):
        finetune_fold(ToyEncoder(), fold, task, "fs", 16, EvalOptions(supervised_precision="fp16", device="cpu"), seed=0)


def test_the_supervised_row_starts_from_pytorchs_default_init_not_the_architectures(monkeypatch):
    """Its recipe was chosen from a re-initialised copy (baselines.supervised_init); an encoder's config, which
    gives the random row its init, is not used here."""
    def no_build(cfg):
        raise AssertionError("the supervised row built the architecture from its config")

    monkeypatch.setattr("facessl.methods.build_method", no_build)
    options = EvalOptions(seeds=1, supervised_epochs=1, device="cpu", quiet=True)
    task = _task(options)
    encoder = ToyEncoder()
    encoder.config = "a config"
    finetune_fold(encoder, task.folds[0], task, "fs", 16, options, seed=0)


def test_the_supervised_learning_rate_is_the_tasks_unless_one_is_given(monkeypatch):
    """Landmarks train at 3e-3 and every other task at 1e-3 (chosen on the validation build); --supervised-lr
    sets one rate for all. The rate that trained is the one the row reports, and it is part of the cache key."""
    import torch

    from eval_toys import landmark_set
    from facessl.evaluate import landmarks
    from facessl.evaluate.baselines import supervised_lr

    assert supervised_lr(EvalOptions(), "landmarks") == 3e-3
    assert supervised_lr(EvalOptions(), "expression") == supervised_lr(EvalOptions(), "pose") == 1e-3
    assert supervised_lr(EvalOptions(supervised_lr=5e-4), "landmarks") == 5e-4
    seen = []
    adam = torch.optim.Adam

    def recording_adam(params, lr):
        seen.append(lr)
        return adam(params, lr=lr)

    monkeypatch.setattr(torch.optim, "Adam", recording_adam)
    options = EvalOptions(seeds=1, supervised_epochs=1, device="cpu", quiet=True)
    marks = landmarks.build(landmark_set(), None, options)
    row = run_supervised_task(ToyEncoder(), marks, "fs", 16, options)
    assert seen == [3e-3] and "Adam lr 0.003 with" in row["training"]
    faces = _task(options)
    assert "Adam lr 0.001 with" in run_supervised_task(ToyEncoder(), faces, "fs", 16, options)["training"]
    key = lambda task, opts: supervised_key(ToyEncoder(), task.folds[0], task, "fs", 16, opts, 0)
    explicit = EvalOptions(seeds=1, supervised_epochs=1, supervised_lr=1e-3, device="cpu", quiet=True)
    assert key(marks, options) != key(marks, explicit)  # another rate, another fine-tune
    assert key(faces, options) == key(faces, explicit)  # the same rate: the cached fine-tune stays valid
