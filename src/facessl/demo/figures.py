"""The demo's analysis and figures: training curves, t-SNE, PCL reconstructions and swap test,
FAb-Net flows and retrieval, and the disentanglement table (what each feature knows).

Analysis images are held-out synthetic identities (the RAF-DB-format test and train parts), whose true
pose and identity come from the generator's ground-truth sidecar — never read by training.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facessl.engine.checkpoint import load_method
from facessl.data.formats import read
from facessl.data.formats.common import load_image
from facessl.data.formats.truth import read_truth
from facessl.data.labels import EXPRESSIONS
from facessl.evaluate.features import extract


def labelled_faces(data: Path, split: str, limit: int | None = None) -> dict:
    """RAF-DB-format images of one split with expression, true pose (yaw, pitch, roll) and identity."""
    root = data / "rafdb"
    imageset = read("rafdb", root)
    index = np.flatnonzero(imageset.split == split)[:limit]
    subset = imageset.subset(index)
    truth = read_truth(root)
    rel = [Path(p).relative_to(root).as_posix() for p in subset.images]
    pose = np.array([truth[r]["pose"] for r in rel], dtype=np.float64)  # yaw, pitch, roll (degrees)
    identity = np.array([truth[r]["identity"] for r in rel])
    return {"images": subset, "expression": subset.labels["expression"], "pose": pose, "identity": identity}


def uint8_batch(imageset, size: int | None = None) -> torch.Tensor:
    """(N,3,H,W) uint8 images of an ImageSet, resized to size x size when given (the training size)."""
    x = torch.from_numpy(np.stack([load_image(p) for p in imageset.images])).permute(0, 3, 1, 2).contiguous()
    return resized(x, size)


def resized(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> uint8 (..., 3, size, size) (antialiased bilinear); unchanged if size is None."""
    if size is None or x.shape[-1] == size:
        return x
    lead = x.shape[:-3]
    y = torch.nn.functional.interpolate(x.reshape(-1, *x.shape[-3:]).float() / 255, size=(size, size),
                                        mode="bilinear", antialias=True, align_corners=False)
    return (y.clamp(0, 1) * 255).round().to(torch.uint8).reshape(*lead, 3, size, size)


def features_of(out: Path, runs: dict[str, str], faces: dict, size: int = 64) -> dict[str, np.ndarray]:
    """{'SimCLR F_s', 'PCL F_s', 'PCL F_f', 'PCL F_p', 'FAb-Net'} features of `faces` (those that exist)."""
    import facessl

    names = {"fs": "F_s", "ff": "F_f", "fp": "F_p", "embedding": "embedding"}
    feats = {}
    for label, run in runs.items():
        if not (out / "runs" / run).is_dir():
            continue
        encoder = facessl.load(out / "runs" / run)
        for key, value in extract(encoder, faces["images"], size, quiet=True).items():
            feats[f"{label} {names.get(key, key)}"] = value
    return feats


def tsne_figures(figures: Path, feats: dict, faces: dict) -> list[str]:
    from facessl.viz.tsne import tsne_plot

    panels = {k: feats[k] for k in ("SimCLR F_s", "PCL F_s", "PCL F_f", "PCL F_p") if k in feats}
    colour = {"*": faces["expression"], "PCL F_p": faces["pose"][:, 0]}
    categorical = {"*": True, "PCL F_p": False}
    path = figures / "tsne.png"
    tsne_plot(panels, colour, path, title="t-SNE of frozen features (held-out identities)", categorical=categorical,
              class_names=list(EXPRESSIONS), colour_label={"*": "expression", "PCL F_p": "yaw (°)"})
    return [str(path)]


