"""Damaged checkpoints: eval, embed and resume each give one line naming the file; resume falls back."""
import contextlib
import errno
import json

from bad_inputs.cases.common import embed, evaluate
from bad_inputs.corpus import case


def damaged_run(w, s, damage):
    """A copy of the shared 2-checkpoint run with `damage(newest_checkpoint_dir)` applied."""
    run = s.run_copy(w / "ck")
    damage(s.newest_checkpoint(run))
    return run


def truncate(name, keep=100):
    def damage(ckpt):
        data = (ckpt / name).read_bytes()
        (ckpt / name).write_bytes(data[:keep])
    return damage


def replace(name, content: bytes):
    return lambda ckpt: (ckpt / name).write_bytes(content)


def remove(name):
    return lambda ckpt: (ckpt / name).unlink()


DAMAGES = {
    "truncated-weights": (truncate("model.safetensors", 400), "model.safetensors", "step_00000001"),
    "empty-weights": (replace("model.safetensors", b""), "model.safetensors"),
    "garbage-weights": (replace("model.safetensors", b"\x80\x04K\x01." * 20), "model.safetensors"),
    "config-not-yaml": (replace("config.yaml", b"method: [\n"), "config.yaml"),
    "config-unknown-key": (replace("config.yaml", b"method:\n  name: simclr\nbogus: 1\n"), "config.yaml"),
}
for name, (damage, *words) in DAMAGES.items():
    case(f"embed/checkpoint-{name}", 2, *words)(
        lambda w, s, d=damage: embed(w, s, checkpoint=damaged_run(w, s, d)))
for name in ("truncated-weights", "garbage-weights"):
    damage, *words = DAMAGES[name]
    case(f"eval/checkpoint-{name}", 2, *words)(
        lambda w, s, d=damage: evaluate(w, s, f"rafdb:{s.rafdb(w / 'raf')}", checkpoint=damaged_run(w, s, d)))


@case("embed/checkpoint-wrong-shapes", 2, "do not fit")
def _(w, s):
    def damage(ckpt):
        text = (ckpt / "config.yaml").read_text().replace("proj_dim: 16", "proj_dim: 24")
        (ckpt / "config.yaml").write_text(text)
    return embed(w, s, checkpoint=damaged_run(w, s, damage))


@case("embed/checkpoint-missing", 2, "no such checkpoint")
def _(w, s):
    return embed(w, s, checkpoint=w / "nope")


@case("embed/checkpoint-empty-folder", 2, "not a checkpoint")
def _(w, s):
    (w / "empty").mkdir()
    return embed(w, s, checkpoint=w / "empty")


# ---- resume -----------------------------------------------------------------------------------
@case("pretrain/resume-falls-back-from-truncated-weights", 0, "step_00000002", "unreadable", "step_00000001")
def _(w, s):
    run = damaged_run(w, s, truncate("model.safetensors", 400))
    return ["pretrain", "--config", s.config, "--data", s.tree, "--out", run, "--steps", "3"]


@case("pretrain/resume-falls-back-from-bad-state", 0, "state.json", "step_00000001")
def _(w, s):
    run = damaged_run(w, s, replace("state.json", b'{"step": 2, "rng": '))
    return ["pretrain", "--config", s.config, "--data", s.tree, "--out", run, "--steps", "3"]


@case("pretrain/resume-falls-back-from-missing-optimizer", 0, "optimizer.safetensors", "step_00000001")
def _(w, s):
    run = damaged_run(w, s, remove("optimizer.safetensors"))
    return ["pretrain", "--config", s.config, "--data", s.tree, "--out", run, "--steps", "3"]


def _break_all(ckpt_dirs, name, content):
    for ckpt in ckpt_dirs:
        (ckpt / name).write_bytes(content)


@case("pretrain/resume-no-readable-checkpoint", 2, "state.json", "no readable checkpoint")
def _(w, s):
    run = s.run_copy(w / "ck")
    _break_all(sorted((run / "checkpoints").glob("step_*")), "state.json", b"[1, 2")
    return ["pretrain", "--config", s.config, "--data", s.tree, "--out", run, "--steps", "3"]


@case("pretrain/resume-state-wrong-fields", 0, "state.json", "step_00000001")
def _(w, s):
    run = damaged_run(w, s, replace("state.json", json.dumps({"stepp": 2}).encode()))
    return ["pretrain", "--config", s.config, "--data", s.tree, "--out", run, "--steps", "3"]


# ---- a full disk --------------------------------------------------------------------------------
def full_disk(w, s):
    """Every write of a checkpoint file fails with ENOSPC (as safetensors' save_file would)."""
    import facessl.engine.checkpoint as ckpt

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    stack = contextlib.ExitStack()
    original = ckpt.save_file
    ckpt.save_file = no_space
    stack.callback(setattr, ckpt, "save_file", original)
    return stack


def _old_checkpoints_survive(w, s):
    from facessl.engine.checkpoint import list_checkpoints

    names = [p.name for p in list_checkpoints(w / "ck")]
    assert names == ["step_00000001", "step_00000002"], names
    assert not list((w / "ck" / "checkpoints").glob(".*tmp")), "temporary folder left behind"


@case("pretrain/disk-full", 2, "no space left", "step_00000003", after=_old_checkpoints_survive, patch=full_disk)
def _(w, s):
    run = s.run_copy(w / "ck")
    return ["pretrain", "--config", s.config, "--data", s.tree, "--out", run, "--steps", "3"]


# ---- a checkpoint whose weights diverged (written before the guard existed, or by another tool) ----
def diverged_run(w, s):
    from safetensors.torch import load_file, save_file

    def damage(ckpt):
        weights = load_file(str(ckpt / "model.safetensors"))
        save_file({k: v * 1e30 if v.is_floating_point() else v for k, v in weights.items()},
                  str(ckpt / "model.safetensors"), metadata={"format": "pt"})
    return damaged_run(w, s, damage)


@case("embed/checkpoint-diverged-weights", 2, "non-finite", "earlier checkpoint")
def _(w, s):
    return embed(w, s, checkpoint=diverged_run(w, s))


@case("eval/checkpoint-diverged-weights", 2, "non-finite", "earlier checkpoint")
def _(w, s):
    return evaluate(w, s, f"rafdb:{s.rafdb(w / 'raf')}", checkpoint=diverged_run(w, s))


@case("eval/run-without-checkpoints", 2, "run in progress or stopped before its first checkpoint")
def _(w, s):
    (w / "run").mkdir()
    (w / "run" / "config.yaml").write_text("seed: 0\n")
    return evaluate(w, s, f"rafdb:{s.rafdb(w / 'raf')}", checkpoint=w / "run")


@case("embed/checkpoint-state-json-only", 2, "model.safetensors")
def _(w, s):
    run = damaged_run(w, s, remove("model.safetensors"))
    return embed(w, s, checkpoint=run / "checkpoints" / "step_00000002")
