"""Metrics against scikit-learn and against literal loop implementations on random inputs."""
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from facessl.evaluate import metrics


def loop_verification(scores, same, folds):
    """Straightforward LFW protocol: try every candidate threshold on the 9 training folds."""
    accs = []
    for k in sorted(set(folds)):
        train = [i for i in range(len(scores)) if folds[i] != k]
        values = sorted(set(scores[i] for i in train))
        candidates = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1.0]
        best_t, best_acc = None, -1.0
        for t in candidates:
            acc = sum((scores[i] > t) == same[i] for i in train) / len(train)
            if acc > best_acc:
                best_t, best_acc = t, acc
        test = [i for i in range(len(scores)) if folds[i] == k]
        accs.append(sum((scores[i] > best_t) == same[i] for i in test) / len(test))
    return np.mean(accs), np.std(accs)


def loop_nme(pred, true, i, j):
    per_image = []
    for p, t in zip(pred, true):
        d = np.hypot(*(t[i] - t[j]))
        per_image.append(np.mean([np.hypot(*(a - b)) for a, b in zip(p, t)]) / d)
    return 100 * np.mean(per_image)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    true, pred = rng.integers(0, 7, 300), rng.integers(0, 7, 300)
    assert metrics.accuracy(pred, true) == pytest.approx(np.mean(pred == true))
    assert metrics.mean_class_accuracy(pred, true) == pytest.approx(balanced_accuracy_score(true, pred))


@pytest.mark.parametrize("seed", [0, 1])
def test_verification_matches_loop_implementation(seed):
    rng = np.random.default_rng(seed)
    same = rng.random(200) < 0.5
    scores = np.round(rng.normal(size=200) + same * 0.8, 2)  # rounding makes ties happen
    folds = np.arange(200) * 10 // 200
    mean, std, thresholds = metrics.verification_accuracy(scores, same)
    ref_mean, ref_std = loop_verification(scores.tolist(), same.tolist(), folds.tolist())
    assert mean == pytest.approx(ref_mean) and std == pytest.approx(ref_std)
    assert thresholds.shape == (10,)
    mean2, _, _ = metrics.verification_accuracy(scores, same, folds=folds)
    assert mean2 == mean


def test_verification_perfect_and_fixed_threshold():
    scores = np.array([0.9, 0.8, 0.1, 0.2] * 10)
    same = np.array([True, True, False, False] * 10)
    assert metrics.verification_accuracy(scores, same)[0] == 1.0
    assert metrics.verification_accuracy_fixed(scores, same, 0.5) == (1.0, 0.5)
    assert metrics.verification_accuracy_fixed(scores, same, 0.95)[0] == 0.5
    assert metrics.verification_accuracy_fixed(scores, same)[0] == 1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_auc_and_au_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random((150, 8)) < 0.3
    probs = np.clip(rng.random((150, 8)) * 0.7 + labels * 0.3, 0, 1).round(2)
    assert metrics.roc_auc(probs[:, 0], labels[:, 0]) == pytest.approx(roc_auc_score(labels[:, 0], probs[:, 0]))
    per_au, mean = metrics.au_f1(probs, labels)
    expected = f1_score(labels, probs >= 0.5, average=None, zero_division=0)
    np.testing.assert_allclose(per_au, expected)
    assert mean == pytest.approx(expected.mean())
    per_auc, mean_auc = metrics.au_auc(probs, labels)
    np.testing.assert_allclose(per_auc, [roc_auc_score(labels[:, a], probs[:, a]) for a in range(8)])
    assert mean_auc == pytest.approx(per_auc.mean())


def test_au_metrics_degenerate_columns():
    labels = np.zeros((10, 2), bool)
    labels[:5, 1] = True
    probs = np.full((10, 2), 0.1)
    per_au, _ = metrics.au_f1(probs, labels)
    assert per_au.tolist() == [0.0, 0.0]
    per_auc, mean_auc = metrics.au_auc(probs, labels)
    assert np.isnan(per_auc[0]) and mean_auc == 0.5


def test_mae_degrees_wraps_and_averages():
    pred = np.array([[179.0, 10.0, -5.0], [0.0, 0.0, 0.0]])
    true = np.array([[-179.0, 20.0, 5.0], [4.0, -2.0, 0.0]])
    per, mean = metrics.mae_degrees(pred, true)
    np.testing.assert_allclose(per, [3.0, 6.0, 5.0])
    assert mean == pytest.approx(14.0 / 3)
    per_nowrap, _ = metrics.mae_degrees(pred, true, wrap=False)
    assert per_nowrap[0] == pytest.approx(181.0)


