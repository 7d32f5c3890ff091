"""Aff-Wild2 read in its ABAW layout (Annotations/EXPR_Recognition_Challenge/Train_Set/<video>.txt,
AU_Detection_Challenge/, cropped_aligned/<video>/00001.jpg), and both tasks run on it end to end.

Every fixture is written here from the documented layout (tiny JPEGs), never from the real data.
"""
import numpy as np
import pytest

from eval_toys import ToyEncoder
from image_toys import write
from facessl.data import formats
from facessl.data.formats.affwild2 import AU_HEADER, EXPR_HEADER, subject_of
from facessl.data.formats.imagefiles import save_image
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import au, runner
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

RNG = np.random.default_rng(11)
FAST = EvalOptions(seeds=1, epochs=4, weight_decays=(0.0,), supervised_epochs=1, device="cpu", quiet=True)
FRAMES = 12
TRAIN = ("10-30-640x480_left", "10-30-640x480_right", "vidA")  # a video with two people, and one with one
VALIDATION = ("video45_2", "video7")  # video45_2: part 2 of a video cut into parts; its crops in the new-50 folder
INDEX = {v: i for i, v in enumerate(TRAIN + VALIDATION)}
UNANNOTATED = {("vidA", 1), ("vidA", 2), ("video7", 12)}  # (video, frame) written as -1
NO_CROP = ("vidA", 6)  # no face found in this frame: the release has no crop for it


def expr_code(video, frame):
    return -1 if (video, frame) in UNANNOTATED else (frame + INDEX[video]) % 8  # every class, Other included


def au_codes(video, frame):
    if (video, frame) in UNANNOTATED:
        return [-1] * 12
    return [(frame + k + INDEX[video]) % 2 for k in range(12)]  # both values of every AU in every video


def annotation(root, challenge, folder, video, header, lines, annotations="Annotations", **kw):
    write(root / annotations / challenge / folder / f"{video}.txt", "\n".join([header] + lines) + "\n", **kw)


def crops(root, video, folder="cropped_aligned", frames=range(1, FRAMES + 1)):
    for frame in frames:
        if (video, frame) != NO_CROP:
            path = root / folder / video / f"{frame:05d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(path, RNG.integers(0, 256, size=(12, 12, 3), dtype=np.uint8))


def small_affwild2(root):
    """Both challenges, both sets; video45_2's files with CRLF + BOM and its crops in the new-50 folder."""
    for folder, videos in (("Train_Set", TRAIN), ("Validation_Set", VALIDATION)):
        for video in videos:
            style = {"crlf": True, "bom": True} if video == "video45_2" else {}
            frames = range(1, FRAMES + 1)
            annotation(root, "EXPR_Recognition_Challenge", folder, video, EXPR_HEADER,
                       [str(expr_code(video, f)) for f in frames], **style)
            annotation(root, "AU_Detection_Challenge", folder, video, AU_HEADER,
                       [",".join(map(str, au_codes(video, f))) for f in frames], **style)
            crops(root, video, "cropped_aligned_new_50_vids" if video == "video45_2" else "cropped_aligned")


def kept_frames(video, every=1):
    annotated = [f for f in range(1, FRAMES + 1) if (video, f) not in UNANNOTATED]
    return [f for f in annotated[::every] if (video, f) != NO_CROP]


def test_expression_labels_splits_subjects_and_dropped(tmp_path):
    small_affwild2(tmp_path)
    got = formats.read("affwild2-expr", tmp_path, every=1)
    videos = TRAIN + VALIDATION
    assert got.labels["video"].tolist() == [v for v in videos for _ in kept_frames(v)]
    assert got.labels["frame"].tolist() == [f for v in videos for f in kept_frames(v)]
    assert len(got) == 12 + 12 + 9 + 12 + 11 and got.dropped == {"unannotated": 3, "no_crop": 1}
    assert got.labels["class"].tolist() == [expr_code(v, f) for v in videos for f in kept_frames(v)]
    assert got.meta["class_names"] == ["neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise",
                                       "other"]
    assert "expression" not in got.labels  # 'other' has no place in facessl's seven expressions
    assert "Validation_Set = test" in got.meta["split_from"]
    assert got.split.tolist() == ["train"] * 33 + ["test"] * 23
    assert sorted(set(got.labels["subject"])) == ["10-30-640x480", "vidA", "video45", "video7"]
    assert got.images[0].endswith("cropped_aligned/10-30-640x480_left/00001.jpg")
    assert got.images[33].endswith("cropped_aligned_new_50_vids/video45_2/00001.jpg")


