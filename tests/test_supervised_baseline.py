"""The supervised row trains to convergence: early stopping on the validation split, best epoch kept."""
import numpy as np

from eval_toys import ToyEncoder, expression_set
from facessl.evaluate import expression
from facessl.evaluate.baselines import PATIENCE, finetune_fold
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
