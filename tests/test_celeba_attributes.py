"""CelebA's 40 attributes: the `celeba` reader in the released and Kaggle layouts, the `attributes` task
(multi-label linear probe), its metrics against scikit-learn, its floor, baselines and tables, and
`facessl eval --dataset celeba:...` end to end. Fixtures are written here from the documented layout
(docs/data_formats.md, formats/celeba.py), tiny faces whose attributes are drawn into them."""
import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data import formats
from facessl.data.formats.imagefiles import save_image
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import attributes, runner, tables
from facessl.evaluate.protocol import EvalOptions, Part
from facessl.evaluate.suite import TaskSpec

NAMES = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
         "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
         "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
         "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
         "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
SMILING, MALE = NAMES.index("Smiling"), NAMES.index("Male")
N = 48
FAST = EvalOptions(seeds=1, epochs=20, weight_decays=(0.0, 1e-2), supervised_epochs=1, device="cpu", quiet=True)
CLI_FAST = ["--seeds", "1", "--epochs", "20", "--weight-decays", "0,0.01", "--baselines", "random", "--device", "cpu",
            "--quiet", "--no-cache"]


def toy_values(n=N, seed=0) -> np.ndarray:
    """(n, 40) of -1/1: Smiling and Male alternate (so both classes are in every split), the rest at random
    and mostly absent, as most of CelebA's are."""
    rng = np.random.default_rng(seed)
    values = np.where(rng.random((n, 40)) < 0.3, 1, -1)
    values[:, SMILING] = np.where(np.arange(n) % 2 == 0, 1, -1)
    values[:, MALE] = np.where(np.isin(np.arange(n) % 4, (0, 3)), 1, -1)
    return values


def toy_face(row: np.ndarray, seed: int) -> np.ndarray:
    """16x20 (w x h, CelebA's aspect): a bright top-left square when Smiling, a red bottom half when Male."""
    rng = np.random.default_rng(seed)
    image = np.clip(90 + rng.normal(0, 12, (20, 16, 3)), 0, 255)
    if row[SMILING] == 1:
        image[:10, :8] = 245
    if row[MALE] == 1:
        image[10:, :, 0] = 230
    return image.astype(np.uint8)


def partition_of(i: int) -> int:
    return (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2)[i % 12]  # 2/3 train, 1/6 val, 1/6 test


