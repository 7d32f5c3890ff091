"""Reports: paper-layout tables, markdown and self-contained HTML, and the `facessl report` command."""
import base64
import html
import json
import math
import re

import pytest
import torch
from PIL import Image

from facessl.cli import main
from facessl.engine.runtime import resolve_precision
from facessl.errors import FacesslError
from facessl.report import (Section, Table, ablation_table, build_report, feature_choice_table, format_mean_std,
                            fractions_to_percent, hardware_info, paper_tables)
from facessl.report.markdown import table_markdown
from facessl.report.tables import MISSING, NOT_FINITE, mean_std


def test_format_mean_std():
    assert format_mean_std(74.466, 0.314) == "74.47 ± 0.31"
    assert format_mean_std(74.466) == "74.47"
    assert format_mean_std(74.466, float("nan"), digits=1) == "74.5"
    assert format_mean_std(None, 0.2) == MISSING == "—"
    assert format_mean_std(math.inf, 0.2) == NOT_FINITE == "n/a (not finite)"  # measured, unlike None
    assert [mean_std(v) for v in ([1, 2], (1, None), 3, {"mean": 4, "std": 5}, None)] == \
        [(1, 2), (1, None), (3, None), (4, 5), (None, None)]


def main_rows():
    return {
        "pcl": {"rafdb/accuracy": [74.47, 0.3], "fer2013/accuracy": [56.81, 0.2], "aflw2000/mae": [12.36, 0.1],
                "lfw/accuracy": [79.72, None]},
        "supervised": {"rafdb/accuracy": [90.0, 0.1], "aflw2000/mae": [5.0, 0.1]},
        "simclr": {"rafdb/accuracy": [71.06, 0.4], "fer2013/accuracy": 49.51, "aflw2000/mae": [11.0, 0.5]},
        "mine": {"rafdb/accuracy": {"mean": 60.0, "std": 1.0}},
        "fabnet": {"disfa/f1_AU1": [40.0, 1.0]},
    }


def test_paper_tables_layout_order_missing_and_best():
    tables = paper_tables(main_rows())
    expression = tables["Expression recognition"]
    assert expression.header == ["method", "FER-2013 acc. (%)", "RAF-DB acc. (%)"]
    assert [r[0] for r in expression.rows] == ["SimCLR", "PCL", "Supervised", "mine"]  # known order, then unknown
    assert expression.rows[0] == ["SimCLR", "49.51", "71.06 ± 0.40"]
    assert expression.rows[2][1] == "—" and expression.rows[3] == ["mine", "—", "60.00 ± 1.00"]
    assert (1, 2) in expression.emphasis and (2, 2) not in expression.emphasis  # supervised is a reference row
    pose = tables["Head pose"]
    assert pose.header == ["method", "AFLW2000 MAE (°)"]  # unmeasured columns dropped
    assert (0, 1) in pose.emphasis  # MAE: lower is better (SimCLR 11.0 < PCL 12.36)
    aus = tables["Action units (DISFA F1)"]
    assert [r[0] for r in aus.rows] == ["FAb-Net"] and aus.header == ["method", "AU1"]
    assert tables["Facial landmarks"].rows == []


def test_ablation_and_feature_choice_keep_the_paper_rows():
    ablation = ablation_table({"+l_dis": {"rafdb/accuracy": [71.47, 0.2]}, "simclr": {"rafdb/accuracy": 71.06}})
    assert [r[0] for r in ablation.rows] == ["SimCLR", "+ L_dis"] and ablation.header == ["configuration", "RAF-DB acc. (%)"]
    ours = ablation_table({"simclr": {"rafdb/accuracy": [25.7, 0.1], "lfw/accuracy": [58.2, 0.3], "aflw2000/mae": [14.4, 0.1]},
                           "+l_pose": {"rafdb/accuracy": [25.6, 0.1], "lfw/accuracy": [55.8, 0.5], "aflw2000/mae": [13.8, 0.2]}})
    assert ours.header[1:] == ["RAF-DB acc. (%)", "LFW acc. (%)", "AFLW2000 MAE (°)"]
    assert ours.rows[1] == ["+ L_pose", "25.60 ± 0.10", "55.80 ± 0.50", "13.80 ± 0.20"]
    assert (1, 3) in ours.emphasis and (0, 3) not in ours.emphasis  # MAE: lower is better
    choice = feature_choice_table({"fp": {"rafdb/accuracy": 65.7, "lfw/accuracy": 62.5, "disfa/f1_mean": 34.2},
                                   "ff+fp": {"lfw/accuracy": 79.1}})
    assert choice.rows == [["F_p", "65.70", "62.50", "34.20"], ["F_f + F_p", "—", "79.10", "—"]]


