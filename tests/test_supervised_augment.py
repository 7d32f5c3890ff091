"""The supervised baseline's augmentation keeps labels: mirrors only where a mirror keeps the label,
small shifts everywhere but landmarks, reproducible from the seed."""
import torch

from facessl.evaluate.baselines import augment_batch


def _batch():
    torch.manual_seed(0)
    return torch.rand(16, 3, 32, 32)


def test_landmarks_images_are_left_alone():
    x = _batch()
    assert torch.equal(augment_batch(x, "landmarks", torch.Generator().manual_seed(1)), x)


def test_mirrors_only_for_flip_invariant_tasks():
    # A left-right odd image: a mirror negates it about its mean, a shift of <= 2 px barely changes it.
    ramp = torch.linspace(-1, 1, 32).view(1, 1, 1, 32).expand(16, 3, 32, 32).contiguous()
    sign = lambda out: torch.sign((out * ramp).mean(dim=(1, 2, 3)))
    assert (sign(augment_batch(ramp, "pose", torch.Generator().manual_seed(1))) > 0).all()
    signs = sign(augment_batch(ramp, "expression", torch.Generator().manual_seed(1)))
    assert (signs < 0).any() and (signs > 0).any()


def test_shift_is_small_and_seeded():
    x = _batch()
    a = augment_batch(x, "pose", torch.Generator().manual_seed(3))
    b = augment_batch(x, "pose", torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape and not torch.equal(a, x)
    # every shift is at most 1/16 of the side: the centre crop of each image reappears within 2 px
    for i in range(len(x)):
        best = min(float((a[i, :, 4:28, 4:28] - x[i, :, 4 + dy:28 + dy, 4 + dx:28 + dx]).abs().mean())
                   for dy in range(-3, 4) for dx in range(-3, 4))
        assert best < 0.2
