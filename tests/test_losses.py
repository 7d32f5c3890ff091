"""Each loss against a literal, slow implementation of its formula, and known exact values."""
import math

import pytest
import torch

from facessl import losses as L
from facessl.methods.pcl_negatives import sample_beta

torch.set_num_threads(2)


def cos(a, b):
    return (a @ b) / (a.norm() * b.norm())


def literal_nt_xent(z1, z2, t, negatives_of=None):
    """Loop over the 2N anchors; negatives_of(a) optionally overrides anchor a's negatives."""
    u = torch.cat([z1, z2])
    n2 = len(u)
    total = 0.0
    for a in range(n2):
        p = (a + n2 // 2) % n2
        pos = torch.exp(cos(u[a], u[p]) / t)
        if negatives_of is None:
            negs = [u[b] for b in range(n2) if b not in (a, p)]
        else:
            negs = list(negatives_of(a))
        denom = pos + sum((torch.exp(cos(u[a], k) / t) for k in negs), torch.tensor(0.0, dtype=u.dtype))
        total = total - torch.log(pos / denom)
    return total / n2


def literal_pose(p1, p2, neg, t):
    total = 0.0
    for a, b in ((p1, p2), (p2, p1)):
        for i in range(len(a)):
            rows = neg[i] if neg.dim() == 3 else neg
            pos = torch.exp(cos(a[i], b[i]) / t)
            denom = pos + sum(torch.exp(cos(a[i], k) / t) for k in rows)
            total = total - torch.log(pos / denom) / len(a)
    return total


@pytest.mark.parametrize("n,d", [(1, 3), (2, 5), (7, 16)])
@pytest.mark.parametrize("t", [0.07, 0.5])
def test_nt_xent_matches_literal_value_and_gradient(n, d, t):
    g = torch.Generator().manual_seed(n * 100 + d)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    fast = L.nt_xent(z1, z2, t)
    slow = literal_nt_xent(z1, z2, t)
    assert fast.item() == pytest.approx(slow.item(), rel=1e-5)
    gf = torch.autograd.grad(fast, (z1, z2))
    gs = torch.autograd.grad(slow, (z1, z2))
    for a, b in zip(gf, gs):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("n,t", [(2, 0.1), (5, 0.5)])
def test_nt_xent_with_mixed_negatives_matches_literal(n, t):
    torch.manual_seed(n)
    z1, z2 = torch.randn(n, 6, dtype=torch.float64), torch.randn(n, 6, dtype=torch.float64)
    u = torch.cat([z1, z2])
    n2 = 2 * n
    neg = torch.stack([torch.stack([u[b] for b in range(n2) if b not in (a, (a + n) % n2)]) for a in range(n2)])
    mixed = L.mix_negatives(neg, 1.6, torch.Generator().manual_seed(7))
    slow = literal_nt_xent(z1, z2, t, negatives_of=lambda a: mixed[a])
    fast = L.nt_xent(z1, z2, t, mix_alpha=1.6, generator=torch.Generator().manual_seed(7))
    assert fast.item() == pytest.approx(slow.item(), rel=1e-5)
    assert fast.item() != pytest.approx(L.nt_xent(z1, z2, t).item(), rel=1e-3)


@pytest.mark.parametrize("n,m,d", [(1, 1, 4), (3, 5, 8)])
@pytest.mark.parametrize("t", [0.07, 0.3])
@pytest.mark.parametrize("per_row", [False, True])
def test_pose_contrastive_matches_literal(n, m, d, t, per_row):
    g = torch.Generator().manual_seed(n + m + d)
    p1 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    p2 = torch.randn(n, d, generator=g, dtype=torch.float64)
    neg = torch.randn(*((n, m, d) if per_row else (m, d)), generator=g, dtype=torch.float64, requires_grad=True)
    fast = L.pose_contrastive(p1, p2, neg, t)
    slow = literal_pose(p1, p2, neg, t)
    assert fast.item() == pytest.approx(slow.item(), rel=1e-5)
    for a, b in zip(torch.autograd.grad(fast, (p1, neg)), torch.autograd.grad(slow, (p1, neg))):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-6)
    assert L.pose_contrastive(p1, p2, neg, t, symmetric="mean").item() == pytest.approx(slow.item() / 2, rel=1e-5)


