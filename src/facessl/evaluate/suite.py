"""Task specifications: one from the command line or a list from a suite YAML file.

A suite file::

    tasks:
      - name: RAF-DB            # optional; defaults to the dataset's format
        task: expression        # optional; the format implies it (see FORMAT_TASK)
        dataset: rafdb:${root}/rafdb
      - task: pose
        dataset: aflw2000:${root}/aflw2000
        train_dataset: 300wlp:${root}/300wlp
        features: fs            # optional; this task's feature choices (those of --features it keeps)
        size: 64                # optional; this task's input size in px (default: --size), as the reference
                                # probes expression and pose at their own sizes
      - name: my faces
        dataset: csv:${root}/faces/labels.csv
        options: {label_column: emotion, images: "${root}/faces/images", group: "^(S\\d+)_"}

`${root}` is replaced by --data-root; any other ${...} is an error naming it.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

from facessl.errors import FacesslError

TASK_NAMES = ("expression", "verification", "pose", "pose_classes", "au", "attributes", "landmarks", "classification",
              "regression", "retrieval")
FORMAT_TASK = {"rafdb": "expression", "fer2013": "expression", "lfw": "verification", "cplfw": "verification", "calfw": "verification",
               "cfp": "verification", "aflw2000": "pose", "300wlp": "pose", "biwi": "pose", "bu3dfe": "pose_classes",
               "disfa": "au", "bp4d": "au", "affwild2-au": "au", "affwild2-expr": "classification", "affwild2-va": "regression",
               "300w": "landmarks", "mafl": "landmarks", "imagefolder": "classification", "csv": "classification",
               "parquet": "classification",
               "rafdb-compound": "classification", "ferplus": "classification",
               "affectnet": "classification", "expw": "expression", "dfew": "expression", "ckplus": "classification",
               "ferv39k": "expression", "mafw": "classification",
               "kdef": "expression", "jaffe": "expression", "oulucasia": "expression", "rafd": "classification",
               "300vw": "landmarks",
               "mtfl": "landmarks", "wflw": "landmarks", "celeba": "attributes",
               "aflw": "pose", "aflw19": "landmarks", "cofw": "landmarks", "emotionet": "au", "bu3dfe-expr": "expression",
               "insightface-bin": "verification", "ytf": "verification", "ijb": "verification",
               "insightface-rec": "verification",  # pairs drawn from its identities (evaluate/pairs.py)
               "adience": "classification", "adience-gender": "classification", "agedb": "regression",
               "pointing04": "regression", "disfaplus": "au", "unbc": "au",
               "utkface": "regression", "utkface-gender": "classification", "utkface-race": "classification",
               "fairface": "classification", "fairface-gender": "classification", "fairface-age": "classification",
               "yolo": "classification", "voc": "classification",
               "ravdess": "classification", "cremad": "classification", "mead": "classification",
               "coco": "classification", "videofolder": "classification"}
# reader keywords with a flag of their own in `facessl eval` (others come from --reader-option KEY=VALUE)
READER_FLAGS = ("--images", "--image-column", "--label-column", "--target-columns", "--point-columns", "--group",
                "--group-column", "--split-column", "--test-fraction", "--min-class-count", "--pairs", "--variant",
                "--label-regex", "--box-columns", "--box-format")
# test format -> the training set's format, looked up beside the test set's path when not given
DEFAULT_TRAIN_FORMAT = {"aflw2000": "300wlp", "biwi": "300wlp"}


def default_training_set(parent: Path, fmt: str) -> Path:
    """The training set's folder beside a test set: named as released (`300W_LP`, `300W-LP`) or as facessl
    synth writes it (`300wlp`), any case; `parent / fmt` (reported as looked for) when none is there."""
    import re

    plain = lambda name: re.sub(r"[^a-z0-9]", "", name.lower())
    found = sorted(d for d in parent.iterdir() if d.is_dir() and plain(d.name) == plain(fmt)) if parent.is_dir() else []
    return found[0] if found else parent / fmt
AGE_FORMATS = ("utkface", "agedb")  # age regression by default; their target=gender (race) option reads classes
SPEC_KEYS = {"name", "task", "dataset", "train_dataset", "features", "size", "options"}


@dataclass
class TaskSpec:
    task: str
    dataset: str  # FORMAT:PATH
    train_dataset: str | None = None
    name: str = ""
    features: tuple | None = None  # None: every requested feature choice; else only these of them
    options: dict = field(default_factory=dict)  # reader keywords: label_column, images, group, pairs_file ...
    size: int | None = None  # input size of this task's images; None: the evaluation's (--size)

    def __post_init__(self):
        fmt, _ = parse_dataset(self.dataset)
        if self.size is not None:
            self.size = parse_size(self.size)
        self.options = {k: v for k, v in (self.options or {}).items() if v is not None}
        if not self.task and fmt == "csv":  # the chosen columns say what the table holds
            self.task = ("regression" if self.options.get("target_columns") else
                         "landmarks" if self.options.get("point_columns") else "classification")
        if not self.task and fmt in AGE_FORMATS and str(self.options.get("target", "age")).strip().lower() != "age":
            self.task = "classification"  # target=gender|race reads classes, not the default age
        if (not self.task and fmt == "affectnet"
                and str(self.options.get("target", "")).strip().lower() == "valence_arousal"):
            self.task = "regression"  # continuous labels instead of the default expression classes
        if not self.task:
            from facessl.data.formats import reader

            reader(fmt)  # an unknown format is reported as such, with the known ones
            if fmt not in FORMAT_TASK:
                raise FacesslError(f"no default task for format {fmt!r}; give --task ({', '.join(TASK_NAMES)})")
            self.task = FORMAT_TASK[fmt]
        if self.task not in TASK_NAMES:
            raise FacesslError(f"unknown task {self.task!r}; expected one of {', '.join(TASK_NAMES)}")
        if self.train_dataset is None and fmt in DEFAULT_TRAIN_FORMAT and self.task in ("pose", "pose_classes"):
            sibling = default_training_set(Path(parse_dataset(self.dataset)[1]).parent, DEFAULT_TRAIN_FORMAT[fmt])
            if not sibling.exists():
                raise FacesslError(f"task {self.task!r} on {fmt} needs a training set: give "
                                   f"--train-dataset {DEFAULT_TRAIN_FORMAT[fmt]}:PATH (looked for {sibling})")
            self.train_dataset = f"{DEFAULT_TRAIN_FORMAT[fmt]}:{sibling}"
        self.name = self.name or fmt
        if isinstance(self.features, str):
            self.features = tuple(f.strip() for f in self.features.split(",") if f.strip())


def parse_size(value) -> int:
    """A task's input size: a whole number of pixels in the range pretraining allows data.size."""
    from facessl.config import DataConfig

    low, high = DataConfig.LIMITS["size"]
    try:
        size = int(str(value).strip())
    except ValueError:
        size = 0
    if not low <= size <= high or str(value).strip() != str(size):
        raise FacesslError(f"size {value!r}: expected a whole number of pixels from {low} to {high}, e.g. 64")
    return size


