"""Backbones, branch heads, projection heads and the FLOP counter."""
import pytest
import torch

from facessl.errors import FacesslError
from facessl.models import BACKBONES, BranchHead, ProjectionHead, build_backbone, build_branch_heads, count_flops
from facessl.models.fabnet import FAbNetConvEncoder
from facessl.models.registry import StemConv2d

torch.set_num_threads(2)
NAMES = ["facecycle", "resnet18", "resnet50", "small"]


def test_registry_lists_every_backbone():
    assert set(NAMES) <= set(BACKBONES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [64, 112])
def test_map_shape_matches_declared_dims(name, size):
    torch.manual_seed(0)
    bb = build_backbone(name, width=1.0 if name in ("facecycle", "small") else 0.125, image_size=size)
    fmap = bb(torch.rand(2, 3, size, size))
    assert fmap.dim() == 4 and fmap.shape[0] == 2
    assert fmap.shape[1] == bb.out_channels
    assert tuple(fmap.shape[1:]) == bb.feature_shape(size)
    assert bb.feature_dim(size) == fmap[0].numel()
    assert torch.isfinite(fmap).all()
    face, pose = build_branch_heads(bb)
    assert face(fmap).shape == fmap.shape and pose(fmap).shape == fmap.shape


def test_facecycle_trunk_dims_follow_the_reference():
    bb = build_backbone("facecycle", image_size=64)
    assert bb.feature_shape(64) == (128, 4, 4) and bb.feature_dim(64) == 2048
    narrow = build_backbone("facecycle", width=0.25)   # same strides, cheaper dry runs
    assert narrow.feature_shape(100)[1:] == (7, 7)     # 128x7x7 = 6272: the reference's expression probe
    assert narrow.feature_shape(256)[1:] == (16, 16)   # 128x16x16: its pose probe
    face, pose = build_branch_heads(bb)
    assert isinstance(face, BranchHead) and face is not pose
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in bb.modules())


@pytest.mark.parametrize("name,full", [("facecycle", 128), ("resnet18", 512), ("resnet50", 2048), ("small", 128)])
def test_width_multiplier_scales_channels_and_parameters(name, full):
    wide, narrow = build_backbone(name, width=1.0), build_backbone(name, width=0.5)
    assert wide.out_channels == full and narrow.out_channels == full // 2
    n_wide = sum(p.numel() for p in wide.parameters())
    n_narrow = sum(p.numel() for p in narrow.parameters())
    assert n_narrow < 0.4 * n_wide


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_gives_the_same_output(name):
    torch.manual_seed(0)
    bb = build_backbone(name, width=1.0 if name in ("facecycle", "small") else 0.125, image_size=64).eval()
    x = torch.rand(2, 3, bb.image_size, bb.image_size)
    ref = bb(x)
    bb_cl = bb.to(memory_format=torch.channels_last)
    out = bb_cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def image_readers(module: torch.nn.Module) -> list[torch.nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels == 3]


@pytest.mark.parametrize("name", NAMES + ["fabnet_encoder"])
def test_the_layer_that_reads_the_image_computes_in_fp32_under_bf16_autocast(name):
    """Only the stem: every other layer keeps autocast's bf16 (its weight gradient is what bf16 got wrong, session 28)."""
    torch.manual_seed(0)
    if name == "fabnet_encoder":
        bb = FAbNetConvEncoder(width=0.5, image_size=32)
    else:
        bb = build_backbone(name, width=1.0 if name in ("facecycle", "small") else 0.125, image_size=64)
    (stem,) = image_readers(bb)
    assert isinstance(stem, StemConv2d)
    assert sum(isinstance(m, StemConv2d) for m in bb.modules()) == 1
    x = torch.rand(2, 3, 16, 16)
    fp32 = torch.nn.functional.conv2d(x, stem.weight, stem.bias, stem.stride, stem.padding)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = stem(x.bfloat16())
        rest = torch.nn.functional.conv2d(x, stem.weight, stem.bias, stem.stride, stem.padding)
    assert out.dtype == torch.float32 and rest.dtype == torch.bfloat16
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x.bfloat16().float(), stem.weight, stem.bias,
                                                               stem.stride, stem.padding), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(stem(x), fp32, rtol=0, atol=0)  # outside autocast: a plain Conv2d


def test_feature_dim_leaves_training_state_and_bn_stats_alone():
    bb = build_backbone("small").train()
    before = {k: v.clone() for k, v in bb.state_dict().items()}
    bb.feature_dim(96)
    assert bb.training
    for k, v in bb.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_gradients_reach_every_parameter():
    bb = build_backbone("facecycle", width=0.25)
    face, pose = build_branch_heads(bb)
    fmap = bb(torch.rand(2, 3, 64, 64))
    (face(fmap).square().mean() + pose(fmap).mean()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in bb.parameters())


def test_normalisation_is_inside_the_model():
    bb = build_backbone("small").eval()
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(bb(x), bb.trunk(bb.normalize(x)))
    assert bb.normalize(torch.full((1, 3, 4, 4), 0.45)).abs().max() < 0.5


@pytest.mark.parametrize("last_bn", [True, False])
def test_projection_head(last_bn):
    head = ProjectionHead(2048, 256, 64, last_bn=last_bn)
    out = head(torch.randn(5, 128, 4, 4))                  # maps are flattened
    assert out.shape == (5, 64)
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in head.modules()) == last_bn
    if last_bn:
        assert out.mean(0).abs().max() < 1e-4          # train-mode BN output is batch-centred


def test_count_flops():
    small = build_backbone("small")
    flops = count_flops(small, 64)
    assert 50e6 <= flops <= 150e6
    assert count_flops(small, 128) == pytest.approx(4 * flops, rel=0.01)
    fc = build_backbone("facecycle")
    # 7x7/2 stem conv alone: 32*32 outputs * 64 channels * 7*7*3 MACs * 2
    assert count_flops(fc, 64) > 2 * 32 * 32 * 64 * 147
    assert 0.5e9 < count_flops(fc, 64) < 1.2e9
    assert small.training                                # count_flops restores the mode


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(FacesslError, match="did you mean 'resnet18'"):
        build_backbone("resnet81")
    with pytest.raises(FacesslError, match="width"):
        build_backbone("small", width=0)
