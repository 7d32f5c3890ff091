"""The verification task's supervised row: the architecture trained with identity labels, then verifying.

A pairs protocol (LFW, CPLFW) has no training labels of its own, so its supervised row is trained on another
set's identities (the task's train_dataset: in the demo, the pretraining frames' identity folders, the same
images the self-supervised methods saw without their labels): the encoder from PyTorch's default init
(baselines.supervised_init) + a linear classifier over the training identities, cross-entropy, Adam at the
supervised rate with a cosine decay over `identity_epochs`, mirrored and shifted images. The epoch is chosen on
identities held out of training (VAL_FRACTION of them, whole): the ROC AUC of centred-cosine verification of
pairs among them, as the test protocol scores pairs. The test pairs are then verified with the chosen epoch's
features exactly as every other row's (verification.evaluate): it is an upper bound of what the architecture
carries of identity at this input size, learnt from those identities.

The test people are left out of the training set (people_overlap): a training image whose person has the name of a
person in the test pairs (LFW's folder names, an `identity` label, a folder per person's class name; case, spaces
and underscores aside) is not trained on, and the row says how many people that took out ("N of the training set's
M people are also in the test pairs: left out"); when fewer than MIN_IDENTITIES remain the row is refused with one
line. Only names are compared, and only names without a digit: CASIA's 0000045, VoxCeleb's id10001 or CFP's 001
are codes of their own set, which another set may give to someone else, so they are not matched (and the row says
so); a set that names no one (an InsightFace .bin) cannot be checked either.
"""
from __future__ import annotations

import copy
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facessl.data.formats.common import ImageSet, PairSet
from facessl.errors import FacesslError
from facessl.evaluate import metrics, verification
from facessl.evaluate.baselines import (BATCH, PATIENCE, PRECISION_TEXT, _device, _to_float, augment_batch,
                                        supervised_init, supervised_lr, supervised_precision, trainable_encoder)
from facessl.evaluate.cache import array_hash, cache_key, dataset_fingerprint, weights_hash
from facessl.evaluate.features import combine, extract
from facessl.evaluate.images import load_batch
from facessl.evaluate.pairs import person_labels, person_names
from facessl.evaluate.protocol import PROBE_VERSION, EvalOptions, pool_runs

VAL_FRACTION = 0.15  # of the identities, held out whole to choose the epoch
VAL_PAIRS = 5000  # at most this many same-identity pairs among them (and as many different ones)
MIN_IDENTITIES = 5
# Images per identity at most (a seeded sample): VoxCeleb-like sets hold hundreds of near-identical frames per
# person; 64 keeps a VoxCeleb1-sized set (1,211 people) near 80,000 images in memory. A set of more people gets fewer
# a person, so that all of them fit in MAX_IMAGES (CASIA-WebFace's 10,575 people: 9 each, 1.2 GB at 64 px), but never
# fewer than MIN_PER_IDENTITY (a class seen in one or two images teaches the classifier little): past MAX_IMAGES // 8
# people (MS1M-ArcFace's 85,742, Glint360K's 360,232) a seeded sample of them, 12,500 of 8 images each
MAX_PER_IDENTITY = 64
MIN_PER_IDENTITY = 8
MAX_IMAGES = 100_000

_TRAINED: dict[str, tuple[nn.Module, dict]] = {}  # in-process: LFW and CPLFW share one training set and one training


def identity_labels(images: ImageSet) -> np.ndarray:
    """Each training image's person (pairs.person_labels: its identity, its --group, or its class folder)."""
    people = person_labels(images)
    if people is not None:
        return people
    raise FacesslError(f"{images.source}: this training set names no identities (labels: "
                       f"{', '.join(images.labels) or 'none'}); the verification task's supervised row learns from "
                       f"identity labels: give a set of identities (voxceleb:, imagefolder:, insightface-rec:, lfw:)")