@pytest.mark.parametrize("n,t", [(1, 0.07), (4, 0.1), (8, 1.0)])
def test_nt_xent_exact_value_for_orthonormal_pairs(n, t):
    e = torch.eye(16, dtype=torch.float64)[:n] * 3.0                   # identical positives, all other keys orthogonal
    expected = math.log(1 + (2 * n - 2) * math.exp(-1 / t))
    assert L.nt_xent(e, e, t).item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("m,t", [(1, 0.07), (10, 0.07), (100, 0.5)])
def test_pose_contrastive_exact_value(m, t):
    basis = torch.eye(m + 1, dtype=torch.float64)
    p = basis[:1].repeat(3, 1)                      # identical positives
    neg = basis[1:] * 2.0                           # M negatives orthogonal to them
    expected = 2 * math.log(1 + m * math.exp(-1 / t))   # two directions, each log(1 + M e^{-1/t})
    assert L.pose_contrastive(p, p, neg, t).item() == pytest.approx(expected, rel=1e-5)
    assert L.pose_contrastive(p, p, neg[None].expand(3, -1, -1), t).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("n,d", [(2, 3), (6, 10)])
def test_orthogonality_batch_mode_matches_literal(n, d):
    g = torch.Generator().manual_seed(n * d)
    ff = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    fp = torch.randn(n, d, generator=g, dtype=torch.float64)
    fast = L.orthogonality(ff, fp, "batch")

    def rows(x):
        c = x - sum(x[i] for i in range(n)) / n
        return [c[i] / (c[i].detach().norm() + 1e-6) for i in range(n)]

    f, p = rows(ff), rows(fp)
    slow = sum(sum(f[i][a] * p[i][b] for i in range(n)) ** 2 for a in range(d) for b in range(d)) / (d * d)
    assert fast.item() == pytest.approx(slow.item(), rel=1e-6)
    torch.testing.assert_close(torch.autograd.grad(fast, ff)[0].double(), torch.autograd.grad(slow, ff)[0], rtol=1e-4, atol=1e-8)


def test_orthogonality_sample_mode_exact_values():
    ff = torch.tensor([[1.0, 0, 0], [0, 2.0, 0]])
    fp = torch.tensor([[0, 3.0, 0], [0, 0, 1.0]])
    assert L.orthogonality(ff, fp, "sample").item() == 0.0
    assert L.orthogonality(ff, 5 * ff, "sample").item() == pytest.approx(1.0)
    a = torch.tensor([[1.0, 1.0]])
    b = torch.tensor([[1.0, 0.0]])
    assert L.orthogonality(a, b, "sample").item() == pytest.approx(0.5)   # cos 45 deg squared
    maps = torch.randn(4, 8, 2, 2)
    assert L.orthogonality(maps, maps, "sample").item() == pytest.approx(1.0)   # maps are flattened
    with pytest.raises(ValueError, match="mode"):
        L.orthogonality(ff, fp, "cosine")


