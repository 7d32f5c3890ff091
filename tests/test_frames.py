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


def _frames(root, names, size=24):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (size, size), (len(name) * 7 % 255, 90, 40)).save(path)


def test_voxceleb1_release_folder_is_not_the_video(tmp_path):
    """VoxCeleb1's unzippedFaces/<Name>/1.6/<youtube id>/<frame>.jpg: the videos are the folders below 1.6."""
    root = tmp_path / "unzippedFaces"
    _frames(root, [f"{name}/1.6/{video}/{frame:07d}.jpg" for name in ("A.J._Buckley", "Aaron_Tveit")
                   for video in ("1zcIwhmdeo4", "7gWzIy6yIIk", "Zz3kq0FMUMY") for frame in (1375, 1400)])
    ds = VoxCelebFrames(root, "per_identity", size=16)
    assert len(ds.identities) == 2 and len(set(ds.video.tolist())) == 6 and len(set(ds.track.tolist())) == 6
    assert "2 identities, 6 videos, 6 tracks" in ds.summary() and "VoxCeleb1's" in ds.summary()
    # per identity, each of its 3 videos is drawn about a third of the time, whatever its frame count
    picked = [ds.video[k] for e in range(300) for k in ds.epoch_keys(0, e)]
    assert {v.split("/")[-1] for v in picked} == {"1zcIwhmdeo4", "7gWzIy6yIIk", "Zz3kq0FMUMY"}
    # the FAb-Net tuples pair frames of one video
    tuples = TrackTuples(root, k=2, sampling="all_frames", size=16)
    assert all(len({tuples.video[i] for i in key}) == 1 for key in tuples.epoch_keys(0, 0))


def test_a_root_one_level_too_high_is_named_in_the_summary(tmp_path):
    _frames(tmp_path / "vox1", [f"unzippedFaces/{name}/1.6/{video}/0001.jpg" for name in ("Ann", "Bob") for video in ("v1", "v2")])
    summary = VoxCelebFrames(tmp_path / "vox1", "per_identity", size=16).summary()
    assert "1 identity," in summary and f"point --data at {tmp_path / 'vox1' / 'unzippedFaces'}" in summary
