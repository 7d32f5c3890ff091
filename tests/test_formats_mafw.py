"""MAFW read in the layouts it is distributed and commonly unpacked in (formats/mafw.py): the five
`single/no_caption/set_K/{train,test}.txt` lists beside per-clip frame folders or the clips themselves. Fixtures are
written here from the documented layout (tiny JPEGs, a synthetic video), never from the real data."""
from dataclasses import replace

import numpy as np
import pytest

from eval_toys import ToyEncoder
from image_toys import save_jpeg
from facessl.cli import main
from facessl.data import formats
from facessl.data.formats.mafw import CLASSES
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import runner
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import FORMAT_TASK, TaskSpec

RNG = np.random.default_rng(11)
FAST = EvalOptions(seeds=1, epochs=4, weight_decays=(0.0,), supervised_epochs=1, device="cpu", quiet=True)
ELEVEN = ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "contempt", "anxiety",
          "helplessness", "disappointment"]
SPLITS = "MAFW/Train & Test Set/single/no_caption"


def clip_class(c):
    return ELEVEN[c % 11]


def write_mafw(root, n_clips=22, n_frames=6, splits=SPLITS, ext=".txt", frames="MAFW/data/frames", naming="jpg",
               crlf=False, bom=False, header=False, anno=False, skip_clips=(), level=False, compound=True):
    """The ten set lists (clip c in the test list of set c % 5 + 1) and each clip's frame folder; `compound` adds
    the compound-expression lists (which must never be read); anno: MAE-DFER's converted `<path> <index>` lines."""
    clips = range(1, n_clips + 1)
    end = "\r\n" if crlf else "\n"
    for k in range(5):
        for part, members in (("test", [c for c in clips if c % 5 == k]), ("train", [c for c in clips if c % 5 != k])):
            if anno:
                lines = [f"/mnt/data/MAFW/{frames}/{c:05d} {ELEVEN.index(clip_class(c))}" for c in members]
            else:
                lines = (["video label"] if header else []) + [f"{c:05d}.mp4 {clip_class(c)}" for c in members]
            path = root / splits / f"set_{k + 1}" / f"{part}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (end.join(lines) + end).encode())
            if compound:
                other = root / splits.replace("single", "compound") / f"set_{k + 1}" / f"{part}{ext}"
                other.parent.mkdir(parents=True, exist_ok=True)
                other.write_text("00001.mp4 anger_disgust\n")
    if frames is None:
        return
    for c in clips:
        if c in skip_clips:
            continue
        folder = root / frames / f"{c:05d}"
        for f in range(1, n_frames + 1):
            name = f"image_{f:05d}.jpg" if naming == "jpg" else f"{f}.png"
            if naming == "jpg":
                save_jpeg(folder / name, RNG, 20 + 20 * ELEVEN.index(clip_class(c)) if level else None)
            else:
                from PIL import Image
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / name)
        (folder / "n_frames").write_text(str(n_frames))  # as frame extractors leave it


@pytest.mark.parametrize("variant", ["release", "csv lists", "crlf, bom, header", "MAE-DFER anno csv + aligned crops",
                                     "wrapped split folder, frames/frames", "label/no_caption + png frames",
                                     "EmoCLIP Train_Test_Set/no_caption_new + data/faces"])
