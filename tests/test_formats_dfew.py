"""DFEW read in the layouts it is distributed and commonly unpacked in (formats/dfew.py): EmoLabel_DataSplit with
its parenthesised folders beside Clip/<frame folder>/<clip>/. Fixtures are written here from the documented layout
(tiny JPEGs), never from the real data."""
from dataclasses import replace

import numpy as np
import pytest

from eval_toys import ToyEncoder
from image_toys import save_jpeg
from facessl.data import formats
from facessl.data.video.clip_faces import evenly_spaced
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import runner
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

RNG = np.random.default_rng(5)
FAST = EvalOptions(seeds=1, epochs=4, weight_decays=(0.0,), supervised_epochs=1, device="cpu", quiet=True)
DFEW_NAMES = ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear")  # csv 1..7
TRAIN, TEST = "train(single-labeled)", "test(single-labeled)"


def clip_label(c):
    return 1 + c % 7


def write_dfew(root, n_clips=15, n_frames=6, frames="clip_224x224", naming="pair", header=True, crlf=False,
               bom=False, level=False, skip_clips=(), padded=True):
    """The ten split files (clip c in the test set of fold c % 5) and each clip's frame folder."""
    clips = range(1, n_clips + 1)
    for k in range(5):
        for folder, members in ((TEST, [c for c in clips if c % 5 == k]), (TRAIN, [c for c in clips if c % 5 != k])):
            lines = (["video_name,label"] if header else []) + [f"{c:05d}," if padded else f"{c}," for c in members]
            lines = [line + str(clip_label(int(line.split(",")[0]))) if i or not header else line
                     for i, line in enumerate(lines)]
            end = "\r\n" if crlf else "\n"
            path = root / "EmoLabel_DataSplit" / folder / f"set_{k + 1}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (end.join(lines) + end).encode())
    for c in clips:
        if c in skip_clips:
            continue
        for f in range(1, n_frames + 1):
            name = f"{c:05d}_{f:05d}.jpg" if naming == "pair" else f"{f}.jpg"
            save_jpeg(root / "Clip" / frames / f"{c:05d}" / name, RNG, 30 + 30 * (clip_label(c) - 1) if level else None)


def internal(csv_label):
    return EXPRESSIONS.index(DFEW_NAMES[csv_label - 1])


@pytest.mark.parametrize("variant", ["release", "16f numbered 1..16", "no header, crlf, bom, unpadded",
                                     "nested archive", "parts", "root above DFEW-part2"])
def test_dfew_layouts_labels_folds_and_split(tmp_path, variant):
    root, frames, naming, kw = tmp_path, "clip_224x224", "pair", {}
    if variant == "16f numbered 1..16":
        frames, naming = "clip_224x224_16f", "number"
    elif variant == "no header, crlf, bom, unpadded":
        kw = dict(header=False, crlf=True, bom=True, padded=False)
    elif variant == "nested archive":
        frames = "clip_224x224/clip_224x224"
    elif variant == "parts":
        frames = "clip_224x224/clip_224x224_part_1"
    elif variant == "root above DFEW-part2":
        root = tmp_path / "DFEW-part2"
    write_dfew(root, frames=frames, naming=naming, **kw)
    got = formats.read("dfew", tmp_path)
    assert len(got) == 15 * 4 and got.dropped == {}
    clips = got.labels["clip"]
    assert sorted(set(clips)) == [f"{c:05d}" for c in range(1, 16)]
    for i, clip in enumerate(clips):
        c = int(clip)
        assert got.labels["expression"][i] == internal(clip_label(c))
        assert got.labels["fold"][i] == c % 5 and got.labels["subject"][i] == clip
        assert got.split[i] == ("test" if c % 5 == 0 else "train")
        assert f"/{clip}/" in got.images[i]


def test_dfew_label_order_is_happy_sad_neutral_angry_surprise_disgust_fear(tmp_path):
    write_dfew(tmp_path, n_clips=7)
    got = formats.read("dfew", tmp_path, frames=1)
    by_clip = dict(zip(got.labels["clip"], got.labels["expression"]))
    names = [EXPRESSIONS[by_clip[f"{c:05d}"]] for c in range(1, 8)]  # clip c has csv label 1 + c % 7
    assert names == ["sadness", "neutral", "anger", "surprise", "disgust", "fear", "happiness"]