_DETECTED: dict = {}  # dataset text -> (format, path) its layout was read as (the notice is printed once per text)


def parse_dataset(text: str) -> tuple[str, str]:
    """'FORMAT:PATH' -> (format, path); a bare existing PATH -> the format its layout is recognised as
    (formats.detect), told once on stderr. A known format name before the first ':' always wins."""
    from facessl.data.formats import FORMAT_NAMES

    text = str(text)
    fmt, sep, path = text.partition(":")
    if sep and fmt.lower() in FORMAT_NAMES and path:
        return fmt.lower(), path
    if text and Path(text).exists():  # a bare path (or one with a ':' whose head is no format name)
        if text not in _DETECTED:
            _DETECTED[text] = _detected_format(text)
        return _DETECTED[text]
    if sep and fmt and path:  # an unknown format name: its reader lookup says so, with the nearest names
        return fmt.lower(), path
    raise FacesslError(f"dataset {text!r}: no such file or folder; expected FORMAT:PATH (e.g. rafdb:/data/RAF-DB) "
                       "or the path of a dataset folder or file")


def _detected_format(text: str) -> tuple[str, str]:
    """(format, path) of the one layout recognised at path `text`, told on stderr; else one error line."""
    import sys

    from facessl.data.formats import READERS
    from facessl.data.formats.detect import detect_layout

    found = detect_layout(text)
    if not found.formats:
        raise FacesslError(f"dataset {text!r}: no known dataset layout found there; write FORMAT:PATH, e.g. "
                           f"imagefolder:{text} (class folders of images) or csv:FILE (a table of images and labels); "
                           f"`facessl inspect --dataset FORMAT:PATH` shows what a format reads")
    written = {f: str(found.paths.get(f, text)) for f in found.formats}
    if len(found.formats) > 1:
        raise FacesslError(f"dataset {text!r} matches several layouts; choose one: "
                           + ", ".join(f"{f}:{written[f]}" for f in found.formats))
    fmt = found.formats[0]
    what = READERS[fmt][2].split(":")[0].split(" (")[0]
    others = found.alternatives.get(fmt, ())
    also = f" ({' or '.join(f'{o}:{written[fmt]}' for o in others)} for the variant)" if others else ""
    print(f"facessl: read {text} as {fmt}: ({what}); write {fmt}:{written[fmt]} to choose{also}", file=sys.stderr)
    return fmt, written[fmt]


