"""MEAD read as distributed (formats/mead.py): speaker folders M003/, W009/ with video.tar unpacked to
video/<view>/<emotion>/level_N/NNN.mp4, the frontal view by default, split grouped by speaker. The videos are
symlinks to two tiny written clips whose faces are found once (the crop cache is keyed by the real path)."""
import pytest

from facessl.data import formats
from facessl.data.formats.mead import NO_VIDEO, NOT_MEAD, read_mead
from facessl.errors import FacesslError
from facessl.evaluate.suite import FORMAT_TASK


TAKES = [("angry", 1), ("angry", 3), ("happy", 2), ("neutral", 1), ("contempt", 1)]


def speaker(root, clip_sources, name, views=("front", "left_30"), below="video", takes=TAKES):
    """A speaker folder as video.tar unpacks in it: <below>/<view>/<emotion>/level_N/001.mp4 and 002.mp4."""
    base = root / name / below if below else root / name
    for view in views:
        for emotion, level in takes:
            for number in ("001", "002"):
                path = base / view / emotion / f"level_{level}" / f"{number}.mp4"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.symlink_to(clip_sources[0]["a" if name[0] == "M" else "b"])
    return root / name


def rows(data):
    names = data.meta["class_names"]
    return {(str(s), names[c], int(lv), str(v), str(clip).rsplit("/", 1)[1]): side for s, c, lv, v, clip, side in
            zip(data.labels["speaker"], data.labels["class"], data.labels["level"], data.labels["view"],
                data.labels["clip"], data.split)}


def test_speaker_folders_views_classes_labels_and_a_speaker_grouped_split(clip_sources, fast_clips, tmp_path):
    root = tmp_path / "MEAD"
    for name in ("M003", "W009", "M012", "W015"):
        speaker(root, clip_sources, name)
    (root / "M003" / "audio.tar").write_bytes(b"tar")
    (root / "M003" / "video" / "front" / "angry" / "level_9").mkdir()
    (root / "M003" / "video" / "front" / "angry" / "level_9" / "001.mp4").symlink_to(clip_sources[0]["a"])
    (root / "M003" / "video" / "front" / "joy" / "level_1").mkdir(parents=True)
    (root / "M003" / "video" / "front" / "joy" / "level_1" / "001.mp4").symlink_to(clip_sources[0]["a"])
    (root / "M003" / "video" / "front" / "angry" / "level_1" / ".DS_Store").write_bytes(b"\x00")
    (root / "W020").mkdir()
    (root / "W020" / "audio.tar").write_bytes(b"tar")  # a speaker whose video was not downloaded
    data = read_mead(root, **fast_clips)
    assert data.meta["class_names"] == ["angry", "contempt", "happy", "neutral"]  # the order of MEAD's list
    assert data.meta["clips"] == 4 * len(TAKES) * 2 and len(data) == 2 * data.meta["clips"]
    assert set(data.labels["view"]) == {"front"} and data.meta["views"] == ["front"]
    assert data.dropped == {NOT_MEAD: 2, NO_VIDEO: 1}
    assert sorted(data.meta["unrecognised_files"]) == ["M003/video/front/angry/level_9/001.mp4",
                                                       "M003/video/front/joy/level_1/001.mp4"]
    clip = data.labels["clip"] == "W015/video/front/happy/level_2/002.mp4"
    assert clip.sum() == 2 and data.labels["speaker"][clip][0] == "W015" and data.labels["group"][clip][0] == "W015"
    assert data.labels["level"][clip][0] == 2 and data.labels["sex"][clip][0] == "female"
    assert data.meta["class_names"][data.labels["class"][clip][0]] == "happy"
    assert set(data.labels["sex"][data.labels["speaker"] == "M012"]) == {"male"}
    for name in set(data.labels["speaker"]):  # no speaker on both sides, and both sides used
        assert len(set(data.split[data.labels["speaker"] == name])) == 1
    assert set(data.split) == {"train", "test"} and "grouped by speaker" in data.meta["split_from"]
    assert formats.read("mead", tmp_path, **fast_clips).images == data.images  # the folder above MEAD/ too
    assert FORMAT_TASK["mead"] == "classification" and "mead" in formats.FORMAT_NAMES


