"""FAb-Net figures: flow colour code, flow figure, cross-identity retrieval sheet and pose error."""
import numpy as np
import pytest
import torch
from PIL import Image

from facessl.errors import FacesslError
from facessl.viz.flow import color_wheel, flow_to_color, save_flow_figure
from facessl.viz.retrieval import cross_identity_neighbours, retrieval_pose_error, retrieval_sheet
from fabnet_toydata import toy_samples


def test_flow_colours_follow_direction_and_length():
    flow = torch.zeros(1, 2, 1, 4)
    flow[0, 0, 0, 1] = 1.0   # right
    flow[0, 1, 0, 2] = -1.0  # up (y points down)
    flow[0, 0, 0, 3] = -0.5  # half-length left
    rgb = flow_to_color(flow, max_magnitude=1.0)[0, :, 0].T  # (4 pixels, RGB)
    assert torch.allclose(rgb[0], torch.ones(3), atol=1e-5)                     # no motion: white
    assert torch.allclose(rgb[1], torch.tensor([1.0, 0.0, 0.0]), atol=1e-5)    # right: red
    assert rgb[2, 2] > 0.9 and rgb[2, 1] < 0.1                                  # up: blue-violet
    assert rgb[3, 0] < rgb[3, 1] and rgb[3, 0] == pytest.approx(0.5, abs=1e-4)  # left, half saturated: pale cyan
    assert color_wheel(16).shape == (3, 16, 16)


def test_flow_figure_is_written(tmp_path):
    frames = torch.rand(2, 3, 3, 16, 16)
    out = {"flow": torch.randn(2, 2, 2, 16, 16) * 0.1, "warped": torch.rand(2, 2, 3, 16, 16),
           "prediction": torch.rand(2, 3, 16, 16), "weights": torch.softmax(torch.randn(2, 2, 1, 16, 16), 1)}
    save_flow_figure(tmp_path / "flow.png", frames, out, title="test")
    assert Image.open(tmp_path / "flow.png").size[0] > 300


def test_neighbours_are_other_identities_ranked_by_cosine():
    feats = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.95, 0.05]])
    ids = np.array([0, 0, 1, 2])
    nb = cross_identity_neighbours(feats, ids, k=3)
    assert nb[0].tolist() == [3, 2, -1]  # 1 is the same identity; only two others exist
    assert nb[2].tolist()[:2] == [1, 3]


def test_pose_error_is_low_for_a_pose_embedding_and_chance_for_noise():
    _, yaw, ids = toy_samples(6, 10, size=16)
    pose_feats = np.stack([np.cos(yaw), np.sin(yaw), np.ones_like(yaw)], 1)
    good = retrieval_pose_error(pose_feats, yaw, ids, k=3)
    noise = retrieval_pose_error(np.random.default_rng(0).normal(size=(len(ids), 8)), yaw, ids, k=3)
    assert good["ratio"] < 0.3 and 0.6 < noise["ratio"] < 1.4
    with pytest.raises(FacesslError):
        retrieval_pose_error(pose_feats, yaw, np.zeros_like(ids))


def test_retrieval_sheet(tmp_path):
    images, yaw, ids = toy_samples(4, 5, size=32)
    feats = np.stack([np.cos(yaw), np.sin(yaw)], 1)
    rows = retrieval_sheet(feats, images, ids, tmp_path / "nn.png", n_queries=3, k=4)
    assert len(rows) == 3 and all(len(r) == 5 for r in rows)
    assert all(ids[j] != ids[r[0]] for r in rows for j in r[1:])
    assert Image.open(tmp_path / "nn.png").size[1] > 100
