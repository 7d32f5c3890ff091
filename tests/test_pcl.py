"""PCL: phases and schedules, gradient routing, ablation switches, negatives, DWA, state, features, training."""
import json
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

import facessl
from facessl import losses
from facessl.config import dump_config, load_config
from facessl.errors import FacesslError
from facessl.methods.pcl import PCL, phases_for, swap_test
from facessl.methods.pcl_config import PCLConfig
from facessl.methods.pcl_dwa import PeriodDWA
from facessl.models.pcl_decoder import PoseDisentangledDecoder

SIZE = 32
TINY_BB = SimpleNamespace(name="small", width=0.25)
TINY = dict(decoder_channels=32, proj_hidden=64, proj_dim=32, num_negatives=3, pose_batch=4, dwa_period_steps=2)



def make(**kw):
    torch.manual_seed(0)
    return PCL(PCLConfig(**{**TINY, **kw}), backbone=TINY_BB, image_size=SIZE)


def batch(n=8, seed=0):
    """Smooth, left-right asymmetric images (a bright blob off centre), so flips change them."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    imgs = []
    for _ in range(n):
        cx, cy, r = (torch.rand(3, generator=g) * torch.tensor([10.0, 16.0, 20.0]) + torch.tensor([4.0, 8.0, 10.0])).tolist()
        blob = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / r)
        tint = torch.rand(3, 1, 1, generator=g)
        imgs.append(0.15 + 0.7 * blob * tint + 0.1 * xs / SIZE)
    return {"images": (torch.stack(imgs).clamp(0, 1) * 255).round().to(torch.uint8)}


def grads_by_module(m, phase):
    m.zero_grad(set_to_none=True)
    m(batch(), phase)["loss"].backward()
    names = ("backbone", "face_branch", "pose_branch", "face_proj", "pose_proj", "decoder")
    out = {}
    for name in names:
        mod = getattr(m.net, name)
        if mod is not None:
            out[name] = any(p.grad is not None and p.grad.abs().sum() > 0 for p in mod.parameters())
    return out


@pytest.mark.parametrize("schedule,phases", [("alternating", ("pdd", "face", "pose")), ("joint", ("joint",))])
def test_every_phase_returns_finite_terms(schedule, phases):
    m = make(schedule=schedule)
    assert m.phases == phases
    seen = set()
    for phase in phases:
        out = m(batch(), phase)
        assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
        assert all(torch.isfinite(torch.as_tensor(v)) for v in out.values())
        seen |= set(out)
    expected = {"loss", "dis", "dis_ff_fp", "dis_ff_fphat", "dis_ffhat_fp", "dis_ffhat_fphat", "orth",
                "face", "pose", "w_face", "w_pose"}
    assert seen == expected
    with pytest.raises(FacesslError, match="phase"):
        m(batch(), "nope")


def test_joint_loss_is_the_weighted_sum():
    m = make(schedule="joint", use_dwa=False, face_weight=0.5, pose_weight=2.0, dis_weight=1.5, orth_weight=3.0)
    out = m(batch(), "joint")
    total = 1.5 * out["dis"] + 3.0 * out["orth"] + 2.0 * out["pose"] + 0.5 * out["face"]
    assert torch.allclose(out["loss"].detach(), total, rtol=1e-5)


def test_gradients_reach_only_the_intended_subnetworks():
    m = make()
    assert grads_by_module(m, "pdd") == dict(backbone=True, face_branch=True, pose_branch=True, face_proj=False,
                                             pose_proj=False, decoder=True)
    assert grads_by_module(m, "face") == dict(backbone=True, face_branch=True, pose_branch=False, face_proj=True,
                                              pose_proj=False, decoder=False)
    assert grads_by_module(m, "pose") == dict(backbone=True, face_branch=False, pose_branch=True, face_proj=False,
                                              pose_proj=True, decoder=False)


def test_ablation_switches_remove_their_terms():
    m = make(use_dis=False)
    assert m.net.decoder is None and m.phases == ("pdd", "face", "pose")
    assert set(m(batch(), "pdd")) == {"loss", "orth"}
    m = make(use_orth=False)
    assert set(m(batch(), "pdd")) == {"loss", "dis", "dis_ff_fp", "dis_ff_fphat", "dis_ffhat_fp", "dis_ffhat_fphat"}
    m = make(use_pose=False, schedule="joint")
    assert m.net.pose_proj is None and "pose" not in m(batch(), "joint")
    assert phases_for(replace(m.cfg, schedule="alternating")) == ("pdd", "face")
    # all four off: the SimCLR baseline (NT-Xent on the face-branch projection), pose branch frozen
    m = make(use_dis=False, use_orth=False, use_pose=False, use_dwa=False)
    assert m.phases == ("face",)
    assert set(m(batch(), "face")) == {"loss", "face", "w_face"}
    assert not any(p.requires_grad for p in m.net.pose_branch.parameters())
    m = make(use_dis=False, use_orth=False, use_pose=False, use_dwa=False, face_feature="fs")
    assert not any(p.requires_grad for p in m.net.face_branch.parameters())
    assert torch.isfinite(m(batch(), "face")["loss"])


def test_face_loss_without_mixing_is_plain_nt_xent():
    m = make(face_mix=False)
    x = batch()["images"].float() / 255
    torch.manual_seed(3)
    got = m.face_loss(x, {})
    torch.manual_seed(3)
    v1, v2 = m.views.face(x)
    z = m.net.face_embedding(torch.cat([v1, v2])).float()
    assert torch.allclose(got, losses.nt_xent(z[:8], z[8:], 0.07))


def spy_on_pose_contrastive(monkeypatch) -> dict:
    """The shapes L_pose's loss receives: {'p1': positives' shape, 'neg': negatives' shape}."""
    captured, real = {}, losses.pose_contrastive

    def spy(p1, p2, negatives, *a, **kw):
        captured.update(p1=p1.shape, neg=negatives.shape)
        return real(p1, p2, negatives, *a, **kw)

    monkeypatch.setattr(losses, "pose_contrastive", spy)
    return captured


