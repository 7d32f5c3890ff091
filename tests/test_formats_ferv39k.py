"""FERV39k read in the layouts it is distributed and commonly unpacked in (formats/ferv39k.py): 4_setups/All_scenes
split files beside (or far from) 2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/ frame folders. Fixtures are written
here from the documented layout (tiny JPEGs), never from the real data."""
import numpy as np
import pytest

from eval_toys import ToyEncoder
from image_toys import save_jpeg
from facessl.cli import main
from facessl.data import formats
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import runner
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import FORMAT_TASK, TaskSpec

RNG = np.random.default_rng(7)
FAST = EvalOptions(seeds=1, epochs=4, weight_decays=(0.0,), supervised_epochs=1, device="cpu", quiet=True)
WORDS = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")
INTERNAL = {"Happy": "happiness", "Sad": "sadness", "Neutral": "neutral", "Angry": "anger", "Surprise": "surprise",
            "Disgust": "disgust", "Fear": "fear"}
SCENES = ("Action", "Interview", "DailyLife")


def clip_key(c):
    """Clip c: scene c % 3, emotion c % 7, number c (4 digits); in test when c % 5 == 0."""
    return f"{SCENES[c % 3]}/{WORDS[c % 7]}/{c:04d}"


def write_ferv39k(root, n_clips=15, n_frames=6, setups="4_setups", frames=("2_ClipsforFaceCrop",), crlf=False,
                  bom=False, header=False, skip_clips=(), level=False, naming="{f:02d}.jpg", scenes=False):
    """The All_scenes split files in `setups`, each clip's frames in one of the `frames` folders (scene by scene,
    as an archive's parts hold them); scenes=True adds 22_scenes-style per-scene files."""
    clips = range(1, n_clips + 1)
    files = {"All_scenes/{}_All.csv": list(clips)}
    if scenes:
        files.update({f"22_scenes/{{}}_{s}.csv": [c for c in clips if SCENES[c % 3] == s] for s in SCENES})
    end = "\r\n" if crlf else "\n"
    for pattern, members in files.items():
        for part, chosen in (("train", [c for c in members if c % 5]), ("test", [c for c in members if not c % 5])):
            lines = (["path label"] if header else []) + [f"{clip_key(c)} {WORDS[c % 7]}" for c in chosen]
            path = root / setups / pattern.format(part)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (end.join(lines) + end).encode())
    for c in clips:
        if c in skip_clips:
            continue
        folder = root / frames[SCENES.index(clip_key(c).split("/")[0]) % len(frames)] / clip_key(c)
        for f in range(n_frames):
            save_jpeg(folder / naming.format(f=f), RNG, 30 + 30 * (c % 7) if level else None)


@pytest.mark.parametrize("variant", ["release", "drive download and archive part", "nested archive",
                                     "parts in two folders", "crlf, bom, header", "backslash paths"])
def test_ferv39k_layouts_labels_and_split(tmp_path, variant):
    kw = {}
    if variant == "drive download and archive part":
        kw = dict(setups="FERV39k/drive-download-20220315T101010Z-001/4_setups",
                  frames=("FERV39k/2_ClipsforFaceCrop-002/2_ClipsforFaceCrop",))
    elif variant == "nested archive":
        kw = dict(frames=("2_ClipsforFaceCrop/2_ClipsforFaceCrop",))
    elif variant == "parts in two folders":
        kw = dict(frames=("2_ClipsforFaceCrop-001/2_ClipsforFaceCrop", "2_ClipsforFaceCrop-002/2_ClipsforFaceCrop"))
    elif variant == "crlf, bom, header":
        kw = dict(crlf=True, bom=True, header=True)
    write_ferv39k(tmp_path, **kw)
    if variant == "backslash paths":
        for name in ("train_All.csv", "test_All.csv"):
            path = tmp_path / "4_setups" / "All_scenes" / name
            path.write_text(path.read_text().replace("/", "\\"))
    got = formats.read("ferv39k", tmp_path)
    assert len(got) == 15 * 4 and got.dropped == {}
    clips = got.labels["clip"]
    assert sorted(set(clips)) == sorted(clip_key(c) for c in range(1, 16))
    for i, clip in enumerate(clips):
        c = int(clip.rsplit("/", 1)[1])
        assert EXPRESSIONS[got.labels["expression"][i]] == INTERNAL[WORDS[c % 7]]
        assert got.split[i] == ("test" if c % 5 == 0 else "train")
        assert got.labels["subject"][i] == clip and got.labels["scene"][i] == SCENES[c % 3]
        assert got.images[i].replace("\\", "/").split("/")[-4:-1] == clip.split("/")
    assert "fold" not in got.labels and set(got.split) == {"train", "test"}  # one fixed split, no validation
    assert "train_All.csv" in got.meta["split_from"] and FORMAT_TASK["ferv39k"] == "expression"