def test_fractions_to_percent_scales_only_percent_metrics():
    out = fractions_to_percent({"pcl": {"rafdb/accuracy": [0.7447, 0.003], "aflw2000/mae": 12.36, "x": 1.0,
                                        "disfa/f1_AU4": 0.5, "300w/nme": 5.71}})
    assert out["pcl"]["rafdb/accuracy"] == pytest.approx([74.47, 0.3]) and out["pcl"]["disfa/f1_AU4"] == [50.0, None]
    assert out["pcl"]["aflw2000/mae"] == [12.36, None] and out["pcl"]["x"] == [1.0, None]
    assert out["pcl"]["300w/nme"] == [5.71, None]


def check_markdown_tables(text):
    """Every pipe table: header, alignment row, rows with the header's cell count."""
    blocks = re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M)
    assert blocks
    for block in blocks:
        lines = block.strip().splitlines()
        counts = [len(re.findall(r"(?<!\\)\|", line)) for line in lines]
        assert len(set(counts)) == 1, block
        assert re.fullmatch(r"\|(:?-{3,}:?\|)+", lines[1]), lines[1]
    return blocks


def make_png(path, colour, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def test_build_report_html_is_self_contained_and_complete(tmp_path):
    tables = list(paper_tables(main_rows()).values())
    tables.append(Table(["a|b", "c"], [["x|y", "1"]], caption="pipes in cells"))
    images = [make_png(tmp_path / "figures/one.png", (255, 0, 0)), make_png(tmp_path / "figures/two.png", (0, 0, 255))]
    sections = [Section("Results", "Some **bold** text with `code`.\n\n- item one\n- item two", tables,
                        [(images[0], "first <figure>")]),
                {"title": "More", "images": [{"path": images[1], "caption": "second"}]}]
    md_path, html_path = build_report(tmp_path, sections, title="Test report")
    page = html_path.read_text()
    for table in tables:
        for cell in table.header + [c for row in table.rows for c in row]:
            assert html.escape(cell) in page, cell
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(u) for u in uris] == [p.read_bytes() for p in images]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page and "<script" not in page and "@import" not in page
    assert 'href="#s1-results"' in page and 'id="s1-results"' in page  # table of contents
    assert "first &lt;figure&gt;" in page and "<strong>bold</strong>" in page and "<li>item two</li>" in page
    markdown = md_path.read_text()
    check_markdown_tables(markdown)
    assert "| a\\|b | c |" in markdown and "![second](figures/two.png)" in markdown
    assert "**74.47 ± 0.30**" in markdown


def test_build_report_names_a_missing_figure(tmp_path):
    with pytest.raises(FacesslError, match=r"nothere\.png: figure file not found"):
        build_report(tmp_path, [Section("x", images=[tmp_path / "nothere.png"])])
    with pytest.raises(FacesslError, match="row 0 has 1 cells, header has 2"):
        Table(["a", "b"], [["1"]])


def test_table_markdown_alignment():
    text = table_markdown(Table(["m", "v"], [["PCL", "1.00"]], emphasis={(0, 1)}))
    assert text.splitlines() == ["| m | v |", "|:---|---:|", "| PCL | **1.00** |"]


def test_sentence_cells_wrap_and_value_cells_do_not():
    from facessl.report.html import table_html
    claim = "PCL beats SimCLR on verification (LFW accuracy), its winner beating random weights"
    cells = re.findall(r'<td class="([^"]*)">', table_html(Table(["verdict", "claim", "value"], [["x", claim, "14.10 ± 0.14"]])))
    assert [c.endswith(" prose") for c in cells] == [True, False]  # a wide verdict table no longer runs off the window (seen in Chromium)


def test_hardware_info_has_the_facts():
    info = hardware_info()
    assert {"cpu", "cpu_cores", "torch", "device", "peak_rss_mib", "python"} <= set(info)
    assert info["peak_rss_mib"] > 10
    assert info["cpu_bf16"].startswith("native" if resolve_precision("auto", torch.device("cpu")) == "bf16" else "not native")


