"""How far bf16 autocast moves a trained model's backbone gradient from fp32's, loss term by loss term, with the
stem (the convolution that reads the image, StemConv2d) in fp32 as facessl runs it, and as a plain bf16 convolution.

    python benchmarks/bf16_gradients.py --run RUN [--data PRETRAINING_TREE] [--batches 2] [--view-seeds 8]
    python benchmarks/bf16_gradients.py [--method pcl] [--train-steps 100]   # a small synthetic run trained first

RUN is a pretraining run directory (config.yaml and checkpoints/); its newest checkpoint's weights are loaded. Without
--run, a small synthetic pretraining tree (40 identities) is built and the method's synth config trained on it for
--train-steps steps at 32 px in bf16 (stem in fp32), in a temporary folder.

Each batch is drawn once and, per draw of its views, each term is computed three times with the same views (the
global RNG is reseeded): fp32, bf16 with the stem in fp32, bf16 with the stem in bf16. Prints the relative error
|g_bf16 - g_fp32| / |g_fp32| over all the backbone's parameters and over the stem's weight alone (means over the
draws, and the range over them), and the stem's share of the gradient's norm. PCL is measured per term (L_PDD,
L_face, L_pose: the pose term's mirrored negatives are where bf16 went wrong, docs/demo_study.md session 28); other
methods on their whole loss.
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

from facessl.config import load_config
from facessl.engine import checkpoint
from facessl.engine.train import Trainer
from facessl.models.registry import StemConv2d


@contextmanager
def stem_in_bf16():
    """StemConv2d as a plain Conv2d (autocast's bf16), for the comparison only."""
    kept = StemConv2d.forward
    StemConv2d.forward = torch.nn.Conv2d.forward
    try:
        yield
    finally:
        StemConv2d.forward = kept


def loss_terms(method, batch) -> dict:
    """name -> a function computing that unweighted loss term on `batch`."""
    if method.name != "pcl":
        return {"loss": lambda: method(batch)["loss"]}
    from facessl.methods.pcl_views import to_unit

    x = to_unit(batch["images"])
    terms = {"L_face": lambda: method.face_loss(x, {})}
    if method.cfg.use_dis or method.cfg.use_orth:
        terms["L_PDD"] = lambda: method.pdd_loss(x, {})
    if method.cfg.use_pose:
        terms["L_pose"] = lambda: method.pose_loss(x, {})
    return terms


def encoder_trunk(method) -> torch.nn.Module:
    """The backbone the probes read (PCL's and SimCLR's encoder hold it as .backbone; FAb-Net's is its embedder)."""
    encoder = method.encoder()
    return getattr(encoder, "backbone", encoder)


def backbone_gradient(method, term, bf16: bool, seed: int) -> dict[str, torch.Tensor]:
    method.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = term()
    loss.float().backward()
    return {name: p.grad.detach().clone() for name, p in encoder_trunk(method).named_parameters() if p.grad is not None}


def relative_error(g: dict, ref: dict, keys) -> float:
    diff = torch.cat([(g[k] - ref[k]).flatten() for k in keys])
    return float(diff.norm() / torch.cat([ref[k].flatten() for k in keys]).norm())


def train_small_run(tmp: str, method: str, steps: int) -> str:
    """A short bf16 run of configs/<method>_synth.yaml on a small synthetic tree; its directory."""
    from facessl.data.synthetic.build import build_benchmark
    from facessl.engine.train import train

    build_benchmark(tmp, identities=40, scale="small", parts=["voxceleb"], quiet=True)
    config = Path(__file__).resolve().parent.parent / "configs" / f"{method}_synth.yaml"
    cfg = load_config(str(config), overrides=[f"data.path={tmp}/voxceleb", "data.size=32", "data.in_memory=true",
                                              f"train.steps={steps}", "train.precision=bf16", "train.image_every=0"])
    run = f"{tmp}/run"
    train(cfg, run, quiet=True)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", help="a pretraining run directory (default: a small synthetic run, trained first)")
    ap.add_argument("--method", default="pcl", help="without --run: the method of the small run")
    ap.add_argument("--train-steps", type=int, default=100, help="without --run: the small run's steps")
    ap.add_argument("--data", help="its pretraining tree, if it has moved since (data.path)")
    ap.add_argument("--batches", type=int, default=1)
    ap.add_argument("--view-seeds", type=int, default=1, help="draws of the views (and the loss's own randomness) per batch")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as small:
        if args.run is None:
            args.run = train_small_run(small, args.method, args.train_steps)
        measure(args)


def measure(args) -> None:
    ckpt = checkpoint.resolve_checkpoint(args.run)
    overrides = ["train.image_every=0", "train.checkpoint_every=100000"] + ([f"data.path={args.data}"] if args.data else [])
    cfg = load_config(f"{args.run}/config.yaml", overrides=overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, tmp, quiet=True)
        checkpoint.load_weights(trainer.method, ckpt / "model.safetensors")
        method = trainer.method
        stem = next(n for n, m in encoder_trunk(method).named_modules() if isinstance(m, StemConv2d)) + ".weight"
        print(f"{cfg.method.name}, {ckpt}, {args.batches} batch(es) of {cfg.train.batch_size} x {args.view_seeds} draw(s) of the views")
        print(f"{'term':8s} {'stem share of |g|':>18s} | {'stem in fp32: all':>18s} {'stem':>6s} | {'stem in bf16: all':>18s} {'stem':>6s}"
              " | all, per draw: fp32 stem / bf16 stem (min-max)")
        loader = iter(trainer._loader())
        rows: dict[str, list] = {}
        for b in range(args.batches):
            batch = next(loader)
            for key in ("skipped", "skipped_path", "skipped_paths"):  # the loader's counts, not model inputs
                batch.pop(key, None)
            batch = trainer._to_device(batch)
            for (name, term), v in itertools.product(loss_terms(method, batch).items(), range(args.view_seeds)):
                seed = b * args.view_seeds + v
                ref = backbone_gradient(method, term, False, seed)
                fp32_stem = backbone_gradient(method, term, True, seed)
                with stem_in_bf16():
                    bf16_stem = backbone_gradient(method, term, True, seed)
                keys = list(ref)
                share = float(ref[stem].norm() / torch.cat([ref[k].flatten() for k in keys]).norm())
                rows.setdefault(name, []).append((share, relative_error(fp32_stem, ref, keys), relative_error(fp32_stem, ref, [stem]),
                                                  relative_error(bf16_stem, ref, keys), relative_error(bf16_stem, ref, [stem])))
        for name, values in rows.items():
            mean = [sum(v[i] for v in values) / len(values) for i in range(5)]
            spread = " / ".join(f"{100 * min(v[i] for v in values):.1f}-{100 * max(v[i] for v in values):.1f}%" for i in (1, 3))
            print(f"{name:8s} {mean[0]:18.2f} | {100 * mean[1]:17.1f}% {100 * mean[2]:5.1f}% | {100 * mean[3]:17.1f}% {100 * mean[4]:5.1f}%"
                  f" | {spread}")
        trainer.close()


if __name__ == "__main__":
    main()
