"""Where a landmark probe stands, and what limits it: python -m facessl.study.landmark_floor.

    python -m facessl.study.landmark_floor --data mafl:DIR --checkpoint RUN [--size 32] [--out DIR]

NME (% of the inter-ocular distance; 5 points: eye centres) on the test split of:
  floor          the mean training shape, whatever the image
  probe          facessl's linear probe (Adam, weight decay chosen on a validation carve), 3 seeds
  ridge          closed-form ridge on the same features (alpha by generalised cross-validation on train):
                 if it is much better than `probe`, the probe's training is the limit
  ridge stage k  ridge on the trunk's map after stage k (more spatial resolution, fewer channels): if it
                 is much better, the final map's resolution (what the probe reads) is the limit
  pixels         ridge on the grey image itself: a reference that learned nothing
for random weights and the checkpoint; the supervised row fine-tunes the whole network (the ceiling a
linear read-out does not reach).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import facessl
from facessl.evaluate import landmarks
from facessl.evaluate.baselines import architecture_builder, random_encoder
from facessl.evaluate.features import to_float_images
from facessl.evaluate.images import load_all
from facessl.evaluate.protocol import EvalOptions, Part
from facessl.evaluate.runner import RANDOM_SEED, evaluate
from facessl.evaluate.suite import TaskSpec, read_dataset


def ridge_nme(x_train, y_train, x_test, y_test, sizes) -> float:
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    model = RidgeCV(alphas=np.logspace(-2, 5, 15)).fit(scaler.transform(x_train), y_train)
    pred = model.predict(scaler.transform(x_test))
    return landmarks.landmark_metrics(pred, y_test, {"sizes": sizes})["nme"]


def stage_maps(encoder, images: np.ndarray, stage: int, batch: int = 256) -> np.ndarray:
    """Flattened trunk map after `stage` (each stage of the small backbone: 6 modules)."""
    backbone = encoder.backbone
    layers = backbone.trunk[: 6 * stage]
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = to_float_images(images[i:i + batch], "cpu")
            out.append(layers(backbone.normalize(x)).flatten(1).numpy())
    return np.concatenate(out)


def analyse(data_text: str, checkpoint: str, size: int, seeds: int, supervised_epochs: int) -> dict:
    data = read_dataset(data_text)
    encoder = facessl.load(checkpoint)
    options = EvalOptions(seeds=seeds, size=size, supervised_epochs=supervised_epochs, quiet=True, device="cpu")
    results = evaluate(encoder, [TaskSpec("landmarks", data_text)], options, baselines=("random", "supervised"),
                       datasets={data_text: data})
    rows = results["tasks"][0]["rows"]
    nme = lambda r: next(iter(r.values()))["metrics"]["nme"]
    table = {"floor (mean shape)": nme(rows["floor"])["mean"],
             "supervised (fine-tuned)": nme(rows["supervised"])["mean"]}
    train_rows, test_rows = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "test")
    y_train, _ = landmarks.normalised_targets(Part(data, train_rows))
    y_test, sizes = landmarks.normalised_targets(Part(data, test_rows))
    images = load_all(data, size)
    grey = images.mean(3).reshape(len(images), -1)
    table["pixels: ridge"] = ridge_nme(grey[train_rows], y_train, grey[test_rows], y_test, sizes)
    for label, enc in (("random", random_encoder(encoder, RANDOM_SEED, architecture_builder(encoder))), ("checkpoint", encoder)):
        enc.eval()
        row = rows[label]["fs"]["metrics"]["nme"]
        table[f"{label}: probe (F_s, {seeds} seeds)"] = row["mean"]
        table[f"{label}: probe std"] = row["std"]
        for stage in range(len(enc.backbone.trunk) // 6, 1, -1):
            x = stage_maps(enc, images, stage)
            name = "ridge (F_s)" if stage == len(enc.backbone.trunk) // 6 else f"ridge stage {stage} ({x.shape[1]}-d)"
            table[f"{label}: {name}"] = ridge_nme(x[train_rows], y_train, x[test_rows], y_test, sizes)
    return {"nme_percent": table, "normaliser": results["tasks"][0]["info"]["normaliser"],
            "train": len(train_rows), "test": len(test_rows), "size": size, "checkpoint": checkpoint}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="FORMAT:PATH of a landmarks set with train/test splits, e.g. mafl:DIR")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--supervised-epochs", type=int, default=10)
    p.add_argument("--out", default=None, help="folder for landmark_floor.json")
    args = p.parse_args(argv)
    result = analyse(args.data, args.checkpoint, args.size, args.seeds, args.supervised_epochs)
    for name, value in result["nme_percent"].items():
        print(f"{name:40s} {value:7.2f}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "landmark_floor.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
