"""Issue 15's defects, each at the layer that now owns it (the corpus in test_bad_inputs.py drives the
same paths through the CLI): the NaN guard, the one checkpoint reader and resume fallback, config
LIMITS and duplicate YAML keys, a full disk, stale temporaries, overrides anywhere, AFLW2000 poses
that are not numbers, the count of unreadable files, a half-written metrics line."""
from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import facessl
from bad_inputs.faults import weights_blow_up_at
from facessl.cli import build_parser
from facessl.cli import _parse as parse_cli
from facessl.config import load_config, load_yaml
from facessl.engine import checkpoint as ckpt
from facessl.engine.io import remove_stale_temporaries, write_text_atomic
from facessl.engine.runlog import MetricsLog
from facessl.engine.train import Trainer, train
from facessl.errors import FacesslError
from train_helpers import make_track_tree, tiny_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_track_tree(tmp_path_factory.mktemp("vox"), identities=3, videos=1, tracks=2, frames=3, size=32)


# ---- 1. the NaN guard keeps only a checkpoint that gives finite features ------------------------
def test_nan_guard_keeps_a_checkpoint_with_finite_features(tmp_path, data):
    run = tmp_path / "run"
    with weights_blow_up_at(3), pytest.raises(FacesslError) as info:
        train(tiny_config(data, "train.checkpoint_every=1", steps=6), run, quiet=True)
    message = str(info.value)
    assert "non-finite weights after step 3" in message and "step_00000002 is kept" in message
    assert [p.name for p in ckpt.list_checkpoints(run)] == ["step_00000001", "step_00000002"]
    feats = facessl.load(run).features(torch.rand(4, 3, 32, 32))
    assert all(torch.isfinite(v).all() for v in feats.values())


def test_nan_guard_writes_nothing_when_the_first_update_diverges(tmp_path, data):
    # the command: lr 1e30, no warm-up, a checkpoint every step
    cfg = tiny_config(data, "optim.lr=1e30", "optim.warmup_steps=0", "train.checkpoint_every=1", steps=10)
    with pytest.raises(FacesslError, match="after step 1 .*no checkpoint was written yet"):
        train(cfg, tmp_path / "run", quiet=True)
    assert ckpt.list_checkpoints(tmp_path / "run") == []


def test_feature_extraction_refuses_non_finite_features(tmp_path, data):
    from facessl.data.formats.common import ImageSet
    from facessl.evaluate.features import FeatureSource

    train(tiny_config(data, steps=1), tmp_path / "run", quiet=True)
    encoder = facessl.load(tmp_path / "run")
    with torch.no_grad():
        next(p for p in encoder.parameters() if p.dim() == 4).mul_(float("nan"))
    images = ImageSet(np.zeros((3, 32, 32, 3), np.uint8))
    with pytest.raises(FacesslError, match=r"non-finite \(NaN/inf\) 'fs' features for 3 of 3 images"):
        FeatureSource(encoder, size=32, device="cpu", quiet=True).features(images)


# ---- 5. one checkpoint reader; resume falls back -------------------------------------------------
@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory, data):
    run = tmp_path_factory.mktemp("two") / "run"
    train(tiny_config(data, "train.checkpoint_every=1", steps=2), run, quiet=True)
    return run


@pytest.mark.parametrize("damage, file", [
    (lambda c: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes()[:300]), "model.safetensors"),
    (lambda c: (c / "model.safetensors").write_bytes(b""), "model.safetensors"),
    (lambda c: (c / "model.safetensors").unlink(), "model.safetensors"),
])
def test_load_names_the_damaged_file(tmp_path, two_checkpoints, damage, file):
    import shutil

    run = Path(shutil.copytree(two_checkpoints, tmp_path / "run"))
    newest = ckpt.latest_checkpoint(run)
    damage(newest)
    with pytest.raises(ckpt.CheckpointError, match=f"{newest / file}"):
        facessl.load(newest)


