"""Evaluate an encoder (and its baseline rows) on a list of task specifications -> one results dict.

    results = evaluate(encoder, specs, options, features=("fs",), baselines=("random", "supervised"),
                       cache=FeatureCache(dir), datasets=None)

`datasets` maps 'FORMAT:PATH' strings to already-read ImageSets/PairSets (tests, notebooks);
anything missing is read with facessl.data.formats.read.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

import facessl
from facessl.data.crop_check import scene_note
from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.decodable import UNDECODABLE, drop_undecodable
from facessl.data.formats.grouping import case_note
from facessl.data.formats.imagefiles import dropped_names, skipped_text
from facessl.errors import FacesslError
from facessl.evaluate import attributes, au, expression, generic, landmarks, pose, retrieval, verification
from facessl.evaluate.baselines import architecture_builder, random_encoder, run_supervised_task
from facessl.evaluate.cache import FeatureCache, array_hash, dataset_fingerprint
from facessl.evaluate.crossval import cross_validated
from facessl.evaluate.features import FeatureSource, available_choices
from facessl.evaluate.identity import supervised_verification
from facessl.evaluate.images import UndecodableImage
from facessl.evaluate.pairs import pairs_from_identities
from facessl.evaluate.probes import SELECTED_ON_TEST
from facessl.evaluate.protocol import FLOOR_NAMES, EvalOptions, Part, aggregate, pool_runs, run_floor, run_probe_task
from facessl.evaluate.splits import (copies_line, keep_copies_together, split_is_drawn, test_copies_of_training,
                                    with_copies_grouped)
from facessl.evaluate.suite import TaskSpec, read_dataset, split_reader_options

BUILDERS = {"expression": expression.build, "pose": pose.build, "pose_classes": pose.build_classes,
            "au": au.build, "attributes": attributes.build, "landmarks": landmarks.build,
            "classification": generic.build_classification, "regression": generic.build_regression}
BASELINES = ("random", "supervised")
RANDOM_SEED = 1234  # initialisation seed of the random-weights row (its k-th of --random-inits: + k)


def input_size(encoder, options: EvalOptions) -> int:
    """--size, else the encoder's input_size, else its training config's data.size, else 64."""
    trained = getattr(getattr(getattr(encoder, "config", None), "data", None), "size", None)
    return int(options.size or getattr(encoder, "input_size", None) or trained or 64)


# options added after results were cached: at these values they are left out of the hash
DEFAULTS_BEFORE_THE_OPTION = {"cv": 0, "verification_center": False, "supervised_seeds": 1, "random_inits": 1}


def options_hash(options: EvalOptions, features, baselines) -> str:
    settings = {k: v for k, v in asdict(options).items() if k not in ("quiet", "device")}  # not protocol
    for key, default in DEFAULTS_BEFORE_THE_OPTION.items():  # at it, the hash stays what it was before the option
        if settings.get(key) == default:
            settings.pop(key)
    if "random" not in baselines:  # no random row: its draws change nothing (a method's cached results stay valid)
        settings.pop("random_inits", None)
    text = json.dumps({"options": settings, "features": list(features), "baselines": list(baselines)},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _say(options, text):
    if not options.quiet:
        print(text, file=sys.stderr, flush=True)


def _row(task, dataset, source: FeatureSource, choice, options, seeds):
    if task == "retrieval":  # no probe: each image against all the others
        data = dataset.images if isinstance(dataset, PairSet) else dataset
        found = retrieval.retrieval_metrics(source.choice(data, choice), retrieval.labels_for(data)[0])
        return {"metrics": aggregate([{k: v for k, v in found.items() if k != "queries"}]), "queries": found["queries"]}
    if task is None:  # verification
        return verification.evaluate(dataset, source.choice(dataset.images, choice), options)
    features = lambda part: source.choice(part.images, choice)[part.index]
    part_id = lambda part: f"{source.key(part.images)}|{choice}|{array_hash(part.index)}"
    return run_probe_task(task, features, seeds, options.device, cache=source.cache, part_id=part_id)


def build_task(task: str, test_set, train_set, options: EvalOptions):
    """The task's probe folds: its own protocol, or --cv K folds of persons over the whole set."""
    if options.cv:
        return cross_validated(BUILDERS[task], task, test_set, train_set, options, options.cv)
    return BUILDERS[task](test_set, train_set, options)


