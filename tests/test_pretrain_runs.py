"""`facessl pretrain` as a user meets it: images as uint8 to `features`, a batch of one, few identities for the
batch, an output folder inside the data or full of other files, a changed method on resume, a finished run
rerun with fewer steps, raw videos handed to pretraining, and errors that name the command line."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import facessl
from facessl.cli import main
from facessl.engine.train import train
from facessl.errors import FacesslError
from train_helpers import make_track_tree, tiny_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_track_tree(tmp_path_factory.mktemp("vox"), identities=3, videos=1, tracks=2, frames=3, size=32)


@pytest.fixture(scope="module")
def run(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("run") / "run"
    train(tiny_config(data, steps=2), out, quiet=True)
    return out


def cli(data, out, *extra) -> list[str]:
    config = out.parent / "tiny.yaml"
    config.write_text("{}\n")  # every setting comes as an override
    return ["pretrain", "--config", str(config), "--data", str(data), "--out", str(out), "--quiet",
            "method.name=simclr", "method.proj_hidden=64", "method.proj_dim=32", "backbone.name=small",
            "backbone.width=0.25", "data.size=32", "data.workers=0", "train.precision=fp32", "train.device=cpu",
            "train.batch_size=8", "train.image_every=0", *extra]


def test_features_of_uint8_images_are_those_of_the_same_floats(run):
    encoder = facessl.load(run)
    images = (torch.rand(2, 3, 32, 32) * 255).to(torch.uint8)
    as_uint8, as_float = encoder.features(images)["fs"], encoder.features(images.float() / 255)["fs"]
    assert torch.isfinite(as_uint8).all() and torch.allclose(as_uint8, as_float)
    with pytest.raises(FacesslError, match=r"floats in \[0, 1\].*divide by 255"):
        encoder.features(images.float())


def test_a_batch_of_one_is_one_error(tmp_path, data):
    with pytest.raises(FacesslError, match="train.batch_size 1: at least 2 images per process"):
        train(tiny_config(data, batch=1, steps=1), tmp_path / "run", quiet=True)


def test_fewer_identities_than_the_batch_is_said(tmp_path, data, capsys):
    train(tiny_config(data, steps=1), tmp_path / "run")
    printed = capsys.readouterr().out
    assert "note: an epoch is 3 items, fewer than the batch of 8" in printed and "data.sampling=all_frames" in printed
    train(tiny_config(data, "data.sampling=all_frames", steps=1), tmp_path / "run2")  # 18 frames: no note
    assert "fewer than the batch" not in capsys.readouterr().out


def test_an_output_folder_inside_the_data_or_of_other_files_is_refused(tmp_path, data, capsys):
    assert main(cli(data, data / "myrun", "train.steps=1")) == 2
    assert "is inside the data folder" in capsys.readouterr().err and not (data / "myrun").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("lr: 1\n")
    (mine / "metrics.jsonl").write_text("my own notes\n")
    assert main(cli(data, mine, "train.steps=1")) == 2
    assert "its config.yaml is not a facessl run's" in capsys.readouterr().err
    assert (mine / "config.yaml").read_text() == "lr: 1\n" and (mine / "metrics.jsonl").read_text() == "my own notes\n"
    (mine / "config.yaml").unlink()
    assert main(cli(data, mine, "train.steps=1")) == 2
    assert "holds other files and is not a facessl run" in capsys.readouterr().err


def test_another_method_on_resume_is_named(tmp_path, data, run, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    with pytest.raises(FacesslError, match=r"trained with other networks \(backbone.width was 0.25, now 0.5\)"):
        train(tiny_config(data, "backbone.width=0.5", steps=3), copy, quiet=True)
    with pytest.raises(FacesslError, match=r"method.name was 'simclr', now 'pcl'"):
        train(tiny_config(data, "method.name=pcl", steps=3), copy, quiet=True)


def test_a_finished_run_rerun_with_fewer_steps_keeps_its_config(tmp_path, data, run, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    before = (copy / "config.yaml").read_text()
    train(tiny_config(data, steps=1), copy)
    assert "already trained to step 2 (train.steps 1): nothing to do" in capsys.readouterr().out
    assert (copy / "config.yaml").read_text() == before


def test_raw_videos_point_to_prepare_and_overrides_are_blamed_on_the_command_line(tmp_path, capsys):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "talk.mp4").write_bytes(b"\0" * 64)
    assert main(cli(tmp_path / "videos", tmp_path / "out", "train.steps=1")) == 2
    assert "facessl prepare --videos" in capsys.readouterr().err
    assert main(cli(tmp_path / "videos", tmp_path / "out", "train.steps=-5")) == 2
    err = capsys.readouterr().err
    assert "command line: config key 'train.steps': expected >= 1, got -5" in err


def test_image_grids_say_what_each_row_shows(tmp_path, data):
    from PIL import Image

    from facessl.engine.runlog import save_image_grid

    images = torch.rand(16, 3, 32, 32)
    save_image_grid(images, tmp_path / "p.png")
    plain = Image.open(tmp_path / "p.png")
    save_image_grid(images, tmp_path / "l.png", row_labels=["view 1", "view 2"])
    labelled = Image.open(tmp_path / "l.png")
    assert labelled.height == plain.height and labelled.width > plain.width  # a margin for the labels
    margin = np.asarray(labelled)[:, : labelled.width - plain.width]
    assert (margin < 128).any() and (margin == 255).mean() > 0.8  # dark text on white
    train(tiny_config(data, "train.image_every=1", steps=1), tmp_path / "run", quiet=True)
    views = Image.open(tmp_path / "run" / "images" / "views_00000001.png")
    assert views.width > views.height * 4 + 20  # SimCLR's two rows of 8, labelled


def test_sigterm_saves_the_step_reached_and_the_rerun_resumes_there(tmp_path, data):
    """A cluster's preemption or `timeout` sends SIGTERM: the step in flight finishes and is saved (with a
    checkpoint every 100,000 steps nothing else would have been), exit status 143, one line saying so."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from facessl.engine import checkpoint as ckpt

    out = tmp_path / "run"
    args = [sys.executable, "-m", "facessl", *cli(data, out, "train.steps=100000", "train.checkpoint_every=100000",
                                                  "train.log_every=1")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.is_file() or len(metrics.read_text().splitlines()) < 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    saved = ckpt.list_checkpoints(out)
    assert len(saved) == 1 and f"stopped by SIGTERM after step {int(saved[0].name.split('_')[1])}, checkpoint saved" in err
    step = int(saved[0].name.split("_")[1])
    assert step >= 3 and "Traceback" not in err
    resumed = subprocess.run(args[:-3] + ["train.steps=" + str(step + 2), "train.checkpoint_every=100000",
                                          "train.log_every=1"], capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert ckpt.list_checkpoints(out)[-1].name == f"step_{step + 2:08d}"


@pytest.mark.parametrize("how,signum,code", [("SIGTERM", "SIGTERM", 143), ("Ctrl-C", "SIGINT", 130)])
def test_a_signal_to_the_whole_process_group_with_loader_workers_still_saves(tmp_path, data, how, signum, code):
    """`timeout`, Slurm and Ctrl-C signal every process of the group, data-loader workers included: the workers
    must not die of it before the trainer has saved the step it reached."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from facessl.engine import checkpoint as ckpt

    out = tmp_path / "run"
    args = [sys.executable, "-m", "facessl", *cli(data, out, "train.steps=100000", "train.checkpoint_every=100000",
                                                  "train.log_every=1", "data.workers=2", "data.sampling=all_frames")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.is_file() or len(metrics.read_text().splitlines()) < 3):
        time.sleep(0.2)
    os.killpg(proc.pid, getattr(signal, signum))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    saved = ckpt.list_checkpoints(out)
    assert len(saved) == 1 and f"stopped by {how} after step {int(saved[0].name.split('_')[1])}, checkpoint saved" in err
    assert "Traceback" not in err


def test_a_data_error_in_a_loader_worker_is_its_one_line():
    from facessl.engine.train import _next_batch
    from facessl.errors import DataFormatError, FacesslError

    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise DataFormatError("shard-000003.tar", "no decodable frame in this shard")

    loader = iter(torch.utils.data.DataLoader(Broken(), batch_size=2, num_workers=1))
    with pytest.raises(FacesslError) as caught:
        _next_batch(loader)
    assert str(caught.value) == "shard-000003.tar: no decodable frame in this shard"


def test_a_checkpoint_is_found_from_its_model_file_its_folder_the_checkpoints_folder_or_the_run(run):
    from facessl.engine.checkpoint import latest_checkpoint, resolve_checkpoint

    newest = latest_checkpoint(run)
    for given in (run, run / "checkpoints", newest, newest / "model.safetensors"):
        assert resolve_checkpoint(given) == newest, given


def test_a_second_trainer_into_a_run_another_process_trains_is_refused(tmp_path, data):
    """A resubmitted job, or ranks orphaned by a killed torchrun: two writers of one run's checkpoints and metrics."""
    import os
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "facessl", *cli(data, out, "train.steps=100000",
                                                                     "train.checkpoint_every=100000", "train.log_every=1")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "metrics.jsonl").is_file():
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-m", "facessl", *cli(data, out, "train.steps=5")],
                                capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 2
        assert f"(pid {first.pid} on " in second.stderr and "is training into this run now" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        first.kill()
        first.communicate()
    again = subprocess.run([sys.executable, "-m", "facessl", *cli(data, out, "train.steps=3")],  # killed: no stale lock
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
