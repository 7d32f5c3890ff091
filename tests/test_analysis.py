"""Disentanglement analysis: a feature built from a factor scores high on it; pure noise scores at chance."""
import numpy as np
import pytest
from PIL import Image

from facessl.demo.analysis import (_Basis, disentanglement_heatmap, disentanglement_table, make_pairs, pose_r2,
                              to_markdown, verification_accuracy)
from facessl.errors import FacesslError


def synthetic_split(rng, n, d, w_pose, class_means, id_means):
    pose = rng.uniform(-60, 60, (n, 3))
    expression = rng.integers(0, 7, n)
    identity = rng.integers(0, len(id_means), n)
    features = {
        "pose_feature": pose @ w_pose / 60 + 0.3 * rng.normal(size=(n, d)),  # X1 = linear(pose) + noise
        "noise": rng.normal(size=(n, d)),  # X2 = noise
        "face_feature": class_means[expression] + id_means[identity] + 0.5 * rng.normal(size=(n, d)),
    }
    return features, {"pose": pose, "expression": expression, "identity": identity}


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    d = 24
    w_pose, class_means, id_means = rng.normal(size=(3, d)), 2 * rng.normal(size=(7, d)), 2 * rng.normal(size=(30, d))
    x_train, y_train = synthetic_split(rng, 500, d, w_pose, class_means, id_means)
    x_test, y_test = synthetic_split(rng, 400, d, w_pose, class_means, id_means)
    return disentanglement_table(x_train, x_test, y_train, y_test, seed=0)


def test_pose_is_read_from_the_pose_feature_only(table):
    for angle in ("yaw", "pitch", "roll"):
        assert table["pose_feature"][angle] > 0.9
        assert abs(table["noise"][angle]) < 0.05
        assert table["face_feature"][angle] < 0.1


def test_expression_and_identity_are_read_from_the_face_feature(table):
    assert table["face_feature"]["expression"] > 0.9
    assert table["noise"]["expression"] < 0.3  # chance is 1/7
    assert table["face_feature"]["identity"] > 0.75  # expression varies within an identity
    assert 0.35 < table["noise"]["identity"] < 0.65  # balanced pairs: chance is 0.5


def test_ridge_from_the_shared_basis_matches_sklearn():
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(1)
    for n, d in ((80, 30), (40, 90)):  # both sides of the n <= d branch
        a, b = rng.normal(size=(n, d)) * rng.uniform(0.5, 2, d), rng.normal(size=(n, d))
        ya, yb = a[:, 0] + 0.5 * rng.normal(size=n), b[:, 0] + 0.5 * rng.normal(size=n)
        ours = pose_r2(_Basis(a, b), {"yaw": ya}, {"yaw": yb})["yaw"]
        mean, std = a.mean(0), a.std(0)
        model = RidgeCV(alphas=np.logspace(-2, 5, 8)).fit((a - mean) / std, ya)
        assert ours == pytest.approx(r2_score(yb, model.predict((b - mean) / std)), abs=1e-6)


def test_verification_accuracy_picks_the_threshold_on_other_folds():
    same = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    assert verification_accuracy(np.r_[np.full(50, 0.9), np.full(50, 0.1)], same) == 1.0
    scores = np.random.default_rng(0).random(100)
    assert 0.3 < verification_accuracy(scores, same) < 0.7


def test_make_pairs_is_balanced_and_correct():
    identity = np.repeat(np.arange(10), 5)
    pairs, same = make_pairs(identity, n_pairs=200, seed=1)
    assert same.sum() == 100 and len(pairs) == 200
    np.testing.assert_array_equal(identity[pairs[:, 0]] == identity[pairs[:, 1]], same)
    assert not np.any(pairs[:, 0][same] == pairs[:, 1][same])


def test_markdown_and_heatmap(table, tmp_path):
    table = {**table, "partial": {"yaw": 0.5}}
    lines = to_markdown(table).strip().splitlines()
    assert lines[0] == "| feature | yaw R² | pitch R² | roll R² | identity acc. | expression acc. |"
    assert len({line.count("|") for line in lines}) == 1 and len(lines) == 2 + len(table)
    assert lines[-1] == "| partial | 0.50 | — | — | — | — |"
    path = disentanglement_heatmap(table, tmp_path / "d.png")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 300


def test_features_must_match_between_train_and_test():
    with pytest.raises(FacesslError, match=r"\['F_p'\] are not in both"):
        disentanglement_table({"F_f": np.zeros((5, 2)), "F_p": np.zeros((5, 2))}, {"F_f": np.zeros((5, 2))}, {}, {})


def test_the_expression_probe_stops_at_its_iteration_budget_without_a_warning(monkeypatch):
    """L-BFGS may reach its 300 iterations on the demo's features (it did, twice a run); the demo's console
    must not get sklearn's page of advice for it, and the fit still returns its score."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from facessl.demo.analysis import expression_accuracy

    fit = LogisticRegression.fit

    def fit_that_stops_early(self, *args, **kwargs):
        warnings.warn("lbfgs failed to converge after 300 iteration(s)", ConvergenceWarning)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", fit_that_stops_early)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    x = rng.normal(size=(400, 64)) + 2.0 * rng.normal(size=(3, 64))[y]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        acc = expression_accuracy(_Basis(x[:300], x[300:]), y[:300], y[300:])
    assert acc > 0.9
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
