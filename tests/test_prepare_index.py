"""Frame trees: the cached file index (invalidated when the tree changes), symlinked folders, the
pre-training summary; and `prepare --format shards` end to end."""
from __future__ import annotations

import json
import os

import pytest

from facessl.data.frames import TrackTuples, VoxCelebFrames, walk_files
from facessl.data.shards import ShardTuples
from facessl.data.video import runner
from facessl.data.video.pipeline import Options
from prepare_fixtures import write_video
from train_helpers import make_track_tree


def test_file_index_is_reused_and_invalidated_when_the_tree_changes(tmp_path, monkeypatch):
    from facessl.data import frames

    root = make_track_tree(tmp_path / "t", identities=2, videos=1, tracks=2, frames=2, size=16)
    first = walk_files(root, cache=True)
    assert (root / ".facessl" / "file_index.json").is_file() and ".facessl/file_index.json" not in first
    walks = []
    monkeypatch.setattr(frames, "_walk", lambda r, real=frames._walk: walks.append(r) or real(r))
    assert walk_files(root, cache=True) == first and walks == []  # unchanged: no walk
    (root / "id00001" / "vid00" / "00001" / "0009.jpg").write_bytes(b"x")  # a new frame in an old track
    again = walk_files(root, cache=True)
    assert len(walks) == 1 and "id00001/vid00/00001/0009.jpg" in again and len(again) == len(first) + 1
    assert walk_files(root) == again  # equal to a plain walk


def test_symlinked_folders_are_followed_once_and_the_summary_says_what_was_skipped(tmp_path, capsys):
    data = make_track_tree(tmp_path / "a", identities=2, videos=1, tracks=1, frames=3, size=16)
    tree = tmp_path / "tree"
    tree.mkdir()
    for ident in ("id00000", "id00001"):
        os.symlink(data / ident, tree / ident)
    os.symlink(tree, tree / "id00001" / "loop")  # a cycle must not loop
    (tree / "stray.jpg").write_bytes((data / "id00000/vid00/00000/0000.jpg").read_bytes())
    (tree / "id00000" / "vid00" / "00000" / "track.json").write_text("{}")
    (tree / "_truth.jsonl").write_text("")
    (tree / "notes.txt").write_text("")
    frames = VoxCelebFrames(tree, "all_frames", 16)
    assert len(frames) == 6
    text = frames.summary()
    assert text.startswith(f"data: 6 images, 2 identities, 2 videos, 2 tracks under {tree}")
    # facessl's own .json/.jsonl sidecars are expected; other non-images are counted and named
    assert "skipped 1 not an image file (e.g. notes.txt)" in text and "skipped 1 images at the root, not in a folder of frames (e.g. stray.jpg)" in text
    short = TrackTuples(tree, k=3, sampling="all_frames", size=16)
    assert "tracks shorter than" not in short.summary()
    with pytest.raises(Exception, match="no face track has at least 4 frames"):
        TrackTuples(tree, k=4, sampling="all_frames", size=16)


def test_prepare_shards_end_to_end(tmp_path):
    videos = tmp_path / "v"
    write_video(videos / "id00001" / "abc" / "00001.mp4", frames=8, seed=3)
    write_video(videos / "id00002" / "xyz" / "00007.mp4", frames=9, seed=5)
    out = tmp_path / "out"
    runner.prepare("videos", videos, out, Options(size=32, fps=None, min_track=4), fmt="shards", workers=1,
                   quiet=True, shard_frames=8)
    index = json.loads((out / "shards" / "index.json").read_text())
    # tracks go into shards in the jobs' order, the larger file first (id00002's), as the workers take them
    assert [[t["key"] for t in s["tracks"]] for s in index["shards"]] == [["id00002/xyz/00007"], ["id00001/abc/00001"]]
    assert [s["frames"] for s in index["shards"]] == [9, 8]
    assert not list((out / ".prepare" / "parts").glob("*.tar"))  # parts are gone once in shards
    batch = ShardTuples(out, k=2, size=32).batch(0, 0, 2, 0, 1, {})
    assert batch["images"].shape == (2, 2, 3, 32, 32) and int(batch["skipped"].sum()) == 0
    before = (out / "shards" / "shard-000001.tar").read_bytes()
    runner.prepare("videos", videos, out, Options(size=32, fps=None, min_track=4), fmt="shards", workers=1,
                   quiet=True, shard_frames=8)  # finished: a rerun changes nothing
    assert (out / "shards" / "shard-000001.tar").read_bytes() == before
    write_video(videos / "id00003" / "new" / "00001.mp4", frames=5, seed=6)
    runner.prepare("videos", videos, out, Options(size=32, fps=None, min_track=4), fmt="shards", workers=1,
                   quiet=True, shard_frames=8)  # a video added since: appended as a shard of its own
    index = json.loads((out / "shards" / "index.json").read_text())
    assert [s["file"] for s in index["shards"]][-1] == "shard-000002.tar" and index["shards"][-1]["frames"] == 5
    assert (out / "shards" / "shard-000001.tar").read_bytes() == before


def test_shallower_frame_trees_make_the_frame_folder_the_track(tmp_path):
    """YouTube Faces' frame_images_DB (<identity>/<video>/<frame>.jpg) and a folder per clip (<clip>/<frame>.jpg)
    are read as face tracks; the summary says how each was read."""
    from PIL import Image

    root = tmp_path / "frame_images_DB"
    picture = Image.new("RGB", (20, 20), (120, 90, 60))
    for person, videos in (("Aaron_Eckhart", (0,)), ("Abel_Pacheco", (1, 4))):
        for video in videos:
            for frame in ("0.555.jpg", "0.556.jpg", "0.1000.jpg"):
                (root / person / str(video)).mkdir(parents=True, exist_ok=True)
                picture.save(root / person / str(video) / frame)
        (root / f"{person}.labeled_faces.txt").write_text("0.555.jpg,0,10,10,20,20\n")
    (root / "clip_without_person").mkdir()
    for frame in ("0001.jpg", "0002.jpg"):
        picture.save(root / "clip_without_person" / frame)
    frames = VoxCelebFrames(root, "per_identity", 16)
    assert len(frames.files) == 11 and frames.identities == ["Aaron_Eckhart", "Abel_Pacheco", "clip_without_person"]
    text = frames.summary()
    assert text.startswith(f"data: 11 images, 3 identities, 4 videos, 4 tracks under {root}")
    assert "9 images read as <identity>/<video>/<frame>" in text and "2 images read as <clip>/<frame>" in text
    tuples = TrackTuples(root, k=3, sampling="all_frames", size=16)
    assert sorted(tuples.track[s] for s, _ in tuples.tracks) == ["Aaron_Eckhart/0", "Abel_Pacheco/1", "Abel_Pacheco/4"]
    key = tuples.epoch_keys(0, 0)[0]
    assert len({tuples.track[i] for i in key}) == 1  # the frames of a tuple come from one video


def test_summary_counts_one_of_a_kind_in_the_singular(tmp_path):
    data = make_track_tree(tmp_path / "a", identities=1, videos=1, tracks=1, frames=3, size=16)
    text = VoxCelebFrames(data, "all_frames", 16).summary()
    assert text.startswith(f"data: 3 images, 1 identity, 1 video, 1 track under {data}")


def test_counted_words():
    from facessl.wording import counted

    assert [counted(n, noun) for n, noun in ((0, "image"), (1, "identity"), (2, "identity"), (1, "worker"),
                                              (3, "class"))] == ["0 images", "1 identity", "2 identities",
                                                                 "1 worker", "3 classes"]
