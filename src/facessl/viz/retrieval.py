"""Cross-identity nearest-neighbour retrieval (FAb-Net's qualitative test): an embedding of pose and
expression should retrieve OTHER people in the same pose / with the same expression.

retrieval_sheet        PNG: query faces, then their k nearest neighbours (cosine) among other identities
retrieval_pose_error   mean |yaw difference| to those neighbours vs to random other-identity faces
"""
from __future__ import annotations

import numpy as np
import torch

from facessl.errors import FacesslError
from facessl.viz.figure import new_figure, save_png


def _as_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def cross_identity_neighbours(features, identities, k: int = 5, queries=None) -> np.ndarray:
    """(Q, k) indices of each query's k most cosine-similar samples with a DIFFERENT identity,
    best first. queries: indices (default all). Rows with fewer candidates are padded with -1."""
    f = torch.as_tensor(_as_numpy(features), dtype=torch.float32)
    ids = _as_numpy(identities)
    if f.dim() != 2 or f.shape[0] != len(ids):
        raise FacesslError(f"retrieval needs features (N,D) and N identities, got {tuple(f.shape)} and {len(ids)}")
    q = np.arange(len(ids)) if queries is None else np.asarray(queries)
    f = torch.nn.functional.normalize(f, dim=1)
    sim = (f[torch.as_tensor(q)] @ f.T).numpy()
    same = ids[q][:, None] == ids[None, :]
    sim[same] = -np.inf  # excludes the query itself as well
    order = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    valid = np.take_along_axis(~same, order, axis=1)
    return np.where(valid, order, -1)


def retrieval_pose_error(features, yaw, identities, k: int = 5, seed: int = 0) -> dict[str, float]:
    """Mean |yaw_query - yaw_neighbour| over the top-k cross-identity neighbours of every sample, the
    same for k random other-identity samples, and their ratio (< 1: the embedding encodes pose)."""
    yaw = _as_numpy(yaw).astype(np.float64)
    ids = _as_numpy(identities)
    nb = cross_identity_neighbours(features, ids, k)
    ok = nb >= 0
    if not ok.any():
        raise FacesslError("retrieval_pose_error needs at least two identities")
    diffs = np.abs(yaw[:, None] - yaw[np.where(ok, nb, 0)])
    nn_err = float(diffs[ok].mean())
    per_query = [d[m].mean() for d, m in zip(diffs, ok) if m.any()]
    rng = np.random.default_rng(seed)
    rand_err = []
    for i in range(len(ids)):
        others = np.flatnonzero(ids != ids[i])
        if len(others):
            pick = rng.choice(others, size=min(k, len(others)), replace=False)
            rand_err.append(np.abs(yaw[i] - yaw[pick]))
    rand = float(np.concatenate(rand_err).mean())
    se = lambda v: float(np.std(v) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    return {"neighbour_yaw_error": nn_err, "random_yaw_error": rand,
            "ratio": nn_err / rand if rand > 0 else float("nan"),
            # standard errors of the two means over queries (for "beyond the spread" comparisons)
            "neighbour_yaw_error_se": se(per_query), "random_yaw_error_se": se([r.mean() for r in rand_err])}


def retrieval_sheet(features, images, identities, path, n_queries: int = 8, k: int = 5, seed: int = 0,
                    title: str = "Nearest neighbours from other identities (cosine)") -> list[list[int]]:
    """Save a PNG: one row per query (chosen at random, seeded), the query then its k neighbours.

    images: uint8 (N,3,H,W) or (N,H,W,3). Returns the rows of indices [query, nb1, ..., nbk]."""
    imgs = _as_numpy(images)
    if imgs.ndim != 4:
        raise FacesslError(f"retrieval_sheet needs images (N,3,H,W) or (N,H,W,3), got shape {imgs.shape}")
    if imgs.shape[1] == 3 and imgs.shape[-1] != 3:
        imgs = imgs.transpose(0, 2, 3, 1)
    n = imgs.shape[0]
    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(n, size=min(n_queries, n), replace=False))
    nb = cross_identity_neighbours(features, identities, k, queries)
    ids = _as_numpy(identities)
    fig = new_figure(1.3 * (k + 1), 1.3 * len(queries) + 0.6)
    rows = []
    for r, qi in enumerate(queries):
        row = [int(qi)] + [int(j) for j in nb[r]]
        rows.append(row)
        for c, j in enumerate(row):
            ax = fig.add_subplot(len(queries), k + 1, r * (k + 1) + c + 1)
            ax.set_axis_off()
            if j < 0:
                continue
            ax.imshow(imgs[j], interpolation="nearest")
            if r == 0:
                ax.set_title("query" if c == 0 else f"#{c}", fontsize=8)
            ax.text(0.02, 0.02, f"id {ids[j]}", transform=ax.transAxes, fontsize=6, color="yellow",
                    va="bottom", ha="left")
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9, wspace=0.04, hspace=0.04)
    save_png(fig, path)
    return rows
