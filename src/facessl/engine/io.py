"""Atomic writes: a reader never sees a half-written file or directory.

Every write goes to a hidden temporary folder `.<name>.<random>.tmp` beside its target and is
renamed into place on success. A full disk (ENOSPC, or a quota: EDQUOT) is one FacesslError naming
the target; the target's previous version is untouched. A process killed mid-write leaves its
temporary folder behind: `remove_stale_temporaries(folder)` clears them (run it where only this
process writes, e.g. at the start of a run).
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from facessl.errors import FacesslError

NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
TMP_SUFFIX = ".tmp"
TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # what tempfile.mkdtemp(prefix=".<name>.", suffix=".tmp") makes


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success rename it onto `path` (file or directory)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FacesslError(f"{path}: cannot write here, {_file_above(path)} is a file, not a folder") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent))
    target = tmp / path.name
    try:
        yield target
        if path.is_dir() and not path.is_symlink():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(target, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(target, path)
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise FacesslError(f"{path}: no space left on device while writing it "
                               f"({exc.strerror}); nothing was replaced, earlier files are intact") from None
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _file_above(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return path


def remove_stale_temporaries(folder, old_versions: bool = False) -> list[Path]:
    """Delete the temporary folders (`.<name>.<8 random characters>.tmp`) that atomic writes killed midway
    left in `folder`. old_versions (folders whose sub-folders facessl replaces, e.g. checkpoints/): a
    `.<name>.old` is put back if `<name>` is gone (killed between the two renames), else deleted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = []
    for p in sorted(folder.iterdir()):
        if not p.is_dir() or p.is_symlink():
            continue
        if TEMPORARY.fullmatch(p.name):
            shutil.rmtree(p, ignore_errors=True)
            stale.append(p)
        elif old_versions and p.name.startswith(".") and p.name.endswith(".old") and len(p.name) > 5:
            current = folder / p.name[1:-4]
            if current.exists():
                shutil.rmtree(p, ignore_errors=True)
                stale.append(p)
            else:
                os.replace(p, current)
    return stale


def write_text_atomic(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path, obj, strict: bool = False) -> None:
    """strict: NaN and infinities as the strings of NON_FINITE_TEXT, so that any JSON parser reads the file."""
    if strict:
        obj = non_finite_as_text(obj)
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=not strict) + "\n")


# JSON has no NaN or infinity: Python writes them as bare NaN / Infinity tokens, which Python reads back but strict
# parsers (jq, JavaScript, most other languages) reject. Files meant for other tools too (the demo's
# results/tables.json, verdicts.json, targets.json) hold them as these strings instead; not as null, which those
# files use for "not measured" while a non-finite value was measured (a diverged probe) and the report says so.
# Python's float() reads the strings back; non_finite_from_text turns them into numbers after json.loads.
NON_FINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def non_finite_as_text(obj):
    """obj with every NaN / infinite float (also in nested dicts, lists, tuples) as 'NaN', 'Infinity', '-Infinity'."""
    if isinstance(obj, dict):
        return {k: non_finite_as_text(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [non_finite_as_text(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    return obj


def non_finite_from_text(obj):
    """The inverse of non_finite_as_text: the strings 'NaN', 'Infinity', '-Infinity' as floats again."""
    if isinstance(obj, dict):
        return {k: non_finite_from_text(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [non_finite_from_text(v) for v in obj]
    if isinstance(obj, str) and obj in NON_FINITE_TEXT:
        return NON_FINITE_TEXT[obj]
    return obj