def fake_run(run_dir):
    rows = main_rows()
    tables = {"main": rows, "ablation": {"simclr": {"rafdb/accuracy": [71.0, 0.5]}, "+dwa": {"rafdb/accuracy": 74.4}},
              "feature_choice": {"fs": {"rafdb/accuracy": [74.4, 0.2]}},
              "disentanglement": {"F_p": {"yaw": 0.93, "identity": 0.51}, "F_f": {"yaw": 0.04, "identity": 0.88}},
              "notes": {"main": "Frozen features."}}
    (run_dir / "results").mkdir(parents=True)
    (run_dir / "results/tables.json").write_text(json.dumps(tables))
    (run_dir / "hardware.json").write_text(json.dumps({"cpu": "Test CPU 3000", "cpu_cores": 2}))
    (run_dir / "timings.json").write_text(json.dumps({"pretrain": {"pcl": 125.0}, "eval": 3.5}))
    make_png(run_dir / "figures/tsne.png", (0, 128, 0))
    make_png(run_dir / "figures/zzz_extra.png", (9, 9, 9))
    (run_dir / "figures/captions.json").write_text(json.dumps({"tsne.png": "t-SNE by expression"}))
    (run_dir / "summary.md").write_text("Demo summary.")
    return run_dir


def test_report_command_rebuilds_from_a_run_dir(tmp_path, capsys):
    run_dir = fake_run(tmp_path / "run")
    assert main(["report", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text()
    markdown = (run_dir / "report.md").read_text()
    for needle in ("74.47 ± 0.30", "Test CPU 3000", "2 min 05 s", "t-SNE by expression", "0.93", "Demo summary.",
                   "Published numbers", "79.72", "Other figures"):
        assert needle in page and needle in markdown, needle
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 2  # tsne.png and zzz_extra.png
    check_markdown_tables(markdown)
    assert str(run_dir / "report.html") in capsys.readouterr().out


def test_report_command_keeps_the_title_of_the_report_it_rebuilds(tmp_path):
    run_dir = fake_run(tmp_path / "run")
    assert main(["report", str(run_dir)]) == 0  # no report yet: the generic title
    assert (run_dir / "report.md").read_text().splitlines()[0] == "# facessl: self-supervised facial representations"
    assert main(["report", str(run_dir), "--title", "facessl demo: my run"]) == 0
    assert main(["report", str(run_dir)]) == 0  # a rebuild keeps it, in both files
    assert (run_dir / "report.md").read_text().splitlines()[0] == "# facessl demo: my run"
    assert "<title>facessl demo: my run</title>" in (run_dir / "report.html").read_text()


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "results/tables.json").unlink(), r"results/tables\.json: not found"),
    (lambda d: (d / "timings.json").unlink(), r"timings\.json: not found"),
    (lambda d: (d / "results/tables.json").write_text('{"main":\n {,}}'), r"tables\.json:2: not valid JSON"),
    (lambda d: (d / "results/tables.json").write_text('{"main": {"pcl": 3}}'), r"'main' must map names"),
    (lambda d: (d / "results/tables.json").write_text('{"main": {}, "units": "%"}'), r"'units' must be"),
    (lambda d: (d / "figures/tsne.png").unlink() or (d / "figures/captions.json").write_text("[1]"),
     r"captions\.json: expected an object"),
])
def test_report_command_errors_are_one_line(tmp_path, capsys, damage, message):
    run_dir = fake_run(tmp_path / "run")
    damage(run_dir)
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err


def test_report_command_converts_fractions(tmp_path):
    run_dir = fake_run(tmp_path / "run")
    tables = {"units": "fraction", "main": {"pcl": {"rafdb/accuracy": [0.7447, 0.003], "300w/nme": [5.71, 0.1]}}}
    (run_dir / "results/tables.json").write_text(json.dumps(tables))
    assert main(["report", str(run_dir)]) == 0
    markdown = (run_dir / "report.md").read_text()
    assert "| PCL | 74.47 ± 0.30 |" in markdown and "| PCL | 5.71 ± 0.10 |" in markdown


def test_report_command_on_a_missing_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"facessl report: error: {tmp_path / 'absent'}: run directory not found"