def test_mafw_layouts_labels_folds_and_split(tmp_path, variant):
    kw = {}
    if variant == "csv lists":
        kw = dict(ext=".csv")
    elif variant == "crlf, bom, header":
        kw = dict(crlf=True, bom=True, header=True)
    elif variant == "MAE-DFER anno csv + aligned crops":
        kw = dict(splits="MAFW/anno/single/no_caption", ext=".csv", anno=True,
                  frames="MAFW/data/frames/frames_crop_align_224")
    elif variant == "wrapped split folder, frames/frames":
        kw = dict(splits="MAFW/train_test_set/Train & Test Set/single/no_caption", frames="MAFW/data/frames/frames")
    elif variant == "label/no_caption + png frames":
        kw = dict(splits="MAFW/label/no_caption", frames="MAFW/frames", naming="png", compound=False)
    elif variant == "EmoCLIP Train_Test_Set/no_caption_new + data/faces":  # its compound/no_caption_new never read
        kw = dict(splits="MAFW/Train_Test_Set/single/no_caption_new", frames="MAFW/data/faces")
    write_mafw(tmp_path, **kw)
    got = formats.read("mafw", tmp_path)
    assert len(got) == 22 * 4 and got.dropped == {}
    assert got.meta["class_names"] == ELEVEN and list(CLASSES) == ELEVEN
    clips = got.labels["clip"]
    assert sorted(set(clips)) == [f"{c:05d}" for c in range(1, 23)]
    for i, clip in enumerate(clips):
        c = int(clip)
        assert got.meta["class_names"][got.labels["class"][i]] == clip_class(c)
        assert got.labels["fold"][i] == c % 5 and got.labels["subject"][i] == clip
        assert got.split[i] == ("test" if c % 5 == 0 else "train")
        assert f"/{clip}/" in got.images[i].replace("\\", "/")
    assert "set_1/test" in got.meta["split_from"] and FORMAT_TASK["mafw"] == "classification"


def test_mafw_keeps_all_eleven_classes_named_and_in_order(tmp_path):
    write_mafw(tmp_path, n_clips=11)
    got = formats.read("mafw", tmp_path, frames=1)
    by_clip = {clip: got.meta["class_names"][k] for clip, k in zip(got.labels["clip"], got.labels["class"])}
    assert [by_clip[f"{c:05d}"] for c in range(1, 12)] == ELEVEN[1:] + ELEVEN[:1]  # clip c has class c % 11
    assert got.meta["class_names"] == ELEVEN  # MAFW's order, the index MAE-DFER's converted lists give
    index = dict(zip(got.labels["clip"], got.labels["class"]))
    assert [index[f"{c:05d}"] for c in (7, 8, 9, 10)] == [7, 8, 9, 10]  # contempt, anxiety, helplessness, disappointment


def test_mafw_reads_aligned_crops_before_raw_frames_and_never_the_compound_lists(tmp_path):
    write_mafw(tmp_path, n_clips=5, compound=False)  # raw frames in data/frames/
    write_mafw(tmp_path, n_clips=5, frames="MAFW/data/frames_crop_align_224", naming="png", compound=False)
    got = formats.read("mafw", tmp_path, frames=1)
    assert all("/frames_crop_align_224/" in p.replace("\\", "/") for p in got.images)
    assert got.meta["frames_from"] == "MAFW/data/frames_crop_align_224/"
    only_compound = tmp_path / "compound_only"
    write_mafw(only_compound, n_clips=5, splits="MAFW/Train & Test Set/compound/no_caption", compound=False)
    with pytest.raises(DataFormatError, match=r"MAFW not found: expected Train & Test Set/single/no_caption"):
        formats.read("mafw", only_compound)


def test_mafw_frames_evenly_spaced_in_numeric_order(tmp_path):
    write_mafw(tmp_path, n_clips=5, n_frames=12, naming="png", compound=False)
    got = formats.read("mafw", tmp_path, frames="3")
    first = [p.replace("\\", "/").rsplit("/", 1)[1] for p, c in zip(got.images, got.labels["clip"]) if c == "00001"]
    assert first == ["3.png", "7.png", "11.png"]  # centres of thirds of 1..12 in numeric order; n_frames passed over
    assert len(formats.read("mafw", tmp_path, frames=20)) == 5 * 12


def test_mafw_fold_option_chooses_the_set_folder(tmp_path):
    write_mafw(tmp_path)
    got = formats.read("mafw", tmp_path, fold=3)
    test_clips = {int(c) for c, s in zip(got.labels["clip"], got.split) if s == "test"}
    assert test_clips == {3, 8, 13, 18} and "set_4/test.txt" in got.meta["split_from"]
    assert set(got.labels["fold"][got.split == "test"]) == {3}


def test_mafw_missing_clips_skipped_and_counted(tmp_path):
    write_mafw(tmp_path, skip_clips=(2, 5))
    for f in (tmp_path / "MAFW/data/frames/00007").iterdir():
        if f.suffix == ".jpg":
            f.unlink()
    got = formats.read("mafw", tmp_path)
    assert got.dropped == {"clip listed but not on disk": 2, "clip folder without frames": 1}
    assert len(set(got.labels["clip"])) == 19


