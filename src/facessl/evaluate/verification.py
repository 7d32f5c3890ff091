"""Face verification (LFW, CPLFW pairs): cosine similarity of frozen features, no training.

Default: the standard 10-fold protocol (threshold chosen on 9 folds, accuracy on the 10th; the
PairSet's folds), mean and std over folds, and ROC AUC over all pairs. `options.verification =
"fixed"` scores one threshold for all pairs instead: `fixed_threshold`, or when that is None the
best threshold on all pairs (optimistic; marked in the output).

`options.verification_center`: before the cosine, subtract the mean feature of the images of the folds
the threshold is chosen on (both images of each of their pairs), as SphereFace's and CosFace's LFW
evaluation does. Features after a ReLU all lie in one orthant, where the plain cosine of any two faces is
high; the mean is what they share. Each pair is scored with its own fold held out of the mean (the AUC from
those scores); in "fixed" mode the mean of all pairs' images.

Every result says what was scored: `pairs`, `positive_pairs`, `negative_pairs` and `folds` (0 in "fixed" mode), and
`pair_notes`: the reader's notes on the pairs file (pairs it left out or read under another name:
images.meta['pair_notes']), then what makes the accuracy unreliable: fewer than MIN_RELIABLE_PAIRS pairs, or folds of
one class. A set whose pairs are all of one class cannot be scored (an error): any threshold that accepts (or
rejects) everything is right on every pair.

A set whose images.meta says `verification_metric='tar_at_far'` (IJB-B / IJB-C) has no folds: it reports the
true accept rate at false accept rates 1e-6 ... 1e-1 (those its negative pairs can resolve: FAR >= 1 /
negatives) from the ROC of all pairs, and the ROC AUC (`tar_at_far_result`).
"""
from __future__ import annotations

import numpy as np

from facessl.data.formats.common import PairSet
from facessl.errors import FacesslError
from facessl.evaluate import metrics
from facessl.evaluate.protocol import EvalOptions


FARS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # the IJB-B / IJB-C table's false accept rates
PAIR_CHUNK_ELEMENTS = 2 ** 24  # feature values gathered per chunk of pairs (IJB-C has ~15.7 M pairs)
MIN_RELIABLE_PAIRS = 100  # fewer pairs in all: the accuracy moves by a point or more per pair (LFW scores 6,000)
SHOWN_FOLDS = 5  # one-class folds named in the note


def check_both_classes(same: np.ndarray, source: str) -> None:
    """One error when the pairs are all of one class: no threshold is measured, one that accepts (or rejects)
    every pair is right on all of them."""
    positives, negatives = int(np.sum(same)), int(np.sum(~np.asarray(same, dtype=bool)))
    if positives and negatives:
        return
    only, lacking = ("same", "different") if positives else ("different", "same")
    raise FacesslError(f"{source}: all {len(same)} pairs are {only}-identity pairs, none {lacking}: verification "
                       f"cannot be scored on one class (a threshold that {'accepts' if positives else 'rejects'} "
                       f"every pair is right on all of them); give a pairs set with both classes")


def reliability_notes(same: np.ndarray, fold: np.ndarray | None) -> list[str]:
    """Why the accuracy of these pairs is not a reliable measure, with the counts: too few pairs in all, folds
    that hold one class only (each then measures only how many of that class the threshold gets right). []
    when neither."""
    same = np.asarray(same, dtype=bool)
    n, positives = len(same), int(same.sum())
    notes = []
    folds = [] if fold is None else list(np.unique(fold))
    in_folds = f" in {len(folds)} fold{'s' * (len(folds) != 1)}" if folds else ""
    if n < MIN_RELIABLE_PAIRS:
        notes.append(f"only {n} pairs ({positives} same / {n - positives} different){in_folds}: the accuracy is not a "
                     f"reliable measure (one pair is {100 / n:.1f} points of it; at least {MIN_RELIABLE_PAIRS} pairs, "
                     "LFW scores 6,000)")
    one_class = []
    for k in folds:
        members = same[np.asarray(fold) == k]
        if members.all() or not members.any():
            one_class.append(f"fold {int(k) + 1}: {int(members.sum())} same / {int((~members).sum())} different")
    if one_class:
        shown = "; ".join(one_class[:SHOWN_FOLDS]) + (" ..." if len(one_class) > SHOWN_FOLDS else "")
        notes.append(f"{len(one_class)} of {len(folds)} folds hold pairs of one class only ({shown}): such a fold's "
                     "accuracy counts only how many of that class the threshold gets right, and the accuracy is not a "
                     "reliable measure")
    return notes


