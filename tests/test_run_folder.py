"""What a pretraining run leaves in its folder: curves.png (drawn from metrics.jsonl, never failing the run),
train.log (the run's console lines, appended across resumes), no lock file once it ends normally, and
FAb-Net's flow pictures large enough to read, with their columns named."""
from __future__ import annotations

import json
import numpy as np
import pytest
from PIL import Image

from facessl.cli import main
from facessl.engine import train as train_module
from facessl.engine.train import LOCK_FILE, Trainer, hold_run_lock, release_run_lock
from train_helpers import make_track_tree, tiny_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_track_tree(tmp_path_factory.mktemp("vox"), identities=4, videos=2, tracks=1, frames=3, size=32)


def pretrain(data, out, steps, *extra, quiet=True) -> int:
    """`facessl pretrain` of a tiny SimCLR (small backbone, 32 px, CPU)."""
    config = out.parent / "tiny.yaml"
    config.write_text("{}\n")  # every setting comes as an override
    return main(["pretrain", "--config", str(config), "--data", str(data), "--out", str(out), "--steps", str(steps),
                 *(["--quiet"] if quiet else []), "method.name=simclr", "method.proj_hidden=32", "method.proj_dim=16",
                 "backbone.name=small", "backbone.width=0.25", "data.size=32", "data.workers=0",
                 "train.precision=fp32", "train.device=cpu", "train.batch_size=8", "train.image_every=0",
                 "train.log_every=1", "train.checkpoint_every=3", *extra])


def log_lines(run) -> list[str]:
    """train.log without its time stamps ('2026-12-04 20:17:28 text')."""
    lines = (run / "train.log").read_text().splitlines()
    assert all(len(line) > 20 and line[4] == "-" and line[13] == ":" for line in lines), lines[:3]
    return [line[20:] for line in lines]


def a_png(path) -> Image.Image:
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as im:
        im.verify()
    im = Image.open(path)
    im.load()
    return im


def test_a_finished_run_holds_curves_a_log_and_no_lock(tmp_path, data, capsys):
    run = tmp_path / "run"
    assert pretrain(data, run, 5, quiet=False) == 0
    printed = capsys.readouterr()
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "curves.png", "metrics.jsonl",
                                                     "train.log"]  # no .facessl.lock, no temporaries
    im = a_png(run / "curves.png")
    assert im.width >= 600 and im.height >= 400
    pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
    assert (np.abs(pixels.astype(int) - [31, 119, 180]).sum(1) < 30).sum() > 200  # the loss's line (tab10 blue) is drawn

    lines = log_lines(run)
    assert lines[0].startswith("facessl ") and f"pretrain simclr into {run}, to step 5 (pid " in lines[0]
    assert lines[1].startswith("settings: backbone small (width 0.25), 32 px; batch 8 (1 process); adam lr ")
    assert any(line.startswith("data: 24 images") for line in lines)
    assert any(line.startswith("step 1/5 (20%): loss ") for line in lines)
    assert lines[-2].startswith("step 5/5 (100%): loss ")
    assert lines[-1].startswith("trained to step 5: loss ") and "step_00000005" in lines[-1]
    # the console said the same lines (no bar: not a terminal), the log holds nothing the console did not
    for line in lines:
        assert line in printed.out + printed.err, line


def test_a_resumed_run_appends_to_its_log_and_redraws(tmp_path, data):
    run = tmp_path / "run"
    assert pretrain(data, run, 3) == 0  # --quiet: nothing on the console, all of it in train.log
    first = log_lines(run)
    drawn = (run / "curves.png").stat().st_mtime_ns
    assert first[-1].startswith("trained to step 3: ")
    assert pretrain(data, run, 6) == 0
    lines = log_lines(run)
    assert lines[:len(first)] == first  # appended, not rewritten
    later = lines[len(first):]
    assert later[0].startswith("facessl ") and "to step 6" in later[0]
    assert f"resuming {run} from step 3 (step_00000003)" in later
    assert any(line.startswith("note: resuming with changed settings: train.steps") for line in later)
    assert later[-1].startswith("trained to step 6: ")
    assert sum(line.startswith("trained to step") for line in lines) == 2
    assert (run / "curves.png").stat().st_mtime_ns > drawn
    assert not (run / LOCK_FILE).exists()


