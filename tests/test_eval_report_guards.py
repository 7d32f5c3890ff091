"""Guards of the results the commands write: `facessl eval` does not replace another evaluation's results,
class names that differ only in case are named, a NaN cell keeps its row in the demo's report (and verdicts call it
inconclusive), and the study refuses a negative time budget and shows no 0.0 minutes for a run without a time."""
import json
import math

import numpy as np
import pytest

import facessl
import facessl.data.formats as formats
from eval_toys import ToyEncoder, expression_set
from facessl.cli import main
from facessl.data.formats.common import ImageSet
from facessl.data.formats.csvtable import read_csv_table
from facessl.data.formats.imagefiles import save_image
from facessl.data.formats.imagefolder import read_imagefolder
from facessl.demo import pipeline
from facessl.demo.verdicts import INCONCLUSIVE, compare, pairwise_claim, split_claim, targets
from facessl.engine.io import write_json_atomic
from facessl.errors import FacesslError
from facessl.evaluate import runner, tables
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec
from facessl.report.html import table_html
from facessl.report.markdown import table_markdown
from facessl.report.tables import NOT_FINITE, paper_tables
from facessl.report.verdicts import targets_table
from facessl.study.plan import load_plan
from facessl.study.report import main_table

FAST = ["--seeds", "1", "--epochs", "2", "--baselines", "none", "--device", "cpu", "--quiet", "--no-cache"]


# 1. `facessl eval --out DIR` and the results of another evaluation already in DIR

@pytest.fixture
def toys(tmp_path, monkeypatch):
    """Two dataset folders that exist; the readers and the checkpoint loader return toys."""
    sets = {"rafdb": expression_set(), "fer2013": expression_set(seed=3)}
    for name in sets:
        (tmp_path / name).mkdir()
    monkeypatch.setattr(formats, "read", lambda fmt, path, **kw: sets[fmt], raising=False)
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    return tmp_path


def _eval(toys, dataset="rafdb", *extra):
    return main(["eval", "--checkpoint", str(toys / "run"), "--dataset", f"{dataset}:{toys / dataset}",
                 "--out", str(toys / "eval"), *FAST, *extra])


def test_eval_refuses_to_replace_another_evaluations_results(toys, capsys):
    assert _eval(toys) == 0
    before = (toys / "eval" / "results.json").read_text()
    assert json.loads(before)["settings"]["tasks"][0]["dataset"] == f"rafdb:{toys / 'rafdb'}"
    assert _eval(toys, "fer2013") == 2
    assert _eval(toys, "rafdb", "--size", "24") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in "".join(err)
    assert err[0].startswith(f"facessl eval: error: {toys / 'eval'}: holds the results of another evaluation (")
    assert f"tasks[0].dataset: 'rafdb:{toys / 'rafdb'}' there, 'fer2013:{toys / 'fer2013'}' now" in err[0]
    assert "options.size: None there, 24 now" in err[1] and err[1].endswith("give another --out, or --overwrite to "
                                                                         "replace them")
    assert (toys / "eval" / "results.json").read_text() == before  # untouched
    assert _eval(toys, "fer2013", "--overwrite") == 0  # said explicitly: replaced
    assert json.loads((toys / "eval" / "results.json").read_text())["tasks"][0]["dataset"].startswith("fer2013:")


def test_eval_rerun_with_the_same_settings_recomputes(toys, monkeypatch):
    assert _eval(toys) == 0
    (toys / "eval" / "results.json").write_text((toys / "eval" / "results.json").read_text())
    assert _eval(toys) == 0  # the same evaluation: rewritten, not refused
    monkeypatch.chdir(toys)  # the dataset given relative to another folder is still the same dataset
    assert main(["eval", "--checkpoint", "run", "--dataset", "rafdb:rafdb", "--out", "eval", *FAST]) == 0
    assert not [p for p in (toys / "eval").iterdir() if p.name.startswith(".")]  # no temporaries left behind


