"""FAb-Net method: shapes, gradients, freezing, curriculum hooks, state, init, a tiny training run."""
import json
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from facessl.config import load_config
from facessl.errors import FacesslError
from facessl.methods.fabnet import FAbNet, FAbNetConfig
from facessl.models.fabnet import Embedder, FlowDecoder, n_halvings

SIZE = 32
TINY = SimpleNamespace(name="fabnet", width=0.25)



def make(stage="single", n_sources=1, **kw):
    kw.setdefault("embedding_dim", 32)
    return FAbNet(FAbNetConfig(stage=stage, n_sources=n_sources, **kw), backbone=TINY, image_size=SIZE)


def tuples(b=4, k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"images": torch.randint(0, 256, (b, k, 3, SIZE, SIZE), generator=g, dtype=torch.uint8)}


def blob_tuples(b=4, k=2):
    """Smooth images: a bright blob that moves between the frames of a tuple (a learnable flow)."""
    ys, xs = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    frames = []
    for i in range(b):
        row = []
        for j in range(k):
            cx, cy = 10 + 3 * i + 4 * j, 12 + 2 * j
            blob = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 30.0)
            row.append(torch.stack([blob, 0.5 * blob + 0.2, 1 - blob]))
        frames.append(torch.stack(row))
    return {"images": (torch.stack(frames) * 255).round().to(torch.uint8)}


def test_encoder_depth_follows_the_input_size():
    assert n_halvings(64) == 6 and n_halvings(256) == 8
    enc = Embedder("fabnet", 0.25, 64, 16)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert enc.backbone(torch.rand(2, 3, 64, 64)).shape == (2, 16, 1, 1)
    assert FlowDecoder(16, 6, 8)(torch.rand(2, 32)).shape == (2, 2, 64, 64)


def test_forward_returns_a_finite_loss_and_the_window():
    m = make()
    out = m(tuples(), "joint")
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    assert out["l1_window"] <= out["l1_all"] + 1e-6  # the easiest half is never worse than the whole batch
    assert (out["curriculum_low"], out["curriculum_high"]) == (0.0, 0.5)


def test_features_are_the_embedding_and_the_map_it_is_made_from():
    m = make().eval()
    enc = m.encoder()
    assert enc.feature_names == ("embedding", "fs")
    feats = enc.features(torch.rand(3, 3, SIZE, SIZE))
    assert set(feats) == {"embedding", "fs"} and feats["embedding"].shape == (3, 32)


