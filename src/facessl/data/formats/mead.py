"""MEAD, the Multi-view Emotional Audio-visual Dataset (Wang et al., ECCV 2020), as distributed (one folder per
speaker, its archives unpacked in it):

    MEAD/M003/video.tar, audio.tar               what the download holds per speaker (M actor, W actress)
    MEAD/M003/video/front/angry/level_1/001.mp4  video.tar unpacked: view / emotion / level_N / take number
    MEAD/M003/audio/angry/level_1/001.m4a        audio.tar unpacked (not read)

Views (seven cameras recording one take at once): front, down, left_30, left_60, right_30, right_60, top. Emotions:
angry, contempt, disgusted, fear, happy, neutral, sad, surprised; levels level_1 ... level_3 (neutral has level_1
only). The root holds the speaker folders (M003, W009 ...; up to two folders below the path given are searched, so
`MEAD/` or the folder above it are read too); in a speaker folder the views are looked for in `video/`, in the
folder itself (copies that drop the video/ level, `M003/front/angry/level_1/001.mp4`) and in `video/video/` (the
tar unpacked into a folder of its own name). A speaker folder holding video.tar but no views is one error saying
to unpack it; a speaker folder without video (audio.tar only) is skipped and counted. Folder names are matched in
any case; a file below a view folder not in the form emotion/level_N/NNN.mp4 is skipped and counted
(meta['unrecognised_files'] names the first few).

Option view: front (default: the frontal camera, as the talking-face and expression work on MEAD reads it), one of
the others, a comma list (`front,left_30`), or all. The views of one take are one performance filmed at once:
they share the speaker, so the speaker-grouped split keeps them on one side. Classes: the eight emotions present,
in the order above. Labels per clip: 'class', 'clip', 'group' = 'speaker' (M003), 'sex' (male for M, female for W),
'level' (1-3) and 'view'. Split: seeded, stratified by emotion, grouped by speaker (test_fraction, seed; MEAD
gives no split); `test_speakers=M003,W009` tests the speakers listed.

Sources (read, not copied): the MEAD project page (wywu.github.io/projects/MEAD: 60 actors, 8 emotions, 3 levels
except neutral, 7 views) and uniBruce/Mead README (one folder per actor named MXXX / WXXX); loaders that read the
unpacked tree as `<speaker>/video/<view>/<emotion>/level_<n>/<id>.mp4` (the camera list down, front, left_30,
left_60, right_30, right_60, top and emotion list angry ... surprised) and EMOTE's data processing
(radekd91/inferno), whose resampled copy drops the video/ level (`M003/front/angry/level_1/001`).
"""
from __future__ import annotations

import re
from pathlib import Path

from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION
from facessl.data.formats.imagefiles import wrapped_folders
from facessl.data.formats.videoclips import Clip, clip_set, crop_settings, people_held_out
from facessl.data.video.decode import VIDEO_EXTENSIONS
from facessl.errors import DataFormatError, FacesslError

READER = "mead"
EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
VIEWS = ("front", "down", "left_30", "left_60", "right_30", "right_60", "top")
SPEAKER = re.compile(r"[MW]\d{3}", re.IGNORECASE)
LEVEL = re.compile(r"level_?([123])", re.IGNORECASE)
TAKE = re.compile(r"\d{1,4}")
NOT_MEAD = "file not in the MEAD form <view>/<emotion>/level_N/NNN.mp4"
NO_VIDEO = "speaker folder without video (audio only)"
EXAMPLE = "M003/video/front/angry/level_1/001.mp4"
SHOWN_UNRECOGNISED = 10


def read_mead(root, view="front", test_speakers=None, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
              min_class_count: int = 0, frames=4, size=128, margin=0.25, crop="detect", cache=None, workers=None):
    """MEAD clips as face rows (see the module doc): 8 emotion classes, grouped by speaker."""
    settings = crop_settings(READER, frames, size, margin, crop)
    views = _views(view)
    tested = _test_speakers(test_speakers)
    root = Path(root)
    speakers = _speaker_folders(root)
    clips, dropped, unrecognised, found_views = [], {}, [], set()
    for speaker in speakers:
        view_folders = _view_folders(speaker)
        if not view_folders:
            if any(p.name.lower() == "video.tar" for p in speaker.iterdir()):
                raise DataFormatError(speaker / "video.tar", f"not unpacked: run `tar -xf video.tar` in "
                                                             f"{speaker.name}/ (it holds "
                                                             f"video/<view>/<emotion>/level_N/NNN.mp4)")
            _count(dropped, NO_VIDEO)
            continue
        found_views.update(view_folders)
        for name in views:
            if name in view_folders:
                clips += _view_clips(view_folders[name], speaker.name.upper(), name, dropped, unrecognised, root)
    if not clips:
        raise DataFormatError(root, _nothing_found(views, found_views, unrecognised, dropped))
    clips, split_from = people_held_out(clips, tested, lambda c: c.group, root, "the test_speakers option", "speaker")
    meta = {"views": list(views), "speakers": len({c.group for c in clips})}
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    present = {c.label for c in clips}
    return clip_set(clips, root, READER, settings, cache=cache, workers=workers,
                    class_names=[e for e in EMOTIONS if e in present], min_class_count=min_class_count,
                    test_fraction=test_fraction, seed=seed, split_from=split_from, meta=meta, dropped=dropped)