def test_view_option(clip_sources, fast_clips, tmp_path):
    root = tmp_path / "MEAD"
    for name in ("M003", "W009", "M012"):
        speaker(root, clip_sources, name, views=("front", "left_30", "top"))
    every = read_mead(root, view="all", **fast_clips)
    assert sorted(set(every.labels["view"])) == ["front", "left_30", "top"]
    assert every.meta["clips"] == 3 * 3 * len(TAKES) * 2
    for name in set(every.labels["speaker"]):  # the views of a take share its speaker's side
        assert len(set(every.split[every.labels["speaker"] == name])) == 1
    two = read_mead(root, view="top, LEFT_30", **fast_clips)  # any case, any order: the views in MEAD's order
    assert two.meta["views"] == ["left_30", "top"] and sorted(set(two.labels["view"])) == ["left_30", "top"]
    front, top = rows(read_mead(root, **fast_clips)), rows(read_mead(root, view="top", **fast_clips))
    assert top == {key[:3] + ("top",) + key[4:]: side for key, side in front.items()}  # the same takes and split
    with pytest.raises(FacesslError, match="mead view 'side': expected all or some of front, down, left_30"):
        read_mead(root, view="side", **fast_clips)
    with pytest.raises(FacesslError, match=r"no clip of the view\(s\) down; the speaker folders hold front, "
                                           r"left_30, top"):
        read_mead(root, view="down", **fast_clips)


def test_where_the_views_lie_in_a_speaker_folder(clip_sources, fast_clips, tmp_path):
    reference = tmp_path / "ref"
    for name in ("M003", "W009", "M012"):
        speaker(reference, clip_sources, name)
    mixed = tmp_path / "mixed"
    speaker(mixed, clip_sources, "M003")  # video.tar unpacked in the speaker folder
    speaker(mixed, clip_sources, "W009", below="")  # a copy without the video/ level
    speaker(mixed, clip_sources, "M012", below="video/video")  # the tar unpacked into a folder of its own name
    a, b = read_mead(reference, **fast_clips), read_mead(mixed, **fast_clips)
    assert rows(a) == rows(b) and a.dropped == b.dropped == {}
    assert "W009/front/angry/level_1/001.mp4" in set(b.labels["clip"])
    tarred = tmp_path / "tarred"
    speaker(tarred, clip_sources, "M003")
    (tarred / "W009").mkdir()
    (tarred / "W009" / "video.tar").write_bytes(b"tar")
    with pytest.raises(FacesslError, match=r"W009/video.tar: not unpacked: run `tar -xf video.tar` in W009/"):
        read_mead(tarred, **fast_clips)


def test_test_speakers_option(clip_sources, fast_clips, tmp_path):
    root = tmp_path / "MEAD"
    for name in ("M003", "W009", "M012", "W015"):
        speaker(root, clip_sources, name)
    data = read_mead(root, test_speakers="w009, M012", **fast_clips)
    assert sorted(set(data.labels["speaker"][data.split == "test"])) == ["M012", "W009"]
    assert sorted(set(data.labels["speaker"][data.split == "train"])) == ["M003", "W015"]
    assert data.meta["split_from"] == "the test_speakers option: speakers M012, W009 test, the other 2 train"
    for bad, message in [("X1", "mead test_speakers 'X1': expected speaker folders such as M003,W009"),
                         ("M040", r"none of the test speakers \(M040\) is in this copy"),
                         ("M003,W009,M012,W015", "the test speakers are every speaker of this copy")]:
        with pytest.raises(FacesslError, match=message):
            read_mead(root, test_speakers=bad, **fast_clips)


def test_wrong_roots_are_one_clear_error(clip_sources, fast_clips, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FacesslError, match=r"no MEAD speaker folder \(M003, W009 ...\) here or up to 2 folders below"):
        read_mead(tmp_path / "empty", **fast_clips)
    with pytest.raises(FacesslError, match="MEAD folder not found"):
        read_mead(tmp_path / "nowhere", **fast_clips)
    one = tmp_path / "one"
    speaker(one, clip_sources, "M003")
    with pytest.raises(FacesslError, match=r"one speaker only \(M003\)"):
        read_mead(one, **fast_clips)
    audio = tmp_path / "audio" / "M003" / "audio" / "angry" / "level_1"
    audio.mkdir(parents=True)
    (audio / "001.m4a").write_bytes(b"m4a")
    with pytest.raises(FacesslError, match="no MEAD video: the speaker folders hold no view folders"):
        read_mead(tmp_path / "audio", **fast_clips)
    odd = tmp_path / "odd"
    for name in ("M003", "W009"):
        folder = odd / name / "video" / "front" / "angry"
        folder.mkdir(parents=True)
        (folder / "001.mp4").symlink_to(clip_sources[0]["a"])  # no level folder
    with pytest.raises(FacesslError, match=r"2 file\(s\) not in the form <view>/<emotion>/level_N/NNN.mp4 "
                                           r"\(e.g. M003/video/front/angry/001.mp4\)"):
        read_mead(odd, **fast_clips)
