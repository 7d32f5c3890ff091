"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo, PLoS ONE 2018),
as distributed on Zenodo (record 1188976), one zip per actor and vocal channel:

    Video_Speech_Actor_01.zip ... _24.zip  ->  Actor_01/01-01-03-02-01-01-01.mp4, Actor_01/02-01-03-02-01-01-01.mp4 ...
    Video_Song_Actor_01.zip ... _24.zip    ->  Actor_01/01-02-...mp4 (no song for Actor_18)
    Audio_Speech_Actors_01-24.zip, Audio_Song_Actors_01-24.zip  ->  Actor_01/03-01-...wav (audio only: not read)

File names are seven two-digit codes, modality-channel-emotion-intensity-statement-repetition-actor: modality 01
full-AV (720p H.264 with AAC), 02 video-only (the same take without sound), 03 audio-only (.wav); vocal channel 01
speech, 02 song; emotion 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised
(song has neutral, calm, happy, sad, angry, fearful only); intensity 01 normal, 02 strong (none for neutral);
statement 01 "Kids are talking by the door", 02 "Dogs are sitting by the door"; repetition 01, 02; actor 01-24,
odd male, even female. 60 speech takes an actor (1440) and 44 song takes (1012, 23 actors), each as an 01 and an
02 file. Only `.mp4` files are read; the zips unpack into `Actor_XX/` (speech and song into the same folder when
unpacked side by side). The root is the folder holding the Actor_XX/ folders or one above it (each zip unpacked
into a folder of its own, `Video_Speech_Actor_01/Actor_01/`); Actor_XX/ folders up to two levels down are read.

Full-AV and video-only files are the same recording, so one take is read once, never twice (two copies would be
two clips of one take, a leak between probe folds of a clip-level score). Option modality: auto (default: the
full-AV file where the copy has it, else the video-only one, take by take, so a copy holding either or both gives
the same clips), av (01 only) or video (02 only; a take without a file of that modality is skipped and counted).
Option channel: speech (default: the face protocols in the literature read the 1440 speech takes, 8 classes),
song, or both. Classes: the emotion names above present in the chosen channel, in code order.

