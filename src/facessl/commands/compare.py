"""`facessl compare EVAL_DIR EVAL_DIR ...`: the results of several `facessl eval --out` folders in one table per task.

    facessl compare eval/simclr eval/pcl eval/fabnet [--out compare.md]

Each folder's checkpoint rows become rows named after the folder (`simclr fs`, `pcl ff+fp` ...). Every folder's
baselines are kept, named after the folders they belong to (`random weights (simclr)`, `supervised (pcl)`): a
random-weights row scores the architecture of its own checkpoint, so a SimCLR row is read against SimCLR's random
weights, not FAb-Net's. A baseline two folders share to the last digit (same architecture, same numbers) is shown
once, naming both; the floor (it depends on the test labels alone) is one plain `floor` row unless the folders'
floors differ.

Only evaluations whose numbers are comparable are put side by side; otherwise the command stops on one line naming
the two folders and the first setting that differs, with both values:
  - the tasks (kind, dataset by absolute path, training dataset, input size);
  - the protocol settings (seeds, --balanced, --size, epochs, weight decays, ...);
  - the dataset options that pick the images and labels (--images, --min-class-count, --group, --label-column ...;
    --images as the folder it names: as results.json records it absolute, else resolved from the folder each
    evaluation ran in where results.json tells it);
  - what the evaluation tested on: the classes kept, the train / validation / test rows (and pairs, clips ...);
  - the images themselves: the fingerprint results.json records per task (tasks[].evaluated: the names, sizes and
    modification times of the files, in order, as the feature cache keys them; the dataset and --images by
    absolute path), so a dataset changed in place between two evaluations is refused.
A setting an older results.json does not record is not refused on: the output says it could not be checked.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from facessl.errors import FacesslError

BASELINE_ROWS = ("random", "supervised", "floor")
BASELINE_NAMES = {"random": "random weights", "supervised": "supervised", "floor": "floor"}
NOT_PROTOCOL = ("features", "skipped_features", "same_features", "baselines", "quiet", "device")
# what a task was tested on (results.json tasks[].info): any difference means other test rows
DATA_INFO = (("class_names", "classes kept"), ("classes", "number of classes"), ("columns", "target columns"),
             ("aus", "action units"), ("attributes", "attributes"), ("train_rows", "train rows"),
             ("val_rows", "validation rows"), ("test_rows", "test rows"), ("test_clips", "test clips"),
             ("images", "images"), ("people", "people"), ("queries", "queries"), ("split", "split"))
FLAG_OPTIONS = ("images", "image_column", "label_column", "target_columns", "point_columns", "group", "group_column",
                "split_column", "test_fraction", "min_class_count", "variant", "label_regex", "box_columns",
                "box_format", "detect_faces")
PATH_OPTIONS = ("images", "pairs_file")  # dataset options naming a file or folder, relative to where eval ran
UNKNOWN = object()  # a relative path whose folder cannot be told


def add_arguments(p) -> None:
    p.add_argument("folders", nargs="+", metavar="EVAL_DIR", help="folders written by facessl eval --out")
    p.add_argument("--out", default=None, help="also write the tables to this .md file")


def run(args) -> int:
    from facessl.engine.io import write_text_atomic
    from facessl.evaluate import tables

    if len(args.folders) < 2:
        raise FacesslError("compare needs two eval folders or more")
    loaded = [(folder, _results(Path(folder))) for folder in args.folders]
    names = _row_names([Path(folder) for folder, _ in loaded])
    first = loaded[0][1]
    unchecked: dict[str, list[str]] = {}  # folder -> what its results.json does not record
    for folder, results in loaded[1:]:
        _check_comparable(loaded[0][0], first, folder, results, unchecked)
    checkpoints = [r.get("checkpoint") or {} for _, r in loaded]
    config = {k: v for k, v in (first.get("eval_config") or {}).items() if k not in ("same_features", "skipped_features")}
    inits = {kind: next((r["baseline_inits"][kind] for _, r in loaded if (r.get("baseline_inits") or {}).get(kind)),
                        None) for kind in ("random", "supervised")}
    merged = {**first, "tasks": [], "eval_config": config, "baseline_inits": inits, "checkpoint": {
        "path": "; ".join(f"{name} = {c.get('path', '?')}" for name, c in zip(names, checkpoints)),
        "weights_hash": ", ".join(str(c.get("weights_hash")) for c in checkpoints)}}
    for k, task in enumerate(first["tasks"]):
        merged["tasks"].append(_merged_task(task, [(name, r["tasks"][k], r) for name, (_, r) in zip(names, loaded)]))
    text = tables.render(merged).replace("# facessl linear evaluation", "# facessl: evaluations compared", 1)
    extra = _header_lines(names, [r for _, r in loaded], unchecked)
    if extra:
        head, sep, rest = text.partition("\n\n### ")
        text = head + "\n" + "\n".join(extra) + sep + rest if sep else text.rstrip("\n") + "\n" + "\n".join(extra) + "\n"
    print(text, end="")
    if args.out:
        write_text_atomic(Path(args.out), text)
        print(f"wrote {args.out}")
    return 0


def _merged_task(task: dict, per_eval: list[tuple[str, dict, dict]]) -> dict:
    """One task's rows from every evaluation: the checkpoints' rows under the folders' names, then every
    evaluation's baselines under `random weights (name)` ..., one row for baselines identical to the last digit."""
    rows: dict = {}
    for name, other, _ in per_eval:
        if (other.get("rows") or {}).get("checkpoint"):
            rows[name] = other["rows"]["checkpoint"]
    notes = list((task.get("info") or {}).get("notes") or [])
    for kind in BASELINE_ROWS:
        groups: dict[str, list[list]] = {}  # feature -> [[result, [names], baseline init], ...]
        unavailable = []
        for name, other, results in per_eval:
            for feature, result in ((other.get("rows") or {}).get(kind) or {}).items():
                if feature == "unavailable":
                    unavailable.append((name, result))
                    continue
                same = next((g for g in groups.setdefault(feature, []) if _same_baseline(kind, g[0], result)
                             and g[2] == _init(results, kind)), None)
                if same is None:
                    groups[feature].append([result, [name], _init(results, kind)])
                else:
                    same[1].append(name)
        shared = kind == "floor" and all(len(g) == 1 for g in groups.values())
        for feature, found in groups.items():
            for result, owners, _ in found:
                label = BASELINE_NAMES[kind] if shared else f"{BASELINE_NAMES[kind]} ({', '.join(owners)})"
                rows.setdefault(label, {})[feature] = result
                if kind == "supervised" and isinstance(result, dict):  # render() reads them under 'supervised' only
                    notes += [note for key in ("people_check", "training") if result.get(key)
                              for note in [f"{label} row — {result[key]}"] if note not in notes]
        for name, why in unavailable:
            rows.setdefault(f"{BASELINE_NAMES[kind]} ({name})", {})["unavailable"] = why
    info = {**(task.get("info") or {}), **({"notes": notes} if notes else {})}
    return {**task, "rows": rows, **({"info": info} if task.get("info") is not None or notes else {})}


