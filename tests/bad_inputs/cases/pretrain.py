"""`facessl pretrain`: config values, config files, data folders, argument order, the NaN guard."""
import yaml

from bad_inputs.cases.common import pretrain
from bad_inputs.corpus import case
from bad_inputs.faults import weights_blow_up_at
from bad_inputs.shared import TINY, write_yaml

# ---- config values out of range (one validation layer: facessl.config) -------------------------
RANGES = [
    ("steps-zero", "train.steps=0", "train.steps"),
    ("steps-negative", "train.steps=-5", "train.steps"),
    ("batch-zero", "train.batch_size=0", "train.batch_size"),
    ("batch-negative", "train.batch_size=-8", "train.batch_size"),
    ("lr-negative", "optim.lr=-1", "optim.lr"),
    ("lr-nan", "optim.lr=.nan", "optim.lr"),
    ("lr-inf", "optim.lr=.inf", "optim.lr"),
    ("weight-decay-negative", "optim.weight_decay=-0.1", "optim.weight_decay"),
    ("warmup-negative", "optim.warmup_steps=-1", "optim.warmup_steps"),
    ("grad-clip-negative", "optim.grad_clip=-1", "optim.grad_clip"),
    ("size-zero", "data.size=0", "data.size"),
    ("workers-negative", "data.workers=-1", "data.workers"),
    ("checkpoint-every-zero", "train.checkpoint_every=0", "train.checkpoint_every"),
    ("log-every-zero", "train.log_every=0", "train.log_every"),
    ("seed-negative", "seed=-1", "seed"),
    ("width-zero", "backbone.width=0", "backbone.width"),
    ("knn-k-zero", "train.knn.k=0", "train.knn.k"),
]
for name, override, key in RANGES:
    case(f"pretrain/{name}", 2, key)(lambda w, s, o=override: pretrain(w, s, o))


@case("pretrain/steps-option-zero", 2, "train.steps")
def _(w, s):
    return pretrain(w, s, "--steps", "0")


@case("pretrain/unknown-key", 2, "unknown config key", "did you mean")
def _(w, s):
    return pretrain(w, s, "train.step=3")


@case("pretrain/wrong-type", 2, "train.batch_size", "expected int")
def _(w, s):
    return pretrain(w, s, "train.batch_size=many")


@case("pretrain/override-without-equals", 2, "key.sub=value")
def _(w, s):
    return pretrain(w, s, "train.steps")


# ---- config files -----------------------------------------------------------------------------
@case("pretrain/yaml-duplicate-key", 2, "duplicate key", "'name'", "line 4")
def _(w, s):
    text = yaml.safe_dump(TINY, sort_keys=False).replace("  name: simclr\n", "  name: simclr\n  name: fabnet\n", 1)
    (w / "dup.yaml").write_text(text)
    return ["pretrain", "--config", w / "dup.yaml", "--data", s.tree, "--out", w / "run", "--quiet"]


@case("pretrain/yaml-duplicate-section", 2, "duplicate key", "train")
def _(w, s):
    text = yaml.safe_dump(TINY, sort_keys=False) + "train:\n  steps: 1\n  batch_size: 4\n  device: cpu\n"
    (w / "dup.yaml").write_text(text)
    return ["pretrain", "--config", w / "dup.yaml", "--data", s.tree, "--out", w / "run", "--quiet"]


@case("pretrain/config-missing", 2, "config file not found")
def _(w, s):
    return ["pretrain", "--config", w / "nope.yaml", "--data", s.tree, "--out", w / "run"]


@case("pretrain/config-not-yaml", 2, "not valid yaml")
def _(w, s):
    (w / "bad.yaml").write_text("train: [1, 2\n  steps: }\n")
    return ["pretrain", "--config", w / "bad.yaml", "--data", s.tree, "--out", w / "run"]


@case("pretrain/config-a-list", 2, "mapping")
def _(w, s):
    (w / "list.yaml").write_text("- 1\n- 2\n")
    return ["pretrain", "--config", w / "list.yaml", "--data", s.tree, "--out", w / "run"]


@case("pretrain/config-not-utf8", 2, "bad.yaml")
def _(w, s):
    (w / "bad.yaml").write_bytes(b"seed: 0\nmethod:\n  name: \xff\xfe\n")
    return ["pretrain", "--config", w / "bad.yaml", "--data", s.tree, "--out", w / "run"]


@case("pretrain/unknown-method", 2, "unknown method")
def _(w, s):
    return pretrain(w, s, "method.name=byol")


# ---- folders ----------------------------------------------------------------------------------
@case("pretrain/out-is-a-file", 2, "--out", "file")
def _(w, s):
    (w / "run").write_text("x")
    return pretrain(w, s)


@case("pretrain/data-missing", 2, "not found")
def _(w, s):
    return pretrain(w, s, data=w / "nothing")


@case("pretrain/data-empty", 2, "no images")
def _(w, s):
    (w / "empty").mkdir()
    return pretrain(w, s, data=w / "empty")


@case("pretrain/data-all-corrupt", 2, "could be decoded")
def _(w, s):
    d = w / "data" / "id00001" / "v" / "00001"
    d.mkdir(parents=True)
    for i in range(3):
        (d / f"{i}.jpg").write_bytes(b"not a jpeg")
    return pretrain(w, s, data=w / "data")


@case("pretrain/flat-folder-as-voxceleb", 2, "data.layout=folder")
def _(w, s):
    return pretrain(w, s, data=s.images)