def _group(source) -> list[FeatureSource]:
    """A row's feature sources: one, or the random row's initialisations."""
    return list(source) if isinstance(source, (list, tuple)) else [source]


# a few damaged files in a large set are skipped; more than this many, and more than this share, is not damage
# but a set facessl cannot read (HEIC photos, a wrong --images) and stops the task
UNDECODABLE_TOLERATED = (10, 0.05)


def evaluate_spec(spec: TaskSpec, sources: dict, template, options: EvalOptions, choices, baselines,
                  datasets: dict, skip_missing=False) -> dict:
    """One task: every feature choice for every row (checkpoint, random), plus the supervised row, all at
    the input size of `sources` (the task's own size, else the evaluation's). A row given several sources
    (the random row's initialisations) is scored on each and pooled (pool_runs).

    An image that exists but does not decode is found when its features are computed. The task is then read
    again without such images (one checking pass decodes every image), counted and named, and run again: a damaged
    file among thousands costs a rerun of one task, not the evaluation; many of them stop the task."""
    try:
        return _evaluate_spec(spec, sources, template, options, choices, baselines, datasets, skip_missing)
    except UndecodableImage as exc:
        if skip_missing:  # the reader's checking pass ran: a file damaged since is an error
            raise
        _say(options, f"[{spec.name}] {exc.item}: cannot decode; checking every image of the task, then running it "
                      "without those that do not decode")
    return _evaluate_spec(spec, sources, template, options, choices, baselines, datasets, skip_missing,
                          skip_undecodable=True)


def _retrieval_baselines(dataset, baselines) -> dict:
    """Retrieval's floor (a random ranking's expected scores) and, as it trains nothing, no supervised row."""
    data = dataset.images if isinstance(dataset, PairSet) else dataset
    found = retrieval.chance(retrieval.labels_for(data)[0])
    rows = {"floor": {"chance": {"metrics": aggregate([{k: v for k, v in found.items() if k != "queries"}]),
                                 "floor": "chance"}}}
    if "supervised" in baselines:
        rows["supervised"] = {"unavailable": "retrieval trains nothing: no supervised row"}
    return rows


def _retrieval_info(dataset) -> dict:
    data = dataset.images if isinstance(dataset, PairSet) else dataset
    labels, key = retrieval.labels_for(data)
    _, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
    return {"images": len(data), "people": int(len(counts)), "queries": int(counts[counts >= 2].sum()),
            "matched_on": f"label {key!r}" + (" (the class folders: a folder per person)" if key == "class" else ""),
            "protocol": "leave-one-out: each image of a person with two images or more against all other images, "
                        "by cosine"}


def _without_undecodable(data, spec_name: str):
    """data without the images that do not decode, unless there are too many of them to be damage."""
    data = drop_undecodable(data)
    bad = data.dropped.get(UNDECODABLE, 0)
    images = len(data.images) if isinstance(data, PairSet) else len(data)
    tolerated, share = UNDECODABLE_TOLERATED
    if bad > tolerated and bad > share * (bad + images):
        raise FacesslError(f"{spec_name}: {bad} of {bad + images} images of {data.source} do not decode, too many to "
                           "be damaged files; convert them to JPEG or PNG, or pass --skip-missing to skip them all")
    return data


