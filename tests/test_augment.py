"""Batched augmentations: contracts (shape/dtype/range, seeds, per-sample randomness) and exact checks."""
import colorsys

import pytest
import torch

from facessl import augment as A

torch.set_num_threads(2)
SIZE = 32


def images(n=6, size=SIZE, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g)


TRANSFORMS = {
    "jitter": lambda: A.ColorJitter(0.8, 0.8, 0.8, 0.2, p=1.0),
    "grey": lambda: A.RandomGrayscale(p=1.0),
    "blur": lambda: A.GaussianBlur(kernel_frac=0.2, p=1.0),
    "sobel": lambda: A.Sobel(p=1.0),
    "rrc": lambda: A.RandomResizedCrop(24),
    "flip": lambda: A.HorizontalFlip(p=1.0),
    "noise": lambda: A.GaussianNoise(0.1),
    "rotate": lambda: A.Rotate(30),
    "simclr": lambda: A.simclr_views(SIZE)[0],
    "pose": lambda: A.pose_preserving(SIZE),
    "pcl_face": lambda: A.pcl_face_views(SIZE),
}


def run(t, x):
    out = t(x)
    return torch.cat(out) if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_range_kept(name, dtype):
    x = images().to(dtype)
    out = TRANSFORMS[name]()(x)
    for y in out if isinstance(out, tuple) else (out,):
        size = 24 if name == "rrc" else SIZE
        assert y.shape == (6, 3, size, size) and y.dtype == dtype
        assert y.min() >= 0 and y.max() <= 1
    assert torch.equal(x, images().to(dtype))           # the input is never modified in place


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_reproducible_under_seed(name):
    t, x = TRANSFORMS[name](), images()
    torch.manual_seed(3)
    a = run(t, x)
    torch.manual_seed(3)
    b = run(t, x)
    torch.manual_seed(4)
    c = run(t, x)
    assert torch.equal(a, b)
    if name not in ("grey", "sobel", "flip"):             # deterministic at p=1
        assert not torch.equal(a, c)


@pytest.mark.parametrize("name", ["jitter", "blur", "rrc", "noise", "rotate", "simclr"])
def test_randomness_is_per_sample(name):
    x = images(1).expand(8, -1, -1, -1).contiguous()      # one image, 8 copies
    torch.manual_seed(0)
    y = TRANSFORMS[name]()(x)
    diffs = [(y[0] - y[i]).abs().max().item() for i in range(1, 8)]
    assert min(diffs) > 1e-3


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_probability_selects_samples(p):
    x = images(64)
    torch.manual_seed(1)
    y = A.RandomGrayscale(p=p)(x)
    changed = (y - x).flatten(1).abs().amax(1) > 1e-6
    grey = (y[:, 0] == y[:, 1]).flatten(1).all(1) & (y[:, 1] == y[:, 2]).flatten(1).all(1)
    assert torch.equal(changed, grey)
    assert changed.float().mean().item() == pytest.approx(p, abs=0.2)
    torch.testing.assert_close(y[changed], A.grey(x[changed]).expand(-1, 3, -1, -1))


@pytest.mark.parametrize("name", ["pose", "simclr"])
def test_blend_path_equals_subset_path(name, monkeypatch):
    """Accelerators blend with torch.where instead of indexing the selected rows: same result."""
    import facessl.augment.base as base

    x = images(16)
    torch.manual_seed(5)
    subset = run(TRANSFORMS[name](), x)
    monkeypatch.setattr(base, "subset_on", lambda t: False)
    torch.manual_seed(5)
    torch.testing.assert_close(run(TRANSFORMS[name](), x), subset)


def test_crop_resize_is_exact_on_pixel_boxes():
    x = images(2)
    full = torch.tensor([[0.0, 0.0, SIZE, SIZE]] * 2)
    torch.testing.assert_close(A.crop_resize(x, full, SIZE), x)
    quad = torch.tensor([[16.0, 0.0, 16.0, 16.0], [0.0, 16.0, 16.0, 16.0]])
    out = A.crop_resize(x, quad, 16)
    torch.testing.assert_close(out[0], x[0, :, :16, 16:])
    torch.testing.assert_close(out[1], x[1, :, 16:, :16])


def test_random_resized_crop_full_scale_is_identity():
    x = images(3)
    torch.testing.assert_close(A.RandomResizedCrop(SIZE, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x), x)
    boxes = A.RandomResizedCrop(SIZE, scale=(0.2, 1.0)).boxes(images(500))
    area = boxes[:, 2] * boxes[:, 3] / SIZE ** 2
    assert area.min() >= 0.2 - 1e-4 and area.max() <= 1 + 1e-4
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= SIZE + 1e-4).all()


def quadrant_image(n, size=64):
    colours = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 0]])
    x = torch.empty(n, 3, size, size)
    h = size // 2
    for q, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        x[:, :, r * h:(r + 1) * h, c * h:(c + 1) * h] = colours[q].view(1, 3, 1, 1)
    return x, colours


def test_distance_crops_come_from_two_different_quadrants():
    x, colours = quadrant_image(200)
    torch.manual_seed(0)
    v1, v2, quads = A.distance_crop(x, 48, return_quadrants=True)
    assert v1.shape == v2.shape == (200, 3, 48, 48)
    for v, q in ((v1, quads[:, 0]), (v2, quads[:, 1])):
        # each crop is a single solid colour: the colour of the quadrant it was cut from
        torch.testing.assert_close(v, colours[q].view(-1, 3, 1, 1).expand_as(v))
    assert (quads[:, 0] != quads[:, 1]).all()
    assert set(quads.flatten().tolist()) == {0, 1, 2, 3}
    b1, _, _ = A.distance_boxes(10, 64, 64, 0.4)
    assert torch.all(b1[:, 2] == 24) and torch.all(b1[:, 3] == 24)   # int(64*0.2)*2, as the reference