@pytest.mark.parametrize("backbone", [None, SimpleNamespace(name="small", width=0.25)])
def test_same_features_says_exactly_when_fs_is_the_embedding(backbone):
    m = FAbNet(FAbNetConfig(embedding_dim=8), backbone=backbone, image_size=SIZE).eval()
    enc = m.encoder()
    with torch.no_grad():
        for size in (SIZE // 2, SIZE, SIZE + 8, 2 * SIZE):
            feats = enc.features(torch.rand(2, 3, size, size))
            equal = feats["fs"].shape == feats["embedding"].shape and torch.equal(feats["fs"], feats["embedding"])
            assert enc.same_features(size) == ({"fs": "embedding"} if equal else {}), size
            assert equal == (backbone is None and size <= SIZE + 8)  # the paper's encoder: 1x1 until 2x the size


def test_map_read_out_of_a_small_backbone_keeps_a_larger_inputs_map_whole():
    from types import SimpleNamespace

    m = FAbNet(FAbNetConfig(embedding_dim=8), backbone=SimpleNamespace(name="small", width=0.25), image_size=32).eval()
    enc = m.encoder()
    with torch.no_grad():
        for size in (32, 48):
            images = torch.rand(2, 3, size, size)
            feats = enc.features(images)
            fmap = m.embedder.backbone(images)
            assert torch.equal(feats["fs"], fmap.flatten(1))  # not pooled: the map at the input's own size
            pooled = torch.nn.functional.adaptive_avg_pool2d(fmap, (2, 2))  # the training size's 2x2 map
            expected = pooled.flatten(1) @ m.embedder.project.weight.T + m.embedder.project.bias
            assert torch.allclose(feats["embedding"], expected, atol=1e-5)
            assert torch.allclose(feats["embedding"], m.embedder(images), atol=1e-6)
        assert feats["fs"].shape == (2, fmap.shape[1] * 3 * 3)


def test_gradients_reach_encoder_and_decoder():
    m = make(curriculum=False)
    m(tuples(), "joint")["loss"].backward()
    for part in (m.embedder, m.flow_decoder):
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_multisource_freeze_stops_flow_decoder_gradients():
    frozen = make("multi", 3)
    frozen(tuples(k=4), "joint")["loss"].backward()
    assert all(p.grad is None for p in frozen.flow_decoder.parameters())
    assert not frozen.train().flow_decoder.training  # frozen BatchNorm keeps its running statistics
    for part in (frozen.embedder, frozen.confidence_decoder):
        assert sum(p.grad.abs().sum() for p in part.parameters()) > 0
    free = make("multi", 3, freeze_flow_in_multisource=False)
    free(tuples(k=4), "joint")["loss"].backward()
    assert sum(p.grad.abs().sum() for p in free.flow_decoder.parameters()) > 0


def test_multisource_prediction_is_a_convex_blend():
    m = make("multi", 2).eval()
    frames = m.frames(tuples(b=2, k=3))
    out = m.predict(frames)
    assert out["weights"].shape == (2, 2, 1, SIZE, SIZE)
    assert torch.allclose(out["weights"].sum(1), torch.ones(2, 1, SIZE, SIZE), atol=1e-5)
    assert torch.allclose(out["prediction"], (out["weights"] * out["warped"]).sum(1), atol=1e-6)


def test_too_few_frames_is_a_clear_error():
    with pytest.raises(FacesslError, match="n_sources=3"):
        make("multi", 3)(tuples(k=2), "joint")


def test_on_step_end_moves_the_window_on_stalls():
    m = make(jitter_translate=0.0, jitter_scale=0.0, curriculum_check_steps=2, curriculum_patience=1)
    batch = tuples()
    windows = []
    for step in range(1, 9):  # no optimiser: the loss never improves after the first check
        m(batch, "joint")
        m.on_step_end(step, {})
        windows.append(m.curriculum.window)
    # check at step 2 sets the best; step 4 stalls -> move (tracker restarts); step 6 best; step 8 move
    a, b, c = (0.0, 0.5), (0.1, 0.6), (0.2, 0.7)
    assert windows == [a, a, a, b, b, b, b, c]


def test_extra_state_round_trip_is_exact():
    m = make(curriculum_check_steps=3, curriculum_patience=1)
    for step in range(1, 8):
        m(tuples(seed=step), "joint")
        m.on_step_end(step, {})
    state = json.loads(json.dumps(m.extra_state()))
    n = make(curriculum_check_steps=3, curriculum_patience=1)
    n.load_extra_state(state)
    assert n.extra_state() == m.extra_state()
    assert n.curriculum.window == m.curriculum.window and n.extra_state()["pending_period"][1] == 1.0


def test_registry_backbone_with_projection():
    m = FAbNet(FAbNetConfig(embedding_dim=24), backbone=SimpleNamespace(name="small", width=0.25), image_size=SIZE)
    assert m.encoder().features(torch.rand(2, 3, SIZE, SIZE))["embedding"].shape == (2, 24)
    assert torch.isfinite(m(tuples(), "joint")["loss"])


def test_config_section_is_validated():
    cfg = load_config(raw={"method": {"name": "fabnet", "stage": "multi", "n_sources": 3}})
    assert isinstance(cfg.method, FAbNetConfig) and cfg.method.n_sources == 3
    with pytest.raises(FacesslError, match="curriculum_patience"):
        load_config(raw={"method": {"name": "fabnet", "curriculum_patiense": 2}})
    with pytest.raises(FacesslError):
        FAbNetConfig(stage="multi", n_sources=1)
    with pytest.raises(FacesslError, match="method.grayscale is a probability"):
        load_config(raw={"method": {"name": "fabnet", "grayscale": 1.5}})
    with pytest.raises(FacesslError, match="method.elastic must be in"):
        load_config(raw={"method": {"name": "fabnet", "elastic": 0.6}})


def test_tuple_augmentation_is_training_only():
    m = make(grayscale=1.0, flip=1.0, jitter_translate=0.0, jitter_scale=0.0).eval()
    batch = blob_tuples()
    with torch.no_grad():
        plain = m(batch, "joint")["l1_all"]
        m.cfg.grayscale = m.cfg.flip = 0.0
        assert torch.equal(plain, m(batch, "joint")["l1_all"])  # eval: the switches change nothing
    m.train()
    seen = []
    m.predict = lambda frames: seen.append(frames) or FAbNet.predict(m, frames)
    m.cfg.grayscale = 1.0
    m(batch, "joint")
    assert torch.equal(seen[0][:, :, 0], seen[0][:, :, 2])  # training: every frame grey


def test_init_from_copies_single_stage_weights(tmp_path):
    single = make()
    save_file({k: v.contiguous() for k, v in single.state_dict().items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "state.json").write_text(json.dumps({"method": {"curriculum": {"moves": 2}}}))
    multi = make("multi", 2, init_from=str(tmp_path))
    assert not torch.equal(multi.flow_decoder.net[2].weight, single.flow_decoder.net[2].weight)
    multi.train()(tuples(k=3), "joint")  # weights are loaded at the first training step
    params = dict(multi.named_parameters())
    for k, v in single.named_parameters():
        assert torch.equal(params[k], v), k
    # the frozen flow decoder (eval mode) keeps the loaded BatchNorm statistics too
    assert torch.equal(multi.flow_decoder.net[3].running_var, single.flow_decoder.net[3].running_var)
    assert multi.extra_state()["initialised"] is True
    assert multi.curriculum.window == (0.2, 0.7)  # the window continues where stage 1 left it


def test_images_for_logging_strips():
    m = make("multi", 2)
    imgs = m.images_for_logging(tuples(b=3, k=3))["fabnet_flow"]
    # columns: 2 sources, target, 2 warps, 2 flows, 2 confidences, prediction, error
    assert imgs.shape == (1, 3, 3 * SIZE, 11 * SIZE) and imgs.min() >= 0 and imgs.max() <= 1


def test_photometric_loss_goes_down_in_a_few_steps():
    torch.manual_seed(0)
    m = make(curriculum=False, jitter_translate=0.0, jitter_scale=0.0)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    batch = blob_tuples()
    losses = []
    for _ in range(30):
        out = m(batch, "joint")
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    frames = batch["images"].float() / 255
    no_flow = (frames[:, 1] - frames[:, 0]).abs().mean().item()  # L1 of the identity warp
    final = sum(losses[-5:]) / 5
    assert final < 0.6 * sum(losses[:5]) / 5, losses
    assert final < 0.6 * no_flow, (final, no_flow)  # it learned a real flow, not just the identity


@pytest.mark.parametrize("backbone", ["fabnet", "small"])
def test_embedding_of_a_larger_input_pools_its_map_to_the_trained_shape(backbone):
    torch.manual_seed(0)
    emb = Embedder(backbone, 0.25, 32, 16).eval()
    big = torch.rand(3, 3, 48, 48)
    with torch.no_grad():
        trained = emb.backbone(torch.zeros(1, 3, 32, 32)).shape[-2:]
        maps = emb.backbone(big)
        expected = emb.project(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(maps, trained), 1))
        assert torch.allclose(emb(big), expected, atol=1e-6)
        # it sees the larger image, not a resized copy of it
        small = torch.nn.functional.interpolate(big, size=(32, 32), mode="bilinear", align_corners=False,
                                                antialias=True)
        assert not torch.allclose(emb(big), emb(small), atol=1e-3)


@pytest.mark.parametrize("backbone", ["fabnet", "small"])
def test_embedding_of_a_smaller_input_is_that_of_the_image_resized_up(backbone):
    torch.manual_seed(0)
    emb = Embedder(backbone, 0.25, 32, 16).eval()
    tiny = torch.rand(3, 3, 16, 16)
    up = torch.nn.functional.interpolate(tiny, size=(32, 32), mode="bilinear", align_corners=False)
    with torch.no_grad():
        assert torch.allclose(emb(tiny), emb(up), atol=1e-6)  # no shape error at a smaller size


def test_elastic_warps_each_source_alone_in_training():
    m = make(elastic=0.05, elastic_grid=3, jitter_translate=0.0, jitter_scale=0.0)
    batch = blob_tuples()
    frames = m.frames(batch)
    seen = []
    m.predict = lambda f: seen.append(f) or FAbNet.predict(m, f)
    m(batch, "joint")
    assert torch.equal(seen[0][:, 0], frames[:, 0])  # the target is the frame as read
    moved = (seen[0][:, 1] - frames[:, 1]).abs().flatten(1).amax(1)
    assert (moved > 0.01).all()  # every source is warped, each its own way
    m.eval()
    m(batch, "joint")
    assert torch.equal(seen[1], frames)  # not at evaluation


def test_random_elastic_is_a_smooth_bounded_local_warp():
    from facessl.methods.fabnet_warp import random_elastic

    ramp = torch.linspace(0, 1, SIZE).view(1, 1, 1, SIZE).expand(2, 3, SIZE, SIZE).contiguous()
    g = torch.Generator().manual_seed(0)
    warped = random_elastic(ramp, 0.05, 3, generator=g)
    shift = (warped - ramp)[:, 0, 4:-4, 4:-4] * (SIZE - 1)  # a ramp's value is its x: the x offset in pixels
    assert shift.abs().max() <= 1.3 * 0.05 * (SIZE - 1)  # the lattice's bound, with bicubic overshoot
    assert shift.abs().max() > 0.2 * 0.05 * (SIZE - 1)
    assert not torch.allclose(warped[0], warped[1])  # each image its own warp
    step = (shift[:, :, 1:] - shift[:, :, :-1]).abs().max()
    assert step < 0.5  # smooth: neighbouring pixels move alike
    flat = torch.full((1, 3, SIZE, SIZE), 0.3)
    assert torch.allclose(random_elastic(flat, 0.05, 3), flat)
    assert torch.equal(random_elastic(ramp, 0.0), ramp)
