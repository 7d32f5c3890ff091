"""Task protocols on tiny in-memory datasets: splits, labels, metrics, baselines, tables."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from eval_toys import ToyEncoder, au_set, expression_set, landmark_set, pair_set, pose_set
from facessl.errors import FacesslError
from facessl.evaluate import au, expression, landmarks, metrics, pose, protocol, runner, tables
from facessl.evaluate.baselines import random_encoder
from facessl.evaluate.cache import weights_hash
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

FAST = EvalOptions(seeds=1, epochs=8, weight_decays=(0.0, 1e-3), supervised_epochs=1, device="cpu", quiet=True)


def test_expression_splits_and_fer_validation():
    task = expression.build(expression_set(), None, FAST)
    assert task.info["train_rows"] == 112 and task.info["test_rows"] == 48 and task.folds[0].val is None
    fer = expression_set(n=90)
    fer.split = np.array(["Training", "PublicTest", "PrivateTest"] * 30, dtype=object)
    task = expression.build(fer, None, FAST)
    assert (len(task.folds[0].train), len(task.folds[0].val), len(task.folds[0].test)) == (30, 30, 30)
    no_split = expression_set()
    no_split.split = None
    with pytest.raises(FacesslError, match="train.*test"):
        expression.build(no_split, None, FAST)
    with pytest.raises(FacesslError, match="'pose'"):
        pose.build(expression_set(), None, FAST)


def test_pose_classes_from_yaw_bins():
    assert pose.yaw_classes(np.array([[-80, 0, 0], [-20, 0, 0], [0, 0, 0], [14.9, 0, 0], [50, 0, 0], [99, 0, 0]])).tolist() \
        == [0, 2, 3, 3, 5, 6]
    task = pose.build_classes(pose_set(seed=1), pose_set(seed=2), FAST)
    assert "derived" in task.info["classes_from"] and task.probe.kind == "softmax"


def test_cv_folds_are_subject_exclusive_and_thresholded():
    data = au_set()
    task = au.build(data, None, EvalOptions(au_positive=3))
    subjects = data.labels["subject"]
    assert len(task.folds) == 3
    for fold in task.folds:
        assert not set(subjects[fold.train.index]) & set(subjects[fold.test.index])
        np.testing.assert_array_equal(fold.y_test, data.labels["aus"][fold.test.index] >= 3)
    assert sorted(np.concatenate([f.test.index for f in task.folds]).tolist()) == list(range(len(data)))
    no_subject = au_set()
    del no_subject.labels["subject"]
    with pytest.raises(FacesslError, match="subject"):
        au.build(no_subject, None, FAST)


def test_landmark_targets_are_crop_normalised_and_scored_in_pixels():
    data = landmark_set(width=24, height=20)
    task = landmarks.build(data, None, FAST)
    fold = task.folds[0]
    assert fold.y_train.max() <= 1 and fold.y_train.shape[1] == 10
    meta = fold.test_meta
    assert task.metrics(fold.y_test, fold.y_test, meta)["nme"] == 0.0
    shifted = fold.y_test.reshape(len(fold.y_test), -1, 2) + np.array([1 / 24, 0])  # one pixel to the right
    true_px = data.labels["landmarks"][fold.test.index]
    expected = np.mean(1 / np.linalg.norm(true_px[:, 0] - true_px[:, 1], axis=1)) * 100
    assert task.metrics(shifted.reshape(len(shifted), -1), fold.y_test, meta)["nme"] == pytest.approx(expected)


def test_random_baseline_has_same_architecture_new_weights():
    enc = ToyEncoder()
    fresh = random_encoder(enc, seed=5)
    assert weights_hash(fresh) != weights_hash(enc)
    assert [k for k in fresh.state_dict()] == [k for k in enc.state_dict()]
    assert weights_hash(random_encoder(enc, seed=5)) == weights_hash(fresh)


def test_all_tasks_end_to_end_with_baselines_and_tables():
    datasets = {"rafdb:/r": expression_set(), "lfw:/l": pair_set(), "aflw2000:/a": pose_set(seed=1),
                "300wlp:/w": pose_set(seed=2), "disfa:/d": au_set(), "mafl:/m": landmark_set()}
    specs = [TaskSpec("", "rafdb:/r"), TaskSpec("", "lfw:/l"), TaskSpec("pose", "aflw2000:/a", "300wlp:/w"),
             TaskSpec("", "disfa:/d"), TaskSpec("", "mafl:/m")]
    enc = ToyEncoder()
    results = runner.evaluate(enc, specs, FAST, features=["fs", "ff+fp"], baselines=("random", "supervised"),
                              datasets=datasets)
    by_name = {t["name"]: t for t in results["tasks"]}
    expr = by_name["rafdb"]["rows"]
    assert set(expr) == {"checkpoint", "random", "supervised", "floor"} and set(expr["checkpoint"]) == {"fs", "ff+fp"}
    assert "lfw" not in by_name or "floor" not in by_name["lfw"]["rows"]  # pairs: no training labels, no floor
    assert expr["checkpoint"]["fs"]["metrics"]["accuracy"]["mean"] > 0.9  # toy classes are colours
    assert by_name["lfw"]["rows"]["checkpoint"]["fs"]["metrics"]["accuracy"]["mean"] > 0.8
    assert "unavailable" in by_name["lfw"]["rows"]["supervised"]
    assert by_name["aflw2000"]["rows"]["checkpoint"]["fs"]["metrics"]["yaw_mae"]["mean"] < 15
    assert set(by_name["disfa"]["rows"]["checkpoint"]["fs"]["metrics"]) >= {"f1_AU1", "f1_mean", "auc_AU26", "auc_mean"}
    assert "nme" in by_name["mafl"]["rows"]["supervised"]["fs"]["metrics"]
    assert results["checkpoint"]["weights_hash"] == weights_hash(enc)
    md = tables.render(results)
    for heading in ("Expression", "verification", "Head pose", "Action units (F1", "Action units (AUC", "Landmarks"):
        assert heading in md
    assert "| random | fs |" in md and "| supervised | fs |" in md and "PAPER PROTOCOL" not in md
    # each supervised row says the learning rate it trained at (landmarks their own: baselines.SUPERVISED_LR)
    assert by_name["mafl"]["rows"]["supervised"]["fs"]["lr"] == 3e-3 and expr["supervised"]["fs"]["lr"] == 1e-3
    assert "- supervised learning rate (Adam): 0.001 (rafdb, aflw2000, disfa); 0.003 (mafl)" in md


def test_baselines_alone_equal_the_baselines_beside_a_checkpoint():
    # the demo trains the random-weights and supervised rows from the architecture while its runs train
    datasets, specs = {"rafdb:/r": expression_set()}, [TaskSpec("", "rafdb:/r")]
    trained, untrained = ToyEncoder(), ToyEncoder()
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)  # other weights: the rows below must not depend on them
    beside = runner.evaluate(trained, specs, FAST, baselines=("random", "supervised"), datasets=datasets)
    alone = runner.evaluate(untrained, specs, FAST, baselines=("random", "supervised"), datasets=datasets,
                            checkpoint_row=False)
    rows_beside, rows_alone = beside["tasks"][0]["rows"], alone["tasks"][0]["rows"]
    assert set(rows_alone) == {"random", "supervised", "floor"} and alone["checkpoint"]["weights_hash"] is None
    for row in ("random", "supervised", "floor"):
        assert rows_alone[row] == rows_beside[row]
    with pytest.raises(FacesslError, match="nothing to evaluate"):
        runner.evaluate(untrained, specs, FAST, baselines=("supervised",), datasets=datasets, checkpoint_row=False)


def test_verification_fixed_threshold_mode():
    options = EvalOptions(verification="fixed", fixed_threshold=0.999, device="cpu", quiet=True)
    results = runner.evaluate(ToyEncoder(), [TaskSpec("", "lfw:/l")], options, baselines=(),
                              datasets={"lfw:/l": pair_set()})
    row = results["tasks"][0]["rows"]["checkpoint"]["fs"]
    assert row["selected_on"] == "fixed threshold 0.9990" and row["thresholds"] == [0.999]


def test_paper_protocol_is_marked_everywhere():
    options = EvalOptions(seeds=1, epochs=4, paper_protocol=True, device="cpu", quiet=True)
    results = runner.evaluate(ToyEncoder(), [TaskSpec("", "rafdb:/r")], options, baselines=(),
                              datasets={"rafdb:/r": expression_set()})
    assert results["paper_protocol"] and "TEST" in results["protocol"]
    assert "TEST" in results["tasks"][0]["rows"]["checkpoint"]["fs"]["selected_on"]
    md = tables.render(results)
    assert "PAPER PROTOCOL" in md and "accuracy %) — PAPER PROTOCOL, selected on test" in md


def test_unknown_baseline_and_missing_features_are_errors():
    with pytest.raises(FacesslError, match="baseline"):
        runner.evaluate(ToyEncoder(), [], FAST, baselines=("imagenet",))
    with pytest.raises(FacesslError, match="embedding"):
        runner.evaluate(ToyEncoder(), [], FAST, features=["embedding"], baselines=())


def test_pairs_dataset_only_serves_verification():
    with pytest.raises(FacesslError, match="only serves task 'verification'"):
        runner.evaluate(ToyEncoder(), [TaskSpec("expression", "lfw:/l")], FAST, baselines=(),
                        datasets={"lfw:/l": pair_set()})


def test_probe_fits_in_threads_equal_fits_one_after_another():
    import torch

    from facessl.evaluate import protocol

    task = au.build(au_set(), None, EvalOptions(au_positive=3, epochs=4))  # 3 folds x 2 seeds = 6 fits
    rng = np.random.default_rng(0)
    table = rng.normal(size=(len(au_set()), 12)).astype(np.float32)
    import threading

    def features(part):  # extraction fills the feature cache: it must stay in the calling thread
        assert threading.current_thread() is threading.main_thread()
        return table[part.index]
    one = protocol.run_probe_task(task, features, seeds=2, device="cpu", workers=1)
    threads_before = torch.get_num_threads()
    two = protocol.run_probe_task(task, features, seeds=2, device="cpu", workers=2)
    assert torch.get_num_threads() == threads_before
    assert one["selection"] == two["selection"] and one["metrics"] == two["metrics"]


def test_balanced_option_reaches_the_probe_and_the_supervised_row():
    from dataclasses import replace

    options = replace(FAST, balanced=True)
    results = runner.evaluate(ToyEncoder(), [TaskSpec("", "rafdb:/r")], options, baselines=("supervised",),
                              datasets={"rafdb:/r": expression_set()})
    rows = results["tasks"][0]["rows"]
    assert results["eval_config"]["balanced"] is True
    assert rows["checkpoint"]["fs"]["metrics"]["mean_class_accuracy"]["mean"] > 0.9  # toy classes are colours
    assert "mean_class_accuracy" in rows["supervised"]["fs"]["metrics"]
    assert options.probe("softmax").class_weight == "balanced" and options.probe("regression").class_weight is None


def test_pairs_of_items_compare_the_mean_of_their_images_unit_features():
    """YouTube Faces / IJB: an item (video, template) is the mean of its images' L2-normalised features."""
    from facessl.data.formats.common import ImageSet, PairSet
    from facessl.data.formats.decodable import drop_undecodable
    from facessl.evaluate.verification import evaluate, item_features

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(7, 4))
    item = np.array([0, 0, 1, 2, 2, 2, 1])
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    expected = np.stack([unit[[0, 1]].mean(0), unit[[2, 6]].mean(0), unit[[3, 4, 5]].mean(0)])
    np.testing.assert_allclose(item_features(feats, item), expected)
    pairs = PairSet(ImageSet(np.zeros((7, 4, 4, 3), np.uint8)), np.array([[0, 1], [1, 2], [0, 2], [2, 1]]),
                    np.array([True, False, True, False]), np.array([0, 0, 1, 1]), "toy", item=item)
    out = evaluate(pairs, feats, EvalOptions(verification="fixed"))
    e = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    scores = [e[a] @ e[b] for a, b in pairs.pairs]
    assert out["metrics"]["roc_auc"]["mean"] == pytest.approx(metrics.roc_auc(np.array(scores), pairs.same))
    assert pairs.first_images().tolist() == [0, 2, 3]
    kept = drop_undecodable(PairSet(ImageSet([str(Path("/nonexistent") / f"{i}.jpg") for i in range(7)]),
                                    pairs.pairs, pairs.same, pairs.fold, "toy", item=item))
    assert len(kept.pairs) == 0 and kept.dropped["pair with an item left without images"] == 4


