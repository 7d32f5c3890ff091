"""`facessl eval` and `facessl embed` through the CLI, with a toy encoder and toy datasets patched in."""
import json

import numpy as np
import pytest
from PIL import Image

import facessl
import facessl.data.formats as formats
from eval_toys import ToyEncoder, expression_set, pair_set, pose_set
from facessl.cli import main

FAST = ["--seeds", "1", "--epochs", "4", "--supervised-epochs", "1", "--device", "cpu", "--quiet"]


@pytest.fixture
def toys(tmp_path, monkeypatch):
    """Data folders that exist on disk; the readers and the checkpoint loader return toys."""
    root = tmp_path / "bench"
    sets = {"rafdb": expression_set(), "lfw": pair_set(), "aflw2000": pose_set(seed=1), "300wlp": pose_set(seed=2)}
    for name in sets:
        (root / name).mkdir(parents=True)
    monkeypatch.setattr(formats, "read", lambda fmt, path, **kw: sets[fmt], raising=False)
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    return tmp_path


def test_eval_writes_results_and_second_run_hits_cache(toys, capsys):
    out = toys / "eval"
    args = ["eval", "--checkpoint", str(toys / "run"), "--dataset", f"rafdb:{toys / 'bench/rafdb'}",
            "--out", str(out), "--features", "fs,ff+fp", "--baselines", "random", *FAST]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["cache"]["misses"] == 2 and results["cache"]["dir"] == str(toys / ".facessl_cache")
    assert {"facessl_version", "eval_config_hash", "checkpoint", "protocol", "tasks"} <= set(results)
    row = results["tasks"][0]["rows"]["checkpoint"]["ff+fp"]["metrics"]["accuracy"]
    assert len(row["per_seed"]) == 1 and 0 <= row["mean"] <= 1
    assert "Expression recognition" in (out / "results.md").read_text()
    assert main(args) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["cache"]["misses"] == 0  # cached probe outputs: features not even loaded
    assert again["cache"]["probe_hits"] == 4 and again["cache"]["probe_misses"] == 0  # 2 rows x 2 features
    assert again["tasks"][0]["rows"] == results["tasks"][0]["rows"]
    other = [str(toys / "eval5") if a == str(out) else a for a in args[:-len(FAST)]]  # another evaluation: its own
    assert main(other + ["--seeds", "1", "--epochs", "5", "--device", "cpu", "--quiet"]) == 0  # --out, one cache
    third = json.loads((toys / "eval5" / "results.json").read_text())
    assert third["cache"]["hits"] == 2 and third["cache"]["probe_misses"] == 4  # new probe setting, same features


def test_suite_with_data_root(toys):
    suite = toys / "suite.yaml"
    suite.write_text("tasks:\n  - dataset: rafdb:${root}/rafdb\n  - name: LFW\n    dataset: lfw:${root}/lfw\n"
                     "  - task: pose\n    dataset: aflw2000:${root}/aflw2000\n")
    out = toys / "suite_out"
    assert main(["eval", "--checkpoint", str(toys / "run"), "--suite", str(suite), "--data-root",
                 str(toys / "bench"), "--out", str(out), "--baselines", "random", *FAST]) == 0
    results = json.loads((out / "results.json").read_text())
    assert [t["name"] for t in results["tasks"]] == ["rafdb", "LFW", "aflw2000"]
    assert results["tasks"][2]["train_dataset"].startswith("300wlp:")  # found beside aflw2000
    md = (out / "results.md").read_text()
    assert "Face verification" in md and "Head pose" in md


def test_suite_task_features_limit_the_choices(toys):
    suite = toys / "suite.yaml"
    suite.write_text("tasks:\n  - dataset: rafdb:${root}/rafdb\n    features: fs\n"
                     "  - name: LFW\n    dataset: lfw:${root}/lfw\n")
    out = toys / "limited"
    assert main(["eval", "--checkpoint", str(toys / "run"), "--suite", str(suite), "--data-root", str(toys / "bench"),
                 "--out", str(out), "--features", "fs,ff+fp", "--baselines", "none", *FAST]) == 0
    rows = [t["rows"]["checkpoint"] for t in json.loads((out / "results.json").read_text())["tasks"]]
    assert list(rows[0]) == ["fs"] and sorted(rows[1]) == ["ff+fp", "fs"]


def test_suite_task_size_reads_that_task_at_its_own_size(toys, monkeypatch):
    import facessl.evaluate.runner as runner

    supervised_sizes = []
    real_supervised = runner.run_supervised_task
    monkeypatch.setattr(runner, "run_supervised_task",
                        lambda template, task, choice, size, *a, **kw: supervised_sizes.append(size)
                        or real_supervised(template, task, choice, size, *a, **kw))
    suite = toys / "suite.yaml"
    suite.write_text("tasks:\n  - dataset: rafdb:${root}/rafdb\n    size: 24\n  - name: LFW\n    dataset: lfw:${root}/lfw\n")
    common = ["--checkpoint", str(toys / "run"), "--baselines", "random,supervised", "--size", "16", *FAST]
    assert main(["eval", "--suite", str(suite), "--data-root", str(toys / "bench"), "--out", str(toys / "mixed"),
                 *common]) == 0
    mixed = json.loads((toys / "mixed" / "results.json").read_text())
    assert [t["input_size"] for t in mixed["tasks"]] == [24, 16] and supervised_sizes == [24]
    assert "tasks at their own input size: rafdb 24 px" in (toys / "mixed" / "results.md").read_text()
    # the task's rows are what a whole evaluation at that size gives, and not what the default size gives
    for size in ("24", "16"):
        assert main(["eval", "--dataset", f"rafdb:{toys / 'bench/rafdb'}", "--out", str(toys / f"at{size}"),
                     *common[:-len(FAST) - 2], "--size", size, *FAST, "--no-cache"]) == 0
    at = {size: json.loads((toys / f"at{size}" / "results.json").read_text())["tasks"][0]["rows"] for size in ("24", "16")}
    accuracy = lambda rows, label: rows[label]["fs"]["metrics"]["accuracy"]["per_seed"]
    for label in ("checkpoint", "random"):
        assert accuracy(mixed["tasks"][0]["rows"], label) == accuracy(at["24"], label)
    assert mixed["tasks"][0]["rows"]["checkpoint"]["fs"] != at["16"]["checkpoint"]["fs"]


