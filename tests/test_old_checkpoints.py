"""Checkpoints written before the engine/ and methods/ reorganisation still load, with the same features.

The fixtures in tests/fixtures/old_layout were written by facessl at commit 47e9328 (loose top-level
train.py/checkpoint.py, before facessl/engine/ existed): a 2-step run of each method, tiny backbone,
32 px, plus the features that code computed for four fixed random images."""
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import facessl

FIXTURES = Path(__file__).parent / "fixtures" / "old_layout"


@pytest.mark.parametrize("method", ["simclr", "pcl", "fabnet"])
def test_old_layout_checkpoint_gives_the_same_features(method):
    expected = load_file(str(FIXTURES / "expected_features.safetensors"))
    enc = facessl.load(FIXTURES / method)
    with torch.no_grad():
        feats = enc.features(expected["images"])
    keys = sorted(k.split(".", 1)[1] for k in expected if k.startswith(method + "."))
    assert set(keys) <= set(feats)  # every feature the old code gave (later read-outs, e.g. FAb-Net's fs, may be added)
    for k in keys:
        torch.testing.assert_close(feats[k], expected[f"{method}.{k}"], rtol=1e-5, atol=1e-5)