@case("pretrain/data-is-a-file", 2, "a file; expected the folder of prepared frames")
def _(w, s):
    (w / "file.jpg").write_bytes(b"x")
    return pretrain(w, s, data=w / "file.jpg")


# ---- argument order (overrides after an option) ----------------------------------------------
@case("pretrain/override-between-options", 0)
def _(w, s):
    return ["pretrain", "--config", s.config, "data.size=32", "--data", s.tree, "--out", w / "run", "--quiet"]


@case("pretrain/overrides-around-options", 0)
def _(w, s):
    return ["pretrain", "train.log_every=1", "--config", s.config, "data.size=32", "--data", s.tree,
            "optim.lr=0.002", "--out", w / "run", "--quiet"]


# ---- skipped unreadable files are counted once each -------------------------------------------
def _tree_with_bad_files(w):
    from PIL import Image

    from bad_inputs.shared import faces

    d = w / "data"
    d.mkdir()
    for i, img in enumerate(faces(5)):
        Image.fromarray(img).save(d / f"a{i}.jpg")
    for i in range(3):
        (d / f"b{i}.jpg").write_bytes(b"broken")
    return d


@case("pretrain/skipped-count", 0, "skipped 3 unreadable image file")
def _(w, s):
    data = _tree_with_bad_files(w)
    return ["pretrain", "--config", s.config, "--data", data, "--out", w / "run", "data.layout=folder",
            "data.sampling=all_frames", "train.batch_size=8", "train.steps=1"]


# ---- the NaN guard ----------------------------------------------------------------------------
@case("pretrain/nan-from-the-start", 2, "non-finite", "after step 1", "no checkpoint was written")
def _(w, s):
    return pretrain(w, s, "optim.lr=1e30", "--steps", "4")


def _kept_checkpoint_is_finite(w, s):
    import numpy as np
    import torch

    import facessl
    from facessl.engine.checkpoint import latest_checkpoint

    kept = latest_checkpoint(w / "run")
    assert kept is not None and kept.name == "step_00000002", f"kept {kept}"
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    feats = facessl.load(w / "run").features(images)["fs"]
    assert np.isfinite(feats.numpy()).all(), "the kept checkpoint gives non-finite features"


@case("pretrain/nan-guard-keeps-a-good-checkpoint", 2, "non-finite", "after step 3", "step_00000002",
      after=_kept_checkpoint_is_finite, patch=lambda w, s: weights_blow_up_at(3))
def _(w, s):
    return pretrain(w, s, "--steps", "6")


def _write_tmp_leftovers(w, s):
    import contextlib
    import tempfile
    from pathlib import Path

    run = s.run_copy(w / "run")
    killed = Path(tempfile.mkdtemp(prefix=".step_00000003.", suffix=".tmp", dir=run / "checkpoints"))
    (killed / "step_00000003").mkdir()
    (killed / "step_00000003" / "model.safetensors").write_bytes(b"half")
    tempfile.mkdtemp(prefix=".config.yaml.", suffix=".tmp", dir=run)
    return contextlib.nullcontext()


def _no_tmp_left(w, s):
    left = [p.name for p in (w / "run").rglob("*.tmp")]
    assert not left, f"left behind: {left}"


@case("pretrain/tmp-leftovers-cleaned", 0, after=_no_tmp_left, patch=_write_tmp_leftovers)
def _(w, s):
    return pretrain(w, s, "--steps", "3")


def _truncate_metrics(w, s):
    import contextlib

    run = s.run_copy(w / "run")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "loss": 4.')  # killed mid-line
    return contextlib.nullcontext()


@case("pretrain/resume-truncated-metrics-line", 0, patch=_truncate_metrics)
def _(w, s):
    return pretrain(w, s, "--steps", "3")


# ---- settings that need something the machine or the data lacks --------------------------------
@case("pretrain/knn-without-labels", 2, "train.knn.path")
def _(w, s):
    return pretrain(w, s, "train.knn.every=1")


@case("pretrain/fabnet-on-flat-folder", 2, "data.layout")
def _(w, s):
    config = write_yaml(w / "fabnet.yaml", {**TINY, "method": {"name": "fabnet"}})
    return ["pretrain", "--config", config, "--data", s.images, "--out", w / "run", "data.layout=folder"]


@case("pretrain/temperature-zero", 2, "temperature")
def _(w, s):
    return pretrain(w, s, "method.temperature=0")


@case("pretrain/odd-image-modes", 0)
def _(w, s):
    return pretrain(w, s, "data.layout=folder", data=s.odd_images)


@case("pretrain/fabnet-skipped-count", 0, "skipped 2 unreadable image file")
def _(w, s):
    import shutil

    data = w / "data"
    shutil.copytree(s.tree, data)
    frames = sorted(data.rglob("*.jpg"))
    for f in frames[:2]:  # two frames of one track: a tuple drawn there passes over both
        f.write_bytes(b"broken")
    config = write_yaml(w / "fabnet.yaml", {**TINY, "method": {"name": "fabnet"}})
    return ["pretrain", "--config", config, "--data", data, "--out", w / "run", "data.sampling=all_frames",
            "train.steps=2"]


@case("pretrain/skipped-count-in-memory", 0, "skipped 3 unreadable image file")
def _(w, s):
    data = _tree_with_bad_files(w)
    return ["pretrain", "--config", s.config, "--data", data, "--out", w / "run", "data.layout=folder",
            "data.sampling=all_frames", "data.in_memory=true", "train.batch_size=8", "train.steps=1"]