def test_a_plotting_error_is_a_warning_and_the_run_goes_on(tmp_path, data, monkeypatch, capsys):
    import facessl.viz.curves

    calls = []

    def broken(run_dir, path, method=""):
        calls.append((run_dir / LOCK_FILE).exists())  # drawn while the run still holds its folder
        raise ValueError("no figure today")

    monkeypatch.setattr(facessl.viz.curves, "run_curves", broken)
    run = tmp_path / "run"
    assert pretrain(data, run, 7, quiet=False) == 0  # checkpoints at 3, 6 and 7
    assert len(calls) >= 2 and all(calls)
    assert not (run / "curves.png").exists() and not (run / LOCK_FILE).exists()
    assert [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())] == list(range(1, 8))
    assert (run / "checkpoints" / "step_00000007").is_dir()
    warning = f"warning: {run / 'curves.png'} not drawn (ValueError: no figure today); training goes on"
    assert capsys.readouterr().err.count(warning) == 1  # said once, not at every checkpoint
    lines = log_lines(run)
    assert lines.count(warning) == 1 and lines[-1].startswith("trained to step 7: ")


def test_curves_are_drawn_at_checkpoints_within_their_share_of_the_time(tmp_path, data, monkeypatch):
    import facessl.viz.curves

    drawn = []
    monkeypatch.setattr(facessl.viz.curves, "run_curves", lambda run_dir, path, method="": drawn.append(
        [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()][-1]))
    monkeypatch.setattr(Trainer, "CURVES_SHARE", 1e9)  # no limit: every checkpoint save draws
    assert pretrain(data, tmp_path / "every", 7) == 0
    assert drawn == [3, 6, 7]  # each checkpoint save's, the last at the end, from what was logged up to it
    drawn.clear()
    monkeypatch.setattr(Trainer, "CURVES_SHARE", 1e-12)  # the last drawing "cost" too much: only the end draws
    assert pretrain(data, tmp_path / "end", 7) == 0
    assert drawn == [3, 7]  # the first save draws (nothing measured yet), then only the end


def test_only_the_process_that_writes_the_run_draws_or_logs(tmp_path, data, monkeypatch):
    import facessl.viz.curves

    trainer = Trainer(tiny_config(data, steps=2), tmp_path / "run", quiet=True)
    try:
        trainer.train()
        monkeypatch.setattr(facessl.viz.curves, "run_curves", lambda *a, **k: pytest.fail("rank > 0 drew"))
        trainer.main, trainer.console.enabled, trainer._curves["drawn_step"] = False, False, None  # as on rank 1
        before = (tmp_path / "run" / "train.log").read_text()
        trainer.draw_curves()
        trainer.console.say("a line no one writes")
        assert (tmp_path / "run" / "train.log").read_text() == before
    finally:
        trainer.close()
        release_run_lock(tmp_path / "run")


def test_a_failed_run_keeps_its_lock_file_unlocked_and_the_next_run_takes_it(tmp_path, data, monkeypatch):
    run = tmp_path / "run"

    def diverge(self, batch):
        raise train_module.FacesslError("non-finite loss at step 1 (for the test)")

    monkeypatch.setattr(Trainer, "train_step", diverge)
    assert pretrain(data, run, 3) == 2
    assert (run / LOCK_FILE).exists()  # as before: a run that did not end normally leaves the file
    assert log_lines(run)[-1] == "error: non-finite loss at step 1 (for the test)"
    monkeypatch.undo()
    assert pretrain(data, run, 3) == 0
    assert not (run / LOCK_FILE).exists()


def test_a_refused_resume_is_in_the_log_and_a_refused_second_trainer_writes_nothing(tmp_path, data, monkeypatch):
    run = tmp_path / "run"
    assert pretrain(data, run, 2) == 0
    before = log_lines(run)
    assert pretrain(data, run, 3, "backbone.width=0.5") == 2
    lines = log_lines(run)
    assert lines[:len(before)] == before and lines[-1].startswith("error: ") and "trained with other networks" in lines[-1]
    before = (run / "train.log").read_text()

    def taken(run_dir):
        raise train_module.FacesslError(f"{run_dir}: facessl pretrain (pid 1 on elsewhere) is training into this run now")

    monkeypatch.setattr(train_module, "hold_run_lock", taken)
    assert pretrain(data, run, 3) == 2
    assert (run / "train.log").read_text() == before  # the other trainer's log: not one line of this one's


