"""A cached file listing for large frame trees: the second run on a million-file tree does not walk it.

The cache records every folder's modification time. It is valid while each recorded folder still
has that time: adding, removing or renaming a file or folder changes its parent folder's time, so
checking costs one stat per folder (about 1 per 100 frames for face tracks), not one listing per
folder. Kept at `<root>/.facessl/file_index.json` (that folder is never listed; it is made before the
walk, so writing into it changes no recorded time), or under ~/.cache/facessl/ when root is read-only.
On a file system with whole-second times, a tree changed in the last 2 s is not cached (a change
in the same second could go unseen).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

VERSION = 1


def _cache_paths(root: Path) -> list[Path]:
    digest = hashlib.sha1(os.path.realpath(root).encode()).hexdigest()[:16]
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "facessl" / f"index-{digest}.json"
    try:
        (root / ".facessl").mkdir(exist_ok=True)
        return [root / ".facessl" / "file_index.json", home]
    except OSError:
        return [home]


def _valid(root: Path, cached: dict) -> bool:
    if cached.get("version") != VERSION:
        return False
    try:
        return all(os.stat(root / rel).st_mtime_ns == mtime for rel, mtime in cached["folders"].items())
    except OSError:
        return False


def cached_walk(root: Path) -> list[str]:
    from facessl.data.frames import _walk

    for path in _cache_paths(root):
        try:
            cached = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _valid(root, cached):
            return cached["files"]
    files, folders = _walk(root)
    coarse = all(t % 1_000_000_000 == 0 for t in folders.values())  # a file system with 1 s clocks
    if folders and (not coarse or max(folders.values()) < (time.time() - 2) * 1e9):
        text = json.dumps({"version": VERSION, "folders": folders, "files": files})
        for path in _cache_paths(root):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_text(text)
                os.replace(tmp, path)
                break
            except OSError:
                continue
    return files