def split_reader_options(spec: TaskSpec) -> dict:
    """{dataset text: its reader's options} for the spec's test and training sets: an option goes to whichever
    reader takes it (300W-LP's and AFLW2000's, or a pairs set's and its identities'); one neither takes stays
    with the test set's reader, which names it in its error. --detect-faces and its options go to both: a probe
    trained on whole pictures and tested on face crops would measure the difference."""
    import facessl.data.formats as formats
    from facessl.data.face_crops import OPTIONS as FACE_OPTIONS

    if not spec.train_dataset or not spec.options or spec.train_dataset == spec.dataset:
        return {spec.dataset: spec.options, spec.train_dataset: spec.options}
    takes = lambda text, key: key in inspect.signature(formats.reader(parse_dataset(text)[0])).parameters
    faces = {k: v for k, v in spec.options.items() if k in FACE_OPTIONS}
    rest = {k: v for k, v in spec.options.items() if k not in FACE_OPTIONS}
    train = {k: v for k, v in rest.items() if takes(spec.train_dataset, k)}
    test = {k: v for k, v in rest.items() if takes(spec.dataset, k) or k not in train}
    return {spec.dataset: {**test, **faces}, spec.train_dataset: {**train, **faces}}


def _checked_common_options(options: dict, fmt: str) -> dict:
    """The options many readers share, checked before any file is read (a bad seed from --reader-option would
    otherwise surface as a numpy traceback, or after minutes of face finding)."""
    from facessl.data.formats.imagefiles import fraction_option, whole_number

    checked = dict(options)
    if "seed" in checked:
        checked["seed"] = whole_number(checked["seed"], fmt, "seed", 0)
    if checked.get("min_class_count") is not None:
        checked["min_class_count"] = whole_number(checked["min_class_count"], fmt, "min_class_count", 0)
    if checked.get("test_fraction") is not None:
        checked["test_fraction"] = fraction_option(checked["test_fraction"], fmt, "the test fraction (--test-fraction)")
    return checked


