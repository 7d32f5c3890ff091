"""`facessl compare`: several eval folders side by side, only when their numbers are comparable."""
from dataclasses import replace

import pytest

from eval_toys import ToyEncoder, expression_set
from facessl.cli import main
from facessl.evaluate import runner, tables
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

FAST = EvalOptions(seeds=1, epochs=4, weight_decays=(0.0,), device="cpu", quiet=True)


def evaluated(folder, options=FAST, dataset="rafdb:/r", seed=0, n=160):
    import torch

    torch.manual_seed(seed)
    results = runner.evaluate(ToyEncoder(), [TaskSpec("", dataset)], options, baselines=("random",),
                              datasets={dataset: expression_set(n=n)})
    tables.save(folder, results)
    return results


def test_two_evaluations_in_one_table(tmp_path, capsys):
    a = evaluated(tmp_path / "simclr")
    b = evaluated(tmp_path / "pcl", seed=1)
    assert main(["compare", str(tmp_path / "simclr"), str(tmp_path / "pcl"), "--out", str(tmp_path / "c.md")]) == 0
    text = (tmp_path / "c.md").read_text()
    cell = lambda r: f"{r['tasks'][0]['rows']['checkpoint']['fs']['metrics']['accuracy']['mean'] * 100:.2f}"
    assert f"| simclr | fs | {cell(a)}" in text and f"| pcl | fs | {cell(b)}" in text
    # one architecture, the same random draws: the baselines once, the random row naming both evaluations
    assert text.count("| random weights (simclr, pcl) | fs |") == 1 and text.count("| random") == 1
    assert text.count("| floor |") == 1
    assert text.index("| pcl |") < text.index("| random weights") < text.index("| floor |")  # the checkpoints first
    assert "# facessl: evaluations compared" in capsys.readouterr().out


@pytest.mark.parametrize("other, message", [
    (lambda f: evaluated(f, replace(FAST, seeds=2)), "other protocol settings (seeds: 1 in"),
    (lambda f: evaluated(f, dataset="rafdb:/other"), "evaluated other tasks"),
    (lambda f: evaluated(f, n=150), "train rows 112 in"),  # results without the eval command's settings: the rows
])
def test_evaluations_that_are_not_comparable_are_refused(tmp_path, capsys, other, message):
    evaluated(tmp_path / "a")
    other(tmp_path / "b")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_folder_without_results_is_named(tmp_path, capsys):
    evaluated(tmp_path / "a")
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "empty")]) == 2
    assert "empty: no results.json" in capsys.readouterr().err