@pytest.mark.parametrize("scheme,shape", [("reference", (4, 3, 32)), ("batch", (8, 32))])
def test_negative_schemes_shapes(monkeypatch, scheme, shape):
    captured = spy_on_pose_contrastive(monkeypatch)
    m = make(negatives=scheme)
    assert torch.isfinite(m(batch(), "pose")["loss"])
    assert captured["neg"] == shape and captured["p1"] == (shape[0], 32)


@pytest.mark.parametrize("fraction,rows", [(0.5, 4), (0.25, 2), (0.01, 2)])
def test_pose_fraction_takes_the_head_of_the_batch(monkeypatch, fraction, rows):
    """'batch' negatives on a share of the batch: positives and negatives both come from its first rows."""
    captured = spy_on_pose_contrastive(monkeypatch)
    m = make(negatives="batch", pose_fraction=fraction)
    assert torch.isfinite(m(batch(), "pose")["loss"])
    assert captured["p1"] == (rows, 32) and captured["neg"] == (rows, 32)


@pytest.mark.parametrize("fraction,rows", [(0.5, 4), (0.01, 2)])
def test_pdd_fraction_reconstructs_the_head_of_the_batch_only(fraction, rows):
    """L_PDD on a share of the batch equals L_PDD of the whole-batch config run on those first rows."""
    x = batch()
    part = make(pdd_fraction=fraction)
    whole = make()
    torch.manual_seed(1)
    got = part(x, "pdd")
    torch.manual_seed(1)
    want = whole({"images": x["images"][:rows]}, "pdd")
    assert torch.allclose(got["loss"], want["loss"]) and torch.allclose(got["orth"], want["orth"])
    torch.manual_seed(1)
    assert not torch.allclose(whole(x, "pdd")["loss"], got["loss"])


@pytest.mark.parametrize("key", ["pose_fraction", "pdd_fraction"])
@pytest.mark.parametrize("value", [0.0, 1.5])
def test_batch_fractions_outside_0_1_are_one_clear_error(key, value):
    with pytest.raises(FacesslError, match=f"{key} must be in"):
        make(negatives="batch", **{key: value})


@pytest.mark.parametrize("key, value", [("face_colour_strength", -0.5), ("face_colour_strength", 3.0),
                                        ("face_crop_max_aspect", 0.5), ("face_crop_min_scale", 0.0)])
