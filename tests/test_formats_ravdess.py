"""RAVDESS read as distributed on Zenodo (formats/ravdess.py): Actor_XX/ folders of 01-01-03-02-01-01-01.mp4 names
(modality-channel-emotion-intensity-statement-repetition-actor), one take read once whichever of its full-AV (01)
and video-only (02) files exist, speech by default, split grouped by actor. The videos are symlinks to two tiny
written clips whose faces are found once (the crop cache is keyed by the real path)."""
import numpy as np
import pytest

from facessl.data import formats
from facessl.data.formats.ravdess import NOT_RAVDESS, read_ravdess
from facessl.errors import FacesslError
from facessl.evaluate.suite import FORMAT_TASK


def name(modality=1, channel=1, emotion=3, intensity=1, statement=1, repetition=1, actor=1):
    codes = (modality, channel, emotion, intensity, statement, repetition, actor)
    return "-".join(f"{c:02d}" for c in codes) + ".mp4"


def takes(actors=range(1, 7), emotions=(1, 3, 5, 8), song=True):
    """Per actor: speech takes of the emotions (strong intensity for all but neutral's), two song takes (calm,
    fearful: song has no disgust or surprise)."""
    out = []
    for actor in actors:
        for emotion in emotions:
            out.append(dict(channel=1, emotion=emotion, intensity=1 if emotion == 1 else 2, actor=actor))
        if song:
            out += [dict(channel=2, emotion=2, actor=actor), dict(channel=2, emotion=6, actor=actor)]
    return out


def build(root, clip_sources, take_list, modalities=(1, 2), folder="Actor_{actor:02d}"):
    """Symlinks named as the Zenodo zips unpack: one per take and modality, odd actors clip a, even clip b."""
    videos = clip_sources[0]
    for take in take_list:
        for modality in (modalities(take) if callable(modalities) else modalities):
            path = root / folder.format(**take) / name(modality=modality, **take)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(videos["a" if take["actor"] % 2 else "b"])
    return root


def per_clip(data):
    """{(actor, class name, intensity, channel): split} of a read, and its class names: what must not change."""
    names = data.meta["class_names"]
    rows = {(int(a), names[c], i, ch): s for a, c, i, ch, s in zip(data.labels["actor"], data.labels["class"],
                                                                    data.labels["intensity"], data.labels["channel"],
                                                                    data.split)}
    return rows, names


