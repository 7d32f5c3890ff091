"""The procedural face renderer: mirror symmetry of pose, landmarks on the painted features, AU geometry,
determinism, identity vs expression separation, pose sampling, tracks and the preview sheet."""
import numpy as np
import pytest
import torch

from facessl.data.synthetic import (N_ID_PARAMS, SUPPORTED_SIZES, expression_aus, plain_scene, preview_sheet,
                                    render, sample_identities, sample_poses, sample_scene, sample_track)
from facessl.data.synthetic.landmarks import FLIP_68
from facessl.data.synthetic.texture import PART_EYE, PART_MOUTH

AU = {1: 0, 2: 1, 4: 2, 6: 3, 9: 4, 12: 5, 25: 6, 26: 7}


def _ids(n, seed=0):
    return sample_identities(n, torch.Generator().manual_seed(seed))


def _one_au(au, level, n=1):
    aus = torch.zeros(n, 8)
    aus[:, AU[au]] = level
    return aus


def test_flip_equals_negated_yaw_and_roll():
    ids = _ids(3, seed=4)
    pose = torch.tensor([[35.0, 10.0, 12.0], [-60.0, -20.0, 5.0], [80.0, 5.0, -25.0]])
    aus = expression_aus(torch.tensor([3, 0, 5]), torch.Generator().manual_seed(1))
    scene, mirrored = plain_scene(3, light=(0.5, 0.4, 1.0)), plain_scene(3, light=(-0.5, 0.4, 1.0))
    a = render(ids, pose, aus, scene, 64)
    b = render(ids, pose * torch.tensor([-1.0, 1.0, -1.0]), aus, mirrored, 64)
    flipped = a.images.flip(2).int()
    diff = (flipped - b.images.int()).abs()
    assert diff.float().mean() < 1.0
    assert (diff > 40).float().mean() < 0.01
    lm = a.landmarks[:, FLIP_68].clone()
    lm[..., 0] = 64 - lm[..., 0]
    assert torch.allclose(lm, b.landmarks, atol=0.05)
    assert (a.visible[:, FLIP_68] != b.visible).sum() <= 2
    # And the test can fail: yaw without negation is not the mirror image.
    c = render(ids, pose * torch.tensor([1.0, 1.0, -1.0]), aus, mirrored, 64)
    assert (flipped - c.images.int()).abs().float().mean() > 5 * diff.float().mean() + 3


@pytest.mark.parametrize("yaw", [-30.0, 0.0, 30.0])
def test_landmarks_fall_on_eyes_and_mouth(yaw):
    n = 4
    aus = _one_au(25, 4.0, n)  # lips parted, so the inner-lip points have a mouth to sit on
    out = render(_ids(n, seed=2), torch.tensor([[yaw, 0.0, 0.0]]).expand(n, 3), aus, plain_scene(n), 128,
                 return_parts=True)
    col = out.landmarks[..., 0].floor().long().clamp(1, 126)
    row = out.landmarks[..., 1].floor().long().clamp(1, 126)
    near = torch.stack([out.parts[torch.arange(n)[:, None], row + dy, col + dx]
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)], -1)       # (n, 68, 9) part labels
    for idx, part in ((range(36, 48), PART_EYE), (range(48, 68), PART_MOUTH)):
        idx = list(idx)
        vis = out.visible[:, idx]
        on = (near[:, idx] == part).any(-1)
        assert on[vis].float().mean() > 0.95, (yaw, part, on.float().mean())
    # The eye centre (mean of the lid points) is darker than the cheek below it.
    img = out.images.float().mean(-1)
    for eye in (list(range(36, 42)), list(range(42, 48))):
        if out.visible[:, eye].all():
            c = out.landmarks[:, eye].mean(1)
            x, y = c[:, 0].long(), c[:, 1].long()
            cheek = img[torch.arange(n), (y + 20).clamp(max=127), x]
            assert (img[torch.arange(n), y, x] < cheek - 15).all()


def test_action_units_move_landmarks():
    ids = _ids(2, seed=3)
    pose, scene = torch.zeros(2, 3), plain_scene(2)
    base = render(ids, pose, torch.zeros(2, 8), scene, 64).landmarks
    smile = render(ids, pose, _one_au(12, 5.0, 2), scene, 64).landmarks
    assert (smile[:, 48, 1] < base[:, 48, 1] - 0.5).all() and (smile[:, 54, 1] < base[:, 54, 1] - 0.5).all()
    assert (smile[:, 48, 0] < base[:, 48, 0]).all() and (smile[:, 54, 0] > base[:, 54, 0]).all()
    jaw = render(ids, pose, _one_au(26, 5.0, 2), scene, 64).landmarks
    assert (jaw[:, 8, 1] > base[:, 8, 1] + 1.0).all()
    inner = render(ids, pose, _one_au(1, 5.0, 2), scene, 64).landmarks
    assert (inner[:, [21, 22], 1] < base[:, [21, 22], 1] - 1.0).all()
    outer = render(ids, pose, _one_au(2, 5.0, 2), scene, 64).landmarks
    assert (outer[:, [17, 26], 1] < base[:, [17, 26], 1] - 1.0).all()
    frown = render(ids, pose, _one_au(4, 5.0, 2), scene, 64).landmarks
    assert (frown[:, [21, 22], 1] > base[:, [21, 22], 1] + 0.5).all()
    assert ((frown[:, 22, 0] - frown[:, 21, 0]) < (base[:, 22, 0] - base[:, 21, 0])).all()


