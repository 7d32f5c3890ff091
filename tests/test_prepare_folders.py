"""`facessl prepare` where the input and output folders meet, inputs change or vanish between runs, and
files are not what they seem: an output folder that is the input folder (or inside it), a broken link,
a download finished after it was prepared, a photo deleted since, a file cut short, long names in shards."""
from __future__ import annotations

import json
import os
import tarfile

from PIL import Image

from facessl.cli import main
from facessl.data.video.decode import sample_frames
from prepare_fixtures import faces, write_video

VIDEO_ARGS = ["--every", "1", "--size", "32", "--min-track", "4", "--workers", "1"]


def photo(path, seed: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(faces(1, seed=seed, size=96)[0]).save(path)
    return path


def test_the_input_folder_as_output_is_refused_and_nothing_is_touched(tmp_path, capsys):
    root = tmp_path / "photos"
    original = photo(root / "a.jpg").read_bytes()
    for out in (root, tmp_path):  # the input folder itself, a folder holding it
        assert main(["prepare", "--images", str(root), "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"--out {out}" in err and "choose another output folder" in err
    assert (root / "a.jpg").read_bytes() == original and sorted(os.listdir(root)) == ["a.jpg"]


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(tmp_path, capsys):
    root = tmp_path / "photos"
    photo(root / "a.jpg")
    args = ["prepare", "--images", str(root), "--out", str(root / "crops"), "--size", "32", "--workers", "1"]
    assert main(args) == 0 and main(args) == 0
    printed = capsys.readouterr().out
    assert "nothing new to do" in printed and not (root / "crops" / "crops").exists()
    assert json.loads((root / "crops" / "prepare.json").read_text())["totals"]["images"] == 1


def test_a_broken_link_is_skipped_and_counted_not_fatal(tmp_path, capsys):
    root = tmp_path / "videos"
    write_video(root / "good.mp4", frames=5, seed=1, shape=(80, 96))
    (root / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    assert main(["prepare", "--videos", str(root), "--out", str(tmp_path / "o"), *VIDEO_ARGS]) == 0
    printed = capsys.readouterr().out
    assert "1 track," in printed and "skipped gone.mp4: cannot read the file (a broken link" in printed


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    root = tmp_path / "photos"
    photo(root / "a.jpg")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    target = tmp_path / "ro" / "out" if os.geteuid() != 0 else "/proc/facessl-out"  # root writes anywhere but /proc
    assert main(["prepare", "--images", str(root), "--out", str(target), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"--out {target}: cannot create it" in err


def test_a_video_of_another_size_since_is_redone_and_its_old_tracks_replaced(tmp_path, capsys):
    root, out = tmp_path / "videos", tmp_path / "out"
    write_video(root / "clip.mp4", frames=6, seed=1, shape=(80, 112))
    args = ["prepare", "--videos", str(root), "--out", str(out), *VIDEO_ARGS]
    assert main(args) == 0
    track = out / "clip" / "clip" / "00001"
    assert len(list(track.glob("*.jpg"))) == 6
    os.utime(root / "clip.mp4", ns=(1, 1))  # touched, copied: the same file, not redone
    assert main(args) == 0 and "nothing new to do" in capsys.readouterr().out
    write_video(root / "clip.mp4", frames=12, seed=1, shape=(80, 112))  # the download finished: another size
    assert main(args) == 0
    assert "12 face crops" in capsys.readouterr().out and len(list(track.glob("*.jpg"))) == 12


def test_the_crop_of_a_deleted_photo_is_removed_and_said(tmp_path, capsys):
    root, out = tmp_path / "photos", tmp_path / "out"
    photo(root / "a.jpg", seed=1)
    photo(root / "b.jpg", seed=2)
    args = ["prepare", "--images", str(root), "--out", str(out), "--size", "32", "--workers", "1"]
    assert main(args) == 0 and (out / "b.jpg").is_file()
    (root / "b.jpg").unlink()
    assert main(args) == 0
    assert "outputs removed, their input is gone (1): b.jpg" in capsys.readouterr().out
    assert not (out / "b.jpg").exists() and (out / "a.jpg").is_file()
    assert "b.jpg" not in (out / "photos.csv").read_text()


def test_a_video_cut_short_is_said_to_be_partly_decoded(tmp_path, capsys):
    whole = write_video(tmp_path / "whole.mkv", frames=40, seed=1, shape=(80, 168))
    stats = {}
    assert len(list(sample_frames(whole, None, 1, stats))) == 40 and stats["decoded_until"] >= stats["duration"] - 0.2
    root = tmp_path / "videos"
    root.mkdir()
    (root / "cut.mkv").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # a copy stopped halfway
    assert main(["prepare", "--videos", str(root), "--out", str(tmp_path / "o"), *VIDEO_ARGS]) == 0
    printed = capsys.readouterr().out
    assert "partly decoded cut.mkv: frames end at" in printed and "the file states (cut short?)" in printed


def test_long_video_names_go_into_shards(tmp_path, capsys):
    root = tmp_path / "videos"
    name = "a-talk-recorded-at-the-annual-meeting-of-the-society-for-facial-research-2019-session-3"  # 86 bytes
    write_video(root / f"{name}.mp4", frames=5, seed=1, shape=(80, 96))
    assert main(["prepare", "--videos", str(root), "--out", str(tmp_path / "o"), "--format", "shards",
                 *VIDEO_ARGS]) == 0
    assert "  skipped" not in capsys.readouterr().out
    with tarfile.open(tmp_path / "o" / "shards" / "shard-000000.tar") as tar:
        assert tar.getnames()[0] == f"{name}/{name}/00001/0001.jpg"


def test_other_files_are_counted_not_silently_passed_over(tmp_path, capsys):
    root = tmp_path / "videos"
    write_video(root / "a.mp4", frames=5, seed=1, shape=(80, 96))
    write_video(root / "b.3gp", frames=5, seed=2, shape=(80, 96))  # an older phone's container: read
    (root / "notes.txt").write_text("x")
    (root / "c.heic").write_bytes(b"x")
    (root / "._a.mp4").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # a Mac's zip metadata: neither read nor counted
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._b.3gp").write_bytes(b"\x00\x05\x16\x07")
    assert main(["prepare", "--videos", str(root), "--out", str(tmp_path / "o"), *VIDEO_ARGS]) == 0
    printed = capsys.readouterr().out
    assert "prepared 2 videos: 2 tracks" in printed and "2 other files: .heic (1), .txt (1)" in printed
    assert "0 skipped" in printed and "._" not in printed
