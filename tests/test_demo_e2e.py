"""`facessl demo --scale tiny` and `facessl ablate --scale tiny` end to end, as a user runs them (about two
minutes on 2 cores): every output the issue names is written, a rerun skips what is finished, and the
ablation joins the demo's tables, verdicts and report with its three columns."""
import json
import subprocess
import sys

import pytest
import torch

from facessl.engine.runtime import resolve_precision

VERDICTS = {"reproduced", "not reproduced", "inconclusive"}
ABLATION_ROWS = ("simclr", "+l_dis", "+l_orth", "+l_pose", "+dwa")


def facessl(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "facessl", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    done = facessl("demo", "--scale", "tiny", "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_the_demo_writes_its_tables_verdicts_and_report(demo):
    tables = json.loads((demo / "results" / "tables.json").read_text())
    assert {"simclr", "pcl", "fabnet", "random", "supervised"} <= set(tables["main"])
    assert "ablation" not in tables  # `facessl ablate` adds it
    verdicts = json.loads((demo / "results" / "verdicts.json").read_text())
    assert len(verdicts) == 8 and all(set(v) >= {"claim", "verdict", "numbers"} for v in verdicts)
    assert {v["verdict"] for v in verdicts} <= VERDICTS
    ablation_claim, = [v for v in verdicts if v["claim"].startswith("The ablation is ordered")]
    assert ablation_claim["verdict"] == "inconclusive" and ablation_claim["numbers"] == {}
    report = (demo / "report.md").read_text()
    assert "Verdicts: the papers' claims at this budget" in report and ". PCL ablation\n" not in report
    assert "`facessl ablate --out <this directory>` runs it and adds its table and its verdict here." in report
    chosen = resolve_precision("auto", torch.device("cpu"))  # what auto chose here
    assert f"Pretraining precision: {chosen} (" in report
    assert ("the stem, the convolution that reads the image, computes in fp32" in report) == (chosen != "fp32")
    trained_in = {"bf16": "bf16 autocast", "fp32": "fp32"}[resolve_precision("auto", torch.device("cpu"))]
    assert f"Supervised rows: {trained_in} (`--supervised-precision auto`)." in report
    assert (demo / "report.html").stat().st_size > 10_000
    assert "input 32 px (RAF-DB at 48 px, as the reference probes each task at its own size)" in report
    assert "Probes and supervised rows read input 32 px (RAF-DB at 48 px" in report  # above each results table
    assert "early stopping on a validation split, Adam at 0.003 for landmarks and 0.001 for the other tasks; " in report
    assert ("LFW's and CPLFW's an identity classifier trained on the pretraining frames' identities (at most 1 epoch,"
            in report)
    baselines = {t["name"]: t for t in json.loads((demo / "eval" / "baselines" / "results.json").read_text())["tasks"]}
    assert baselines["300-W"]["rows"]["supervised"]["fs"]["lr"] == 3e-3  # what the report says is what trained
    assert baselines["RAF-DB"]["rows"]["supervised"]["fs"]["lr"] == 1e-3
    for pairs in ("LFW", "CPLFW"):  # verification's supervised row: trained on the pretraining frames' identities
        row = baselines[pairs]["rows"]["supervised"]["fs"]
        assert row["trained_on"].endswith("data/voxceleb") and row["selection"][0]["epochs_run"] == 1
        assert 0 <= tables["main"]["supervised"][f"{pairs.lower()}/accuracy"][0] <= 100
    for run in ("baselines", "simclr", "pcl", "fabnet"):  # the plan's probe size reaches every row, supervised included
        tasks = {t["name"]: t for t in json.loads((demo / "eval" / run / "results.json").read_text())["tasks"]}
        assert tasks["RAF-DB"]["input_size"] == 48 and tasks["LFW"]["input_size"] == 32


def test_a_second_demo_run_skips_every_finished_stage(demo):
    before = (demo / "results" / "tables.json").read_bytes()
    again = facessl("demo", "--scale", "tiny", "--out", demo)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "done earlier" in again.stderr and "... (worker process" not in again.stderr  # progress goes to stderr
    assert (demo / "results" / "tables.json").read_bytes() == before


def test_a_demo_directory_refuses_another_precision_in_one_line(demo):
    for verb in ("demo", "ablate"):
        other = facessl(verb, "--scale", "tiny", "--out", demo, "--precision", "fp32", "--quiet")
        assert other.returncode != 0 and "Traceback" not in other.stderr
        assert "precision: 'auto' there, 'fp32' now" in other.stderr.strip().splitlines()[-1]


def test_ablate_adds_its_rows_with_identity_and_pose_columns(demo):
    done = facessl("ablate", "--scale", "tiny", "--out", demo, "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads((demo / "results" / "tables.json").read_text())["ablation"]
    assert set(rows) == set(ABLATION_ROWS)
    for row in rows.values():
        assert {"rafdb/accuracy", "lfw/accuracy", "aflw2000/mae"} <= set(row)
    claim, = [v for v in json.loads((demo / "results" / "verdicts.json").read_text())
              if v["claim"].startswith("The ablation is ordered")]
    assert claim["verdict"] in VERDICTS and sum(not k.startswith("random") for k in claim["numbers"]) == len(ABLATION_ROWS)
    report = (demo / "report.md").read_text()
    assert ". PCL ablation\n" in report
    assert "`facessl ablate --out <this directory>` has run it here" in report and "runs it and adds" not in report
    ours, published = [line for line in report.splitlines() if line.startswith("| configuration")]
    assert "RAF-DB" in ours and "LFW" in ours and "AFLW2000" in ours
    assert "RAF-DB" in published and "LFW" not in published  # the paper's ablation has RAF-DB only