@pytest.mark.parametrize("au", [1, 2, 4, 6, 9, 12, 25, 26])
def test_every_action_unit_changes_the_image(au):
    ids = _ids(1, seed=5)
    a = render(ids, torch.zeros(1, 3), torch.zeros(1, 8), plain_scene(1), 64).images.int()
    b = render(ids, torch.zeros(1, 3), _one_au(au, 5.0), plain_scene(1), 64).images.int()
    assert ((a - b).abs().amax(-1) > 25).sum() >= 12, au


def _sample_all(seed, n=6, size=64):
    g = torch.Generator().manual_seed(seed)
    ids, pose = sample_identities(n, g), sample_poses(n, g)
    aus, scene = expression_aus(torch.randint(0, 7, (n,), generator=g), g), sample_scene(n, g, occluder_rate=0.5)
    return render(ids, pose, aus, scene, size, generator=g)


def test_same_seed_same_bytes_and_different_seed_differs():
    a, b, c = _sample_all(7), _sample_all(7), _sample_all(8)
    assert a.images.numpy().tobytes() == b.images.numpy().tobytes()
    assert torch.equal(a.landmarks, b.landmarks) and torch.equal(a.visible, b.visible)
    assert not torch.equal(a.images, c.images)


def test_identities_differ_more_than_expressions():
    ids = _ids(6, seed=11)
    g = torch.Generator().manual_seed(0)
    neutral = render(ids, torch.zeros(6, 3), torch.zeros(6, 8), plain_scene(6), 64).images.float()
    between = torch.stack([(neutral[i] - neutral[j]).abs().mean() for i in range(6) for j in range(i + 1, 6)])
    expr = expression_aus(torch.arange(7), g)
    within = []
    for i in range(3):
        imgs = render(ids[i:i + 1].expand(7, -1), torch.zeros(7, 3), expr, plain_scene(7), 64).images.float()
        within += [(imgs[j] - imgs[k]).abs().mean() for j in range(7) for k in range(j + 1, 7)]
    assert between.mean() > 2.0 * torch.stack(within).mean(), (between.mean(), torch.stack(within).mean())


def test_pose_sampling_ranges_and_shape():
    g = torch.Generator().manual_seed(0)
    for dist in ("voxceleb", "uniform"):
        p = sample_poses(20000, g, dist)
        assert p.shape == (20000, 3)
        assert p[:, 0].abs().max() <= 90 and p[:, 1:].abs().max() <= 45
    vox = sample_poses(20000, g)
    assert (vox[:, 0].abs() < 30).float().mean() > 0.6
    assert (vox[:, 0].abs() > 60).float().mean() > 0.01  # real tails
    uni = sample_poses(20000, g, "uniform")
    assert 0.28 < (uni[:, 0].abs() > 60).float().mean() < 0.38
    with pytest.raises(ValueError):
        sample_poses(3, g, "gaussian")


def test_expression_aus_follow_the_classes():
    g = torch.Generator().manual_seed(0)
    aus = expression_aus(torch.full((200,), 3), g)       # happiness
    assert aus.shape == (200, 8) and aus.min() >= 0 and aus.max() <= 5
    assert (aus[:, AU[12]] > 1.5).float().mean() > 0.9
    neutral = expression_aus(torch.full((200,), 6), g)
    assert neutral.mean() < 0.3 and (neutral < 1.0).float().mean() > 0.97
    assert sample_identities(5, g).shape == (5, N_ID_PARAMS) and N_ID_PARAMS >= 10


def test_track_is_smooth_and_renders():
    g = torch.Generator().manual_seed(3)
    track = sample_track(_ids(1)[0], 24, g, expression=0)
    assert track["pose"].shape == (24, 3) and track["aus"].shape == (24, 8)
    assert (track["pose"][1:] - track["pose"][:-1]).abs().max() < 3.0
    assert (track["aus"][1:] - track["aus"][:-1]).abs().max() < 1.5
    out = render(track["identity"], track["pose"], track["aus"], track["scene"], 48, generator=g)
    assert out.images.shape == (24, 48, 48, 3) and out.images.dtype == torch.uint8
    step = (out.images[1:].float() - out.images[:-1].float()).abs().mean()
    assert step < 20


def test_bad_inputs_raise_clear_errors():
    ids = _ids(2)
    with pytest.raises(ValueError, match="pose"):
        render(ids, torch.zeros(3, 3), torch.zeros(2, 8), plain_scene(2))
    scene = plain_scene(2)
    del scene["light"]
    with pytest.raises(ValueError, match="light"):
        render(ids, torch.zeros(2, 3), torch.zeros(2, 8), scene)


def test_preview_sheet_writes_png(tmp_path):
    path = tmp_path / "sheet.png"
    preview_sheet(path, size=48, seed=1)
    from PIL import Image
    im = np.asarray(Image.open(path))
    assert im.shape[0] > 96 * 10 and im.shape[1] == 96 * 8 and 64 in SUPPORTED_SIZES
