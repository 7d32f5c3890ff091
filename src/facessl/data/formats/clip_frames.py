"""The frame folders of video clip sets (DFEW, FERV39k, MAFW): a clip's frames in numeric order, and a bounded
walk below a root to find the parts of a release unpacked in folders of their own."""
from __future__ import annotations

import os
import re
from pathlib import Path

from facessl.data.formats.imagefiles import IMAGE_SUFFIXES, unnested

LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
MISSING = "clip listed but not on disk"
EMPTY = "clip folder without frames"


def folders_below(root: Path, depth: int, descend):
    """(level, folder, subfolder names, file names) of root and of the folders up to `depth` levels below it,
    breadth first, each listed once (os.scandir: no stat per file). Only subfolders for which descend(name) is
    true are entered; DIR/DIR counts as one folder (unnested); hidden folders and __MACOSX/ are passed over."""
    level = [Path(root)]
    for d in range(depth + 1):
        below = []
        for folder in level:
            dirs, files = [], []
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name.startswith(".") or entry.name == "__MACOSX":
                            continue
                        try:
                            (dirs if entry.is_dir() else files).append(entry.name)
                        except OSError:
                            continue
            except OSError:  # a file, or unreadable: nothing below it
                continue
            dirs.sort()
            files.sort()
            yield d, folder, dirs, files
            below += [unnested(folder / name) for name in dirs if descend(name)]
        level = below


def frame_files(folder: Path) -> list[Path]:
    """A clip's frame images in numeric order of the last number in their names (10.jpg after 9.jpg)."""
    with os.scandir(folder) as entries:
        files = [Path(e.path) for e in entries
                 if not e.name.startswith(".") and Path(e.name).suffix.lower() in IMAGE_SUFFIXES and e.is_file()]
    number = lambda p: int(m.group(1)) if (m := LAST_NUMBER.search(p.stem)) else -1
    return sorted(files, key=lambda p: (number(p), p.name))


def frame_rows(chosen, folder_of, n_frames: int) -> tuple[dict, dict]:
    """The rows of listed clips: for each (clip, label, split) of `chosen`, `n_frames` frames of its folder
    (folder_of(clip), None when it is not on disk) evenly spaced (the centres of equal segments). Returns
    ({'images', 'label', 'clip', 'split'}: one list entry per row, the counts of clips skipped (missing or empty))."""
    from facessl.data.video.clip_faces import evenly_spaced

    rows = {"images": [], "label": [], "clip": [], "split": []}
    dropped = {MISSING: 0, EMPTY: 0}
    for clip, label, part in chosen:
        folder = folder_of(clip)
        files = frame_files(folder) if folder is not None else []
        if not files:
            dropped[MISSING if folder is None else EMPTY] += 1
            continue
        for i in evenly_spaced(len(files), n_frames):
            for key, value in zip(rows, (str(files[i]), label, clip, part)):
                rows[key].append(value)
    return rows, {k: v for k, v in dropped.items() if v}