def write_images(folder, values, suffix=".jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(values):
        save_image(folder / f"{i + 1:06d}{suffix}", toy_face(row, i))


def write_text(path, text, crlf=False, bom=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())


def attribute_txt(values, names=NAMES, count=None) -> str:
    """As released: the count, the names (with CelebA's trailing space), `000001.jpg -1  1 ...` rows."""
    rows = [f"{i + 1:06d}.jpg " + " ".join(f"{v:2d}" for v in row) for i, row in enumerate(values)]
    return f"{len(values) if count is None else count}\n" + " ".join(names) + " \n" + "\n".join(rows) + "\n"


def write_release(root, values=None, crlf=False, bom=False, partition=True):
    values = toy_values() if values is None else values
    write_images(root / "Img" / "img_align_celeba", values)
    write_text(root / "Anno" / "list_attr_celeba.txt", attribute_txt(values), crlf, bom)
    if partition:
        write_text(root / "Eval" / "list_eval_partition.txt",
                   "".join(f"{i + 1:06d}.jpg {partition_of(i)}\n" for i in range(len(values))), crlf, bom)
    return values


def write_kaggle(root, values=None):
    values = toy_values() if values is None else values
    write_images(root / "img_align_celeba" / "img_align_celeba", values)
    rows = [f"{i + 1:06d}.jpg," + ",".join(str(v) for v in row) for i, row in enumerate(values)]
    write_text(root / "list_attr_celeba.csv", "image_id," + ",".join(NAMES) + "\n" + "\n".join(rows) + "\n")
    write_text(root / "list_eval_partition.csv",
               "image_id,partition\n" + "".join(f"{i + 1:06d}.jpg,{partition_of(i)}\n" for i in range(len(values))))
    return values


def expected_split(n=N):
    return [("train", "val", "test")[partition_of(i)] for i in range(n)]


# --- the reader --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("crlf,bom", [(False, False), (True, True)])
def test_released_layout_labels_names_and_partition(tmp_path, crlf, bom):
    values = write_release(tmp_path, crlf=crlf, bom=bom)
    got = formats.read("celeba", tmp_path)
    assert got.labels["attributes"].shape == (N, 40) and got.labels["attributes"].dtype == np.float32
    np.testing.assert_array_equal(got.labels["attributes"], (values == 1).astype(np.float32))
    assert got.meta["attribute_names"] == NAMES and list(got.split) == expected_split()
    assert got.meta["split_from"] == "list_eval_partition.txt (0 train, 1 val, 2 test)"
    assert got.images[0].endswith("Img/img_align_celeba/000001.jpg") and got.dropped == {}


def test_kaggle_csv_layout_reads_the_same(tmp_path):
    values = write_kaggle(tmp_path)
    got = formats.read("celeba", tmp_path)
    np.testing.assert_array_equal(got.labels["attributes"], (values == 1).astype(np.float32))
    assert got.meta["attribute_names"] == NAMES and list(got.split) == expected_split()
    assert "img_align_celeba/img_align_celeba/000001.jpg" in got.images[0]
    assert got.meta["split_from"].startswith("list_eval_partition.csv")


def test_png_copy_is_read_for_the_listed_jpg_names(tmp_path):
    values = toy_values(12)
    write_images(tmp_path / "img_align_celeba_png", values, suffix=".png")
    write_text(tmp_path / "list_attr_celeba.txt", attribute_txt(values))
    write_text(tmp_path / "list_eval_partition.txt", "".join(f"{i + 1:06d}.jpg {partition_of(i)}\n" for i in range(12)))
    got = formats.read("celeba", tmp_path)
    assert len(got) == 12 and got.images[3].endswith("img_align_celeba_png/000004.png")


def test_attribute_subset_by_name_list_or_comma_string(tmp_path):
    values = write_release(tmp_path)
    got = formats.read("celeba", tmp_path, attributes=["Smiling", "male"])  # names in any case
    assert got.meta["attribute_names"] == ["Smiling", "Male"]
    np.testing.assert_array_equal(got.labels["attributes"], (values[:, [SMILING, MALE]] == 1).astype(np.float32))
    assert formats.read("celeba", tmp_path, attributes="Male, Smiling").meta["attribute_names"] == ["Male", "Smiling"]
    assert formats.read("celeba", tmp_path, attributes=["Male", "Male"]).labels["attributes"].shape == (N, 1)
    with pytest.raises(FacesslError, match="attributes: expected names, e.g. attributes=\\[Smiling,Male\\], got 5"):
        formats.read("celeba", tmp_path, attributes=5)


def test_limit_train_keeps_a_seeded_choice_and_every_val_and_test_image(tmp_path):
    write_release(tmp_path)
    got = formats.read("celeba", tmp_path, limit_train=5)
    counts = {s: int(np.sum(got.split == s)) for s in ("train", "val", "test")}
    assert counts == {"train": 5, "val": 8, "test": 8}
    assert got.images == formats.read("celeba", tmp_path, limit_train=5).images  # the same choice each time
    assert got.images != formats.read("celeba", tmp_path, limit_train=5, seed=1).images
    assert "training images limited to 5 of 32 (seeded 0)" in got.meta["split_from"]
    assert len(formats.read("celeba", tmp_path, limit_train=1000)) == N  # more than there are: all
    with pytest.raises(FacesslError, match="limit_train: expected a number of training images >= 1, got 0"):
        formats.read("celeba", tmp_path, limit_train=0)


def test_missing_images_error_or_are_skipped_and_counted(tmp_path):
    write_release(tmp_path)
    for name in ("000003.jpg", "000007.jpg"):
        (tmp_path / "Img" / "img_align_celeba" / name).unlink()
    with pytest.raises(DataFormatError, match=r"list_attr_celeba.txt:5: image .*000003.jpg named here does not exist"):
        formats.read("celeba", tmp_path)
    got = formats.read("celeba", tmp_path, skip_missing=True)
    assert len(got) == N - 2 and got.dropped == {"missing_image": 2}


def test_without_a_partition_file_the_split_is_seeded_and_says_so(tmp_path):
    write_release(tmp_path, partition=False)
    got = formats.read("celeba", tmp_path)
    assert set(got.split) == {"train", "test"} and int(np.sum(got.split == "test")) == round(0.2 * N)
    assert got.meta["split_from"].startswith("seeded (0) random split, 20% test (no list_eval_partition file")
    assert list(formats.read("celeba", tmp_path).split) == list(got.split)


def _replace_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("damage,message", [
    (lambda a, p: _replace_line(a, 2, " ".join(NAMES[:39])),
     r"Anno/list_attr_celeba.txt:2: expected the 40 CelebA attribute names, got 39"),
    (lambda a, p: _replace_line(a, 2, " ".join(NAMES[:39] + ["Male"])),
     r"Anno/list_attr_celeba.txt:2: attribute 'Male' is named twice"),
    (lambda a, p: _replace_line(a, 5, "000003.jpg " + " ".join(["-1"] * 39 + ["0"])),
     r"Anno/list_attr_celeba.txt:5: attribute Young: expected -1 or 1, got '0'"),
    (lambda a, p: _replace_line(a, 5, "000003.jpg " + " ".join(["-1"] * 39)),
     r"Anno/list_attr_celeba.txt:5: expected an image name and 40 values, got 40 fields"),
    (lambda a, p: _replace_line(a, 1, "202599"), r"Anno/list_attr_celeba.txt:1: first line says 202599 images, found 48"),
    (lambda a, p: _replace_line(p, 4, "000004.jpg 3"),
     r"Eval/list_eval_partition.txt:4: expected partition 0 \(train\), 1 \(val\) or 2 \(test\), got '3'"),
    (lambda a, p: _replace_line(p, 4, ""), r"Anno/list_attr_celeba.txt:6: image 000004.jpg has no line in list_eval_partition.txt"),
])
def test_malformed_lists_are_one_line_errors_naming_file_and_line(tmp_path, damage, message):
    write_release(tmp_path)
    damage(tmp_path / "Anno" / "list_attr_celeba.txt", tmp_path / "Eval" / "list_eval_partition.txt")
    with pytest.raises(DataFormatError, match=message) as caught:
        formats.read("celeba", tmp_path)
    assert "\n" not in str(caught.value)


def test_unknown_attribute_and_bad_csv_values_name_file_and_line(tmp_path):
    write_release(tmp_path / "release")
    with pytest.raises(DataFormatError, match=r"list_attr_celeba.txt:2: no attribute 'Smilling' \(did you mean "
                                              r"'Smiling'\?\); the attributes are 5_o_Clock_Shadow, "):
        formats.read("celeba", tmp_path / "release", attributes=["Smilling"])
    write_kaggle(tmp_path / "kaggle")
    with pytest.raises(DataFormatError, match=r"list_attr_celeba.csv:1: no attribute 'Beard'"):
        formats.read("celeba", tmp_path / "kaggle", attributes="Beard")
    csv = tmp_path / "kaggle" / "list_attr_celeba.csv"
    _replace_line(csv, 3, "000002.jpg," + ",".join(["1"] * 39 + ["yes"]))
    with pytest.raises(DataFormatError, match=r"list_attr_celeba.csv:3: attribute Young: expected -1 or 1, got 'yes'"):
        formats.read("celeba", tmp_path / "kaggle")
    (tmp_path / "elsewhere").mkdir()  # tmp_path itself now finds release/ and kaggle/ below it
    with pytest.raises(DataFormatError, match=r"list_attr_celeba.txt not found"):
        formats.read("celeba", tmp_path / "elsewhere")


# --- metrics, task, floor, baselines ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_attribute_metrics_match_scikit_learn_per_column(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random((70, 6)) < [0.5, 0.1, 0.9, 0.3, 1.0, 0.0]).astype(np.float32)  # two one-valued columns
    probs = np.clip(labels * 0.3 + rng.random((70, 6)) * 0.7, 0, 1)
    names = [f"a{j}" for j in range(6)]
    got = attributes.attribute_metrics_for(names)(probs, labels, {})
    pred = probs >= 0.5
    for j, name in enumerate(names):
        assert got[f"accuracy_{name}"] == pytest.approx(accuracy_score(labels[:, j], pred[:, j]))
        with warnings.catch_warnings():  # a one-valued column: "y_pred contains classes not in y_true"
            warnings.simplefilter("ignore")
            expected = balanced_accuracy_score(labels[:, j], pred[:, j])
        assert got[f"balanced_accuracy_{name}"] == pytest.approx(expected)
    both = [j for j in range(6) if len(np.unique(labels[:, j])) == 2]
    aucs = [roc_auc_score(labels[:, j], probs[:, j]) for j in both]
    for j, auc in zip(both, aucs):
        assert got[f"auc_a{j}"] == pytest.approx(auc)
    assert np.isnan(got["auc_a4"]) and got["auc_mean"] == pytest.approx(np.mean(aucs))  # one-valued: no AUC
    assert got["accuracy_mean"] == pytest.approx(np.mean([accuracy_score(labels[:, j], pred[:, j]) for j in range(6)]))


def test_task_uses_the_given_validation_split_and_checks_its_labels(tmp_path):
    write_release(tmp_path)
    data = formats.read("celeba", tmp_path)
    task = attributes.build(data, None, FAST)
    fold = task.folds[0]
    assert (len(fold.train), len(fold.val), len(fold.test)) == (32, 8, 8) and task.probe.kind == "sigmoid"
    assert task.probe.pos_weight is None and task.info["attributes"] == NAMES
    assert task.info["base_rates"]["Smiling"] == pytest.approx(0.5)
    np.testing.assert_array_equal(fold.y_val, data.labels["attributes"][data.split == "val"])
    assert attributes.build(data, None, EvalOptions(balanced=True)).probe.pos_weight == "balanced"
    no_val = data.subset(np.flatnonzero(data.split != "val"))
    assert attributes.build(no_val, None, FAST).folds[0].val is None  # then the usual carve from train
    codes = data.subset(np.arange(N))
    codes.labels["attributes"] = codes.labels["attributes"] + 1  # MTFL-style codes 1/2
    with pytest.raises(FacesslError, match="task 'attributes' needs 0/1 values"):
        attributes.build(codes, None, FAST)
    assert attributes.attribute_targets(Part(data, np.arange(3))).shape == (3, 40)


def test_floor_supervised_and_random_rows_and_tables(tmp_path):
    values = write_release(tmp_path, values=toy_values(60))
    data = formats.read("celeba", tmp_path, attributes=["Smiling", "Male", "Young"])
    results = runner.evaluate(ToyEncoder(), [TaskSpec("", "celeba:/c")], FAST, baselines=("random", "supervised"),
                              datasets={"celeba:/c": data})
    task = results["tasks"][0]
    rows = task["rows"]
    assert task["task"] == "attributes" and set(rows) == {"checkpoint", "random", "supervised", "floor"}
    supervised = rows["supervised"]["fs"]
    assert {"accuracy_mean", "balanced_accuracy_mean", "auc_mean", "accuracy_Young"} <= set(supervised["metrics"])
    assert "mirrors" in supervised["training"]
    # the floor: each attribute's majority value in train, scored on test
    y = (values[:, [SMILING, MALE, NAMES.index("Young")]] == 1).astype(float)
    split = np.array(expected_split(60))
    majority = y[split == "train"].mean(0) >= 0.5
    floor = rows["floor"]["training prevalence"]["metrics"]
    assert floor["accuracy_mean"]["mean"] == pytest.approx(np.mean(y[split == "test"] == majority))
    assert floor["balanced_accuracy_mean"]["mean"] == pytest.approx(
        np.mean([balanced_accuracy_score(y[split == "test"][:, j], np.full(10, majority[j])) for j in range(3)]))
    assert floor["auc_mean"]["mean"] == pytest.approx(0.5)  # a constant ranks nothing
    checkpoint = rows["checkpoint"]["fs"]["metrics"]
    assert checkpoint["accuracy_Smiling"]["mean"] >= 0.9 and checkpoint["accuracy_Male"]["mean"] >= 0.9  # drawn in
    md = tables.render(results)
    assert "### Facial attributes (means over the attributes, %; at probability 0.5)" in md
    assert "| model | feature | mean acc | mean balanced acc | mean AUC |" in md
    assert "| floor | training prevalence |" in md and "| supervised | fs |" in md
    assert "### Facial attributes per attribute, celeba (accuracy %)" in md
    assert "| attribute | train positives % | checkpoint fs | random fs | supervised fs | floor training prevalence |" in md
    assert "| Smiling | 50.0 |" in md


def test_format_implies_the_attributes_task():
    assert TaskSpec("", "celeba:/data/CelebA").task == "attributes"
    assert "celeba" in formats.FORMAT_NAMES


# --- the CLI ---------------------------------------------------------------------------------------------
def test_eval_cli_on_the_released_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    write_release(tmp_path / "CelebA", values=toy_values(60))
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"celeba:{tmp_path / 'CelebA'}",
                 "--reader-option", "limit_train=30", "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "attributes" and len(task["info"]["attributes"]) == 40
    assert (task["info"]["train_rows"], task["info"]["val_rows"], task["info"]["test_rows"]) == (30, 10, 10)
    assert "training images limited to 30 of 40" in task["info"]["split"]
    selection = task["rows"]["checkpoint"]["fs"]["selection"][0]
    assert selection["selected_on"] == "validation split given by the dataset"
    assert task["rows"]["checkpoint"]["fs"]["metrics"]["accuracy_Smiling"]["mean"] >= 0.9
    md = (out / "results.md").read_text()
    assert "### Facial attributes (means over the attributes, %; at probability 0.5)" in md
    assert "| floor | training prevalence |" in md and "| random | fs |" in md
    assert md.count("| 5_o_Clock_Shadow |") == 1 and "| Young |" in md  # 40 lines in the per-attribute table


def test_eval_cli_unknown_attribute_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    write_kaggle(tmp_path / "celeba")
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"celeba:{tmp_path / 'celeba'}",
                 "--reader-option", "attributes=[Smiling,Mal]", "--out", str(tmp_path / "eval"), *CLI_FAST]) == 2
    err = capsys.readouterr().err
    assert "list_attr_celeba.csv:1: no attribute 'Mal' (did you mean 'Male'?)" in err and "Traceback" not in err