def _same_baseline(kind: str, a, b) -> bool:
    """Two evaluations' baseline rows are one row when every number is the same (per seed): the same architecture
    drawn with the same seeds, probed the same way (or the same floor of the same test labels)."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return a == b
    keys = ("metrics", "floor") if kind == "floor" else ("metrics",)
    return all(json.dumps(a.get(k), sort_keys=True, default=str) == json.dumps(b.get(k), sort_keys=True, default=str)
               for k in keys)


def _init(results: dict, kind: str):
    return json.dumps((results.get("baseline_inits") or {}).get(kind), sort_keys=True, default=str)


def _header_lines(names: list[str], loaded: list[dict], unchecked: dict[str, list[str]]) -> list[str]:
    """What render() takes from the first evaluation only or finds under the plain baseline names: each evaluation's
    feature aliases and skipped features, the supervised rows' learning rates, and what could not be checked."""
    lines = []
    for name, results in zip(names, loaded):
        config = results.get("eval_config") or {}
        for alias, original in (config.get("same_features") or {}).items():
            lines.append(f"- {name}: feature {alias} is the very same numbers as {original} for this model, probed "
                         f"once (as {original})")
        skipped = config.get("skipped_features") or []
        if skipped:
            lines.append(f"- {name}: feature{'s' * (len(skipped) != 1)} {', '.join(skipped)} skipped: not in this "
                         "checkpoint")
    rates: dict[float, list] = {}
    for results in loaded:
        for t in results.get("tasks", []):
            for row in ((t.get("rows") or {}).get("supervised") or {}).values():
                if isinstance(row, dict) and row.get("lr") is not None and t.get("name") not in rates.get(row["lr"], []):
                    rates.setdefault(row["lr"], []).append(t["name"])
    if rates:
        lines.append("- supervised learning rate (Adam): "
                     + "; ".join(f"{lr:g} ({', '.join(map(str, task_names))})" for lr, task_names in sorted(rates.items())))
    for folder, what in unchecked.items():
        lines.append(f"- not checked, as its results.json does not record it (written by an older facessl): "
                     f"{'; '.join(what)} of {folder}")
    return lines


