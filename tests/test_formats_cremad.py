"""CREMA-D read as distributed in its GitHub repository (formats/cremad.py): VideoFlash/1001_DFA_ANG_XX.flv
(actor_sentence_emotion_level), MP4 copies read too and each clip once, Git LFS pointers and the known-bad clips
skipped and counted, split grouped by actor. The videos are symlinks to two tiny written clips (a decoder reads
the content, not the suffix) whose faces are found once (the crop cache is keyed by the real path)."""
import numpy as np
import pytest

from facessl.data import formats
from facessl.data.formats.cremad import KNOWN_BAD_REASON, LFS_POINTER, NOT_CREMAD, read_cremad
from facessl.errors import FacesslError
from facessl.evaluate.suite import FORMAT_TASK

POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
           b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 123456\n")


ACTORS = (1001, 1002, 1019, 1020, 1037, 1038)  # two in each of HiCMAE's folds 0, 1, 2
CLIPS = [f"{actor}_IEO_{emotion}_{level}" for actor in ACTORS for emotion, level in
         (("ANG", "HI"), ("ANG", "LO"), ("HAP", "MD"), ("NEU", "XX"))] + \
        [f"{actor}_DFA_{emotion}_XX" for actor in ACTORS for emotion in ("SAD", "DIS")]


def build(folder, clip_sources, names=CLIPS, suffix=".flv"):
    folder.mkdir(parents=True, exist_ok=True)
    for clip in names:
        (folder / f"{clip}{suffix}").symlink_to(clip_sources[0]["a" if int(clip[:4]) % 2 else "b"])
    return folder


def rows(data):
    """{(actor, sentence, class name, level): split} and the class names: what must not change between copies."""
    names = data.meta["class_names"]
    labels = data.labels
    return ({(int(a), s, names[c], lv): side for a, s, c, lv, side in
             zip(labels["actor"], labels["sentence"], labels["class"], labels["level"], data.split)}, names)


def test_the_repository_layout_classes_labels_and_an_actor_grouped_split(clip_sources, fast_clips, tmp_path):
    clone = tmp_path / "CREMA-D"
    build(clone / "VideoFlash", clip_sources, CLIPS + ["1076_MTI_SAD_XX", "1064_IEO_DIS_MD"])  # known bad (issue #8)
    (clone / "VideoFlash" / "1001_XYZ_ANG_XX.flv").symlink_to(clip_sources[0]["a"])  # no such sentence
    (clone / "VideoFlash" / "trailer.flv").symlink_to(clip_sources[0]["a"])
    (clone / "AudioWAV").mkdir()
    (clone / "AudioWAV" / "1001_IEO_ANG_HI.wav").write_bytes(b"RIFF")
    (clone / "VideoDemographics.csv").write_text('"ActorID","Age","Sex","Race","Ethnicity"\r\n'
                                                 '1001,51,"Male","Caucasian","Not Hispanic"\r\n'
                                                 '1002,21,"Female","Caucasian","Not Hispanic"\r\n')
    data = read_cremad(clone, **fast_clips)
    assert data.meta["class_names"] == ["anger", "disgust", "happy", "neutral", "sad"]  # code order; no FEA here
    assert data.meta["clips"] == len(CLIPS) == 36 and len(data) == 72
    assert data.dropped == {KNOWN_BAD_REASON: 2, NOT_CREMAD: 2}
    assert sorted(data.meta["unrecognised_files"]) == ["VideoFlash/1001_XYZ_ANG_XX.flv", "VideoFlash/trailer.flv"]
    clip = data.labels["clip"] == "VideoFlash/1019_IEO_ANG_LO.flv"
    assert clip.sum() == 2 and data.labels["actor"][clip][0] == 1019 and data.labels["group"][clip][0] == "1019"
    assert data.labels["level"][clip][0] == "low" and data.labels["sentence"][clip][0] == "IEO"
    assert data.meta["class_names"][data.labels["class"][clip][0]] == "anger" and data.labels["fold"][clip][0] == 1
    assert data.labels["sex"][clip][0] == "unknown"  # not in this demographics file
    assert set(data.labels["sex"][data.labels["actor"] == 1002]) == {"female"}
    assert set(data.labels["level"]) == {"high", "low", "medium", "unspecified"}
    for actor in set(data.labels["actor"]):  # no actor on both sides, and both sides used
        assert len(set(data.split[data.labels["actor"] == actor])) == 1
    assert set(data.split) == {"train", "test"} and "grouped by actor" in data.meta["split_from"]
    assert formats.read("cremad", tmp_path, **fast_clips).images == data.images  # the folder above the clone too
    assert read_cremad(clone / "VideoFlash", **fast_clips).labels["clip"][0] == "1001_DFA_DIS_XX.flv"
    assert FORMAT_TASK["cremad"] == "classification" and "cremad" in formats.FORMAT_NAMES


