"""`facessl prepare` on the inputs people really have: names in any script or not UTF-8, names that collide,
photos added later, files still being copied, one odd photo among many, a damaged packet mid-video."""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from facessl.cli import main
from facessl.data.frames import VoxCelebFrames
from facessl.data.video import naming, writers
from facessl.data.video.decode import sample_frames
from prepare_fixtures import faces, write_video


def photo(path, seed: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(faces(1, seed=seed, size=96)[0]).save(path)
    return path


def prepare_photos(root, out, capsys=None) -> str:
    assert main(["prepare", "--images", str(root), "--out", str(out), "--size", "32", "--workers", "1"]) == 0
    return capsys.readouterr().out if capsys else ""


def photo_list(out) -> dict:
    with open(out / "photos.csv", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        return {row["input"]: (row["output"], row["result"]) for row in csv.DictReader(fh)}


def test_names_keep_letters_of_any_script_and_never_start_like_a_hidden_entry():
    assert naming.clean("张三") == "张三" and naming.clean("Élodie interview") == "Élodie_interview"
    assert naming.clean("E\u0301lodie") == "Élodie"  # macOS spells accents decomposed
    assert naming.clean("_take2") == "take2" and naming.clean(".hidden") == "hidden" and naming.clean("___") == "unnamed"
    assert naming.clean("caf\udce9") == "caf_"  # a byte that is not UTF-8 (os.fsdecode's surrogate)
    assert len(naming.clean("长" * 200).encode()) <= naming.MAX_BYTES
    assert len(naming.video_place("/".join(["folder"] * 60) + ".mp4")[0].encode()) <= naming.MAX_BYTES
    places = naming.video_places(["clip.mov", "clip.m4v", "_raw/clip.mp4", "id1/v w/1.mp4", "id1/v_w/1.mp4"], {})
    assert places["clip.m4v"] == ("clip", "clip", None) and places["clip.mov"][0].startswith("clip-")
    assert places["_raw/clip.mp4"] == ("raw-clip", "clip", None)
    assert places["id1/v w/1.mp4"] == ("id1", "v_w", "1") and places["id1/v_w/1.mp4"][2].startswith("1-")
    # a name given in an earlier run stays, even when a new input would sort before it
    again = naming.photo_places(["Person.jpg", "person.jpg"], {"person.jpg": "person.jpg"})
    assert again["person.jpg"] == "person.jpg" and again["Person.jpg"].startswith("Person-")


def test_colliding_photo_names_all_get_a_crop_and_a_line_in_photos_csv(tmp_path, capsys):
    root, out = tmp_path / "photos", tmp_path / "out"
    for i, name in enumerate(["person.jpg", "person.png", "张三.jpg", "李四.jpg", "a b.jpg", "a_b.jpg"]):
        photo(root / name, seed=i)
    printed = prepare_photos(root, out, capsys)
    crops = sorted(p.name for p in out.glob("*.jpg"))
    assert len(crops) == 6 and "张三.jpg" in crops and "李四.jpg" in crops and not any(c.startswith("_") for c in crops)
    listed = photo_list(out)
    assert sorted(o for o, _ in listed.values()) == crops and {r for _, r in listed.values()} == {"written"}
    assert "prepared 6 photos: 6 crops written" in printed and "photos/s this run" in printed
    # each crop is its own photo's face
    assert not np.array_equal(np.asarray(Image.open(out / listed["person.jpg"][0])),
                              np.asarray(Image.open(out / listed["person.png"][0])))


def test_photos_added_or_changed_later_are_done_on_rerun_and_names_stay(tmp_path, capsys):
    root, out = tmp_path / "photos", tmp_path / "out"
    for name in ("b.jpg", "c.jpg"):
        photo(root / name, seed=1)
    (root / "copying.jpg").write_bytes(b"")  # still being copied
    prepare_photos(root, out)
    first = photo_list(out)
    assert first["copying.jpg"] == ("", "unreadable")
    photo(root / "a.png", seed=2)  # sorts first, and collides with nothing
    photo(root / "B.png", seed=3)  # collides with b.jpg's crop on a case-insensitive disk
    photo(root / "copying.jpg", seed=4)  # finished copying
    Image.fromarray(np.full((96, 96, 3), 120, np.uint8)).save(root / "c.jpg")  # replaced by a photo without a face
    os.utime(root / "c.jpg", ns=(1, 1))  # (another mtime even on a coarse clock)
    printed = prepare_photos(root, out, capsys)
    listed = photo_list(out)
    assert listed["b.jpg"] == first["b.jpg"] == ("b.jpg", "written") and listed["B.png"][0].startswith("B-")
    assert listed["a.png"] == ("a.jpg", "written") and listed["copying.jpg"] == ("copying.jpg", "written")
    assert listed["c.jpg"] == ("", "no_face") and not (out / "c.jpg").exists()  # no stale crop of the old photo
    assert sorted(p.name for p in out.glob("*.jpg")) == sorted(o for o, _ in listed.values() if o)
    assert "prepared 5 photos: 4 crops written; 1 without a face" in printed
    assert "without a face (1): c.jpg" in printed


def test_one_odd_photo_costs_only_itself_and_is_named(tmp_path, monkeypatch, capsys):
    root, out = tmp_path / "photos", tmp_path / "out"
    photo(root / "a.jpg", seed=1)
    photo(root / "z.jpg", seed=2)
    Image.fromarray(np.full((3, 2000, 3), 90, np.uint8)).save(root / "strip.png")  # 2000x3: OpenCV asserted
    raw = photo(tmp_path / "x.jpg", seed=3).read_bytes()
    with open(os.path.join(os.fsencode(root), "caf\xe9.jpg".encode("latin-1")), "wb") as fh:  # not UTF-8
        fh.write(raw)
    Image.fromarray(faces(1, seed=4, size=100)[0]).save(root / "boom.jpg")
    real = writers.detect_photo

    def fails_on_boom(detector, image):  # an unexpected error in one photo, in the middle of the chunk
        if image.shape[:2] == (100, 100):
            raise RuntimeError("detector bug")
        return real(detector, image)

    monkeypatch.setattr(writers, "detect_photo", fails_on_boom)
    printed = prepare_photos(root, out, capsys)
    listed = photo_list(out)
    assert listed["boom.jpg"][1] == "error" and listed["strip.png"] == ("", "no_face")
    assert listed["a.jpg"][1] == listed["z.jpg"][1] == listed["caf\udce9.jpg"][1] == "written"
    assert listed["caf\udce9.jpg"][0] == "caf_.jpg"
    assert "skipped boom.jpg: unexpected error: RuntimeError: detector bug" in printed
    assert "1 failed" in printed
    monkeypatch.setattr(writers, "detect_photo", real)
    printed = prepare_photos(root, out, capsys)  # an unexpected error is retried; the rest is not redone
    assert photo_list(out)["boom.jpg"] == ("boom.jpg", "written") and "0 failed" in printed


def test_video_names_in_any_script_are_prepared_and_read_by_pretraining(tmp_path, capsys):
    root, out = tmp_path / "videos", tmp_path / "out"
    names = ["_take2.mp4", "Élodie interview.mp4", "张三.mp4", "李四.mp4", "clip.mov", "clip.m4v"]
    for i, name in enumerate(names):
        write_video(root / name, frames=5, seed=i, shape=(80, 96))
    os.rename(write_video(tmp_path / "x.mp4", frames=5, seed=9, shape=(80, 96)),
              os.path.join(os.fsencode(root), "caf\xe9.mp4".encode("latin-1")))  # not UTF-8
    assert main(["prepare", "--videos", str(root), "--out", str(out), "--every", "1", "--size", "32",
                 "--min-track", "4", "--workers", "1"]) == 0
    assert "prepared 7 videos: 7 tracks" in capsys.readouterr().out
    identities = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != ".prepare")
    assert len(identities) == 7 and {"take2", "Élodie_interview", "张三", "李四", "clip", "caf_"} < set(identities)
    assert len({*VoxCelebFrames(out, "all_frames", 32).identity}) == 7  # the reader skips none of them


def damaged(path, at: float = 0.5):
    """The file with 300 bytes of noise at `at` of its media data: a packet that does not decode."""
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat")
    i = start + int((len(data) - start) * at)
    data[i:i + 300] = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_packet_mid_video_is_skipped_and_said(tmp_path, capsys):
    path = damaged(write_video(tmp_path / "in" / "hurt.mp4", frames=30, seed=1))
    stats = {}
    assert len(list(sample_frames(path, None, 1, stats))) > 25 and stats["bad_packets"] >= 1  # was 11: it stopped
    assert main(["prepare", "--videos", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--every", "1",
                 "--size", "32", "--min-track", "4", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "partly decoded hurt.mp4: " in printed and "damaged packet(s) skipped" in printed
    video = json.loads((tmp_path / "out" / "prepare.json").read_text())["videos"][0]
    assert video["frames_sampled"] > 25 and video["bad_packets"] >= 1


def test_a_skipped_video_is_retried_once_the_file_changes(tmp_path, capsys):
    root, out = tmp_path / "videos", tmp_path / "out"
    write_video(root / "good.mp4", frames=5, seed=1, shape=(80, 96))
    (root / "late.mp4").write_bytes(b"")  # still being copied
    args = ["prepare", "--videos", str(root), "--out", str(out), "--every", "1", "--size", "32", "--min-track", "4",
            "--workers", "1"]
    assert main(args) == 0
    assert "skipped late.mp4: empty file (0 bytes)" in capsys.readouterr().out
    assert main(args) == 0  # unchanged: still skipped, not redone
    assert "skipped late.mp4" in capsys.readouterr().out
    write_video(root / "late.mp4", frames=5, seed=2, shape=(80, 96))
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "prepared 2 videos: 2 tracks" in printed and "  skipped" not in printed
    assert (out / "late" / "late" / "00001").is_dir()


def test_a_video_without_a_track_is_named(tmp_path, capsys):
    root = tmp_path / "videos"
    write_video(root / "face.mp4", frames=5, seed=1, shape=(80, 96))
    write_video(root / "short.mp4", frames=2, seed=2, shape=(80, 96))  # too few frames for a track
    assert main(["prepare", "--videos", str(root), "--out", str(tmp_path / "o"), "--every", "1", "--size", "32",
                 "--min-track", "4", "--workers", "1"]) == 0
    assert "without a track (1): short.mp4" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["videos", "images"])
def test_a_file_where_a_folder_is_expected_says_so(tmp_path, capsys, kind):
    one = write_video(tmp_path / "a.mp4", frames=2) if kind == "videos" else photo(tmp_path / "a.jpg")
    assert main(["prepare", f"--{kind}", str(one), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{one}: expected a folder of {kind}, not a file" in err and "\n" not in err.strip()
