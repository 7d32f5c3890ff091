"""Disentanglement analysis: how much each feature (F_f, F_p, F_s, ...) knows about each factor.

For every feature set, frozen features of a train and a test part are probed linearly:

  factor      probe                                                     score (on test)
  yaw/pitch/roll  ridge regression, alpha by efficient leave-one-out CV    R² (1 = perfect, ~0 = none,
                  on the train part (RidgeCV), inputs standardised         negative = worse than the mean)
  expression  multinomial logistic regression, C chosen on a stratified    accuracy
              20 % validation carve of train, then refit on all of train
  identity    cosine similarity on test pairs (features centred by the     verification accuracy
              train mean), threshold chosen by 10-fold CV over the pairs

Labels (y_train / y_test dicts, rows aligned with the features):
  'pose' (N,3) degrees in (yaw, pitch, roll) order, or 'yaw' / 'pitch' / 'roll' (N,) each;
  'expression' (N,) int; 'identity' (N,) any hashable (only used to draw pairs when none given).
A factor whose labels are missing is left out of the table.
"""
from __future__ import annotations

import numpy as np

from facessl.errors import FacesslError

ANGLES = ("yaw", "pitch", "roll")
FACTORS = ANGLES + ("identity", "expression")
FACTOR_HEADERS = {"yaw": "yaw R²", "pitch": "pitch R²", "roll": "roll R²",
                  "identity": "identity acc.", "expression": "expression acc."}
RIDGE_ALPHAS = np.logspace(-2, 5, 8)
LOGISTIC_CS = (0.01, 0.1, 1.0)
LOGISTIC_DIMS = 256


def _angles(y: dict) -> dict[str, np.ndarray]:
    if "pose" in y:
        pose = np.asarray(y["pose"], dtype=float)
        return {a: pose[:, i] for i, a in enumerate(ANGLES)}
    return {a: np.asarray(y[a], dtype=float) for a in ANGLES if a in y}


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(0), train.std(0)
    std[std < 1e-8] = 1.0
    return (train - mean) / std, (test - mean) / std


