"""Checkpoints as directories of safetensors + JSON + YAML (no pickle), written atomically.

    <run>/checkpoints/step_00001000/
        model.safetensors      the method's state_dict (no DDP/compile prefixes)
        optimizer.safetensors  every tensor of the optimiser state, flattened to dotted keys
        state.json             step, epoch, data position, RNG states (per rank), method extra state,
                               the non-tensor parts of optimiser/scheduler/GradScaler state, versions, time
        config.yaml            the resolved run config (enough to rebuild the method)

`load_encoder(path)` accepts a run directory (its newest checkpoint) or a checkpoint directory.
Every file is read through `read_file`, the one place that turns any unreadable file (truncated,
empty, not the format, missing) into a CheckpointError naming it; resume catches that error to fall
back to the checkpoint before (facessl.engine.train).
"""
from __future__ import annotations

import base64
import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from facessl.errors import FacesslError
from facessl.engine.io import atomic_path

CHECKPOINT_PREFIX = "step_"
SET_ASIDE_PREFIX = "unreadable_"


class CheckpointError(FacesslError):
    """A checkpoint file is missing or unreadable (the message names it); an older checkpoint may still be good."""


# ---- nested state <-> (JSON, flat tensors) --------------------------------------------------------
def split_tensors(obj, prefix: str, tensors: dict):
    """JSON-able copy of `obj` with each tensor moved into `tensors[key]` and replaced by {'__tensor__': key}."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: split_tensors(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[k, split_tensors(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix} in a checkpoint")


def join_tensors(obj, tensors: dict):
    """Inverse of split_tensors."""
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            return tensors[obj["__tensor__"]]
        if set(obj) == {"__items__"}:
            return {k: join_tensors(v, tensors) for k, v in obj["__items__"]}
        if set(obj) == {"__tuple__"}:
            return tuple(join_tensors(v, tensors) for v in obj["__tuple__"])
        return {k: join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


# ---- RNG states as JSON ---------------------------------------------------------------------------
def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _unb64(s: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8).clone()


def capture_rng() -> dict:
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": _b64(torch.get_rng_state()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(_unb64(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_unb64(s) for s in state["cuda"]])


# ---- writing --------------------------------------------------------------------------------------
def checkpoint_dir(run_dir, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"{CHECKPOINT_PREFIX}{step:08d}"


def list_checkpoints(run_dir) -> list[Path]:
    """Complete checkpoint directories of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX)
             and (p / "state.json").is_file() and p.name[len(CHECKPOINT_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


def latest_checkpoint(run_dir) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(path, model_state: dict, optim_states: dict, state: dict, config_text: str) -> Path:
    """Write one checkpoint directory atomically.

    model_state: the method's state_dict; optim_states: name -> nested state (optimizer, scheduler,
    scaler) whose tensors go to optimizer.safetensors; state: JSON-able training state.
    """
    import facessl

    path = Path(path)
    model = {k: v.detach().cpu().contiguous().clone() for k, v in model_state.items()}
    opt_tensors: dict = {}
    opt_json = {name: split_tensors(s, name, opt_tensors) for name, s in optim_states.items()}
    meta = dict(state, optim=opt_json, versions={"facessl": facessl.__version__, "torch": torch.__version__},
                time=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    with atomic_path(path) as tmp:
        tmp.mkdir()
        save_file(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"), metadata={"format": "pt"})
        (tmp / "state.json").write_text(json.dumps(meta, indent=1) + "\n")
        (tmp / "config.yaml").write_text(config_text)
    return path


def prune_checkpoints(run_dir, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints."""
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


# ---- reading --------------------------------------------------------------------------------------
def read_file(file, what: str, parse):
    """parse(file), with a missing or unreadable file (of any kind of damage) turned into one CheckpointError."""
    file = Path(file)
    if not file.is_file():
        raise CheckpointError(f"{file}: {what} file missing")
    try:
        return parse(file)
    except FacesslError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors, json and the OS raise many types for a damaged file
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{file}: unreadable {what} ({detail})") from None


def _state_json(file: Path) -> dict:
    state = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(state, dict) or not isinstance(state.get("step"), int) or state["step"] < 0:
        raise CheckpointError(f"{file}: expected a JSON object with an integer 'step' >= 0")
    optim = state.get("optim", {})
    if not isinstance(optim, dict) or not {"optimizer", "scheduler"} <= set(optim):
        raise CheckpointError(f"{file}: expected 'optim' with the 'optimizer' and 'scheduler' states")
    if not isinstance(state.get("rng", []), list) or not isinstance(state.get("method", {}), dict):
        raise CheckpointError(f"{file}: expected 'rng' to be a list and 'method' an object")
    return state


LOCK_FILE = ".facessl.lock"  # held by the process training a run (facessl.engine.train.hold_run_lock)
RUN_MARKERS = ("config.yaml", "metrics.jsonl", "train.log", LOCK_FILE)  # what a run writes before its first checkpoint


def resolve_checkpoint(path) -> Path:
    """A checkpoint directory from itself or from a run directory (its newest checkpoint)."""
    path = Path(path)
    if path.is_file() and path.name in ("model.safetensors", "state.json"):  # a file of a checkpoint: its folder
        path = path.parent
    if (path / "model.safetensors").is_file() or (path / "state.json").is_file():  # (a damaged one too: named on load)
        return path
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is None and path.name == "checkpoints":  # a run's folder of checkpoints: the run's newest
            latest = latest_checkpoint(path.parent)
        if latest is not None:
            return latest
    if not path.exists():
        raise FacesslError(f"{path}: no such checkpoint or run directory")
    if (path / "checkpoints").is_dir():
        raise FacesslError(f"{path}: a run directory without a checkpoint yet (checkpoints/ is empty: the run is in "
                           "progress or stopped before its first one)")
    if any((path / name).is_file() for name in RUN_MARKERS):
        raise FacesslError(f"{path}: run in progress or stopped before its first checkpoint (no checkpoints/ yet)")
    raise FacesslError(f"{path}: not a checkpoint (no model.safetensors) nor a run directory with checkpoints/")


def read_state(ckpt: Path) -> tuple[dict, dict]:
    """(state.json contents, optimiser/scheduler/scaler states with their tensors restored)."""
    state = read_file(ckpt / "state.json", "training state", _state_json)
    optim_json = state.pop("optim")
    optim = read_file(ckpt / "optimizer.safetensors", "optimizer state",
                      lambda f: {name: join_tensors(s, load_file(str(f))) for name, s in optim_json.items()})
    return state, optim


def set_aside(ckpt: Path) -> Path:
    """Rename an unreadable checkpoint so no reader picks it again (kept for inspection, not deleted)."""
    target = ckpt.with_name(SET_ASIDE_PREFIX + ckpt.name)
    shutil.rmtree(target, ignore_errors=True)
    ckpt.rename(target)
    return target


def weight_shapes(file) -> dict[str, tuple]:
    """{key: shape} of a model.safetensors, from its header alone (no tensor is read); {} for an unreadable file."""
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception:  # noqa: BLE001 - a damaged file: load_weights names it
        return {}


def load_weights(module: torch.nn.Module, file) -> None:
    """Load model.safetensors into `module`, saying exactly which keys or shapes do not match."""
    state = read_file(file, "weights", lambda f: load_file(str(f)))
    for prefix in ("module.", "_orig_mod."):  # tolerate wrappers' prefixes from other tools
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} (file {tuple(state[k].shape)}, model {tuple(v.shape)})"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)):
        if items:
            more = f" and {len(items) - 5} more" if len(items) > 5 else ""
            problems.append(f"{len(items)} {label}: {', '.join(items[:5])}{more}")
    if problems:
        raise FacesslError(f"{file}: weights do not fit the model built from config.yaml; " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def load_method(path, device="cpu"):
    """(method with trained weights, its Config) from a run or checkpoint directory."""
    from facessl.config import load_config
    from facessl.methods import build_method

    ckpt = resolve_checkpoint(path)
    config_file = ckpt / "config.yaml"
    if not config_file.is_file():
        config_file = ckpt.parent.parent / "config.yaml"
    if not config_file.is_file():  # name both places looked, not a bare `config.yaml`
        raise CheckpointError(f"{ckpt}: no config.yaml beside the weights nor in the run folder above "
                              f"({ckpt.parent.parent.resolve() / 'config.yaml'}); facessl writes it with every checkpoint")
    try:
        cfg = read_file(config_file, "config", load_config)
        method = build_method(cfg)
        load_weights(method, ckpt / "model.safetensors")
    except CheckpointError as exc:
        older = [c for c in list_checkpoints(ckpt.parent.parent) if c != ckpt] if ckpt != Path(path) else []
        hint = f"; the run also has {older[-1]} (pass it as the checkpoint)" if older else ""
        raise CheckpointError(f"{exc}{hint}") from None
    return method.to(device), cfg


def load_encoder(path, device="cpu"):
    """The frozen Encoder (eval mode, requires_grad False) of a run or checkpoint directory."""
    method, cfg = load_method(path, device)
    method.eval()
    encoder = method.encoder()
    encoder.eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    encoder.config = cfg  # what it was trained with, for reports and feature-cache keys
    encoder.checkpoint = str(resolve_checkpoint(path))
    return encoder