def test_video_sets_are_scored_per_clip_from_the_mean_of_their_frames_probabilities():
    from facessl.evaluate.expression import classification_metrics, per_clip

    outputs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    y = np.array([0, 0, 0, 1, 1])
    clip = np.array(["a", "a", "a", "b", "b"])  # clip a: mean (0.47, 0.53) -> class 1; clip b: (0.35, 0.65) -> 1
    probs, labels = per_clip(outputs, y, clip)
    np.testing.assert_allclose(probs, [[1.4 / 3, 1.6 / 3], [0.35, 0.65]])
    assert labels.tolist() == [0, 1]
    assert classification_metrics(outputs, y, {"clip": clip})["accuracy"] == pytest.approx(0.5)
    assert classification_metrics(outputs, y, {})["accuracy"] == pytest.approx(0.4)  # per frame: 2 of 5


def test_centred_verification_matches_sphereface_written_out():
    from facessl.data.formats.common import ImageSet, PairSet
    from facessl.evaluate import verification

    rng = np.random.default_rng(3)
    feats = np.abs(rng.normal(size=(40, 6))) + 2.0  # one orthant, as after a ReLU: plain cosines all near 1
    pairs = np.array([rng.choice(40, 2, replace=False) for _ in range(60)])  # no image paired with itself (cos 1 ± ulp)
    same = rng.random(60) < 0.5
    fold = np.repeat(np.arange(10), 6)
    pairset = PairSet(ImageSet([f"{i}.png" for i in range(40)], source="toy"), pairs, same, source="toy", fold=fold)
    options = EvalOptions(verification_center=True, device="cpu", quiet=True)
    row = verification.evaluate(pairset, feats, options)
    # the loop of SphereFace's evaluation.m: mean of the other folds' left and right features, then cosine
    accs = []
    for k in range(10):
        train, test = fold != k, fold == k
        mu = np.concatenate([feats[pairs[train, 0]], feats[pairs[train, 1]]]).mean(axis=0)
        left, right = feats[pairs[:, 0]] - mu, feats[pairs[:, 1]] - mu
        cos = (left * right).sum(1) / np.linalg.norm(left, axis=1) / np.linalg.norm(right, axis=1)
        candidates = np.r_[-np.inf, np.unique(cos[train])]  # "> t" at every score, and accepting all
        best = max(candidates, key=lambda t: ((cos[train] > t) == same[train]).mean())
        best_acc = ((cos[train] > best) == same[train]).mean()
        assert ((cos[train] > row["thresholds"][k]) == same[train]).mean() == pytest.approx(best_acc)
        accs.append(((cos[test] > row["thresholds"][k]) == same[test]).mean())
    assert row["metrics"]["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert "centred on their mean" in row["selected_on"]
    fixed = verification.evaluate(pairset, feats, EvalOptions(verification="fixed", verification_center=True))
    mu = feats[pairs.ravel()].mean(axis=0)  # no threshold folds: the mean of every pair's images
    left, right = feats[pairs[:, 0]] - mu, feats[pairs[:, 1]] - mu
    cos = (left * right).sum(1) / np.linalg.norm(left, axis=1) / np.linalg.norm(right, axis=1)
    assert fixed["metrics"]["roc_auc"]["mean"] == pytest.approx(metrics.roc_auc(cos, same))
    assert "centred on their mean" in fixed["selected_on"]
    plain = verification.evaluate(pairset, feats, EvalOptions(device="cpu", quiet=True))
    assert "centred" not in plain["selected_on"]
    assert runner.options_hash(EvalOptions(), ["fs"], ()) != runner.options_hash(options, ["fs"], ())
    # off, the hash is the one it was before the option existed (cached results stay valid)
    import hashlib
    import json
    from dataclasses import asdict

    before = {k: v for k, v in asdict(EvalOptions()).items() if k not in ("quiet", "device", "cv", "verification_center",
                                                                         "supervised_seeds", "random_inits")}
    text = json.dumps({"options": before, "features": ["fs"], "baselines": []}, sort_keys=True, default=str)
    assert runner.options_hash(EvalOptions(), ["fs"], ()) == hashlib.sha256(text.encode()).hexdigest()[:16]


def test_the_random_row_pools_its_initialisations(monkeypatch):
    """random_inits=2: the random row is init RANDOM_SEED and init RANDOM_SEED + 1, each probed with every seed,
    their per-seed values joined (mean and std over all); one init alone is the row at random_inits=1."""
    from dataclasses import replace

    datasets = {"rafdb:/r": expression_set(), "lfw:/l": pair_set()}
    specs = [TaskSpec("", "rafdb:/r"), TaskSpec("", "lfw:/l")]
    two_seeds = replace(FAST, seeds=2)
    pooled = runner.evaluate(ToyEncoder(), specs, replace(two_seeds, random_inits=2), baselines=("random",),
                             datasets=datasets, checkpoint_row=False)
    singles = []
    for seed in (runner.RANDOM_SEED, runner.RANDOM_SEED + 1):
        monkeypatch.setattr(runner, "RANDOM_SEED", seed)
        singles.append(runner.evaluate(ToyEncoder(), specs, two_seeds, baselines=("random",), datasets=datasets,
                                       checkpoint_row=False))
    for k, task in enumerate(pooled["tasks"]):
        metrics = task["rows"]["random"]["fs"]["metrics"]
        for name, value in metrics.items():
            alone = [s["tasks"][k]["rows"]["random"]["fs"]["metrics"][name]["per_seed"] for s in singles]
            assert value["per_seed"] == alone[0] + alone[1]
            assert value["mean"] == pytest.approx(np.mean(alone[0] + alone[1]))
            assert value["std"] == pytest.approx(np.std(alone[0] + alone[1]))
    lfw = [s["tasks"][1]["rows"]["random"]["fs"]["metrics"]["accuracy"]["per_seed"] for s in singles]
    assert len(lfw[0]) == 1 and len(pooled["tasks"][1]["rows"]["random"]["fs"]["metrics"]["accuracy"]["per_seed"]) == 2
    fits = [s["tasks"][0]["rows"]["random"]["fs"]["selection"] for s in singles]
    assert fits[0] != fits[1]  # two draws of the weights: two sets of features, other probe fits
    assert pooled["tasks"][0]["rows"]["random"]["fs"]["runs"] == 2
    assert pooled["eval_config_hash"] != singles[0]["eval_config_hash"]
    assert runner.options_hash(replace(two_seeds, random_inits=2), ["fs"], []) == runner.options_hash(two_seeds, ["fs"], [])
    unchanged = runner.evaluate(ToyEncoder(), specs, replace(two_seeds, random_inits=1), baselines=("random",),
                                datasets=datasets, checkpoint_row=False)
    assert unchanged["eval_config_hash"] == runner.options_hash(two_seeds, ["fs"], ["random"])
    with pytest.raises(FacesslError, match="random_inits"):
        runner.evaluate(ToyEncoder(), specs, replace(FAST, random_inits=0), baselines=("random",), datasets=datasets)


def test_the_random_row_builds_the_encoders_architecture_from_its_config(monkeypatch):
    """Without an explicit builder the runner draws the random row with architecture_builder(encoder): a demo's
    baselines and `facessl eval` on its run then probe the same weights. An encoder without a config keeps the
    re-initialised copy."""
    built = []

    def fake_build_method(cfg):
        built.append(cfg)
        return type("Method", (), {"encoder": lambda self: ToyEncoder(seed=cfg)})()

    monkeypatch.setattr("facessl.methods.build_method", fake_build_method)
    datasets, specs = {"lfw:/l": pair_set()}, [TaskSpec("", "lfw:/l")]
    with_config = ToyEncoder()
    with_config.config = 7
    seen = []
    original = runner.random_encoder
    monkeypatch.setattr(runner, "random_encoder", lambda enc, seed, build: seen.append(build) or original(enc, seed, build))
    result = runner.evaluate(with_config, specs, FAST, baselines=("random",), datasets=datasets, checkpoint_row=False)
    assert built == [7] and seen[0] is not None
    assert result["baseline_inits"]["random"] == {"init": "the architecture as its config builds it", "seeds": [runner.RANDOM_SEED]}
    from facessl.evaluate import tables
    assert (f"- random weights: the architecture as its config builds it, 1 draw(s) (seeds {runner.RANDOM_SEED})"
            in tables.render(result))
    result = runner.evaluate(ToyEncoder(), specs, FAST, baselines=("random",), datasets=datasets, checkpoint_row=False)
    assert built == [7] and seen[1] is None
    assert result["baseline_inits"]["random"]["init"].startswith("a re-initialised copy")
    assert result["baseline_inits"]["supervised"] is None


def test_a_feature_equal_to_another_is_probed_once():
    from facessl.methods.fabnet import FAbNet, FAbNetConfig

    encoder = FAbNet(FAbNetConfig(embedding_dim=8), image_size=32).encoder()
    datasets = {"rafdb:/r": expression_set(n=60)}
    at_32 = replace(FAST, size=32)  # the training size
    results = runner.evaluate(encoder, [TaskSpec("", "rafdb:/r")], at_32, features=["embedding", "fs"], baselines=(),
                              datasets=datasets)
    assert set(results["tasks"][0]["rows"]["checkpoint"]) == {"embedding"}
    assert results["eval_config"]["features"] == ["embedding"]
    assert results["eval_config"]["same_features"] == {"fs": "embedding"}
    assert "- feature fs: the very same numbers as embedding for this model" in tables.render(results)
    results = runner.evaluate(encoder, [TaskSpec("", "rafdb:/r", size=64)], at_32, features=["embedding", "fs"],
                              baselines=(), datasets=datasets)  # at twice the size F_s is a 2x2 map: two rows
    assert set(results["tasks"][0]["rows"]["checkpoint"]) == {"embedding", "fs"}
    assert "same_features" not in results["eval_config"]


def test_per_class_recall_and_confusion_agree_with_sklearn_and_the_mean_class_accuracy():
    from sklearn.metrics import confusion_matrix, recall_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    y[y == 3] = 2  # class 3 has no test row
    outputs = rng.random((200, 4)) + np.eye(4)[y] * rng.random((200, 1))
    confusion = expression.classification_metrics(outputs, y, {})["_confusion"]
    np.testing.assert_array_equal(confusion, confusion_matrix(y, outputs.argmax(1), labels=range(4)))
    broken = protocol.class_breakdown([confusion, confusion], ["a", "b", "c", "d"])
    assert list(broken["per_class_recall"]) == ["a", "b", "c"]  # no test row of 'd': no recall
    want = recall_score(y, outputs.argmax(1), labels=[0, 1, 2], average=None)
    np.testing.assert_allclose([broken["per_class_recall"][c]["mean"] for c in "abc"], want)
    assert np.array(broken["confusion"]["counts"]).tolist() == (2 * confusion).tolist()

    results = runner.evaluate(ToyEncoder(), [TaskSpec("", "rafdb:/r")], replace(FAST, seeds=2), baselines=(),
                              datasets={"rafdb:/r": expression_set()})
    row = results["tasks"][0]["rows"]["checkpoint"]["fs"]
    recalls = np.array([r["per_seed"] for r in row["per_class_recall"].values()])
    np.testing.assert_allclose(recalls.mean(0), row["metrics"]["mean_class_accuracy"]["per_seed"])
    assert set(row["per_class_recall"]) <= set(row["confusion"]["classes"]) and row["confusion"]["seeds"] == 2
