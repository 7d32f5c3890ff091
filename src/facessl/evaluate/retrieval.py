"""Retrieval (closed-set identification): each image asks for its nearest neighbours among all the others by the
cosine of frozen features, no training. An image's match is an image of the same person (label 'identity', else the
set's classes: a folder per person). Leave-one-out over the whole set, as face retrieval on LFW-style folders is
scored: rank-1 and rank-5 (a match among the nearest 1 / 5), and mAP (the mean over queries of the average precision
of the ranking of all other images). Only images whose person has another image query; every image is a candidate.
The floor is chance: a random ranking's expected rank-1 (the share of matches among the other images), rank-5 and
mAP, exactly."""
from __future__ import annotations

import numpy as np

from facessl.errors import FacesslError

CHUNK_ELEMENTS = 2 ** 22  # cosines scored at a time (a block of queries x all images; a few arrays of it live)


def labels_for(imageset) -> tuple[np.ndarray, str]:
    """(the label each image is matched on, which label that is)."""
    for key in ("identity", "class"):
        if key in imageset.labels:
            return np.asarray(imageset.labels[key]), key
    raise FacesslError(f"{imageset.source or 'dataset'}: retrieval needs whose face each image is (label 'identity', "
                       "or class folders of people); labels present: " + (", ".join(imageset.labels) or "none"))


def retrieval_metrics(features: np.ndarray, labels: np.ndarray) -> dict:
    """rank1, rank5, map (fractions) and the number of queries, leave-one-out by cosine."""
    feats = np.asarray(features, dtype=np.float64)
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    _, label_ids = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    counts = np.bincount(label_ids)
    queries = np.flatnonzero(counts[label_ids] >= 2)
    if len(queries) == 0:
        raise FacesslError("retrieval needs a person with two images or more; every person here has one")
    hits1 = hits5 = 0
    precisions = []
    chunk = max(1, CHUNK_ELEMENTS // len(feats))
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        scores = feats[q] @ feats.T
        scores[np.arange(len(q)), q] = -np.inf  # not its own match
        order = np.argsort(-scores, axis=1, kind="stable")[:, :-1]  # the query itself is last
        match = label_ids[order] == label_ids[q][:, None]
        hits1 += int(match[:, 0].sum())
        hits5 += int(match[:, :5].any(axis=1).sum())
        found = np.cumsum(match, axis=1)
        ranks = np.arange(1, match.shape[1] + 1)
        precisions.append((found / ranks * match).sum(axis=1) / match.sum(axis=1))
    n = len(queries)
    return {"rank1": hits1 / n, "rank5": hits5 / n, "map": float(np.concatenate(precisions).mean()), "queries": n}


def chance(labels: np.ndarray) -> dict:
    """A random ranking's expected rank-1, rank-5 and mAP on these labels."""
    _, label_ids = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    counts = np.bincount(label_ids)
    n = len(label_ids)
    share = (counts[label_ids] - 1) / max(n - 1, 1)  # per image: its matches among the other images
    asked = counts[label_ids] >= 2
    k = min(5, n - 1)
    miss5 = np.array([np.prod([(n - 1 - m - i) / (n - 1 - i) for i in range(k)]) for m in counts[label_ids] - 1])
    # E[AP] of a random order of N candidates holding R matches: (H_N + (R-1)/(N-1) (N - H_N)) / N, H_N the N-th
    # harmonic number (each rank k is a match with probability R/N, and then P@k is 1/k + (k-1)/k (R-1)/(N-1))
    m, harmonic = n - 1, float(np.sum(1.0 / np.arange(1, n)))
    matches = counts[label_ids][asked] - 1
    expected_ap = (harmonic + (matches - 1) / max(m - 1, 1) * (m - harmonic)) / m
    return {"rank1": float(share[asked].mean()), "rank5": float((1 - miss5[asked]).mean()),
            "map": float(expected_ap.mean()), "queries": int(asked.sum())}