def _results(folder: Path) -> dict:
    path = folder / "results.json"
    if not path.is_file():
        raise FacesslError(f"{folder}: no results.json (expected a folder written by facessl eval --out)")
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise FacesslError(f"{path}: not readable results ({exc})") from None
    if not isinstance(results, dict) or not isinstance(results.get("tasks"), list) \
            or not all(isinstance(t, dict) for t in results["tasks"]):
        raise FacesslError(f"{path}: not the results of facessl eval (expected a 'tasks' list)")
    return results


def _row_names(folders: list[Path]) -> list[str]:
    """The folders' own names, or their last two parts where two share a name (runs/a/eval, runs/b/eval)."""
    names = [f.resolve().name for f in folders]
    if len(set(names)) < len(names):
        names = ["/".join(f.resolve().parts[-2:]) for f in folders]
    if len(set(names)) < len(names):
        raise FacesslError(f"the same eval folder is given twice: {folders[names.index(names[-1])]}")
    return names


def _settings_tasks(r: dict) -> list | None:
    given = (r.get("settings") or {}).get("tasks") if isinstance(r.get("settings"), dict) else None
    return given if isinstance(given, list) and len(given) == len(r["tasks"]) else None


def _check_comparable(folder_a: str, a: dict, folder_b: str, b: dict, unchecked: dict[str, list[str]]) -> None:
    def not_recorded(folder: str, what: str) -> None:
        if what not in unchecked.setdefault(folder, []):
            unchecked[folder].append(what)

    def refuse(what: str, value_a, value_b, why: str = "their numbers are not comparable") -> None:
        raise FacesslError(f"{folder_a} and {folder_b} are not comparable: {what} {value_a} in {folder_a}, "
                           f"{value_b} in {folder_b}; {why}")

    # datasets by absolute path where both recorded them (two working folders, one dataset); else as given
    given_a, given_b = _settings_tasks(a), _settings_tasks(b)
    both = given_a is not None and given_b is not None
    for folder, given in ((folder_a, given_a), (folder_b, given_b)):
        if given is None:
            not_recorded(folder, "the datasets' absolute paths and dataset options (--images, --min-class-count ...)")

    def tasks(r, given):
        return [(t.get("name"), t.get("task"), g.get("dataset"), g.get("train_dataset"), t.get("input_size"))
                for t, g in zip(r["tasks"], given if both else r["tasks"])]

    if tasks(a, given_a) != tasks(b, given_b):
        shown = lambda t: f"{t[0]} ({t[1]}) on {t[2]}" + (f" trained on {t[3]}" if t[3] else "") + f" at {t[4]} px"
        differs = next((f"{shown(y)} against {shown(x)}" for x, y in zip(tasks(a, given_a), tasks(b, given_b))
                        if x != y), f"{len(b['tasks'])} tasks against {len(a['tasks'])}")
        raise FacesslError(f"{folder_b} evaluated other tasks than {folder_a} ({differs}): compare evaluations of the "
                           "same datasets")
    settings = lambda r: {k: v for k, v in (r.get("eval_config") or {}).items() if k not in NOT_PROTOCOL}
    sa, sb = settings(a), settings(b)
    for key in sorted(set(sa) ^ set(sb)):  # a setting an older facessl did not write: unknown, not different
        not_recorded(folder_b if key in sa else folder_a, f"eval setting {key}")
    changed = [k for k in sorted(set(sa) & set(sb)) if sa[k] != sb[k]]
    if changed:
        shown = "; ".join(f"{k}: {sa.get(k)!r} in {folder_a}, {sb.get(k)!r} in {folder_b}" for k in changed[:3])
        raise FacesslError(f"the evaluations used other protocol settings ({shown}): their numbers are not comparable")
    for k, (ta, tb) in enumerate(zip(a["tasks"], b["tasks"])):
        name = ta.get("name") or f"task {k + 1}"
        if both:  # the dataset options that pick the images and the labels
            oa, ob = (_options(r["tasks"][k], g[k]) for r, g in ((a, given_a), (b, given_b)))
            for key in [*oa, *(key for key in ob if key not in oa)]:
                if UNKNOWN in (oa.get(key, (None,))[0], ob.get(key, (None,))[0]):
                    for folder, o in ((folder_a, oa), (folder_b, ob)):
                        if o.get(key, (None,))[0] == UNKNOWN:
                            not_recorded(folder, f"{name} {_flag(key)} {o[key][1]} (relative to the folder eval ran "
                                                 "in, which results.json does not tell here)")
                elif oa.get(key, (None,))[0] != ob.get(key, (None,))[0]:
                    refuse(f"{name}: {_flag(key)}", oa.get(key, (None, "not given"))[1],
                           ob.get(key, (None, "not given"))[1], "they did not evaluate the same images and labels, so "
                           "their numbers are not comparable")
        if ta.get("error") or tb.get("error"):
            continue
        ia, ib = ta.get("info") or {}, tb.get("info") or {}
        for key, what in DATA_INFO:
            if key in ia and key in ib:
                if ia[key] != ib[key]:
                    refuse(f"{name}: {what}", _shown(ia[key]), _shown(ib[key]),
                           "they did not test on the same rows, so their numbers are not comparable")
            elif key in ia or key in ib:
                not_recorded(folder_b if key in ia else folder_a, f"{name} {what}")
        pa, pb = _pairs(ta), _pairs(tb)
        if pa is not None and pb is not None and pa != pb:
            refuse(f"{name}: pairs scored", pa, pb, "they did not test on the same pairs, so their numbers are not "
                   "comparable")
        ea, eb = (t.get("evaluated") if isinstance(t.get("evaluated"), dict) else {} for t in (ta, tb))
        for key, what in (("fingerprint", "images"), ("train_fingerprint", "training images")):
            if ea.get(key) and eb.get(key):
                if ea[key] != eb[key]:
                    dataset = eb.get("train_dataset" if key.startswith("train") else "dataset") or "the dataset"
                    refuse(f"{name}: the fingerprint of the {what} ({dataset}: names, sizes, modification times)",
                           ea[key], eb[key], "the files differ (or were rewritten since), so their numbers are not "
                           "comparable")
            elif ea.get(key) or eb.get(key):
                not_recorded(folder_b if ea.get(key) else folder_a, f"{name} fingerprint of the {what}")


