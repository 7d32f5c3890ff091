"""Evaluation speed: what the feature cache and probing cached features buy.

    python benchmarks/eval_speed.py [--images 2000] [--size 64] [--epochs 100] [--backbone facecycle]

Prints, for one expression task on in-memory images with a randomly initialised backbone:
  1. first evaluation (features extracted, cache filled) vs a second evaluation of the same
     checkpoint (features and probe outputs from the disk cache): wall times and ratio (target
     >= 20x); and a third with the probes refitted on cached features (what a changed probe setting costs);
  2. our probe (grid of weight decays + validation selection + refit, on cached features) vs the
     reference protocol that runs the frozen backbone over the training set in every probe epoch
     (measured for --ref-epochs epochs and scaled to --epochs): ratio (target >= 50x);
  3. three seeds of that probe fitted one after another vs side by side in threads, one per core
     (what `facessl eval --seeds 3` does on a CPU; the outputs are identical).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np
import torch

from facessl.data.formats.common import ImageSet
from facessl.evaluate import EvalOptions, FeatureCache, TaskSpec, evaluate
from facessl.evaluate.features import FeatureSource, fastest_device, to_float_images
from facessl.evaluate import protocol
from facessl.evaluate.probes import ProbeConfig, fit_predict
from facessl.evaluate.protocol import Fold, Part, ProbeTask
from facessl.methods.base import Encoder


class TrunkEncoder(Encoder):
    feature_names = ("fs",)

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def features(self, images):
        return {"fs": self.backbone(images).flatten(1)}


def make_data(n: int, size: int, seed: int = 0) -> ImageSet:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 7, n)
    colours = rng.integers(30, 225, (7, 3))
    images = np.clip(colours[y][:, None, None, :] + rng.normal(0, 40, (n, size, size, 3)), 0, 255).astype(np.uint8)
    split = np.where(np.arange(n) < int(0.8 * n), "train", "test")
    return ImageSet(images, {"expression": y}, split, source=f"bench-{n}-{size}")


def reference_style_probe(encoder, data: ImageSet, epochs: int, device, batch: int = 256) -> float:
    """Seconds for `epochs` epochs of a probe that re-runs the frozen backbone on every batch."""
    train = np.flatnonzero(data.split == "train")
    y = torch.as_tensor(data.labels["expression"][train], device=device)
    with torch.no_grad():
        dim = encoder.features(to_float_images(data.images[:2], device))["fs"].shape[1]
    head = torch.nn.Linear(dim, 7).to(device)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    start = time.perf_counter()
    for _ in range(epochs):
        for s in range(0, len(train), batch):
            rows = train[s:s + batch]
            with torch.no_grad():
                x = encoder.features(to_float_images(data.images[rows], device))["fs"]
            loss = torch.nn.functional.cross_entropy(head(x), y[s:s + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def parallel_probe_seconds(feats, data: ImageSet, epochs: int, seeds: int = 3) -> tuple[float, float, int]:
    """Seconds for `seeds` probe fits one after another, then in threads; and the thread count."""
    from facessl.evaluate.expression import classification_metrics

    train, test = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "test")
    y = data.labels["expression"]
    fold = Fold(Part(data, train), y[train], Part(data, test), y[test])
    task = ProbeTask("expression", ProbeConfig(epochs=epochs), [fold], classification_metrics)
    features = lambda part: feats[part.index]  # noqa: E731
    workers = protocol.probe_workers("cpu")
    times = []
    for count in (1, workers):
        start = time.perf_counter()
        protocol.run_probe_task(task, features, seeds, device="cpu", workers=count)
        times.append(time.perf_counter() - start)
    return times[0], times[1], workers


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--ref-epochs", type=int, default=2, help="reference-style epochs actually run (then scaled)")
    p.add_argument("--backbone", default="facecycle")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from facessl.models import build_backbone

    device = fastest_device()
    encoder = TrunkEncoder(build_backbone(args.backbone, image_size=args.size)).to(device).eval()
    data = make_data(args.images, args.size)
    options = EvalOptions(seeds=1, epochs=args.epochs, size=args.size, quiet=True)
    spec = TaskSpec("expression", "rafdb:bench")
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for probes in (True, True, False):  # first; second (all cached); features cached, probes refitted
            start = time.perf_counter()
            evaluate(encoder, [spec], options, baselines=(), cache=FeatureCache(tmp, probes=probes),
                     datasets={"rafdb:bench": data})
            times.append(time.perf_counter() - start)
        source = FeatureSource(encoder, size=args.size, cache=FeatureCache(tmp), quiet=True)
        start = time.perf_counter()
        feats = source.features(data)["fs"]
        cached_load = time.perf_counter() - start
    train = data.split == "train"
    start = time.perf_counter()
    fit_predict(feats[train], data.labels["expression"][train], feats[~train], ProbeConfig(epochs=args.epochs))
    ours = time.perf_counter() - start
    ref = reference_style_probe(encoder, data, args.ref_epochs, device) * args.epochs / args.ref_epochs
    print(f"device {device}, backbone {args.backbone} at {args.size} px, {args.images} images "
          f"({int(train.sum())} train), feature dim {feats.shape[1]}, probe epochs {args.epochs}")
    print(f"first evaluation  {times[0]:8.2f} s (extract + cache write + probe)")
    print(f"second evaluation {times[1]:8.2f} s (features and probe outputs from the cache)")
    print(f"cache speed-up (first / second evaluation): {times[0] / times[1]:.1f}x  (target >= 20x)")
    print(f"re-probe evaluation {times[2]:6.2f} s (features from the cache, load {cached_load:.3f} s; probes refitted): "
          f"{times[0] / times[2]:.1f}x faster than the first")
    print(f"probe on cached features {ours:8.2f} s (4 weight decays, selection + refit)")
    print(f"reference-style probe    {ref:8.2f} s (backbone every epoch; {args.ref_epochs} epochs run, scaled)")
    print(f"probe speed-up (reference / cached): {ref / ours:.1f}x  (target >= 50x)")
    one, side, workers = parallel_probe_seconds(feats, data, args.epochs)
    print(f"3 probe seeds one after another {one:6.2f} s, in {workers} threads {side:6.2f} s: {one / side:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
