"""facessl.methods.fabnet_warp: exact identity, exact integer shifts, softmax blending, jitter, tuple augmentation."""
import pytest
import torch

from facessl.methods.fabnet_warp import (combine_sources, flow_in_pixels, flow_to_grid, identity_grid, pixels_to_flow,
                          random_jitter, tuple_consistent_augment, warp)


def test_identity_flow_returns_the_source_exactly():
    torch.manual_seed(0)
    src = torch.rand(3, 3, 17, 23)  # odd, non-square: catches x/y swaps and off-by-half errors
    out = warp(src, torch.zeros(3, 2, 17, 23))
    # exact up to float32 rounding of the grid coordinates (~size * eps): pixel centres hit exactly
    assert (out - src).abs().max() < 1e-5


def test_identity_grid_spans_pixel_centres():
    g = identity_grid(4, 5)
    assert g.shape == (1, 4, 5, 2)
    assert torch.allclose(g[0, 0, :, 0], torch.linspace(-1, 1, 5))  # x along columns
    assert torch.allclose(g[0, :, 0, 1], torch.linspace(-1, 1, 4))  # y along rows


@pytest.mark.parametrize("kx,ky", [(3, 0), (0, 2), (-4, 5)])
def test_constant_flow_shifts_by_whole_pixels(kx, ky):
    torch.manual_seed(1)
    h, w = 20, 24
    src = torch.rand(2, 3, h, w)
    dx, dy = pixels_to_flow(kx, ky, h, w)
    flow = torch.tensor([dx, dy]).view(1, 2, 1, 1).expand(2, 2, h, w)
    out = warp(src, flow)
    # s'(x, y) = s(x + kx, y + ky) wherever x + kx and y + ky stay inside the image
    ys = slice(max(0, -ky), h - max(0, ky))
    xs = slice(max(0, -kx), w - max(0, kx))
    ys_src = slice(ys.start + ky, ys.stop + ky)
    xs_src = slice(xs.start + kx, xs.stop + kx)
    assert torch.allclose(out[..., ys, xs], src[..., ys_src, xs_src], atol=1e-5)
    assert torch.allclose(flow_in_pixels(flow)[:, :, 0, 0], torch.tensor([[kx, ky]], dtype=torch.float32), atol=1e-5)


def test_grid_is_clamped():
    grid = flow_to_grid(torch.full((1, 2, 4, 4), 5.0))
    assert grid.max() <= 1.0 and grid.min() >= -1.0


def test_flow_at_lower_resolution_is_resized():
    torch.manual_seed(4)
    src = torch.rand(1, 3, 16, 16)
    assert (warp(src, torch.zeros(1, 2, 8, 8)) - src).abs().max() < 1e-5


def test_equal_confidences_give_the_plain_average():
    torch.manual_seed(2)
    warped = torch.rand(2, 3, 3, 8, 8)
    pred, weights = combine_sources(warped, torch.full((2, 3, 1, 8, 8), 0.7))
    assert torch.allclose(pred, warped.mean(1), atol=1e-6)
    assert torch.allclose(weights, torch.full_like(weights, 1 / 3))


def test_confidence_blend_is_a_per_pixel_softmax():
    warped = torch.stack([torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)], dim=1)  # (1,2,1,2,2)
    conf = torch.zeros(1, 2, 1, 2, 2)
    conf[0, 1, 0, 0, 0] = 50.0  # source 2 dominates the top-left pixel only
    pred, _ = combine_sources(warped, conf)
    assert pred[0, 0, 0, 0] == pytest.approx(1.0)
    assert pred[0, 0, 1, 1] == pytest.approx(0.5)
    # the paper's formula, written out
    expect = (warped * conf.exp()).sum(1) / conf.exp().sum(1)
    assert torch.allclose(pred, expect, atol=1e-6)


def test_jitter_is_mild_and_off_when_zero():
    torch.manual_seed(3)
    img = torch.rand(4, 3, 32, 32)
    assert torch.equal(random_jitter(img, 0.0, 0.0), img)
    out = random_jitter(img, 0.05, 0.1)
    assert out.shape == img.shape and not torch.allclose(out, img)
    # smooth image: a small shift/zoom changes it only a little
    smooth = torch.linspace(0, 1, 32).view(1, 1, 1, 32).expand(4, 3, 32, 32)
    assert (random_jitter(smooth, 0.05, 0.1) - smooth).abs().mean() < 0.1


def test_tuple_augmentation_treats_every_frame_of_a_tuple_alike():
    torch.manual_seed(5)
    frames = torch.rand(64, 3, 3, 8, 8)  # 64 tuples of 3 frames
    assert torch.equal(tuple_consistent_augment(frames, 0.0, 0.0), frames)
    out = tuple_consistent_augment(frames, 0.5, 0.5, generator=torch.Generator().manual_seed(0))
    luma = 0.299 * frames[:, :, 0] + 0.587 * frames[:, :, 1] + 0.114 * frames[:, :, 2]
    kinds = set()
    for b in range(len(frames)):
        grey = bool((out[b, :, 0] == out[b, :, 2]).all())
        mirrored = not torch.allclose(out[b, :, 1], (luma[b] if grey else frames[b, :, 1]))
        expected = (luma[b, :, None].expand(-1, 3, -1, -1) if grey else frames[b])
        expected = expected.flip(-1) if mirrored else expected
        assert torch.allclose(out[b], expected, atol=1e-6), b  # the same change on all three frames
        kinds.add((grey, mirrored))
    assert kinds == {(False, False), (False, True), (True, False), (True, True)}
    everything = tuple_consistent_augment(frames, 1.0, 1.0)
    assert torch.allclose(everything[:, :, 1], luma.flip(-1), atol=1e-6)


def test_warp_stays_float32_under_bf16_autocast():
    torch.manual_seed(5)
    src = torch.rand(1, 3, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = warp(src, torch.zeros(1, 2, 64, 64, dtype=torch.bfloat16))
    assert out.dtype == torch.float32 and (out - src).abs().max() < 1e-5
