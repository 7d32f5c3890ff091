"""`facessl demo` / `ablate`: options are checked before any stage starts (a stage starting fails the case)."""
import contextlib

from bad_inputs.corpus import case


def no_stage_may_start(w, s):
    """If the options were accepted the demo would build data and train for minutes: fail fast instead."""
    from facessl.demo.stages import StageRunner

    def refuse(self, name, *a, **k):
        raise RuntimeError(f"stage {name!r} started: the bad option was accepted")

    stack = contextlib.ExitStack()
    original = StageRunner.run
    StageRunner.run = refuse
    stack.callback(setattr, StageRunner, "run", original)
    return stack


for name, argv, words in [
    ("ablate/seeds-zero", ["ablate", "--seeds", "0"], "--seeds"),
    ("ablate/steps-zero", ["ablate", "--steps", "0"], "--steps"),
    ("ablate/steps-negative", ["ablate", "--steps", "-100"], "--steps"),
    ("ablate/scale-unknown", ["ablate", "--scale", "huge"], "invalid choice"),
    ("demo/seed-negative", ["demo", "--seed", "-1"], "--seed"),
    ("demo/scale-unknown", ["demo", "--scale", "huge"], "invalid choice"),
]:
    case(name, 2, words, patch=no_stage_may_start)(lambda w, s, a=argv: [*a, "--out", w / "demo"])


@case("demo/out-is-a-file", 2, "--out", patch=no_stage_may_start)
def _(w, s):
    (w / "demo").write_text("x")
    return ["demo", "--out", w / "demo"]
