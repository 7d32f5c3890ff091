"""Smaller problems a walk-through on real data found (session 37): a resume at another data.size, Excel's UTF-16
"Unicode text" CSV, eval on a run without a checkpoint yet, the files prepare passes over, prepare stopped by
SIGTERM and resumed, help texts that list what the code does, and a study's count of one probe seed."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facessl.cli import main
from facessl.errors import FacesslError
from prepare_fixtures import write_video
from train_helpers import make_track_tree, tiny_config

VIDEO_ARGS = ["--every", "1", "--size", "32", "--min-track", "4"]


# ---- 1. a resume with another data.size names the key ---------------------------------------------------------
def test_a_resume_at_another_data_size_names_it_and_how_to_resolve(tmp_path):
    from facessl.engine.train import train

    data = make_track_tree(tmp_path / "data", identities=3, videos=1, tracks=2, frames=3, size=64)
    train(tiny_config(data, steps=1), tmp_path / "run", quiet=True)  # trained at 32 px
    with pytest.raises(FacesslError) as err:
        train(tiny_config(data, "data.size=64", steps=2), tmp_path / "run", quiet=True)
    text = str(err.value)
    assert "trained with other networks (data.size was 32, now 64)" in text and "shape mismatches" not in text
    assert "rerun with data.size=32, or start a new run with another --out" in text
    with pytest.raises(FacesslError, match=r"\(method.proj_hidden was 64, now 32\).*rerun with method.proj_hidden=64"):
        train(tiny_config(data, "method.proj_hidden=32", steps=2), tmp_path / "run", quiet=True)
    # a changed key that sizes no layer resumes as before
    assert train(tiny_config(data, "method.temperature=0.3", steps=2), tmp_path / "run", quiet=True)


# ---- 2. UTF-16 CSV (Excel's "Unicode text") ----------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-8", "utf-8-sig"])
def test_a_utf16_csv_with_its_bom_reads_as_the_utf8_one(tmp_path, encoding):
    from facessl.data.formats.text import read_csv

    text = "image\tlabel\r\na.jpg\thappy\r\nb.jpg\tsad\r\n"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    (tmp_path / "legend.csv").write_bytes(bom + text.encode(encoding))
    assert read_csv(tmp_path / "legend.csv", "label table") == (["image", "label"],
                                                                 [(2, ["a.jpg", "happy"]), (3, ["b.jpg", "sad"])])


def test_a_damaged_utf16_csv_is_one_error_naming_the_line(tmp_path):
    from facessl.data.formats.text import read_csv
    from facessl.errors import DataFormatError

    (tmp_path / "legend.csv").write_bytes(b"\xff\xfe" + "image,label\n".encode("utf-16-le") + b"\x00\xdc")
    with pytest.raises(DataFormatError, match=r"legend.csv:2: label table is not UTF-8 text, nor the UTF-16 its "
                                              r"byte-order mark says \(.* at byte 26\); save it as UTF-8"):
        read_csv(tmp_path / "legend.csv", "label table")


# ---- 3. a run without a checkpoint yet ------------------------------------------------------------------------
@pytest.mark.parametrize("marker", ["config.yaml", "metrics.jsonl", ".facessl.lock"])
def test_a_run_before_its_first_checkpoint_is_said_so(tmp_path, marker):
    from facessl.engine.checkpoint import resolve_checkpoint

    run = tmp_path / "run"
    run.mkdir()
    (run / marker).write_text("")
    with pytest.raises(FacesslError, match=re.escape(f"{run}: run in progress or stopped before its first checkpoint "
                                                     "(no checkpoints/ yet)")):
        resolve_checkpoint(run)
    (run / marker).unlink()  # an empty folder is not a run
    with pytest.raises(FacesslError, match="not a checkpoint .* nor a run directory"):
        resolve_checkpoint(run)


# ---- 4, 5. prepare: the files passed over are named; a resume is said; SIGTERM stops as Ctrl-C does ------------
def test_the_files_prepare_passes_over_are_named_and_a_resume_is_said(tmp_path, capsys):
    root = tmp_path / "videos"
    write_video(root / "a.mp4", frames=5, seed=1, shape=(80, 96))
    (root / "LICENSE").write_text("CC BY 4.0")
    assert main(["prepare", "--videos", str(root), "--out", str(tmp_path / "o"), *VIDEO_ARGS, "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "  not read (videos): 1 other file: (no suffix) (1): LICENSE\n" in printed
    assert "resuming" not in printed
    for i in range(6):
        (root / f"notes{i}.txt").write_text("x")
    write_video(root / "b.mp4", frames=5, seed=2, shape=(80, 96))
    assert main(["prepare", "--videos", str(root), "--out", str(tmp_path / "o"), *VIDEO_ARGS, "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "resuming: 1 of 2 videos already prepared\n" in printed
    assert ("7 other files: .txt (6), (no suffix) (1): LICENSE, notes0.txt, notes1.txt, notes2.txt, notes3.txt "
            "... (2 more)") in printed
    assert json.loads((tmp_path / "o" / "prepare.json").read_text())["ignored_names"][0] == "LICENSE"


def _children(pid: int) -> list[str]:
    """Command lines of pid's child processes (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append((entry / "cmdline").read_bytes().decode(errors="replace"))
        except (OSError, IndexError):
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc to see the worker processes start")
def test_sigterm_stops_prepare_as_ctrl_c_does_with_its_workers_shut_down(tmp_path):
    root = tmp_path / "videos"
    for i in range(4):
        write_video(root / f"c{i}.mp4", frames=8, seed=i, shape=(80, 112))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "default"}
    # in a session of its own, signalled as a group: as `timeout` and a scheduler send it (workers get it too)
    proc = subprocess.Popen([sys.executable, "-m", "facessl.cli", "prepare", "--videos", str(root), "--out",
                             str(tmp_path / "o"), *VIDEO_ARGS, "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not any("spawn_main" in c for c in _children(proc.pid)):
        time.sleep(0.05)  # until the worker pool is up (its queues hold the semaphores a kill would leak)
    assert proc.poll() is None, "prepare finished before the test could stop it"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "facessl prepare: interrupted; rerun the same command to resume" in err
    assert "Traceback" not in err and "leaked" not in err and "resource_tracker" not in err


# ---- 6, 7. help texts say what the code does ------------------------------------------------------------------
def _help(verb: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_eval_help_lists_every_image_column_name_the_reader_accepts(capsys):
    from facessl.data.formats.csvtable import IMAGE_COLUMNS

    assert "img" in IMAGE_COLUMNS
    assert f"named {', '.join(IMAGE_COLUMNS)}, in any case" in _help("eval", capsys)


def test_embed_help_says_undecodable_images_are_skipped_without_skip_missing(capsys):
    text = _help("embed", capsys)
    flag = text[text.index("--skip-missing "):]
    assert flag.startswith("--skip-missing --dataset: skip (and count) the images its list names but lacks")
    assert "Images that do not decode are skipped and named with or without it" in flag


# ---- 8. a count of one in the singular ----------------------------------------------------------------------
def test_a_study_of_one_probe_seed_says_1_seed(tmp_path):
    from facessl.study.plan import load_plan
    from facessl.study.report import write_report

    (tmp_path / "photos").mkdir()
    (tmp_path / "legend.csv").write_text("image,label\n")
    (tmp_path / "study.yaml").write_text(f"photos: {tmp_path / 'photos'}\nlabels: {tmp_path / 'legend.csv'}\n")
    plan = load_plan(tmp_path / "study.yaml", ["methods=[simclr]", "seeds=[0]", "probe_seeds=1"])
    out = tmp_path / "study"
    metrics = {m: {"per_seed": [0.3], "mean": 0.3} for m in ("accuracy", "mean_class_accuracy", "macro_f1")}
    results = {"tasks": [{"name": "real expressions", "task": "classification",
                          "rows": {"checkpoint": {"fs": {"metrics": metrics}}}}]}
    (out / "eval" / "simclr_seed0").mkdir(parents=True)
    (out / "eval" / "simclr_seed0" / "results.json").write_text(json.dumps(results))
    data_info = {"pretrain_photos": 10, "counts": {"train": {"a": 8}, "test": {"a": 2}}, "split": "toy split"}
    write_report(out, plan, data_info, {}, [])
    md = (out / "report.md").read_text()
    assert "px input, 1 seed, " in md and "1 seeds" not in md
    shutil.rmtree(out)