def test_ferv39k_label_words_map_to_facessl_expressions(tmp_path):
    write_ferv39k(tmp_path, n_clips=7)
    got = formats.read("ferv39k", tmp_path, frames=1)
    by_word = {clip.split("/")[1]: EXPRESSIONS[e] for clip, e in zip(got.labels["clip"], got.labels["expression"])}
    assert by_word == {"Happy": "happiness", "Sad": "sadness", "Neutral": "neutral", "Angry": "anger",
                       "Surprise": "surprise", "Disgust": "disgust", "Fear": "fear"}


def test_ferv39k_frames_evenly_spaced_in_numeric_order(tmp_path):
    write_ferv39k(tmp_path, n_clips=5, n_frames=12, naming="{f}.jpg")
    got = formats.read("ferv39k", tmp_path, frames="3")
    first = [p.replace("\\", "/").rsplit("/", 1)[1] for p, c in zip(got.images, got.labels["clip"]) if c == clip_key(1)]
    assert first == ["2.jpg", "6.jpg", "10.jpg"]  # centres of thirds of 0..11 in numeric order (text: 10, 2, 6)
    assert got.meta["frames_per_clip"] == 3
    assert len(formats.read("ferv39k", tmp_path, frames=20)) == 5 * 12  # a short clip gives all its frames


def test_ferv39k_scene_option_reads_the_per_scene_setup(tmp_path):
    write_ferv39k(tmp_path, n_clips=15, scenes=True)
    got = formats.read("ferv39k", tmp_path, scene="interview")
    assert set(got.labels["scene"]) == {"Interview"} and len(set(got.labels["clip"])) == 5
    assert "22_scenes/train_Interview.csv" in got.meta["split_from"] and got.meta["scene"] == "Interview"
    assert set(formats.read("ferv39k", tmp_path, scene="All_scenes").labels["scene"]) == set(SCENES)
    with pytest.raises(DataFormatError, match=r"FERV39k scene 'War': no train_War.csv .*found are Action, All, "
                                              r"DailyLife, Interview$"):
        formats.read("ferv39k", tmp_path, scene="War")


def test_ferv39k_missing_clips_skipped_and_counted(tmp_path):
    write_ferv39k(tmp_path, skip_clips=(2, 5))
    empty = tmp_path / "2_ClipsforFaceCrop" / clip_key(7)
    for f in empty.iterdir():
        f.unlink()
    got = formats.read("ferv39k", tmp_path)
    assert got.dropped == {"clip listed but not on disk": 2, "clip folder without frames": 1}
    assert len(set(got.labels["clip"])) == 12 and clip_key(5) not in set(got.labels["clip"])


