"""`facessl synth`, `facessl report` and the top level."""
import json

from bad_inputs.corpus import case


def synth(w, *extra):
    return ["synth", "--out", w / "synth", "--quiet", *extra]


for name, extra, words in [
    ("size-unsupported", ("--size", "33"), "unsupported image size"),
    ("size-not-a-number", ("--size", "big"), "integer"),
    ("seed-negative", ("--seed", "-1"), "seed"),
    ("jobs-zero", ("--jobs", "0"), "jobs"),
    ("parts-unknown", ("--parts", "imagenet"), "unknown part"),
    ("parts-empty", ("--parts", ","), "--parts"),
    ("count-malformed", ("--count", "rafdb500"), "PART.KEY=N"),
    ("count-negative", ("--count", "rafdb.train=-5"), "rafdb.train"),
    ("scale-unknown", ("--scale", "huge"), "huge"),
    ("identities-not-a-number", ("--identities", "many"), "--identities"),
]:
    case(f"synth/{name}", 2, words)(lambda w, s, e=extra: synth(w, *e))


@case("synth/nothing-to-do", 2, "nothing to do")
def _(w, s):
    return ["synth"]


@case("synth/out-is-a-file", 2, "is a file")
def _(w, s):
    (w / "synth").write_text("x")
    return synth(w)


@case("synth/preview-not-an-image-name", 2, ".png")
def _(w, s):
    return ["synth", "--preview", w / "sheet.txt"]


@case("synth/foreign-folder", 2, "not written by facessl")
def _(w, s):
    (w / "synth" / "rafdb").mkdir(parents=True)
    return synth(w, "--parts", "rafdb", "--scale", "tiny")


# ---- report ---------------------------------------------------------------------------------------
def report_dir(w, tables="{\"main\": {}}"):
    run = w / "demo"
    (run / "results").mkdir(parents=True)
    (run / "results" / "tables.json").write_text(tables)
    (run / "hardware.json").write_text(json.dumps({"cpu": "x"}))
    (run / "timings.json").write_text(json.dumps({"total": 1.0}))
    return run


@case("report/run-missing", 2, "not found")
def _(w, s):
    return ["report", w / "nothing"]


@case("report/tables-not-json", 2, "tables.json:1", "not valid JSON")
def _(w, s):
    return ["report", report_dir(w, "{main: ")]


@case("report/tables-wrong-shape", 2, "tables.json")
def _(w, s):
    return ["report", report_dir(w, json.dumps({"main": [1, 2]}))]


@case("report/timings-missing", 2, "timings.json")
def _(w, s):
    run = report_dir(w)
    (run / "timings.json").unlink()
    return ["report", run]


@case("report/captions-not-an-object", 2, "captions.json")
def _(w, s):
    run = report_dir(w)
    (run / "figures").mkdir()
    (run / "figures" / "captions.json").write_text("[1]")
    return ["report", run]


# ---- top level ------------------------------------------------------------------------------------
@case("cli/no-verb", 2)
def _(w, s):
    return []


@case("cli/unknown-verb", 2, "invalid choice")
def _(w, s):
    return ["train"]


@case("cli/pretrain-without-config", 2, "--config")
def _(w, s):
    return ["pretrain", "--out", w / "run"]


def _stale_part(w, s):
    import contextlib

    import tempfile
    from pathlib import Path

    (w / "synth").mkdir()
    killed = Path(tempfile.mkdtemp(prefix=".rafdb.", suffix=".tmp", dir=w / "synth"))
    (killed / "rafdb" / "Image").mkdir(parents=True)
    return contextlib.nullcontext()


def _no_stale_part(w, s):
    left = [p.name for p in (w / "synth").iterdir() if p.name.endswith(".tmp")]
    assert not left, f"left behind: {left}"


@case("synth/tmp-leftovers-cleaned", 0, after=_no_stale_part, patch=_stale_part)
def _(w, s):
    return synth(w, "--parts", "rafdb", "--scale", "tiny", "--count", "rafdb.train=2", "--count", "rafdb.test=2",
                 "--size", "48")