def test_simclr_face_view_options_out_of_range_are_one_clear_error(key, value):
    with pytest.raises(FacesslError, match=f"method.{key} must be in"):
        make(face_views="simclr", **{key: value})


def test_reference_negatives_are_sample_major_flipped_copies():
    m = make()
    m.views.preserve = torch.nn.Identity()  # isolate the geometry
    x = batch(3)["images"].float() / 255
    neg = m.views.pose_negatives(x, "reference", 4)
    assert neg.shape == (12, 3, SIZE, SIZE)
    assert torch.equal(neg[5], x[1].flip(-1)) and torch.equal(neg[11], x[2].flip(-1))
    assert m.views.pose_negatives(x, "batch", 4).shape == (3, 3, SIZE, SIZE)


def test_dwa_weights_start_at_one_and_update_after_periods():
    m = make(schedule="joint")
    assert m.task_weights() == {"face": 1.0, "pose": 1.0}
    for step, (face, pose) in enumerate([(4.0, 2.0), (4.0, 2.0), (2.0, 2.0), (2.0, 2.0)], 1):
        m.on_step_end(step, {"face": face, "pose": pose})
        if step < 4:
            assert m.task_weights() == {"face": 1.0, "pose": 1.0}
    w = m.task_weights()
    expect = losses.dwa_weights([2.0, 1.0], [2.0, 2.0], 2.0)  # pose then face; face fell, so it gets less weight
    assert w["pose"] == pytest.approx(expect[0]) and w["face"] == pytest.approx(expect[1]) and w["face"] < 1
    assert m(batch(), "joint")["w_face"] == pytest.approx(w["face"])
    fixed = make(use_dwa=False, face_weight=0.3)
    fixed.on_step_end(1, {"face": 1.0, "pose": 1.0})
    assert fixed.task_weights() == {"face": 0.3, "pose": 1.0}


def test_dwa_per_epoch_closes_when_the_epoch_changes():
    dwa = PeriodDWA(("pose", "face"), 2.0, period_steps=0)
    for epoch, values in [(0, (1.0, 1.0)), (0, (3.0, 3.0)), (1, (1.0, 4.0)), (2, (9.0, 9.0))]:
        dwa.end_step({"pose": values[0], "face": values[1]}, epoch)
    assert dwa.history == [[2.0, 2.0], [1.0, 4.0]] and dwa.sums == [9.0, 9.0]
    with pytest.raises(FacesslError, match="dwa_period_steps"):
        dwa.end_step({"pose": 1.0}, None)


def test_extra_state_round_trip_continues_identically():
    a = make(dwa_period_steps=3)
    values = [(5.0, 3.0), (4.0, 3.5), (3.0, 2.0), (2.5, 2.2), (2.0, 1.0)]
    for step, (f, p) in enumerate(values, 1):
        a.on_step_end(step, {"face": f, "pose": p})
    b = make(dwa_period_steps=3)
    b.load_extra_state(json.loads(json.dumps(a.extra_state())))
    assert b.extra_state() == a.extra_state()
    for m in (a, b):
        m.on_step_end(6, {"face": 1.5, "pose": 0.5})
    assert a.task_weights() == b.task_weights() != {"face": 1.0, "pose": 1.0}
    with pytest.raises(FacesslError, match="tasks"):
        make(use_pose=False).load_extra_state(a.extra_state())


def test_features_and_facessl_load(tmp_path):
    from facessl.engine.checkpoint import save_checkpoint

    cfg = load_config(raw={"method": {"name": "pcl", **TINY}, "backbone": {"name": "small", "width": 0.25},
                           "data": {"size": SIZE}})
    torch.manual_seed(0)
    m = PCL(cfg.method, backbone=cfg.backbone, image_size=SIZE).eval()
    x = torch.rand(3, 3, SIZE, SIZE)
    feats = m.encoder().features(x)
    assert tuple(feats) == m.encoder().feature_names == ("fs", "ff", "fp")
    c, h, w = m.net.backbone.feature_shape(SIZE)
    assert (h, w) == (2, 2) and all(v.shape == (3, c * h * w) for v in feats.values())
    save_checkpoint(tmp_path / "ck", m.state_dict(), {}, {"step": 0}, dump_config(cfg))
    enc = facessl.load(tmp_path / "ck")
    loaded = enc.features(x)
    assert all(torch.allclose(loaded[k], feats[k], atol=1e-6) for k in feats)


