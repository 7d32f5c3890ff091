"""Class folders of videos: `root/<label>/*.mp4`, optionally under `train/`, `val/`, `test/` (AFEW's
`Train_AFEW/Angry/000046280.avi`, most exports of a user's own labelled clips). The video counterpart of
`imagefolder:`: the same split folders (any spelling, `train_afew`; a train/ and val/ without test/ make val/ the
test split, as AFEW's papers report it) and archive wrappers, videos found at any depth inside a class folder.

Each clip gives `frames` face rows (formats/videoclips.py: frames evenly spaced, the largest face of each aligned as
`facessl prepare` aligns it; crops kept in a cache, so a second evaluation costs no decoding). Labels 'class'
(index into meta['class_names']), 'clip' (the classification task scores a clip by the mean of its frames' class
probabilities) and 'group'. Without split folders, a seeded split stratified by class keeps each group on one side;
a group is the clip itself unless `--group` says who is in it (a regex over the file name, or over the path below the
split folder or root when it has a '/': `--group '^(\\d+)_'` for `1001_DFA_ANG_XX.flv`).

Classes in file names or deeper folders (as imagefolder's): `--label-regex`'s first group in the file name, or in the
path below the (split) folder when it has a '/'. eNTERFACE'05 as unpacked, `subject 1/anger/sentence 1/s1_an_1.avi`:
`--label-regex '^subject \\d+/(\\w+)/' --group '^(subject \\d+)/'`; SAVEE's `AudioVisualClip/DC/sa1.avi`:
`--label-regex '^([a-z]+)\\d+\\.avi$' --group '^(\\w+)/'` pointed at AudioVisualClip/. Names it does not match are
skipped and counted.

Options: frames (4), size (128; crop side in pixels), margin (0.25, prepare's), crop (detect | whole: the centre
square of each frame, for clips that are aligned faces already), cache (folder for the crops), workers (processes),
group, label_regex, test_fraction, seed, min_class_count.
"""
from __future__ import annotations

from pathlib import Path

from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION, check_group_matches, compile_group, group_of
from facessl.data.formats.imagefolder import (below_split, class_name, folders_split_text, labelled_by_name,
                                              split_folders, through_wrappers)
from facessl.data.formats.videoclips import Clip, clip_set, crop_settings
from facessl.data.video.decode import VIDEO_EXTENSIONS
from facessl.errors import DataFormatError

def read_videofolder(root, group: str | None = None, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
                     class_names=None, min_class_count: int = 0, label_regex: str | None = None, frames=4, size=128,
                     margin=0.25, crop="detect", cache=None, workers=None):
    """Clip face rows of class folders of videos, or of videos whose names hold their class (see the module doc)."""
    settings = crop_settings("videofolder", frames, size, margin, crop)
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(root, "video folder not found (expected root/<class>/*.mp4)")
    root = through_wrappers(root, suffixes=VIDEO_EXTENSIONS)
    split_dirs, val_is_test = split_folders(root, _subfolders(root))
    dropped = {}
    if label_regex is not None:
        found, unlabelled = labelled_by_name(root, split_dirs, label_regex, walk=_videos, kind="video")
        if unlabelled:
            dropped["file name without a label (--label-regex)"] = unlabelled
    else:
        found = _labelled_by_folder(root, split_dirs)
    pattern = compile_group(group)
    below = [below_split(path, root, split_dirs) for path, _, _ in found]
    check_group_matches(pattern, below, root)
    clips = [Clip(Path(path), label, group_of(name, pattern) if pattern is not None else _same_file(path, root),
                  "test" if val_is_test and split == "val" else split)
             for (path, label, split), name in zip(found, below)]
    names = sorted({c.label for c in clips}) if class_names is None else list(class_names)
    if len(names) < 2:
        raise DataFormatError(root, f"found one class ({names[0]!r}); expected root/<class>/*.mp4 with two or more "
                                    f"class folders (or train/, test/ above them)")
    unknown = sorted({c.label for c in clips} - set(names))
    if unknown:
        raise DataFormatError(root, f"class {unknown[0]!r} is not one of {', '.join(names)}")
    return clip_set(clips, root, "videofolder", settings, cache=cache, workers=workers, class_names=names,
                    min_class_count=min_class_count, test_fraction=test_fraction, seed=seed, dropped=dropped,
                    split_from=folders_split_text(split_dirs, val_is_test) if split_dirs
                    else (f"--group '{group}'" if group else None))


def _same_file(path: str, root: Path) -> str:
    """A clip's own group: its real file, so that links to one video (whose crops the cache shares) are one group
    and never on both sides of the split."""
    import os

    return os.path.relpath(os.path.realpath(path), os.path.realpath(root))


def _labelled_by_folder(root: Path, split_dirs: dict) -> list[tuple[str, str, str | None]]:
    """(path, class folder name, split) of every video in the class folders."""
    found = []
    for split, folder in (split_dirs.items() if split_dirs else [(None, root)]):
        classes = _subfolders(through_wrappers(folder, suffixes=VIDEO_EXTENSIONS))
        if not classes:
            raise DataFormatError(folder, "no class folders found (expected <class>/*.mp4, or --label-regex for "
                                          "classes in the file names)")
        for class_folder in classes:
            videos = _videos(class_folder)
            if not videos:
                raise DataFormatError(class_folder, f"class folder {class_folder.name!r} holds no videos "
                                                    f"({', '.join(VIDEO_EXTENSIONS[:6])} ...)")
            found += [(str(video), class_name(class_folder.name), split) for video in videos]
    return found


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _videos(folder: Path) -> list[Path]:
    from facessl.data.frames import walk_files

    return [folder / rel for rel in walk_files(folder) if rel.lower().endswith(VIDEO_EXTENSIONS)
            and not Path(rel).name.startswith(".")]