def test_every_keeps_every_kth_annotated_frame_of_each_file(tmp_path):
    small_affwild2(tmp_path)
    default = formats.read("affwild2-expr", tmp_path)  # every 10th by default
    assert default.labels["frame"].tolist() == [1, 11, 1, 11, 3, 1, 11, 1, 11]
    thinned = formats.read("affwild2-expr", tmp_path, every=3)
    assert thinned.labels["frame"][thinned.labels["video"] == "vidA"].tolist() == [3, 9, 12]  # 6: no crop
    assert thinned.dropped == {"unannotated": 3, "no_crop": 1}
    for bad in (0, "2x", 1.5):
        with pytest.raises(FacesslError, match="every must be a whole number >= 1"):
            formats.read("affwild2-expr", tmp_path, every=bad)


def test_other_dropped_gives_facessl_expressions(tmp_path):
    small_affwild2(tmp_path)
    got = formats.read("affwild2-expr", tmp_path, every=1, other=False)
    videos = TRAIN + VALIDATION
    others = sum(expr_code(v, f) == 7 for v in videos for f in range(1, FRAMES + 1))
    assert got.dropped == {"unannotated": 3, "no_crop": 1, "other": others} and 7 not in got.labels["class"]
    assert got.meta["class_names"] == ["neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    names = np.array(got.meta["class_names"])[got.labels["class"]]
    assert np.array(EXPRESSIONS)[got.labels["expression"]].tolist() == names.tolist()
    assert len(formats.read("affwild2-expr", tmp_path, every=1, other="false")) == len(got)


def test_au_occurrences_split_option_and_subjects(tmp_path):
    small_affwild2(tmp_path)
    got = formats.read("affwild2-au", tmp_path, every=1)
    assert got.labels["aus"].shape == (56, 12) and got.labels["aus"].dtype == np.float32
    assert got.meta["au_names"] == AU_HEADER.split(",") and got.meta["au_labels"] == "occurrence"
    assert got.dropped == {"unannotated": 3, "no_crop": 1}
    np.testing.assert_array_equal(got.labels["aus"][24:33], [au_codes("vidA", f) for f in kept_frames("vidA")])
    assert got.labels["partition"].tolist() == ["train"] * 33 + ["validation"] * 23
    assert got.split.tolist() == ["train"] * 33 + ["test"] * 23 and got.meta["au_protocol"] == "split"
    task = au.build(got, None, EvalOptions())  # ABAW's protocol: one fold, Train_Set -> Validation_Set
    assert len(task.folds) == 1 and task.folds[0].test.index.tolist() == list(range(33, 56))
    assert got.labels["subject"][:24].tolist() == ["10-30-640x480"] * 24  # the left and right person: one group
    train = formats.read("affwild2-au", tmp_path, every=1, split="train")
    assert len(train) == 33 and set(train.labels["video"]) == set(TRAIN)
    assert train.split is None and "au_protocol" not in train.meta  # task au cross-validates it by subject
    validation = formats.read("affwild2-au", tmp_path, every=1, split="Validation")
    assert set(validation.labels["video"]) == set(VALIDATION) and validation.dropped["unannotated"] == 1
    with pytest.raises(FacesslError, match="split must be one of all, train, validation, got 'test'"):
        formats.read("affwild2-au", tmp_path, split="test")


def test_subjects_of_annotation_names():
    assert subject_of("10-60-1280x720_right") == "10-60-1280x720"
    assert subject_of("video45_7") == subject_of("video45_1") == "video45"
    assert subject_of("122-60-1920x1080-3") == "122-60-1920x1080"
    assert subject_of("video10_1_left") == "video10" and subject_of("118-30-640x480") == "118-30-640x480"


def test_earlier_editions_and_nested_folders(tmp_path):
    """ABAW 2020: annotations/EXPR_Set/Training_Set with 7 classes, AU_Set with 8 AUs; root two folders up;
    crops unzipped into cropped_aligned/cropped_aligned/."""
    root = tmp_path / "data"
    base = root / "Aff-Wild2"
    header7 = EXPR_HEADER.removesuffix(",Other")
    au8 = "AU1,AU2,AU4,AU6,AU12,AU15,AU20,AU25"
    for folder, video in (("Training_Set", "vidA"), ("Validation_Set", "video7")):
        annotation(base, "EXPR_Set", folder, video, header7, ["0", "3", "-1", "6"], annotations="annotations")
        annotation(base, "AU_Set", folder, video, au8, ["0,1,0,1,0,1,0,1", "-1,-1,-1,-1,-1,-1,-1,-1"],
                   annotations="annotations")
        crops(base, video, "cropped_aligned/cropped_aligned", range(1, 5))
    got = formats.read("affwild2-expr", root, every=1)
    assert got.meta["class_names"] == ["neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    assert got.labels["class"].tolist() == [0, 3, 6] * 2 and got.dropped == {"unannotated": 2, "no_crop": 0}
    assert [EXPRESSIONS[e] for e in got.labels["expression"][:3]] == ["neutral", "fear", "surprise"]
    assert got.images[0].endswith("cropped_aligned/cropped_aligned/vidA/00001.jpg")
    aus = formats.read("affwild2-au", root, every=1)
    assert aus.meta["au_names"] == au8.split(",") and aus.labels["aus"].shape == (2, 8)


def test_missing_crop_folder_and_folders_not_found(tmp_path):
    with pytest.raises(DataFormatError, match="Aff-Wild2 folder not found"):
        formats.read("affwild2-expr", tmp_path / "nowhere")
    with pytest.raises(DataFormatError, match="expression annotations not found .*EXPR_Recognition_Challenge"):
        formats.read("affwild2-expr", tmp_path)
    annotation(tmp_path, "AU_Detection_Challenge", "Train_Set", "vidA", AU_HEADER, ["0," * 11 + "1"])
    with pytest.raises(DataFormatError, match="Aff-Wild2 face crops not found"):
        formats.read("affwild2-au", tmp_path, split="train")
    small_affwild2(tmp_path)
    for path in sorted((tmp_path / "cropped_aligned" / "video7").iterdir()):
        path.unlink()
    (tmp_path / "cropped_aligned" / "video7").rmdir()
    with pytest.raises(DataFormatError, match=r"video7.txt: no crop folder video7/ in .*--skip-missing"):
        formats.read("affwild2-expr", tmp_path)
    skipped = formats.read("affwild2-expr", tmp_path, every=1, skip_missing=True)
    assert skipped.dropped == {"unannotated": 3, "no_crop": 1, "missing_video": 11}
    (tmp_path / "Annotations/EXPR_Recognition_Challenge/Validation_Set/video7.txt").unlink()
    (tmp_path / "Annotations/EXPR_Recognition_Challenge/Validation_Set/video45_2.txt").unlink()
    with pytest.raises(DataFormatError, match=r"Validation_Set: no annotation files"):
        formats.read("affwild2-expr", tmp_path)


def test_errors_name_file_and_line(tmp_path):
    small_affwild2(tmp_path)
    expr = "EXPR_Recognition_Challenge"
    annotation(tmp_path, expr, "Train_Set", "vidA", "Neutral,Anger,Happy", ["0"])
    with pytest.raises(DataFormatError, match=r"vidA.txt:1: expected the header 'Neutral,Anger,.*,Other'.*got "
                                              r"'Neutral,Anger,Happy'") as err:
        formats.read("affwild2-expr", tmp_path)
    assert "\n" not in str(err.value)
    annotation(tmp_path, expr, "Train_Set", "vidA", EXPR_HEADER, ["0", "1", "9"])
    with pytest.raises(DataFormatError, match=r"vidA.txt:4: expected a class index 0..7 or -1 \(not annotated\), "
                                              r"got '9'"):
        formats.read("affwild2-expr", tmp_path)
    annotation(tmp_path, expr, "Train_Set", "vidA", EXPR_HEADER, ["0", "1,2"])
    with pytest.raises(DataFormatError, match=r"vidA.txt:3: expected one value \(class\), got 2"):
        formats.read("affwild2-expr", tmp_path)
    annotation(tmp_path, expr, "Train_Set", "vidA", EXPR_HEADER, ["0", "", "1"])
    with pytest.raises(DataFormatError, match=r"vidA.txt:3: empty line"):
        formats.read("affwild2-expr", tmp_path)
    annotation(tmp_path, expr, "Train_Set", "vidA", EXPR_HEADER.removesuffix(",Other"), ["0"])
    with pytest.raises(DataFormatError, match=r"vidA.txt:1: the header lists neutral,.*,surprise but "
                                              r"10-30-640x480_left.txt lists .*,other; one read needs one label list"):
        formats.read("affwild2-expr", tmp_path)
    au_folder = "AU_Detection_Challenge"
    annotation(tmp_path, au_folder, "Train_Set", "vidA", EXPR_HEADER, ["0"])
    with pytest.raises(DataFormatError, match=r"vidA.txt:1: expected a header of AU names such as 'AU1,AU2,"):
        formats.read("affwild2-au", tmp_path)
    annotation(tmp_path, au_folder, "Train_Set", "vidA", AU_HEADER, ["0," * 11 + "1", "0,1"])
    with pytest.raises(DataFormatError, match=r"vidA.txt:3: expected 12 comma-separated values \(AU1,AU2,.*\), got 2"):
        formats.read("affwild2-au", tmp_path)
    annotation(tmp_path, au_folder, "Train_Set", "vidA", AU_HEADER, ["0,0,2" + ",0" * 9])
    with pytest.raises(DataFormatError, match=r"vidA.txt:2: expected 0, 1 or -1 \(not annotated\) for AU4, got '2'"):
        formats.read("affwild2-au", tmp_path)
    annotation(tmp_path, au_folder, "Train_Set", "vidA", AU_HEADER, ["0,x" + ",0" * 10])
    with pytest.raises(DataFormatError, match=r"vidA.txt:2: expected 0, 1 or -1 \(not annotated\) for AU2, got 'x'"):
        formats.read("affwild2-au", tmp_path)


def test_au_task_cross_validates_by_video_end_to_end(tmp_path):
    small_affwild2(tmp_path)
    data = formats.read("affwild2-au", tmp_path, every=1)
    task = au.build(data, None, EvalOptions())
    assert task.info["subjects"] == 4 and task.info["positive"] == "occurrence >= 0.5"
    for fold in task.folds:  # the two people of one video always on one side
        test_subjects = set(data.labels["subject"][fold.test.index])
        assert not test_subjects & set(data.labels["subject"][fold.train.index])
    spec = TaskSpec("", f"affwild2-au:{tmp_path}", options={"every": 1})
    assert spec.task == "au"
    result = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())["tasks"][0]
    assert result["info"]["aus"] == AU_HEADER.split(",")
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) >= {"f1_AU1", "f1_AU26", "f1_mean", "auc_mean"}