def _copies(task, test_set, train_set, options: EvalOptions) -> dict:
    """Byte-identical images across the task's split, for its info: {'copies_together': ...} when facessl drew the
    split (the copies were kept on one side), {'test_copies_of_train': ...} when the dataset gave it (kept, counted);
    {} when there are none. --cv draws its own folds and is not checked."""
    if options.cv:
        return {}
    drawn = train_set is None and split_is_drawn(test_set)
    if drawn and (test_set.meta.get("copies_together") or {}).get("kept") is not False:
        found = test_set.meta.get("copies_together")
        return {"copies_together": found} if found and found.get("count") else {}
    if len(task.folds) != 1:  # a protocol's cross-validation folds (DISFA's subjects), not one train / test split
        return {}
    fold = task.folds[0]
    train = fold.train
    if fold.val is not None and fold.val.images is train.images:  # the dataset's validation rows are fitted on too
        train = Part(train.images, np.concatenate([train.index, fold.val.index]))
    found = test_copies_of_training(train, fold.test)
    if found and drawn:  # a drawn split that could not keep them apart (whole classes of one picture): said so
        found["drawn"] = True
    return {"test_copies_of_train": found} if found else {}


def _evaluate_spec(spec: TaskSpec, sources: dict, template, options: EvalOptions, choices, baselines,
                   datasets: dict, skip_missing=False, skip_undecodable=False) -> dict:
    start = time.perf_counter()
    first = _group(next(iter(sources.values())))[0]
    size = first.size
    reader_options = split_reader_options(spec)

    def read(key):
        data = datasets[key] if key in datasets else read_dataset(key, skip_missing, reader_options[key])
        return _without_undecodable(data, spec.name) if skip_undecodable else data

    test_set = read(spec.dataset)
    if spec.task == "verification" and not isinstance(test_set, PairSet):  # a set of people without a pairs file
        test_set = pairs_from_identities(test_set)
    # a pairs task reads its training set (identities) only for the supervised row
    needed = spec.train_dataset and (spec.task != "verification" or "supervised" in baselines)
    train_set = read(spec.train_dataset) if needed else None
    for data in filter(None, (test_set, train_set)):  # say what the readers skipped before the (slow) work
        skipped = skipped_text(getattr(data, "dropped", {}), dropped_names(data), count_first=True)  # and named
        if skipped:
            _say(options, f"[{spec.name}] {data.source}: skipped {skipped}")
        if getattr(data, "meta", None) and data.meta.get("note"):  # what the reader had to assume (yolo: no class names)
            _say(options, f"[{spec.name}] {data.source}: note: {data.meta['note']}")
        same_but_case = getattr(data, "meta", None) and data.meta.get("case_only_classes")
        if same_but_case:  # kept apart, but said: the labeller may have meant one class (also in results.md)
            _say(options, f"[{spec.name}] {data.source}: note: {case_note(same_but_case)}")
    test_images = test_set.images if isinstance(test_set, PairSet) else test_set
    scenes = None if "source_file" in test_images.labels else scene_note(test_images.images)  # not --detect-faces
    if scenes:
        _say(options, f"[{spec.name}] {test_images.source}: note: {scenes}")
    if spec.task != "verification" and any(isinstance(d, PairSet) for d in (test_set, train_set)):
        raise FacesslError(f"{spec.dataset}: a pairs dataset only serves task 'verification', not {spec.task!r}")
    probed = spec.task not in ("verification", "retrieval")
    if probed and train_set is None and not options.cv:  # a drawn split: copies of a photo kept on one side
        test_set = keep_copies_together(test_set)
    task = None if spec.task == "verification" else "retrieval" if spec.task == "retrieval" else \
        with_copies_grouped(build_task(spec.task, test_set, train_set, options))  # carves keep copies together
    copies = _copies(task, test_set, train_set, options) if probed else {}
    for key, found in copies.items():
        _say(options, f"[{spec.name}] {test_images.source}: note: {copies_line(found, key == 'test_copies_of_train')}")
    if spec.features is not None:  # the suite limits this task to some of the requested choices
        choices = [c for c in choices if c in spec.features] or list(choices[:1])
    rows = {}
    for label, source in sources.items():
        rows[label] = {}
        for choice in choices:
            _say(options, f"[{spec.name}] {spec.task}: {label} {choice}")
            rows[label][choice] = pool_runs([_row(task, test_set, one, choice, options, options.seeds)
                                             for one in _group(source)])
    if task == "retrieval":
        rows.update(_retrieval_baselines(test_set, baselines))
    elif "supervised" in baselines:
        if task is None and train_set is None:
            rows["supervised"] = {"unavailable": "a pairs protocol has no training labels; a training set of "
                                                 "identities (train_dataset) gives it a supervised row"}
        elif task is None:
            _say(options, f"[{spec.name}] {spec.task}: supervised {choices[0]} (identities of {spec.train_dataset})")
            try:
                rows["supervised"] = {choices[0]: supervised_verification(
                    template, test_set, train_set, choices[0], size, options, options.supervised_seeds, cache=first.cache)}
            except FacesslError as exc:
                rows["supervised"] = {"unavailable": str(exc)}
        else:
            _say(options, f"[{spec.name}] {spec.task}: supervised {choices[0]}")
            try:
                rows["supervised"] = {choices[0]: run_supervised_task(
                    template, task, choices[0], size, options, options.supervised_seeds, cache=first.cache)}
            except FacesslError as exc:
                rows["supervised"] = {"unavailable": str(exc)}
    if task is not None and task != "retrieval":  # what ignoring the image scores: every table's floor
        rows["floor"] = {FLOOR_NAMES[task.probe.kind]: run_floor(task)}
    info = {} if task is None else _retrieval_info(test_set) if task == "retrieval" else dict(task.info)
    if scenes:
        info["not_face_crops"] = scenes
    info.update(copies)
    drawn = isinstance(test_set, PairSet) and test_set.images.meta.get("pairs_drawn")
    if drawn:  # no pairs file: say how the pairs were drawn (evaluate/pairs.py)
        images = test_set.images.images  # the pairs themselves, so a study of one's own can score the same ones
        name = (lambda i: int(i)) if isinstance(images, np.ndarray) else (lambda i: str(images[i]))  # in memory: rows
        info["pairs_drawn"] = {**drawn, "pairs": int(len(test_set.pairs)), "list": [
            [name(a), name(b), bool(same), int(fold)]
            for (a, b), same, fold in zip(test_set.pairs, test_set.same, test_set.fold)]}
    for key, data in (("dropped", test_set), ("train_dropped", train_set)):
        if getattr(data, "dropped", None):
            info[key] = data.dropped  # rows a reader skipped (missing images, |angle| > 99 ...)
            names = dropped_names(data)  # and which (up to imagefiles.NAMES_KEPT per reason)
            if names:
                info[f"{key}_names"] = names
    return {"name": spec.name, "task": spec.task, "dataset": spec.dataset, "train_dataset": spec.train_dataset,
            "input_size": size, "info": info, "rows": rows, "evaluated": _evaluated(spec, first, test_set, train_set),
            "seconds": round(time.perf_counter() - start, 3)}