@pytest.mark.parametrize("size,output", [(64, "unit"), (48, "tanh")])
def test_decoder_shapes_and_range(size, output):
    d = PoseDisentangledDecoder(16, size, channels=32, output=output)
    ups = [mod for mod in d.modules() if isinstance(mod, torch.nn.Upsample)]
    assert len(ups) == 6  # 1 -> 64 px (48 px: up to 64 then resized)
    y = d(torch.randn(2, 16))
    assert y.shape == (2, 3, size, size)
    assert (y.min() >= 0) if output == "unit" else (y.min() >= -1)


def test_logging_grid_and_swap_test():
    m = make()
    grid = m.images_for_logging(batch(5))["reconstructions"]
    assert grid.shape == (8 * 8, 3, SIZE, SIZE) and grid.min() >= 0 and grid.max() <= 1
    assert torch.equal(grid[8], batch(5)["images"][0].float().div(255).flip(-1))  # row 2: s-hat
    out = swap_test(m, batch(6)["images"], batch_size=4)
    assert out["images"] == 6 and all(v == v for v in out.values())
    assert out["fp_margin"] == pytest.approx(out["fp_swap_to_source"] - out["fp_swap_to_target"])
    with pytest.raises(FacesslError, match="decoder"):
        swap_test(make(use_dis=False), batch(2)["images"])


def test_a_few_joint_steps_lower_every_term():
    """Mild views (a little pixel noise) so that 15 steps suffice; the real recipes are tested above."""
    m = make(schedule="joint", negatives="batch", use_dwa=False, noise_sigma=0.1, orth_mode="sample")

    def jitter(x):
        return (x + 0.03 * torch.randn_like(x)).clamp(0, 1)

    m.views._face_views = lambda x: (jitter(x), jitter(x))
    m.views.preserve = jitter
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    data = batch(8, seed=1)
    hist = {k: [] for k in ("dis", "orth", "face", "pose")}
    for _ in range(15):
        out = m(data, "joint")
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        for k in hist:
            hist[k].append(float(out[k]))
    for k, v in hist.items():
        first, last = sum(v[:3]) / 3, sum(v[-3:]) / 3
        assert last < 0.8 * first, f"{k}: {first:.4f} -> {last:.4f}"


def test_pretrain_end_to_end_with_the_trainer(tmp_path):
    """The trainer on a tiny VoxCeleb-layout tree: metrics, reconstruction PNGs, DWA state, facessl.load."""
    from PIL import Image

    from facessl.engine.train import train

    imgs = batch(12, seed=2)["images"]
    for i in range(12):
        d = tmp_path / "vox" / f"id{10001 + i:05d}" / "abcdefghijk" / "00001"
        d.mkdir(parents=True)
        Image.fromarray(imgs[i].permute(1, 2, 0).numpy()).save(d / "0001.jpg")
    cfg = load_config("configs/pcl_synth.yaml", ["train.steps=4", "train.batch_size=8", "train.log_every=2",
                                                   "train.image_every=4", "train.checkpoint_every=4",
                                                   "data.workers=0", "data.size=32", "method.dwa_period_steps=1",
                                                   "backbone.width=0.25", "method.decoder_channels=32"])
    cfg.data.path = str(tmp_path / "vox")
    summary = train(cfg, tmp_path / "run", quiet=True)
    assert summary["step"] == 4
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"loss", "dis", "orth", "face", "pose", "w_face", "w_pose"} <= set(records[-1])
    assert records[-1]["w_face"] != 1.0  # DWA moved after two one-step periods
    assert (tmp_path / "run" / "images" / "reconstructions_00000004.png").is_file()
    state = json.loads((tmp_path / "run" / "checkpoints" / "step_00000004" / "state.json").read_text())
    assert len(state["method"]["dwa"]["history"]) == 2
    enc = facessl.load(tmp_path / "run")
    assert set(enc.features(torch.rand(2, 3, 32, 32))) == {"fs", "ff", "fp"}
