"""Feature extraction, the disk cache and its keys, and the frozen-weights check."""
import numpy as np
import pytest
import torch
from PIL import Image

from eval_toys import DriftingEncoder, ToyEncoder, expression_set
from facessl.data.formats.common import ImageSet
from facessl.errors import FacesslError
from facessl.evaluate.cache import FeatureCache, dataset_fingerprint, weights_hash
from facessl.evaluate.features import FeatureSource, available_choices, combine, extract



def test_cache_hit_returns_identical_features(tmp_path):
    data = expression_set(n=40)
    cache = FeatureCache(tmp_path)
    enc = ToyEncoder()
    first = FeatureSource(enc, size=16, cache=cache, device="cpu", quiet=True).features(data)
    calls = enc.calls
    second = FeatureSource(enc, size=16, cache=cache, device="cpu", quiet=True).features(data)
    assert enc.calls == calls, "a cache hit must not run the encoder"
    assert cache.hits == 1 and cache.misses == 1
    assert set(first) == {"fs", "ff", "fp"}
    for name in first:
        assert second[name].dtype == np.float32
        np.testing.assert_array_equal(first[name], second[name])


@pytest.mark.parametrize("change", ["size", "weights", "dataset", "amp"])
def test_cache_key_changes_invalidate(tmp_path, change):
    data = expression_set(n=24)
    cache = FeatureCache(tmp_path)
    enc = ToyEncoder()
    FeatureSource(enc, size=16, cache=cache, device="cpu", quiet=True).features(data)
    size, amp = 16, False
    if change == "size":
        size = 12
    elif change == "weights":
        with torch.no_grad():
            enc.conv.bias.add_(0.1)
    elif change == "dataset":
        data.images[3, 0, 0, 0] ^= 1
    else:
        amp = True
    FeatureSource(enc, size=size, cache=cache, device="cpu", amp=amp, quiet=True).features(data)
    assert cache.misses == 2 and cache.hits == 0


def test_damaged_cache_entry_is_recomputed(tmp_path):
    data = expression_set(n=16)
    cache = FeatureCache(tmp_path)
    FeatureSource(ToyEncoder(), size=16, cache=cache, device="cpu", quiet=True).features(data)
    for f in tmp_path.rglob("fs.npy"):
        f.write_bytes(b"garbage")
    feats = FeatureSource(ToyEncoder(), size=16, cache=cache, device="cpu", quiet=True).features(data)
    assert feats["fs"].shape[0] == 16 and cache.hits == 0


def test_weight_change_during_extraction_is_caught(tmp_path):
    source = FeatureSource(DriftingEncoder(), size=16, cache=FeatureCache(tmp_path), device="cpu", quiet=True)
    with pytest.raises(FacesslError, match="weights changed"):
        source.features(expression_set(n=8))
    assert not list(tmp_path.rglob("meta.json")), "features of a drifting encoder must not be cached"


def test_batchnorm_statistics_count_as_weights():
    enc = ToyEncoder()
    before = weights_hash(enc)
    enc.train()
    enc.features(torch.rand(4, 3, 16, 16))  # train mode updates running statistics
    assert weights_hash(enc) != before


def test_extraction_is_batch_independent_and_restores_mode():
    data = expression_set(n=20)
    enc = ToyEncoder().train()
    a = extract(enc, data, 16, batch_size=7, device="cpu", quiet=True)
    b = extract(enc, data, 16, batch_size=64, device="cpu", quiet=True)
    np.testing.assert_allclose(a["fs"], b["fs"], rtol=1e-5, atol=1e-6)
    assert enc.training


def test_files_and_arrays_give_the_same_features(tmp_path):
    data = expression_set(n=6, size=20)
    paths = []
    for i, image in enumerate(data.images):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    from_files = ImageSet(paths, source="files")
    np.testing.assert_allclose(extract(ToyEncoder(), from_files, 16, device="cpu", quiet=True)["fs"],
                               extract(ToyEncoder(), data, 16, device="cpu", quiet=True)["fs"], atol=1e-6)
    before = dataset_fingerprint(from_files)
    Image.fromarray(data.images[0][::-1].copy()).save(paths[0])
    import os
    os.utime(paths[0], ns=(1, 1))
    assert dataset_fingerprint(from_files) != before


def test_feature_choices():
    feats = {"ff": np.ones((3, 2), np.float32), "fp": np.zeros((3, 4), np.float32)}
    assert combine(feats, "ff+fp").shape == (3, 6)
    with pytest.raises(FacesslError, match="'fs'"):
        combine(feats, "fs")
    assert available_choices(ToyEncoder(), ["fs", "ff+fp", "embedding"]) == (["fs", "ff+fp"], ["embedding"])
