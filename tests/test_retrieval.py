"""Retrieval metrics against a brute-force formulation and scikit-learn's average precision."""
import numpy as np
import pytest

from facessl.errors import FacesslError
from facessl.evaluate import retrieval


def test_rank1_rank5_and_map_against_brute_force_and_sklearn(monkeypatch):
    from sklearn.metrics import average_precision_score

    monkeypatch.setattr(retrieval, "CHUNK_ELEMENTS", 500)  # several chunks of queries
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 12, 90).astype(str)
    labels[0] = "alone"  # one image: not a query, still a candidate
    feats = rng.normal(size=(90, 6)) + 0.8 * np.eye(12)[rng.integers(0, 12, 90)] @ rng.normal(size=(12, 6))
    got = retrieval.retrieval_metrics(feats, labels)
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sims = unit @ unit.T
    rank1, rank5, aps = [], [], []
    for i in range(90):
        others = np.array([j for j in range(90) if j != i])
        match = labels[others] == labels[i]
        if not match.any():
            continue
        order = others[np.argsort(-sims[i, others], kind="stable")]
        rank1.append(labels[order[0]] == labels[i])
        rank5.append((labels[order[:5]] == labels[i]).any())
        aps.append(average_precision_score(match, sims[i, others]))
    assert got["queries"] == len(aps) == 89
    assert got["rank1"] == pytest.approx(np.mean(rank1)) and got["rank5"] == pytest.approx(np.mean(rank5))
    assert got["map"] == pytest.approx(np.mean(aps))


def test_chance_is_what_random_features_score_on_average():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(8), rng.integers(2, 7, 8)).astype(str)
    runs = [retrieval.retrieval_metrics(rng.normal(size=(len(labels), 16)), labels) for _ in range(300)]
    floor = retrieval.chance(labels)
    for key in ("rank1", "rank5", "map"):
        assert np.mean([r[key] for r in runs]) == pytest.approx(floor[key], abs=0.015), key


def test_a_set_of_single_images_cannot_be_scored():
    with pytest.raises(FacesslError, match="two images or more"):
        retrieval.retrieval_metrics(np.eye(3), np.array(["a", "b", "c"]))


def test_retrieval_task_rows_floor_and_info():
    from eval_toys import ToyEncoder, pair_set
    from facessl.evaluate import runner
    from facessl.evaluate.protocol import EvalOptions
    from facessl.evaluate.suite import TaskSpec

    people = pair_set().images  # 30 people of 4 images: a person is a colour pattern
    options = EvalOptions(seeds=1, device="cpu", quiet=True)
    results = runner.evaluate(ToyEncoder(), [TaskSpec("retrieval", "imagefolder:/p")], options,
                              baselines=("random", "supervised"), datasets={"imagefolder:/p": people})
    task = results["tasks"][0]
    rows = task["rows"]
    assert set(rows) == {"checkpoint", "random", "floor", "supervised"} and "unavailable" in rows["supervised"]
    assert rows["checkpoint"]["fs"]["metrics"]["rank1"]["mean"] > 0.5 > rows["floor"]["chance"]["metrics"]["rank1"]["mean"]
    assert rows["floor"]["chance"]["metrics"]["rank1"]["mean"] == pytest.approx(3 / 119)
    assert task["info"]["people"] == 30 and task["info"]["queries"] == 120 and "identity" in task["info"]["matched_on"]
