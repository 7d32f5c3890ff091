"""Online kNN monitor: how well detached encoder features separate a small labelled set, during pretraining.

Each class is split (deterministically) into a memory bank and queries; a query's label is the
vote of its k nearest bank features by cosine similarity, each weighted by exp(sim / 0.07)
(the weighted kNN of Wu et al. 2018, as solo-learn). Cheap enough to run every few hundred steps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from facessl.data.frames import decode_image, list_images
from facessl.errors import DataFormatError


def load_labelled_folder(root, size: int, max_images: int | None = None, seed: int = 0):
    """Images of an ImageFolder tree root/<class>/*.jpg -> (uint8 (N,3,size,size), int labels (N,), class names)."""
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(root, "labelled folder for the kNN monitor not found (expected root/<class>/*.jpg)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files = [(c, f) for c, name in enumerate(classes) for f in list_images(root / name)]
    if len(classes) < 2 or not files:
        raise DataFormatError(root, "the kNN monitor needs images in at least two class folders root/<class>/*.jpg")
    if max_images and len(files) > max_images:
        keep = np.sort(np.random.default_rng(seed).choice(len(files), max_images, replace=False))
        files = [files[i] for i in keep]
    images, labels = [], []
    for c, f in files:
        img = decode_image(root / classes[c] / f, size)
        if img is not None:
            images.append(img)
            labels.append(c)
    if not images:
        raise DataFormatError(root, "no readable image for the kNN monitor")
    return torch.stack(images), torch.tensor(labels), classes


def load_truth_labelled(root, label: str, size: int, max_images: int | None = None, seed: int = 0):
    """Frames listed in a synthetic build's `<root>/_truth.jsonl`, labelled by one of its class keys
    (e.g. 'expression', 'identity') -> (uint8 images, int labels, class values)."""
    from facessl.data.formats.truth import read_truth

    root = Path(root)
    truth = read_truth(root)
    files = sorted(f for f, rec in truth.items() if label in rec)
    if not files:
        raise DataFormatError(root / "_truth.jsonl", f"no record has the label '{label}' (train.knn.label)")
    values = [truth[f][label] for f in files]
    if not all(isinstance(v, (int, str)) for v in values):
        raise DataFormatError(root / "_truth.jsonl", f"label '{label}' is not a class (int or str) label")
    if max_images and len(files) > max_images:
        keep = np.sort(np.random.default_rng(seed).choice(len(files), max_images, replace=False))
        files, values = [files[i] for i in keep], [values[i] for i in keep]
    classes = sorted(set(values))
    if len(classes) < 2:
        raise DataFormatError(root / "_truth.jsonl", f"label '{label}' has a single class: the kNN monitor needs two or more")
    images, labels = [], []
    for f, v in zip(files, values):
        img = decode_image(root / f, size)
        if img is not None:
            images.append(img)
            labels.append(classes.index(v))
    if not images:
        raise DataFormatError(root, "no readable image for the kNN monitor")
    return torch.stack(images), torch.tensor(labels), classes


class KnnMonitor:
    """k-NN accuracy of `encoder.features(images)[feature]` on a fixed labelled split."""

    def __init__(self, images: torch.Tensor, labels, k: int = 20, train_fraction: float = 0.5,
                 seed: int = 0, temperature: float = 0.07):
        self.images = images
        self.labels = torch.as_tensor(np.asarray(labels)).long()
        self.k, self.temperature = k, temperature
        rng = np.random.default_rng(seed)
        bank = np.zeros(len(self.labels), dtype=bool)
        for c in np.unique(self.labels.numpy()):
            rows = rng.permutation(np.flatnonzero(self.labels.numpy() == c))
            bank[rows[:max(1, int(round(len(rows) * train_fraction)))]] = True
        if bank.all():
            raise ValueError("the kNN monitor needs query images: lower train_fraction or add images")
        self.bank, self.query = torch.from_numpy(bank), torch.from_numpy(~bank)

    @classmethod
    def from_folder(cls, root, size: int, k: int = 20, train_fraction: float = 0.5, max_images: int | None = 2000,
                    seed: int = 0, label: str = "") -> "KnnMonitor":
        """From a labelled folder root/<class>/*.jpg, or (label set) a tree with a `_truth.jsonl` sidecar."""
        if label:
            images, labels, _ = load_truth_labelled(root, label, size, max_images, seed)
        else:
            images, labels, _ = load_labelled_folder(root, size, max_images, seed)
        return cls(images, labels, k, train_fraction, seed)

    @torch.no_grad()
    def features(self, encoder, device, feature: str = "fs", batch_size: int = 256) -> torch.Tensor:
        out = []
        for i in range(0, len(self.images), batch_size):
            x = self.images[i:i + batch_size].to(device).float() / 255.0
            out.append(F.normalize(encoder.features(x)[feature].float(), dim=1).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def evaluate(self, encoder, device="cpu", feature: str = "fs") -> float:
        """Top-1 accuracy (0..1) of the weighted kNN vote on the query images."""
        feats = self.features(encoder, device, feature)
        bank, bank_labels = feats[self.bank], self.labels[self.bank]
        sim = feats[self.query] @ bank.T
        k = min(self.k, bank.shape[0])
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], int(self.labels.max()) + 1)
        votes.scatter_add_(1, bank_labels[top_idx], (top_sim / self.temperature).exp())
        return (votes.argmax(1) == self.labels[self.query]).float().mean().item()
