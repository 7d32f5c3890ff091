"""Verification's supervised row: an identity classifier trained on another set's people, then verifying pairs."""
import numpy as np
import pytest

from eval_toys import ToyEncoder, au_set
from facessl.data.formats.common import ImageSet, PairSet
from facessl.errors import FacesslError
from facessl.evaluate import identity, runner
from facessl.evaluate.cache import FeatureCache
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

SIZE = 16


def people_set(people=40, per_person=6, seed=0, source="toy-people"):
    """A person is a colour in the top half of the image; the bottom half is loud noise of its own for every image,
    so raw similarity is mostly noise and the identity cue has to be learnt."""
    rng = np.random.default_rng(seed)
    colour = rng.integers(30, 225, (people, 3))
    person = np.repeat(np.arange(people), per_person)
    images = np.empty((len(person), SIZE, SIZE, 3))
    images[:, : SIZE // 2] = colour[person][:, None, None, :] + rng.normal(0, 8, (len(person), SIZE // 2, SIZE, 3))
    images[:, SIZE // 2:] = rng.integers(0, 255, (len(person), 1, 1, 3)) + rng.normal(0, 60, (len(person), SIZE // 2, SIZE, 3))
    labels = {"identity": np.array([f"id{p:03d}" for p in person])}
    return ImageSet(np.clip(images, 0, 255).astype(np.uint8), labels, None, source=f"{source}-{seed}")


def people_pairs(seed=1, source="toy-people-pairs"):
    images = people_set(people=60, per_person=2, seed=seed, source=source)
    same = [(2 * p, 2 * p + 1) for p in range(60)]
    different = [(2 * p, 2 * ((p + 7) % 60) + 1) for p in range(60)]
    pairs = np.array(same + different)
    flags = np.r_[np.ones(60, bool), np.zeros(60, bool)]
    fold = np.r_[np.arange(60) % 10, np.arange(60) % 10]
    return PairSet(images, pairs, flags, fold, source=images.source)


def test_whole_identities_are_held_out_and_each_gives_at_most_the_cap(monkeypatch):
    monkeypatch.setattr(identity, "MAX_PER_IDENTITY", 4)
    people = np.repeat([f"p{i}" for i in range(20)], [3, 9] * 10)
    fit, val = identity.training_rows(people, seed=0)
    assert not set(people[fit]) & set(people[val]) and len(set(people[val])) == 3  # 15 % of 20 identities
    counts = {p: int((people[np.r_[fit, val]] == p).sum()) for p in set(people)}
    assert all(counts[p] == min(4, int((people == p).sum())) for p in counts)
    again = identity.training_rows(people, seed=0)
    assert np.array_equal(again[0], fit) and np.array_equal(again[1], val)
    monkeypatch.setattr(identity, "MAX_IMAGES", 60)  # 20 people: at most 3 each (with a floor of 2 a person)
    monkeypatch.setattr(identity, "MIN_PER_IDENTITY", 2)
    fit, val = identity.training_rows(people, seed=0)
    assert len(fit) + len(val) == 60 and max(np.unique(people[np.r_[fit, val]], return_counts=True)[1]) == 3
    with pytest.raises(FacesslError, match="3 identities; the supervised row needs at least 5"):
        identity.training_rows(np.array(["a", "b", "c"] * 4), seed=0)


def test_past_max_images_at_the_floor_a_seeded_sample_of_people_keeps_the_floor_each(monkeypatch):
    # MS1M-like: many people with many images; MAX_IMAGES cannot give each of them MIN_PER_IDENTITY
    monkeypatch.setattr(identity, "MAX_IMAGES", 200)
    monkeypatch.setattr(identity, "MIN_PER_IDENTITY", 8)
    people = np.repeat(np.arange(100), np.r_[[5] * 10, [30] * 90])  # ten people hold fewer images than the floor
    fit, val = identity.training_rows(people, seed=3)
    rows = np.r_[fit, val]
    assert len(rows) <= 200 and len(np.unique(rows)) == len(rows)
    kept, counts = np.unique(people[rows], return_counts=True)
    assert all(c == min(8, int((people == p).sum())) for p, c in zip(kept, counts))  # the floor, or all they have
    assert 200 - 8 < len(rows) and 25 <= len(kept) < 100
    assert not set(people[fit]) & set(people[val]) and set(people[val]) <= set(kept)
    assert len(set(people[val])) == max(2, round(0.15 * len(kept)))
    again = identity.training_rows(people, seed=3)
    assert np.array_equal(again[0], fit) and np.array_equal(again[1], val)
    other = identity.training_rows(people, seed=4)
    assert set(people[np.r_[other[0], other[1]]]) != set(kept)


def test_validation_pairs_are_as_many_same_as_different_identity_pairs():
    people = np.repeat(["a", "b", "c", "d"], 5)
    pairs, same = identity.validation_pairs(people, seed=0)
    assert same.sum() == (~same).sum() == 4 * 10  # every same pair of 4 people x 5 images
    assert np.array_equal(people[pairs[:, 0]] == people[pairs[:, 1]], same)
    with pytest.raises(FacesslError, match="two images"):
        identity.validation_pairs(np.array(["a", "b", "c"]), seed=0)
    # against all rows x all rows written out (what it avoids building: 100 M pairs for CASIA's held-out 15 %)
    people = np.random.default_rng(3).integers(0, 45, 600).astype(str)
    a, b = np.triu_indices(len(people), k=1)
    naive = np.stack([a, b], 1)[people[a] == people[b]]
    rng = np.random.default_rng([0, 8])
    expected_same = naive[rng.permutation(len(naive))[:identity.VAL_PAIRS]]
    pairs, same = identity.validation_pairs(people, seed=0)
    assert np.array_equal(pairs[same], expected_same)


def test_a_training_set_that_names_no_identities_says_so():
    unnamed = ImageSet(np.zeros((4, 8, 8, 3), np.uint8), {"expression": np.zeros(4, int)}, None, source="faces.csv")
    with pytest.raises(FacesslError, match=r"faces.csv: this training set names no identities \(labels: expression\)"):
        identity.identity_labels(unnamed)
    classes = ImageSet(np.zeros((2, 8, 8, 3), np.uint8), {"class": np.array([3, 4])}, None, source="folders")
    assert list(identity.identity_labels(classes)) == ["3", "4"]  # a folder per person
    # a CSV read with a label column and --group: the group is the person, not the (expression) class
    grouped = {"class": np.array([0, 0, 1, 1]), "group": np.array(["ann", "bob", "ann", "bob"])}
    assert list(identity.identity_labels(ImageSet(np.zeros((4, 8, 8, 3), np.uint8), grouped))) == ["ann", "bob"] * 2
    # without --group every file is its own group: the class folders are the people
    own = {"class": np.array([0, 0, 1, 1]), "group": np.array(["a.jpg", "b.jpg", "c.jpg", "d.jpg"])}
    assert list(identity.identity_labels(ImageSet(np.zeros((4, 8, 8, 3), np.uint8), own))) == ["0", "0", "1", "1"]


def test_the_identity_trained_row_verifies_new_people_better_than_random_weights(tmp_path):
    options = EvalOptions(seeds=1, supervised_epochs=10, supervised_lr=1e-2, verification_center=True, device="cpu",
                          quiet=True)
    pairs, train = people_pairs(), people_set(per_person=12)
    # ff: the toy's trainable half (its fs also holds fixed pooled pixels, which training cannot move)
    row = identity.supervised_verification(ToyEncoder(), pairs, train, "ff", SIZE, options,
                                           cache=FeatureCache(tmp_path / "cache"))
    untrained = identity.supervised_init(ToyEncoder(), 0)
    random_row = runner.verification.evaluate(
        pairs, identity.combine(identity.extract(untrained, pairs.images, SIZE, device="cpu", quiet=True), "ff"), options)
    trained, before = row["metrics"]["roc_auc"]["mean"], random_row["metrics"]["roc_auc"]["mean"]
    assert trained > before + 0.04, (trained, before)  # measured: 0.803 against 0.724
    summary = row["selection"][0]
    assert summary["identities"] == 34 and summary["val_identities"] == 6 and summary["images"] == 34 * 12
    assert round(100 * summary["val_score"], 2) == max(summary["val_auc_per_epoch"]) > 85  # the best epoch is kept
    assert summary["val_auc_per_epoch"].index(max(summary["val_auc_per_epoch"])) + 1 == summary["epochs"]
    assert "identity classification of 34 identities of toy-people-0" in row["training"]
    assert row["trained_on"] == "toy-people-0" and row["feature"] == "ff"


def test_the_identity_training_says_each_epochs_held_out_auc_unless_quiet(capsys):
    options = EvalOptions(seeds=1, supervised_epochs=2, device="cpu", quiet=False)
    identity.train_identity(ToyEncoder(), people_set(seed=6), "fs", SIZE, options, seed=0)
    lines = [line for line in capsys.readouterr().err.splitlines() if "identities: epoch" in line]
    assert len(lines) == 2 and lines[0].startswith("  identities: epoch 1/2, held-out verification AUC ")
    assert lines[0].endswith("(best)")
    identity.train_identity(ToyEncoder(), people_set(seed=6), "fs", SIZE, EvalOptions(supervised_epochs=1, quiet=True,
                                                                                       device="cpu"), seed=0)
    assert "identities: epoch" not in capsys.readouterr().err


def test_one_training_serves_every_pairs_set_and_a_rerun_reads_the_cache(tmp_path, monkeypatch):
    options = EvalOptions(seeds=1, supervised_epochs=2, device="cpu", quiet=True)
    calls = []
    train_identity = identity.train_identity
    monkeypatch.setattr(identity, "train_identity", lambda *a, **k: calls.append(1) or train_identity(*a, **k))
    monkeypatch.setattr(identity, "_TRAINED", {})
    cache = FeatureCache(tmp_path / "cache")
    train = people_set(seed=3)
    first = identity.supervised_verification(ToyEncoder(), people_pairs(seed=4), train, "fs", SIZE, options, cache=cache)
    identity.supervised_verification(ToyEncoder(), people_pairs(seed=5, source="other"), train, "fs", SIZE, options,
                                     cache=cache)
    assert len(calls) == 1
    monkeypatch.setattr(identity, "_TRAINED", {})
    again = identity.supervised_verification(ToyEncoder(), people_pairs(seed=4), train, "fs", SIZE, options, cache=cache)
    assert len(calls) == 1 and again["metrics"] == first["metrics"]
    longer = EvalOptions(seeds=1, supervised_epochs=2, identity_epochs=1, device="cpu", quiet=True)
    identity.supervised_verification(ToyEncoder(), people_pairs(seed=4), train, "fs", SIZE, longer, cache=cache)
    assert len(calls) == 2  # another epoch cap is another training


def test_the_runner_gives_pairs_a_supervised_row_only_with_a_training_set_of_identities():
    options = EvalOptions(seeds=1, epochs=2, supervised_epochs=1, device="cpu", quiet=True)
    datasets = {"lfw:toy": people_pairs(), "voxceleb:toy": people_set(), "disfa:toy": au_set()}
    specs = [TaskSpec("verification", "lfw:toy", None, name="plain"),
             TaskSpec("verification", "lfw:toy", "voxceleb:toy", name="with people"),
             TaskSpec("verification", "lfw:toy", "disfa:toy", name="without people")]
    results = runner.evaluate(ToyEncoder(), specs, options, baselines=("supervised",), datasets=datasets)
    rows = {t["name"]: t["rows"]["supervised"] for t in results["tasks"]}
    assert "train_dataset" in rows["plain"]["unavailable"]
    assert 0.0 <= rows["with people"]["fs"]["metrics"]["accuracy"]["mean"] <= 1.0
    assert "names no identities (labels: aus, subject)" in rows["without people"]["unavailable"]


def test_without_the_supervised_row_a_pairs_task_does_not_read_its_training_set():
    options = EvalOptions(seeds=1, epochs=2, device="cpu", quiet=True)
    spec = TaskSpec("verification", "lfw:toy", "voxceleb:/nowhere/at/all", name="LFW")
    results = runner.evaluate(ToyEncoder(), [spec], options, baselines=(), datasets={"lfw:toy": people_pairs()})
    assert "checkpoint" in results["tasks"][0]["rows"] and "supervised" not in results["tasks"][0]["rows"]


def test_pairs_drawn_from_a_set_of_people_follow_lfws_protocol():
    from facessl.evaluate.pairs import pairs_from_identities

    people = people_set(people=40, per_person=3, seed=7)
    people.labels["identity"][3] = "solo"  # id001's first image given to a person of one image: in no pair
    drawn = pairs_from_identities(people, folds=10, seed=0)
    names = drawn.images.labels["identity"]
    first, second = names[drawn.pairs[:, 0]], names[drawn.pairs[:, 1]]
    assert np.array_equal(first == second, drawn.same)  # same pairs: one person; different: two
    assert drawn.same.sum() == (~drawn.same).sum() == 40  # one of each per person with two images or more
    for k in range(10):  # identity-disjoint folds, as LFW's
        inside = set(names[drawn.pairs[drawn.fold == k].ravel()])
        outside = set(names[drawn.pairs[drawn.fold != k].ravel()])
        assert not inside & outside and (drawn.fold == k).sum() == 8
    assert "solo" not in set(names) and "solo" in set(people.labels["identity"])
    assert len(drawn.images) == len(np.unique(drawn.pairs))  # features only for the images in a pair
    again = pairs_from_identities(people, folds=10, seed=0)
    assert np.array_equal(again.pairs, drawn.pairs)
    with pytest.raises(FacesslError, match="6 people have two images or more; verification pairs drawn from the set "
                                           "need at least 20"):
        pairs_from_identities(people_set(people=6, per_person=2), folds=10)
    unnamed = ImageSet(np.zeros((4, 8, 8, 3), np.uint8), {"aus": np.zeros((4, 8))}, None, source="disfa")
    with pytest.raises(FacesslError, match="needs a pairs file .* or a set that names each image's person"):
        pairs_from_identities(unnamed)


def test_a_verification_task_on_a_set_of_people_draws_its_pairs_and_can_train_on_other_people():
    options = EvalOptions(seeds=1, supervised_epochs=1, device="cpu", quiet=True)
    datasets = {"imagefolder:mine": people_set(people=30, per_person=3, seed=8, source="mine"),
                "voxceleb:others": people_set(seed=9, source="others")}
    specs = [TaskSpec("verification", "imagefolder:mine", "voxceleb:others", name="mine"),
             TaskSpec("verification", "imagefolder:mine", "imagefolder:mine", name="itself")]
    results = runner.evaluate(ToyEncoder(), specs, options, baselines=("supervised",), datasets=datasets)
    mine, itself = results["tasks"]
    assert mine["rows"]["checkpoint"]["fs"]["pairs"] == 60 and "fs" in mine["rows"]["supervised"]
    drawn = dict(mine["info"]["pairs_drawn"])
    listed = drawn.pop("list")
    assert drawn == {"folds": 10, "seed": 0, "people": 30, "pairs": 60}
    assert len(listed) == 60 and sum(same for *_, same, _ in listed) == 30  # the pairs scored, exportable
    assert {fold for *_, fold in listed} == set(range(10)) and all(a != b for a, b, *_ in listed)
    from facessl.evaluate.tables import render
    md = render(results)
    assert "- mine: no pairs file; 60 pairs drawn from its 30 people with two images or more, 10 identity-disjoint" in md
    assert "- mine: supervised row — identity classification of" in md
    assert "cannot train on the people it is tested on" in itself["rows"]["supervised"]["unavailable"]
