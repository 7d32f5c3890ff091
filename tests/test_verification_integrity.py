"""Verification results that say what they scored, and pairs that cannot mean what they claim refused or left out
(audit s35: A1 tiny / one-class sets, A3 the supervised row trained on the test people, A4 degenerate pairs, C1 a
misspelt first name with --skip-missing, C3 a CSV's class read as the person, C5 unpadded LFW names, C6 results.md).

Every fixture is written here (tiny images), never from the real data.
"""
import numpy as np
import pytest

from eval_toys import ToyEncoder
from image_toys import write
from facessl.data import formats
from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import save_image as _save
from facessl.data.formats.lfw import LfwWriter
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import identity, runner, tables, verification
from facessl.evaluate.pairs import pairs_from_identities
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

RNG = np.random.default_rng(3)
OPTIONS = EvalOptions(seeds=1, device="cpu", quiet=True)
PEOPLE = ("Ann_Lee", "Bo_Chen", "Cy_Diaz", "Di_Eng")


def face(size=12):
    return RNG.integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def save_image(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, image)


def lfw_images(folder, people=PEOPLE, per_person=3):
    w = LfwWriter(folder)
    for name in people:
        for _ in range(per_person):
            w.add(name, face())


def lfw_pairs(root, folds):
    """pairs.txt of folds [(same lines, different lines)], n of each per fold."""
    n = len(folds[0][0])
    write(root / "pairs.txt", f"{len(folds)}\t{n}\n" + "".join(line + "\n" for same, diff in folds for line in same + diff))


SAME = ["Ann_Lee\t1\t2", "Cy_Diaz\t1\t3", "Bo_Chen\t2\t3", "Di_Eng\t1\t2"]
DIFF = ["Ann_Lee\t1\tBo_Chen\t2", "Cy_Diaz\t2\tDi_Eng\t1", "Bo_Chen\t1\tCy_Diaz\t1", "Di_Eng\t3\tAnn_Lee\t3"]
GOOD = [(SAME[:2], DIFF[:2]), (SAME[2:], DIFF[2:])]  # 2 folds x (2 same + 2 different)


def pairset(same, fold, n_images=None, source="toy-pairs"):
    same = np.asarray(same, bool)
    n_images = n_images or 2 * len(same)
    images = ImageSet(np.zeros((n_images, 8, 8, 3), np.uint8), {"identity": np.arange(n_images).astype(str)},
                      None, source)
    pairs = np.arange(2 * len(same)).reshape(-1, 2) % n_images
    return PairSet(images, pairs, same, np.asarray(fold), source=source)


def features(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 6))


# --- A1: what was scored, and sets that cannot be scored ------------------------------------------------
@pytest.mark.parametrize("same, word", [([True] * 20, "same"), ([False] * 20, "different")])
def test_a_set_of_one_class_is_refused(same, word):
    """20 'same' pairs gave 100.00 ± 0.00: a threshold that accepts everything is right on every pair."""
    data = pairset(same, np.arange(20) % 10)
    with pytest.raises(FacesslError, match=rf"toy-pairs: all 20 pairs are {word}-identity pairs, none .*cannot be "
                                           "scored on one class"):
        verification.evaluate(data, features(40), OPTIONS)
    with pytest.raises(FacesslError, match="cannot be scored on one class"):
        verification.evaluate(data, features(40), EvalOptions(verification="fixed", device="cpu", quiet=True))


def test_within_a_suite_a_one_class_set_is_that_tasks_error():
    data = pairset([True] * 20, np.arange(20) % 10)
    results = runner.evaluate(ToyEncoder(), [TaskSpec("verification", "lfw:one", name="one")], OPTIONS, baselines=(),
                              datasets={"lfw:one": data}, keep_going=True)
    assert "cannot be scored on one class" in results["tasks"][0]["error"]
    assert "one (verification): " in tables.render(results) and "Failed tasks" in tables.render(results)