def _name_key(name: str) -> str | None:
    """A person's name as compared across sets (case, spaces and underscores aside); None for a code (a name
    with a digit: CASIA's 0000045, VoxCeleb's id10001), which another set may give to someone else."""
    key = " ".join(str(name).replace("_", " ").split()).casefold()
    return key if key and not any(c.isdigit() for c in key) else None


def people_overlap(test_images: ImageSet, train_images: ImageSet, source: str = "") -> tuple[np.ndarray, str]:
    """(training rows kept, what the check found, for the row's note: '' when it found nothing to say): the
    training images whose person is also in the test pairs left out (see the module doc)."""
    train_people = identity_labels(train_images)
    keep = np.ones(len(train_people), dtype=bool)
    test_names, train_names = person_names(test_images), person_names(train_images)
    if test_names is None:
        return keep, ("the test pairs name no one (an InsightFace .bin): whether the training set holds the test "
                      "people could not be checked")
    test_keys = {k for k in map(_name_key, np.unique(test_names)) if k is not None}
    unique_train, row_name = np.unique(train_names, return_inverse=True)  # one key per name, not per image
    train_keys = [_name_key(n) for n in unique_train]
    if not test_keys or all(k is None for k in train_keys):
        side = "test pairs name their" if not test_keys else "training set names its"
        example = np.unique(test_names)[0] if not test_keys else unique_train[0]
        return keep, (f"the {side} people by codes ({example} ...), not names: whether the training set holds the "
                      "test people could not be checked")
    keep = np.array([k is None or k not in test_keys for k in train_keys], dtype=bool)[row_name.reshape(-1)]
    if keep.all():
        return keep, ""
    total, shared = np.unique(train_people), np.unique(train_people[~keep])
    shown = ", ".join(np.unique(train_names[~keep])[:5]) + (" ..." if len(shared) > 5 else "")
    counted = f"{len(shared)} of the training set's {len(total)} people are also in the test pairs"
    if len(total) - len(shared) < MIN_IDENTITIES:
        raise FacesslError(f"{source}: the supervised row cannot train on the people it is tested on: {counted} "
                           f"({shown}), leaving {len(total) - len(shared)} (it needs {MIN_IDENTITIES})")
    return keep, f"{counted}: left out ({shown})"


def training_rows(people: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, validation rows): whole identities held out for validation, at most MAX_PER_IDENTITY rows each
    (fewer when MAX_IMAGES would not hold them all, down to MIN_PER_IDENTITY; then a seeded sample of the people)."""
    names, person = np.unique(people, return_inverse=True)
    if len(names) < MIN_IDENTITIES:
        raise FacesslError(f"the training set has {len(names)} identities; the supervised row needs at least "
                           f"{MIN_IDENTITIES} (some are held out to choose the epoch)")
    rng = np.random.default_rng([seed, 7])
    cap = min(MAX_PER_IDENTITY, max(MIN_PER_IDENTITY, MAX_IMAGES // len(names)))
    counts = np.minimum(np.bincount(person), cap)
    kept = np.arange(len(names))
    if counts.sum() > MAX_IMAGES:  # too many people for MAX_IMAGES even at MIN_PER_IDENTITY each: a sample of them
        order = rng.permutation(len(names))
        kept = np.sort(order[np.cumsum(counts[order]) <= MAX_IMAGES])
    groups = np.split(np.argsort(person, kind="stable"), np.cumsum(np.bincount(person))[:-1])
    rows = np.concatenate([groups[k] if len(groups[k]) <= cap else np.sort(rng.choice(groups[k], cap, replace=False))
                           for k in kept])
    held = rng.permutation(kept)[: max(2, round(VAL_FRACTION * len(kept)))]
    is_val = np.isin(person[rows], held)
    return np.sort(rows[~is_val]), np.sort(rows[is_val])


def validation_pairs(people: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, same) among the validation rows: up to VAL_PAIRS same-identity pairs and as many different ones."""
    rng = np.random.default_rng([seed, 8])
    order = np.argsort(people, kind="stable")
    starts = np.flatnonzero(np.r_[True, people[order][1:] != people[order][:-1]])
    groups = np.split(order, starts[1:])  # each identity's rows: pairs within them, never all rows x all rows
    same_pairs = np.concatenate([np.sort(g)[np.stack(np.triu_indices(len(g), k=1), 1)] for g in groups]
                                or [np.zeros((0, 2), np.int64)]).reshape(-1, 2)
    same_pairs = same_pairs[np.lexsort((same_pairs[:, 1], same_pairs[:, 0]))]  # row-major order, as triu over all rows
    if len(same_pairs) == 0:
        raise FacesslError("no held-out identity has two images: the supervised row cannot choose its epoch")
    same_pairs = same_pairs[rng.permutation(len(same_pairs))[:VAL_PAIRS]]
    candidates = rng.integers(0, len(people), (4 * len(same_pairs), 2))
    diff_pairs = candidates[people[candidates[:, 0]] != people[candidates[:, 1]]][: len(same_pairs)]
    pairs = np.concatenate([same_pairs, diff_pairs])
    return pairs, np.r_[np.ones(len(same_pairs), bool), np.zeros(len(diff_pairs), bool)]


