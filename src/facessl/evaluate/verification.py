"""Face verification (LFW, CPLFW pairs): cosine similarity of frozen features, no training.

Default: the standard 10-fold protocol (threshold chosen on 9 folds, accuracy on the 10th; the
PairSet's folds), mean and std over folds, and ROC AUC over all pairs. `options.verification =
"fixed"` scores one threshold for all pairs instead: `fixed_threshold`, or when that is None the
best threshold on all pairs (optimistic; marked in the output).
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import PairSet
from facessl.errors import FacesslError
from facessl.evaluate import metrics
from facessl.evaluate.protocol import EvalOptions


def cosine_scores(features: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    feats = np.asarray(features, dtype=np.float64)
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    pairs = np.asarray(pairs, dtype=int)
    return np.sum(feats[pairs[:, 0]] * feats[pairs[:, 1]], axis=1)


def item_features(features: np.ndarray, item: np.ndarray) -> np.ndarray:
    """(n_items, D): the mean of each item's unit-length image features (a video's frames, a template's
    photos), the usual set-to-set comparison of YouTube Faces and IJB."""
    feats = np.asarray(features, dtype=np.float64)
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    item = np.asarray(item, dtype=np.int64)
    sums = np.zeros((int(item.max()) + 1, feats.shape[1]))
    np.add.at(sums, item, feats)
    counts = np.bincount(item, minlength=len(sums))[:, None]
    return sums / np.maximum(counts, 1)


def evaluate(pairset: PairSet, features: np.ndarray, options: EvalOptions) -> dict:
    """features: (N, D) for pairset.images in order. Returns the result dict of one row."""
    if not isinstance(pairset, PairSet):
        raise FacesslError(f"{getattr(pairset, 'source', 'dataset')}: task 'verification' needs a pairs dataset (lfw, cplfw)")
    if len(features) != len(pairset.images):
        raise FacesslError(f"{pairset.source}: {len(features)} feature rows for {len(pairset.images)} images")
    if pairset.item is not None:
        features = item_features(features, pairset.item)
    scores = cosine_scores(features, pairset.pairs)
    same = np.asarray(pairset.same, dtype=bool)
    auc = metrics.roc_auc(scores, same)
    if options.verification == "fixed":
        acc, threshold = metrics.verification_accuracy_fixed(scores, same, options.fixed_threshold)
        protocol = (f"fixed threshold {threshold:.4f}" if options.fixed_threshold is not None
                    else f"one threshold ({threshold:.4f}) chosen on all pairs (optimistic)")
        values = {"accuracy": acc, "roc_auc": auc}
        thresholds = [threshold]
    elif options.verification == "10fold":
        fold = getattr(pairset, "fold", None)
        if fold is not None and len(np.unique(fold)) < 2:  # e.g. pairsDevTest.txt: no other fold to choose a threshold on
            raise FacesslError(f"{pairset.source}: the pairs form one fold; the k-fold protocol needs >= 2 "
                               "(give --verification fixed --threshold T, or a pairs file with folds)")
        mean, std, thresholds = metrics.verification_accuracy(scores, same, folds=fold)
        protocol = f"{len(np.unique(fold)) if fold is not None else 10}-fold, threshold chosen on the other folds"
        values = {"accuracy": mean, "accuracy_fold_std": std, "roc_auc": auc}
    else:
        raise FacesslError(f"verification mode {options.verification!r}: expected '10fold' or 'fixed'")
    metrics_out = {k: {"per_seed": [float(v)], "mean": float(v), "std": 0.0} for k, v in values.items()}
    return {"metrics": metrics_out, "selected_on": protocol, "paper_protocol": False,
            "thresholds": [float(t) for t in thresholds], "pairs": int(len(same)),
            "positive_pairs": int(same.sum())}