# --- identity_CelebA.txt: people for grouped splits and verification -----------------------------------------
def write_identities(root, n, per_person=2, crlf=False):
    """Anno/identity_CelebA.txt as released: `000001.jpg 2880`, people numbered sparsely (CelebA's run to 10,177)."""
    write_text(root / "Anno" / "identity_CelebA.txt",
               "".join(f"{i + 1:06d}.jpg {100 + 7 * (i // per_person)}\n" for i in range(n)), crlf=crlf)


def test_identity_list_gives_each_image_its_person(tmp_path):
    write_release(tmp_path)
    write_identities(tmp_path, N, per_person=3, crlf=True)
    got = formats.read("celeba", tmp_path)
    assert list(got.labels["identity"][:7]) == ["100", "100", "100", "107", "107", "107", "114"]
    assert got.meta["identity_from"] == "identity_CelebA.txt (16 people)"
    assert got.labels["attributes"].shape == (N, 40)  # the attributes are as before


def test_without_a_partition_file_whole_people_go_to_one_side(tmp_path):
    write_release(tmp_path, partition=False)
    write_identities(tmp_path, N, per_person=4)
    got = formats.read("celeba", tmp_path)
    sides = {}
    for person, side in zip(got.labels["identity"], got.split):
        sides.setdefault(person, set()).add(side)
    assert all(len(s) == 1 for s in sides.values())
    assert sum(s == {"test"} for s in sides.values()) == round(0.2 * 12)
    assert "whole people to a side, from identity_CelebA.txt" in got.meta["split_from"]


