"""The trainer: exact resume, NaN guard, learning, logs/images/kNN, the `facessl pretrain` CLI."""
from __future__ import annotations

import json
import math
import shutil
import sys

import pytest
import torch
from safetensors.torch import load_file

from facessl.engine import checkpoint as ckpt
from facessl.cli import main
from facessl.errors import FacesslError
from facessl.methods.simclr import SimCLR
from facessl.engine.train import Trainer, train
from train_helpers import make_track_tree, tiny_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_track_tree(tmp_path_factory.mktemp("vox"), identities=4, videos=2, tracks=1, frames=3, size=32)


def _metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _same_checkpoints(a, b):
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    oa, ob = load_file(str(a / "optimizer.safetensors")), load_file(str(b / "optimizer.safetensors"))
    return (wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
            and oa.keys() == ob.keys() and all(torch.equal(oa[k], ob[k]) for k in oa))


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_is_exact(tmp_path, data, workers):
    # real random views, channels_last, per-identity sampling crossing epochs, warm-up + cosine
    cfg = tiny_config(data, f"data.workers={workers}", "train.checkpoint_every=2", steps=4)
    train(cfg, tmp_path / "straight", quiet=True)
    train(cfg, tmp_path / "resumed", quiet=True, until=2)
    assert ckpt.latest_checkpoint(tmp_path / "resumed").name == "step_00000002"
    train(cfg, tmp_path / "resumed", quiet=True)
    final = "checkpoints/step_00000004"
    assert _same_checkpoints(tmp_path / "straight" / final, tmp_path / "resumed" / final)
    straight, resumed = _metrics(tmp_path / "straight"), _metrics(tmp_path / "resumed")
    assert [m["step"] for m in resumed] == [1, 2, 3, 4]
    assert [m["loss"] for m in resumed] == [m["loss"] for m in straight]


def test_resume_uses_the_configured_lr_and_weight_decay(tmp_path, data):
    # the optimiser state saved at step 2 carries lr 1e-3; the resumed run's config says 4e-3
    run = tmp_path / "run"
    flat = ["optim.schedule=constant", "optim.warmup_steps=0", "train.checkpoint_every=2"]
    train(tiny_config(data, *flat, steps=4), run, quiet=True, until=2)
    trainer = Trainer(tiny_config(data, *flat, "optim.lr=0.004", "optim.weight_decay=0.01", steps=4), run, quiet=True)
    assert [(g["lr"], g["weight_decay"]) for g in trainer.optimizer.param_groups] == [(0.004, 0.01)]
    trainer.train()
    assert [round(m["lr"], 9) for m in _metrics(run)] == [0.001, 0.001, 0.004, 0.004]


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, data, monkeypatch):
    calls = {"n": 0}
    forward = SimCLR.forward

    def poisoned(self, batch, phase="joint"):
        out = forward(self, batch, phase)
        calls["n"] += 1
        if calls["n"] == 3:
            out["nt_xent"] = out["nt_xent"] * float("nan")
        return out

    monkeypatch.setattr(SimCLR, "forward", poisoned)
    cfg = tiny_config(data, "train.checkpoint_every=2", steps=6)
    with pytest.raises(FacesslError, match=r"non-finite loss at step 3: term 'nt_xent' = nan.*step_00000002 is kept"):
        train(cfg, tmp_path / "run", quiet=True)
    kept = ckpt.list_checkpoints(tmp_path / "run")
    assert [p.name for p in kept] == ["step_00000002"]
    weights = load_file(str(kept[0] / "model.safetensors"))
    assert all(torch.isfinite(w.float()).all() for w in weights.values())


def test_simclr_loss_goes_down(tmp_path, data):
    # deterministic views (x, mirrored x): a clear signal in 30 steps; real views learn too, but
    # slowly at this scale (see the slow test below)
    cfg = tiny_config(data, "method.views=deterministic", "data.sampling=all_frames", "optim.lr=0.003",
                      "optim.warmup_steps=3", "method.temperature=0.2", steps=30, batch=8)
    train(cfg, tmp_path / "run", quiet=True)
    losses = [m["loss"] for m in _metrics(tmp_path / "run")]
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 1.0, (first, last)


