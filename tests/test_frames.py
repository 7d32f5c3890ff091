"""Pretraining datasets: layouts, deterministic sampling, sharding, corrupt and empty data."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from facessl.data.frames import ImageFolderFrames, StreamSampler, TrackTuples, VoxCelebFrames
from facessl.errors import DataFormatError
from train_helpers import make_track_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_track_tree(tmp_path_factory.mktemp("vox"), identities=3, videos=2, tracks=2, frames=4, size=40)


def test_frames_are_uint8_resized(tree):
    ds = VoxCelebFrames(tree, "all_frames", size=32)
    item = ds[0]
    assert item["images"].dtype == torch.uint8 and item["images"].shape == (3, 32, 32)
    assert item["skipped"] == 0 and len(ds.files) == 3 * 2 * 2 * 4 and len(ds) == 48
    assert VoxCelebFrames(tree, "all_frames", size=40)[0]["images"].shape == (3, 40, 40)


def test_per_identity_sampling_is_one_frame_per_identity_and_deterministic(tree):
    ds = VoxCelebFrames(tree, "per_identity", size=32)
    keys = ds.epoch_keys(seed=0, epoch=0)
    assert len(keys) == 3 and sorted(ds.identity[keys].tolist()) == ds.identities
    assert keys == ds.epoch_keys(0, 0)
    epochs = {tuple(ds.epoch_keys(0, e)) for e in range(10)}
    assert len(epochs) > 5  # a new random frame (and video) every epoch
    all_keys = VoxCelebFrames(tree, "all_frames", size=32).epoch_keys(1, 0)
    assert sorted(all_keys) == list(range(48))


def test_track_tuples_take_k_frames_of_one_track(tree):
    ds = TrackTuples(tree, k=3, sampling="all_frames", size=32)
    keys = ds.epoch_keys(0, 0)
    assert len(keys) == 12
    for key in keys:
        assert len(set(ds.track[list(key)])) == 1 and len(set(key)) == 3
    item = ds[keys[0]]
    assert item["images"].shape == (3, 3, 32, 32) and item["images"].dtype == torch.uint8
    assert len(TrackTuples(tree, k=2, sampling="per_identity", size=32).epoch_keys(0, 0)) == 3
    with pytest.raises(DataFormatError, match="at least 5 frames"):
        TrackTuples(tree, k=5)


def test_image_folder(tmp_path):
    for i in range(3):
        (tmp_path / f"c{i}").mkdir()
        Image.fromarray(np.full((20, 30, 3), 50 * i, np.uint8)).save(tmp_path / f"c{i}" / "a.png")
    ds = ImageFolderFrames(tmp_path, size=16)
    assert len(ds) == 3 and ds[2]["images"].shape == (3, 16, 16) and int(ds[2]["images"].max()) == 100


def test_stream_sampler_shards_the_same_global_batches(tree):
    ds = VoxCelebFrames(tree, "per_identity", size=32)  # 3 items per epoch: batches cross epochs
    one = list(itertools.islice(iter(StreamSampler(ds, 0, 8)), 8 * 5))
    stream = [k for e in range(20) for k in ds.epoch_keys(0, e)]
    assert one == stream[:40]
    ranks = [list(itertools.islice(iter(StreamSampler(ds, 0, 8, r, 2)), 4 * 5)) for r in range(2)]
    for b in range(5):
        assert ranks[0][4 * b:4 * b + 4] + ranks[1][4 * b:4 * b + 4] == one[8 * b:8 * b + 8]
    resumed = list(itertools.islice(iter(StreamSampler(ds, 0, 8, start_batch=3)), 16))
    assert resumed == one[24:40]
    assert StreamSampler(ds, 0, 8).epoch_of_batch(3) == 8


def test_corrupt_file_is_skipped_and_counted(tmp_path):
    tree = make_track_tree(tmp_path, identities=1, videos=1, tracks=1, frames=3, size=16)
    bad = tree / "id00000" / "vid00" / "00000" / "0001.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a jpeg")
    ds = VoxCelebFrames(tree, "all_frames", size=16)
    item = ds[1]
    assert item["skipped"] == 1 and item["skipped_path"].endswith("0001.jpg")
    assert torch.equal(item["images"], ds[2]["images"])
    tuples = TrackTuples(tree, k=3, sampling="all_frames", size=16)
    assert tuples[(0, 1, 2)]["skipped"] == 1 and tuples[(0, 1, 2)]["images"].shape == (3, 3, 16, 16)


def test_empty_or_unreadable_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DataFormatError, match=f"{tmp_path}: no images found"):
        VoxCelebFrames(tmp_path)
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(DataFormatError, match="none of the 1 image files could be decoded"):
        VoxCelebFrames(tmp_path)
    with pytest.raises(DataFormatError, match="not found"):
        ImageFolderFrames(tmp_path / "missing")