@pytest.mark.parametrize("damage,message", [
    ("000004.jpg x12\n", r"Anno/identity_CelebA.txt:4: expected the person's number after 000004.jpg, got 'x12'"),
    ("000004.jpg 12 3\n", r"Anno/identity_CelebA.txt:4: expected 'image person' \(2 fields\), got 3"),
    ("", r"Anno/list_attr_celeba.txt:6: image 000004.jpg has no line in identity_CelebA.txt"),
])
def test_malformed_identity_list_is_one_line_naming_file_and_line(tmp_path, damage, message):
    write_release(tmp_path)
    write_identities(tmp_path, N)
    path = tmp_path / "Anno" / "identity_CelebA.txt"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = damage
    path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=message):
        formats.read("celeba", tmp_path)


def test_eval_cli_verification_draws_pairs_from_celeba_people(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    write_release(tmp_path / "CelebA", values=toy_values(60))
    write_identities(tmp_path / "CelebA", 60, per_person=2)
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"celeba:{tmp_path / 'CelebA'}",
                 "--task", "verification", "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "verification"
    assert 0 <= task["rows"]["checkpoint"]["fs"]["metrics"]["accuracy"]["mean"] <= 100
    assert task["info"]["pairs_drawn"]["people"] == 30 and task["info"]["pairs_drawn"]["pairs"] == 60  # one same, one different each