def cosine_scores(features: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair of feature rows, a chunk of pairs at a time (the gathered rows of all of
    IJB-C's 15.7 M pairs at once would take tens of GB). When the pairs are a good share (1/16 or more) of all
    (first, second) combinations, as IJB's few thousand first templates against the rest, blocks of a matrix
    product instead: several times faster than gathering rows."""
    feats = np.asarray(features, dtype=np.float64)
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) >= 100_000:
        firsts, seconds = np.unique(pairs[:, 0]), np.unique(pairs[:, 1])
        if len(firsts) * len(seconds) <= 16 * len(pairs):
            return _cosine_blocks(feats, pairs, firsts, seconds)
    rows = max(1, PAIR_CHUNK_ELEMENTS // max(feats.shape[1] if feats.ndim == 2 else 1, 1))
    out = np.empty(len(pairs))
    for start in range(0, len(pairs), rows):
        chunk = pairs[start:start + rows]
        out[start:start + rows] = np.sum(feats[chunk[:, 0]] * feats[chunk[:, 1]], axis=1)
    return out


def centred_folds(features: np.ndarray, pairs: np.ndarray, same: np.ndarray, fold: np.ndarray):
    """The k-fold protocol on centred features, as SphereFace's evaluation.m: for each fold, subtract the mean
    feature of the other folds' pairs' images (each image counted once per pair it is in) from every feature,
    choose the threshold on the other folds' cosines and score this fold's. Returns (mean accuracy, std,
    thresholds, scores), each pair's score the one its own fold was tested with (for the AUC)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    scores, accs, thresholds = np.empty(len(pairs)), [], []
    for k in np.unique(fold):
        test = fold == k
        centred = centred_cosines(features, pairs, pairs[~test])
        acc, threshold = metrics.held_out_fold_accuracy(centred, same, test)
        accs.append(acc)
        thresholds.append(threshold)
        scores[test] = centred[test]
    return float(np.mean(accs)), float(np.std(accs)), np.asarray(thresholds), scores


def centred_cosines(features: np.ndarray, pairs: np.ndarray, mean_pairs: np.ndarray) -> np.ndarray:
    """cosine_scores of `pairs` after subtracting the mean feature of mean_pairs' images (an image counted once
    per pair it is in)."""
    feats = np.asarray(features, dtype=np.float64)
    return cosine_scores(feats - feats[np.asarray(mean_pairs, dtype=np.int64).ravel()].mean(axis=0), pairs)


def _cosine_blocks(unit: np.ndarray, pairs: np.ndarray, firsts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """cosine_scores through (block of firsts) x (all seconds) similarity matrices, each pair read from its block."""
    row, col = np.searchsorted(firsts, pairs[:, 0]), np.searchsorted(seconds, pairs[:, 1])
    order = np.argsort(row, kind="stable")
    sorted_rows = row[order]
    right = unit[seconds].T
    step = max(1, PAIR_CHUNK_ELEMENTS // len(seconds))
    out = np.empty(len(pairs))
    for r0 in range(0, len(firsts), step):
        a, b = np.searchsorted(sorted_rows, [r0, r0 + step])
        chosen = order[a:b]
        block = unit[firsts[r0:r0 + step]] @ right
        out[chosen] = block[row[chosen] - r0, col[chosen]]
    return out


def _mean_by(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    sums = np.zeros((n_groups, values.shape[1]))
    np.add.at(sums, group, values)
    counts = np.bincount(group, minlength=n_groups)[:, None]
    return sums / np.maximum(counts, 1)


def item_features(features: np.ndarray, item: np.ndarray, media=None, weight=None) -> np.ndarray:
    """(n_items, D): the mean of each item's unit-length image features (a video's frames, a template's
    photos), the usual set-to-set comparison of YouTube Faces and IJB.

    media (N,): InsightFace's IJB template pooling: the mean over each media (one photo, or one video's frames)
    of a template first, then the mean over its media, so a long video weighs as one photo. weight (N,): each
    unit feature times it first (IJB's detector score: a doubtful detection counts for little)."""
    feats = np.asarray(features, dtype=np.float64)
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    item = np.asarray(item, dtype=np.int64)
    n_items = int(item.max()) + 1
    if weight is not None:
        feats *= np.asarray(weight, dtype=np.float64)[:, None]  # in place: feats is the division's own copy
    if media is None:
        return _mean_by(feats, item, n_items)
    media = np.asarray(media, dtype=np.int64)
    media = media - media.min()
    keys, inverse = np.unique(item * (int(media.max()) + 1) + media, return_inverse=True)  # one key per (item, media)
    return _mean_by(_mean_by(feats, inverse.reshape(-1), len(keys)), keys // (int(media.max()) + 1), n_items)


def _pooling(images) -> dict:
    """item_features' media / weight arguments that the set's meta asks for (IJB: template_pooling='media',
    template_weights=<a label name>)."""
    meta, labels = getattr(images, "meta", None) or {}, getattr(images, "labels", None) or {}
    out = {}
    if meta.get("template_pooling") == "media" and "media" in labels:
        out["media"] = labels["media"]
    if meta.get("template_weights") in labels:
        out["weight"] = labels[meta["template_weights"]]
    return out


def far_key(far: float) -> str:
    """The metric name of TAR at one FAR: 1e-4 -> 'tar_at_far_1e-4'."""
    mantissa, exponent = f"{far:.0e}".split("e")
    return f"tar_at_far_{mantissa}e{int(exponent)}"


def tar_at_far_result(scores: np.ndarray, same: np.ndarray, rule: str, source: str) -> dict:
    """IJB-style verification: TAR at each FAR of FARS that the negatives resolve, and the ROC AUC; no folds."""
    positives, negatives = int(same.sum()), int((~same).sum())
    if positives == 0 or negatives == 0:
        raise FacesslError(f"{source}: TAR at FAR needs same and different pairs; got {positives} same and "
                           f"{negatives} different (a --reader-option limit_pairs too small?)")
    fars = [f for f in FARS if f * negatives >= 1 - 1e-9]
    tars = metrics.tar_at_far(scores, same, fars, rule=rule) if fars else []
    values = {far_key(f): t for f, t in zip(fars, tars)}
    values["roc_auc"] = metrics.roc_auc(scores, same)
    how = ("the ROC point nearest each FAR, as InsightFace's IJB evaluation" if rule == "nearest"
           else "the highest TPR with FPR <= FAR")
    return {"metrics": {k: {"per_seed": [float(v)], "mean": float(v), "std": 0.0} for k, v in values.items()},
            "selected_on": f"TAR at FAR from the ROC of all {len(same)} pairs, no threshold folds ({how})",
            "paper_protocol": False, "thresholds": [], "pairs": int(len(same)), "positive_pairs": positives,
            "negative_pairs": negatives, "fars_left_out": [far_key(f)[len("tar_at_far_"):] for f in FARS if f not in fars]}


def chance_note(tar_at_far: bool = False) -> str:
    """The note under a verification table on its floor row (chance_result)."""
    what = ("TAR at each FAR equal to that FAR, AUC 50" if tar_at_far else
            "accuracy of always giving the commoner answer, 50 % on balanced pairs; AUC 50")
    return f"floor — chance: a score that ignores the images ({what}); computed from the pair counts, not run"


def chance_result(positives: int, negatives: int, tar_keys=()) -> dict:
    """A verification table's floor row: what a score that ignores the images gets on `positives` same and
    `negatives` different pairs: accuracy of the threshold that accepts (or rejects) every pair, the commoner
    class's share (0.5 on balanced pairs, as LFW's); ROC AUC 0.5; TAR at FAR = FAR for each of `tar_keys`
    (far_key names). One value each, no spread (nothing is drawn)."""
    pairs = positives + negatives
    values = {"accuracy": max(positives, negatives) / pairs if pairs else float("nan"), "roc_auc": 0.5}
    values.update({key: float(key[len("tar_at_far_"):]) for key in tar_keys})
    return {"metrics": {k: {"per_seed": [float(v)], "mean": float(v), "std": 0.0} for k, v in values.items()},
            "floor": "chance", "pairs": pairs, "positive_pairs": positives, "negative_pairs": negatives}


def evaluate(pairset: PairSet, features: np.ndarray, options: EvalOptions) -> dict:
    """features: (N, D) for pairset.images in order. Returns the result dict of one row."""
    if not isinstance(pairset, PairSet):
        raise FacesslError(f"{getattr(pairset, 'source', 'dataset')}: task 'verification' needs a pairs dataset (lfw, cplfw)")
    if len(features) != len(pairset.images):
        raise FacesslError(f"{pairset.source}: {len(features)} feature rows for {len(pairset.images)} images")
    if pairset.item is not None:
        features = item_features(features, pairset.item, **_pooling(pairset.images))
    same = np.asarray(pairset.same, dtype=bool)
    meta = getattr(pairset.images, "meta", None) or {}
    fold = getattr(pairset, "fold", None)
    if meta.get("verification_metric") != "tar_at_far":  # (TAR at FAR says it its own way)
        check_both_classes(same, pairset.source)
    if options.verification_center and meta.get("verification_metric") == "tar_at_far":
        raise FacesslError(f"{pairset.source}: --verification-center needs folds to take the mean on; this set has none")
    centred_by_fold = options.verification_center and options.verification == "10fold"  # scored per fold below
    if options.verification_center and options.verification == "fixed":  # no threshold folds: every pair's images
        scores = centred_cosines(features, pairset.pairs, pairset.pairs)
    elif not centred_by_fold:
        scores = cosine_scores(features, pairset.pairs)
    reader_notes = list(meta.get("pair_notes") or [])
    if meta.get("verification_metric") == "tar_at_far":  # IJB: no folds, no threshold to choose
        result = tar_at_far_result(scores, same, meta.get("tar_at_far_rule", "at_most"), pairset.source)
        reduced = {k: meta[k] for k in ("limit_pairs", "max_images_per_template") if meta.get(k)}
        result = {**result, "folds": 0, **({"pair_notes": reader_notes} if reader_notes else {})}
        return {**result, "reduced": reduced} if reduced else result
    if options.verification == "fixed":
        acc, threshold = metrics.verification_accuracy_fixed(scores, same, options.fixed_threshold)
        protocol = (f"fixed threshold {threshold:.4f}" if options.fixed_threshold is not None
                    else f"one threshold ({threshold:.4f}) chosen on all pairs (optimistic)")
        values = {"accuracy": acc, "roc_auc": metrics.roc_auc(scores, same)}
        thresholds, folds = [threshold], None
    elif options.verification == "10fold":
        if fold is not None and len(np.unique(fold)) < 2:  # e.g. pairsDevTest.txt: no other fold to choose a threshold on
            raise FacesslError(f"{pairset.source}: the pairs form one fold; the k-fold protocol needs >= 2 "
                               "(give --verification fixed --threshold T, or a pairs file with folds)")
        folds = metrics.default_folds(len(same)) if fold is None else np.asarray(fold)
        if centred_by_fold:
            mean, std, thresholds, scores = centred_folds(features, pairset.pairs, same, folds)
        else:
            mean, std, thresholds = metrics.verification_accuracy(scores, same, folds=folds)
        auc = metrics.roc_auc(scores, same)
        protocol = f"{len(np.unique(folds))}-fold, threshold chosen on the other folds"
        values = {"accuracy": mean, "accuracy_fold_std": std, "roc_auc": auc}
    else:
        raise FacesslError(f"verification mode {options.verification!r}: expected '10fold' or 'fixed'")
    protocol += ", features centred on their mean" if options.verification_center else ""
    metrics_out = {k: {"per_seed": [float(v)], "mean": float(v), "std": 0.0} for k, v in values.items()}
    notes = reader_notes + reliability_notes(same, folds)
    return {"metrics": metrics_out, "selected_on": protocol, "paper_protocol": False,
            "thresholds": [float(t) for t in thresholds], "pairs": int(len(same)),
            "positive_pairs": int(same.sum()), "negative_pairs": int((~same).sum()),
            "folds": 0 if folds is None else int(len(np.unique(folds))), **({"pair_notes": notes} if notes else {})}