def test_expression_classification_end_to_end(tmp_path):
    small_affwild2(tmp_path)
    spec = TaskSpec("", f"affwild2-expr:{tmp_path}", options={"every": 1})
    assert spec.task == "classification"
    result = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())["tasks"][0]
    assert result["info"]["class_names"][-1] == "other" and "Validation_Set = test" in result["info"]["split"]
    assert result["info"]["train_rows"] == 33 and result["info"]["test_rows"] == 23
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) == {"accuracy", "mean_class_accuracy", "macro_f1"}


def va_pair(video, frame):
    """-5,-5 where not annotated; else both ends of [-1, 1] and values between, different per video and frame."""
    if (video, frame) in UNANNOTATED:
        return (-5.0, -5.0)
    return (round(-1 + (frame - 1) / (FRAMES - 1) * 2, 3), round(((frame + INDEX[video]) % 5) / 4 - 0.5, 3))


def small_va(root, challenge="VA_Estimation_Challenge", train="Train_Set"):
    """The VA track as ABAW lays it out; video45_2's file with CRLF + BOM, its crops in the new-50 folder."""
    for folder, videos in ((train, TRAIN), ("Validation_Set", VALIDATION)):
        for video in videos:
            style = {"crlf": True, "bom": True} if video == "video45_2" else {}
            lines = [f"{v:g},{a:g}" for v, a in (va_pair(video, f) for f in range(1, FRAMES + 1))]
            annotation(root, challenge, folder, video, "valence,arousal", lines, **style)
            crops(root, video, "cropped_aligned_new_50_vids" if video == "video45_2" else "cropped_aligned")