Labels per clip: 'class', 'clip', 'group' (Actor_01 ...), 'actor' (1-24), 'sex' (male / female from the actor
number), 'intensity' (normal / strong), 'channel' (speech / song), 'statement' (kids / dogs) and 'fold' (0-5:
the six-fold actor-independent protocol, fold K testing actors 4K+1 ... 4K+4, as HiCMAE's split01-06; `facessl
eval --cv 6` runs the six folds). Split: seeded, stratified by emotion, grouped by actor (test_fraction, seed) by
default; `fold=K` (0-5) tests that fold's four actors; `test_actors=1,2,3` tests the actors listed. A `.mp4` whose
name is not in this form (or has a code out of range) is skipped and counted; meta['unrecognised_files'] names
the first few.

Sources (read, not copied): the Zenodo record 1188976 and smartlaboratory.org/ravdess description (zips, file
counts, filename identifiers, no song for Actor_18); the PLoS ONE paper; a filename-identifier table reprinted in
J Ambient Intell Humaniz Comput 2021 (PMC7927770, Table 3); katerynaCh/multimodal-emotion-recognition (README:
Video_Speech_Actor_[01-24].zip unpacked into ACTORxx folders of 01- and 02- mp4 beside 03- wav; the label is the
third code; speech only; actor folds of four); sunlicai/HiCMAE saved/data/ravdess/audio_visual/split01-06 (speech
only, the 02 video-only files for faces, 8 classes as code-1, test actors 1-4, 5-8, ... 21-24).
"""
from __future__ import annotations

import re
from pathlib import Path

from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION
from facessl.data.formats.imagefiles import one_of, whole_number, wrapped_folders
from facessl.data.formats.videoclips import Clip, clip_set, crop_settings, people_held_out
from facessl.errors import DataFormatError, FacesslError

READER = "ravdess"
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")  # codes 01-08
INTENSITIES = ("normal", "strong")  # 01, 02
CHANNELS = ("speech", "song")  # 01, 02
STATEMENTS = ("kids", "dogs")  # 01 "Kids are talking by the door", 02 "Dogs are sitting by the door"
MODALITIES = {"av": "01", "video": "02"}  # full-AV, video-only; 03 (audio-only) is a .wav
N_ACTORS, N_FOLDS = 24, 6
NAME = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)")
ACTOR_FOLDER = re.compile(r"actor_?\d{1,2}", re.IGNORECASE)
NOT_RAVDESS = "file name not in the RAVDESS form"
EXAMPLE = "Actor_01/01-01-03-02-01-01-01.mp4"
SHOWN_UNRECOGNISED = 10


def fold_of(actor: int) -> int:
    """The fold (0-5) of the six-fold protocol whose test set holds the actor: actors 4K+1 ... 4K+4."""
    return (actor - 1) // 4


def read_ravdess(root, modality: str = "auto", channel: str = "speech", fold=None, test_actors=None,
                 test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED, min_class_count: int = 0,
                 frames=4, size=128, margin=0.25, crop="detect", cache=None, workers=None):
    """RAVDESS clips as face rows (see the module doc): classes = emotions, grouped by actor."""
    settings = crop_settings(READER, frames, size, margin, crop)
    modality = one_of(modality, ("auto", *MODALITIES), READER, "modality")
    channel = one_of(channel, (*CHANNELS, "both"), READER, "channel")
    tested, split_from = _test_actors(fold, test_actors)
    root = Path(root)
    takes, dropped, unrecognised = {}, {}, []
    for path in _videos(root):
        codes = _codes(path.stem)
        if codes is None:
            _count(dropped, NOT_RAVDESS)
            unrecognised.append(path.name)
        else:
            takes.setdefault(codes[1:], []).append((codes[0], path))
    clips, as_av, duplicates = [], 0, 0
    for key in sorted(takes):  # counted per take, so that which copies of a take exist changes no count
        files = sorted(takes[key])  # full-AV (01) first, then video-only (02); each by path
        if channel != "both" and CHANNELS[key[0] - 1] != channel:
            _count(dropped, f"{CHANNELS[key[0] - 1]} take (channel={channel})")
            continue
        if modality != "auto":
            files = [f for f in files if f"{f[0]:02d}" == MODALITIES[modality]]
            if not files:
                _count(dropped, f"take without a {'full-AV' if modality == 'av' else 'video-only'} file "
                                f"(modality={modality})")
                continue
        duplicates += len(takes[key]) - 1
        as_av += files[0][0] == 1
        clips.append(_clip(files[0][1], key))
    if not clips:
        raise DataFormatError(root, _nothing_found(unrecognised, channel, modality, dropped))
    clips, split_from = people_held_out(clips, tested, lambda c: c.labels["actor"], root, split_from, "actor")
    present = {c.label for c in clips}
    meta = {"modality": {"auto": "full-AV (01) where present, else video-only (02)", "av": "full-AV (01)",
                         "video": "video-only (02)"}[modality] + f": {as_av} takes full-AV, {len(clips) - as_av} "
                         "video-only", "channel": channel, "takes": len(clips)}
    if duplicates:
        meta["duplicate_files_not_read"] = duplicates  # the other modality (or a second copy) of a take read
    if unrecognised:
        meta["unrecognised_files"] = unrecognised[:SHOWN_UNRECOGNISED]
    return clip_set(clips, root, READER, settings, cache=cache, workers=workers,
                    class_names=[e for e in EMOTIONS if e in present], min_class_count=min_class_count,
                    test_fraction=test_fraction, seed=seed, split_from=split_from, meta=meta, dropped=dropped)


def _count(dropped: dict, reason: str) -> None:
    dropped[reason] = dropped.get(reason, 0) + 1


def _codes(stem: str) -> tuple[int, ...] | None:
    """The seven codes of a RAVDESS video name, each within its range, else None."""
    match = NAME.fullmatch(stem)
    if match is None:
        return None
    codes = tuple(int(c) for c in match.groups())
    highest = (len(MODALITIES), len(CHANNELS), len(EMOTIONS), len(INTENSITIES), len(STATEMENTS), 2, N_ACTORS)
    return codes if all(1 <= c <= h for c, h in zip(codes, highest)) else None


def _clip(path: Path, key: tuple[int, ...]) -> Clip:
    channel, emotion, intensity, statement, _, actor = key
    labels = {"actor": actor, "sex": "male" if actor % 2 else "female", "intensity": INTENSITIES[intensity - 1],
              "channel": CHANNELS[channel - 1], "statement": STATEMENTS[statement - 1], "fold": fold_of(actor)}
    return Clip(path, EMOTIONS[emotion - 1], f"Actor_{actor:02d}", None, labels)


def _videos(root: Path) -> list[Path]:
    """The .mp4 files of the Actor_XX/ folders at the root or up to two levels below it."""
    if not root.is_dir():
        raise DataFormatError(root, f"RAVDESS folder not found (expected {EXAMPLE} from Video_Speech_Actor_01.zip)")
    folders = [f for f in wrapped_folders(root) if ACTOR_FOLDER.fullmatch(f.name)]
    videos, audio = [], 0
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue  # macOS ._ files, folders
            if path.suffix.lower() == ".mp4":
                videos.append(path)
            audio += path.suffix.lower() == ".wav"
    if videos:
        return videos
    if audio:
        raise DataFormatError(root, f"the Actor_XX/ folders hold audio only ({audio} .wav files from "
                                    f"Audio_*_Actors_01-24.zip); the faces need the videos of "
                                    f"Video_Speech_Actor_XX.zip")
    where = f"{len(folders)} Actor_XX/ folders without .mp4 files" if folders else "no Actor_XX/ folder"
    raise DataFormatError(root, f"no RAVDESS videos: {where} here or up to 2 folders below (expected {EXAMPLE})")


def _nothing_found(unrecognised: list[str], channel: str, modality: str, dropped: dict) -> str:
    if not any(k != NOT_RAVDESS for k in dropped):
        return (f"no RAVDESS videos: {len(unrecognised)} .mp4 file(s) not named like 01-01-03-02-01-01-01.mp4 "
                f"(e.g. {unrecognised[0]})")
    return (f"no RAVDESS video with channel={channel}, modality={modality} "
            f"({', '.join(f'{v} {k}' for k, v in dropped.items())})")


def _test_actors(fold, test_actors) -> tuple[set[int] | None, str]:
    """(the actors the fold or test_actors option puts in test, where the split comes from); (None, 'actor'):
    the seeded split grouped by actor."""
    if fold is not None and test_actors is not None:
        raise FacesslError(f"{READER}: give fold or test_actors, not both")
    if fold is not None:
        k = whole_number(fold, READER, "fold", 0, N_FOLDS - 1,
                         "the six-fold protocol: fold K tests actors 4K+1 ... 4K+4")
        return {a for a in range(1, N_ACTORS + 1) if fold_of(a) == k}, f"fold {k} of the six-fold actor protocol"
    if test_actors is None:
        return None, "actor"
    items = test_actors.split(",") if isinstance(test_actors, str) else (
        test_actors if isinstance(test_actors, (list, tuple)) else [test_actors])
    texts = [str(a).strip().lower().removeprefix("actor_") for a in items if str(a).strip()]
    if not texts:
        raise FacesslError(f"{READER} test_actors {test_actors!r}: expected actor numbers such as 1,2,3,4")
    return ({whole_number(t, READER, "test_actors", 1, N_ACTORS, "actor numbers such as 1,2,3,4") for t in texts},
            "the test_actors option")