def _absolute_dataset(text: str | None) -> str | None:
    """FORMAT:PATH with the path absolute, as `facessl eval` records the datasets (settings.tasks, commands/eval.py)."""
    if not text:
        return None
    fmt, _, path = str(text).partition(":")
    return f"{fmt}:{Path(path).resolve()}" if path else str(text)


class _AbsoluteName(str):
    """An image's name made absolute for the fingerprint, keeping what dataset_fingerprint reads of it (a face box,
    the container file of an image inside one)."""


def _absolute_item(item):
    if isinstance(item, np.ndarray) or not isinstance(item, (str, os.PathLike)):
        return item
    if hasattr(item, "file"):  # `<file>#<key>` (insightface_rec.RecordImage): the file's part made absolute
        file = os.fspath(item.file)
        text = str(item)
        name = _AbsoluteName(os.path.abspath(file) + text[len(file):] if text.startswith(file) else
                             f"{os.path.abspath(file)}|{text}")
    else:
        name = _AbsoluteName(os.path.abspath(os.fspath(item)))
    if hasattr(item, "box"):
        name.box = item.box
    if hasattr(item, "file"):
        name.file = os.path.abspath(os.fspath(item.file))
    return name


def images_fingerprint(source: FeatureSource, data) -> str:
    """cache.dataset_fingerprint of the images evaluated (their names, sizes and modification times, in order; an
    in-memory set's bytes) with every path absolute, so that two evaluations of one dataset from two working folders
    agree: the feature cache's own (computed once per image list) where the set's paths are absolute already."""
    images = data.images
    absolute = os.path.isabs(str(data.source or "/")) and (isinstance(images, np.ndarray) or all(
        os.path.isabs(os.fspath(getattr(i, "file", i))) for i in images if isinstance(i, (str, os.PathLike))))
    if absolute:
        held = getattr(source, "_fingerprint", None)  # the feature cache's, computed once per image list
        return held(data) if held is not None else dataset_fingerprint(data)
    items = images if isinstance(images, np.ndarray) else [_absolute_item(i) for i in images]
    return dataset_fingerprint(ImageSet(items, source=os.path.abspath(data.source) if data.source else ""))