def test_dwa_weights():
    assert L.dwa_weights([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx([1.0, 1.0, 1.0])
    w = L.dwa_weights([0.9, 0.5], [1.0, 1.0], temperature=2.0)
    e = [math.exp(0.9 / 2), math.exp(0.5 / 2)]
    assert w == pytest.approx([2 * e[0] / sum(e), 2 * e[1] / sum(e)])
    assert sum(w) == pytest.approx(2.0)
    tw = L.dwa_weights(torch.tensor([3.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 1.0]), temperature=0.5)
    assert isinstance(tw, torch.Tensor) and tw.sum().item() == pytest.approx(3.0) and tw.argmax().item() == 0
    assert L.dwa_weights([1.0, 1.0], [0.0, 1.0]) == pytest.approx([1.0, 1.0])   # no division by zero


def test_dynamic_weight_average_history():
    dwa = L.DynamicWeightAverage(num_tasks=2, temperature=2.0)
    assert dwa.weights() == [1.0, 1.0]
    dwa.update([2.0, 2.0])
    assert dwa.weights() == [1.0, 1.0]
    dwa.update([1.0, 2.0])                          # task 0 improved faster -> lower weight
    w = dwa.weights()
    assert w[0] < 1 < w[1] and sum(w) == pytest.approx(2.0)
    clone = L.DynamicWeightAverage(2)
    clone.load_state(dwa.state())
    assert clone.weights() == w


def test_mix_negatives_shapes_reproducibility_and_large_alpha():
    neg = torch.eye(12)                             # one-hot negatives make the mixture visible
    a = L.mix_negatives(neg, 1.6, torch.Generator().manual_seed(0))
    b = L.mix_negatives(neg, 1.6, torch.Generator().manual_seed(0))
    c = L.mix_negatives(neg, 1.6, torch.Generator().manual_seed(1))
    assert a.shape == neg.shape and torch.equal(a, b) and not torch.equal(a, c)
    torch.testing.assert_close(a.sum(1), torch.ones(12))            # convex combinations
    half = L.mix_negatives(neg, 1e5, torch.Generator().manual_seed(0))
    nonzero = half[half > 1e-6]
    # alpha -> inf: lam -> 0.5, so entries are ~0.5 (or 1 where the permutation kept a negative in place)
    assert (((nonzero - 0.5).abs() < 0.02) | ((nonzero - 1).abs() < 1e-6)).all()
    rows = torch.eye(6).repeat(4, 1, 1)
    mixed = L.mix_negatives(rows, 1e5, torch.Generator().manual_seed(0))
    assert mixed.shape == rows.shape
    assert not torch.equal(mixed[0], mixed[1])      # an independent permutation per row
    torch.testing.assert_close(mixed.sum(-1), torch.ones(4, 6))


@pytest.mark.parametrize("alpha", [0.5, 1.6, 8.0])
def test_beta_sampler_moments(alpha):
    lam = sample_beta((20000,), alpha, torch.Generator().manual_seed(0))
    assert lam.min() >= 0 and lam.max() <= 1
    assert lam.mean().item() == pytest.approx(0.5, abs=0.01)
    assert lam.var().item() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.05)


def test_module_wrappers_call_the_functions():
    z1, z2, neg = torch.randn(4, 8), torch.randn(4, 8), torch.randn(5, 8)
    assert L.NTXentLoss(0.2)(z1, z2).item() == pytest.approx(L.nt_xent(z1, z2, 0.2).item())
    assert L.PoseContrastiveLoss(0.07)(z1, z2, neg).item() == pytest.approx(L.pose_contrastive(z1, z2, neg).item())
    assert L.OrthogonalityLoss("sample")(z1, z2).item() == pytest.approx(L.orthogonality(z1, z2, "sample").item())


def test_losses_under_bf16_inputs_are_float32_and_finite():
    z1, z2 = torch.randn(8, 16).bfloat16(), torch.randn(8, 16).bfloat16()
    out = L.nt_xent(z1, z2, 0.07)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert torch.isfinite(L.pose_contrastive(z1, z2, torch.randn(8, 3, 16).bfloat16(), 0.07))


@pytest.mark.parametrize("name", ["nt_xent", "nt_xent_mixed", "pose", "orth"])
def test_losses_inside_bf16_autocast_compute_in_float32(name):
    """The trainer runs the whole forward pass, losses included, under autocast. A matmul of float32 tensors
    still runs in bf16 there, unless the loss turns autocast off: NT-Xent's gradient was 1.3 % off."""
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(64, 128, generator=g)
    z2, neg = z1 + 1.5 * torch.randn(64, 128, generator=g), torch.randn(64, 128, generator=g)
    loss = {"nt_xent": lambda a, b: L.nt_xent(a, b, 0.07),
            "nt_xent_mixed": lambda a, b: L.nt_xent(a, b, 0.07, mix_alpha=1.6, generator=torch.Generator().manual_seed(1)),
            "pose": lambda a, b: L.pose_contrastive(a, b, neg, 0.07),
            "orth": lambda a, b: L.orthogonality(a, b)}[name]

    def value_and_grad(autocast: bool):
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = loss(a, b)
        out.backward()
        return out.detach(), a.grad

    (ref, ref_grad), (out, grad) = value_and_grad(False), value_and_grad(True)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-7)
