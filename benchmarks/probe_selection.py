"""How well does a selection score pick the probe's weight decay? Accuracy against cross-entropy on a carve.

    python benchmarks/probe_selection.py --study study_val --runs study_val/runs/fabnet_seed0 ... \
        [--random-like study_val/runs/fabnet_seed0] [--carves 3]

Reads a `facessl study ... holdout=validation` directory (its data/validation.csv: the train split, and
the carve the study scores on, whose rows the probe never fits). For each run's first feature (and for
random weights of a run's architecture with --random-like): the held-out mean-class accuracy of every
weight decay of the grid, each refitted on the whole train part (the truth), and the entry each score
picks on --carves grouped, stratified carves of the train part, as the probe carves them. Prints the
held-out accuracy of each pick and the mean shortfall from the best entry. The study's test split is
never read.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import facessl
from facessl.config import load_config
from facessl.data.formats.csvtable import read_csv_table
from facessl.evaluate.features import extract
from facessl.evaluate.metrics import mean_class_accuracy
from facessl.evaluate.probes import WEIGHT_DECAYS, ProbeConfig, _Task, _train, default_score, metric_score
from facessl.evaluate.splits import carve_validation
from facessl.methods import build_method

RULES = {"carve accuracy": metric_score, "carve cross-entropy": default_score}


def encoders(args):
    for run in args.runs:
        yield str(run), facessl.load(run)
    if args.random_like:
        cfg = load_config(Path(args.random_like) / "config.yaml")
        torch.manual_seed(0)
        yield f"random weights ({Path(args.random_like).name}'s architecture)", build_method(cfg).encoder()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", required=True, help="a holdout=validation study directory")
    p.add_argument("--runs", nargs="*", default=[], help="run directories to probe")
    p.add_argument("--random-like", default=None, help="also probe random weights of this run's architecture")
    p.add_argument("--carves", type=int, default=3)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args()
    table = Path(args.study) / "data" / "validation.csv"
    images = read_csv_table(table, label_column="label", group_column="group", split_column="split")
    y = np.asarray(images.labels["class"])
    groups = np.asarray(images.labels["group"]).astype(str)
    fit, held = np.flatnonzero(images.split == "train"), np.flatnonzero(images.split == "test")
    config = ProbeConfig(kind="softmax", class_weight="balanced", weight_decays=WEIGHT_DECAYS)
    cpu = torch.device("cpu")
    shortfall = {rule: [] for rule in RULES}
    print(f"{table}: {len(fit)} rows to fit, {len(held)} held out; grid {WEIGHT_DECAYS}")
    for name, encoder in encoders(args):
        x = next(iter(extract(encoder, images, args.size, quiet=True).values()))
        whole = _Task(x[fit], y[fit], config, cpu)
        model, _ = _train(whole, WEIGHT_DECAYS, config, 0)
        truth = [100 * mean_class_accuracy(o.argmax(1), y[held]) for o in whole.outputs(model, x[held])]
        picks = {rule: [] for rule in RULES}
        for seed in range(args.carves):
            a, b = carve_validation(len(fit), config.val_fraction, np.random.default_rng(seed),
                                    groups=groups[fit], stratify=y[fit])
            task = _Task(x[fit][a], y[fit][a], config, cpu)
            carve_model, _ = _train(task, WEIGHT_DECAYS, config, seed)
            outputs = task.outputs(carve_model, x[fit][b])
            for rule, make in RULES.items():
                score = make("softmax", "balanced")
                picks[rule].append(int(np.argmax([score(o, y[fit][b]) for o in outputs])))
        print(f"{name}: held out per weight decay " + ", ".join(f"{w:g}: {t:.2f}" for w, t in zip(WEIGHT_DECAYS, truth)))
        for rule, chosen in picks.items():
            got = float(np.mean([truth[i] for i in chosen]))
            shortfall[rule].append(max(truth) - got)
            print(f"    {rule:20s} picks {[WEIGHT_DECAYS[i] for i in chosen]} -> held out {got:.2f}")
    for rule, values in shortfall.items():
        print(f"mean shortfall from the best weight decay, {rule}: {np.mean(values):.2f} points")


if __name__ == "__main__":
    main()
