"""Run configuration: dataclasses filled from YAML plus `key.sub=value` command-line overrides.

Every key is checked: an unknown key is an error naming its dotted path and the nearest valid key,
a value of the wrong type an error naming the key and the expected type, a number outside its
section's LIMITS (or NaN/inf) an error naming the key and the allowed range, and a key written
twice in one YAML mapping an error naming the key and both lines (`load_yaml`). The `method` section is
special: its `name` picks the method class (facessl.methods registry) and that class's nested
`Config` dataclass (a subclass of MethodConfig) validates the section's other keys.

Batch size: `train.batch_size` is the GLOBAL batch; under torchrun each of K processes gets
batch_size / K samples (it must divide evenly).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import yaml

from facessl.errors import FacesslError


@dataclass
class MethodConfig:
    """Base of every method's own Config; `name` is the registry key (facessl.methods.METHODS)."""

    name: str = "simclr"


@dataclass
class BackboneConfig:
    LIMITS: ClassVar[dict] = {"width": (0, None, "open")}
    name: str = "facecycle"  # facecycle | resnet18 | resnet50 | small (facessl.models)
    width: float = 1.0


@dataclass
class DataConfig:
    # size: faces beyond 1024 px would not fit a batch in memory (a typo such as 64000 is one error, not an OOM)
    LIMITS: ClassVar[dict] = {"size": (8, 1024), "frames_per_tuple": (1, None), "workers": (0, None)}
    path: str | None = None  # root of the pretraining data (`facessl pretrain --data` sets it)
    layout: Literal["voxceleb", "folder"] = "voxceleb"  # id*/video/track/frame.jpg, or any folders of images
    size: int = 64  # images are resized to size x size if stored otherwise
    sampling: Literal["per_identity", "all_frames"] = "per_identity"  # one frame (track) per identity per epoch, or all
    frames_per_tuple: int = 2  # frames per item for track-tuple methods (FAb-Net)
    workers: int = 2  # DataLoader worker processes (0: decode in the main process)
    in_memory: bool = False  # decode every frame once into one uint8 tensor in RAM (facessl.data.frame_cache)
    frames_cache: str | None = None  # with in_memory: a folder where the decoded frames are kept for the next run


@dataclass
class OptimConfig:
    LIMITS: ClassVar[dict] = {"lr": (0, None), "weight_decay": (0, None), "momentum": (0, 1), "warmup_steps": (0, None),
                              "grad_clip": (0, None)}
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-4
    weight_decay: float = 1e-3
    momentum: float = 0.9  # SGD only
    warmup_steps: int = 0  # linear warm-up from 0 to lr
    schedule: Literal["cosine", "constant"] = "cosine"  # cosine decays to 0 at train.steps
    grad_clip: float = 0.0  # max global gradient norm; 0 disables


@dataclass
class KnnConfig:
    """Online kNN monitor: k-NN accuracy of detached encoder features on a small labelled set."""

    LIMITS: ClassVar[dict] = {"every": (0, None), "k": (1, None), "train_fraction": (0, 1, "open"),
                              "max_images": (2, None)}
    every: int = 0  # steps between evaluations; 0 disables
    path: str | None = None  # labelled folder root/<class>/*.jpg, or a synthetic tree with _truth.jsonl (see label)
    label: str = ""  # read class labels from <path>/_truth.jsonl (e.g. 'expression', 'identity')
    k: int = 20
    feature: str = "fs"  # which Encoder.features() key
    train_fraction: float = 0.5  # share of each class used as the memory bank, the rest are queries
    max_images: int = 2000


@dataclass
class TrainConfig:
    LIMITS: ClassVar[dict] = {"steps": (1, None), "batch_size": (1, None), "checkpoint_every": (1, None),
                              "keep_checkpoints": (0, None), "log_every": (1, None), "image_every": (0, None),
                              "minutes": (0, None)}
    steps: int = 1000
    # a wall-clock budget of training (setup not counted): > 0 trains until it is spent, `steps` being the cap,
    # and the lr schedule runs over the time instead of the steps (methods compared at equal minutes)
    minutes: float = 0.0
    batch_size: int = 256  # global batch, split over processes
    # autocast dtype; fp16 adds a GradScaler; auto = bf16 where the hardware has it (CUDA, AVX512-BF16/AMX CPUs), else fp32
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True
    compile: bool = False  # torch.compile the method
    device: Literal["auto", "cpu", "cuda"] = "auto"
    checkpoint_every: int = 500  # plus one at the end
    keep_checkpoints: int = 3  # newest K checkpoint directories kept (0: all)
    log_every: int = 10
    image_every: int = 0  # PNG grids of method.images_for_logging(); 0 disables
    sync_bn: bool = True  # under DDP, BatchNorm statistics over the global batch
    find_unused_parameters: bool = False  # DDP option; true when phases use different sub-networks
    knn: KnnConfig = field(default_factory=KnnConfig)


@dataclass
class LogConfig:
    tensorboard: bool = False  # needs the `tensorboard` package


@dataclass
class Config:
    LIMITS: ClassVar[dict] = {"seed": (0, 2**32 - 1)}
    seed: int = 0
    method: MethodConfig = field(default_factory=MethodConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)