def read_dataset(text: str, skip_missing: bool = False, options: dict | None = None):
    """Read FORMAT:PATH with the format readers' registry (ImageSet or PairSet); `options` are keyword
    arguments of its reader (an option the reader does not take is one error naming both)."""
    import facessl.data.formats as formats

    from facessl.data.face_crops import face_options, with_detected_faces

    fmt, path = parse_dataset(text)
    if not Path(path).exists():
        raise FacesslError(f"{path}: dataset path does not exist (from {text!r})")
    faces, options = face_options(options or {})
    options = _checked_common_options(options, fmt)
    if getattr(formats, "read", None) is None:
        raise FacesslError("no format readers installed (facessl.data.formats.read is missing)")
    kw = {}
    if skip_missing:  # only readers of file lists take it (fer2013.csv and bu3dfe have no list to miss)
        function = formats.reader(fmt) if hasattr(formats, "reader") else None
        if function is None or "skip_missing" in inspect.signature(function).parameters:
            kw["skip_missing"] = True
    if options:
        accepted = inspect.signature(formats.reader(fmt)).parameters
        for key in options:
            if key not in accepted:
                flag = "--" + key.replace("_", "-").replace("-file", "")
                flag = flag if flag in READER_FLAGS else f"reader option {key!r}"
                raise FacesslError(f"{flag} does not apply to format {fmt!r} (it takes: "
                                   f"{', '.join(p for p in accepted if p not in ('root', 'path', 'skip_missing')) or 'no options'})")
        kw.update(options)
    try:
        data = formats.read(fmt, path, **kw)
    except FacesslError as error:
        error.args = (f"{error}{_layout_hint(fmt, path)}", *error.args[1:])  # same error, with where to look instead
        raise
    if skip_missing:  # also skip (and count) files that exist but do not decode
        from facessl.data.formats.decodable import drop_undecodable

        data = drop_undecodable(data)
    if faces is not None:  # --detect-faces: the picture's face, aligned as prepare aligns it
        data = with_detected_faces(data, faces, text)
    return data


def _layout_hint(fmt: str, path: str) -> str:
    """' (this folder looks like other:PATH)' when a reader refused a path whose layout is another format's."""
    from facessl.data.formats.detect import detect_layout

    try:
        found = detect_layout(path)
    except OSError:
        return ""
    if not found.formats or fmt in found.formats or fmt in found.alternatives.get(found.formats[0], ()):
        return ""
    kind = "file" if Path(path).is_file() else "folder"
    named = ", ".join(f"{f}:{found.paths.get(f, path)}" for f in found.formats[:4])
    return f" (this {kind} looks like {named})" if len(found.formats) == 1 else f" (this {kind} looks like one of {named})"


def substitute(text: str, variables: dict, where: str) -> str:
    def replace(match):
        name = match.group(1)
        if name not in variables or variables[name] is None:
            hint = " (give --data-root DIR)" if name == "root" else ""
            raise FacesslError(f"{where}: unknown variable ${{{name}}}{hint}")
        return str(variables[name])

    return re.sub(r"\$\{(\w+)\}", replace, text)


def load_suite(path, root=None) -> list[TaskSpec]:
    from facessl.config import load_yaml

    path = Path(path)
    data = load_yaml(path, "suite file")  # names the file (and line) when missing, invalid or with a duplicate key
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list) or not data["tasks"]:
        raise FacesslError(f"{path}: expected a mapping with a non-empty 'tasks' list")
    specs = []
    for i, entry in enumerate(data["tasks"]):
        where = f"{path}: tasks[{i}]"
        if not isinstance(entry, dict) or "dataset" not in entry:
            raise FacesslError(f"{where}: expected a mapping with at least 'dataset: FORMAT:PATH'")
        unknown = set(entry) - SPEC_KEYS
        if unknown:
            raise FacesslError(f"{where}: unknown key {sorted(unknown)[0]!r}; expected {', '.join(sorted(SPEC_KEYS))}")
        options = entry.pop("options", None) or {}
        if not isinstance(options, dict):
            raise FacesslError(f"{where}: 'options' must be a mapping of reader options, e.g. label_column: emotion")
        values = {k: substitute(str(v), {"root": root}, where) if v is not None else None for k, v in entry.items()}
        options = {k: substitute(v, {"root": root}, where) if isinstance(v, str) else v for k, v in options.items()}
        try:
            specs.append(TaskSpec(values.get("task", ""), values["dataset"], values.get("train_dataset"),
                                  values.get("name", ""), values.get("features"), options, values.get("size")))
        except FacesslError as exc:
            raise FacesslError(f"{where}: {exc}") from None
    return specs