def test_mafw_errors_are_one_line_and_name_the_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match=r"MAFW not found: expected Train & Test Set/single/no_caption/set_1"):
        formats.read("mafw", tmp_path)
    write_mafw(tmp_path, n_clips=10)
    for bad in ({"fold": 5}, {"fold": "x"}, {"frames": 0}):
        with pytest.raises(FacesslError, match=r"mafw (fold|frames) .*expected a whole number"):
            formats.read("mafw", tmp_path, **bad)
    path = tmp_path / SPLITS / "set_2" / "test.txt"  # clips 1 and 6
    good = path.read_text()
    for text, expected in ((good + "00011.mp4 anger extra\n", r"set_2/test\.txt:3: expected '00019\.mp4 anger' "
                                                              r"\(2 fields; DFER-CLIP's lists: '<path>/00019 47 3'\), "
                                                              r"got 3"),
                           (good + "00011.mp4 47 3 x\n", r"set_2/test\.txt:3: expected '00019\.mp4 anger' \(2 fields"
                                                         r".*got 4"),
                           (good + "/d/faces/00011 47 11\n", r"set_2/test\.txt:3: label '11': expected one of"),
                           (good + "00011.mp4 anger_disgust\n", r"set_2/test\.txt:3: label 'anger_disgust': expected "
                                                                r"one of anger, disgust"),
                           (good + "00011.mp4 11\n", r"set_2/test\.txt:3: label '11': expected one of"),
                           ("clip_a.mp4 anger\n", r"set_2/test\.txt:1: clip 'clip_a\.mp4': expected a clip name")):
        path.write_text(text)
        with pytest.raises(DataFormatError, match=expected) as err:
            formats.read("mafw", tmp_path)
        assert "\n" not in str(err.value)
    path.unlink()
    with pytest.raises(DataFormatError, match=r"set_2/test\.txt: MAFW split file not found"):
        formats.read("mafw", tmp_path)


def test_mafw_without_frames_or_videos_says_so(tmp_path):
    write_mafw(tmp_path, n_clips=5, frames=None)
    with pytest.raises(DataFormatError, match=r"MAFW clips not found: expected data/frames/00019/\*\.jpg"):
        formats.read("mafw", tmp_path)


def test_mafw_with_videos_only_reads_them(tmp_path, monkeypatch):
    """A copy without frame folders: data/clips/00019.mp4 read through the face detector; labels, folds and class
    names as from frames."""
    import shutil

    from prepare_fixtures import write_video

    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    write_mafw(tmp_path, n_clips=6, frames=None)
    videos = tmp_path / "MAFW" / "data" / "clips"
    videos.mkdir(parents=True)
    first = write_video(tmp_path / "a.mp4", frames=8, seed=0)
    for c in range(1, 6):  # clip 6 is listed but has no video
        shutil.copy(first, videos / f"{c:05d}.mp4")
    data = formats.read("mafw", tmp_path, frames=2, size=32, workers=1, fold=1)
    assert len(data) == 10 and data.images[0].endswith(".jpg")
    assert data.meta["frames_from"] == "videos in MAFW/data/clips/ (detect crops)"
    assert data.dropped == {"clip listed but not on disk": 1} and data.meta["class_names"] == ELEVEN
    clips = data.labels["clip"]
    assert sorted(set(clips[data.split == "test"])) == ["00001"]  # set_2's test list: clips c % 5 == 1
    assert [data.meta["class_names"][k] for k in data.labels["class"][clips == "00003"]] == [clip_class(3)] * 2
    assert data.labels["fold"][clips == "00003"].tolist() == [3, 3] and "group" not in data.labels