# ---- YAML files ---------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key written twice in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise FacesslError(f"duplicate key {key!r} on line {line} (first on line {seen[key]}); "
                                   "keep one of them") from None
            seen[key] = line
        return super().construct_mapping(node, deep)


def load_yaml(path, what: str = "YAML file"):
    """The contents of a YAML file; missing, unreadable, not UTF-8, invalid or with a duplicate key: one error naming it."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise FacesslError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise FacesslError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise FacesslError(f"{path}: {what} is not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except FacesslError as exc:
        raise FacesslError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise FacesslError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None


# ------------------------------------------------------------------------------------------------
def parse_override(text: str) -> tuple[list[str], object]:
    """'train.steps=100' -> (['train', 'steps'], 100); the value is read as a YAML scalar."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise FacesslError(f"override {text!r}: expected key.sub=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise FacesslError(f"override {text!r}: the value is not valid YAML ({exc.problem})") from None
    return key.strip().split("."), parsed


def apply_overrides(raw: dict, overrides) -> dict:
    for text in overrides or ():
        keys, value = parse_override(text)
        node = raw
        for i, k in enumerate(keys[:-1]):
            child = node.get(k)
            if child is None:
                child = node[k] = {}
            if not isinstance(child, dict):
                raise FacesslError(f"override {text!r}: {'.'.join(keys[: i + 1])} is a value, not a section")
            node = child
        node[keys[-1]] = value
    return raw


def load_config(path=None, overrides=(), raw: dict | None = None) -> Config:
    """Config from a YAML file (or a dict) with dotted overrides applied; validated."""
    data = dict(raw or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FacesslError(f"{path}: config file not found")
        loaded = load_yaml(path, "config file") or {}
        if not isinstance(loaded, dict):
            raise FacesslError(f"{path}: expected a mapping of sections at the top level")
        data.update(loaded)
    apply_overrides(data, overrides)
    data.setdefault("method", {})  # always resolve the method's own Config class
    try:
        return from_dict(Config, data, "")
    except FacesslError as exc:
        given = [o.split("=", 1)[0].strip() for o in overrides if "=" in str(o)]
        if any(f"'{key}'" in str(exc) for key in given):  # the value typed on the command line, not the file's
            raise FacesslError(f"command line: {exc}") from None
        raise FacesslError(f"{path}: {exc}" if path is not None else str(exc)) from None


def from_dict(cls, data, prefix: str):
    """Build dataclass `cls` from a mapping, checking every key and type."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FacesslError(f"{prefix.rstrip('.') or 'config'}: expected a section (mapping), got {data!r}")
    if cls is MethodConfig:
        cls = _method_config_class(data.get("name", MethodConfig.name), prefix)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            near = difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
            hint = f"; did you mean '{prefix}{near[0]}'?" if near else f"; valid keys: {', '.join(names)}"
            raise FacesslError(f"unknown config key '{dotted}'{hint}")
        kwargs[key] = _convert(hints[key], value, dotted)
        _check_limit(getattr(cls, "LIMITS", {}).get(key), kwargs[key], dotted)
    return cls(**kwargs)


def _check_limit(limit, value, dotted) -> None:
    """The one range check of every numeric key. LIMITS maps a field to (low, high) inclusive, or to
    (low, high, "open") for bounds the value must not reach; None leaves a side unbounded."""
    if isinstance(value, float) and not math.isfinite(value):
        raise FacesslError(f"config key '{dotted}': expected a finite number, got {value}")
    if limit is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    low, high, *kind = limit
    open_ = kind == ["open"]
    bad_low = low is not None and (value <= low if open_ else value < low)
    bad_high = high is not None and (value >= high if open_ else value > high)
    if bad_low or bad_high:
        sides = [f"{'>' if open_ else '>='} {low}" if low is not None else "",
                 f"{'<' if open_ else '<='} {high}" if high is not None else ""]
        raise FacesslError(f"config key '{dotted}': expected {' and '.join(t for t in sides if t)}, got {value}")


def _method_config_class(name, prefix):
    from facessl.methods import METHODS, method_class

    if name not in METHODS:
        near = difflib.get_close_matches(str(name), list(METHODS), n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise FacesslError(f"{prefix}name: unknown method {name!r} (known: {', '.join(METHODS)}){hint}")
    return method_class(name).Config


def _convert(tp, value, dotted):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
        origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, f"{dotted}.")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise FacesslError(f"config key '{dotted}': {value!r} is not one of {', '.join(map(str, choices))}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads '1e-4' (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    else:
        return value
    raise FacesslError(f"config key '{dotted}': expected {tp.__name__}, got {value!r}")


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def dump_config(cfg) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=False)


def save_config(cfg, path) -> None:
    from facessl.engine.io import write_text_atomic

    write_text_atomic(path, dump_config(cfg))


def diff_configs(a: Config, b: Config) -> list[str]:
    """Dotted keys whose values differ between two configs."""

    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    fa, fb = flat(to_dict(a)), flat(to_dict(b))
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))