def _count(dropped: dict, reason: str) -> None:
    dropped[reason] = dropped.get(reason, 0) + 1


def _views(view) -> tuple[str, ...]:
    """The views asked for: 'front', 'front,left_30', a list, or 'all'."""
    items = view.split(",") if isinstance(view, str) else list(view) if isinstance(view, (list, tuple)) else [view]
    names = [str(v).strip().lower() for v in items if str(v).strip()]
    if names == ["all"]:
        return VIEWS
    unknown = [v for v in names if v not in VIEWS]
    if unknown or not names:
        raise FacesslError(f"{READER} view {view!r}: expected all or some of {', '.join(VIEWS)}")
    return tuple(v for v in VIEWS if v in names)


def _test_speakers(test_speakers) -> set[str] | None:
    if test_speakers is None:
        return None
    items = test_speakers.split(",") if isinstance(test_speakers, str) else (
        test_speakers if isinstance(test_speakers, (list, tuple)) else [test_speakers])
    names = {str(s).strip().upper() for s in items if str(s).strip()}
    bad = sorted(s for s in names if not SPEAKER.fullmatch(s))
    if bad or not names:
        raise FacesslError(f"{READER} test_speakers {test_speakers!r}: expected speaker folders such as M003,W009")
    return names


def _speaker_folders(root: Path) -> list[Path]:
    """The speaker folders (M003, W009 ...): the root itself, or folders up to two levels below it."""
    if not root.is_dir():
        raise DataFormatError(root, f"MEAD folder not found (expected the speaker folders: {EXAMPLE})")
    found, seen = [], set()
    for folder in wrapped_folders(root):
        if SPEAKER.fullmatch(folder.name) and folder.name.upper() not in seen:
            seen.add(folder.name.upper())
            found.append(folder)
    if not found:
        raise DataFormatError(root, f"no MEAD speaker folder (M003, W009 ...) here or up to 2 folders below "
                                    f"(expected {EXAMPLE})")
    return found


def _subfolders(folder: Path) -> dict[str, Path]:
    """Lower-cased name -> subfolder (hidden folders and __MACOSX passed over)."""
    try:
        return {p.name.lower(): p for p in sorted(folder.iterdir())
                if p.is_dir() and not p.name.startswith(".") and p.name != "__MACOSX"}
    except OSError:
        return {}


def _view_folders(speaker: Path) -> dict[str, Path]:
    """View name -> folder of a speaker: in video/, in the speaker folder itself, or in video/video/."""
    for candidate in (speaker / "video", speaker, speaker / "video" / "video"):
        views = {name: path for name, path in _subfolders(candidate).items() if name in VIEWS}
        if views:
            return views
    return {}


def _view_clips(folder: Path, speaker: str, view: str, dropped: dict, unrecognised: list, root: Path) -> list[Clip]:
    """The clips below one view folder: <emotion>/level_N/NNN.mp4."""
    from facessl.data.frames import walk_files

    clips = []
    for rel in walk_files(folder):
        parts = rel.split("/")
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        emotion, level, name = parts if len(parts) == 3 else ("", "", "")
        level_match = LEVEL.fullmatch(level)
        stem, _, suffix = name.rpartition(".")
        if (emotion.lower() not in EMOTIONS or level_match is None or not TAKE.fullmatch(stem)
                or f".{suffix.lower()}" not in VIDEO_EXTENSIONS):
            _count(dropped, NOT_MEAD)
            unrecognised.append((folder / rel).relative_to(root).as_posix())
            continue
        labels = {"speaker": speaker, "sex": "male" if speaker.startswith("M") else "female",
                  "level": int(level_match.group(1)), "view": view}
        clips.append(Clip(folder / rel, emotion.lower(), speaker, None, labels))
    return clips


def _nothing_found(views, found_views: set, unrecognised: list, dropped: dict) -> str:
    if not found_views:
        return f"no MEAD video: the speaker folders hold no view folders ({', '.join(VIEWS)}; expected {EXAMPLE})"
    if unrecognised:
        return (f"no MEAD clip in the view(s) {', '.join(views)}: {len(unrecognised)} file(s) not in the form "
                f"<view>/<emotion>/level_N/NNN.mp4 (e.g. {unrecognised[0]})")
    return f"no clip of the view(s) {', '.join(views)}; the speaker folders hold {', '.join(sorted(found_views))}"
