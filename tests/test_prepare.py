"""`facessl prepare`: videos -> frame tree, resumable and deterministic; bad files skipped and named."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from facessl.cli import main
from facessl.data.frames import TrackTuples, VoxCelebFrames
from facessl.data.video import runner, writers
from facessl.data.video.pipeline import Options
from prepare_fixtures import faces, tree_bytes, write_video

OPTS = Options(size=32, fps=None, every=1, min_track=4)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    write_video(root / "id00012" / "21Uxsk56VDQ" / "00001.mp4", frames=12, seed=1)
    write_video(root / "lab" / "session one.mp4", frames=10, seed=2)
    (root / "lab" / "empty.mp4").write_bytes(b"")
    (root / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3 not really a video" * 20)
    (root / "notes.txt").write_text("not a video")
    return root


def test_videos_become_a_frame_tree_that_pretraining_reads(videos, tmp_path):
    out = tmp_path / "out"
    s = runner.prepare("videos", videos, out, OPTS, workers=1, quiet=True)
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*/*")) == [
        "id00012/21Uxsk56VDQ/00001", "lab-session_one/session_one/00001"]
    assert len(list((out / "id00012/21Uxsk56VDQ/00001").glob("*.jpg"))) == 12
    side = json.loads((out / "lab-session_one/session_one/00001/track.json").read_text())
    assert [f["frame_index"] for f in side["frames"]] == list(range(10)) and side["source"] == "lab/session one.mp4"
    assert side["frames"][3]["time_s"] == pytest.approx(0.3) and len(side["frames"][0]["landmarks"]) == 5
    # the face moved right 2 px a frame: the crops follow it, so the background edge stays put
    first, last = (np.asarray(Image.open(out / "id00012/21Uxsk56VDQ/00001" / n)) for n in ("0001.jpg", "0012.jpg"))
    assert first.shape == (32, 32, 3) and np.abs(first.astype(int) - last).mean() < 30
    summary = json.loads((out / "prepare.json").read_text())
    assert summary["totals"]["tracks_written"] == 2 and summary["totals"]["frames_written"] == 22
    reasons = {item["input"]: item["reason"] for item in summary["skipped"]}
    assert set(reasons) == {"lab/empty.mp4", "broken.mkv"} and "0 bytes" in reasons["lab/empty.mp4"]
    assert summary["totals"]["videos_skipped"] == 2 and s["totals"]["videos"] == 4
    frames = VoxCelebFrames(out, "all_frames", 32)
    assert len(frames) == 22 and frames[0]["images"].shape == (3, 32, 32)
    assert len(TrackTuples(out, k=2, sampling="all_frames", size=32).tracks) == 2


def test_a_phone_video_stored_sideways_is_read_upright(tmp_path):
    """Phones store portrait video turned a quarter with a display matrix: frames come out as a player shows
    them, and `prepare` finds and crops the same face as in the upright original."""
    from facessl.data.video.decode import sample_frames

    upright = write_video(tmp_path / "in" / "upright" / "a.mp4", frames=8, seed=3)
    sideways = write_video(tmp_path / "in" / "sideways" / "a.mp4", frames=8, seed=3, sideways=True)
    straight = [f for _, _, f in sample_frames(upright)]
    turned = [f for _, _, f in sample_frames(sideways)]
    assert turned[0].shape == straight[0].shape == (120, 160, 3) and turned[0].flags["C_CONTIGUOUS"]
    assert np.abs(turned[0].astype(int) - straight[0]).mean() < 3  # the same picture (two lossy encodings)
    out = tmp_path / "out"
    runner.prepare("videos", tmp_path / "in", out, OPTS, workers=1, quiet=True)
    crops = {name: sorted((out / f"{name}-a").rglob("*.jpg")) for name in ("upright", "sideways")}
    assert len(crops["sideways"]) == len(crops["upright"]) == 8
    a, b = (np.asarray(Image.open(crops[name][4]), int) for name in ("upright", "sideways"))
    assert np.abs(a - b).mean() < 12


def test_an_anamorphic_video_is_read_with_square_pixels(tmp_path):
    """A video stored at half its width with a 2:1 sample aspect ratio comes out as a player shows it, so the
    face is not cropped at half its width."""
    from facessl.data.video.decode import sample_frames

    square = write_video(tmp_path / "square.mp4", frames=2, seed=3)
    squeezed = write_video(tmp_path / "squeezed.mp4", frames=2, seed=3, squeeze=2)
    a, b = (next(iter(sample_frames(path)))[2] for path in (square, squeezed))
    assert b.shape == a.shape == (120, 160, 3)
    assert np.abs(a.astype(int) - b).mean() < 6  # the same picture, less the detail that half the width lost


def _video_at_times(path, times_ms, shape=(48, 64)):
    """An mp4 whose frames carry the given presentation times (a variable frame rate, as phones record)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = shape[1], shape[0], "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for k, ms in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(np.full((*shape, 3), 10 * (k % 20), np.uint8), format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_sampling_a_steady_video_takes_the_frame_nearest_each_time(tmp_path):
    from facessl.data.video.decode import sample_frames

    path = _video_at_times(tmp_path / "cfr.mp4", [round(k * 1000 / 30) for k in range(60)])
    times = [t for _, t, _ in sample_frames(path, fps=10)]
    assert np.allclose(times, np.arange(20) / 10, atol=0.02)