def test_mafw_inspect_and_eval_end_to_end_score_per_clip(tmp_path, capsys):
    write_mafw(tmp_path, n_clips=55, n_frames=4, level=True)
    assert main(["inspect", "--dataset", f"mafw:{tmp_path}", "--reader-option", "frames=2",
                 "--reader-option", "fold=4"]) == 0
    out = capsys.readouterr().out
    assert "format mafw, task classification" in out and "images: 110 (test 22, train 88)" in out
    assert "  helplessness: test 2, train 8" in out and "  disappointment: " in out
    spec = TaskSpec("", f"mafw:{tmp_path}", options={"frames": 2})
    assert spec.task == "classification"
    result = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())["tasks"][0]
    assert result["info"]["test_clips"] == 11 and result["info"]["scored_per"].startswith("clip: the mean of its frames")
    assert result["info"]["class_names"] == ELEVEN
    with_cv = runner.evaluate(ToyEncoder(), [spec], replace(FAST, cv=5), baselines=())["tasks"][0]
    assert with_cv["info"]["test_clips"] == 55 and with_cv["info"]["test_rows"] == 110  # every clip tested once


DFER_CLIP = ["happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear", "contempt", "anxiety",
             "helplessness", "disappointment"]  # DFER-CLIP's models/Text.py class_names_11, its lists' index


def write_dfer_clip_lists(root, n_clips=22, folder="DFER-CLIP/annotation", n_frames=6):
    """DFER-CLIP's flat lists annotation/MAFW_set_K_{train,test}.txt: `<its path>/MAFW/data/faces/00025 47 3`
    (frame count, then the index in its own class order); clip c in the test list of set c % 5 + 1."""
    clips = range(1, n_clips + 1)
    for k in range(5):
        for part, members in (("test", [c for c in clips if c % 5 == k]), ("train", [c for c in clips if c % 5 != k])):
            path = root / folder / f"MAFW_set_{k + 1}_{part}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"/data/EECS-IoannisLab/datasets/MAFW/data/faces/{c:05d} {n_frames} "
                                    f"{DFER_CLIP.index(clip_class(c))}\n" for c in members))


def test_mafw_dfer_clip_lists_use_dfer_clips_class_order_with_data_faces(tmp_path):
    write_mafw(tmp_path, frames="MAFW/data/faces", splits="elsewhere/unused/no_caption", compound=False)
    import shutil
    shutil.rmtree(tmp_path / "elsewhere")  # frames only: the lists are DFER-CLIP's
    write_dfer_clip_lists(tmp_path)
    got = formats.read("mafw", tmp_path, fold=2)
    assert len(got) == 22 * 4 and got.dropped == {} and got.meta["class_names"] == ELEVEN
    assert got.meta["frames_from"] == "MAFW/data/faces/"
    assert "DFER-CLIP/annotation/MAFW_set_3_test.txt is the test split" in got.meta["split_from"]
    for i, clip in enumerate(got.labels["clip"]):
        c = int(clip)
        assert ELEVEN[got.labels["class"][i]] == clip_class(c)  # read in MAFW's order, never DFER-CLIP's index
        assert got.labels["fold"][i] == c % 5 and got.split[i] == ("test" if c % 5 == 2 else "train")


def test_mafw_an_index_means_mae_dfers_order_in_two_fields_and_dfer_clips_in_three(tmp_path):
    """00025 is anger: MAE-DFER's saved/data/mafw/single/split01/test.csv writes `.../00025 0`, DFER-CLIP's
    annotation/MAFW_set_1_test.txt `.../00025 47 3`."""
    from facessl.data.formats.mafw import _read_set

    two, three = tmp_path / "two.txt", tmp_path / "three.txt"
    two.write_text("/mnt/MAFW/data/frames/00025 0\n/mnt/MAFW/data/frames/00055 1\n/mnt/MAFW/data/frames/00026 3\n")
    three.write_text("/data/MAFW/data/faces/00025 47 3\n/data/MAFW/data/faces/00055 60 5\n"
                     "/data/MAFW/data/faces/00026 52 0\n")
    for path in (two, three):
        assert {clip: CLASSES[k] for clip, k in _read_set(path).items()} == {
            "00025": "anger", "00055": "disgust", "00026": "happiness"}


