"""Checkpoints: safetensors + JSON round trips, RNG states, facessl.load, clear key/shape errors."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import facessl
from facessl.engine import checkpoint as ckpt
from facessl.config import dump_config, load_config
from facessl.errors import FacesslError
from facessl.methods import build_method
from train_helpers import tiny_config


def _save_method(run_dir, cfg, step=5):
    torch.manual_seed(0)
    method = build_method(cfg)
    with torch.no_grad():  # make BN statistics non-trivial so that they are checked too
        method.train()(({"images": torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)}))
    opt = torch.optim.Adam(method.parameters())
    path = ckpt.checkpoint_dir(run_dir, step)
    ckpt.save_checkpoint(path, method.state_dict(), {"optimizer": opt.state_dict()}, {"step": step}, dump_config(cfg))
    return method, path


def test_split_join_round_trip():
    state = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(2, 3)}},
             "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0], "name": None}]}
    tensors = {}
    js = ckpt.split_tensors(state, "optimizer", tensors)
    import json

    back = ckpt.join_tensors(json.loads(json.dumps(js)), tensors)
    assert back["param_groups"] == state["param_groups"] and list(back["state"]) == [0]
    assert torch.equal(back["state"][0]["exp_avg"], state["state"][0]["exp_avg"])


def test_rng_round_trip():
    state = ckpt.capture_rng()
    a = (random.random(), np.random.rand(), torch.rand(3))
    ckpt.restore_rng(state)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])


def test_load_encoder_gives_identical_features(tmp_path):
    cfg = tiny_config(tmp_path)
    method, path = _save_method(tmp_path / "run", cfg)
    method.eval()
    x = torch.rand(3, 3, 32, 32)
    expected = method.encoder().features(x)["fs"]
    for where in (tmp_path / "run", path):  # run directory or checkpoint directory
        enc = facessl.load(where)
        assert not enc.training and not any(p.requires_grad for p in enc.parameters())
        assert enc.feature_names == ("fs",)
        assert torch.equal(enc.features(x)["fs"], expected)
    assert (path / "state.json").is_file() and (path / "optimizer.safetensors").is_file()
    assert load_config(path / "config.yaml") == cfg


def test_missing_unexpected_and_shape_errors_name_keys_and_file(tmp_path):
    cfg = tiny_config(tmp_path)
    _, path = _save_method(tmp_path / "run", cfg)
    weights = load_file(str(path / "model.safetensors"))
    weights.pop("projector.net.0.bias")
    weights["extra.weight"] = torch.zeros(1)
    save_file(weights, str(path / "model.safetensors"))
    with pytest.raises(FacesslError) as err:
        facessl.load(path)
    message = str(err.value)
    assert str(path / "model.safetensors") in message
    assert "1 missing keys: projector.net.0.bias" in message and "1 unexpected keys: extra.weight" in message

    other = tiny_config(tmp_path, "method.proj_dim=16")
    (path / "config.yaml").write_text(dump_config(other))
    with pytest.raises(FacesslError, match=r"shape mismatches: projector.net.2.weight \(file \(32, 64\), model \(16, 64\)\)"):
        facessl.load(path)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(FacesslError, match="no such checkpoint"):
        facessl.load(tmp_path / "nothing")
    with pytest.raises(FacesslError, match="not a checkpoint"):
        facessl.load(tmp_path)


def test_latest_and_pruning(tmp_path):
    cfg = tiny_config(tmp_path)
    for step in (1, 20, 3):
        _save_method(tmp_path, cfg, step)
    assert ckpt.latest_checkpoint(tmp_path).name == "step_00000020"
    ckpt.prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step_00000003", "step_00000020"]
    assert not list((tmp_path / "checkpoints").glob(".*"))  # no temporary directories left behind


def test_the_random_row_is_the_architecture_as_its_config_builds_it(tmp_path):
    """The random-weights row of a saved run (`facessl eval`) and of an encoder built from the same config (the
    demo's and the study's baselines stage) are the same weights for a seed: the method's own init (the `small`
    trunk's Kaiming fan-out convolutions), not PyTorch's default re-initialisation of a copy."""
    from facessl.evaluate.baselines import architecture_builder, random_encoder, supervised_init

    cfg = tiny_config(tmp_path)
    _save_method(tmp_path / "run", cfg)
    loaded = facessl.load(tmp_path / "run")
    built = build_method(cfg).encoder()
    built.config = cfg
    draw = lambda enc, seed: random_encoder(enc, seed, architecture_builder(enc)).state_dict()
    a, b = draw(loaded, 1234), draw(built, 1234)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(next(iter(draw(loaded, 1235).values())), next(iter(a.values())))

    conv = next(m for m in random_encoder(loaded, 1234, architecture_builder(loaded)).modules()
                if isinstance(m, torch.nn.Conv2d) and m.weight[0].numel() >= 27)
    fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
    assert conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.25)  # kaiming_normal_, fan_out
    reset = next(m for m in random_encoder(loaded, 1234).modules()  # no config: a re-initialised copy
                 if isinstance(m, torch.nn.Conv2d) and m.weight[0].numel() >= 27)
    assert reset.weight.std().item() == pytest.approx((1 / (3 * reset.weight[0].numel())) ** 0.5, rel=0.25)
    assert architecture_builder(torch.nn.Linear(2, 2)) is None
    start = supervised_init(loaded, 0).state_dict()  # the supervised row: PyTorch's default init, config or not
    assert all(torch.equal(start[k], v) for k, v in random_encoder(loaded, 0).state_dict().items())