def test_a_lock_file_removed_by_a_finishing_run_is_not_locked_by_the_next(tmp_path, monkeypatch):
    """A trainer that opened the lock file just before the run holding it removed it (and unlocked it) must not
    hold the removed file (a third trainer would lock the new one: two trainers in one run): it takes the new one."""
    import fcntl
    import os

    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).write_text("facessl pretrain (pid 1 on elsewhere)\n")
    real_flock, locked = fcntl.flock, []

    def flock_after_a_release(handle, how):
        if not locked:  # between this trainer's open() and its flock(), the finishing run removes the file
            os.unlink(run / LOCK_FILE)
        locked.append(os.fstat(handle.fileno()).st_nlink)  # 0: a removed file
        return real_flock(handle, how)

    monkeypatch.setattr(fcntl, "flock", flock_after_a_release)
    hold_run_lock(run)
    try:
        held = train_module._HELD_LOCKS[str(run.resolve())]
        assert (run / LOCK_FILE).is_file() and "facessl pretrain (pid" in (run / LOCK_FILE).read_text()
        assert locked == [0, 1]  # the removed file was locked, seen, let go; the folder's new one is held
        assert os.fstat(held.fileno()).st_nlink == 1 and os.fstat(held.fileno()).st_ino == os.stat(run / LOCK_FILE).st_ino
    finally:
        release_run_lock(run)
    assert not (run / LOCK_FILE).exists() and str(run.resolve()) not in train_module._HELD_LOCKS


def _check_flow_picture(path, names, rows, size):
    """Columns of tiles at least 96 px wide set apart by white gaps, under a header row naming each."""
    im = np.asarray(a_png(path).convert("L"))
    scale = -(-96 // size)
    tile, pad = size * scale, 2 * scale
    assert im.shape[1] == len(names) * (tile + pad) + pad
    header = im.shape[0] - (rows * tile + 2 * pad)
    assert 14 <= header <= 60
    for c in range(len(names)):
        left = pad + c * (tile + pad)
        assert (im[:header, left:left + tile] < 100).sum() > 15, names[c]  # its title's dark text
        assert (im[header:, left - pad:left] == 255).all()  # a white gap before every column


def test_fabnet_flow_pictures_name_their_columns_at_a_readable_size(tmp_path):
    from fabnet_toydata import write_toy_voxceleb

    vox = write_toy_voxceleb(tmp_path / "vox" / "voxceleb", ids=3, tracks=2, frames=4, size=32)
    run = tmp_path / "fabnet"
    assert main(["pretrain", "--config", "fabnet_synth", "--data", str(vox), "--out", str(run), "--steps", "2",
                 "--quiet", "train.batch_size=4", "data.size=32", "data.workers=0", "backbone.width=0.25",
                 "method.embedding_dim=32", "train.checkpoint_every=2", "train.image_every=2", "train.log_every=1",
                 "train.precision=fp32"]) == 0
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "curves.png", "images",
                                                     "metrics.jsonl", "train.log"]
    a_png(run / "curves.png")
    _check_flow_picture(run / "images" / "fabnet_flow_00000002.png",
                        ["source", "target", "warped source", "flow", "|error|"], rows=4, size=32)  # was 164x196 px


def test_multi_source_flow_pictures_name_confidences_and_the_prediction(tmp_path):
    from facessl.engine.runlog import save_image_grid
    from test_fabnet import SIZE, make, tuples

    names = ["source 1", "source 2", "target", "warp 1", "warp 2", "flow 1", "flow 2", "confidence 1", "confidence 2",
             "prediction", "|error|"]
    m = make("multi", 2)
    images = m.images_for_logging(tuples(b=3, k=3))["fabnet_flow"]
    assert images.shape == (1, 3, 3 * SIZE, len(names) * SIZE)  # the method's picture is as it was
    assert m.logging_column_labels("fabnet_flow") == names and m.logging_column_labels("other") is None
    grid = save_image_grid(images, tmp_path / "multi.png", col_labels=names, min_tile=96)  # as the trainer writes it
    _check_flow_picture(tmp_path / "multi.png", names, rows=3, size=SIZE)
    assert grid.shape == (3 * SIZE + 4, len(names) * (SIZE + 2) + 2, 3)  # TensorBoard's copy: the columns apart
