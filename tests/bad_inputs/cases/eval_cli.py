"""`facessl eval`: options, dataset specs and suite files."""
from bad_inputs.cases.common import evaluate
from bad_inputs.corpus import case


def raf(w, s):
    return f"rafdb:{s.rafdb(w / 'raf')}"


@case("eval/seeds-zero", 2, "--seeds")
def _(w, s):
    return evaluate(w, s, raf(w, s)) + ["--seeds", "0"]


@case("eval/epochs-zero", 2, "--epochs")
def _(w, s):
    return evaluate(w, s, raf(w, s)) + ["--epochs", "0"]


@case("eval/weight-decays-not-numbers", 2, "--weight-decays", "comma list")
def _(w, s):
    return evaluate(w, s, raf(w, s)) + ["--weight-decays", "0,1e-2,strong"]


@case("eval/weight-decays-negative", 2, "--weight-decays", ">= 0")
def _(w, s):
    return evaluate(w, s, raf(w, s)) + ["--weight-decays", "-1"]


@case("eval/size-too-small", 2, "--size")
def _(w, s):
    return evaluate(w, s, raf(w, s)) + ["--size", "2"]


@case("eval/no-dataset-no-suite", 2, "exactly one")
def _(w, s):
    return ["eval", "--checkpoint", s.run, "--out", w / "out"]


@case("eval/dataset-without-format", 2, "FORMAT:PATH")
def _(w, s):
    return evaluate(w, s, str(w))


@case("eval/dataset-unknown-format", 2, "unknown", "format", "rafdb", "aflw2000")
def _(w, s):
    return evaluate(w, s, f"megaface:{w}")


@case("eval/dataset-path-missing", 2, "does not exist")
def _(w, s):
    return evaluate(w, s, f"rafdb:{w / 'nothing'}")


@case("eval/task-unknown", 2, "invalid choice")
def _(w, s):
    return evaluate(w, s, raf(w, s), "--task", "age")


@case("eval/pairs-for-expression", 2, "verification")
def _(w, s):
    return evaluate(w, s, f"lfw:{s.lfw(w / 'lfw')}", "--task", "expression")


@case("eval/baseline-unknown", 2, "unknown baseline")
def _(w, s):
    args = evaluate(w, s, raf(w, s))
    args[args.index("--baselines") + 1] = "imagenet"
    return args


@case("eval/out-is-a-file", 2, "--out", "file")
def _(w, s):
    (w / "out").write_text("x")
    return evaluate(w, s, raf(w, s))


@case("eval/cache-is-a-file", 2, "--cache", "file")
def _(w, s):
    (w / "cache").write_text("x")
    args = evaluate(w, s, raf(w, s))
    args.remove("--no-cache")
    return args + ["--cache", w / "cache"]


@case("eval/rafdb-ok", 0, "rafdb", "results.json")
def _(w, s):
    args = evaluate(w, s, raf(w, s))
    args.remove("--quiet")
    return args


# ---- suite files --------------------------------------------------------------------------------
def suite(w, s, text):
    (w / "suite.yaml").write_text(text)
    return ["eval", "--checkpoint", s.run, "--suite", w / "suite.yaml", "--data-root", w, "--out", w / "out",
            "--seeds", "1", "--epochs", "1", "--baselines", "none", "--no-cache", "--quiet"]


@case("eval/suite-missing", 2, "suite")
def _(w, s):
    return ["eval", "--checkpoint", s.run, "--suite", w / "none.yaml", "--out", w / "out"]


@case("eval/suite-invalid-yaml", 2, "suite.yaml:2", "not valid YAML")
def _(w, s):
    return suite(w, s, "tasks: [\n")


@case("eval/suite-duplicate-key", 2, "duplicate key", "dataset", "line 3")
def _(w, s):
    s.rafdb(w / "raf")
    return suite(w, s, "tasks:\n  - dataset: rafdb:${root}/raf\n    dataset: fer2013:${root}/fer\n")


@case("eval/suite-unknown-variable", 2, "unknown variable")
def _(w, s):
    return suite(w, s, "tasks:\n  - dataset: rafdb:${home}/raf\n")


@case("eval/suite-no-tasks", 2, "'tasks'")
def _(w, s):
    return suite(w, s, "tasks: []\n")


@case("eval/suite-unknown-key", 2, "unknown key")
def _(w, s):
    return suite(w, s, "tasks:\n  - dataset: rafdb:${root}/raf\n    split: test\n")


@case("eval/suite-unknown-format", 2, "unknown", "format")
def _(w, s):
    return suite(w, s, "tasks:\n  - dataset: megaface:${root}\n")


for name, extra, words in [
    ("device-unknown", ("--device", "tpu"), "--device"),
    ("device-index-out-of-range", ("--device", "cuda:99"), "--device"),
    ("threshold-nan", ("--verification", "fixed", "--threshold", "nan"), "--threshold"),
    ("au-positive-not-a-number", ("--au-positive", "high"), "--au-positive"),
    ("supervised-epochs-zero", ("--supervised-epochs", "0"), "--supervised-epochs"),
]:
    case(f"eval/{name}", 2, words)(lambda w, s, e=extra: evaluate(w, s, raf(w, s), *e))