def test_dfew_frames_evenly_spaced_in_numeric_order(tmp_path):
    write_dfew(tmp_path, n_clips=5, n_frames=12, frames="clip_224x224_16f", naming="number")
    got = formats.read("dfew", tmp_path, frames="3")
    first = [p.rsplit("/", 1)[1] for p, c in zip(got.images, got.labels["clip"]) if c == "00001"]
    assert first == ["3.jpg", "7.jpg", "11.jpg"]  # centres of thirds of 1..12 in numeric order (text: 11, 3, 8)
    assert evenly_spaced(12, 3) == [2, 6, 10] and evenly_spaced(2, 4) == [0, 1] and evenly_spaced(9, 1) == [4]
    assert got.meta["frames_per_clip"] == 3
    few = formats.read("dfew", tmp_path, frames=20)  # a clip shorter than `frames` gives all its frames
    assert len(few) == 5 * 12
    for clip in sorted((tmp_path / "Clip" / "clip_224x224_16f").iterdir()):  # a copy made on a Mac
        (clip / "._1.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    assert formats.read("dfew", tmp_path, frames=20).images == few.images


def test_dfew_fold_option_chooses_the_set_files(tmp_path):
    write_dfew(tmp_path)
    got = formats.read("dfew", tmp_path, fold=3)
    test_clips = {int(c) for c, s in zip(got.labels["clip"], got.split) if s == "test"}
    assert test_clips == {3, 8, 13} and "set_4.csv" in got.meta["split_from"]
    assert set(got.labels["fold"][got.split == "test"]) == {3}


def test_dfew_missing_clips_skipped_and_counted(tmp_path):
    write_dfew(tmp_path, skip_clips=(2, 5))
    (tmp_path / "Clip" / "clip_224x224" / "00007").mkdir(exist_ok=True)
    for f in (tmp_path / "Clip" / "clip_224x224" / "00007").iterdir():
        f.unlink()
    got = formats.read("dfew", tmp_path)
    assert got.dropped == {"clip listed but not on disk": 2, "clip folder without frames": 1}
    assert len(set(got.labels["clip"])) == 12


def test_dfew_errors_are_one_line_and_name_the_file(tmp_path):
    with pytest.raises(DataFormatError, match=r"DFEW not found: expected EmoLabel_DataSplit"):
        formats.read("dfew", tmp_path)
    write_dfew(tmp_path, n_clips=5)
    for bad in ({"fold": 5}, {"fold": "x"}, {"frames": 0}):
        with pytest.raises(FacesslError, match=r"dfew (fold|frames) .*expected a whole number"):
            formats.read("dfew", tmp_path, **bad)
    path = tmp_path / "EmoLabel_DataSplit" / TEST / "set_2.csv"
    path.write_text("video_name,label\n00001,8\n")
    with pytest.raises(DataFormatError, match=r"set_2\.csv:2: label '8': expected 1-7") as err:
        formats.read("dfew", tmp_path)
    assert "\n" not in str(err.value)
    path.write_text("clip,emotion\n00001,1\n")
    with pytest.raises(DataFormatError, match=r"set_2\.csv:1: DFEW split file: no column 'video_name'"):
        formats.read("dfew", tmp_path)
    path.unlink()
    with pytest.raises(DataFormatError, match=r"set_2\.csv: DFEW split file not found"):
        formats.read("dfew", tmp_path)


@pytest.mark.parametrize("folder", ["clip_224x224_avi", "original"])
def test_dfew_with_videos_only_reads_them(tmp_path, monkeypatch, folder):
    """A copy without frame folders: the aligned clip_224x224_avi clips are taken whole, the original movie clips
    through the face detector; labels, folds and scoring per clip as from frames."""
    import shutil

    from prepare_fixtures import write_video

    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    write_dfew(tmp_path / "DFEW", n_clips=6, n_frames=0)
    videos = tmp_path / "DFEW" / "Clip" / folder
    videos.mkdir(parents=True)
    first = write_video(tmp_path / "a.mp4", frames=8, seed=0)
    for c in range(1, 6):  # clip 6 is listed but has no video
        shutil.copy(first, videos / (f"{c:05d}.avi" if folder == "clip_224x224_avi" else f"{c}.mp4"))
    data = formats.read("dfew", tmp_path, frames=2, size=32, workers=1, fold=1)
    assert len(data) == 10 and data.images[0].endswith(".jpg")
    assert data.meta["frames_from"] == f"videos in Clip/{folder}/ ({'whole' if folder.endswith('avi') else 'detect'} crops)"
    assert data.dropped == {"clip listed but not on disk": 1}
    clips = data.labels["clip"]
    assert sorted(set(clips[data.split == "test"])) == ["00001"]  # fold 1's test set: clips c % 5 == 1
    assert data.labels["expression"][clips == "00003"].tolist() == [EXPRESSIONS.index(DFEW_NAMES[clip_label(3) - 1])] * 2
    assert data.labels["fold"][clips == "00003"].tolist() == [3, 3] and "class" not in data.labels


def test_dfew_expression_end_to_end_scores_per_clip(tmp_path):
    write_dfew(tmp_path, n_clips=35, n_frames=4, level=True)
    spec = TaskSpec("", f"dfew:{tmp_path}", options={"frames": 2})
    assert spec.task == "expression"
    result = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())["tasks"][0]
    assert result["info"]["train_rows"] == 28 * 2 and result["info"]["test_rows"] == 7 * 2
    assert result["info"]["test_clips"] == 7 and result["info"]["scored_per"].startswith("clip: the mean of its frames")
    with_cv = runner.evaluate(ToyEncoder(), [spec], replace(FAST, cv=5), baselines=())["tasks"][0]
    assert with_cv["info"]["test_clips"] == 35 and with_cv["info"]["test_rows"] == 70  # every clip tested once
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) == {"accuracy", "mean_class_accuracy", "macro_f1"}
