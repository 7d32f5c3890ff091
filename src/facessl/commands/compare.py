"""`facessl compare EVAL_DIR EVAL_DIR ...`: the results of several `facessl eval --out` folders in one table per task.

    facessl compare eval/simclr eval/pcl eval/fabnet [--out compare.md]

Each folder's checkpoint rows become rows named after the folder (`simclr fs`, `pcl ff+fp` ...); the baselines
(random weights, supervised, floor) are shown once, from the first folder that has them. Only evaluations of the
same tasks (datasets, by absolute path) with the same protocol settings are put side by side: otherwise their
numbers are not comparable, and the command names the first setting that differs.
"""
from __future__ import annotations

import json
from pathlib import Path

from facessl.errors import FacesslError

BASELINE_ROWS = ("random", "supervised", "floor")
NOT_PROTOCOL = ("features", "skipped_features", "same_features", "baselines", "quiet", "device")


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
    for folder, results in loaded[1:]:
        _check_comparable(loaded[0][0], first, folder, results)
    checkpoints = [r.get("checkpoint") or {} for _, r in loaded]
    merged = {**first, "tasks": [], "checkpoint": {
        "path": "; ".join(f"{name} = {c.get('path', '?')}" for name, c in zip(names, checkpoints)),
        "weights_hash": ", ".join(str(c.get("weights_hash")) for c in checkpoints)}}
    for k, task in enumerate(first["tasks"]):
        rows = {}
        for name, (_, results) in zip(names, loaded):
            other = results["tasks"][k]
            if other.get("rows", {}).get("checkpoint"):
                rows[name] = other["rows"]["checkpoint"]
            for label in BASELINE_ROWS:
                if label in other.get("rows", {}) and label not in rows:
                    rows[label] = other["rows"][label]
        merged["tasks"].append({**task, "rows": rows})
    text = tables.render(merged).replace("# facessl linear evaluation", "# facessl: evaluations compared", 1)
    print(text, end="")
    if args.out:
        write_text_atomic(Path(args.out), text)
        print(f"wrote {args.out}")
    return 0


def _results(folder: Path) -> dict:
    path = folder / "results.json"
    if not path.is_file():
        raise FacesslError(f"{folder}: no results.json (expected a folder written by facessl eval --out)")
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise FacesslError(f"{path}: not readable results ({exc})") from None
    if not isinstance(results, dict) or not isinstance(results.get("tasks"), list):
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


def _check_comparable(folder_a: str, a: dict, folder_b: str, b: dict) -> None:
    def tasks(r):  # datasets by absolute path where eval recorded them: two working folders, one dataset
        given = (r.get("settings") or {}).get("tasks") or r["tasks"]
        return [(t.get("name"), t.get("task"), g.get("dataset"), g.get("train_dataset"), t.get("input_size"))
                for t, g in zip(r["tasks"], given)]

    if tasks(a) != tasks(b):
        shown = lambda t: f"{t[0]} ({t[1]}) on {t[2]}" + (f" trained on {t[3]}" if t[3] else "") + f" at {t[4]} px"
        differs = next((f"{shown(y)} against {shown(x)}" for x, y in zip(tasks(a), tasks(b)) if x != y),
                       f"{len(b['tasks'])} tasks against {len(a['tasks'])}")
        raise FacesslError(f"{folder_b} evaluated other tasks than {folder_a} ({differs}): compare evaluations of the "
                           "same datasets")
    settings = lambda r: {k: v for k, v in (r.get("eval_config") or {}).items() if k not in NOT_PROTOCOL}
    sa, sb = settings(a), settings(b)
    changed = [k for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]
    if changed:
        shown = "; ".join(f"{k}: {sa.get(k)!r} in {folder_a}, {sb.get(k)!r} in {folder_b}" for k in changed[:3])
        raise FacesslError(f"the evaluations used other protocol settings ({shown}): their numbers are not comparable")