def test_sampling_a_variable_rate_video_takes_no_near_duplicates(tmp_path):
    """After a gap the frame taken late for one time was followed 17 ms later by the next time's (seen on a
    variable-rate clip): samples now stay at least half an interval apart."""
    from facessl.data.video.decode import sample_frames

    steady = [0, 100, 150, 200, 233, 266, 283, 300, 317, 334, 434, 484, 584, 634, 684, 784]
    gap = [1734, 1751, 1768, 1868, 1885, 1935, 1952, 1985, 2018, 2118, 2218]
    times = [t for _, t, _ in sample_frames(_video_at_times(tmp_path / "vfr.mp4", steady + gap), fps=10)]
    assert min(np.diff(times)) > 0.05 - 1e-6 and 1.868 in times and 1.885 not in times


def test_killed_run_resumes_to_byte_identical_output(videos, tmp_path, monkeypatch):
    runner.prepare("videos", videos, tmp_path / "straight", OPTS, workers=1, quiet=True)

    real_job, calls = writers.video_job, []

    def dies_after_writing(*args, **kwargs):  # the second video's tracks land, then the process "dies"
        result = real_job(*args, **kwargs)
        calls.append(result["key"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(writers, "video_job", dies_after_writing)
    with pytest.raises(KeyboardInterrupt):
        runner.prepare("videos", videos, tmp_path / "killed", OPTS, workers=1, quiet=True)
    monkeypatch.setattr(writers, "video_job", real_job)
    state = tmp_path / "killed" / ".prepare"
    assert not (tmp_path / "killed" / "prepare.json").exists()
    assert len((state / "done.jsonl").read_text().splitlines()) == 1
    with open(state / "done.jsonl", "a") as f:  # a torn line from a kill mid-write
        f.write('{"key": "lab/sess')
    (state / "tmp" / "junk").mkdir(parents=True)  # and a half-written temporary folder
    runner.prepare("videos", videos, tmp_path / "killed", OPTS, workers=1, quiet=True)
    straight, resumed = tree_bytes(tmp_path / "straight"), tree_bytes(tmp_path / "killed")
    assert straight.keys() == resumed.keys() and len(straight) > 20
    assert [k for k in straight if straight[k] != resumed[k]] == []
    assert not (state / "tmp" / "junk").exists()


def test_two_workers_write_the_same_bytes_as_one(videos, tmp_path):
    runner.prepare("videos", videos, tmp_path / "one", OPTS, workers=1, quiet=True)
    runner.prepare("videos", videos, tmp_path / "two", OPTS, workers=2, quiet=True)
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


def test_photos_mirror_the_tree_and_odd_modes_are_read(tmp_path):
    root = tmp_path / "photos"
    (root / "happy").mkdir(parents=True)
    heads = faces(3, seed=4, size=96)
    Image.fromarray(heads[0]).save(root / "happy" / "a.jpg")
    Image.fromarray(heads[1]).convert("RGBA").save(root / "happy" / "b.png")
    Image.fromarray(heads[2]).convert("L").save(root / "c.png")
    Image.fromarray(np.full((96, 96, 3), 120, np.uint8)).save(root / "blank.jpg")
    (root / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "out"
    assert main(["prepare", "--images", str(root), "--out", str(out), "--size", "48", "--workers", "1", "--quiet"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg")) == ["c.jpg", "happy/a.jpg", "happy/b.jpg"]
    assert Image.open(out / "happy" / "b.jpg").size == (48, 48)
    summary = json.loads((out / "prepare.json").read_text())
    assert summary["no_face"] == ["blank.jpg"] and summary["unreadable"] == ["cut.jpg"]


@pytest.mark.parametrize("args, message", [
    (["--videos", "{tmp}/nope"], "folder not found"),
    (["--videos", "{tmp}/empty"], "no video files"),
    (["--videos", "{tmp}/empty", "--size", "0"], "--size 0: expected a positive integer"),
    (["--videos", "{tmp}/empty", "--fps", "-2"], "--fps -2.0: expected a positive number"),
    (["--images", "{tmp}/empty", "--format", "shards"], "--format shards is for videos"),
])
def test_bad_input_is_one_line(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    argv = ["prepare", *[a.format(tmp=tmp_path) for a in args], "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("facessl prepare: error:")


def test_other_options_on_the_same_output_are_refused(videos, tmp_path, capsys):
    args = ["prepare", "--videos", str(videos), "--out", str(tmp_path / "o"), "--size", "32", "--every", "1",
            "--min-track", "4", "--workers", "1", "--quiet"]
    assert main(args) == 0
    assert main(args) == 0  # the same command again: nothing to do
    assert main([*args, "--margin", "0.5"]) == 2
    assert "already prepared with other settings (margin)" in capsys.readouterr().err


def test_a_detector_that_cannot_load_is_one_error_not_every_video_skipped(videos, tmp_path, capsys):
    from facessl.data.video.detectors import register
    from facessl.errors import FacesslError

    def needs_something(**options):
        raise FacesslError("the broken detector needs OpenCV 4")

    register("broken", needs_something)
    assert main(["prepare", "--videos", str(videos), "--out", str(tmp_path / "o"), "--detector", "broken", "--quiet"]) == 2
    assert "the broken detector needs OpenCV 4" in capsys.readouterr().err


def write_two_people(path, frames: int = 10):
    """An mp4 of two different faces side by side for `frames` frames, then the left one alone for as many."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    left, right = faces(2 * frames, seed=3), faces(frames, seed=4)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 256, 128, "yuv420p"
        for i in range(2 * frames):
            frame = np.full((128, 256, 3), 100, np.uint8)
            frame[32:96, 16:80] = left[i]
            if i < frames:
                frame[32:96, 176:240] = right[i]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_faces_seen_together_are_two_identities_and_removed_together(tmp_path):
    """Two faces in one frame are two people: the second goes to `<identity>.p2`, so pairs drawn from identities
    never pair them as one person; deleting the video removes both tracks."""
    videos, out = tmp_path / "videos", tmp_path / "out"
    write_two_people(videos / "lab" / "duo.mp4")
    write_video(videos / "solo.mp4", frames=6, seed=5)
    runner.prepare("videos", videos, out, OPTS, workers=1, quiet=True)
    tracks = sorted(p.relative_to(out).as_posix() for p in out.glob("lab-duo*/*/*") if p.is_dir())
    assert tracks == ["lab-duo.p2/duo/00002", "lab-duo/duo/00001"]
    crops = sorted(len(list((out / track).glob("*.jpg"))) for track in tracks)
    assert crops == [10, 20]  # the face there throughout, and the one beside it for the first half
    assert len(VoxCelebFrames(out, "all_frames", 32)) == 36
    record = next(v for v in json.loads((out / "prepare.json").read_text())["videos"] if v["key"] == "lab/duo.mp4")
    assert record["track_paths"] == ["lab-duo/duo/00001", "lab-duo.p2/duo/00002"]
    (videos / "lab" / "duo.mp4").unlink()
    runner.prepare("videos", videos, out, OPTS, workers=1, quiet=True)
    assert [p.relative_to(out).as_posix() for p in out.glob("*/*/*") if p.is_dir()] == ["solo/solo/00001"]


def test_people_of_tracks_share_no_frame():
    from facessl.data.video.naming import people_of_tracks

    assert people_of_tracks([{1, 2, 3}, {2, 3}, {5, 6}, {3, 4, 5}, {6}]) == [1, 2, 1, 3, 2]
    assert people_of_tracks([{1, 2}, {3, 4}, {5}]) == [1, 1, 1]  # never together: nothing says they differ


def test_a_video_named_like_a_second_person_gets_a_name_of_its_own():
    from facessl.data.video.naming import person_identity, video_places

    places = video_places(["lab/a.mp4", "lab/a.p2.mp4"], {})
    assert places["lab/a.mp4"][0] == "lab-a" and places["lab/a.p2.mp4"][0] != person_identity("lab-a", 2)
    assert places["lab/a.p2.mp4"][0].startswith("lab-a.p2-")