@pytest.mark.parametrize("file, content", [("state.json", b'{"step": '), ("state.json", b'{"step": "two"}'),
                                           ("optimizer.safetensors", b"\x00" * 10), ("optimizer.safetensors", None)])
def test_resume_falls_back_to_the_checkpoint_before(tmp_path, two_checkpoints, data, file, content, capsys):
    import shutil

    run = Path(shutil.copytree(two_checkpoints, tmp_path / "run"))
    newest = run / "checkpoints" / "step_00000002"
    (newest / file).unlink() if content is None else (newest / file).write_bytes(content)
    trainer = Trainer(tiny_config(data, "train.checkpoint_every=1", steps=3), run, quiet=True)
    assert trainer.step == 1 and trainer.resumed_from.name == "step_00000001"
    err = capsys.readouterr().err
    assert f"{newest / file}" in err and "set aside as unreadable_step_00000002" in err
    trainer.train()
    assert [p.name for p in ckpt.list_checkpoints(run)] == ["step_00000001", "step_00000002", "step_00000003"]
    assert (run / "checkpoints" / "unreadable_step_00000002" / file).exists() == (content is not None)


# ---- 6. one validation layer for config values; duplicate YAML keys ------------------------------
@pytest.mark.parametrize("override", [
    "train.steps=0", "train.batch_size=0", "train.checkpoint_every=0", "train.log_every=0", "train.image_every=-1",
    "train.keep_checkpoints=-1", "optim.lr=-1", "optim.lr=.inf", "optim.weight_decay=-1", "optim.momentum=1.5",
    "optim.warmup_steps=-1", "optim.grad_clip=-0.5", "data.size=4", "data.size=100000", "data.workers=-1", "data.frames_per_tuple=0",
    "backbone.width=0", "train.knn.k=0", "train.knn.train_fraction=1.0", "seed=-3", "method.temperature=0",
    "method.crop_min_scale=0", "method.crop_min_scale=1.5", "method.colour_strength=-0.1", "method.colour_strength=3",
    "method.crop_max_aspect=0.5"])
def test_out_of_range_values_name_their_key(override):
    with pytest.raises(FacesslError, match=f"config key '{override.split('=')[0]}': expected"):
        load_config(raw={}, overrides=[override])