def test_emotions_labels_and_an_actor_grouped_split(clip_sources, fast_clips, tmp_path):
    root = build(tmp_path / "RAVDESS", clip_sources, takes())
    (root / "Actor_01" / "03-01-03-02-01-01-01.wav").write_bytes(b"RIFF audio only")  # Audio_Speech zip: not read
    (root / "Actor_01" / "._01-01-03-02-01-01-01.mp4").write_bytes(b"\x00")  # macOS resource fork
    (root / "Actor_02" / name(emotion=9, actor=2)).symlink_to(clip_sources[0]["a"])  # emotion 09: no such code
    (root / "Actor_02" / "interview.mp4").symlink_to(clip_sources[0]["a"])
    data = read_ravdess(root, **fast_clips)
    assert data.meta["class_names"] == ["neutral", "happy", "angry", "surprised"]  # code order, speech only
    assert data.meta["clips"] == 6 * 4 and len(data) == 6 * 4 * 2  # one clip per take, 2 faces each
    assert data.dropped == {NOT_RAVDESS: 2, "song take (channel=speech)": 12}
    assert sorted(data.meta["unrecognised_files"]) == ["01-01-09-01-01-01-02.mp4", "interview.mp4"]
    assert data.meta["duplicate_files_not_read"] == 24 and data.meta["takes"] == 24  # song takes not counted
    clip = data.labels["clip"] == "Actor_03/01-01-08-02-01-01-03.mp4"  # full-AV read, video-only not
    assert clip.sum() == 2 and not any(c.startswith("Actor_03/02-") for c in data.labels["clip"])
    assert data.meta["class_names"][data.labels["class"][clip][0]] == "surprised"
    assert data.labels["intensity"][clip][0] == "strong" and data.labels["actor"][clip][0] == 3
    assert data.labels["group"][clip][0] == "Actor_03" and data.labels["sex"][clip][0] == "male"
    assert data.labels["channel"][clip][0] == "speech" and data.labels["statement"][clip][0] == "kids"
    assert set(data.labels["sex"][data.labels["actor"] == 4]) == {"female"}
    assert data.labels["fold"].tolist() == [(a - 1) // 4 for a in data.labels["actor"]]
    for actor in set(data.labels["actor"]):  # no actor on both sides, and both sides used
        assert len(set(data.split[data.labels["actor"] == actor])) == 1
    assert set(data.split) == {"train", "test"} and "grouped by actor" in data.meta["split_from"]
    assert formats.read("ravdess", root, **fast_clips).images == data.images
    assert FORMAT_TASK["ravdess"] == "classification" and "ravdess" in formats.FORMAT_NAMES


def test_which_of_the_duplicate_modalities_exist_changes_nothing(clip_sources, fast_clips, tmp_path):
    both = read_ravdess(build(tmp_path / "both", clip_sources, takes()), **fast_clips)
    av = read_ravdess(build(tmp_path / "av", clip_sources, takes(), modalities=(1,)), **fast_clips)
    video = read_ravdess(build(tmp_path / "video", clip_sources, takes(), modalities=(2,)), **fast_clips)
    def some(take):  # some takes full-AV only, some video-only, some both
        return [(1,), (2,), (1, 2)][(take["actor"] + take["emotion"]) % 3]

    mixed = read_ravdess(build(tmp_path / "mixed", clip_sources, takes(), modalities=some), **fast_clips)
    reference = per_clip(both)
    for other in (av, video, mixed):
        assert per_clip(other) == reference and other.dropped == both.dropped
        assert len(other) == len(both) and np.array_equal(other.labels["fold"], both.labels["fold"])
    assert all(c.split("/")[1].startswith("02-") for c in video.labels["clip"])
    full_av = sum(1 in some(t) for t in takes() if t["channel"] == 1)
    assert mixed.meta["modality"].endswith(f": {full_av} takes full-AV, {24 - full_av} video-only") and full_av < 24
    assert "duplicate_files_not_read" not in av.meta

    only_video = read_ravdess(tmp_path / "both", modality="video", **fast_clips)  # the 02 files of a copy with both
    assert per_clip(only_video) == reference
    assert all(c.split("/")[1].startswith("02-") for c in only_video.labels["clip"])
    partial = read_ravdess(tmp_path / "mixed", modality="av", **fast_clips)  # takes without an 01 file: skipped, counted
    assert partial.meta["clips"] < both.meta["clips"]
    assert partial.dropped["take without a full-AV file (modality=av)"] == both.meta["clips"] - partial.meta["clips"]
    with pytest.raises(FacesslError, match="no RAVDESS video with channel=speech, modality=av"):
        read_ravdess(tmp_path / "video", modality="av", **fast_clips)
    with pytest.raises(FacesslError, match="ravdess modality 'audio': expected one of auto, av, video"):
        read_ravdess(tmp_path / "both", modality="audio", **fast_clips)


def test_channel_option(clip_sources, fast_clips, tmp_path):
    root = build(tmp_path / "RAVDESS", clip_sources, takes())
    song = read_ravdess(root, channel="song", **fast_clips)
    assert song.meta["class_names"] == ["calm", "fearful"] and song.meta["clips"] == 12
    assert set(song.labels["channel"]) == {"song"} and song.dropped == {"speech take (channel=song)": 24}
    both = read_ravdess(root, channel="Both", **fast_clips)
    assert both.meta["class_names"] == ["neutral", "calm", "happy", "angry", "fearful", "surprised"]
    assert both.meta["clips"] == 36 and both.dropped == {}
    assert sorted(set(both.labels["channel"])) == ["song", "speech"]
    with pytest.raises(FacesslError, match="ravdess channel 'voice': expected one of speech, song, both"):
        read_ravdess(root, channel="voice", **fast_clips)


def test_fold_and_test_actors_options(clip_sources, fast_clips, tmp_path):
    root = build(tmp_path / "RAVDESS", clip_sources, takes(actors=range(1, 9)))
    fold = read_ravdess(root, fold=1, **fast_clips)  # fold 1 of the six: actors 5-8 test
    assert sorted(set(fold.labels["actor"][fold.split == "test"])) == [5, 6, 7, 8]
    assert sorted(set(fold.labels["actor"][fold.split == "train"])) == [1, 2, 3, 4]
    assert fold.meta["split_from"] == "fold 1 of the six-fold actor protocol: actors 5, 6, 7, 8 test, the other 4 train"
    assert np.array_equal(fold.split == "test", fold.labels["fold"] == 1)
    listed = read_ravdess(root, test_actors="2, Actor_07", **fast_clips)
    assert sorted(set(listed.labels["actor"][listed.split == "test"])) == [2, 7]
    assert read_ravdess(root, test_actors=[2, 7], **fast_clips).split.tolist() == listed.split.tolist()
    for bad, message in [(dict(fold=6), "ravdess fold 6: expected a whole number 0-5"),
                         (dict(test_actors="1,25"), "ravdess test_actors '25': expected a whole number 1-24"),
                         (dict(fold=0, test_actors="1"), "give fold or test_actors, not both"),
                         (dict(fold=5), r"none of the test actors \(21, 22, 23, 24\) is in this copy"),
                         (dict(test_actors="1,2,3,4,5,6,7,8"), "the test actors are every actor of this copy")]:
        with pytest.raises(FacesslError, match=message):
            read_ravdess(root, **bad, **fast_clips)


def test_the_root_may_be_the_folder_above_the_zips_folders(clip_sources, fast_clips, tmp_path):
    direct = read_ravdess(build(tmp_path / "flat", clip_sources, takes()), **fast_clips)
    archive = tmp_path / "RAVDESS"  # each zip unpacked into a folder of its own name
    for channel, zip_name in ((1, "Video_Speech_Actor_{actor:02d}"), (2, "Video_Song_Actor_{actor:02d}")):
        build(archive, clip_sources, [t for t in takes() if t["channel"] == channel], folder=zip_name + "/Actor_{actor:02d}")
    nested = read_ravdess(archive, channel="both", **fast_clips)
    assert nested.meta["clips"] == 36
    speech = read_ravdess(archive, **fast_clips)
    assert per_clip(speech) == per_clip(direct) and speech.dropped == direct.dropped
    assert speech.labels["clip"][0].startswith("Video_Speech_Actor_01/Actor_01/")
    assert read_ravdess(tmp_path, **fast_clips).meta["clips"] > 0  # the folder above: Actor_XX/ two levels down


def test_wrong_roots_are_one_clear_error(clip_sources, fast_clips, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FacesslError, match=r"no RAVDESS videos: no Actor_XX/ folder here or up to 2 folders below "
                                           r"\(expected Actor_01/01-01-03-02-01-01-01.mp4\)"):
        read_ravdess(tmp_path / "empty", **fast_clips)
    audio = tmp_path / "audio" / "Actor_01"
    audio.mkdir(parents=True)
    (audio / "03-01-03-02-01-01-01.wav").write_bytes(b"RIFF")
    with pytest.raises(FacesslError, match="hold audio only .*Video_Speech_Actor_XX.zip"):
        read_ravdess(tmp_path / "audio", **fast_clips)
    with pytest.raises(FacesslError, match="RAVDESS folder not found"):
        read_ravdess(tmp_path / "nowhere", **fast_clips)
    one = build(tmp_path / "one", clip_sources, takes(actors=[3]))
    with pytest.raises(FacesslError, match=r"one actor only \(3\)"):
        read_ravdess(one, **fast_clips)
    odd = tmp_path / "odd" / "Actor_01"
    odd.mkdir(parents=True)
    (odd / "clip.mp4").symlink_to(clip_sources[0]["a"])
    with pytest.raises(FacesslError, match=r"1 .mp4 file\(s\) not named like 01-01-03-02-01-01-01.mp4 "
                                           r"\(e.g. clip.mp4\)"):
        read_ravdess(tmp_path / "odd", **fast_clips)