def identity_epochs(options: EvalOptions) -> int:
    return options.identity_epochs if options.identity_epochs is not None else options.supervised_epochs


def identity_key(template, images: ImageSet, choice: str, size: int, options: EvalOptions, seed: int) -> str:
    return cache_key({"kind": "supervised-identity", "version": PROBE_VERSION, "choice": choice, "size": size,
                      "seed": seed, "init": weights_hash(supervised_init(template, seed)),
                      "train": dataset_fingerprint(images), "people": array_hash(identity_labels(images)),
                      "epochs": identity_epochs(options), "patience": PATIENCE,
                      "lr": supervised_lr(options, "verification"),
                      "precision": supervised_precision(options, _device(options)),
                      "max_per_identity": MAX_PER_IDENTITY, "max_images": MAX_IMAGES,
                      "val_fraction": VAL_FRACTION})


def train_identity(template, images_set: ImageSet, choice: str, size: int, options: EvalOptions, seed: int):
    """(encoder in eval mode at its chosen epoch, summary): the training described in the module docstring."""
    device = _device(options)
    precision = supervised_precision(options, device)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    people = identity_labels(images_set)
    fit, val = training_rows(people, seed)
    images = load_batch(images_set.images, np.concatenate([fit, val]), size)
    fit_images, val_images = images[: len(fit)], images[len(fit):]
    val_pairs, val_same = validation_pairs(people[val], seed)
    names, y = np.unique(people[fit], return_inverse=True)
    targets = torch.as_tensor(y, dtype=torch.int64, device=device)

    encoder, features = trainable_encoder(template, seed, device, choice)

    def val_auc() -> float:
        encoder.eval()
        with torch.no_grad(), autocast():
            feats = torch.cat([features(_to_float(val_images[s:s + 256], device)).float()
                               for s in range(0, len(val_images), 256)]).cpu().numpy()
        return metrics.roc_auc(verification.centred_cosines(feats, val_pairs, val_pairs), val_same)

    encoder.eval()
    with torch.no_grad():
        dim = features(_to_float(fit_images[:2], device)).shape[1]
    head = nn.Linear(dim, len(names)).to(device)
    epochs = identity_epochs(options)
    lr = supervised_lr(options, "verification")
    opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * -(-len(fit) // BATCH))
    gen = torch.Generator().manual_seed(seed)
    best_score, best_epoch, best_state, scores = -np.inf, 0, None, []
    for epoch in range(1, epochs + 1):
        encoder.train()
        order = torch.randperm(len(fit), generator=gen).numpy()
        for s in range(0, len(fit), BATCH):
            rows = order[s:s + BATCH]
            x = augment_batch(_to_float(fit_images[rows], device), "verification", gen)
            with autocast():
                logits = head(features(x)).float()
            loss = F.cross_entropy(logits, targets[torch.as_tensor(rows, device=device)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        value = float(val_auc())
        scores.append(round(100 * value, 2))
        improved = best_state is None or value > best_score
        if improved:
            best_score, best_epoch, best_state = value, epoch, copy.deepcopy(encoder.state_dict())
        if not options.quiet:  # a real training set can take minutes an epoch on a CPU: say where it is
            print(f"  identities: epoch {epoch}/{epochs}, held-out verification AUC {100 * value:.2f} %"
                  + (" (best)" if improved else ""), file=sys.stderr, flush=True)
        if not improved and epoch - best_epoch >= PATIENCE:
            break
    encoder.load_state_dict(best_state)
    encoder.eval()
    summary = {"seed": seed, "epochs": best_epoch, "epochs_run": epoch, "val_score": best_score,
               "val_auc_per_epoch": scores, "selected_on": "verification ROC AUC on identities held out of training",
               "precision": precision, "identities": int(len(names)), "images": int(len(fit)),
               "val_identities": int(len(np.unique(people[val]))), "val_pairs": int(len(val_pairs))}
    return encoder, summary


def supervised_verification(template, pairset: PairSet, train_set, choice: str, size: int, options: EvalOptions,
                            seeds: int = 1, cache=None) -> dict:
    """The supervised row of a verification task: one identity training per seed (shared by every pairs set
    evaluated in this process, and cached with its test features), each verifying the pairs; pooled over seeds.
    train_set: an ImageSet of identities, or a PairSet whose images are."""
    train_images = train_set.images if isinstance(train_set, PairSet) else train_set
    if train_images.source == pairset.images.source:
        raise FacesslError(f"{pairset.source}: the supervised row cannot train on the people it is tested on")
    keep, overlap = people_overlap(pairset.images, train_images, pairset.source)
    if not keep.all():
        train_images = train_images.subset(np.flatnonzero(keep))
    if overlap and not options.quiet:
        print(f"  supervised row: {overlap}", file=sys.stderr, flush=True)
    use_cache = cache is not None and cache.root is not None
    per_seed, selection = [], []
    for seed in range(seeds):
        key = identity_key(template, train_images, choice, size, options, seed)
        test_key = cache_key({"kind": "supervised-identity-features", "model": key,
                              "test": dataset_fingerprint(pairset.images)})
        hit = cache.load_probe(test_key) if use_cache else None
        if hit is None:
            if key not in _TRAINED:
                encoder, summary = train_identity(template, train_images, choice, size, options, seed)
                _TRAINED[key] = (encoder, summary)
            encoder, summary = _TRAINED[key]
            feats = extract(encoder, pairset.images, size, device=_device(options), quiet=options.quiet)
            feats = combine(feats, choice)
            if use_cache:
                cache.save_probe(test_key, feats, summary)
        else:
            feats, summary = hit
        per_seed.append(verification.evaluate(pairset, feats, options))
        selection.append(summary)
    precision, lr = selection[0]["precision"], supervised_lr(options, "verification")
    train_source = train_images.source
    return {**pool_runs(per_seed), "selection": selection, "feature": choice, "precision": precision, "lr": lr,
            "trained_on": train_source, **({"people_check": overlap} if overlap else {}),
            "training": f"identity classification of {selection[0]['identities']} identities of {train_source} "
                        f"({selection[0]['images']} images) from random weights, Adam lr {lr:g} with cosine decay, "
                        f"at most "
                        f"{identity_epochs(options)} epochs, the epoch chosen by verification AUC on "
                        f"{selection[0]['val_identities']} held-out identities, batch {BATCH}, "
                        f"{PRECISION_TEXT[precision]}, shifts and mirrors"}
