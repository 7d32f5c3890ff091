"""`prepare --format shards` writes shards while it runs: each shard as soon as finished parts fill it, and the
index rewritten after it, so a run stopped anywhere leaves a trainable index and a rerun goes on to exactly the
shards of a clean run; a rerun with videos added appends shards, one with videos removed or changed drops their
tracks from the index (the shard files stay as they were). And progress lines where stderr is not a terminal."""
from __future__ import annotations

import json
import shutil

import pytest

from facessl.cli import main
from facessl.data import shards as shards_module
from facessl.data.shards import ShardFrames, ShardTuples
from facessl.data.video import runner, writers
from facessl.data.video.pipeline import Options
from prepare_fixtures import write_video
from test_prepare import write_two_people

OPTS = Options(size=32, fps=None, min_track=4)
SHARD_FRAMES = 10
VIDEOS = {f"id{i:05d}/vid/00001.mp4": (frames, i) for i, frames in enumerate([12, 9, 7, 11, 6], 1)}


class Killed(BaseException):
    """A kill the run cannot catch (SIGKILL, power lost): no except clause of prepare runs."""


def make_videos(root, names=None):
    for name, (frames, seed) in VIDEOS.items():
        if names is None or name in names:
            write_video(root / name, frames=frames, seed=seed, shape=(96, 128))
    if names is None or "lab/duo.mp4" in names:
        write_two_people(root / "lab" / "duo.mp4")  # one part of two tracks, 20 and 10 frames: cut between them
    return root


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp("videos"))


