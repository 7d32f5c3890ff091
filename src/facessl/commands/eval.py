"""`facessl eval`: linear-probe evaluation of a checkpoint -> results.json and results.md in --out.

    facessl eval --checkpoint runs/pcl --task expression --dataset rafdb:data/rafdb --out eval/pcl
    facessl eval --checkpoint runs/pcl --suite configs/eval_synth.yaml --data-root synth --out eval/pcl
    facessl eval --checkpoint runs/pcl --dataset imagefolder:faces/ --group '^(S\\d+)_' --out eval/mine
    facessl eval --checkpoint runs/pcl --dataset csv:legend.csv --images photos/ --label-column emotion --out eval/mine
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict
from pathlib import Path

from facessl.commands.options import device, finite_float, output_dir, positive_int
from facessl.data.formats import FORMAT_NAMES
from facessl.errors import FacesslError
from facessl.evaluate.cache import FeatureCache, default_cache_dir, weights_hash
from facessl.evaluate.protocol import SUPERVISED_PRECISIONS, WEIGHT_DECAYS, EvalOptions
from facessl.evaluate.suite import TASK_NAMES, TaskSpec, load_suite, parse_dataset


def add_arguments(p) -> None:
    p.add_argument("--checkpoint", required=True, help="run directory or checkpoint directory")
    p.add_argument("--out", required=True, help="output directory for results.json and results.md")
    p.add_argument("--overwrite", action="store_true",
                   help="replace results of another evaluation (other checkpoint, data or settings) already in --out")
    what = p.add_argument_group("what to evaluate (either --dataset or --suite)")
    what.add_argument("--task", choices=TASK_NAMES, help="task; the dataset format implies a default")
    what.add_argument("--dataset", help="FORMAT:PATH, e.g. rafdb:data/rafdb, or a bare PATH whose layout is recognised (formats: " + ", ".join(n for n in FORMAT_NAMES if n not in ("imagefolder", "csv"))
                      + "; your own: imagefolder, csv; layouts in docs/data_formats.md)")
    what.add_argument("--train-dataset", help="FORMAT:PATH of a separate training set, e.g. 300wlp:data/300W_LP; for "
                      "verification, a set of identities (voxceleb:, imagefolder:, insightface-rec:) that trains the supervised row")
    what.add_argument("--suite", help="YAML file listing tasks (see configs/eval_synth.yaml)")
    what.add_argument("--data-root", help="value of ${root} in the suite file")
    add_dataset_options(p)
    proto = p.add_argument_group("protocol")
    proto.add_argument("--features", default=None, help="comma list of feature choices: fs,ff,fp,ff+fp,embedding "
                                                        "(default: the encoder's first feature)")
    proto.add_argument("--seeds", type=int, default=3, help="probe seeds (validation carve + init); mean ± std")
    proto.add_argument("--size", type=int, default=None, help="input size in pixels (default: the training size)")
    proto.add_argument("--epochs", type=int, default=100, help="probe epochs (Adam, cosine schedule)")
    proto.add_argument("--weight-decays", default=None, metavar="LIST",
                       help="comma list of the probe's L2 penalties, chosen on the validation part (default 0,1e-2,1e-1,1,10)")
    proto.add_argument("--select-epoch", action="store_true",
                       help="also choose the probe's epoch on the validation part (early stopping; default: the last)")
    proto.add_argument("--paper-protocol", action="store_true",
                       help="the reference code's protocol: best epoch chosen on the TEST set (marked in outputs)")
    proto.add_argument("--baselines", default="random,supervised",
                       help="comma list of random,supervised or 'none'. random: the checkpoint's architecture as its "
                            "config builds it (the init pretraining starts from); supervised: trained end to end "
                            "from PyTorch's default init")
    proto.add_argument("--verification", choices=("10fold", "fixed"), default="10fold",
                       help="LFW protocol (threshold from the other 9 folds) or one threshold for all pairs")
    proto.add_argument("--threshold", type=finite_float, default=None, help="cosine threshold of --verification fixed")
    proto.add_argument("--verification-center", action="store_true",
                       help="verification: subtract the mean feature of the threshold folds' images before the cosine "
                            "(SphereFace's and CosFace's LFW evaluation)")
    proto.add_argument("--cv", type=fold_count, default=0, metavar="K",
                       help="K-fold cross-validation over the whole set, person-exclusive (the set's subject/identity/"
                            "group label; Adience's own folds): every face tested once (CK+, JAFFE, KDEF: 10)")
    proto.add_argument("--au-positive", type=finite_float, default=2.0, help="DISFA: AU present when intensity >= this")
    proto.add_argument("--supervised-epochs", type=positive_int, default=10, help="epochs of the supervised baseline")
    proto.add_argument("--identity-epochs", type=positive_int, default=None,
                       help="verification (LFW, CPLFW) with --train-dataset: epochs of the supervised row's identity "
                            "classifier (default --supervised-epochs)")
    proto.add_argument("--supervised-lr", type=finite_float, default=None,
                       help="Adam's learning rate of the supervised baseline (default: the task's, 3e-3 for landmarks "
                            "and 1e-3 for the rest, chosen on the synthetic validation build)")
    proto.add_argument("--supervised-precision", choices=SUPERVISED_PRECISIONS, default="auto",
                       help="arithmetic of the supervised baseline: auto = bf16 autocast where the hardware computes "
                            "bf16 natively (GPUs, CPUs with AVX-512 BF16 / AMX), fp32 elsewhere")
    proto.add_argument("--supervised-seeds", type=positive_int, default=1,
                       help="training runs of the supervised baseline, each its own seed (mean ± std over them)")
    proto.add_argument("--random-inits", type=positive_int, default=1,
                       help="initialisations of the random-weights row (seeds 1234, 1235, ...), each probed with every "
                            "--seeds seed (mean ± std over all): its floor then carries the spread of the draw")
    proto.add_argument("--balanced", action="store_true",
                       help="classification: class-balanced loss, weight decay chosen on the class-balanced "
                            "validation cross-entropy (for imbalanced sets, whose headline is mean-class accuracy or macro F1); "
                            "attributes: each attribute's positives weighed by its negative / positive ratio")
    run = p.add_argument_group("running")
    run.add_argument("--skip-missing", action="store_true", help="skip (and count) images a dataset lists but lacks or that do not decode")
    run.add_argument("--cache", default=None, help="feature cache directory (default: <out>/../.facessl_cache)")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    run.add_argument("--refit-probes", action="store_true", help="refit probes even when their outputs are cached")
    run.add_argument("--device", type=device, default=None, help="cpu, cuda, mps (default: the fastest available)")
    run.add_argument("--amp", action="store_true", help="bf16 autocast during feature extraction")
    run.add_argument("--quiet", action="store_true", help="no progress output")


# CLI flag -> reader keyword (formats.imagefolder / formats.csvtable / formats.lfw / formats.rafdb)
DATASET_OPTIONS = {"csv_images": "images", "image_column": "image_column", "label_column": "label_column",
                   "target_columns": "target_columns", "point_columns": "point_columns", "group": "group",
                   "group_column": "group_column", "split_column": "split_column", "test_fraction": "test_fraction",
                   "min_class_count": "min_class_count", "pairs": "pairs_file", "variant": "variant",
                   "label_regex": "label_regex", "box_columns": "box_columns", "box_format": "box_format",
                   "detect_faces": "detect_faces"}


def add_dataset_options(p, images_flag: bool = True) -> None:
    """Reader options of --dataset (your own labelled faces, and the named sets' layout variants).
    images_flag: `embed` has its own --images (a folder to embed); its CSV image folder is --image-root."""
    own = p.add_argument_group("dataset options (imagefolder:PATH, csv:FILE and layout variants)")
    own.add_argument("--images" if images_flag else "--image-root", dest="csv_images", default=None, metavar="DIR",
                     help="csv: folder the image column is relative to (default: the CSV's folder)")
    from facessl.data.formats.csvtable import IMAGE_COLUMNS

    own.add_argument("--image-column", help="csv: column of image paths (default: the first column named "
                                            f"{', '.join(IMAGE_COLUMNS)}, in any case)")
    own.add_argument("--label-column", help="csv: class label column -> task classification (default: 'label')")
    own.add_argument("--target-columns", help="csv: comma list of numeric columns -> task regression, e.g. yaw,pitch,roll")
    own.add_argument("--point-columns", help="csv: x,y columns in pairs -> task landmarks, e.g. 'x*,y*' or x1,y1,x2,y2")
    own.add_argument("--group", metavar="REGEX", help="keep files whose names share this regex's first group "
                                                     "(e.g. the subject, '^(S\\d+)_') on one side of the split; "
                                                     "a regex with a '/' reads the path below the folder")
    own.add_argument("--label-regex", metavar="REGEX", help="imagefolder, videofolder: each file's class is this regex's first group "
                     "in its file name, not its folder (JAFFE's KA.AN1.39.tiff: '\\.([A-Z]{2})\\d'); with a '/' in "
                     "the path below the folder (Oulu-CASIA's P001/Anger/000.jpeg: '^P\\d+/(\\w+)/')")
    own.add_argument("--box-columns", help="csv: four columns of a face box in the photo (see --box-format); each row "
                                           "is read as the square crop around its box")
    own.add_argument("--box-format", choices=("xywh", "xyxy"), default=None,
                     help="csv: --box-columns as x,y,width,height (default) or x0,y0,x1,y1")
    own.add_argument("--detect-faces", action="store_const", const=True, default=None,
                     help="pictures that are not face crops (scenes, selfies, web photos): each replaced by its largest "
                          "face, found and aligned as `facessl prepare --images` does (kept in the cache; "
                          "--reader-option face_size=128 face_margin=0.25); pictures without a face skipped and counted")
    own.add_argument("--group-column", help="csv: column of groups (subject, person) kept on one side of the split")
    own.add_argument("--split-column", help="csv: column of train / val / test (default: a seeded split)")
    own.add_argument("--test-fraction", type=float, default=None, help="share of the seeded split's test side (0.2)")
    own.add_argument("--min-class-count", type=int, default=None, metavar="N",
                     help="imagefolder/csv: leave out classes with fewer than N images (named in the results; "
                          "a class of 9 images puts 1-2 in test yet weighs as much as any class in mean-class accuracy)")
    own.add_argument("--pairs", metavar="FILE", default=None, help="lfw/cplfw: the pairs file (default: pairs.txt)")
    own.add_argument("--variant", default=None, help="rafdb: aligned (default) or original images; lfw: image folder "
                                                     "name such as lfw_funneled (default: found); cfp: FP (default) or "
                                                     "FF; oulucasia: cropped or original; utkface: aligned, crop_part1 "
                                                     "or wild; fairface: padding 0.25 (default) or 1.25; "
                                                     "insightface-bin: agedb_30, cfp_fp ...; ijb: IJBB or IJBC; "
                                                     "ytf: aligned (default) or frames")
    own.add_argument("--reader-option", action="extend", nargs="+", default=None, metavar="KEY=VALUE",
                     help="any other keyword of the format's reader (one or more, repeatable; the value is read as "
                          "YAML), e.g. "
                          "bp4d: every=5, aus=[1,2,4]; kdef: angles=S; cfp: protocol=FF; celeba: limit_train=20000")


def reader_options(args) -> dict:
    """The reader keywords of the dataset options given on the command line."""
    options = {key: getattr(args, flag) for flag, key in DATASET_OPTIONS.items() if getattr(args, flag, None) is not None}
    for text in getattr(args, "reader_option", None) or ():
        key, value = parse_reader_option(text)
        if key in options:
            raise FacesslError(f"--reader-option {text!r}: {key} is already given")
        options[key] = value
    return options


def parse_reader_option(text: str) -> tuple[str, object]:
    """'every=5' -> ('every', 5): the value read as YAML (numbers, lists, strings)."""
    import yaml

    key, sep, value = str(text).partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key.isidentifier():
        raise FacesslError(f"--reader-option {text!r}: expected KEY=VALUE, e.g. every=5")
    try:
        return key, yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        raise FacesslError(f"--reader-option {text!r}: the value is not valid YAML") from None


def _csv(text) -> list[str]:
    return [t.strip() for t in str(text).split(",") if t.strip()]


def specs_from_args(args) -> list[TaskSpec]:
    if bool(args.suite) == bool(args.dataset):
        raise FacesslError("give exactly one of --dataset FORMAT:PATH or --suite SUITE.yaml")
    if args.suite:
        if args.task or args.train_dataset or reader_options(args):
            raise FacesslError("--task, --train-dataset and dataset options belong in the suite file when --suite is given")
        return load_suite(args.suite, args.data_root)
    return [TaskSpec(args.task or "", args.dataset, args.train_dataset, options=reader_options(args))]


def check_size(size: int | None) -> None:
    """--size of eval and embed: the range pretraining allows data.size (a typo such as 100000 was an
    out-of-memory kill, 24 GB of one batch, rather than an error)."""
    from facessl.config import DataConfig

    low, high = DataConfig.LIMITS["size"]
    if size is not None and not low <= size <= high:
        raise FacesslError(f"--size must be {low} to {high} pixels (the range of pretraining's data.size), got {size}")


def options_from_args(args) -> EvalOptions:
    for name in ("seeds", "epochs"):
        if getattr(args, name) < 1:
            raise FacesslError(f"--{name} must be >= 1, got {getattr(args, name)}")
    check_size(args.size)
    if args.supervised_lr is not None and args.supervised_lr <= 0:
        raise FacesslError(f"--supervised-lr must be > 0, got {args.supervised_lr:g}")
    return EvalOptions(seeds=args.seeds, size=args.size, paper_protocol=args.paper_protocol, epochs=args.epochs,
                       weight_decays=weight_decays(args.weight_decays), select_epoch=args.select_epoch,
                       au_positive=args.au_positive, verification=args.verification, fixed_threshold=args.threshold,
                       verification_center=args.verification_center,
                       supervised_epochs=args.supervised_epochs, supervised_seeds=args.supervised_seeds,
                       identity_epochs=args.identity_epochs,
                       supervised_lr=args.supervised_lr, random_inits=args.random_inits,
                       supervised_precision=args.supervised_precision,
                       balanced=args.balanced, device=args.device, amp=args.amp, quiet=args.quiet, cv=args.cv)


def weight_decays(text: str | None) -> tuple:
    if text is None:
        return WEIGHT_DECAYS
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise FacesslError(f"--weight-decays {text!r}: expected a comma list of numbers >= 0, e.g. 0,1e-2,1e-1")
    return values


def checkpoint_info(path, encoder) -> dict:
    """Where the checkpoint is and a hash of the training config it was made with."""
    info = {"path": str(getattr(encoder, "checkpoint", path))}
    here = Path(info["path"])
    for candidate in (here / "config.yaml", here.parent.parent / "config.yaml", Path(path) / "config.yaml"):
        if candidate.is_file():
            info["config_hash"] = hashlib.sha256(candidate.read_bytes()).hexdigest()[:16]
            info["config_file"] = str(candidate)
            break
    return info


def run(args) -> int:
    import facessl
    from facessl.evaluate import runner, tables
    from facessl.evaluate.features import feature_names

    output_dir(args.out, "--out")
    specs = specs_from_args(args)
    options = options_from_args(args)
    baselines = [] if args.baselines.strip().lower() == "none" else _csv(args.baselines)
    features = _csv(args.features) if args.features else None
    if args.cache and not args.no_cache:
        output_dir(args.cache, "--cache")  # a file here used to turn caching off without a word
    cache = FeatureCache(None if args.no_cache else (args.cache or default_cache_dir(args.out)),
                         probes=not args.refit_probes)
    for spec in specs:  # every path checked before the (slow) checkpoint load and extraction
        for dataset in filter(None, (spec.dataset, spec.train_dataset)):
            path = Path(parse_dataset(dataset)[1])
            if not path.exists():
                raise FacesslError(f"{path}: dataset path does not exist (from {dataset!r})")
    out = Path(args.out)
    settings = evaluation_settings(specs, options, baselines, args.skip_missing)
    earlier = None if args.overwrite else earlier_results(out)
    if earlier is not None:
        before_loading = {k: v for k, v in recorded_settings(out, earlier).items() if k != "features"}
        refuse_other_evaluation(out, before_loading, settings)
    encoder = facessl.load(args.checkpoint)
    # the features (no --features: the encoder's first) and the weights are known once the checkpoint is loaded;
    # the same command on a run that trained on is another checkpoint
    loaded = {"features": features or list(feature_names(encoder)[:1]), "checkpoint weights": weights_hash(encoder)}
    if earlier is not None:
        refuse_other_evaluation(out, {"features": earlier["settings"].get("features"),
                                      "checkpoint weights": (earlier.get("checkpoint") or {}).get("weights_hash")},
                                loaded)
    settings["features"] = loaded["features"]
    results = runner.evaluate(encoder, specs, options, features=features, baselines=baselines, cache=cache,
                              checkpoint=checkpoint_info(args.checkpoint, encoder),
                              skip_missing=args.skip_missing, keep_going=bool(args.suite))
    results["settings"] = settings  # what a later run into this --out compares itself with
    tables.save(out, results)
    if not args.quiet:
        print(tables.render(results))
        print(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    failed = [t for t in results["tasks"] if t.get("error")]
    if failed:
        raise FacesslError(f"{len(failed)} of {len(results['tasks'])} tasks failed (details in {out / 'results.json'}); "
                           f"first: {failed[0]['name']}: {failed[0]['error']}")
    return 0


# EvalOptions fields that change how fast the numbers come, not the numbers (as in runner.options_hash)
NOT_SETTINGS = ("quiet", "device")


def evaluation_settings(specs: list[TaskSpec], options: EvalOptions, baselines, skip_missing: bool) -> dict:
    """What results.json is the evaluation of, as JSON reads it back: the tasks (datasets by absolute path, so that
    a rerun from another folder compares equal), the baselines and every protocol setting. The features and the
    checkpoint are compared once it is loaded (by its weights: a moved run is the same checkpoint)."""
    tasks = [{"name": s.name, "task": s.task, "dataset": _absolute(s.dataset),
              "train_dataset": _absolute(s.train_dataset), "features": s.features, "options": s.options, "size": s.size}
             for s in specs]
    protocol = {k: v for k, v in asdict(options).items() if k not in NOT_SETTINGS}
    settings = {"tasks": tasks, "baselines": baselines, "options": protocol, "skip_missing": skip_missing}
    return json.loads(json.dumps(settings, default=str))  # tuples as lists, as results.json reads back


def _absolute(dataset: str | None) -> str | None:
    if dataset is None:
        return None
    fmt, path = parse_dataset(dataset)
    return f"{fmt}:{Path(path).resolve()}"


def earlier_results(out: Path) -> dict | None:
    """results.json already in --out (None when there is none); unreadable: refused, as it cannot be compared."""
    path = out / "results.json"
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        raise FacesslError(f"{path}: unreadable results of an earlier evaluation; {ANOTHER_OUT}") from None
    if not isinstance(results, dict):
        raise FacesslError(f"{path}: not the results of an evaluation (expected a JSON object); {ANOTHER_OUT}")
    return results


ANOTHER_OUT = "give another --out, or --overwrite to replace them"


def recorded_settings(out: Path, results: dict) -> dict:
    settings = results.get("settings")
    if not isinstance(settings, dict):  # written before facessl recorded them: whether they match is unknown
        raise FacesslError(f"{out}: holds results of an evaluation whose settings an earlier facessl did not record; "
                           f"{ANOTHER_OUT}")
    return settings


def refuse_other_evaluation(out: Path, made: dict, wanted: dict) -> None:
    """A rerun with the same settings recomputes the results; one with other settings would replace the results of
    another evaluation without a word, so it is refused, naming what differs (as demo.stages.check_recorded)."""
    before, now = _flat(made), _flat(wanted)
    keys = list(now) + [k for k in before if k not in now]  # a task more or fewer, a setting an older record lacks
    changed = [k for k in keys if before.get(k) != now.get(k)]
    if not changed:
        return
    shown = "; ".join(f"{k}: {before.get(k)!r} there, {now.get(k)!r} now" for k in changed[:3])
    more = f"; and {len(changed) - 3} more" if len(changed) > 3 else ""
    raise FacesslError(f"{out}: holds the results of another evaluation ({shown}{more}); {ANOTHER_OUT}")


def _flat(value, prefix: str = "") -> dict:
    """{'tasks[0].dataset': ..., 'options.epochs': ...}: nested settings as one level, so that a message names the
    one setting that differs rather than a whole task."""
    if isinstance(value, dict):
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in value.items()]
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(value)]
    else:
        return {prefix: value}
    flat = {}
    for key, item in items:
        flat.update(_flat(item, key))
    return flat or {prefix: value}


def fold_count(text: str) -> int:
    """--cv K: two folds or more (one fold has nothing to train on)."""
    import argparse

    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 2 or str(k) != text.strip():
        raise argparse.ArgumentTypeError(f"expected a number of folds, 2 or more, got {text!r}")
    return k
