"""`facessl synth`: bad arguments give one clear line and a non-zero status, and write nothing."""
import json

import pytest
from synth_stub import fast_render  # noqa: F401

from facessl.cli import main


def _run(capsys, *argv):
    status = main(["synth", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("argv, message", [
    (["--identities", "-3"], "count voxceleb.identities must be >= 1, got -3"),
    (["--parts", "rafdb,lfww"], "unknown part 'lfww'"),
    (["--size", "50"], "unsupported image size 50"),
    (["--size", "big"], "--size expects an integer, got 'big'"),
    (["--scale", "huge"], "unknown scale 'huge'"),
    (["--count", "rafdb.trian=5"], "unknown count 'rafdb.trian'"),
    (["--count", "rafdb.train"], "--count expects PART.KEY=N"),
    (["--count", "rafdb.train=-1"], "count rafdb.train must be >= 1"),
    (["--jobs", "0"], "jobs must be >= 1"),
    (["--seed", "-1"], "seed must be >= 0"),
])
def test_bad_arguments_one_line_nothing_written(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    status, _, err = _run(capsys, "--out", out, *argv)
    assert status != 0
    assert err.count("\n") == 1 and message in err and err.startswith("facessl synth: error:")
    assert not out.exists()


def test_output_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    status, _, err = _run(capsys, "--out", target, "--scale", "tiny")
    assert status != 0 and "is a file" in err and err.count("\n") == 1
    assert target.read_text() == "x"


def test_nothing_to_do_and_bad_preview(tmp_path, capsys):
    status, _, err = _run(capsys)
    assert status != 0 and "give --out DIR" in err
    status, _, err = _run(capsys, "--preview", tmp_path / "sheet.txt")
    assert status != 0 and "ending in .png" in err and not (tmp_path / "sheet.txt").exists()


def test_build_then_cached(tmp_path, capsys, fast_render):
    out = tmp_path / "synth"
    status, text, _ = _run(capsys, "--out", out, "--scale", "tiny", "--size", "48", "--parts", "rafdb,lfw", "--count", "rafdb.train=4")
    assert status == 0 and "built rafdb, lfw" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["parts"]) == {"rafdb", "lfw"} and manifest["parts"]["rafdb"]["counts"]["train"] == 4
    status, text, _ = _run(capsys, "--out", out, "--scale", "tiny", "--size", "48", "--parts", "rafdb,lfw", "--count", "rafdb.train=4")
    assert status == 0 and "built nothing; up to date: rafdb, lfw" in text
    status, text, err = _run(capsys, "--out", out, "--scale", "tiny", "--size", "48", "--parts", "rafdb", "--quiet")
    assert status == 0 and text == "" and err == ""


def test_preview_alone(tmp_path, capsys, monkeypatch):
    import facessl.data.synthetic as synthetic

    calls = []
    monkeypatch.setattr(synthetic, "preview_sheet", lambda path, size, seed: (calls.append((size, seed)), path.write_bytes(b"png")))
    status, text, _ = _run(capsys, "--preview", tmp_path / "sheet.png", "--size", "96", "--seed", "3")
    assert status == 0 and calls == [(96, 3)] and (tmp_path / "sheet.png").read_bytes() == b"png"
    assert list(tmp_path.iterdir()) == [tmp_path / "sheet.png"]


@pytest.mark.slow
def test_real_preview_sheet(tmp_path, capsys):
    status, _, _ = _run(capsys, "--preview", tmp_path / "sheet.png", "--size", "48")
    assert status == 0 and (tmp_path / "sheet.png").stat().st_size > 1000