def test_ferv39k_errors_are_one_line_and_name_the_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match=r"FERV39k not found: expected 4_setups/All_scenes/train_All.csv"):
        formats.read("ferv39k", tmp_path)
    write_ferv39k(tmp_path, n_clips=10)  # clips 5 and 10 in test_All.csv
    for bad in ({"frames": 0}, {"frames": "x"}):
        with pytest.raises(FacesslError, match=r"ferv39k frames .*expected a whole number"):
            formats.read("ferv39k", tmp_path, **bad)
    path = tmp_path / "4_setups" / "All_scenes" / "test_All.csv"
    good = path.read_text()
    for text, expected in ((good + "Action/Sad/0099 Sad extra\n", r"test_All\.csv:3: expected 'Scene/Emotion/0000 "
                                                                   r"Emotion' \(2 fields\), got 3"),
                           (good + "Action/Sad/0099 7\n", r"test_All\.csv:3: label '7': expected one of Happy.*index "
                                                          r"0-6"),
                           (good + "Action/Sad/0099 3\n", r"test_All\.csv:3: label '3' is Angry in the 0-6 order Happy, "
                                                          r"Sad, Neutral, Angry, Surprise, Disgust, Fear, but clip "
                                                          r"Action/Sad/0099 is in a Sad folder"),
                           (good + "Action/Sad/0099 Sadness2\n", r"test_All\.csv:3: label 'Sadness2': expected one "
                                                                 r"of Happy"),
                           ("Action_Sad_0099 Sad\n", r"test_All\.csv:1: clip 'Action_Sad_0099': expected a clip path")):
        path.write_text(text)
        with pytest.raises(DataFormatError, match=expected) as err:
            formats.read("ferv39k", tmp_path)
        assert "\n" not in str(err.value)
    path.unlink()
    with pytest.raises(DataFormatError, match=r"test_All\.csv: FERV39k split file not found"):
        formats.read("ferv39k", tmp_path)


def test_ferv39k_without_frames_or_with_none_of_the_clips_says_so(tmp_path):
    write_ferv39k(tmp_path, n_clips=5, frames=("elsewhere",))
    with pytest.raises(DataFormatError, match=r"FERV39k frames not found: expected 2_ClipsforFaceCrop/"):
        formats.read("ferv39k", tmp_path)
    (tmp_path / "2_ClipsforFaceCrop" / "Action").mkdir(parents=True)
    with pytest.raises(DataFormatError, match=r"no FERV39k clip found on disk: train_All.csv and test_All.csv name 5 "
                                              r"clips"):
        formats.read("ferv39k", tmp_path)


def test_ferv39k_inspect_and_eval_end_to_end_score_per_clip(tmp_path, capsys):
    write_ferv39k(tmp_path / "FERV39k", n_clips=35, n_frames=4, level=True,
                  setups="drive-download-001/4_setups", frames=("2_ClipsforFaceCrop-002/2_ClipsforFaceCrop",))
    assert main(["inspect", "--dataset", f"ferv39k:{tmp_path}", "--reader-option", "frames=2"]) == 0
    out = capsys.readouterr().out
    assert "format ferv39k, task expression" in out and "images: 70 (test 14, train 56)" in out
    assert "clips: 35 (test 7, train 28), up to 2 frames each" in out
    spec = TaskSpec("", f"ferv39k:{tmp_path}", options={"frames": 2})
    assert spec.task == "expression"
    result = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())["tasks"][0]
    assert result["info"]["train_rows"] == 28 * 2 and result["info"]["test_rows"] == 7 * 2
    assert result["info"]["test_clips"] == 7 and result["info"]["scored_per"].startswith("clip: the mean of its frames")
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) == {"accuracy", "mean_class_accuracy", "macro_f1"}


INDEX = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")  # MAE-DFER preprocess/ferv39k.py label2idx


def convert_lists(root, dest, name, frames_field):
    """The All_scenes lists rewritten as the converted lists of DFER-CLIP (`<path> <frames> <index>`, frames_field)
    or MAE-DFER (`<path> <index>`): the clip path under another machine's 2_ClipsforFaceCrop, the label its index."""
    for part in ("train", "test"):
        lines = []
        for line in (root / "4_setups" / "All_scenes" / f"{part}_All.csv").read_text().splitlines():
            clip, word = line.split()
            lines.append(f"/data/EECS-IoannisLab/datasets/FERV39K/2_ClipsforFaceCrop/{clip} "
                         + ("25 " if frames_field else "") + str(INDEX.index(word)))
        path = root / dest / name.format(part)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("variant", ["DFER-CLIP annotation", "EmoCLIP lists", "MAE-DFER index in the setup files"])