class _Basis:
    """SVD of the standardised, centred train features, shared by the ridge and logistic probes."""

    def __init__(self, x_train: np.ndarray, x_test: np.ndarray):
        a, b = _standardise(x_train, x_test)
        a = a - a.mean(0)
        # Eigen-decomposition of the smaller Gram matrix: several times faster than a full SVD.
        small_side = a @ a.T if len(a) <= a.shape[1] else a.T @ a
        eigvals, eigvecs = np.linalg.eigh(small_side)
        order = np.argsort(eigvals)[::-1]
        s = np.sqrt(np.clip(eigvals[order], 0.0, None))
        keep = s > (s[0] * 1e-6 if s.size else 0.0)
        s, eigvecs = s[keep], eigvecs[:, order[keep]]
        if len(a) <= a.shape[1]:
            self.u, self.vt = eigvecs, (eigvecs.T @ a) / s[:, None]
        else:
            self.u, self.vt = (a @ eigvecs) / s, eigvecs.T
        self.s, self.test = s, b

    def components(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Train and test coordinates on the top-k principal axes."""
        return self.u[:, :k] * self.s[:k], self.test @ self.vt[:k].T


def pose_r2(basis: _Basis, angles_train: dict, angles_test: dict) -> dict[str, float]:
    """Ridge per angle, alpha by exact leave-one-out CV on train (from the SVD) -> R² on test."""
    names = [a for a in ANGLES if a in angles_train and a in angles_test]
    out = {}
    u, s, n = basis.u, basis.s, len(basis.u)
    for name in names:
        y, y_test = angles_train[name], angles_test[name]
        mean = y.mean()
        uty = u.T @ (y - mean)
        best = None
        for alpha in RIDGE_ALPHAS:
            shrink = s**2 / (s**2 + alpha)
            fitted = u @ (shrink * uty)
            leverage = (u**2) @ shrink + 1.0 / n  # + 1/n: the intercept
            loo = np.mean(((y - mean - fitted) / np.maximum(1.0 - leverage, 1e-12)) ** 2)
            if best is None or loo < best[0]:
                best = (loo, alpha)
        alpha = best[1]
        pred = mean + basis.test @ (basis.vt.T @ (s / (s**2 + alpha) * uty))
        residual = np.sum((y_test - pred) ** 2)
        total = np.sum((y_test - y_test.mean()) ** 2)
        out[name] = float(1.0 - residual / total) if total > 0 else float("nan")
    return out


def expression_accuracy(basis: _Basis, y_train, y_test, seed: int = 0) -> float:
    """Logistic regression on the top LOGISTIC_DIMS principal components (keeps it to seconds at 2k x 2k);
    C picked on a stratified 20 % carve of train, then refit on all of train. L-BFGS stops at 300
    iterations, a time budget: the weakest penalties can reach it, and sklearn's ConvergenceWarning
    for that (a page of advice per fit on the demo's console) is silenced here."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    a, b = basis.components(LOGISTIC_DIMS)
    scale = a.std() or 1.0
    a, b = a / scale, b / scale
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    counts = np.unique(y_train, return_counts=True)[1]
    stratify = y_train if counts.min() >= 2 else None
    fit_x, val_x, fit_y, val_y = train_test_split(a, y_train, test_size=0.2, random_state=seed, stratify=stratify)

    def model(c):
        return LogisticRegression(C=c, max_iter=300, tol=1e-3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = [model(c).fit(fit_x, fit_y).score(val_x, val_y) for c in LOGISTIC_CS]
        best = LOGISTIC_CS[int(np.argmax(scores))]
        return float(model(best).fit(a, y_train).score(b, y_test))


def verification_accuracy(scores, same, folds=None, n_folds: int = 10, seed: int = 0) -> float:
    """LFW-style accuracy: per fold, the threshold that is best on the other folds, applied to this one."""
    scores, same = np.asarray(scores, dtype=float), np.asarray(same, dtype=bool)
    if folds is None:
        folds = np.random.default_rng(seed).permutation(len(scores)) % n_folds
    folds = np.asarray(folds)
    accuracies = []
    for f in np.unique(folds):
        held = folds == f
        fit_s, fit_y = scores[~held], same[~held]
        if fit_s.size == 0:  # one fold only: choose and score on the same pairs
            fit_s, fit_y = scores, same
        candidates = np.unique(fit_s)
        acc = [np.mean((fit_s >= t) == fit_y) for t in candidates]
        threshold = candidates[int(np.argmax(acc))]
        accuracies.append(np.mean((scores[held] >= threshold) == same[held]))
    return float(np.mean(accuracies))


def make_pairs(identity, n_pairs: int = 1000, seed: int = 0):
    """Draw a balanced set of (i, j, same) pairs from identity labels; returns (pairs (P,2), same (P,))."""
    identity = np.asarray(identity)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(identity == v) for v in np.unique(identity)]
    multi = [g for g in groups if len(g) >= 2]
    if not multi or len(groups) < 2:
        raise FacesslError("identity verification needs >= 2 identities, one with >= 2 images")
    half = n_pairs // 2
    pos = [rng.choice(multi[rng.integers(len(multi))], 2, replace=False) for _ in range(half)]
    neg = []
    while len(neg) < n_pairs - half:
        i, j = rng.integers(len(identity), size=2)
        if identity[i] != identity[j]:
            neg.append((i, j))
    pairs = np.asarray(pos + neg, dtype=int)
    return pairs, np.r_[np.ones(half, bool), np.zeros(len(neg), bool)]


def _pair_arrays(pairs):
    """Accept a dict {'pairs', 'same', optional 'fold'}, a PairSet-like object, or a (pairs, same) tuple."""
    if isinstance(pairs, dict):
        return np.asarray(pairs["pairs"]), np.asarray(pairs["same"]), pairs.get("fold")
    if hasattr(pairs, "pairs") and hasattr(pairs, "same"):
        return np.asarray(pairs.pairs), np.asarray(pairs.same), getattr(pairs, "fold", None)
    return np.asarray(pairs[0]), np.asarray(pairs[1]), (pairs[2] if len(pairs) > 2 else None)


def identity_accuracy(x_train, x_test, pairs, verify=verification_accuracy) -> float:
    """Cosine similarity of centred test features on pairs -> verification accuracy via `verify`."""
    index, same, folds = _pair_arrays(pairs)
    x = x_test - x_train.mean(0)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    scores = np.sum(x[index[:, 0]] * x[index[:, 1]], axis=1)
    return float(verify(scores, same, folds))


def disentanglement_table(train: dict, test: dict, y_train: dict, y_test: dict, pairs=None, seed: int = 0,
                          verify=verification_accuracy, n_threads: int | None = 1) -> dict[str, dict[str, float]]:
    """feature name -> factor -> score (see module docstring). `pairs` index the test rows; when None and
    y_test has 'identity', balanced pairs are drawn from it with `seed`.

    n_threads caps BLAS/OpenMP threads (None: library default). One thread is the default because
    on a busy machine spinning BLAS threads made this 6x slower (3 features of 2000 x 2048: 29 s wall
    with 1 thread vs 184 s with 2, while other jobs ran).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads):
        return _table(train, test, y_train, y_test, pairs, seed, verify)


def _table(train, test, y_train, y_test, pairs, seed, verify) -> dict[str, dict[str, float]]:
    missing = sorted(set(train) ^ set(test))
    if missing:
        raise FacesslError(f"disentanglement_table: features {missing} are not in both train and test")
    if pairs is None and "identity" in y_test:
        pairs = make_pairs(y_test["identity"], n_pairs=min(2000, 2 * len(y_test["identity"])), seed=seed)
    angles_train, angles_test = _angles(y_train), _angles(y_test)
    table = {}
    for name in train:
        a = np.asarray(train[name], dtype=np.float64).reshape(len(train[name]), -1)
        b = np.asarray(test[name], dtype=np.float64).reshape(len(test[name]), -1)
        basis = _Basis(a, b)
        row = pose_r2(basis, angles_train, angles_test)
        if pairs is not None:
            row["identity"] = identity_accuracy(a, b, pairs, verify)
        if "expression" in y_train and "expression" in y_test:
            row["expression"] = expression_accuracy(basis, y_train["expression"], y_test["expression"], seed)
        table[name] = row
    return table


def _factors(table: dict) -> list[str]:
    present = {f for row in table.values() for f in row}
    return [f for f in FACTORS if f in present] + sorted(present - set(FACTORS))


def to_markdown(table: dict, digits: int = 2) -> str:
    """A GitHub-markdown table: one row per feature, one column per factor; missing cells '—'."""
    factors = _factors(table)
    lines = ["| feature | " + " | ".join(FACTOR_HEADERS.get(f, f) for f in factors) + " |",
             "|---|" + "---:|" * len(factors)]
    for name, row in table.items():
        cells = [f"{row[f]:.{digits}f}" if f in row and np.isfinite(row[f]) else "—" for f in factors]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def disentanglement_heatmap(table: dict, path, title: str = "What each feature knows (test set)"):
    """Heat map of the table (R² and accuracies share one 0..1 colour scale)."""
    from facessl.viz.heatmap import heatmap

    factors = _factors(table)
    matrix = [[table[n].get(f, np.nan) for f in factors] for n in table]
    return heatmap(matrix, list(table), [FACTOR_HEADERS.get(f, f) for f in factors], path, title=title,
                   vmin=0.0, vmax=1.0)
