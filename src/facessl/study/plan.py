"""What a study runs: read from a YAML file (configs/study_realfaces.yaml) plus key=value overrides."""
from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from facessl.errors import FacesslError

METHODS = ("simclr", "pcl", "fabnet")
HOLDOUTS = ("test", "validation")


@dataclass
class StudyPlan:
    photos: str = ""
    labels: str = ""
    # instead of photos + labels: any labelled set a reader knows (rafdb:, ferplus:, affectnet:, imagefolder:,
    # csv: ...), with its reader's options (e.g. {label_regex: ..., group: ...}); its train split is pretrained on
    dataset: str | None = None
    dataset_options: dict = field(default_factory=dict)
    label_column: str = "label"
    images: str | None = None  # folder the label table's image column is relative to (default: photos)
    group: str | None = None
    min_class_count: int = 0  # classes with fewer labelled images are left out (named in the report); 0: keep all
    videos: str | None = None
    methods: list = field(default_factory=lambda: list(METHODS))
    seeds: list = field(default_factory=lambda: [0, 1])
    backbone: str = "small"
    width: float = 1.0  # the backbone's width, the same for every method (FAb-Net's demo config narrows it to 0.5)
    size: int = 64  # pretraining input size
    eval_size: int | None = None  # probe (and supervised) input size; None: `size`. The reference probes at a
    # larger input than it pretrains on (64 px -> 100 px for expression): a finer final map for the probe
    steps: int = 600  # used when budget_minutes is 0
    budget_minutes: float = 0.0  # minutes of training per method and seed (train.minutes: exact, not calibrated)
    batch_size: int = 64
    probe_seeds: int = 3
    probe_epochs: int = 100
    supervised_epochs: int = 5
    supervised_seeds: int = 1  # training runs of the supervised row (its spread when > 1)
    supervised_precision: str = "auto"  # its arithmetic: auto (bf16 autocast where native), fp32 or bf16
    random_inits: int = 1  # draws of the random-weights row, pooled (its spread is then the weights' too)
    balanced: bool = True  # class-balanced probes (loss and selection; mean-class accuracy is the study's headline)
    pcl_features: list = field(default_factory=lambda: ["fs", "ff", "fp"])
    # FAb-Net's read-outs: 'embedding' (the paper's) and/or 'fs' (its backbone's map, read as SimCLR's F_s)
    fabnet_features: list = field(default_factory=lambda: ["embedding"])
    workers: int = 0  # stages side by side, one process each (0: 2 on a CPU with 2+ cores, 1 on a GPU)
    # 'test': probe on the label table's test split (the result). 'validation': set the test split aside
    # unread, carve a grouped validation split out of the train split, pretrain on the rest and probe on
    # the carve: for choosing settings (method_overrides, budget) without touching the test split
    holdout: str = "test"
    method_overrides: dict = field(default_factory=dict)  # method -> [key=value, ...] for its pretraining config

    def check(self) -> "StudyPlan":
        for name in () if self.dataset else ("photos", "labels"):
            if not getattr(self, name) or not Path(getattr(self, name)).exists():
                raise FacesslError(f"study: {name} {getattr(self, name)!r} does not exist (or give dataset: FORMAT:PATH)")
        if self.videos is not None and not Path(self.videos).is_dir():  # said now, not after the other runs trained
            raise FacesslError(f"study: videos {self.videos!r} is not a folder (a `facessl prepare` output of face "
                               "tracks, for FAb-Net)")
        if self.dataset is not None and (not (":" in str(self.dataset) or Path(str(self.dataset)).exists())
                                         or not isinstance(self.dataset_options, dict)):
            raise FacesslError(f"study: dataset must be FORMAT:PATH (or an existing dataset folder) with dataset_options "
                               f"a mapping, got {self.dataset!r}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise FacesslError(f"study: unknown method {unknown[0]!r}; expected {', '.join(METHODS)}")
        if not isinstance(self.min_class_count, int) or self.min_class_count < 0:
            raise FacesslError(f"study: min_class_count must be a whole number >= 0, got {self.min_class_count!r}")
        if not isinstance(self.width, (int, float)) or isinstance(self.width, bool) or self.width <= 0:
            raise FacesslError(f"study: width must be a positive number (the backbone's width), got {self.width!r}")
        if self.eval_size is not None and (not isinstance(self.eval_size, int) or self.eval_size < 8):
            raise FacesslError(f"study: eval_size must be a whole number of pixels >= 8 (or null), got {self.eval_size!r}")
        budget = self.budget_minutes  # 0: train `steps` steps instead; below 0 is no amount of time
        if (not isinstance(budget, (int, float)) or isinstance(budget, bool) or not math.isfinite(budget)
                or budget < 0):
            raise FacesslError(f"study: budget_minutes must be a number of minutes > 0 (or 0: train `steps` steps "
                               f"instead), got {budget!r}")
        if len(self.seeds) < 1 or self.steps < 1 or self.probe_seeds < 1:
            raise FacesslError("study: seeds, steps and probe_seeds must be at least 1")
        for key in ("supervised_seeds", "random_inits"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise FacesslError(f"study: {key} must be a whole number >= 1, got {value!r}")
        from facessl.evaluate.protocol import SUPERVISED_PRECISIONS

        if self.supervised_precision not in SUPERVISED_PRECISIONS:
            raise FacesslError(f"study: supervised_precision must be one of {', '.join(SUPERVISED_PRECISIONS)}, "
                               f"got {self.supervised_precision!r}")
        for key, known in (("pcl_features", ("fs", "ff", "fp")), ("fabnet_features", ("embedding", "fs"))):
            chosen = getattr(self, key)
            if not isinstance(chosen, list) or not chosen or any(f not in known for f in chosen):
                raise FacesslError(f"study: {key} must be a non-empty list of {', '.join(known)}, got {chosen!r}")
        if self.holdout not in HOLDOUTS:
            raise FacesslError(f"study: holdout must be one of {', '.join(HOLDOUTS)}, got {self.holdout!r}")
        self._check_method_overrides()
        if not isinstance(self.workers, int) or self.workers < 0:
            raise FacesslError(f"study: workers must be 0 (automatic) or a positive number, got {self.workers!r}")
        return self

    def _check_method_overrides(self) -> None:
        if not isinstance(self.method_overrides, dict):
            raise FacesslError("study: method_overrides must map a method to a list of key=value settings, "
                               "e.g. {pcl: [method.face_views=simclr]}")
        for method, items in self.method_overrides.items():
            if method not in METHODS:
                raise FacesslError(f"study: method_overrides names unknown method {method!r}; expected {', '.join(METHODS)}")
            if not isinstance(items, list) or not all(isinstance(i, str) and "=" in i for i in items):
                raise FacesslError(f"study: method_overrides.{method} must be a list of key=value settings, got {items!r}")

    def as_dict(self) -> dict:
        return asdict(self)


def load_plan(path, overrides=()) -> StudyPlan:
    data = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise FacesslError(f"{path}: cannot read study config ({exc.strerror})") from None
        if not isinstance(data, dict):
            raise FacesslError(f"{path}: expected a mapping of study settings")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise FacesslError(f"override {item!r}: expected KEY=VALUE")
        data[key.strip()] = yaml.safe_load(value)
    names = [f.name for f in fields(StudyPlan)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            raise FacesslError(f"study: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return StudyPlan(**data).check()