def _options(task: dict, given: dict) -> dict:
    """The dataset options of one task, {key: (value compared, value shown)}: paths (--images) as the folder they
    name, resolved from the folder eval ran in where the dataset's two spellings in results.json tell it."""
    options = dict(given.get("options") or {}) if isinstance(given.get("options"), dict) else {}
    fmt, _, path = str(given.get("dataset") or "").partition(":")
    base = _working_folder(str(task.get("dataset") or ""), str(given.get("dataset") or ""))
    recorded = task.get("evaluated") if isinstance(task.get("evaluated"), dict) else {}
    out = {}
    for key, value in options.items():
        if key in PATH_OPTIONS and isinstance(value, str) and value:
            if isinstance(recorded.get(key), str) and os.path.isabs(recorded[key]):  # made absolute where eval ran
                full = os.path.normpath(recorded[key])
                out[key] = (full, full if full == value else f"{value} ({full})")
            elif os.path.isabs(value) or base is not None:
                full = os.path.normpath(os.path.join(base or "", value))
                out[key] = (full, full if full == value else f"{value} ({full})")
            else:  # relative to a folder results.json does not tell: the same words may name other folders
                out[key] = (UNKNOWN, repr(value))
            continue
        out[key] = (json.dumps(value, sort_keys=True, default=str), repr(value))
    if "images" not in out and fmt == "csv" and path:  # the image column is read relative to the CSV's folder
        folder = os.path.dirname(os.path.normpath(path))
        out["images"] = (folder, f"not given (the CSV's folder, {folder})")
    return out


def _working_folder(as_given: str, absolute: str) -> str | None:
    """The folder eval ran in: the one the dataset path as given (csv:photos/legend.csv) is relative to, to give
    the absolute one recorded (csv:/work/photos/legend.csv); None where that cannot be told."""
    given_path = as_given.partition(":")[2] if as_given.partition(":")[0] == absolute.partition(":")[0] else as_given
    full = os.path.normpath(absolute.partition(":")[2])
    if not given_path or os.path.isabs(given_path) or not os.path.isabs(full):
        return None
    for parent in Path(full).parents:
        if os.path.normpath(os.path.join(parent, given_path)) == full:
            return str(parent)
    return None


def _flag(key: str) -> str:
    """The eval flag of a dataset option (facessl.commands.eval.DATASET_OPTIONS); a --reader-option by its key."""
    if key == "pairs_file":
        return "--pairs"
    return "--" + key.replace("_", "-") if key in FLAG_OPTIONS else f"--reader-option {key}"


def _shown(value) -> str:
    if isinstance(value, list):
        return f"{len(value)} ({', '.join(map(str, value))})"
    return str(value)


def _pairs(task: dict):
    """The number of pairs a verification task scored (its test rows), from the first row that records it."""
    return next((r["pairs"] for by_feature in (task.get("rows") or {}).values() if isinstance(by_feature, dict)
                 for r in by_feature.values() if isinstance(r, dict) and r.get("pairs")), None)