def test_pose_preserving_keeps_geometry():
    n, size = 64, 32
    plain = torch.full((n, 3, size, size), 0.2)
    spot = plain.clone()
    spot[:, :, 9, 23] = 1.0                               # one bright pixel, off-centre and asymmetric
    pipeline = A.pose_preserving(size)
    torch.manual_seed(0)
    y_spot = pipeline(spot)
    torch.manual_seed(0)
    y_plain = pipeline(plain)                             # same random parameters, no spot

    def spot_location(a, b):
        where = (a - b).abs().sum(1).flatten(1).argmax(1)
        return where // size, where % size

    rows, cols = spot_location(y_spot, y_plain)
    # the response to the spot stays where it was (within the blur radius 3 + edge filter 1)
    assert ((rows - 9).abs() <= 4).all() and ((cols - 23).abs() <= 4).all()
    _, fcols = spot_location(A.hflip(y_spot), A.hflip(y_plain))
    assert ((fcols - 23).abs() > 4).all()                # the check would catch a flip


def test_hue_matches_colorsys():
    x = images(2, size=4)
    shift = torch.tensor([0.13, -0.31])
    y = A.adjust_hue(x, shift)
    for i in range(2):
        for r in range(4):
            for c in range(4):
                h, s, v = colorsys.rgb_to_hsv(*x[i, :, r, c].tolist())
                expect = colorsys.hsv_to_rgb((h + shift[i].item()) % 1.0, s, v)
                torch.testing.assert_close(y[i, :, r, c], torch.tensor(expect), atol=1e-5, rtol=0)
    torch.testing.assert_close(A.adjust_hue(x, torch.zeros(2)), x, atol=1e-6, rtol=0)


def test_sobel_matches_the_formula():
    x = images(1, size=6)
    y = A.sobel_edges(x)[0, 0]
    g = (x[0] * torch.tensor([65.738, 129.057, 25.064]).view(3, 1, 1) / 256).sum(0)
    gp = torch.nn.functional.pad(g, (1, 1, 1, 1))
    for r in range(6):
        for c in range(6):
            gx = gp[r + 1, c + 2] - gp[r + 1, c]
            gy = gp[r + 2, c + 1] - gp[r, c + 1]
            assert y[r, c].item() == pytest.approx(min(1.0, (gx ** 2 + gy ** 2 + 1e-6).sqrt().item()), abs=1e-6)


def test_blur_keeps_constants_and_matches_a_2d_convolution():
    const = torch.full((2, 3, 16, 16), 0.3)
    torch.testing.assert_close(A.blur(const, torch.tensor([0.5, 2.0]), 3), const)
    x = images(2, size=16)
    sigma = torch.tensor([0.7, 1.9])
    y = A.blur(x, sigma, 2)
    for i in range(2):
        t = torch.arange(-2, 3.0)
        k1 = torch.exp(-t ** 2 / (2 * sigma[i] ** 2))
        k1 = k1 / k1.sum()
        k2 = (k1[:, None] * k1[None]).expand(3, 1, 5, 5)
        ref = torch.nn.functional.conv2d(torch.nn.functional.pad(x[i:i + 1], (2, 2, 2, 2), mode="reflect"), k2, groups=3)
        torch.testing.assert_close(y[i:i + 1], ref, atol=1e-5, rtol=0)
    assert A.GaussianBlur(0.1).radius(64) == 3             # kernel int(0.1*64)=6 -> 7 taps, as the reference


def test_flip_and_rotation_geometry():
    x = images(2)
    torch.testing.assert_close(A.hflip(A.hflip(x)), x)
    torch.testing.assert_close(A.HorizontalFlip(p=1.0)(x), x.flip(-1))
    torch.testing.assert_close(A.Rotate(0.0)(x), x, atol=1e-5, rtol=0)
    spot = torch.zeros(1, 3, 33, 33)
    spot[..., 16, 28] = 1.0                               # 12 px right of centre
    rot = A.Rotate(90.0)
    out = rot.apply(spot, torch.tensor([90.0]))
    r, c = divmod(out[0, 0].argmax().item(), 33)
    assert (r, c) in ((4, 16), (28, 16))                  # moved to directly above or below the centre


def test_gaussian_noise_without_clamp_keeps_the_noise():
    x = torch.full((4, 3, 16, 16), 0.5)
    torch.manual_seed(0)
    y = A.GaussianNoise(0.4, clamp=False)(x)
    assert (y - x).std().item() == pytest.approx(0.4, rel=0.1)
    assert y.min() < 0 and y.max() > 1


@pytest.mark.parametrize("name", ["simclr", "pcl_face", "rotate", "blur"])
def test_autocast_does_not_change_the_result(name):
    x = images(4)
    torch.manual_seed(0)
    ref = run(TRANSFORMS[name](), x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.manual_seed(0)
        out = run(TRANSFORMS[name](), x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("name", ["simclr", "pose", "pcl_face"])
def test_channels_last_input_gives_the_same_result(name):
    x = images(4)
    torch.manual_seed(0)
    ref = run(TRANSFORMS[name](), x)
    torch.manual_seed(0)
    out = run(TRANSFORMS[name](), x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="float images"):
        A.ColorJitter()(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="probability"):
        A.Sobel(p=1.5)