def test_va_targets_splits_subjects_and_dropped(tmp_path):
    small_va(tmp_path)
    annotation(tmp_path, "VA_Estimation_Challenge", "Train_Set", "vidA", "valence,arousal",
               [f"{v:g},{a:g}" for v, a in (va_pair("vidA", f) for f in range(1, FRAMES + 1))][:-1] + ["0.5,-5"])
    data = formats.read("affwild2-va", tmp_path, every=1)
    assert data.meta["target_columns"] == ["valence", "arousal"] and data.labels["target"].shape == (len(data), 2)
    assert data.dropped == {"unannotated": 4, "no_crop": 1}  # 3 written -5,-5, one with arousal -5 only
    rows = list(zip(data.labels["video"], data.labels["frame"]))
    expected = [(v, f) for v in TRAIN + VALIDATION for f in kept_frames(v) if (v, f) != ("vidA", FRAMES)]
    assert sorted(rows) == sorted(expected)
    for (video, frame), target in zip(rows, data.labels["target"]):
        assert tuple(target) == pytest.approx(va_pair(video, frame))
    assert data.labels["target"].min() == -1 and data.labels["target"].max() == 1  # the ends are values, not markers
    assert set(data.split[data.labels["video"] == "video45_2"]) == {"test"}
    assert set(data.split[data.labels["video"] == "vidA"]) == {"train"}
    assert set(data.labels["subject"]) == {"10-30-640x480", "vidA", "video45", "video7"}
    assert "Validation_Set = test" in data.meta["split_from"]
    assert len(formats.read("affwild2-va", tmp_path, every=5)) < len(data)