def test_ferv39k_converted_lists_with_an_index_read_as_their_words(tmp_path, variant):
    write_ferv39k(tmp_path / "FERV39k", n_clips=21)
    if variant == "DFER-CLIP annotation":  # annotation/FERV39K_train.txt: no All_scenes csv left
        convert_lists(tmp_path / "FERV39k", "annotation", "FERV39K_{}.txt", True)
    elif variant == "EmoCLIP lists":  # train_image.txt / test_image.txt in the dataset folder
        convert_lists(tmp_path / "FERV39k", ".", "{}_image.txt", True)
    else:
        convert_lists(tmp_path / "FERV39k", "4_setups/All_scenes", "{}_All.csv", False)
    if variant != "MAE-DFER index in the setup files":
        import shutil
        shutil.rmtree(tmp_path / "FERV39k" / "4_setups")
    got = formats.read("ferv39k", tmp_path)
    assert len(got) == 21 * 4 and got.dropped == {}
    assert sorted(set(got.labels["clip"])) == sorted(clip_key(c) for c in range(1, 22))
    for i, clip in enumerate(got.labels["clip"]):
        c = int(clip.rsplit("/", 1)[1])
        assert EXPRESSIONS[got.labels["expression"][i]] == INTERNAL[WORDS[c % 7]]
        assert got.split[i] == ("test" if c % 5 == 0 else "train") and got.labels["scene"][i] == SCENES[c % 3]
    name = {"DFER-CLIP annotation": "annotation/FERV39K_train.txt", "EmoCLIP lists": "train_image.txt"}.get(
        variant, "train_All.csv")
    assert name in got.meta["split_from"] and got.meta["scene"] == "All"


def test_ferv39k_refuses_an_index_in_another_order_and_prefers_the_release_lists(tmp_path):
    """A list with M3DFEL's alphabetical indices (Angry 0 ... Surprise 6) disagrees with the clips' emotion folders:
    refused at its first line, never read with shuffled labels; the release's train_All.csv wins over DFER-CLIP's."""
    write_ferv39k(tmp_path, n_clips=10)
    alphabetical = sorted(INDEX)
    path = tmp_path / "annotation" / "FERV39K_train.txt"
    path.parent.mkdir()
    path.write_text(f"/d/2_ClipsforFaceCrop/Action/Happy/0001 20 {alphabetical.index('Happy')}\n")
    (tmp_path / "annotation" / "FERV39K_test.txt").write_text("/d/2_ClipsforFaceCrop/Action/Sad/0002 20 1\n")
    assert "4_setups/All_scenes/train_All.csv" in formats.read("ferv39k", tmp_path).meta["split_from"]
    import shutil
    shutil.rmtree(tmp_path / "4_setups")
    with pytest.raises(DataFormatError, match=r"FERV39K_train\.txt:1: label '3' is Angry in the 0-6 order .*clip "
                                              r"Action/Happy/0001 is in a Happy folder") as err:
        formats.read("ferv39k", tmp_path)
    assert "\n" not in str(err.value)
    path.unlink()
    with pytest.raises(DataFormatError, match=r"FERV39k not found"):  # the test list alone is no setup
        formats.read("ferv39k", tmp_path)


def test_ferv39k_scene_names_are_the_22_of_the_release():
    from facessl.data.formats.ferv39k import INDEX_ORDER, SCENES as ALL_SCENES

    assert len(set(ALL_SCENES)) == 22 and set(SCENES) <= set(ALL_SCENES)
    assert INDEX_ORDER == INDEX  # MAE-DFER's label2idx, DFER-CLIP's class_names_7, EmoCLIP's FERV39K CLASSES