@pytest.mark.parametrize("k,pair", [(68, (36, 45)), (5, (0, 1)), (98, (60, 72))])
def test_nme_matches_loop_implementation(k, pair):
    rng = np.random.default_rng(k)
    true = rng.random((20, k, 2)) * 100
    pred = true + rng.normal(size=true.shape) * 3
    assert metrics.nme(pred, true) == pytest.approx(loop_nme(pred, true, *pair))
    assert metrics.nme(pred, true, normaliser=(2, 3)) == pytest.approx(loop_nme(pred, true, 2, 3))
    assert metrics.nme(pred, true, per_image=True).shape == (20,)


def test_nme_box_normaliser():
    true = np.array([[[0.0, 0.0], [4.0, 0.0], [4.0, 9.0]]])  # box 4 x 9 -> normaliser 6
    pred = true + np.array([3.0, 0.0])
    assert metrics.nme(pred, true, normaliser="box") == pytest.approx(50.0)


def test_nme_rejects_unknown_point_count():
    with pytest.raises(ValueError, match="inter-ocular"):
        metrics.nme(np.zeros((2, 7, 2)), np.ones((2, 7, 2)))


def test_nme_with_given_lengths_matches_the_formula_and_the_landmark_task_uses_box_size():
    """AFLW-19 divides each face's mean point error by sqrt(w h) of its annotated box, not by the points' extent."""
    from facessl.evaluate.landmarks import landmark_metrics

    rng = np.random.default_rng(3)
    true = rng.uniform(10, 90, size=(6, 19, 2))
    pred = true + rng.normal(0, 2, size=true.shape)
    lengths = rng.uniform(40, 80, size=6)
    naive = np.mean([np.mean([np.hypot(*(pred[i, k] - true[i, k])) for k in range(19)]) / lengths[i]
                     for i in range(6)]) * 100
    assert metrics.nme(pred, true, lengths=lengths) == pytest.approx(naive)
    with pytest.raises(ValueError, match="6 normalising lengths"):
        metrics.nme(pred, true, lengths=lengths[:5])
    sizes = np.full((6, 2), 100.0)  # the task's targets are coordinates / image size
    out = landmark_metrics((pred / 100).reshape(6, -1), (true / 100).reshape(6, -1), {"sizes": sizes, "box_size": lengths})
    assert out["nme"] == pytest.approx(naive)
    assert "nme" not in landmark_metrics((pred / 100).reshape(6, -1), (true / 100).reshape(6, -1), {"sizes": sizes})


def test_tar_at_far_matches_sklearn_roc_curve_under_both_rules():
    """'at_most': the highest TPR with FPR <= FAR on the full ROC; 'nearest': InsightFace's IJB table, the point
    nearest in FPR (ties to the higher TPR) on sklearn's default (drop_intermediate) ROC. Tied scores included."""
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(7)
    fars = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 0.3]
    for trial in range(60):
        n = int(rng.integers(5, 4000))
        same = rng.random(n) < rng.uniform(0.05, 0.5)
        same[:2] = [True, False]
        scores = rng.normal(size=n) + same * rng.uniform(0, 3)
        if trial % 2:
            scores = np.round(scores, 1)  # many ties
        fpr, tpr, _ = roc_curve(same, scores, drop_intermediate=False)
        expected = [tpr[fpr <= far].max() for far in fars]
        np.testing.assert_allclose(metrics.tar_at_far(scores, same, fars), expected)
        fpr, tpr, _ = roc_curve(same, scores)
        fpr, tpr = fpr[::-1], tpr[::-1]
        insightface = [tpr[min(zip(np.abs(fpr - far), range(len(fpr))))[1]] for far in fars]
        np.testing.assert_allclose(metrics.tar_at_far(scores, same, fars, rule="nearest"), insightface)
    assert metrics.tar_at_far([0.9, 0.8, 0.1], [True, False, True], 0.0) == pytest.approx(0.5)
    assert isinstance(metrics.tar_at_far([0.9, 0.1], [True, False], 0.1), float)
    assert np.isnan(metrics.tar_at_far([0.9, 0.1], [True, True], 0.1))
    with pytest.raises(ValueError, match="rule"):
        metrics.tar_at_far([0.9, 0.1], [True, False], 0.1, rule="closest")


@pytest.mark.parametrize("seed", range(3))
def test_ccc_matches_its_formula_written_out(seed):
    rng = np.random.default_rng(seed)
    true = rng.uniform(-1, 1, 200)
    pred = 0.6 * true + rng.normal(0.1, 0.3, 200)
    n = len(true)
    mp, mt = sum(pred) / n, sum(true) / n
    cov = sum((p - mp) * (t - mt) for p, t in zip(pred, true)) / n
    vp, vt = sum((p - mp) ** 2 for p in pred) / n, sum((t - mt) ** 2 for t in true) / n
    assert metrics.ccc(pred, true) == pytest.approx(2 * cov / (vp + vt + (mp - mt) ** 2))
    assert metrics.ccc(true, true) == pytest.approx(1.0) and metrics.ccc(true + 0.5, true) < 1  # a bias lowers it
    assert np.isnan(metrics.ccc(np.zeros(5), np.zeros(5)))
