"""data.in_memory: frames decoded once serve exactly the items (and skip counts) of decoding every time."""
from __future__ import annotations

import torch

from facessl.config import load_config
from facessl.data.frame_cache import cached
from facessl.data.frames import TrackTuples, VoxCelebFrames
from facessl.engine.train import Trainer
from train_helpers import make_track_tree


def _same(a: dict, b: dict) -> bool:
    return torch.equal(a["images"], b["images"]) and a["skipped"] == b["skipped"] and a["skipped_path"] == b["skipped_path"]


def test_cached_items_equal_decoded_items_including_corrupt_files(tmp_path):
    tree = make_track_tree(tmp_path, identities=2, videos=1, tracks=2, frames=3, size=20)
    (tree / "id00000" / "vid00" / "00000" / "0001.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    whole_track = tree / "id00001" / "vid00" / "00001"
    for f in whole_track.iterdir():  # a track with no readable frame: tuples fall back to the next file
        f.write_bytes(b"garbage")
    frames = VoxCelebFrames(tree, "all_frames", size=16)
    memory = cached(frames)
    assert memory.frames.dtype == torch.uint8 and memory.frames.shape == (12, 3, 16, 16)
    assert int((~torch.as_tensor(memory.readable)).sum()) == 4
    for key in memory.epoch_keys(0, 0):
        assert _same(memory[key], frames[key])
    assert memory[1]["skipped"] == 1 and memory[9]["skipped"] == 3  # 9, 10, 11 unreadable: wraps to 0
    tuples = TrackTuples(tree, k=2, sampling="all_frames", size=16)
    memory_tuples = cached(tuples)
    keys = tuples.epoch_keys(3, 0) + [(0, 1), (9, 10)]
    for key in keys:
        assert _same(memory_tuples[key], tuples[key])
    assert len(memory_tuples) == len(tuples) and memory_tuples.tracks == tuples.tracks


def test_training_in_memory_gives_the_weights_of_decoding_every_step(tmp_path):
    tree = make_track_tree(tmp_path / "data", identities=4, videos=1, tracks=1, frames=4, size=16)
    weights = []
    for in_memory in (False, True):
        cfg = load_config("configs/simclr_synth.yaml", overrides=[
            f"data.path={tree}", "data.size=16", "data.workers=0", f"data.in_memory={in_memory}", "train.steps=3",
            "train.batch_size=4", "train.image_every=0", "train.log_every=1", "method.proj_hidden=32",
            "method.proj_dim=16", "backbone.width=0.25", "train.channels_last=false"])
        trainer = Trainer(cfg, tmp_path / f"run_{in_memory}", quiet=True)
        trainer.train()
        weights.append({k: v.clone() for k, v in trainer.method.state_dict().items()})
        trainer.close()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_stored_frames_are_decoded_once_and_again_when_a_file_changes(tmp_path, monkeypatch):
    import os

    import numpy as np

    from facessl.data import frame_cache

    tree = make_track_tree(tmp_path / "data", identities=2, videos=1, tracks=2, frames=3, size=20)
    (tree / "id00000" / "vid00" / "00000" / "0001.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    store = tmp_path / "store"
    first = cached(VoxCelebFrames(tree, "all_frames", size=16), store=str(store))
    assert len(list(store.glob("frames-16px-*.npz"))) == 1
    decoded = []
    real = frame_cache.decode_all
    monkeypatch.setattr(frame_cache, "decode_all", lambda *a, **k: decoded.append(1) or real(*a, **k))
    frames = VoxCelebFrames(tree, "all_frames", size=16)
    second = cached(frames, store=str(store))  # read from the store: nothing decoded
    assert decoded == [] and torch.equal(second.frames, first.frames)
    assert np.array_equal(second.readable, first.readable) and int((~torch.as_tensor(second.readable)).sum()) == 1
    for key in second.epoch_keys(0, 0):
        assert _same(second[key], frames[key])
    cached(VoxCelebFrames(tree, "all_frames", size=12), store=str(store))  # another size: its own file
    assert len(decoded) == 1 and len(list(store.glob("frames-12px-*.npz"))) == 1
    changed = tree / "id00001" / "vid00" / "00000" / "0000.jpg"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    cached(VoxCelebFrames(tree, "all_frames", size=16), store=str(store))  # a changed file: decoded again
    assert len(decoded) == 2 and len(list(store.glob("frames-16px-*.npz"))) == 2
    for path in store.glob("frames-16px-*.npz"):
        path.write_bytes(b"truncated")  # a damaged store file is decoded again, not an error
    again = cached(VoxCelebFrames(tree, "all_frames", size=16), store=str(store))
    assert len(decoded) == 3 and torch.equal(again.frames[:6], first.frames[:6])
