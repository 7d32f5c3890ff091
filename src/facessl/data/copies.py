"""Byte-identical images: one photo filed twice (under two names, or in `surprise/` and `surprise /`). Two copies on
both sides of a split score the model on an image it was fitted on; as a same-person pair they score 1 whatever the
model. Used by the readers' seeded splits (copies are kept on one side), evaluation (given splits: counted) and the
drawn verification pairs (evaluate/pairs.py).

The check is cheap: files are compared by size (one stat each), then only files of one size by the hash of their
first 4 KiB, then only those whose heads match by the hash of the whole file. Images held in memory (FER-2013's
pixel rows) are compared the same way: by shape and pixel sum first, then by the hash of their bytes. Anything else
(a face box of a file, a frame inside a container) is never a copy.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

HEAD = 4096  # bytes hashed before a whole file is


def _is_file(item) -> bool:
    """A whole image file: not a face box of one (BoxedImage is a str with a box) nor an item inside a container."""
    return isinstance(item, (str, os.PathLike)) and not hasattr(item, "box") and not hasattr(item, "open_bytes")


class Copies:
    """Which items (paths or in-memory arrays) are byte-identical; sizes and hashes are kept between questions."""

    def __init__(self, items):
        self.items = items
        self.sizes: dict[int, int | None] = {}
        self.digests: dict[tuple[int, bool], bytes | None] = {}

    def _size(self, row: int):
        if row not in self.sizes:
            try:
                self.sizes[row] = os.stat(self.items[row]).st_size
            except (OSError, TypeError, ValueError):
                self.sizes[row] = None
        return self.sizes[row]

    def _digest(self, row: int, whole: bool):
        """sha1 of the file's first HEAD bytes, or of all of it; None when it cannot be read."""
        if (row, whole) not in self.digests:
            try:
                digest = hashlib.sha1()
                with open(self.items[row], "rb") as f:
                    if whole:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            digest.update(block)
                    else:
                        digest.update(f.read(HEAD))
                self.digests[row, whole] = digest.digest()
            except (OSError, TypeError, ValueError):
                self.digests[row, whole] = None
        return self.digests[row, whole]

    def _array_digest(self, row: int):
        if (row, True) not in self.digests:
            item = np.ascontiguousarray(self.items[row])
            self.digests[row, True] = hashlib.sha1(f"{item.shape}{item.dtype}".encode() + item.tobytes()).digest()
        return self.digests[row, True]

    def same(self, a: int, b: int) -> bool:
        x, y = self.items[a], self.items[b]
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            return x.shape == y.shape and bool(np.array_equal(x, y))
        if not (_is_file(x) and _is_file(y)):
            return False
        size = self._size(a)
        if size is None or size != self._size(b):
            return False
        return all(self._digest(a, whole) is not None and self._digest(a, whole) == self._digest(b, whole)
                   for whole in ((False, True) if size > HEAD else (False,)))

    def key(self, row: int, stage: int):
        """What rows are told apart by at each stage (0: size, 1: head hash, 2: whole hash); None: never a copy."""
        item = self.items[row]
        if isinstance(item, np.ndarray):
            return (item.shape, int(item.sum(dtype=np.int64))) if stage == 0 else self._array_digest(row)
        if not _is_file(item):
            return None
        size = self._size(row)
        if size is None or stage == 0:
            return size
        if stage == 2 and size <= HEAD:  # the head was the whole file
            return self._digest(row, False)
        return self._digest(row, stage == 2)

    def groups(self, rows=None, wanted=None) -> list[np.ndarray]:
        """Sets (each two rows or more, sorted) of byte-identical items among `rows` (default all). wanted(rows):
        whether a candidate set is worth narrowing further (e.g. it spans two sides of a split); it lets most rows
        go unhashed."""
        rows = np.arange(len(self.items)) if rows is None else np.asarray(rows, dtype=np.int64)
        candidates = [rows]
        for stage in range(3):
            narrowed = []
            for members in candidates:
                by_key: dict = {}
                for r in members.tolist():
                    key = self.key(r, stage)
                    if key is not None:
                        by_key.setdefault(key, []).append(r)
                narrowed += [np.asarray(m) for m in by_key.values()
                             if len(m) >= 2 and (wanted is None or wanted(np.asarray(m)))]
            candidates = narrowed
        return sorted(candidates, key=lambda m: int(m[0]))


def compared_items(images) -> list | np.ndarray:
    """What two rows of an ImageSet are compared by: the picture each row was read from (--detect-faces crops keep
    it as label 'source_file'), else the row's image (a path or an in-memory array)."""
    source = images.labels.get("source_file")
    return [str(s) for s in source] if source is not None else images.images


def joined_groups(groups, sets: list[np.ndarray]) -> np.ndarray:
    """`groups` with the groups of each set of copies (Copies.groups) joined into one (the first of them), so that
    a grouped split keeps every copy of a photo, and the rest of its group, on one side."""
    groups = np.asarray(groups).astype(str)
    if not sets:
        return groups
    parent: dict = {}

    def root(g):
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    for members in sets:
        first = root(groups[members[0]])
        for r in members[1:].tolist():
            other = root(groups[r])
            if other != first:
                parent[other] = first
    return np.array([root(g) for g in groups.tolist()])


def drawn_keeping_copies(draw, items, labels, groups, root) -> tuple[np.ndarray, dict]:
    """(split, meta) of a reader's seeded split: draw(groups) with the groups of byte-identical files joined, and
    together_meta. A set whose copies fill whole classes (a toy set of one repeated picture per class) cannot keep
    them apart without leaving a class untested: it is drawn as before, and meta says the copies were not kept
    together ('kept': False), so that evaluation counts them as for a given split."""
    sets = Copies(items).groups()
    split = draw(joined_groups(groups, sets))
    meta = together_meta(items, sets, root)
    if sets:
        plain = draw(np.asarray(groups).astype(str))
        if _tested(plain, labels) - _tested(split, labels):
            split, meta["copies_together"]["kept"] = plain, False
    return split, meta


def _tested(split, labels) -> set:
    return set(np.asarray(labels)[np.asarray(split) == "test"].tolist())


def together_meta(items, sets: list[np.ndarray], root) -> dict:
    """A reader's meta for a split drawn with copies joined: {'split_drawn': True, 'copies_together': {'count': rows
    that copy an earlier row, 'first': the names of the first two copies or None}} (evaluation says it, inspect too)."""
    first = [shown_name(items, int(sets[0][0]), root), shown_name(items, int(sets[0][1]), root)] if sets else None
    return {"split_drawn": True,
            "copies_together": {"count": int(sum(len(m) - 1 for m in sets)), "first": first}}


def shown_name(items, row: int, root) -> str:
    """A row for a message: its file's path below the dataset's folder (or the CSV's), else the path as it is; an
    in-memory image by its row."""
    item = items[row]
    if not _is_file(item) and not isinstance(item, str):
        return f"row {row}"
    base = Path(root) if root else None
    if base is not None and base.is_file():
        base = base.parent
    try:
        return Path(str(item)).relative_to(base).as_posix() if base is not None else str(item)
    except ValueError:
        return str(item)