def test_mp4_copies_are_read_and_each_clip_once(clip_sources, fast_clips, tmp_path):
    flash = read_cremad(build(tmp_path / "flash" / "VideoFlash", clip_sources), **fast_clips)
    mp4 = read_cremad(build(tmp_path / "mp4" / "VideoMP4", clip_sources, suffix=".mp4"), **fast_clips)
    both = tmp_path / "both"
    build(both / "VideoFlash", clip_sources)
    build(both / "VideoMP4", clip_sources, names=CLIPS[::2], suffix=".mp4")  # a partial conversion beside the originals
    together = read_cremad(both, **fast_clips)
    assert rows(mp4) == rows(flash) == rows(together) and mp4.dropped == together.dropped == flash.dropped == {}
    assert np.array_equal(mp4.labels["fold"], flash.labels["fold"])
    assert all(c.startswith("VideoFlash/") for c in together.labels["clip"])  # the original .flv of each clip
    assert together.meta["duplicate_copies_not_read"] == 18
    assert "sex" not in flash.labels  # no VideoDemographics.csv


def test_git_lfs_pointers_and_level_x(clip_sources, fast_clips, tmp_path):
    clone = tmp_path / "CREMA-D"
    build(clone / "VideoFlash", clip_sources, CLIPS[:-2])
    for clip in CLIPS[-2:]:  # git clone without git-lfs: 130-byte text files
        (clone / "VideoFlash" / f"{clip}.flv").write_bytes(POINTER)
    (clone / "VideoFlash" / "1040_ITH_SAD_X.flv").symlink_to(clip_sources[0]["b"])  # the misspelt level (issue #6)
    build(clone / "VideoMP4", clip_sources, ["1040_ITH_SAD_XX"], suffix=".mp4")  # its copy, correctly named: one clip
    data = read_cremad(clone, **fast_clips)
    assert data.dropped == {LFS_POINTER: 2} and data.meta["clips"] == len(CLIPS) - 2 + 1
    assert set(data.labels["clip"][data.labels["actor"] == 1040]) == {"VideoFlash/1040_ITH_SAD_X.flv"}
    assert data.labels["level"][data.labels["actor"] == 1040][0] == "unspecified"
    pointers = build(tmp_path / "pointers" / "VideoFlash", clip_sources, [])
    for clip in CLIPS:
        (pointers / f"{clip}.flv").write_bytes(POINTER)
    with pytest.raises(FacesslError, match=r"1001_DFA_DIS_XX.flv: a Git LFS pointer, not the video: .*git lfs pull"):
        read_cremad(tmp_path / "pointers", **fast_clips)


def test_fold_and_test_actors_options(clip_sources, fast_clips, tmp_path):
    root = build(tmp_path / "VideoFlash", clip_sources)
    fold = read_cremad(root, fold=1, **fast_clips)  # HiCMAE's fold 1: actors 1019-1036
    assert sorted(set(fold.labels["actor"][fold.split == "test"])) == [1019, 1020]
    assert np.array_equal(fold.split == "test", fold.labels["fold"] == 1)
    assert fold.meta["split_from"] == "fold 1 of HiCMAE's five actor folds: actors 1019, 1020 test, the other 4 train"
    listed = read_cremad(root, test_actors="1001,1038", **fast_clips)
    assert sorted(set(listed.labels["actor"][listed.split == "test"])) == [1001, 1038]
    for bad, message in [(dict(fold=5), "cremad fold 5: expected a whole number 0-4"),
                         (dict(test_actors="1001,999"), "cremad test_actors '999': expected a whole number 1001-1091"),
                         (dict(fold=1, test_actors="1001"), "give fold or test_actors, not both"),
                         (dict(fold=4), r"none of the test actors \(1073-1091\) is in this copy"),
                         (dict(test_actors=list(ACTORS)), "the test actors are every actor of this copy")]:
        with pytest.raises(FacesslError, match=message):
            read_cremad(root, **bad, **fast_clips)


def test_wrong_roots_are_one_clear_error(clip_sources, fast_clips, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FacesslError, match=r"no CREMA-D videos here or up to 2 folders below \(expected "
                                           r"VideoFlash/1001_DFA_ANG_XX.flv\)"):
        read_cremad(tmp_path / "empty", **fast_clips)
    (tmp_path / "audio" / "AudioWAV").mkdir(parents=True)
    (tmp_path / "audio" / "AudioWAV" / "1001_DFA_ANG_XX.wav").write_bytes(b"RIFF")
    with pytest.raises(FacesslError, match="only AudioWAV/ or AudioMP3/ found: the faces need VideoFlash/"):
        read_cremad(tmp_path / "audio", **fast_clips)
    with pytest.raises(FacesslError, match="CREMA-D folder not found"):
        read_cremad(tmp_path / "nowhere", **fast_clips)
    with pytest.raises(FacesslError, match=r"one actor only \(1019\)"):
        read_cremad(build(tmp_path / "one", clip_sources, [c for c in CLIPS if c.startswith("1019")]), **fast_clips)
    odd = build(tmp_path / "odd", clip_sources, ["1001_DFA_JOY_XX"])  # no such emotion
    with pytest.raises(FacesslError, match=r"1 video\(s\) not named like 1001_DFA_ANG_XX.flv "
                                           r"\(e.g. 1001_DFA_JOY_XX.flv\)"):
        read_cremad(odd, **fast_clips)
