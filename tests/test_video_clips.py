"""Labelled video clips (formats/videoclips.py, `videofolder:`): evenly spaced frames decoded alone, the largest face
of each aligned as `facessl prepare` aligns it, crops kept per video in a cache, clips split whole and scored by
the mean of their frames."""
import json
import os
import re
import shutil

import numpy as np
import pytest

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data.formats import read
from facessl.data.formats.videoclips import NO_FACE_CLIP, NO_FACE_FRAME, UNREADABLE
from facessl.data.formats.videofolder import read_videofolder
from facessl.data.video import decode
from facessl.data.video.align import align
from facessl.data.video.clip_faces import clip_faces, evenly_spaced
from facessl.data.video.detectors import build_detector
from facessl.data.video.writers import best_face, detect_photo
from facessl.errors import FacesslError
from prepare_fixtures import write_video

FAST = dict(frames=3, size=48, workers=1)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Two 12-frame clips of two synthetic people, and one of a grey frame with no face."""
    import av

    root = tmp_path_factory.mktemp("clips")
    a, b = write_video(root / "a.mp4", frames=12, seed=0), write_video(root / "b.mp4", frames=12, seed=3)
    empty = root / "empty.mp4"
    with av.open(str(empty), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for _ in range(8):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.full((120, 160, 3), 100, np.uint8), "rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return {"a": a, "b": b, "empty": empty}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "clip_faces"


def detector():
    return build_detector("mtcnn", min_face=20, max_side=320)


def test_kept_frames_are_the_full_decodes_frames_and_the_count_is_the_decoded_one(videos, tmp_path):
    full = list(decode.sample_frames(videos["a"]))
    assert decode.count_frames(videos["a"]) == len(full) == 12
    kept = list(decode.sample_frames(videos["a"], keep={1, 6, 10}))
    assert [index for index, _, _ in kept] == [1, 6, 10]
    for index, _, rgb in kept:
        assert np.array_equal(rgb, full[index][2])
    avi = write_video(tmp_path / "c.avi", frames=9, codec="mpeg4")  # AVI states no frame count: packets counted
    assert decode.count_frames(avi) == len(list(decode.sample_frames(avi))) == 9


def test_evenly_spaced_frames_are_segment_centres():
    assert evenly_spaced(12, 4) == [1, 4, 7, 10] and evenly_spaced(3, 5) == [0, 1, 2] and evenly_spaced(9, 1) == [4]


def test_a_clips_crops_are_prepares_alignment_of_the_largest_face_in_its_chosen_frames(videos):
    found = detector()
    crops, summary = clip_faces(videos["a"], 4, 64, 0.25, found)
    assert [index for index, _ in crops] == [1, 4, 7, 10]
    assert summary == {"frames": 12, "sampled": 4, "no_face": 0, "not_decoded": 0}
    full = list(decode.sample_frames(videos["a"]))
    for index, crop in crops:
        face = best_face(detect_photo(found, full[index][2]))
        assert crop.shape == (64, 64, 3)
        assert np.array_equal(crop, align(full[index][2], face.box, face.landmarks, 64, 0.25))
    empty, summary = clip_faces(videos["empty"], 4, 64, 0.25, found)
    assert empty == [] and summary["no_face"] == 4
    whole, _ = clip_faces(videos["a"], 2, 32, 0.25, None, crop="whole")  # already aligned clips: no detector
    assert [index for index, _ in whole] == [3, 9] and whole[0][1].shape == (32, 32, 3)


def test_a_header_that_counts_frames_the_decoder_never_gives_is_chosen_over_again(videos, monkeypatch):
    """An edit list or a silently cut file: the stated count (here 20) exceeds the 12 decoded frames, so the last
    choices would never come; they are chosen again over the frames there are."""
    from facessl.data.video import clip_faces as module

    monkeypatch.setattr(decode, "count_frames", lambda path: 20)
    frames, total, summary = module.chosen_frames(videos["a"], 4)
    assert total == 12 and [index for index, _, _ in frames] == evenly_spaced(12, 4)
    assert summary == {"frames": 12, "sampled": 4, "no_face": 0, "not_decoded": 0}


def _tree(root, layout, videos):
    for rel, name in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(videos[name], root / rel)
    return root


def test_videofolder_split_folders_rows_per_clip_and_the_cache(videos, tmp_path, cache, capsys):
    root = _tree(tmp_path / "AFEW", {"Train_AFEW/Happy/001.avi.mp4": "a", "Train_AFEW/Happy/002.mp4": "b",
                                     "Train_AFEW/Sad/003.mp4": "b", "Train_AFEW/Sad/004.mp4": "a",
                                     "Val_AFEW/Happy/005.mp4": "a", "Val_AFEW/Sad/006.mp4": "b"}, videos)
    data = read_videofolder(root, **FAST)
    assert data.meta["class_names"] == ["Happy", "Sad"] and len(data) == 6 * 3
    assert "no test folder: Val_AFEW/ is the test split" in data.meta["split_from"]
    clips = data.labels["clip"]
    assert sorted(set(clips[data.split == "test"])) == ["Val_AFEW/Happy/005.mp4", "Val_AFEW/Sad/006.mp4"]
    assert data.labels["class"][clips == "Train_AFEW/Sad/004.mp4"].tolist() == [1, 1, 1]
    assert "finding the faces of 6 of 6 clips" in capsys.readouterr().err
    assert len(list(cache.glob("*/*/faces.json"))) == 6

    again = read_videofolder(root, **FAST)  # from the cache: nothing decoded, the same crops
    assert "finding the faces" not in capsys.readouterr().err and again.images == data.images
    shutil.copy(videos["b"], root / "Train_AFEW/Happy/001.avi.mp4")  # the file changed: found again, alone
    changed = read_videofolder(root, **FAST)
    assert "finding the faces of 1 of 6 clips" in capsys.readouterr().err
    assert changed.images != data.images and len(changed) == len(data)
    other = read_videofolder(root, frames=2, size=48, workers=1)  # other settings: other crops
    assert len(other) == 12 and not set(other.images) & set(data.images)


def test_videofolder_skips_unreadable_and_faceless_clips_and_counts_them(videos, tmp_path, cache):
    root = _tree(tmp_path / "own", {"happy/a.mp4": "a", "happy/b.mp4": "b", "happy/grey.mp4": "empty",
                                    "sad/a.mp4": "b", "sad/b.mp4": "a", "sad/c.mp4": "b", "angry/grey.mp4": "empty"},
                 videos)
    (root / "sad" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    data = read_videofolder(root, **FAST)
    assert data.dropped == {UNREADABLE: 1, NO_FACE_CLIP: 2, NO_FACE_FRAME: 6}
    # a class whose only clip has no face is left out of the classes, and named
    assert data.meta["class_names"] == ["happy", "sad"] and data.meta["classes_without_a_face"] == ["angry"]
    assert data.meta["unreadable_videos"][0].startswith("sad/broken.mp4: ")
    assert sorted(data.meta["dropped_names"][NO_FACE_CLIP]) == ["angry/grey.mp4", "happy/grey.mp4"]  # named too
    assert data.meta["clips"] == 5 and len(data) == 15
    # the split is made per clip: a clip's frames never straddle it
    for clip in set(data.labels["clip"]):
        assert len(set(data.split[data.labels["clip"] == clip])) == 1
    assert set(data.split) == {"train", "test"}


def test_min_class_count_counts_clips_not_frames(videos, tmp_path, cache):
    root = _tree(tmp_path / "own", {"happy/a.mp4": "a", "happy/b.mp4": "b", "sad/a.mp4": "b", "sad/b.mp4": "a",
                                    "angry/a.mp4": "a"}, videos)
    data = read_videofolder(root, min_class_count=2, **FAST)
    assert data.meta["class_names"] == ["happy", "sad"] and data.meta["left_out_classes"] == {"angry": 1}
    assert data.dropped == {"in classes with fewer than 2 clips": 1}
    with pytest.raises(FacesslError, match="every class has fewer clips"):
        read_videofolder(root, min_class_count=3, **FAST)


def test_videofolder_groups_keep_a_person_on_one_side(videos, tmp_path, cache):
    layout = {f"{label}/S{person}_{k}.mp4": "ab"[k % 2] for label in ("happy", "sad") for person in range(4)
              for k in range(2)}
    data = read_videofolder(_tree(tmp_path / "own", layout, videos), group=r"^(S\d)_", test_fraction=0.25, **FAST)
    for person in {g for g in data.labels["group"]}:
        assert len(set(data.split[data.labels["group"] == person])) == 1
    assert "grouped by --group '^(S\\d)_'" in data.meta["split_from"]


@pytest.mark.parametrize("layout,message", [
    ({"happy/a.mp4": "a"}, "found one class ('happy')"),
    ({"happy/a.mp4": "a", "sad/notes.txt": None}, "class folder 'sad' holds no videos"),
    ({"test/happy/a.mp4": "a", "test/sad/b.mp4": "b", "val/happy/c.mp4": "a"}, "found test/, val/ but no train/ folder"),
])
def test_videofolder_layout_errors_name_the_folder(videos, tmp_path, cache, layout, message):
    for rel, name in layout.items():
        (tmp_path / "own" / rel).parent.mkdir(parents=True, exist_ok=True)
        if name is None:
            (tmp_path / "own" / rel).write_text("x")
        else:
            shutil.copy(videos[name], tmp_path / "own" / rel)
    with pytest.raises(FacesslError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_videofolder(tmp_path / "own", **FAST)


@pytest.mark.parametrize("option,message", [
    ({"frames": "0"}, "videofolder frames '0': expected a whole number >= 1"),
    ({"margin": "lots"}, "videofolder margin 'lots': expected a number from 0 to 2"),
    ({"crop": "face"}, "videofolder crop 'face': expected one of detect, whole"),
    ({"workers": "two"}, "videofolder workers 'two': expected a whole number >= 1"),
])
def test_videofolder_options_are_checked(videos, tmp_path, cache, option, message):
    root = _tree(tmp_path / "own", {"happy/a.mp4": "a", "sad/b.mp4": "b"}, videos)
    with pytest.raises(FacesslError, match=message):
        read_videofolder(root, **{**FAST, **option})


def test_eval_and_inspect_on_a_videofolder_score_clips(videos, tmp_path, cache, monkeypatch, capsys):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    layout = {f"{label}/{k}.mp4": ("a" if label == "happy" else "b") for label in ("happy", "sad") for k in range(5)}
    root = _tree(tmp_path / "own", {**layout, "angry/0.mp4": "empty"}, videos)
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"videofolder:{root}",
                 "--reader-option", "frames=2", "--reader-option", "size=32", "--reader-option", "workers=1", "--out", str(tmp_path / "out"),
                 "--seeds", "1", "--epochs", "3", "--baselines", "", "--device", "cpu", "--quiet", "--no-cache"]) == 0
    task = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"] == ["happy", "sad"]
    assert task["info"]["scored_per"].startswith("clip") and task["info"]["test_clips"] == 2
    assert task["info"]["test_rows"] == 4 and task["info"]["classes_without_a_face"] == ["angry"]
    assert "classes left out (no face found in any of their clips): angry" in (tmp_path / "out" / "results.md").read_text()
    assert main(["inspect", "--dataset", f"videofolder:{root}", "--reader-option", "frames=2", "--reader-option", "size=32",
                 "--reader-option", "workers=1", "--out", str(tmp_path / "sheet.png")]) == 0
    assert (tmp_path / "sheet.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "clips: 10 (test 2, train 8), up to 2 frames each" in out
    assert "left out (no face found in any of their clips): angry" in out
    same = read("videofolder", root, frames=2, size=32, workers=1)
    assert len(same) == 20


def test_embed_names_video_faces_by_clip_and_frame_and_pools_them_per_clip(videos, tmp_path, cache, monkeypatch,
                                                                          capsys):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    root = _tree(tmp_path / "own", {"happy/a.mp4": "a", "happy/b.mp4": "b", "sad/c.mp4": "b"}, videos)
    common = ["embed", "--checkpoint", str(tmp_path / "run"), "--dataset", f"videofolder:{root}", "--reader-option",
              "frames=2", "--reader-option", "size=32", "--reader-option", "workers=1", "--device", "cpu", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "frames.csv")]) == 0
    header, *frames = (tmp_path / "frames.csv").read_text().splitlines()
    assert header.startswith("file,label,group,split,f0,")  # the rows as eval reads them, then the features
    assert [line.split(",")[1] for line in frames] == ["happy"] * 4 + ["sad"] * 2
    assert [line.split(",")[0] for line in frames] == ["happy/a.mp4@3", "happy/a.mp4@9", "happy/b.mp4@3",
                                                        "happy/b.mp4@9", "sad/c.mp4@3", "sad/c.mp4@9"]
    assert main([*common, "--per-clip", "--out", str(tmp_path / "clips.npy")]) == 0
    pooled = np.load(tmp_path / "clips.npy")
    assert (tmp_path / "clips.txt").read_text().split() == ["happy/a.mp4", "happy/b.mp4", "sad/c.mp4"]
    per_frame = np.array([[float(v) for v in line.split(",")[4:]] for line in frames], np.float32)
    assert (tmp_path / "clips.rows.csv").read_text().splitlines()[1].startswith("happy/a.mp4,happy,")
    assert np.allclose(pooled, per_frame.reshape(3, 2, -1).mean(1), atol=1e-5)
    from facessl.data.formats.imagefiles import save_image

    (tmp_path / "photos").mkdir()
    save_image(tmp_path / "photos" / "p.png", np.zeros((16, 16, 3), np.uint8))
    assert main(["embed", "--checkpoint", str(tmp_path / "run"), "--images", str(tmp_path / "photos"), "--per-clip",
                 "--out", str(tmp_path / "x.csv"), "--quiet"]) == 2
    assert "--per-clip: " in capsys.readouterr().err and not (tmp_path / "x.csv").exists()


def test_worker_processes_write_the_crops_one_process_writes(videos, tmp_path, monkeypatch):
    root = _tree(tmp_path / "own", {"happy/a.mp4": "a", "sad/b.mp4": "b"}, videos)
    one = read_videofolder(root, frames=2, size=32, workers=1, cache=tmp_path / "one")
    two = read_videofolder(root, frames=2, size=32, workers=2, cache=tmp_path / "two")
    assert [p.replace(str(tmp_path / "two"), "") for p in two.images] == \
        [p.replace(str(tmp_path / "one"), "") for p in one.images]
    for a, b in zip(one.images, two.images):
        assert open(a, "rb").read() == open(b, "rb").read()


def test_a_cache_that_cannot_be_written_is_one_line_before_any_work(videos, tmp_path):
    root = _tree(tmp_path / "own", {"happy/a.mp4": "a", "sad/b.mp4": "b"}, videos)
    (tmp_path / "blocker").write_text("a file where the cache folder would go")
    with pytest.raises(FacesslError, match=r"videofolder: cannot write the face crops to .*blocker/sub \(.*\); give "
                                           r"another folder with --reader-option cache=DIR"):
        read_videofolder(root, cache=tmp_path / "blocker" / "sub", **FAST)


def test_videofolder_classes_from_paths_enterface_layout(videos, tmp_path, cache):
    """eNTERFACE'05 as unpacked: subject N/<emotion>/sentence K/sN_xx_K.avi; the class is a folder two levels down,
    the subject the first; a file the pattern does not match is skipped and counted."""
    layout = {f"subject {s}/{emotion}/sentence {k}/s{s}_{emotion[:2]}_{k}.avi.mp4": "ab"[(s + k) % 2]
              for s in range(1, 5) for emotion in ("anger", "happiness") for k in (1, 2)}
    layout["readme/notes.mp4"] = "a"
    root = _tree(tmp_path / "enterface", layout, videos)
    data = read_videofolder(root, label_regex=r"^subject \d+/(\w+)/", group=r"^(subject \d+)/", test_fraction=0.25,
                            **FAST)
    assert data.meta["class_names"] == ["anger", "happiness"] and data.meta["clips"] == 16
    assert data.dropped == {"file name without a label (--label-regex)": 1}
    assert sorted(set(data.labels["group"])) == [f"subject {s}" for s in range(1, 5)]
    for person in set(data.labels["group"]):
        assert len(set(data.split[data.labels["group"] == person])) == 1
    with pytest.raises(FacesslError, match="finds a label in none of the video file names"):
        read_videofolder(root, label_regex=r"^nobody/(\w+)/", **FAST)


@pytest.mark.parametrize("option,message", [
    ("seed=abc", "videofolder seed 'abc': expected a whole number >= 0"),
    ("min_class_count=x", "videofolder min_class_count 'x': expected a whole number >= 0"),
    ("test_fraction=1.5", "videofolder: the test fraction \\(--test-fraction\\) must be a number in \\(0, 1\\), got 1.5"),
])
def test_shared_options_are_checked_before_any_face_is_found(videos, tmp_path, cache, capsys, option, message):
    root = _tree(tmp_path / "own", {"happy/a.mp4": "a", "sad/b.mp4": "b"}, videos)
    assert main(["inspect", "--dataset", f"videofolder:{root}", "--reader-option", option]) == 2
    err = capsys.readouterr().err
    assert "finding the faces" not in err and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


def test_links_to_one_video_are_one_group(videos, tmp_path, cache):
    """The cache gives links to one file the same crops: they must not be split apart (a test clip seen in training)."""
    root = tmp_path / "own"
    for label, name in (("happy", "a"), ("sad", "b")):
        (root / label).mkdir(parents=True)
        for k in range(4):
            (root / label / f"{k}.mp4").symlink_to(videos[name] if k < 2 else write_video(
                tmp_path / f"{label}{k}.mp4", frames=6, seed=10 + k + 4 * (label == "sad")))
    data = read_videofolder(root, test_fraction=0.5, **FAST)
    for label in ("happy", "sad"):
        sides = {data.split[data.labels["clip"] == f"{label}/{k}.mp4"][0] for k in (0, 1)}
        assert len(sides) == 1, (label, sides)
    assert len(set(data.labels["group"])) == 6


def test_a_worker_that_dies_is_one_error_not_a_hang():
    from face_job_fixtures import dying_job
    from facessl.data import face_cache

    with pytest.raises(FacesslError, match=r"a face-finding process died .* on the clips with \d of 4 jobs left; what "
                                           r"finished is kept"):
        list(face_cache.run_jobs(dying_job, [(i,) for i in range(4)], face_cache.CropSettings(crop="whole"), 2, "clip"))


def test_giving_up_on_the_jobs_ends_the_workers_at_once_not_after_the_jobs_in_flight():
    """Ctrl-C in prepare (KeyboardInterrupt or the generator closed) must not wait for the long jobs in flight."""
    import time

    from face_job_fixtures import ignore_ctrl_c, slow_job
    from facessl.data.worker_pool import results_in_processes

    results = results_in_processes(slow_job, [0.0] + [60.0] * 5, 2, ignore_ctrl_c, (), "a worker died")
    worker = next(results)
    t0 = time.time()
    results.close()
    assert time.time() - t0 < 20
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # the worker process is gone
        os.kill(worker, 0)