def test_mafw_prefers_release_lists_and_face_crops(tmp_path):
    """The release's single/no_caption lists over EmoCLIP's no_caption_new and DFER-CLIP's flat lists (which here
    put every clip in the test split of every fold); face folders (faces/) over raw frames/."""
    write_mafw(tmp_path, n_clips=10, compound=False)  # Train & Test Set/single/no_caption + data/frames
    write_mafw(tmp_path, n_clips=10, splits="MAFW/Train_Test_Set/single/no_caption_new", frames="MAFW/data/faces",
               compound=False)
    for k in range(5):
        for part in ("train", "test"):
            path = tmp_path / "MAFW" / "Train_Test_Set" / "single" / "no_caption_new" / f"set_{k + 1}" / f"{part}.txt"
            path.write_text("00001.mp4 fear\n")  # would give clip 1 another class
            flat = tmp_path / "annotation" / f"MAFW_set_{k + 1}_{part}.txt"
            flat.parent.mkdir(exist_ok=True)
            flat.write_text("".join(f"/x/faces/{c:05d} 6 0\n" for c in range(1, 11)))
    got = formats.read("mafw", tmp_path, frames=1)
    assert got.meta["frames_from"] == "MAFW/data/faces/"
    assert "Train & Test Set/single/no_caption/set_1/test.txt" in got.meta["split_from"]
    assert {c: ELEVEN[k] for c, k in zip(got.labels["clip"], got.labels["class"])} == {
        f"{c:05d}": clip_class(c) for c in range(1, 11)}
    assert (got.split == "test").sum() == 2  # clips 5 and 10


COMPOUND = ["neutral", "anger_disgust", "sadness_helplessness", "happiness", "fear_surprise", "anger_disgust_anxiety"]


def test_mafw_compound_subset_reads_the_compound_lists_with_combined_classes(tmp_path):
    """subset=compound: Train & Test Set/compound/no_caption/set_K lists (`00019.mp4 anger_disgust`; single labels
    too), one class per label or combination, in MAFW's order; the single lists are then not read."""
    write_mafw(tmp_path, n_clips=24, compound=False)
    for k in range(5):
        for part in ("train", "test"):
            members = [c for c in range(1, 25) if (c % 5 == k) == (part == "test")]
            lines = [f"{c:05d}.mp4 {COMPOUND[c % 6]}" for c in members]
            lines = [line.replace("anger_disgust_anxiety", "anxiety_disgust_anger") for line in lines]  # any order
            path = tmp_path / "MAFW" / "Train & Test Set" / "compound" / "no_caption" / f"set_{k + 1}" / f"{part}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
    got = formats.read("mafw", tmp_path, subset="compound", fold=1, frames=2)
    assert got.meta["class_names"] == ["happiness", "neutral", "anger_disgust", "fear_surprise", "sadness_helplessness",
                                       "anger_disgust_anxiety"] and got.meta["subset"] == "compound"
    assert len(got) == 24 * 2 and "compound/no_caption/set_2/test.txt" in got.meta["split_from"]
    for i, clip in enumerate(got.labels["clip"]):
        c = int(clip)
        assert got.meta["class_names"][got.labels["class"][i]] == COMPOUND[c % 6]
        assert got.labels["fold"][i] == c % 5 and got.split[i] == ("test" if c % 5 == 1 else "train")
    single = formats.read("mafw", tmp_path, frames=1)
    assert single.meta["class_names"] == ELEVEN and single.meta["subset"] == "single"
    bad = tmp_path / "MAFW" / "Train & Test Set" / "compound" / "no_caption" / "set_2" / "test.txt"
    bad.write_text("00001.mp4 anger_joy\n")
    with pytest.raises(DataFormatError, match=r"set_2/test\.txt:1: label 'anger_joy': expected classes of anger"):
        formats.read("mafw", tmp_path, subset="compound")
    with pytest.raises(FacesslError, match=r"mafw subset 'multi': expected single or compound"):
        formats.read("mafw", tmp_path, subset="multi")
    import shutil
    shutil.rmtree(tmp_path / "MAFW" / "Train & Test Set" / "compound")
    with pytest.raises(DataFormatError, match=r"MAFW compound lists not found: expected Train & Test Set/compound"):
        formats.read("mafw", tmp_path, subset="compound")