def _evaluated(spec: TaskSpec, source: FeatureSource, test_set, train_set) -> dict:
    """What results.json says was evaluated, for `facessl compare`: each dataset by absolute path and the
    fingerprint of its images (images_fingerprint), the path options (--images, --pairs) made absolute."""
    found = {"dataset": _absolute_dataset(spec.dataset)}
    for key, data in (("fingerprint", test_set), ("train_fingerprint", train_set)):
        if data is not None:
            found[key] = images_fingerprint(source, data.images if isinstance(data, PairSet) else data)
    if spec.train_dataset:
        found["train_dataset"] = _absolute_dataset(spec.train_dataset)
    for key in ("images", "pairs_file"):  # as typed in settings.tasks[].options; here as the folder they named
        value = (spec.options or {}).get(key)
        if isinstance(value, (str, os.PathLike)) and str(value):
            found[key] = os.path.abspath(os.fspath(value))
    return found


def evaluate(encoder, specs: list[TaskSpec], options: EvalOptions, features=None, baselines=BASELINES,
             cache: FeatureCache | None = None, datasets: dict | None = None, build_random=None,
             checkpoint: dict | None = None, skip_missing: bool = False, keep_going: bool = False,
             checkpoint_row: bool = True) -> dict:
    """Every spec for the checkpoint and the requested baselines. keep_going: a task that fails with a
    FacesslError is recorded with its 'error' and the others still run (suites). checkpoint_row=False:
    the baselines alone (`encoder` then only gives the architecture), e.g. while the runs still train."""
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise FacesslError(f"unknown baseline {unknown[0]!r}; expected {', '.join(BASELINES)}")
    names = tuple(getattr(encoder, "feature_names", ("fs",)))
    requested = list(features or names[:1])
    choices, lacking = available_choices(encoder, requested)
    if not choices:
        raise FacesslError(f"none of the features {', '.join(requested)} exist; this encoder has {', '.join(names)}")
    for choice in lacking:
        _say(options, f"note: feature {choice!r} skipped (this encoder has {', '.join(names)})")
    if not checkpoint_row and "random" not in baselines:
        raise FacesslError("nothing to evaluate: no checkpoint row and no random-weights row")
    size = input_size(encoder, options)
    merged = _merge_same_features(encoder, choices, {spec.size or size for spec in specs} or {size})
    for alias, original in merged.items():
        _say(options, f"note: feature {alias!r} is the very same numbers as {original!r} for this model at this "
                      f"input size; probed once, as {original!r}")
    if options.random_inits < 1:
        raise FacesslError(f"random_inits must be >= 1, got {options.random_inits}")
    if build_random is not None:
        random_init = "given builder"
    else:  # the architecture's own init, whoever calls (the demo, a study, `facessl eval`)
        build_random = architecture_builder(encoder)
        random_init = ("the architecture as its config builds it" if build_random is not None
                       else "a re-initialised copy (PyTorch's default init)")
    random_weights = [random_encoder(encoder, RANDOM_SEED + k, build_random) for k in range(options.random_inits)] \
        if "random" in baselines else None
    sources_by_size = {}

    def sources_at(task_size: int) -> dict:
        """The rows' feature sources at one input size (a task may have its own: TaskSpec.size)."""
        if task_size not in sources_by_size:
            common = dict(size=task_size, cache=cache, device=options.device, amp=options.amp, quiet=options.quiet)
            rows = {"checkpoint": FeatureSource(encoder, label="checkpoint", **common)} if checkpoint_row else {}
            if random_weights is not None:
                rows["random"] = [FeatureSource(weights, label="random" if k == 0 else f"random #{k + 1}", **common)
                                  for k, weights in enumerate(random_weights)]
            sources_by_size[task_size] = rows
        return sources_by_size[task_size]

    sources_at(size)
    start = time.perf_counter()
    tasks = []
    for spec in specs:
        try:
            tasks.append(evaluate_spec(spec, sources_at(spec.size or size), encoder, options, choices, baselines,
                                       datasets or {}, skip_missing))
        except FacesslError as exc:
            if not keep_going:
                raise
            _say(options, f"[{spec.name}] {spec.task}: FAILED: {exc}")
            tasks.append({"name": spec.name, "task": spec.task, "dataset": spec.dataset,
                          "train_dataset": spec.train_dataset, "error": str(exc), "rows": {}})
    all_sources = [one for rows in sources_by_size.values() for source in rows.values() for one in _group(source)]
    for source in all_sources:
        source.verify_unchanged()
    protocol = SELECTED_ON_TEST if options.paper_protocol else (
        "weight decay (of " + ", ".join(f"{w:g}" for w in options.weight_decays) + ")"
        + (" and epoch" if options.select_epoch else " at the last epoch")
        + " chosen on a validation split (the dataset's own where it gives one, else carved from the training data,"
        + " grouped by person where the data names one);"
        + " for classes by the validation cross-entropy")
    return json_safe({
        "facessl_version": facessl.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "checkpoint": {**(checkpoint or {}), "weights_hash": sources_at(size)["checkpoint"].weights if checkpoint_row else None},
        "eval_config": {**asdict(options), "features": choices, "skipped_features": lacking,
                        **({"same_features": merged} if merged else {}),
                        "baselines": list(baselines), "input_size": size},
        "baseline_inits": {  # where the baselines' weights came from (provenance; not part of the hash)
            "random": {"init": random_init, "seeds": [RANDOM_SEED + k for k in range(options.random_inits)]}
            if "random" in baselines else None,
            "supervised": "a re-initialised copy (PyTorch's default init), seed k for its run k" if "supervised" in baselines else None},
        "eval_config_hash": options_hash(options, choices, baselines),
        "paper_protocol": options.paper_protocol,
        "protocol": protocol,
        "tasks": tasks,
        "timing": {"total_seconds": round(time.perf_counter() - start, 3),
                   "extract_seconds": round(sum(s.extract_seconds for s in all_sources), 3)},
        "cache": {"dir": None if cache is None or cache.root is None else str(cache.root),
                  "hits": 0 if cache is None else cache.hits, "misses": 0 if cache is None else cache.misses,
                  "probe_hits": 0 if cache is None else cache.probe_hits,
                  "probe_misses": 0 if cache is None else cache.probe_misses},
    })


def _merge_same_features(encoder, choices: list[str], sizes: set) -> dict[str, str]:
    """Drop from `choices` (in place) each feature that equals another chosen one at every input size used
    (FAb-Net's F_s is its embedding for the paper's encoder), so a table never shows one probe twice."""
    same_at = getattr(encoder, "same_features", None)
    if same_at is None:
        return {}
    common = None
    for size in sizes:
        pairs = set(same_at(size).items())
        common = pairs if common is None else common & pairs
    merged = {alias: original for alias, original in sorted(common or ()) if alias in choices and original in choices}
    for alias in merged:
        choices.remove(alias)
    return merged


def json_safe(obj):
    """NaN/inf -> None (strict JSON), numpy scalars -> Python numbers, recursively."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