def pcl_figures(out: Path, figures: Path, faces: dict, size: int) -> dict:
    from facessl.methods.pcl_analysis import GRID_ROWS, reconstruction_grid, swap_test
    from facessl.viz.grids import image_grid

    method, _ = load_method(out / "runs" / "pcl")
    images = uint8_batch(faces["images"], size)
    grid = reconstruction_grid(method, images[:8], columns=8)
    rows = list(GRID_ROWS)[: grid.shape[0] // 8]
    labels = [name if i % 8 == 0 else "" for i, name in enumerate(r for r in rows for _ in range(8))]
    image_grid(grid, nrow=8, path=figures / "recon_pcl.png", labels=labels)
    return {"swap_test": swap_test(method, images), "grid_rows": rows}


def fabnet_figures(out: Path, figures: Path, faces: dict, feats: dict, size: int) -> dict:
    from facessl.viz.retrieval import retrieval_pose_error, retrieval_sheet

    result = {}
    if "FAb-Net embedding" in feats:
        emb = feats["FAb-Net embedding"]
        result["retrieval"] = retrieval_pose_error(emb, faces["pose"][:, 0], faces["identity"], k=5)
        retrieval_sheet(emb, uint8_batch(faces["images"]).numpy(), faces["identity"], figures / "retrieval_fabnet.png")
    if "PCL F_p" in feats:
        result["retrieval_pcl_fp"] = retrieval_pose_error(feats["PCL F_p"], faces["pose"][:, 0], faces["identity"])
    if (out / "runs" / "fabnet").is_dir():
        from facessl.viz.flow import fabnet_figure

        method, run_cfg = load_method(out / "runs" / "fabnet")
        tuples = resized(track_tuples(out / "data" / "voxceleb", method.cfg.n_sources + 1), size)
        fabnet_figure(method, tuples, figures / "flow_fabnet.png", n=6, title="FAb-Net: source, target, warped source, flow")
        result["heldout_photometric"] = fabnet_heldout(out, method, size, run_cfg.seed)
    return result


HELDOUT_IDENTITIES = 20
HELDOUT_SEED_OFFSET = 1000  # another seed renders other people in the same VoxCeleb layout


def fabnet_heldout(out: Path, method, size: int, seed: int = 0) -> dict:
    """FAb-Net's reconstruction of held-out tracks (people it never saw) against copying the source:
    consecutive stored frames as they are, and re-cropped as the training tuples are (jittered)."""
    from facessl.data.synthetic.build import build_benchmark
    from facessl.methods.fabnet_eval import crop_jitter, heldout_photometric
    from facessl.methods.fabnet_eval import track_tuples as heldout_tuples

    seed = seed + HELDOUT_SEED_OFFSET
    root = out / "data" / "heldout"
    build_benchmark(root, identities=HELDOUT_IDENTITIES, size=64, seed=seed, parts=["voxceleb"], quiet=True)
    ids = sorted(p.name for p in (root / "voxceleb").glob("id*") if p.is_dir())
    tuples = heldout_tuples(root / "voxceleb", ids, gap=1, size=size)
    return {"identities": len(ids), "seed": seed, "gap_frames": 1,
            "as_is": heldout_photometric(method, tuples), "jittered": heldout_photometric(method, crop_jitter(tuples))}


def track_tuples(root: Path, k: int, n: int = 6) -> torch.Tensor:
    """(n,k,3,H,W) uint8: k frames spread over each of n tracks (frame 0 is FAb-Net's target)."""
    tracks = sorted({p.parent for p in root.glob("id*/*/*/*.jpg")})[:: max(1, len(list(root.glob("id*"))) // n)][:n]
    out = []
    for track in tracks:
        frames = sorted(track.glob("*.jpg"))
        pick = np.linspace(len(frames) - 1, 0, k).round().astype(int)
        out.append(np.stack([load_image(frames[i]) for i in pick]))
    return torch.from_numpy(np.stack(out)).permute(0, 1, 4, 2, 3).contiguous()


def disentanglement(figures: Path, train_feats: dict, test_feats: dict, train: dict, test: dict) -> dict:
    from facessl.demo.analysis import disentanglement_heatmap, disentanglement_table

    keep = [k for k in ("SimCLR F_s", "PCL F_s", "PCL F_f", "PCL F_p", "FAb-Net embedding") if k in test_feats]
    labels = lambda d: {"pose": d["pose"], "expression": d["expression"], "identity": d["identity"]}  # noqa: E731
    table = disentanglement_table({k: train_feats[k] for k in keep}, {k: test_feats[k] for k in keep},
                                  labels(train), labels(test))
    disentanglement_heatmap(table, figures / "disentanglement.png")
    return table
