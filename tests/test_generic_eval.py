"""Evaluation on a user's own labelled faces: classification / regression / landmarks task kinds, macro F1,
floor rows, and `facessl eval --dataset imagefolder:... | csv:...` with its one-line errors."""
import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

import facessl
from eval_toys import ToyEncoder, landmark_set
from facessl.cli import main
from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import save_image
from facessl.evaluate import metrics, runner, tables
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

FAST = EvalOptions(seeds=2, epochs=4, supervised_epochs=1, device="cpu", quiet=True)
CLI_FAST = ["--seeds", "1", "--epochs", "3", "--baselines", "random", "--device", "cpu", "--quiet", "--no-cache"]


@pytest.mark.parametrize("seed", range(5))
def test_macro_f1_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 5, 60)
    pred = np.where(rng.random(60) < 0.5, true, rng.integers(0, 6, 60))  # class 5 only ever predicted
    assert metrics.macro_f1(pred, true) == pytest.approx(f1_score(true, pred, average="macro"))


def imbalanced_set(n=200, size=16, seed=0):
    """3 colour classes, 70 % of rows class 0; groups of 4 rows; a given train/test split."""
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 3, n))
    colours = np.array([[60, 60, 60], [200, 80, 80], [80, 80, 200]])
    images = np.clip(colours[y][:, None, None, :] + rng.normal(0, 30, (n, size, size, 3)), 0, 255).astype(np.uint8)
    split = np.where(np.arange(n) % 5 == 0, "test", "train")
    meta = {"class_names": ["neutral", "angry", "sad"], "split_from": "toy"}
    return ImageSet(images, {"class": y, "group": np.arange(n) // 4}, split, "toy-own", meta=meta)


def test_classification_rows_metrics_and_majority_floor():
    data = imbalanced_set()
    results = runner.evaluate(ToyEncoder(), [TaskSpec("", "csv:/own")], FAST, baselines=("random",),
                              datasets={"csv:/own": data})
    rows = results["tasks"][0]["rows"]
    fs = rows["checkpoint"]["fs"]["metrics"]
    assert set(fs) == {"accuracy", "mean_class_accuracy", "macro_f1"} and len(fs["macro_f1"]["per_seed"]) == 2
    floor = rows["floor"]["majority class"]["metrics"]
    y_test = data.labels["class"][data.split == "test"]
    assert floor["accuracy"]["mean"] == pytest.approx(np.mean(y_test == 0))
    assert floor["mean_class_accuracy"]["mean"] == pytest.approx(1 / 3)
    assert fs["mean_class_accuracy"]["mean"] > floor["mean_class_accuracy"]["mean"] + 0.3  # colours are linear
    md = tables.render(results)
    assert "Classification" in md and "macro F1" in md and "| floor | majority class |" in md


def test_a_generic_sets_groups_keep_people_out_of_the_probes_validation_carve(monkeypatch):
    """The selection carve of a CSV / image-folder set is grouped like its split: a person's photos on both
    sides of it would select the probe on faces it was fitted on (measured on the shared photos: a carve
    score of 54 % against 37 % on the grouped test split)."""
    from facessl.evaluate import probes, splits

    carves = []

    def spy(n, fraction, rng, groups=None, stratify=None):
        carves.append((groups, *splits.carve_validation(n, fraction, rng, groups, stratify)))
        return carves[-1][1:]

    monkeypatch.setattr(probes, "carve_validation", spy)
    data = imbalanced_set()
    runner.evaluate(ToyEncoder(), [TaskSpec("", "csv:/own")], FAST, baselines=(), datasets={"csv:/own": data})
    assert carves
    for groups, fit, val in carves:
        assert groups is not None and not set(groups[fit]) & set(groups[val])


def test_regression_mae_per_column_and_mean_floor():
    data = imbalanced_set()
    rng = np.random.default_rng(1)
    target = np.stack([data.images[:, :, :, 0].mean((1, 2)) / 10, rng.normal(0, 1, len(data))], 1)
    data = ImageSet(data.images, {"target": target, "group": data.labels["group"]}, data.split, "toy-reg",
                    meta={"target_columns": ["redness", "noise"]})
    results = runner.evaluate(ToyEncoder(), [TaskSpec("regression", "csv:/reg")], FAST, baselines=(),
                              datasets={"csv:/reg": data})
    rows = results["tasks"][0]["rows"]
    train, test = target[data.split == "train"], target[data.split == "test"]
    floor = rows["floor"]["mean prediction"]["metrics"]
    np.testing.assert_allclose(floor["mae_noise"]["mean"], np.abs(test[:, 1] - train[:, 1].mean()).mean())
    assert rows["checkpoint"]["fs"]["metrics"]["mae_redness"]["mean"] < 0.5 * floor["mae_redness"]["mean"]
    assert "| redness | noise | MAE |" in tables.render(results)


def test_landmarks_any_point_count_uses_box_nme_and_mean_shape_floor():
    data = landmark_set(k=3)
    results = runner.evaluate(ToyEncoder(), [TaskSpec("landmarks", "csv:/lm")], FAST, baselines=(),
                              datasets={"csv:/lm": data})
    task = results["tasks"][0]
    assert "box" in task["info"]["normaliser"] and "nme" not in task["rows"]["floor"]["mean prediction"]["metrics"]
    pts = data.labels["landmarks"]
    train, test = pts[data.split == "train"], pts[data.split == "test"]
    expected = metrics.nme(np.repeat(train.mean(0, keepdims=True), len(test), 0), test, normaliser="box")
    assert task["rows"]["floor"]["mean prediction"]["metrics"]["nme_box"]["mean"] == pytest.approx(expected)


@pytest.fixture
def own_csv(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    rng = np.random.default_rng(0)
    (tmp_path / "photos").mkdir()
    lines = ["user.id,image,emotion"]
    for i in range(60):
        label = ("happy", "sad", "angry")[i % 3]
        colour = {"happy": 200, "sad": 60, "angry": 130}[label]
        save_image(tmp_path / "photos" / f"S{i % 12:02d}_{i:03d}.png",
                   np.clip(colour + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8))
        lines.append(f"7,S{i % 12:02d}_{i:03d}.png,{label}")
    (tmp_path / "legend.csv").write_text("\r\n".join(lines) + "\r\n")
    return tmp_path


def test_eval_cli_csv_and_imagefolder(own_csv):
    out = own_csv / "out"
    assert main(["eval", "--checkpoint", str(own_csv / "run"), "--dataset", f"csv:{own_csv / 'legend.csv'}",
                 "--images", str(own_csv / "photos"), "--label-column", "emotion", "--group", r"^(S\d+)_",
                 "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"] == ["angry", "happy", "sad"]
    assert "grouped by --group '^(S\\d+)_'" in task["info"]["split"]  # the pattern as typed, not its repr
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["mean_class_accuracy"]["mean"] > 0.55  # chance: 1/3
    assert ("weight decay (of 0, 0.01, 0.1, 1, 10) at the last epoch chosen on a validation split (the dataset's own "
            "where it gives one, else carved from the training data, grouped by person where the data names one); for "
            "classes by the validation cross-entropy") in \
        (out / "results.md").read_text().replace("\n", " ")
    for i, path in enumerate(sorted((own_csv / "photos").iterdir())):  # the same faces as class folders
        label = ("happy", "sad", "angry")[int(path.stem.split("_")[1]) % 3]
        (own_csv / "folders" / label).mkdir(parents=True, exist_ok=True)
        (own_csv / "folders" / label / path.name).symlink_to(path)
    assert main(["eval", "--checkpoint", str(own_csv / "run"), "--dataset", f"imagefolder:{own_csv / 'folders'}",
                 "--group", r"^(S\d+)_", "--out", str(own_csv / "out2"), *CLI_FAST]) == 0
    md = (own_csv / "out2" / "results.md").read_text()
    assert "| floor | majority class |" in md


@pytest.mark.parametrize("extra,message", [
    (["--label-column", "mood"], "no column 'mood'; the header has 'user.id', 'image', 'emotion'"),
    (["--label-column", "emotion", "--images", "/nonexistent"], "/nonexistent: image folder (--images) does not exist"),
    (["--label-column", "emotion", "--pairs", "x.txt"], "--pairs does not apply to format 'csv'"),
    (["--label-column", "emotion", "--reader-option", "every=5"], "reader option 'every' does not apply to format 'csv'"),
    (["--label-column", "emotion", "--reader-option", "every"], "--reader-option 'every': expected KEY=VALUE"),
    (["--reader-option", "label_column=emotion", "--label-column", "emotion"], "label_column is already given"),
])
def test_eval_cli_errors_are_one_line(own_csv, capsys, extra, message):
    images = [] if "--images" in extra else ["--images", str(own_csv / "photos")]
    code = main(["eval", "--checkpoint", str(own_csv / "run"), "--dataset", f"csv:{own_csv / 'legend.csv'}",
                 *images, "--out", str(own_csv / "bad"), *CLI_FAST, *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]


def test_missing_image_in_a_users_csv_is_named(own_csv, capsys):
    (own_csv / "photos" / "S00_000.png").unlink()
    code = main(["eval", "--checkpoint", str(own_csv / "run"), "--dataset", f"csv:{own_csv / 'legend.csv'}",
                 "--images", str(own_csv / "photos"), "--label-column", "emotion", "--out", str(own_csv / "bad"), *CLI_FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "legend.csv:2: image" in err[0] and "S00_000.png" in err[0]


def test_a_few_undecodable_images_are_skipped_counted_and_named(own_csv, capsys):
    (own_csv / "photos" / "S03_003.png").write_bytes((own_csv / "photos" / "S03_003.png").read_bytes()[:60])  # cut short
    (own_csv / "photos" / "S04_004.png").write_text("<html>404 Not Found</html>")  # a web page saved as an image
    args = ["eval", "--checkpoint", str(own_csv / "run"), "--dataset", f"csv:{own_csv / 'legend.csv'}",
            "--images", str(own_csv / "photos"), "--label-column", "emotion", *[a for a in CLI_FAST if a != "--quiet"]]
    for flag, out in (([], "found"), (["--skip-missing"], "checked")):  # found while extracting, or checked before
        assert main([*args, "--out", str(own_csv / out), *flag]) == 0
        task = json.loads((own_csv / out / "results.json").read_text())["tasks"][0]
        assert task["info"]["dropped"] == {"undecodable image": 2}
        assert task["info"]["train_rows"] + task["info"]["val_rows"] + task["info"]["test_rows"] == 58
        assert "rows skipped by the reader: undecodable image 2" in (own_csv / out / "results.md").read_text()
    err = capsys.readouterr().err
    assert err.count("cannot decode; checking every image of the task") == 1
    assert err.count("skipped 2 undecodable image") == 2


def test_many_undecodable_images_stop_the_task(own_csv, capsys):
    for path in sorted((own_csv / "photos").glob("*.png"))[:12]:  # 12 of 60: not a few damaged files
        path.write_bytes(b"\x00\x00\x00\x1cftypheic")  # an HEIC photo Pillow cannot read
    code = main(["eval", "--checkpoint", str(own_csv / "run"), "--dataset", f"csv:{own_csv / 'legend.csv'}",
                 "--images", str(own_csv / "photos"), "--label-column", "emotion", "--out", str(own_csv / "bad"),
                 *CLI_FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "12 of 60 images" in err[-1] and "do not decode, too many to be damaged files" in err[-1]


def test_pairs_that_use_an_undecodable_image_are_dropped_and_counted(tmp_path):
    from facessl.data.formats.common import ImageSet, PairSet
    from facessl.data.formats.decodable import drop_undecodable

    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"p{i}.png"))
        save_image(paths[-1], np.full((8, 8, 3), 40 * i, np.uint8))
    (tmp_path / "p2.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    pairs = PairSet(ImageSet(paths, {"identity": np.array([0, 0, 1, 1])}), np.array([[0, 1], [2, 3], [0, 3], [1, 2]]),
                    np.array([True, True, False, False]), np.array([0, 0, 1, 1]), "toy")
    kept = drop_undecodable(pairs)
    assert kept.images.images == [paths[0], paths[1], paths[3]]
    np.testing.assert_array_equal(kept.pairs, [[0, 1], [0, 2]])  # re-indexed onto the kept images
    np.testing.assert_array_equal(kept.same, [True, False])
    np.testing.assert_array_equal(kept.fold, [0, 1])
    assert kept.dropped == {"undecodable image": 1, "pair with an undecodable image": 2}
    np.testing.assert_array_equal(kept.images.labels["identity"], [0, 0, 1])


def test_a_single_class_dataset_is_an_error_not_a_perfect_score(own_csv, capsys):
    lines = (own_csv / "legend.csv").read_text().splitlines()
    single = [lines[0]] + [",".join(line.split(",")[:2] + ["happy"]) for line in lines[1:]]
    (own_csv / "single.csv").write_text("\n".join(single) + "\n")
    code = main(["eval", "--checkpoint", str(own_csv / "run"), "--dataset", f"csv:{own_csv / 'single.csv'}",
                 "--images", str(own_csv / "photos"), "--label-column", "emotion", "--out", str(own_csv / "bad"),
                 *CLI_FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "at least 2 classes" in err[0] and "'happy'" in err[0]


def test_eval_cli_min_class_count_names_the_classes_left_out(own_csv):
    # a class of two photos, copies under new names (a row naming a listed photo with another label is a conflict)
    for src, dst in (("S00_000.png", "S00_900.png"), ("S01_001.png", "S01_901.png")):
        (own_csv / "photos" / dst).write_bytes((own_csv / "photos" / src).read_bytes())
    with (own_csv / "legend.csv").open("a") as f:
        f.write("7,S00_900.png,contempt\r\n7,S01_901.png,contempt\r\n")
    out = own_csv / "out"
    assert main(["eval", "--checkpoint", str(own_csv / "run"), "--dataset", f"csv:{own_csv / 'legend.csv'}",
                 "--images", str(own_csv / "photos"), "--label-column", "emotion", "--group", r"^(S\d+)_",
                 "--min-class-count", "5", "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["info"]["class_names"] == ["angry", "happy", "sad"]
    assert task["info"]["left_out_classes"] == {"contempt": 2}
    assert "classes left out (fewer images than --min-class-count): contempt (2)" in (out / "results.md").read_text()


def test_eval_cli_on_ferplus_png_folders(tmp_path, monkeypatch):
    """`--dataset ferplus:DIR` runs as a classification task over FER+'s eight classes, its splits as given."""
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    rng = np.random.default_rng(0)
    for folder, n in (("FER2013Train", 40), ("FER2013Valid", 10), ("FER2013Test", 12)):
        (tmp_path / "fp" / folder).mkdir(parents=True)
        rows = []
        for i in range(n):
            c = i % 3
            save_image(tmp_path / "fp" / folder / f"fer{folder}{i}.png",
                       np.clip(60 * c + 40 + rng.normal(0, 10, (12, 12)), 0, 255).astype(np.uint8))
            votes = [0] * 10
            votes[c], votes[8] = 8, 2
            rows.append(f'fer{folder}{i}.png,"(0, 0, 48, 48)",' + ",".join(map(str, votes)))
        (tmp_path / "fp" / folder / "label.csv").write_text("\n".join(rows) + "\n")
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"ferplus:{tmp_path / 'fp'}",
                 "--out", str(tmp_path / "out"), *CLI_FAST]) == 0
    task = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"][7] == "contempt"
    assert (task["info"]["train_rows"], task["info"]["val_rows"], task["info"]["test_rows"]) == (40, 10, 12)
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["mean_class_accuracy"]["mean"] > 0.55  # chance: 1/3


def write_affectnet(root, photos):
    """AffectNet's layout: Manually_Annotated_Images/7/<i>.jpg and training.csv / validation.csv (every fifth photo)
    with `photos` = [(image, the row's columns after the file path)]."""
    head = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
    lists = {"training.csv": [head], "validation.csv": [head]}
    (root / "Manually_Annotated_Images" / "7").mkdir(parents=True)
    for i, (image, columns) in enumerate(photos):
        save_image(root / "Manually_Annotated_Images" / "7" / f"{i}.jpg", image)
        lists["validation.csv" if i % 5 == 0 else "training.csv"].append(f"7/{i}.jpg,{columns}")
    for name, rows in lists.items():
        (root / name).write_text("\n".join(rows) + "\n")


def test_eval_cli_on_affectnet_lists_reads_the_face_boxes(tmp_path, monkeypatch):
    """`--dataset affectnet:DIR` end to end over faces given as boxes in full photos (that the crop is the box is
    checked in test_formats_layouts)."""
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    rng = np.random.default_rng(0)
    photos = []
    for i in range(60):
        code = (0, 1, 6)[i % 3]
        photo = np.full((48, 64, 3), rng.integers(0, 256), np.uint8)  # a background of any brightness
        x, y = rng.integers(0, 40), rng.integers(0, 24)
        photo[y:y + 20, x:x + 20] = np.clip({0: 60, 1: 200, 6: 130}[code] + rng.normal(0, 10, (20, 20, 3)), 0, 255)
        photos.append((photo, f'{x},{y},20,20,"",{code},0,0'))
    write_affectnet(tmp_path / "an", photos)
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"affectnet:{tmp_path / 'an'}",
                 "--out", str(tmp_path / "out"), *CLI_FAST]) == 0
    task = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"][0]
    assert task["info"]["class_names"][:2] == ["neutral", "happiness"] and task["info"]["test_rows"] == 12
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["mean_class_accuracy"]["mean"] > 0.6  # chance: 1/3


def test_eval_cli_on_affectnet_valence_arousal_is_regression(tmp_path, monkeypatch):
    """`--reader-option target=valence_arousal` reads the lists' valence,arousal columns: task regression by default,
    rows with -2 (not given) skipped."""
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    rng = np.random.default_rng(0)
    photos = []
    for i in range(60):
        valence = round(float(rng.uniform(-1, 1)), 3)
        face = np.clip(128 + 100 * valence + rng.normal(0, 5, (20, 20, 3)), 0, 255).astype(np.uint8)
        va = "-2,-2" if i % 10 == 9 else f"{valence},{-valence / 2}"
        photos.append((face, f'0,0,20,20,"",1,{va}'))
    write_affectnet(tmp_path / "an", photos)
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"affectnet:{tmp_path / 'an'}",
                 "--reader-option", "target=valence_arousal", "--out", str(tmp_path / "out"), *CLI_FAST]) == 0
    task = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"][0]
    assert task["task"] == "regression" and task["info"]["columns"] == ["valence", "arousal"]
    assert task["info"]["test_rows"] == 12 and task["info"]["train_rows"] + task["info"]["val_rows"] == 42
    metrics = task["rows"]["checkpoint"]["fs"]["metrics"]
    assert metrics["mae_valence"]["mean"] < 0.3  # brightness tracks valence; predicting 0 gives ~0.5


def test_reader_options_reach_the_reader_as_yaml_values():
    from facessl.cli import build_parser
    from facessl.commands.eval import reader_options

    args = build_parser().parse_args(["eval", "--checkpoint", "run", "--out", "o", "--dataset", "bp4d:B",
                                      "--reader-option", "every=5",
                                      "--reader-option", "aus=[1, 2, 4]", "--reader-option", "protocol=FF",
                                      "--reader-option", "box-mm=220.5"])
    assert reader_options(args) == {"every": 5, "aus": [1, 2, 4], "protocol": "FF", "box_mm": 220.5}
    several = build_parser().parse_args(["eval", "--checkpoint", "run", "--dataset", "dfew:D", "--reader-option",
                                         "frames=8", "fold=2", "--out", "o", "--reader-option", "size=96"])
    assert reader_options(several) == {"frames": 8, "fold": 2, "size": 96}  # as the docs write it: one flag, two


def test_a_valence_arousal_set_reports_the_concordance_correlation_beside_the_mae():
    rng = np.random.default_rng(1)
    n = 120
    va = rng.uniform(-1, 1, (n, 2))
    images = np.clip(128 + 100 * va[:, :1, None, None] * np.ones((n, 1, 12, 12)), 0, 255).astype(np.uint8)
    images = np.repeat(images.transpose(0, 2, 3, 1), 3, axis=3)
    data = ImageSet(images, {"target": va, "group": np.arange(n)}, np.where(np.arange(n) % 4 == 0, "test", "train"),
                    "toy-va", meta={"target_columns": ["valence", "arousal"], "report_ccc": True})
    results = runner.evaluate(ToyEncoder(), [TaskSpec("regression", "csv:/va")], FAST, baselines=(),
                              datasets={"csv:/va": data})
    fs = results["tasks"][0]["rows"]["checkpoint"]["fs"]["metrics"]
    assert {"ccc_valence", "ccc_arousal", "ccc", "mae_valence"} <= set(fs)
    assert fs["ccc_valence"]["mean"] > 0.5  # the image brightness carries the valence
    assert "| CCC valence | CCC arousal | CCC |" in tables.render(results)