@pytest.mark.slow
def test_simclr_with_real_views_learns(tmp_path, data):
    from facessl.engine.checkpoint import load_method
    from facessl.data.frames import VoxCelebFrames
    from facessl.methods import build_method

    cfg = tiny_config(data, "data.sampling=all_frames", "optim.lr=0.003", "optim.warmup_steps=3",
                      "method.temperature=0.2", steps=150, batch=8)
    frames = VoxCelebFrames(data, "all_frames", 32)
    images = torch.stack([frames[i]["images"] for i in range(len(frames.files))])

    def fixed_views_loss(method):  # the same views of the same 24 frames before and after
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(123)
            return sum(method({"images": images})["loss"].item() for _ in range(4)) / 4

    torch.manual_seed(cfg.seed)
    before = fixed_views_loss(build_method(cfg))
    train(cfg, tmp_path / "run", quiet=True)
    after = fixed_views_loss(load_method(tmp_path / "run")[0])
    assert after < before - 0.4, (before, after)


def test_logs_images_knn_and_skipped_files(tmp_path, data, capsys):
    data2 = tmp_path / "data"
    shutil.copytree(data, data2)
    (data2 / "id00000" / "vid00" / "00000" / "0001.jpg").write_bytes(b"broken")
    labelled = tmp_path / "labelled"
    for p in sorted(data.glob("id*/*/*/*.jpg")):
        (labelled / p.parts[-4]).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, labelled / p.parts[-4] / f"{p.parts[-3]}_{p.name}")
    cfg = tiny_config(data2, "data.sampling=all_frames", "train.image_every=3", "train.log_every=2",
                      "train.knn.every=3", f"train.knn.path={labelled}", "train.knn.k=3", steps=3)
    summary = train(cfg, tmp_path / "run")
    assert "unreadable image file(s), e.g. id00000/vid00/00000/0001.jpg" in capsys.readouterr().err
    assert summary["skipped_files"] >= 1  # 24 frames, 3 batches of 8: the broken one was met
    records = _metrics(tmp_path / "run")
    assert records[-1]["skipped_files"] == summary["skipped_files"]
    assert [r["step"] for r in records] == [2, 3]
    for key in ("loss", "nt_xent", "lr", "samples_per_s", "elapsed", "epoch"):
        assert key in records[-1]
    assert 0.0 <= records[-1]["knn_acc"] <= 1.0
    from PIL import Image

    with Image.open(tmp_path / "run" / "images" / "views_00000003.png") as im:
        assert im.size[0] > im.size[1] > 0
    assert (tmp_path / "run" / "config.yaml").is_file()


def test_knn_monitor_accuracy_and_truth_sidecar(tmp_path, data):
    from facessl.engine.monitor import KnnMonitor

    images = torch.zeros(40, 3, 8, 8, dtype=torch.uint8)
    labels = torch.arange(40) % 2
    images[labels == 1, 0] = 255  # class 1 is red: the identity encoder separates the classes
    monitor = KnnMonitor(images, labels, k=5)

    class Pixels(torch.nn.Module):
        def features(self, x):
            return {"fs": x.flatten(1) + 0.01}

    assert monitor.evaluate(Pixels()) == 1.0
    from facessl.engine.monitor import load_truth_labelled

    tree = tmp_path / "withtruth"  # a synthetic-style tree with its ground-truth sidecar
    shutil.copytree(data, tree)
    files = sorted(p.relative_to(tree).as_posix() for p in tree.glob("id*/*/*/*.jpg"))
    lines = [json.dumps({"file": f, "identity": f.split("/")[0], "expression": 3}) for f in files]
    (tree / "_truth.jsonl").write_text("\n".join(lines) + "\n")
    imgs, labs, classes = load_truth_labelled(tree, "identity", 16)
    assert imgs.shape == (24, 3, 16, 16) and len(classes) == 4 and labs.bincount().tolist() == [6, 6, 6, 6]
    with pytest.raises(FacesslError, match="'expression' has a single class"):
        load_truth_labelled(tree, "expression", 16)


def test_tensorboard_without_the_package_is_a_clear_error(tmp_path, data, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(FacesslError, match="log.tensorboard: true needs the 'tensorboard' package"):
        Trainer(tiny_config(data, "log.tensorboard=true"), tmp_path / "run", quiet=True)


def test_cli_pretrain_end_to_end_and_resume(tmp_path, data, capsys):
    args = ["pretrain", "--config", "simclr_synth", "--data", str(data), "--out", str(tmp_path / "run"),
            "--quiet", "backbone.width=0.25", "data.size=32", "data.workers=0", "train.batch_size=8",
            "method.proj_hidden=32", "method.proj_dim=16", "train.log_every=1", "train.precision=fp32"]
    assert main(args + ["--steps", "2"]) == 0
    assert main(args + ["--steps", "3"]) == 0  # resumes at step 2
    assert [r["step"] for r in _metrics(tmp_path / "run")] == [1, 2, 3]
    assert ckpt.latest_checkpoint(tmp_path / "run").name == "step_00000003"

    import facessl

    enc = facessl.load(tmp_path / "run")
    assert enc.features(torch.rand(2, 3, 32, 32))["fs"].shape[0] == 2

    assert main(args + ["train.stpes=3"]) == 2
    assert "unknown config key 'train.stpes'; did you mean 'train.steps'?" in capsys.readouterr().err
    assert main(["pretrain", "--config", "simclr_synth", "--data", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "r2"), "--quiet"]) == 2
    assert "dataset directory not found" in capsys.readouterr().err