@pytest.fixture(scope="module")
def clean(videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "out"
    runner.prepare("videos", videos, out, OPTS, fmt="shards", workers=1, quiet=True, shard_frames=SHARD_FRAMES)
    return out


def prepare(videos, out, **kwargs):
    return runner.prepare("videos", videos, out, OPTS, fmt="shards", quiet=True,
                          **{"workers": 1, "shard_frames": SHARD_FRAMES, **kwargs})


def listed(out) -> dict:
    """Track key -> its frames' JPEG bytes, as the index points at them (and each key listed once)."""
    index = json.loads((out / "shards" / "index.json").read_text())
    tracks = {}
    for s in index["shards"]:
        data = (out / "shards" / s["file"]).read_bytes()
        for t in s["tracks"]:
            assert t["key"] not in tracks
            tracks[t["key"]] = [data[o:o + n] for o, n in zip(t["offsets"], t["sizes"])]
    return tracks


def shard_bytes(out) -> dict:
    return {p.name: p.read_bytes() for p in sorted((out / "shards").iterdir())}


def leftovers(out) -> list[str]:
    """Parts and temporary files a finished run should not leave."""
    state = out / ".prepare"
    return sorted([*(p.name for p in (state / "parts").glob("*")), *(p.name for p in (out / "shards").glob(".*")),
                   *(p.name for p in (state / "tmp").glob("*"))] if state.is_dir() else [])


def test_a_clean_run_cuts_whole_tracks_into_shards_and_keeps_no_part(clean):
    index = json.loads((clean / "shards" / "index.json").read_text())
    assert index["format"] == "facessl-shards-1" and index["next_shard"] == len(index["shards"]) >= 5
    assert [s["file"] for s in index["shards"]] == [f"shard-{i:06d}.tar" for i in range(len(index["shards"]))]
    assert all(s["frames"] >= SHARD_FRAMES for s in index["shards"][:-1])
    assert len(listed(clean)) == 7 and sum(map(len, listed(clean).values())) == 12 + 9 + 7 + 11 + 6 + 30
    assert leftovers(clean) == []
    summary = json.loads((clean / "prepare.json").read_text())["shards"]
    assert summary["shards"] == len(index["shards"]) and summary["frames"] == 75 and summary["tracks"] == 7


def test_shards_are_written_and_listed_while_the_run_goes_on(videos, clean, tmp_path, monkeypatch):
    """Killed after 4 of 6 videos (no handler runs): index.json already lists whole shards that pretraining reads,
    and the parts of their tracks are gone."""
    real, calls = writers.video_job, []

    def killed_after_four(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(writers, "video_job", killed_after_four)
    out = tmp_path / "out"
    with pytest.raises(Killed):
        prepare(videos, out)
    index = json.loads((out / "shards" / "index.json").read_text())
    assert len(index["shards"]) >= 2 and not (out / "prepare.json").exists()
    early, final = listed(out), listed(clean)
    assert early and all(final[key] == frames for key, frames in early.items())  # the clean run's tracks, whole
    assert len(early) < len(final)
    parts = list((out / ".prepare" / "parts").glob("*.tar"))
    assert len(parts) <= 1  # at most the part whose tracks wait for the next shard
    data = ShardFrames(out, size=32, sampling="all_frames")
    assert data.frames == sum(map(len, early.values()))
    assert data.batch(0, 0, 2, 0, 1, {})["images"].shape == (2, 3, 32, 32)


def _kill_at(monkeypatch, point: str, nth: int):
    """Make the run die (uncatchably) at the nth time it reaches `point`."""
    seen = []

    def count():
        seen.append(1)
        if len(seen) == nth:
            raise Killed

    def before(owner, name):
        real = getattr(owner, name)

        def wrapped(*args, **kwargs):
            count()
            return real(*args, **kwargs)
        monkeypatch.setattr(owner, name, wrapped)

    def after(owner, name, when=lambda *a: True):
        real = getattr(owner, name)

        def wrapped(*args, **kwargs):
            result = real(*args, **kwargs)
            if when(*args):
                count()
            return result
        monkeypatch.setattr(owner, name, wrapped)

    if point == "part written, not logged":
        after(writers, "video_job")
    elif point == "logged, not fed":
        before(writers.ShardFeed, "finished")
    elif point == "shard half written":
        after(shards_module, "_add", lambda tar, name, data: name.endswith("0003.json") and ".shard-" in tar.name)
    elif point == "shard renamed, not listed":
        after(shards_module, "_fsynced_replace", lambda tmp, path: path.name.startswith("shard-"))
    elif point == "parts deleted, index not rewritten":
        after(shards_module.ShardWriter, "_delete_parts", lambda self, parts: bool(self.written))
    elif point == "index rewritten":
        after(shards_module.ShardWriter, "write_index")


CRASH_POINTS = [("part written, not logged", 2), ("logged, not fed", 3), ("shard half written", 2),
                ("shard renamed, not listed", 1), ("shard renamed, not listed", 3),
                ("parts deleted, index not rewritten", 2), ("index rewritten", 2)]


@pytest.mark.parametrize("point, nth", CRASH_POINTS)
def test_a_run_killed_anywhere_resumes_to_the_shards_of_a_clean_run(videos, clean, tmp_path, monkeypatch,
                                                                     point, nth):
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        _kill_at(patch, point, nth)
        with pytest.raises(Killed):
            prepare(videos, out)
    if (out / "shards" / "index.json").is_file():  # what the killed run left is valid and trainable
        early = listed(out)
        assert all(listed(clean)[key] == frames for key, frames in early.items())
    prepare(videos, out)
    assert listed(out) == listed(clean)  # no track lost or doubled, every frame's bytes the same
    assert shard_bytes(out) == shard_bytes(clean)  # one worker: even the same shard files
    assert leftovers(out) == []


def test_two_workers_write_the_same_shards_as_one(videos, clean, tmp_path):
    prepare(videos, tmp_path / "two", workers=2)
    assert shard_bytes(tmp_path / "two") == shard_bytes(clean)


def test_videos_added_since_are_appended_as_new_shards(videos, clean, tmp_path):
    """A corpus grows: the shards made before stay byte for byte (also under an index an older facessl wrote,
    without next_shard); new shards are numbered on; the index lists old and new tracks."""
    root, out = tmp_path / "videos", tmp_path / "out"
    first = ["id00001/vid/00001.mp4", "id00003/vid/00001.mp4", "lab/duo.mp4"]
    for name in first:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(videos / name, root / name)
    prepare(root, out)
    before, tracks_before = shard_bytes(out), listed(out)
    index = json.loads((out / "shards" / "index.json").read_text())
    old_style = {"format": index["format"], "shards": index["shards"]}  # as the assembling prepare wrote it
    (out / "shards" / "index.json").write_text(json.dumps(old_style) + "\n")
    for name in VIDEOS:
        if name not in first:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(videos / name, root / name)
    summary = prepare(root, out)
    after = shard_bytes(out)
    assert all(after[name] == data for name, data in before.items() if name != "index.json")
    new = sorted(set(after) - set(before))
    assert new and new[0] == f"shard-{len(index['shards']):06d}.tar"
    grown = listed(out)
    assert grown.keys() == listed(clean).keys()  # every track once, old and new
    assert all(grown[key] == frames for key, frames in listed(clean).items())
    assert all(grown[key] == frames for key, frames in tracks_before.items())
    assert summary["shards"]["written_this_run"] == len(new) and summary["_run"]["inputs_done"] == 3
    assert leftovers(out) == []
    assert ShardTuples(out, k=2, size=32).batch(0, 0, 2, 0, 1, {})["images"].shape == (2, 2, 3, 32, 32)


def test_a_video_removed_or_changed_since_leaves_the_index_and_the_shard_files_stay(videos, clean, tmp_path,
                                                                                   capsys):
    root, out = tmp_path / "videos", tmp_path / "out"
    shutil.copytree(videos, root)
    args = ["prepare", "--videos", str(root), "--out", str(out), "--format", "shards", "--size", "32", "--every",
            "1", "--min-track", "4", "--workers", "1", "--shard-frames", str(SHARD_FRAMES)]
    assert main(args) == 0
    before, tracks = shard_bytes(out), listed(out)
    (root / "lab" / "duo.mp4").unlink()  # two tracks go
    write_video(root / "id00002" / "vid" / "00001.mp4", frames=5, seed=2, shape=(96, 128))  # another size: redone
    capsys.readouterr()
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "outputs removed, their input is gone (1): lab/duo.mp4" in printed
    assert "3 tracks of inputs removed or changed since dropped from the index" in printed
    after = listed(out)
    assert set(tracks) - set(after) == {"lab-duo/duo/00001", "lab-duo.p2/duo/00002"}
    assert len(after["id00002/vid/00001"]) == 5 and len(tracks["id00002/vid/00001"]) == 9
    assert all(after[k] == tracks[k] for k in after if k != "id00002/vid/00001")
    now = shard_bytes(out)
    assert all(now[name] == data for name, data in before.items() if name != "index.json")  # files untouched
    summary = json.loads((out / "prepare.json").read_text())
    assert summary["removed"] == ["lab/duo.mp4"] and summary["shards"]["tracks_dropped_this_run"] == 3
    # the readers take the index's tracks only, by their offsets: every listed frame reads, none dropped does
    data = ShardFrames(out, size=32, sampling="all_frames")
    assert data.frames == sum(map(len, after.values())) == 75 - 30 - 9 + 5
    bad: list = []
    assert all(data._read({}, f, bad) is not None for f in range(data.frames)) and bad == []
    assert len(ShardTuples(out, k=2, size=32, sampling="all_frames").index.identity) == len(after)


def test_progress_lines_where_stderr_is_not_a_terminal(videos, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "PLAIN_EVERY", 0.0, raising=False)
    args = ["--size", "32", "--every", "1", "--min-track", "4", "--workers", "1"]
    assert main(["prepare", "--videos", str(videos), "--out", str(tmp_path / "o"), "--format", "shards",
                 "--shard-frames", str(SHARD_FRAMES), *args]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("prepare videos: ")]
    assert len(lines) >= 6 and lines[-1].startswith("prepare videos: 6/6 (100.0%), ")
    assert "frames/s" in lines[0] and "shards written" in lines[-1] and "ETA 0:00:00" in lines[-1]
    assert "elapsed 0:00:" in lines[0]
    monkeypatch.setattr(runner, "PLAIN_EVERY", 3600.0, raising=False)  # photos, tree; only the closing line within the hour
    photos = tmp_path / "photos"
    (photos / "a").mkdir(parents=True)
    from prepare_fixtures import photo
    from PIL import Image

    Image.fromarray(photo(1)).save(photos / "a" / "x.jpg")
    assert main(["prepare", "--images", str(photos), "--out", str(tmp_path / "p"), *args]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("prepare photos: ")]
    assert len(lines) == 1 and lines[0].startswith("prepare photos: 1/1 (100.0%)")
    assert main(["prepare", "--images", str(photos), "--out", str(tmp_path / "q"), "--quiet", *args]) == 0
    assert capsys.readouterr().err == ""