def test_duplicate_yaml_key_names_the_key_and_both_lines(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  name: simclr\n  temperature: 0.1\n  name: pcl\n")
    with pytest.raises(FacesslError, match=r"c.yaml: duplicate key 'name' on line 4 \(first on line 2\)"):
        load_config(path)
    path.write_text("\ufeffseed: 1\nmethod:\n  name: simclr\n")  # a byte-order mark is fine
    assert load_yaml(path)["seed"] == 1


# ---- 8. a full disk; 9. stale temporaries ---------------------------------------------------------
def test_full_disk_is_one_error_and_the_old_file_survives(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")

    def no_space(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", no_space)
    with pytest.raises(FacesslError, match=r"a.txt: no space left on device"):
        write_text_atomic(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_stale_temporaries_are_removed_and_an_orphaned_old_version_restored(tmp_path):
    import tempfile

    killed = Path(tempfile.mkdtemp(prefix=".step_00000004.", suffix=".tmp", dir=tmp_path))  # as atomic_path names them
    (killed / "step_00000004").mkdir()
    (tmp_path / ".part.old").mkdir()  # its replacement was renamed in: the old copy is garbage
    (tmp_path / "part").mkdir()
    (tmp_path / ".rafdb.old").mkdir()  # killed between the two renames: the only copy
    (tmp_path / ".rafdb.old" / "x").write_text("kept")
    (tmp_path / ".cache.tmp").mkdir()  # not a name atomic_path makes: a user's folder
    assert remove_stale_temporaries(tmp_path) == [killed]  # without old_versions .old folders are left alone
    assert (tmp_path / ".rafdb.old").is_dir() and (tmp_path / ".part.old").is_dir()
    removed = remove_stale_temporaries(tmp_path, old_versions=True)
    assert [p.name for p in removed] == [".part.old"]
    assert (tmp_path / "rafdb" / "x").read_text() == "kept" and (tmp_path / ".cache.tmp").is_dir()


# ---- 10. overrides anywhere, counted skips, a half-written metrics line --------------------------
def test_overrides_may_follow_options_and_keep_their_order():
    argv = ["pretrain", "a.b=1", "--config", "C", "a.b=2", "--out", "R", "c.d=3", "--quiet"]
    args = parse_cli(build_parser(["pretrain"]), argv)
    assert args.overrides == ["a.b=1", "a.b=2", "c.d=3"] and args.out == "R" and args.quiet


def test_each_unreadable_file_is_counted_once(tmp_path, capsys):
    from PIL import Image

    for i in range(5):
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(tmp_path / f"a{i}.jpg")
    for i in range(3):  # next to each other: every item landing on one passes over the others
        (tmp_path / f"b{i}.jpg").write_bytes(b"broken")
    cfg = tiny_config(tmp_path, "data.layout=folder", "data.sampling=all_frames", steps=2, batch=8)
    summary = train(cfg, tmp_path / "run")
    assert summary["skipped_files"] == 3
    assert "epoch 0: skipped 3 unreadable image file(s)" in capsys.readouterr().err


def test_resume_drops_a_half_written_metrics_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.5}\n{"step": 3, "lo')
    MetricsLog(tmp_path, resume_step=2).close()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]


# ---- 7. AFLW2000 poses that are not numbers -------------------------------------------------------
def test_aflw2000_counts_poses_that_are_not_numbers(tmp_path):
    from facessl.data.formats import read
    from facessl.data.formats.aflw2000 import PoseMatWriter, savemat_deterministic
    from facessl.errors import DataFormatError

    w = PoseMatWriter(tmp_path)
    for i in range(4):
        w.add(f"image{i:05d}", np.zeros((16, 16, 3), np.uint8), (10.0 * i, 0, 0), np.full((68, 2), 8.0))
    savemat_deterministic(tmp_path / "image00001.mat", {"Pose_Para": np.array([[np.nan, 0, 0, 0, 0, 0, 1]])})
    savemat_deterministic(tmp_path / "image00002.mat", {"Pose_Para": "yaw=30"})
    got = read("aflw2000", tmp_path)
    assert len(got) == 2 and got.dropped["invalid_pose"] == 2
    np.testing.assert_allclose(got.labels["pose"][:, 0], [0.0, 30.0], atol=1e-4)
    for i in (0, 3):
        savemat_deterministic(tmp_path / f"image{i:05d}.mat", {"Pose_Para": np.full((1, 7), np.inf)})
    with pytest.raises(DataFormatError, match="Pose_Para is not numbers in all 4 files"):
        read("aflw2000", tmp_path)


def _count_worker(rank, world, port, data, run_dir):
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    cfg = tiny_config(data, "data.layout=folder", "data.sampling=all_frames", "train.channels_last=false", steps=2, batch=8)
    summary = train(cfg, run_dir, quiet=True)
    Path(run_dir, f"summary{rank}.json").write_text(json.dumps(summary))


@pytest.mark.distributed
def test_two_processes_count_each_unreadable_file_once(tmp_path):
    import socket

    from PIL import Image

    data = tmp_path / "data"
    data.mkdir()
    for i in range(5):
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(data / f"a{i}.jpg")
    for i in range(3):
        (data / f"b{i}.jpg").write_bytes(b"broken")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    torch.multiprocessing.start_processes(_count_worker, args=(2, port, str(data), str(tmp_path / "run")),
                                          nprocs=2, start_method="spawn")
    summaries = [json.loads((tmp_path / "run" / f"summary{r}.json").read_text()) for r in range(2)]
    assert [s["skipped_files"] for s in summaries] == [3, 3] and summaries[0]["step"] == 2