def test_suite_keeps_going_past_a_failed_task(toys, capsys):
    suite = toys / "suite.yaml"
    suite.write_text("tasks:\n  - dataset: rafdb:${root}/rafdb\n  - task: au\n    dataset: rafdb:${root}/rafdb\n")
    out = toys / "partial"
    code = main(["eval", "--checkpoint", str(toys / "run"), "--suite", str(suite), "--data-root", str(toys / "bench"),
                 "--out", str(out), "--baselines", "none", *FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "1 of 2 tasks failed" in err[-1] and "'aus'" in err[-1]
    results = json.loads((out / "results.json").read_text())
    assert "error" in results["tasks"][1] and results["tasks"][0]["rows"]["checkpoint"]
    assert "Failed tasks" in (out / "results.md").read_text()


@pytest.mark.parametrize("extra,message", [
    (["--dataset", "rafdb"], "FORMAT:PATH"),
    (["--dataset", "rafdb:/nonexistent/rafdb"], "does not exist"),
    (["--dataset", "rafdb:X", "--suite", "s.yaml"], "exactly one"),
    ([], "exactly one"),
    (["--dataset", "rafdb:X", "--seeds", "0"], "--seeds"),
    (["--dataset", "rafdb:X", "--baselines", "imagenet"], "baseline"),
    (["--dataset", "rafdb:X", "--supervised-lr", "0"], "--supervised-lr must be > 0, got 0"),
    (["--suite", "SUITE_UNKNOWN_VAR"], "${data}"),
    (["--suite", "SUITE_BAD_KEY"], "unknown key 'datset'"),
    (["--suite", "SUITE_BAD_SIZE"], "tasks[0]: size '64px': expected a whole number of pixels from 8 to 1024"),
])
def test_bad_input_is_one_line_error(toys, capsys, extra, message):
    (toys / "bench/rafdb").mkdir(exist_ok=True)
    (toys / "bad1.yaml").write_text("tasks:\n  - dataset: rafdb:${data}/rafdb\n")
    (toys / "bad2.yaml").write_text("tasks:\n  - datset: rafdb:x\n    dataset: rafdb:x\n")
    (toys / "bad3.yaml").write_text("tasks:\n  - dataset: rafdb:x\n    size: 64px\n")
    extra = [e.replace("rafdb:X", f"rafdb:{toys / 'bench/rafdb'}").replace("SUITE_UNKNOWN_VAR", str(toys / "bad1.yaml"))
             .replace("SUITE_BAD_KEY", str(toys / "bad2.yaml")).replace("SUITE_BAD_SIZE", str(toys / "bad3.yaml"))
             for e in extra]
    code = main(["eval", "--checkpoint", str(toys / "run"), "--out", str(toys / "o"), *FAST, *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_pose_without_training_set_names_the_option(toys, capsys):
    lone = toys / "lone" / "aflw2000"
    lone.mkdir(parents=True)
    assert main(["eval", "--checkpoint", str(toys / "run"), "--dataset", f"aflw2000:{lone}", "--out",
                 str(toys / "o"), *FAST]) == 2
    assert "--train-dataset 300wlp:PATH" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_embed_writes_features_with_names(toys, suffix):
    folder = toys / "imgs" / "sub"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((20, 18, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    out = toys / f"feats{suffix}"
    assert main(["embed", "--checkpoint", str(toys / "run"), "--images", str(toys / "imgs"), "--out", str(out),
                 "--features", "ff+fp", "--device", "cpu", "--quiet"]) == 0
    if suffix == ".npy":
        feats = np.load(out)
        assert feats.shape == (3, 140) and feats.dtype == np.float32
        assert out.with_suffix(".txt").read_text().split() == ["sub/0.png", "sub/1.png", "sub/2.png"]
    else:
        lines = out.read_text().splitlines()
        assert lines[0].startswith("file,f0,") and lines[1].startswith("sub/0.png,") and len(lines) == 4


def test_embed_bad_output_and_feature(toys, capsys):
    (toys / "imgs").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(toys / "imgs/a.png")
    base = ["embed", "--checkpoint", str(toys / "run"), "--images", str(toys / "imgs"), "--quiet"]
    assert main(base + ["--out", str(toys / "f.txt")]) == 2
    assert main(base + ["--out", str(toys / "f.npy"), "--features", "embedding"]) == 2
    assert main(["embed", "--checkpoint", "x", "--images", str(toys / "nope"), "--out", "f.npy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and ".npy or .csv" in err[0] and "embedding" in err[1] and "not a directory" in err[2]