def test_simclr_crop_scale_reaches_its_views(data):
    from facessl.methods import build_method

    method = build_method(tiny_config(data, "method.crop_min_scale=0.5"))
    assert [view.transforms[0].scale for view in method._views] == [(0.5, 1.0), (0.5, 1.0)]
    assert build_method(tiny_config(data))._views[0].transforms[0].scale == (0.2, 1.0)  # SimCLR's default
    assert build_method(tiny_config(data))._views[0].transforms[0].ratio == (3 / 4, 4 / 3)
    assert build_method(tiny_config(data, "method.crop_max_aspect=1"))._views[1].transforms[0].ratio == (1.0, 1.0)


def test_simclr_colour_strength_reaches_its_jitter(data):
    from facessl.methods import build_method

    def jitter(method):
        j = method._views[1].transforms[2]
        return (j.brightness, j.contrast, j.saturation, j.hue)

    assert jitter(build_method(tiny_config(data))) == pytest.approx((0.4, 0.4, 0.4, 0.1))  # s = 0.5
    assert jitter(build_method(tiny_config(data, "method.colour_strength=1"))) == pytest.approx((0.8, 0.8, 0.8, 0.2))


class FakeClock:
    """time.time for the trainer: `per_step` seconds pass with each optimiser step."""

    def __init__(self, per_step):
        self.now, self.per_step = 1000.0, per_step

    def time(self):
        return self.now


def _clocked(monkeypatch, per_step):
    import facessl.engine.train as train_module

    clock = FakeClock(per_step)
    monkeypatch.setattr(train_module, "time", clock)
    real_step = Trainer.train_step

    def step_and_tick(self, batch):  # the step's time passes before its scheduler step reads the clock
        clock.now += clock.per_step
        return real_step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", step_and_tick)
    return clock


def test_a_time_budget_stops_the_run_and_runs_the_schedule_over_time(tmp_path, data, monkeypatch):
    """train.minutes=1 at 10 s a step: 6 steps (steps=100 is only the cap), a final checkpoint at step 6,
    and the cosine reaches 0 at the budget's end whatever the step cap says."""
    _clocked(monkeypatch, per_step=10.0)
    cfg = tiny_config(data, "train.minutes=1", "optim.warmup_steps=0", "train.checkpoint_every=1000", steps=100)
    summary = train(cfg, tmp_path / "run", quiet=True)
    assert summary["step"] == 6 and summary["training_seconds"] == pytest.approx(60.0)
    assert (summary["device"], summary["precision"]) == ("cpu", "fp32")  # what the run resolved, for reports
    assert ckpt.latest_checkpoint(tmp_path / "run").name == "step_00000006"
    logged = _metrics(tmp_path / "run")
    assert [m["step"] for m in logged] == [1, 2, 3, 4, 5, 6] and logged[-1]["elapsed"] == pytest.approx(60.0)
    # lr of update k (after k-1 updates, (k-1)*10 s spent): 1e-3 * (1 + cos(pi * (k-1) / 6)) / 2
    import math
    assert [m["lr"] for m in logged] == pytest.approx([1e-3 * 0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(6)])


def test_a_time_budget_resumes_with_the_time_already_spent(tmp_path, data, monkeypatch):
    _clocked(monkeypatch, per_step=10.0)
    cfg = tiny_config(data, "train.minutes=1", "optim.warmup_steps=0", "train.checkpoint_every=2", steps=100)
    train(cfg, tmp_path / "run", quiet=True, until=4)  # interrupted after 40 s
    trainer = Trainer(cfg, tmp_path / "run", quiet=True)
    assert trainer.training_seconds() == pytest.approx(40.0)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 4 / 6)))
    assert trainer.train()["step"] == 6  # the last 20 s
    assert train(cfg, tmp_path / "run", quiet=True)["step"] == 6  # spent: nothing more
