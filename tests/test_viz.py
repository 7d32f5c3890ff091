"""Figures: t-SNE panels, training curves, heat maps and image grids write valid PNGs of the right size."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from facessl.errors import DataFormatError, FacesslError
from facessl.viz.curves import loss_series, read_metrics, smooth, training_curves
from facessl.viz.grids import image_grid
from facessl.viz.heatmap import heatmap
from facessl.viz.tsne import tsne_plot


def png_size(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.load()  # decodes fully: a truncated file fails here
        return im.size


def test_tsne_panels_categorical_and_continuous(tmp_path):
    rng = np.random.default_rng(0)
    n = 80
    expression = rng.integers(0, 7, n)
    yaw = rng.uniform(-60, 60, n)
    by_class = rng.normal(size=(n, 16)) + 4 * np.eye(7)[expression] @ rng.normal(size=(7, 16))
    by_yaw = rng.normal(size=(n, 16)) * 0.1 + yaw[:, None] / 60
    kwargs = dict(colour_by={"F_p": yaw, "*": expression}, categorical={"F_p": False, "*": True},
                  class_names=["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"],
                  max_points=60, seed=3)
    first = tsne_plot({"F_f": by_class, "F_p": by_yaw}, path=tmp_path / "a.png", **kwargs)
    again = tsne_plot({"F_f": by_class, "F_p": by_yaw}, path=tmp_path / "b.png", **kwargs)
    assert png_size(tmp_path / "a.png") == (860, 520)  # (4 in per panel x 2 + 0.6) x (4 + 1.2) at 100 dpi
    assert first["F_f"].shape == (60, 2)  # subsampled to max_points
    np.testing.assert_array_equal(first["F_p"], again["F_p"])  # deterministic for a seed
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_tsne_rejects_misaligned_colours(tmp_path):
    with pytest.raises(FacesslError, match="'x' has 20 rows but 19"):
        tsne_plot({"x": np.zeros((20, 4))}, colour_by=np.zeros(19), path=tmp_path / "t.png")


def write_metrics(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_training_curves_tolerate_missing_keys_and_a_truncated_last_line(tmp_path):
    lines = []
    for step in range(60):
        record = {"step": step, "loss": 3 * np.exp(-step / 20) + 0.01, "l_face": 2.0 / (step + 1),
                  "lr": 1e-4, "samples_per_s": 250.0, "phase": "pdd"}
        if step % 5 == 0:
            del record["l_face"]
        if step == 7:
            record["l_pose"] = float("nan")
        lines.append(json.dumps(record))
    write_metrics(tmp_path / "pcl" / "metrics.jsonl", lines + ['{"step": 60, "lo'])
    write_metrics(tmp_path / "simclr" / "metrics.jsonl", [json.dumps({"step": s, "nt_xent": 4.0 - s / 30}) for s in range(30)])
    write_metrics(tmp_path / "empty" / "metrics.jsonl", [json.dumps({"step": 0, "lr": 0.1})])
    steps, values = loss_series(read_metrics(tmp_path / "pcl"))
    assert list(values) == ["loss", "l_face"]  # total first; lr, throughput, strings and NaN-only terms left out
    assert len(values["l_face"]) == 48 and steps["loss"][-1] == 59
    out = training_curves({"PCL": tmp_path / "pcl", "SimCLR": tmp_path / "simclr/metrics.jsonl",
                           "empty": tmp_path / "empty"}, tmp_path / "curves.png")
    assert png_size(out) == (1500, 410)  # 3 panels x 5 in, 3.6 + 0.5 in


def test_metrics_errors_name_the_file_and_line(tmp_path):
    write_metrics(tmp_path / "m.jsonl", ['{"step": 0, "loss": 1}', "oops", '{"step": 1, "loss": 1}'])
    with pytest.raises(DataFormatError, match=r"m.jsonl:2: not a JSON object per line"):
        read_metrics(tmp_path / "m.jsonl")
    with pytest.raises(FacesslError, match="metrics file not found"):
        read_metrics(tmp_path / "nowhere")


def test_smooth_has_no_lag_on_a_line():
    x = np.arange(100.0)
    np.testing.assert_allclose(smooth(x)[10:90], x[10:90])


def test_heatmap_with_missing_cells(tmp_path):
    matrix = np.array([[0.1, np.nan, 0.9], [0.5, 0.2, 1.0]])
    out = heatmap(matrix, ["F_f", "F_p"], ["yaw", "identity", "expression"], tmp_path / "h.png", title="t")
    width, height = png_size(out)
    assert (width, height) == (int(round((1.0 + 0.09 * 3 + 1.1 * 3 + 1.2) * 100)), int(round((1.3 + 0.55 * 2 + 0.6) * 100)))
    with pytest.raises(FacesslError, match="does not match"):
        heatmap(matrix, ["a"], ["b"], tmp_path / "bad.png")


def test_image_grid_layouts_and_inputs(tmp_path):
    uint8 = np.zeros((5, 32, 32, 3), np.uint8)
    uint8[1] = 255
    assert image_grid(uint8, nrow=3, path=tmp_path / "g.png", upscale=2) == (3 * 64 + 4 * 2, 2 * 64 + 3 * 2)
    with Image.open(tmp_path / "g.png") as im:
        px = im.convert("RGB").load()
        assert px[2 + 64 + 2 + 10, 10] == (255, 255, 255) and px[12, 12] == (0, 0, 0)
    floats = torch.rand(4, 3, 64, 64)
    size = image_grid(floats, nrow=4, path=tmp_path / "f.png", labels=list("abcd"), col_labels=["s", "F_f+F_p̂", "x", "y"])
    assert size == png_size(tmp_path / "f.png") and size[0] == 4 * 128 + 5 * 2 and size[1] > 128
    with pytest.raises(FacesslError, match="4 images but 3 labels"):
        image_grid(floats, nrow=2, path=tmp_path / "x.png", labels=["a", "b", "c"])
