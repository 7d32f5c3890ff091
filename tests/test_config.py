"""Configs: YAML + dotted overrides, strict keys with suggestions, types, round trip."""
from __future__ import annotations

from pathlib import Path

import pytest

from facessl.config import Config, diff_configs, dump_config, load_config, parse_override, save_config
from facessl.errors import FacesslError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_override_values_are_yaml_scalars():
    assert parse_override("train.steps=100") == (["train", "steps"], 100)
    assert parse_override("optim.lr=1e-4") == (["optim", "lr"], "1e-4")  # PyYAML: converted by the float field
    assert parse_override("train.compile=true") == (["train", "compile"], True)
    assert parse_override("data.path=null") == (["data", "path"], None)
    assert parse_override("data.path=/a/b c") == (["data", "path"], "/a/b c")
    with pytest.raises(FacesslError, match="expected key.sub=value"):
        parse_override("train.steps")


def test_overrides_apply_and_convert():
    cfg = load_config(CONFIGS / "simclr_synth.yaml", ["optim.lr=1e-4", "train.knn.k=5", "method.temperature=0.2",
                                                        "train.batch_size=32", "backbone.width=2"])
    assert cfg.optim.lr == pytest.approx(1e-4) and isinstance(cfg.optim.lr, float)
    assert cfg.train.knn.k == 5 and cfg.train.batch_size == 32
    assert cfg.method.temperature == 0.2 and type(cfg.method).__name__ == "Config"
    assert cfg.backbone.width == 2.0


def test_round_trip(tmp_path):
    for name in ("simclr_synth.yaml", "simclr_voxceleb.yaml"):
        cfg = load_config(CONFIGS / name)
        save_config(cfg, tmp_path / "config.yaml")
        again = load_config(tmp_path / "config.yaml")
        assert again == cfg and dump_config(again) == dump_config(cfg)
    assert load_config(raw={}) == load_config(raw={"method": {"name": "simclr"}})


@pytest.mark.parametrize("override, named, nearest", [
    ("train.stpes=3", "train.steps", "train.steps"),
    ("optim.weight_decy=0", "optim.weight_decay", "optim.weight_decay"),
    ("method.temprature=0.1", "method.temprature", "method.temperature"),
    ("train.knn.evry=5", "train.knn.evry", "train.knn.every"),
    ("sed=1", "sed", "seed"),
])
def test_unknown_key_names_it_and_the_nearest(override, named, nearest):
    with pytest.raises(FacesslError) as err:
        load_config(CONFIGS / "simclr_synth.yaml", [override])
    message = str(err.value)
    assert f"'{named}'" in message and f"did you mean '{nearest}'" in message
    assert "\n" not in message


def test_unknown_key_in_yaml_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("train:\n  batchsize: 3\n")
    with pytest.raises(FacesslError, match=r"bad.yaml: unknown config key 'train.batchsize'; did you mean 'train.batch_size'"):
        load_config(tmp_path / "bad.yaml")


@pytest.mark.parametrize("override, expected", [
    ("train.steps=abc", "'train.steps': expected int"),
    ("train.steps=1.5", "'train.steps': expected int"),
    ("train.compile=3", "'train.compile': expected bool"),
    ("optim.lr=fast", "'optim.lr': expected float"),
    ("optim.name=lamb", "'optim.name': 'lamb' is not one of adam, adamw, sgd"),
    ("train.precision=fp8", "'train.precision'"),
    ("train=5", "train: expected a section"),
])
def test_wrong_types_name_the_key(override, expected):
    with pytest.raises(FacesslError) as err:
        load_config(raw={}, overrides=[override])
    assert expected in str(err.value)


def test_unknown_method_suggests_registered_one():
    with pytest.raises(FacesslError, match="unknown method 'simclrr'.*did you mean 'simclr'"):
        load_config(raw={}, overrides=["method.name=simclrr"])


def test_override_into_a_value_is_an_error():
    with pytest.raises(FacesslError, match="seed is a value, not a section"):
        load_config(CONFIGS / "simclr_synth.yaml", ["seed.x=1"])


def test_diff_configs():
    a = load_config(raw={})
    b = load_config(raw={}, overrides=["train.steps=7", "method.proj_dim=16"])
    assert diff_configs(a, b) == ["method.proj_dim", "train.steps"]
    assert isinstance(Config(), Config)