def test_a_tiny_set_is_scored_with_its_counts_and_a_note_that_it_is_not_reliable():
    data = pairset([True, False, True, False], [0, 0, 1, 1])  # LFW's form, 2 folds x (1 same + 1 different)
    row = verification.evaluate(data, features(8), OPTIONS)
    assert (row["pairs"], row["positive_pairs"], row["negative_pairs"], row["folds"]) == (4, 2, 2, 2)
    assert any(note.startswith("only 4 pairs (2 same / 2 different) in 2 folds: the accuracy is not a reliable measure")
               for note in row["pair_notes"])
    results = runner.evaluate(ToyEncoder(), [TaskSpec("verification", "lfw:tiny", name="tiny")], OPTIONS,
                              baselines=(), datasets={"lfw:tiny": data})
    md = tables.render(results)
    assert ("- tiny: 4 pairs scored (2 same / 2 different) in 2 folds; acc: the mean over the folds ± their standard "
            "deviation") in md
    assert "- tiny: only 4 pairs (2 same / 2 different) in 2 folds: the accuracy is not a reliable measure" in md


def test_folds_of_one_class_are_named_and_a_large_balanced_set_has_no_warning():
    same = np.r_[[True, False] * 60, [True] * 4]  # 124 pairs; fold 3 holds only same pairs
    fold = np.r_[np.arange(120) // 2 % 2, [2] * 4]
    row = verification.evaluate(pairset(same, fold), features(2 * len(same)), OPTIONS)
    assert row["pair_notes"] == ["1 of 3 folds hold pairs of one class only (fold 3: 4 same / 0 different): such a "
                                 "fold's accuracy counts only how many of that class the threshold gets right, and the "
                                 "accuracy is not a reliable measure"]
    balanced = verification.evaluate(pairset([True, False] * 60, np.arange(120) // 12), features(240), OPTIONS)
    assert "pair_notes" not in balanced and balanced["folds"] == 10 and balanced["negative_pairs"] == 60


def test_the_one_fold_refusal_stays():
    with pytest.raises(FacesslError, match="the pairs form one fold; the k-fold protocol needs >= 2"):
        verification.evaluate(pairset([True, False] * 60, [0] * 120), features(240), OPTIONS)


# --- A3: the supervised row does not train on the test people -----------------------------------------
def people_images(names, per_person=3, source="train-people", folder=True):
    """A set of people as an image folder reads it (class indices into meta['class_names']) or with identities."""
    rows = np.repeat(np.arange(len(names)), per_person)
    images = RNG.integers(0, 256, (len(rows), 16, 16, 3), dtype=np.uint8)
    if folder:
        return ImageSet(images, {"class": rows, "group": np.array([f"{k}.jpg" for k in range(len(rows))])}, None,
                        source, meta={"class_names": list(names), "group_pattern": None})
    return ImageSet(images, {"identity": np.array(names)[rows]}, None, source)


def test_test_people_are_left_out_of_the_training_set_by_name():
    test = people_images(["Ann_Lee", "Bo_Chen"], source="lfw", folder=False)
    train = people_images(["ann lee", "Bo_Chen", "Cy_Diaz", "Di_Eng", "Ed_Fox", "Flo_Gil", "Gus_Ho", "Hal_Ives"])
    keep, said = identity.people_overlap(test, train, "lfw/pairs.txt")
    assert keep.sum() == 6 * 3 and not keep[:6].any()  # Ann Lee (case and '_' aside) and Bo Chen: every image
    assert said == "2 of the training set's 8 people are also in the test pairs: left out (Bo_Chen, ann lee)"
    few = people_images(["Ann_Lee", "Bo_Chen", "Cy_Diaz", "Di_Eng", "Ed_Fox"])
    with pytest.raises(FacesslError, match=r"lfw/pairs.txt: the supervised row cannot train on the people it is tested "
                                           r"on: 2 of the training set's 5 people are also in the test pairs "
                                           r"\(Ann_Lee, Bo_Chen\), leaving 3 \(it needs 5\)"):
        identity.people_overlap(test, few, "lfw/pairs.txt")


def test_codes_are_not_names_and_a_set_without_names_is_said_unchecked():
    codes = people_images([f"id{k:05d}" for k in range(6)], folder=False)
    keep, said = identity.people_overlap(people_images(["id00000", "id00001"], folder=False), codes)
    assert keep.all() and said.startswith("the test pairs name their people by codes (id00000 ...), not names")
    unnamed = ImageSet(np.zeros((4, 8, 8, 3), np.uint8), {"position": np.arange(4)}, None, "lfw.bin")
    keep, said = identity.people_overlap(unnamed, codes)
    assert keep.all() and "could not be checked" in said


def test_the_supervised_row_trains_without_the_test_people_and_says_so():
    test = pairs_from_identities(people_images([f"Person_{chr(65 + k)}" for k in range(20)], source="mine"))
    train = people_images([f"Person_{chr(65 + k)}" for k in range(26)], per_person=4, source="others")
    options = EvalOptions(seeds=1, supervised_epochs=1, device="cpu", quiet=True)
    row = identity.supervised_verification(ToyEncoder(), test, train, "fs", 16, options)
    assert row["people_check"].startswith("20 of the training set's 26 people are also in the test pairs: left out")
    assert row["selection"][0]["identities"] + row["selection"][0]["val_identities"] == 6
    results = {"tasks": [{"name": "mine", "task": "verification", "dataset": "imagefolder:mine", "info": {},
                          "rows": {"supervised": {"fs": row}}}]}
    assert "- mine: supervised row — 20 of the training set's 26 people are also in the test pairs" in tables.render(results)


# --- A4: degenerate pairs in a pairs file -----------------------------------------------------------------
def test_an_image_with_itself_and_a_different_pair_of_one_person_are_skipped_counted_and_named(tmp_path):
    lfw_images(tmp_path / "lfw")
    lfw_pairs(tmp_path, [(["Ann_Lee\t2\t2", SAME[1]], ["Ann_Lee\t1\tAnn_Lee\t2", DIFF[1]]), GOOD[1]])
    got = formats.read("lfw", tmp_path)
    assert len(got.pairs) == 6
    assert got.dropped["pair of an image with itself"] == 1 and got.dropped["different pair of one person"] == 1
    notes = got.images.meta["pair_notes"]
    assert "1 pair of an image with itself (its cosine is 1 whatever the model) skipped: pairs.txt:2 (Ann_Lee 2 2)" in notes
    assert "1 'different' pair naming one person twice skipped: pairs.txt:4 (Ann_Lee 1 Ann_Lee 2)" in notes
    row = verification.evaluate(got, features(len(got.images)), OPTIONS)
    assert notes[0] in row["pair_notes"]  # the reader's notes reach the results


def test_a_pair_listed_again_is_scored_as_listed_and_named(tmp_path):
    lfw_images(tmp_path / "lfw")
    lfw_pairs(tmp_path, [GOOD[0], ([SAME[2], "Ann_Lee\t2\t1"], DIFF[2:])])
    got = formats.read("lfw", tmp_path)
    assert len(got.pairs) == 8  # as every evaluation of a released pairs file counts it
    assert got.images.meta["pair_notes"] == ["1 pair listed again, scored each time as listed: pairs.txt:7 "
                                             "(Ann_Lee 2 1, as at line 2)"]


def cplfw_files(root, lines):
    for name in {line.split()[0] for line in lines}:
        save_image(root / "images" / name, face())
    write(root / "pairs_CPLFW.txt", "".join(line + "\n" for line in lines))


def test_cplfw_lines_that_disagree_on_the_label_are_an_error_naming_the_line(tmp_path):
    cplfw_files(tmp_path, ["Ann_Lee_1.jpg 1", "Ann_Lee_2.jpg 0", "Ann_Lee_1.jpg 0", "Bo_Chen_1.jpg 0"])
    with pytest.raises(DataFormatError, match=r"pairs_CPLFW.txt:2: the two lines of a pair disagree on its label: "
                                              r"line 1 \(Ann_Lee_1.jpg 1\) says 1, this line 0"):
        formats.read("cplfw", tmp_path)


def test_cplfw_a_pair_listed_with_both_labels_is_an_error(tmp_path):
    cplfw_files(tmp_path, ["Ann_Lee_1.jpg 0", "Bo_Chen_1.jpg 0", "Bo_Chen_1.jpg 1", "Ann_Lee_1.jpg 1"] * 1
                + ["Ann_Lee_1.jpg 1", "Ann_Lee_2.jpg 1"] * 20)
    with pytest.raises(DataFormatError, match=r"pairs_CPLFW.txt:3: this pair .* is a same-identity pair here and a "
                                              r"different-identity pair at pairs_CPLFW.txt:1"):
        formats.read("cplfw", tmp_path)


def test_cplfw_pairs_that_contradict_their_names_are_skipped_unless_the_names_are_not_people(tmp_path):
    good = ["Ann_Lee_1.jpg 1", "Ann_Lee_2.jpg 1", "Ann_Lee_1.jpg 0", "Bo_Chen_1.jpg 0"] * 10  # duplicates: noted only
    cplfw_files(tmp_path, ["Cy_Diaz_1.jpg 0", "Cy_Diaz_2.jpg 0"] + good)
    got = formats.read("cplfw", tmp_path)
    assert got.dropped["different pair of one person"] == 1 and len(got.pairs) == 20
    assert any(n.startswith("1 'different' pair naming one person twice skipped: pairs_CPLFW.txt:1 (Cy_Diaz_1.jpg "
                            "Cy_Diaz_2.jpg 0)") for n in got.images.meta["pair_notes"])
    own = tmp_path / "own"  # a user's own file whose names are not people: every 'different' pair is img_N vs img_M
    cplfw_files(own, [f"img_{k}.jpg {1 - k // 2 % 2}" for k in range(40)] + [f"img_{k}.jpg 0" for k in range(40, 60)])
    got = formats.read("cplfw", own)
    assert len(got.pairs) == 30 and not got.dropped.get("different pair of one person")
    assert any("the names do not seem to name the people" in n for n in got.images.meta["pair_notes"])


def test_pairs_drawn_from_people_are_never_two_copies_of_one_photo(tmp_path):
    for k in range(24):
        person = tmp_path / "people" / f"Person_{k:02d}"
        photo = face()
        save_image(person / "a.jpg", photo)
        (person / "b.jpg").write_bytes((person / "a.jpg").read_bytes())  # a photo filed twice
        if k < 22:  # 22 people also have a second photo; 2 have only the copies
            save_image(person / "c.jpg", face())
    images = formats.read("imagefolder", tmp_path / "people")
    drawn = pairs_from_identities(images)
    files = np.array(drawn.images.images)
    for a, b in drawn.pairs[drawn.same]:
        assert open(files[a], "rb").read() != open(files[b], "rb").read()
    notes = drawn.images.meta["pair_notes"]
    assert any(n.startswith("2 people left out of the pairs: their images are byte-identical copies of one photo "
                            "(Person_22, Person_23)") for n in notes)
    assert drawn.images.meta["pairs_drawn"]["people"] == 22
    for k in range(22):
        (tmp_path / "people" / f"Person_{k:02d}" / "c.jpg").unlink()
    with pytest.raises(FacesslError, match=r"0 of them have two different images or more; 24 have two images or more, "
                                           r"but only byte-identical copies of one photo \(Person_00, "):
        pairs_from_identities(formats.read("imagefolder", tmp_path / "people"))


# --- C1: a misspelt name on the first line with --skip-missing ---------------------------------------------
def test_an_unknown_first_name_does_not_hide_the_image_folder(tmp_path):
    lfw_images(tmp_path / "lfw")
    lfw_pairs(tmp_path, [(["Nobody_Here\t1\t2", SAME[1]], DIFF[:2]), GOOD[1]])
    got = formats.read("lfw", tmp_path, skip_missing=True)
    assert len(got.pairs) == 7 and got.dropped["missing_pair"] == 1
    assert got.images.source == str(tmp_path / "lfw")
    assert ("1 pair skipped for a missing image (--skip-missing): pairs.txt:2 (Nobody_Here 1 2)"
            in got.images.meta["pair_notes"])
    with pytest.raises(DataFormatError, match=r"pairs.txt:2: image .*Nobody_Here_0001.jpg named here does not exist"):
        formats.read("lfw", tmp_path)


# --- C3: a CSV's label column read as the person ---------------------------------------------------------
def csv_like(classes, per_class=3):
    rows = np.repeat(np.arange(len(classes)), per_class)
    return ImageSet(RNG.integers(0, 256, (len(rows), 8, 8, 3), dtype=np.uint8),
                    {"class": rows, "group": np.array([f"{k}.jpg" for k in range(len(rows))])}, None, "legend.csv",
                    meta={"class_names": list(classes), "label_column": "emotion"})


def test_without_group_the_label_column_is_said_to_be_read_as_the_person():
    emotions = ["anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    with pytest.raises(FacesslError, match=r"legend.csv: without --group / --group-column the label column 'emotion' is "
                                           r"read as each image's person: its 8 values with two images or more "
                                           r"\(anger, contempt, disgust, fear, happiness \.\.\.\) are taken as people; "
                                           r".*need at least 20 people .*Give --group REGEX"):
        pairs_from_identities(csv_like(emotions))
    drawn = pairs_from_identities(csv_like([f"c{k}" for k in range(20)]))
    assert ("pairs drawn with each image's person read from its label column 'emotion' (no --group / --group-column "
            "given)") in drawn.images.meta["pair_notes"]


# --- C5: LFW names without the zero padding ---------------------------------------------------------------
def test_unpadded_lfw_names_are_read_and_said(tmp_path):
    for name in PEOPLE:
        for k in (1, 2, 3):
            save_image(tmp_path / "lfw" / name / f"{name}_{k}.jpg", face())
    lfw_pairs(tmp_path, GOOD)
    got = formats.read("lfw", tmp_path)
    assert len(got.pairs) == 8 and got.images.images[0].endswith("Ann_Lee_1.jpg")
    assert any(n.startswith("12 images named without LFW's 4-digit number (Ann_Lee_1.jpg for Ann_Lee_0001.jpg): read "
                            "under those names") for n in got.images.meta["pair_notes"])


def test_a_person_folder_named_otherwise_is_an_error_naming_what_it_holds(tmp_path):
    lfw_images(tmp_path / "lfw")
    save_image(tmp_path / "lfw" / "Eva_Fox" / "eva-1.png", face())
    save_image(tmp_path / "lfw" / "Eva_Fox" / "eva-2.png", face())
    lfw_pairs(tmp_path, [GOOD[0], (["Eva_Fox\t1\t2", SAME[3]], DIFF[2:])])
    with pytest.raises(DataFormatError, match=r"pairs.txt:6: image .*Eva_Fox_0001.jpg named here does not exist; "
                                              r"Eva_Fox/ holds eva-1.png, eva-2.png: LFW names a person's images "
                                              r"Eva_Fox_0001.jpg, Eva_Fox_0002.jpg \.\.\."):
        formats.read("lfw", tmp_path)


# --- C6: results.md ---------------------------------------------------------------------------------------
def verification_results(**extra):
    row = {"metrics": {"accuracy": {"per_seed": [0.9], "mean": 0.9, "std": 0.0},
                       "accuracy_fold_std": {"per_seed": [0.01], "mean": 0.01, "std": 0.0},
                       "roc_auc": {"per_seed": [0.95], "mean": 0.95, "std": 0.0}},
           "selected_on": "10-fold, threshold chosen on the other folds", "pairs": 600, "positive_pairs": 300}
    task = {"name": "lfw", "task": "verification", "dataset": "lfw:x", "info": {}, "rows": {"checkpoint": {"fs": row}}}
    return {"protocol": "weight decay (of 0, 0.01) at the last epoch chosen on a validation split",
            "eval_config": {"features": ["fs"], "skipped_features": ["ff", "fp"]}, "tasks": [task], **extra}


def test_results_md_of_verification_alone_has_no_probe_line_and_lists_skipped_features():
    md = tables.render(verification_results())
    assert "model selection" not in md and "- features ff, fp skipped: not in this checkpoint (evaluated: fs)" in md
    # results written before the folds were recorded: the count and the folds still said
    assert "- lfw: 600 pairs scored (300 same / 300 different) in 10 folds" in md
    expression = {"name": "rafdb", "task": "expression", "dataset": "rafdb:x", "info": {}, "rows": {}}
    both = verification_results()
    both["tasks"].append(expression)
    assert "- model selection: weight decay" in tables.render(both)


def test_a_tasks_own_notes_are_rendered_under_its_table():
    results = verification_results()
    results["tasks"][0]["info"]["notes"] = ["the landmarks are in a unit of their own"]
    assert "- lfw: the landmarks are in a unit of their own" in tables.render(results)
