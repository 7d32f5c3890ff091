"""FAb-Net through the real trainer and CLI: `facessl pretrain` end to end, exact resume, and the
single -> multi-source hand-over (init_from, frozen flow decoder)."""
import json

import pytest
import torch
from safetensors.torch import load_file

import facessl
from facessl.cli import main
from fabnet_toydata import write_toy_voxceleb

TINY = ["train.batch_size=4", "data.size=32", "data.workers=0", "backbone.width=0.25", "method.embedding_dim=32",
        "train.checkpoint_every=2", "train.image_every=2", "train.log_every=1", "train.precision=fp32",
        "method.curriculum_check_steps=1", "method.curriculum_patience=1",
        "method.curriculum=true", "optim.schedule=constant"]  # a cosine decay would depend on --steps (resume test)


@pytest.fixture(scope="module")
def vox(tmp_path_factory):
    return write_toy_voxceleb(tmp_path_factory.mktemp("vox") / "voxceleb", ids=3, tracks=2, frames=4, size=32)


def pretrain(vox, out, steps, *extra):
    return main(["pretrain", "--config", "fabnet_synth", "--data", str(vox), "--out", str(out),
                 "--steps", str(steps), "--quiet", *TINY, *extra])


def test_pretrain_end_to_end(vox, tmp_path):
    assert pretrain(vox, tmp_path / "run", 3) == 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all({"loss", "l1_all", "l1_window", "curriculum_low", "curriculum_high"} <= set(r) for r in rows)
    assert (tmp_path / "run" / "images" / "fabnet_flow_00000002.png").is_file()
    enc = facessl.load(tmp_path / "run")
    assert enc.features(torch.rand(2, 3, 32, 32))["embedding"].shape == (2, 32)


def test_resume_is_exact_and_multisource_starts_from_single(vox, tmp_path):
    pretrain(vox, tmp_path / "a", 4)
    pretrain(vox, tmp_path / "b", 2)
    pretrain(vox, tmp_path / "b", 4)  # resumes from step 2
    wa = load_file(str(tmp_path / "a/checkpoints/step_00000004/model.safetensors"))
    wb = load_file(str(tmp_path / "b/checkpoints/step_00000004/model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    sa = json.loads((tmp_path / "a/checkpoints/step_00000004/state.json").read_text())["method"]
    sb = json.loads((tmp_path / "b/checkpoints/step_00000004/state.json").read_text())["method"]
    assert sa == sb and sa["curriculum"]["checks"] == 4

    pretrain(vox, tmp_path / "m", 2, "method.stage=multi", "method.n_sources=3", "data.frames_per_tuple=4",
             f"method.init_from={tmp_path / 'a'}")
    wm = load_file(str(tmp_path / "m/checkpoints/step_00000002/model.safetensors"))
    flow = [k for k in wa if k.startswith("flow_decoder.")]
    assert flow and all(torch.equal(wa[k], wm[k]) for k in flow)  # frozen, BN statistics included
    assert any(k.startswith("confidence_decoder.") for k in wm)
    assert not all(torch.equal(wa[k], wm[k]) for k in wa if k.startswith("embedder.") and k.endswith("weight"))