def test_va_earlier_edition_and_errors(tmp_path):
    small_va(tmp_path / "a", challenge="VA_Set", train="Training_Set")  # ABAW 2020
    old = formats.read("affwild2-va", tmp_path / "a", every=1)
    assert len(old) == 56 and old.meta["split_from"].startswith("Aff-Wild2 VA_Set")
    assert set(old.split) == {"train", "test"}
    root = tmp_path / "b"
    crops(root, "vidA")
    annotation(root, "VA_Estimation_Challenge", "Validation_Set", "vidA", "valence,arousal", ["0.1,0.2"])
    annotation(root, "VA_Estimation_Challenge", "Train_Set", "vidA", "arousal,valence", ["0.1,0.2"])
    with pytest.raises(DataFormatError, match=r"vidA.txt:1: expected the header 'valence,arousal'"):
        formats.read("affwild2-va", root)
    for line, message in (("0.1,1.5", r"vidA.txt:3: expected arousal in \[-1, 1\] or -5 \(not annotated\), got 1.5"),
                          ("0.1", r"vidA.txt:3: expected 2 comma-separated values \(valence,arousal\), got 1"),
                          ("x,0", r"vidA.txt:3: expected a number for valence, got 'x'")):
        annotation(root, "VA_Estimation_Challenge", "Train_Set", "vidA", "valence,arousal", ["0,0", line])
        with pytest.raises(DataFormatError, match=message):
            formats.read("affwild2-va", root)
    with pytest.raises(DataFormatError, match="valence / arousal annotations not found.*VA_Estimation_Challenge"):
        formats.read("affwild2-va", tmp_path / "a" / "cropped_aligned")


def test_va_regression_end_to_end(tmp_path):
    small_va(tmp_path)
    spec = TaskSpec("", f"affwild2-va:{tmp_path}", options={"every": 1})
    assert spec.task == "regression"
    result = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())["tasks"][0]
    assert result["info"]["columns"] == ["valence", "arousal"] and "Validation_Set = test" in result["info"]["split"]
    assert result["info"]["train_rows"] + result["info"]["val_rows"] == 33 and result["info"]["test_rows"] == 23
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) == {"mae_valence", "mae_arousal", "mae", "ccc_valence",
                                                                  "ccc_arousal", "ccc"}  # ABAW scores VA by CCC
