"""t-SNE panels of several feature sets side by side, as in the PCL paper's figure.

Typical use: SimCLR, F_s and F_f coloured by expression (categorical) next to F_p coloured by yaw
(continuous, with a colour bar)::

    tsne_plot({"SimCLR": x_simclr, "PCL F_s": fs, "PCL F_f": ff, "PCL F_p": fp},
              colour_by={"PCL F_p": yaw, "*": expression},
              categorical={"PCL F_p": False, "*": True},
              class_names=EXPRESSIONS, path="figures/tsne.png")
"""
from __future__ import annotations

import math

import numpy as np

from facessl.errors import FacesslError
from facessl.viz.figure import new_figure, save_png

PANEL_INCHES = 4.0


def _per_panel(value, name, default=None):
    """Resolve a per-panel option: a plain value, or a dict keyed by panel name with '*' as fallback."""
    if isinstance(value, dict):
        if name in value:
            return value[name]
        if "*" in value:
            return value["*"]
        return default
    return value


def embed_2d(x: np.ndarray, seed: int = 0, pca_dims: int = 50, n_threads: int = 1) -> np.ndarray:
    """(N,D) -> (N,2): centre, PCA to at most `pca_dims` dims, then t-SNE. Deterministic for a seed.

    One thread by default: Barnes-Hut t-SNE syncs its OpenMP threads every iteration, which is
    ~20x slower on a busy machine, and a single thread keeps the result bit-identical.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads):
        return _embed_2d(x, seed, pca_dims)


def _embed_2d(x: np.ndarray, seed: int, pca_dims: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if len(x) < 5:
        raise FacesslError(f"t-SNE needs at least 5 points, got {len(x)}")
    x = np.nan_to_num(x - x.mean(0))
    dims = min(pca_dims, x.shape[1], len(x) - 1)
    if x.shape[1] > dims:
        x = PCA(n_components=dims, random_state=seed, svd_solver="full").fit_transform(x)
    scale = x.std()
    x = x / scale if scale > 0 else x
    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3.0)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                random_state=seed, n_jobs=1)
    return tsne.fit_transform(x).astype(np.float32)


def tsne_plot(features: dict[str, np.ndarray], colour_by, path, title: str = "t-SNE of features",
              categorical=True, class_names=None, max_points: int = 2000, seed: int = 0,
              colour_label="", n_threads: int = 1) -> dict[str, np.ndarray]:
    """Write one PNG with a t-SNE panel per feature set; return name -> (n,2) embedding of the drawn points.

    features: name -> (N,D) array (all panels share the row order of their colour array).
    colour_by: (N,) array for every panel, or a dict name -> (N,) array ('*' = default for the rest).
    categorical: bool, or a dict like colour_by; categorical panels share one legend with
        `class_names[int(value)]`; continuous panels get their own colour bar labelled `colour_label`
        (str or dict).
    max_points: a random subset (same for every panel, from `seed`) keeps t-SNE quick.
    n_threads: threads for PCA/t-SNE (see embed_2d).
    """
    if not features:
        raise FacesslError("tsne_plot: no feature sets given")
    names = list(features)
    n_panels = len(names)
    cols = min(n_panels, 4)
    rows = math.ceil(n_panels / cols)
    fig = new_figure(PANEL_INCHES * cols + 0.6, PANEL_INCHES * rows + 1.2)
    fig.suptitle(title, fontsize=13)
    rng = np.random.default_rng(seed)
    embeddings, legend_items = {}, {}
    for i, name in enumerate(names):
        x = np.asarray(features[name])
        colours = _per_panel(colour_by, name)
        if colours is None:
            raise FacesslError(f"tsne_plot: no colour_by values for panel '{name}'")
        colours = np.asarray(colours).reshape(-1)
        if len(colours) != len(x):
            raise FacesslError(f"tsne_plot: panel '{name}' has {len(x)} rows but {len(colours)} colour values")
        keep = np.sort(rng.permutation(len(x))[:max_points]) if len(x) > max_points else np.arange(len(x))
        xy = embed_2d(x[keep], seed=seed, n_threads=n_threads)
        embeddings[name] = xy
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.set_title(name, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
        c = colours[keep]
        if _per_panel(categorical, name, True):
            c = c.astype(int)
            cmap = _categorical_cmap()
            for k in np.unique(c):
                mask = c == k
                label = str(class_names[k]) if class_names is not None and 0 <= k < len(class_names) else str(k)
                handle = ax.scatter(xy[mask, 0], xy[mask, 1], s=6, color=cmap(k % 10), label=label, linewidths=0)
                legend_items.setdefault(int(k), (label, handle))
        else:
            sc = ax.scatter(xy[:, 0], xy[:, 1], s=6, c=c.astype(float), cmap="viridis", linewidths=0)
            bar = fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.02)
            bar.set_label(str(_per_panel(colour_label, name, "") or ""))
    if legend_items:
        ordered = [legend_items[k] for k in sorted(legend_items)]
        fig.legend([h for _, h in ordered], [label for label, _ in ordered], loc="lower center",
                   ncol=min(len(legend_items), 8), markerscale=3, frameon=False, fontsize=10)
    fig.subplots_adjust(left=0.03, right=0.95, top=1 - 0.7 / fig.get_figheight(),
                        bottom=0.5 / fig.get_figheight() + 0.02, wspace=0.15, hspace=0.2)
    save_png(fig, path)
    return embeddings


def _categorical_cmap():
    from matplotlib import colormaps

    return colormaps["tab10"]