def test_eval_refuses_the_results_of_another_checkpoint(toys, monkeypatch, capsys):
    assert _eval(toys) == 0
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder(seed=1))  # the run trained on
    assert _eval(toys) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "checkpoint weights: '" in err and "--overwrite" in err


@pytest.mark.parametrize("content, message", [
    ('{"tasks": []}', "settings an earlier facessl did not record"),
    ('{"tasks": [', "results.json: unreadable results of an earlier evaluation"),
    ("[1, 2]", "results.json: not the results of an evaluation"),
])
def test_eval_refuses_results_it_cannot_compare(toys, capsys, content, message):
    (toys / "eval").mkdir()
    (toys / "eval" / "results.json").write_text(content)
    assert _eval(toys) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "--overwrite" in err
    assert (toys / "eval" / "results.json").read_text() == content


# 2. class names that differ only in case (or in surrounding spaces) in a user's own labels

def _photos(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        save_image(folder / name, np.full((12, 12, 3), 20 * (i % 10), np.uint8))


def test_csv_labels_are_stripped_and_case_only_differences_are_recorded(tmp_path):
    labels = ["Happy", "happy", "sad ", " sad", "Sad"] * 4
    _photos(tmp_path, [f"{i}.png" for i in range(len(labels))])
    (tmp_path / "t.csv").write_text("image,emotion\n" + "".join(f"{i}.png,{v}\n" for i, v in enumerate(labels)))
    data = read_csv_table(tmp_path / "t.csv", label_column="emotion")
    assert data.meta["class_names"] == ["Happy", "Sad", "happy", "sad"]  # kept apart, spaces gone
    assert data.meta["case_only_classes"] == [["Happy", "happy"], ["Sad", "sad"]]


def test_class_folders_are_stripped_and_case_only_differences_are_recorded(tmp_path):
    for folder in ("Happy", "happy", "sad ", "sad"):
        _photos(tmp_path / "faces" / folder, [f"{folder.strip()}{i}.png" for i in range(4)])
    data = read_imagefolder(tmp_path / "faces")
    assert data.meta["class_names"] == ["Happy", "happy", "sad"]  # 'sad ' and 'sad': one class
    assert int((data.labels["class"] == 2).sum()) == 8
    assert data.meta["case_only_classes"] == [["Happy", "happy"]]
    _photos(tmp_path / "plain" / "a", ["1.png"])
    _photos(tmp_path / "plain" / "b", ["1.png"])
    assert "case_only_classes" not in read_imagefolder(tmp_path / "plain").meta


def test_eval_names_classes_that_differ_only_in_case(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 60
    y = np.arange(n) % 3
    images = np.clip(np.array([40, 120, 200])[y][:, None, None, None] + rng.normal(0, 10, (n, 12, 12, 3)), 0, 255)
    data = ImageSet(images.astype(np.uint8), {"class": y, "group": np.arange(n).astype(str)},
                    np.where(np.arange(n) < 45, "train", "test").astype(object), source="own.csv",
                    meta={"class_names": ["Happy", "happy", "sad"], "case_only_classes": [["Happy", "happy"]]})
    options = EvalOptions(seeds=1, epochs=2, device="cpu")
    results = runner.evaluate(ToyEncoder(), [TaskSpec("", "csv:/own")], options, baselines=(),
                              datasets={"csv:/own": data})
    note = ("classes 'Happy' and 'happy' differ only in case; they are kept apart — fix the labels if they are one "
            "class")
    assert f"[csv] own.csv: note: {note}" in capsys.readouterr().err.splitlines()
    assert results["tasks"][0]["info"]["case_only_classes"] == [["Happy", "happy"]]
    assert f"- csv: {note}" in tables.render(results)


# 3. a NaN in the demo's tables: the row stays, marked; verdicts inconclusive; strict JSON

def _rows_with_a_nan():
    return {"random": {"rafdb/accuracy": [40.0, 1.0], "fer2013/accuracy": [30.0, 1.0], "lfw/accuracy": [50.0, 1.0]},
            "simclr": {"rafdb/accuracy": [55.0, 1.0], "fer2013/accuracy": [45.0, 1.0], "lfw/accuracy": [60.0, 1.0]},
            "pcl": {"rafdb/accuracy": [math.nan, math.nan], "lfw/accuracy": [math.inf, 0.0]},
            "fabnet": {"mafl/nme": [math.nan, None]}}  # its only value: a row and a column of one NaN


def test_a_nan_cell_keeps_its_row_in_markdown_and_html():
    built = paper_tables(_rows_with_a_nan())
    for title, cells in (("Expression recognition", ["PCL", "—", NOT_FINITE]),
                         ("Face verification", ["PCL", NOT_FINITE]), ("Facial landmarks", ["FAb-Net", NOT_FINITE])):
        assert "| " + " | ".join(cells) + " |" in table_markdown(built[title]), title
        row = f'<tr><th class="left">{cells[0]}</th>' + "".join(f'<td class="right">{c}</td>' for c in cells[1:])
        assert row + "</tr>" in table_html(built[title]), title
    assert not built["Expression recognition"].emphasis  # a NaN is no candidate for the best: SimCLR alone is left
    assert built["Facial landmarks"].header == ["method", "MAFL NME (%)"]


def test_a_nan_or_infinite_value_is_neither_a_win_nor_a_loss():
    assert compare([math.nan, 1.0], [50.0, 1.0]) == compare([50.0, 1.0], [math.nan, None]) == "not finite"
    assert compare([math.inf, 0.0], [50.0, 1.0]) == compare([10.0, 0.1], [math.inf, 0.1], lower=True) == "not finite"
    assert compare([60.0, math.nan], [50.0, 1.0]) == "not finite"  # the spread unknown: no margin to decide by
    rows = _rows_with_a_nan()
    claim = pairwise_claim("PCL beats SimCLR", rows, "pcl", "simclr", "lfw/accuracy", rows["random"]["lfw/accuracy"])
    assert claim["verdict"] == INCONCLUSIVE and "not finite" in claim["rule"]
    features = {"fp": {"aflw2000/mae": [math.nan, None]}, "ff": {"aflw2000/mae": [18.0, 0.2]}}
    assert split_claim("F_p holds pose", features, "fp", "ff", "aflw2000/mae", [25.0, 0.1])["verdict"] == INCONCLUSIVE
    main = {"random": {"rafdb/accuracy": [20.0, 0.5]}, "pcl": {"rafdb/accuracy": [math.nan, None]}}
    target = next(t for t in targets(main) if t["row"] == "pcl" and t["metric"] == "rafdb/accuracy")
    assert target["met"] is None
    assert targets_table([target]).rows[0][3:] == [NOT_FINITE, "20.00 ± 0.50", "—", "inconclusive (not finite)"]


def test_a_seed_value_stored_as_null_pools_to_nan_not_a_crash():
    results = runner.json_safe({"tasks": [{"name": "RAF-DB", "rows": {"checkpoint": {"fs": {"metrics": {
        "accuracy": {"mean": math.nan, "per_seed": [math.nan, 0.5]}}}}}}]})  # as results.json holds it
    assert results["tasks"][0]["rows"]["checkpoint"]["fs"]["metrics"]["accuracy"]["per_seed"] == [None, 0.5]
    assert all(math.isnan(v) for v in pipeline.pooled_rows([results])["rafdb/accuracy"])


def _strict(text: str):
    def refuse(token):
        raise ValueError(f"bare {token} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_tables_json_is_strict_json_and_the_report_still_marks_the_nan(tmp_path):
    rows = _rows_with_a_nan()
    write_json_atomic(tmp_path / "results" / "tables.json", {"main": rows}, strict=True)
    stored = _strict((tmp_path / "results" / "tables.json").read_text())  # any parser reads it
    assert stored["main"]["pcl"]["rafdb/accuracy"] == ["NaN", "NaN"]
    assert stored["main"]["pcl"]["lfw/accuracy"][0] == "Infinity"
    (tmp_path / "hardware.json").write_text("{}")
    (tmp_path / "timings.json").write_text("{}")
    assert main(["report", str(tmp_path)]) == 0
    markdown, page = (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()
    assert "| PCL | — | n/a (not finite) |" in markdown and "| PCL | n/a (not finite) |" in markdown
    assert page.count(NOT_FINITE) == markdown.count(NOT_FINITE) == 3


def test_the_demo_writes_its_tables_verdicts_and_targets_as_strict_json(tmp_path, monkeypatch):
    from facessl.demo import report as demo_report
    from facessl.demo.plan import get_plan

    rows = _rows_with_a_nan()
    monkeypatch.setattr(demo_report, "main_rows", lambda out, plan: (rows, {}))
    monkeypatch.setattr(demo_report, "summary_text", lambda out, plan, with_ablation: "summary")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "analysis.json").write_text("{}")
    demo_report.write_report(tmp_path, get_plan("tiny"), {"demo": 1.0})
    for name in ("tables", "verdicts", "targets"):
        _strict((tmp_path / "results" / f"{name}.json").read_text())
    assert "| PCL | n/a (not finite) |" in (tmp_path / "report.md").read_text()


# 4. the study's time budget and its pretraining-time column

@pytest.mark.parametrize("budget", ["-1", ".nan", "'ten'"])
def test_study_refuses_a_budget_that_is_no_amount_of_time(tmp_path, capsys, budget):
    (tmp_path / "photos").mkdir()
    (tmp_path / "labels.csv").write_text("image,label\n")
    code = main(["study", "--out", str(tmp_path / "study"), f"photos={tmp_path / 'photos'}",
                 f"labels={tmp_path / 'labels.csv'}", f"budget_minutes={budget}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "budget_minutes must be a number of minutes > 0" in err
    assert not (tmp_path / "study").exists()  # refused before anything was recorded


def test_study_budget_of_zero_means_steps(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "labels.csv").write_text("image,label\n")
    plan = load_plan(None, [f"photos={tmp_path / 'photos'}", f"labels={tmp_path / 'labels.csv'}", "budget_minutes=0"])
    assert plan.budget_minutes == 0 and plan.steps == 600
    with pytest.raises(FacesslError, match="budget_minutes"):
        load_plan(None, [f"photos={tmp_path / 'photos'}", f"labels={tmp_path / 'labels.csv'}", "budget_minutes=-0.5"])


def test_study_time_column_says_minutes_and_nothing_for_no_time():
    rows = {name: {"method": method, "accuracy": [50.0]} for name, method in
            (("SimCLR", "simclr"), ("PCL", "pcl"), ("FAb-Net", "fabnet"), ("Random weights", "random"))}
    timings = {"pretrain-simclr_seed0": 0.0, "pretrain-pcl_seed0": 2.5,  # a run without a time; a 2.5 s run
               "pretrain-fabnet_seed0": 750.0, "pretrain-fabnet_seed1": 850.0, "eval-fabnet_seed0": 60.0}
    table = main_table(rows, timings)
    assert table.header[-1] == "pretraining (min)"
    assert [r[-1] for r in table.rows] == ["—", "< 0.1 per seed", "13.3 per seed", ""]  # (750 + 850) / 2 s


def test_eval_rerun_without_features_is_the_same_as_naming_the_default(tmp_path, monkeypatch, capsys):
    """No --features means the encoder's first feature: naming it is the same evaluation, another one is not."""
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    root = tmp_path / "faces"
    for k in range(24):
        (root / "ab"[k % 2]).mkdir(parents=True, exist_ok=True)
        save_image(root / "ab"[k % 2] / f"{k}.png", np.full((8, 8, 3), 40 + 150 * (k % 2), np.uint8))
    args = ["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"imagefolder:{root}", "--out",
            str(tmp_path / "eval"), "--seeds", "1", "--epochs", "5", "--baselines", "none", "--quiet", "--no-cache"]
    assert main(args) == 0
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["settings"]["features"] == ["fs"]
    assert main(args + ["--features", "fs"]) == 0
    assert main(args + ["--features", "ff"]) == 2  # another feature: another evaluation, refused
    assert "features: ['fs'] there, ['ff'] now" in capsys.readouterr().err
