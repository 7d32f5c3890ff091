"""Evaluation metrics, numpy in and out (public API).

    accuracy(pred, true)                         fraction of equal labels
    mean_class_accuracy(pred, true)              mean over the classes present in `true` of their recall
    macro_f1(pred, true)                         unweighted mean of the per-class F1 (classes in true or pred)
    verification_accuracy(scores, same, n_folds=10, folds=None) -> (mean, std, thresholds)
    verification_accuracy_fixed(scores, same, threshold=None) -> (accuracy, threshold)
    roc_auc(scores, positive)                    area under the ROC curve (ties count one half)
    tar_at_far(scores, same, far, rule="at_most") true accept rate at false accept rate(s) `far` (IJB-B/C)
    ccc(pred, true)                              concordance correlation coefficient (valence, arousal)
    mae_degrees(pred, true, wrap=True) -> (per_column, mean)
    au_f1(probs, labels, threshold=0.5) -> (per_au, mean)
    au_auc(probs, labels) -> (per_au, mean)
    binary_accuracy(probs, labels, threshold=0.5) -> (per_column, mean)            multi-label: accuracy per column
    binary_balanced_accuracy(probs, labels, threshold=0.5) -> (per_column, mean)   mean of the recalls per column
    nme(pred, true, normaliser="interocular") -> mean normalised mean error in % ("box" also offered)

Accuracies and F1/AUC are fractions in [0, 1]; tables multiply by 100 for display.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from facessl.data.labels import OUTER_EYE_CORNERS

WFLW_OUTER_EYE_CORNERS = (60, 72)  # WFLW's 98-point layout, the normaliser of its published NMEs
COFW_PUPILS = (16, 17)  # COFW's 29-point layout: the pupils, RCPR's normaliser (points 17, 18 1-based)


def accuracy(pred, true) -> float:
    pred, true = np.asarray(pred), np.asarray(true)
    _check_same_length(pred, true)
    return float(np.mean(pred == true))


def mean_class_accuracy(pred, true) -> float:
    """Mean over the classes present in `true` of the per-class recall (robust to class imbalance)."""
    pred, true = np.asarray(pred), np.asarray(true)
    _check_same_length(pred, true)
    recalls = [np.mean(pred[true == c] == c) for c in np.unique(true)]
    return float(np.mean(recalls))


def macro_f1(pred, true) -> float:
    """Mean over the classes that occur in `true` or `pred` of 2TP / (2TP + FP + FN) (scikit-learn's
    f1_score(average='macro'); a class predicted but never true scores 0 and counts)."""
    pred, true = np.asarray(pred), np.asarray(true)
    _check_same_length(pred, true)
    scores = []
    for c in np.union1d(np.unique(true), np.unique(pred)):
        tp = np.sum((pred == c) & (true == c))
        scores.append(2.0 * tp / (np.sum(pred == c) + np.sum(true == c)))
    return float(np.mean(scores))


def best_threshold(scores, same) -> tuple[float, float]:
    """The threshold t maximising the accuracy of `score > t` on (scores, same), and that accuracy.

    Candidates lie below all scores, between consecutive distinct scores (midpoints) and above all
    scores; among equally good thresholds the smallest wins.
    """
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    values, inverse = np.unique(scores, return_inverse=True)
    pos = np.bincount(inverse, weights=same, minlength=len(values))
    neg = np.bincount(inverse, weights=~same, minlength=len(values))
    # threshold just below values[j]: positives predicted for values[j:], negatives for values[:j]
    pos_at_or_above = np.concatenate([np.cumsum(pos[::-1])[::-1], [0.0]])
    neg_below = np.concatenate([[0.0], np.cumsum(neg)])
    correct = pos_at_or_above + neg_below
    j = int(np.argmax(correct))
    if j == 0:
        threshold = values[0] - 1.0
    elif j == len(values):
        threshold = values[-1] + 1.0
    else:
        threshold = (values[j - 1] + values[j]) / 2.0
    return float(threshold), float(correct[j] / len(scores))


def verification_accuracy(scores, same, n_folds: int = 10, folds=None):
    """The LFW protocol: for each fold, pick the threshold maximising accuracy on the other folds and
    measure accuracy on this fold. Returns (mean, std, thresholds) over folds.

    folds: (P,) fold index of each pair; by default P pairs are cut into n_folds consecutive blocks
    (the layout of LFW's pairs.txt).
    """
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    _check_same_length(scores, same)
    folds = default_folds(len(scores), n_folds) if folds is None else np.asarray(folds)
    per_fold = [held_out_fold_accuracy(scores, same, folds == k) for k in np.unique(folds)]
    accs, thresholds = [a for a, _ in per_fold], [t for _, t in per_fold]
    return float(np.mean(accs)), float(np.std(accs)), np.asarray(thresholds)


def default_folds(n_pairs: int, n_folds: int = 10) -> np.ndarray:
    """Fold index of each of n_pairs pairs cut into n_folds consecutive blocks (LFW's pairs.txt layout)."""
    return np.arange(n_pairs) * n_folds // max(n_pairs, 1)


def held_out_fold_accuracy(scores, same, test) -> tuple[float, float]:
    """One fold of the LFW protocol: the threshold maximising accuracy on the pairs outside `test` (a mask),
    and the accuracy of that threshold on the pairs inside it. Returns (accuracy, threshold)."""
    threshold, _ = best_threshold(scores[~test], same[~test])
    return float(np.mean((scores[test] > threshold) == same[test])), threshold


def verification_accuracy_fixed(scores, same, threshold=None):
    """One threshold for all pairs: the given one, or (threshold=None) the best on all pairs, which
    is optimistic because the threshold is chosen on the pairs it is scored on. Returns (acc, threshold)."""
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    if threshold is None:
        threshold, _ = best_threshold(scores, same)
    return float(np.mean((scores > threshold) == same)), float(threshold)


def roc_auc(scores, positive) -> float:
    """ROC AUC via the Mann-Whitney statistic; NaN when only one class is present."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    _check_same_length(scores, positive)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_counts(scores, positive) -> tuple[np.ndarray, np.ndarray]:
    """(false positives, true positives) accepted by `score >= t` for every distinct score t from the highest
    down, after a first (0, 0) point: the full ROC as counts (sklearn's roc_curve with drop_intermediate=False)."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    _check_same_length(scores, positive)
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], positive[order]
    last = np.flatnonzero(np.diff(ranked) != 0) if len(ranked) > 1 else np.zeros(0, np.int64)
    last = np.append(last, len(ranked) - 1) if len(ranked) else last  # the last pair of each run of equal scores
    tp = np.cumsum(hits)[last]
    fp = (last + 1) - tp
    return np.concatenate([[0], fp]), np.concatenate([[0], tp])


def tar_at_far(scores, same, far, rule: str = "at_most"):
    """True accept rate at false accept rate `far` (a number, or a sequence: one sort for all) from the ROC of
    all pairs; NaN when one class is missing.

    rule "at_most": the highest TPR among thresholds whose FPR <= far (the conservative reading).
    rule "nearest": what InsightFace's IJB-B/C evaluation reports (recognition/_evaluation_/ijb/ijb_11.py,
    arcface_torch/eval_ijbc.py): the TPR of the point nearest in FPR to far, ties to the higher TPR, among the
    points sklearn's roc_curve keeps by default (drop_intermediate), so published IJB tables compare. It may sit
    just above far; at IJB's millions of negatives the two rules differ in the last digits.
    Below FAR = 1 / negatives no threshold separates the rates; callers leave such FARs out."""
    if rule not in ("at_most", "nearest"):
        raise ValueError(f"tar_at_far rule {rule!r}: expected 'at_most' or 'nearest'")
    fars = np.atleast_1d(np.asarray(far, dtype=np.float64))
    fp, tp = roc_counts(scores, same)
    if tp[-1] == 0 or fp[-1] == 0:
        out = np.full(len(fars), np.nan)
    else:
        if rule == "nearest":
            fp, tp = _sklearn_kept_points(fp, tp)
        fpr, tpr = fp / fp[-1], tp / tp[-1]
        below = np.searchsorted(fpr, fars, side="right") - 1  # the last point with FPR <= far (FPR never decreases)
        out = tpr[below]
        if rule == "nearest":
            above = np.minimum(below + 1, len(fpr) - 1)
            top_of_above = np.searchsorted(fpr, fpr[above], side="right") - 1  # the highest TPR at that FPR
            closer = (below + 1 < len(fpr)) & (fpr[above] - fars <= fars - fpr[below])
            out = np.where(closer, tpr[top_of_above], out)
    return float(out[0]) if np.ndim(far) == 0 else out


def _sklearn_kept_points(fp: np.ndarray, tp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ROC points (after the first (0, 0)) that roc_curve(drop_intermediate=True) keeps: the ends, and
    every point where the step before differs from the step after."""
    if len(fp) <= 3:
        return fp, tp
    bend = (np.diff(fp[1:], 2) != 0) | (np.diff(tp[1:], 2) != 0)
    keep = np.concatenate([[True, True], bend, [True]])
    return fp[keep], tp[keep]


def ccc(pred, true) -> float:
    """Lin's concordance correlation coefficient of two 1-D series: 2 cov / (var_p + var_t + (mean_p - mean_t)^2),
    population moments (ABAW's valence / arousal metric); NaN when both are constant."""
    pred, true = np.asarray(pred, dtype=np.float64).reshape(-1), np.asarray(true, dtype=np.float64).reshape(-1)
    _check_same_length(pred, true)
    mp, mt = pred.mean(), true.mean()
    cov = np.mean((pred - mp) * (true - mt))
    denominator = pred.var() + true.var() + (mp - mt) ** 2
    return float(2 * cov / denominator) if denominator > 0 else float("nan")


def mae_degrees(pred, true, wrap: bool = True):
    """Mean absolute error per column (e.g. yaw, pitch, roll) and their mean, in degrees.

    wrap=True measures the shorter way round the circle (179° vs -179° is 2° apart).
    """
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} != target shape {true.shape}")
    diff = pred - true
    if wrap:
        diff = (diff + 180.0) % 360.0 - 180.0
    per_column = np.abs(diff).reshape(len(diff), -1).mean(axis=0)
    return per_column, float(per_column.mean())


def au_f1(probs, labels, threshold: float = 0.5):
    """Per-AU F1 of `probs >= threshold` against binary labels (N, A), and their mean.
    An AU with no positive label and no positive prediction scores 0 (as scikit-learn does)."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels).astype(bool)
    if probs.shape != labels.shape:
        raise ValueError(f"probability shape {probs.shape} != label shape {labels.shape}")
    pred = probs >= threshold
    tp = (pred & labels).sum(axis=0)
    denom = pred.sum(axis=0) + labels.sum(axis=0)
    per_au = np.where(denom > 0, 2.0 * tp / np.maximum(denom, 1), 0.0)
    return per_au, float(per_au.mean())


def au_auc(probs, labels):
    """Per-AU ROC AUC (N, A) and their mean over the AUs where both classes occur."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels).astype(bool)
    if probs.shape != labels.shape:
        raise ValueError(f"probability shape {probs.shape} != label shape {labels.shape}")
    per_au = np.array([roc_auc(probs[:, a], labels[:, a]) for a in range(probs.shape[1])])
    valid = ~np.isnan(per_au)
    return per_au, float(per_au[valid].mean()) if valid.any() else float("nan")


def _binary_pair(probs, labels, threshold: float):
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels).astype(bool)
    if probs.shape != labels.shape or probs.ndim != 2:
        raise ValueError(f"expected (N, A) probabilities and labels, got {probs.shape} and {labels.shape}")
    return probs >= threshold, labels


def binary_accuracy(probs, labels, threshold: float = 0.5):
    """Per-column accuracy of `probs >= threshold` against 0/1 labels (N, A), and the mean over columns
    (CelebA's headline: the mean accuracy over its 40 attributes)."""
    pred, labels = _binary_pair(probs, labels, threshold)
    per_column = (pred == labels).mean(axis=0)
    return per_column, float(per_column.mean())


def binary_balanced_accuracy(probs, labels, threshold: float = 0.5):
    """Per-column balanced accuracy (the mean of the recalls of the values present in the labels: scikit-learn's
    balanced_accuracy_score; a column with one value is that value's recall) and the mean over columns."""
    pred, labels = _binary_pair(probs, labels, threshold)
    per_column = []
    for p, y in zip(pred.T, labels.T):
        per_column.append(np.mean([np.mean(p[y == value] == value) for value in np.unique(y)]))
    per_column = np.asarray(per_column, dtype=np.float64)
    return per_column, float(per_column.mean())


def interocular_indices(n_points: int) -> tuple[int, int]:
    """Normalising point pair: outer eye corners for 68 points (and WFLW's 98), the eye centres (0, 1) for MAFL's 5,
    the pupils for COFW's 29."""
    if n_points == 68:
        return OUTER_EYE_CORNERS
    if n_points == 5:
        return (0, 1)
    if n_points == 98:
        return WFLW_OUTER_EYE_CORNERS
    if n_points == 29:
        return COFW_PUPILS
    raise ValueError(f"no inter-ocular convention for {n_points} landmarks; pass normaliser=(i, j)")


def nme(pred, true, normaliser="interocular", per_image: bool = False, lengths=None):
    """Normalised mean error in %: the mean point-to-point distance of each image divided by the
    distance between two reference points of the ground truth, averaged over images.

    pred, true: (N, K, 2). normaliser: "interocular" (see interocular_indices), "box" (sqrt of the
    ground-truth landmarks' bounding-box area, the AFLW2000-3D convention, robust to profile faces
    whose eye corners coincide) or an index pair (i, j). lengths: (N,) normalising lengths given with
    the data instead (AFLW-19's sqrt(w h) of the annotated face box); overrides `normaliser`.
    """
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim != 3 or pred.shape[2] != 2:
        raise ValueError(f"expected two (N, K, 2) arrays, got {pred.shape} and {true.shape}")
    if lengths is not None:
        norm = np.asarray(lengths, dtype=np.float64).reshape(-1)
        if len(norm) != len(true):
            raise ValueError(f"expected {len(true)} normalising lengths, got {len(norm)}")
    elif normaliser == "box":
        extent = true.max(axis=1) - true.min(axis=1)
        norm = np.sqrt(extent[:, 0] * extent[:, 1])
    else:
        i, j = interocular_indices(true.shape[1]) if normaliser == "interocular" else normaliser
        norm = np.linalg.norm(true[:, i] - true[:, j], axis=1)
    errors = np.linalg.norm(pred - true, axis=2).mean(axis=1) / np.maximum(norm, 1e-12) * 100.0
    return errors if per_image else float(errors.mean())


def _check_same_length(a, b) -> None:
    if len(a) != len(b):
        raise ValueError(f"length mismatch: {len(a)} predictions vs {len(b)} targets")
