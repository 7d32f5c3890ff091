"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., IEEE TAFFC 2014), as distributed in
the GitHub repository CheyneyComputerScience/CREMA-D (Git LFS; a GitLab mirror holds the same files):

    CREMA-D/VideoFlash/1001_DFA_ANG_XX.flv ...   7442 clips, the Flash videos shown to the raters
    CREMA-D/AudioWAV/*.wav, AudioMP3/*.mp3       audio (not read)
    CREMA-D/VideoDemographics.csv                ActorID,Age,Sex,Race,Ethnicity (read for 'sex' when present)

File names are actor_sentence_emotion_level: actor 1001-1091 (91 actors: 48 male, 43 female); sentence one of
12 codes (IEO "It's eleven o'clock", TIE, IOM, IWW, TAI, MTI, IWL, ITH, DFA "Don't forget a jacket", ITS, TSI,
WSI); emotion ANG anger, DIS disgust, FEA fear, HAP happy, NEU neutral, SAD sad; level LO low, MD medium, HI high
(IEO only) or XX unspecified (`X`, a known misspelling, read as XX). Converted copies are read too: any folder
of such names with a video suffix (`VideoMP4/1001_DFA_ANG_XX.mp4`, the `.flv` files converted beside them). The
root is the repository clone, its VideoFlash/ (or VideoMP4/) folder, or one level above the clone; folders of
clips up to two levels below it are read. A clip present more than once (VideoFlash/ and VideoMP4/ side by side)
is read once: the original `.flv` where present, else the first copy by path, so which copies exist changes no
row. A clone made without Git LFS holds 130-byte pointer files instead of videos: those are skipped and counted,
and a copy of pointers only is one error saying to run `git lfs pull`.

Known-bad clips (the repository's issue #8: 1076_MTI_SAD_XX.flv shows no face, 1064_TIE_SAD_XX.flv has no
duration, 1064_IEO_DIS_MD.flv is a one-minute recording holding every emotion of that sentence) are skipped and
counted; 1076_MTI_NEU_XX (silent, its video fine) is kept. A video whose name is not in this form is skipped and
counted (meta['unrecognised_files'] names the first few).

Classes: anger, disgust, fear, happy, neutral, sad (code order, as the loaders below index them). Labels per clip:
'class', 'clip', 'group' (the actor, '1001'), 'actor' (1001-1091), 'level' (low, medium, high, unspecified),
'sentence' (the code), 'fold' (0-4: HiCMAE's five actor folds, 18 actors each in order, the last 19: fold K tests
actors 1001+18K ...; `facessl eval --cv 5` runs them) and 'sex' (from VideoDemographics.csv, when it lies beside
the video folder or at the root; 'unknown' for an actor it does not list). Split: seeded, stratified by emotion,
grouped by actor (test_fraction, seed) by default; `fold=K` (0-4) tests that fold's actors; `test_actors=1001,1002`
tests the actors listed.

Sources (read, not copied): CheyneyComputerScience/CREMA-D (README and its project page: 7442 clips, 91 actors, 12
sentences, 6 emotions, 4 levels, VideoFlash/AudioWAV/AudioMP3 folders, git-lfs; SentenceFilenames.csv for the
names and levels; VideoDemographics.csv; issues #6 (1040_ITH_SAD_X) and #8 (the bad clips)); sunlicai/HiCMAE
preprocess/creamd_av.py (labels ANG DIS FEA HAP NEU SAD as 0-5, five folds of 18 actors with the last one 19, the
four broken samples left out); the Cao et al. paper.
"""
from __future__ import annotations

import re
from pathlib import Path

from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION
from facessl.data.formats.imagefiles import whole_number, wrapped_folders
from facessl.data.formats.text import column_index, read_csv
from facessl.data.formats.videoclips import Clip, clip_set, crop_settings, people_held_out
from facessl.data.video.decode import VIDEO_EXTENSIONS
from facessl.errors import DataFormatError, FacesslError

READER = "cremad"
EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified", "X": "unspecified"}
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
FIRST_ACTOR, LAST_ACTOR = 1001, 1091
N_FOLDS, FOLD_ACTORS = 5, 18  # HiCMAE: 91 actors in 5 folds of 18, the last fold 19
NAME = re.compile(r"(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{1,2})")
KNOWN_BAD = {"1076_MTI_SAD_XX": "no face in the video", "1064_TIE_SAD_XX": "no duration",
             "1064_IEO_DIS_MD": "one minute holding every emotion of the sentence"}
KNOWN_BAD_REASON = "known-bad clip (CREMA-D issue #8)"
NOT_CREMAD = "video name not in the CREMA-D form"
LFS_POINTER = "Git LFS pointer file, not a video"
DEMOGRAPHICS = "VideoDemographics.csv"
EXAMPLE = "VideoFlash/1001_DFA_ANG_XX.flv"
SHOWN_UNRECOGNISED = 10


def fold_of(actor: int) -> int:
    """HiCMAE's fold (0-4) whose test set holds the actor."""
    return min((actor - FIRST_ACTOR) // FOLD_ACTORS, N_FOLDS - 1)


def read_cremad(root, fold=None, test_actors=None, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
                min_class_count: int = 0, frames=4, size=128, margin=0.25, crop="detect", cache=None, workers=None):
    """CREMA-D clips as face rows (see the module doc): 6 emotion classes, grouped by actor."""
    settings = crop_settings(READER, frames, size, margin, crop)
    tested, split_from = _test_actors(fold, test_actors)
    root = Path(root)
    folders = _clip_folders(root)
    copies, dropped, unrecognised, pointers = {}, {}, [], []
    for folder in folders:
        for path in _video_files(folder):
            name = _name(path.stem)
            if name is None:
                _count(dropped, NOT_CREMAD)
                unrecognised.append(_shown(path, root))
            elif _is_lfs_pointer(path):
                pointers.append(path)
            else:
                copies.setdefault(name, []).append(path)
    if pointers and not copies:
        raise DataFormatError(pointers[0], "a Git LFS pointer, not the video: the clone was made without Git LFS "
                                           "(run `git lfs pull` in it, or clone with git-lfs installed)")
    pointed = {_name(p.stem) for p in pointers} - set(copies)  # a clip whose only copy is a pointer
    if pointed:
        dropped[LFS_POINTER] = len(pointed)
    sexes = _sexes([root, *folders, *(f.parent for f in folders)])
    clips, duplicates = [], 0
    for name in sorted(copies):
        paths = sorted(copies[name], key=lambda p: (p.suffix.lower() != ".flv", str(p)))  # the original first
        duplicates += len(paths) - 1
        if name in KNOWN_BAD:
            _count(dropped, KNOWN_BAD_REASON)
            continue
        clips.append(_clip(paths[0], name, sexes))
    if not clips:
        raise DataFormatError(root, _nothing_found(unrecognised, dropped))
    clips, split_from = people_held_out(clips, tested, lambda c: c.labels["actor"], root, split_from, "actor", _span)
    meta = {"video_folders": [_shown(f, root) for f in folders]}
    if duplicates:
        meta["duplicate_copies_not_read"] = duplicates
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    present = {c.label for c in clips}
    return clip_set(clips, root, READER, settings, cache=cache, workers=workers,
                    class_names=[e for e in EMOTIONS.values() if e in present], min_class_count=min_class_count,
                    test_fraction=test_fraction, seed=seed, split_from=split_from, meta=meta, dropped=dropped)


def _count(dropped: dict, reason: str) -> None:
    dropped[reason] = dropped.get(reason, 0) + 1


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def _name(stem: str) -> str | None:
    """The clip's canonical name (1001_DFA_ANG_XX; a level X read as XX) when each code is valid, else None."""
    match = NAME.fullmatch(stem)
    if match is None:
        return None
    actor, sentence, emotion, level = match.groups()
    sentence, emotion, level = sentence.upper(), emotion.upper(), level.upper()
    if not (FIRST_ACTOR <= int(actor) <= LAST_ACTOR and sentence in SENTENCES and emotion in EMOTIONS
            and level in LEVELS):
        return None
    return f"{actor}_{sentence}_{emotion}_{'XX' if level == 'X' else level}"


def _clip(path: Path, name: str, sexes: dict | None) -> Clip:
    actor, sentence, emotion, level = name.split("_")
    labels = {"actor": int(actor), "level": LEVELS[level], "sentence": sentence, "fold": fold_of(int(actor))}
    if sexes is not None:
        labels["sex"] = sexes.get(int(actor), "unknown")
    return Clip(path, EMOTIONS[emotion], actor, None, labels)


def _video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.lower().endswith(VIDEO_EXTENSIONS)
                  and not p.name.startswith(".") and p.is_file())


def _holds_clips(folder: Path) -> bool:
    try:
        return any(NAME.fullmatch(p.stem) for p in _video_files(folder))
    except OSError:
        return False


def _clip_folders(root: Path) -> list[Path]:
    """The folders holding CREMA-D clips: the root, or folders up to two levels below it (VideoFlash/ ...)."""
    if not root.is_dir():
        raise DataFormatError(root, f"CREMA-D folder not found (expected the repository clone holding {EXAMPLE})")
    folders = [f for f in wrapped_folders(root) if _holds_clips(f)]
    if folders:
        return folders
    audio = any(f.name.lower() in ("audiowav", "audiomp3") for f in wrapped_folders(root))
    raise DataFormatError(root, "no CREMA-D videos here or up to 2 folders below (expected " + EXAMPLE +
                          ("; only AudioWAV/ or AudioMP3/ found: the faces need VideoFlash/" if audio else "") + ")")


def _is_lfs_pointer(path: Path) -> bool:
    """A Git LFS pointer file (a clone made without git-lfs): a few lines of text instead of the video."""
    try:
        if path.stat().st_size > 1024:
            return False
        with open(path, "rb") as handle:
            return handle.read(64).startswith(b"version https://git-lfs")
    except OSError:
        return False


def _sexes(folders: list[Path]) -> dict | None:
    """ActorID -> Male / Female of the first VideoDemographics.csv found among the folders, else None."""
    for folder in dict.fromkeys(folders):
        path = folder / DEMOGRAPHICS
        if path.is_file():
            header, rows = read_csv(path, DEMOGRAPHICS)
            actor, sex = (column_index(header, c, path, DEMOGRAPHICS) for c in ("ActorID", "Sex"))
            found = {}
            for line, fields in rows:
                if not fields[actor].isdigit():
                    raise DataFormatError(path, f"ActorID {fields[actor]!r}: expected a number such as 1001", line)
                found[int(fields[actor])] = fields[sex].lower() or "unknown"
            return found
    return None


def _nothing_found(unrecognised: list[str], dropped: dict) -> str:
    if unrecognised and len(dropped) == 1:
        return (f"no CREMA-D clips: {len(unrecognised)} video(s) not named like 1001_DFA_ANG_XX.flv "
                f"(e.g. {unrecognised[0]})")
    return f"no CREMA-D clip left to read ({', '.join(f'{v} {k}' for k, v in dropped.items())})"


def _test_actors(fold, test_actors) -> tuple[set[int] | None, str]:
    """(the actors the fold or test_actors option puts in test, where the split comes from); (None, 'actor'):
    the seeded split grouped by actor."""
    if fold is not None and test_actors is not None:
        raise FacesslError(f"{READER}: give fold or test_actors, not both")
    if fold is not None:
        k = whole_number(fold, READER, "fold", 0, N_FOLDS - 1, "HiCMAE's five folds of 18 actors")
        return ({a for a in range(FIRST_ACTOR, LAST_ACTOR + 1) if fold_of(a) == k},
                f"fold {k} of HiCMAE's five actor folds")
    if test_actors is None:
        return None, "actor"
    items = test_actors.split(",") if isinstance(test_actors, str) else (
        test_actors if isinstance(test_actors, (list, tuple)) else [test_actors])
    texts = [str(a).strip() for a in items if str(a).strip()]
    if not texts:
        raise FacesslError(f"{READER} test_actors {test_actors!r}: expected actor numbers such as 1001,1002")
    return ({whole_number(t, READER, "test_actors", FIRST_ACTOR, LAST_ACTOR, "actor numbers such as 1001,1002")
             for t in texts}, "the test_actors option")


def _span(actors: list[int]) -> str:
    """1001-1018 for a run of consecutive actors, else the list."""
    if len(actors) > 2 and actors[-1] - actors[0] == len(actors) - 1:
        return f"{actors[0]}-{actors[-1]}"
    return ", ".join(map(str, actors))
