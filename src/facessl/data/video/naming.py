"""Where an input's faces go in the output tree: `<identity>/<video>/<track>/<frame>.jpg`.

A VoxCeleb2 clip `id00012/21Uxsk56VDQ/00001.mp4` keeps its names: identity id00012, video
21Uxsk56VDQ, track 00001 (more faces in the clip: 00001_02, 00001_03 ...). Any other video is
its own identity (nothing says who is in it): `talks/2019/a.mp4` -> identity `talks-2019-a`,
video `a`, tracks 00001, 00002 ... A face seen in the same frame as another is another person: such a
track goes to `talks-2019-a.p2/a/00002` (person 2 of that video; `people_of_tracks`), so that a pair drawn
from one identity is never two people standing side by side. Faces that never share a frame stay one
person, as nothing tells them apart. Photos mirror the input tree: `a/b.png` -> `a/b.jpg`.

One rule cleans every name (`clean`): letters of any script, digits and `. - _` stay, anything
else becomes `_`, and a name never starts with `_ . -` (readers skip such entries as private or
hidden). Two inputs that would still share an output (`clip.mov` and `clip.m4v`, `a b.jpg` and
`a_b.jpg`, or names that differ only in case, the same file on macOS and Windows) are told apart
by `-<hash of the input path>` on all but the first in sorted order. Names given in earlier runs
are kept, so a rerun with more inputs never renames or overwrites what is already written.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from pathlib import PurePosixPath

VOXCELEB_ID = re.compile(r"id\d+")
PERSON_SUFFIX = re.compile(r"\.p\d+$")  # person_identity's mark of a video's second, third ... person
UNSAFE = re.compile(r"[^\w.-]+")  # \w is Unicode: 张三 and Élodie stay; undecodable bytes (surrogates) do not
MAX_BYTES = 120  # well under the 255-byte name limit, with room for a hash suffix


def clean(text: str) -> str:
    # NFC: macOS hands out decomposed accents, whose combining marks \w would drop
    name = UNSAFE.sub("_", unicodedata.normalize("NFC", text)).lstrip("_.-")
    return name.encode()[:MAX_BYTES].decode("utf-8", "ignore") or "unnamed"


def _claim(base: str, rel: str, taken: set, where=lambda name: name) -> str:
    """base, or base-<hash of rel> when base is taken (compared case-insensitively); marks the result taken."""
    digest = hashlib.sha1(rel.encode("utf-8", "surrogateescape")).hexdigest()
    for name in itertools.chain((base, f"{base}-{digest[:8]}"), (f"{base}-{digest}-{i}" for i in itertools.count(2))):
        if where(name).casefold() not in taken:
            taken.add(where(name).casefold())
            return name


def video_place(rel: str) -> tuple[str, str, str | None]:
    """(identity, video, clip) for a video path relative to the input root; clip is None outside VoxCeleb2."""
    p = PurePosixPath(rel)
    parts = p.parts
    if len(parts) >= 3 and VOXCELEB_ID.fullmatch(parts[-3]):
        return parts[-3], clean(parts[-2]), clean(p.stem)
    identity = clean("-".join((*parts[:-1], p.stem)))  # one clean of the whole: a deep path stays one short name
    return identity, clean(p.stem), None


def video_places(rels: list[str], before: dict) -> dict[str, tuple]:
    """rel -> (identity, video, clip), unique; `before` (rel -> place of an earlier run) is kept and reserved."""
    taken = {_video_key(*place).casefold() for place in before.values()}
    places = {}
    for rel in sorted(rels):
        if rel in before:
            places[rel] = tuple(before[rel])
            continue
        identity, video, clip = video_place(rel)
        if clip is None:  # a video of its own is an identity of its own: no two share one
            if PERSON_SUFFIX.search(identity):  # `a.p2.mp4` beside `a.mp4` would take a.mp4's second person's name
                taken.add(identity.casefold())
            places[rel] = (_claim(identity, rel, taken), video, None)
        else:
            places[rel] = (identity, video, _claim(clip, rel, taken, lambda c: _video_key(identity, video, c)))
    return places


def _video_key(identity, video, clip) -> str:
    return identity if clip is None else f"{identity}/{video}/{clip}"


def people_of_tracks(frames_of_tracks: list[set]) -> list[int]:
    """The person (1, 2, ...) of each track, given the frame indices each was seen in: tracks that share a frame are
    different people; each track takes the lowest person none of whose tracks shares a frame with it (in order of
    appearance, so the first face seen is person 1)."""
    people: list[int] = []
    for frames in frames_of_tracks:
        busy = {person for person, other in zip(people, frames_of_tracks) if frames & other}
        people.append(next(p for p in itertools.count(1) if p not in busy))
    return people


def person_identity(identity: str, person: int) -> str:
    """The video's identity for person 1, `<identity>.p<k>` for the others (a name `clean` keeps)."""
    return identity if person == 1 else f"{identity}.p{person}"


def track_name(clip: str | None, number: int) -> str:
    """number is 1-based among the tracks written for this input."""
    if clip is None:
        return f"{number:05d}"
    return clip if number == 1 else f"{clip}_{number:02d}"


def photo_place(rel: str) -> str:
    """`a/b c.png` -> `a/b_c.jpg` (folders kept as they are: they may be the user's labels)."""
    p = PurePosixPath(rel)
    return str(p.parent / clean(p.stem)) + ".jpg"


def photo_places(rels: list[str], before: dict) -> dict[str, str]:
    """rel -> output path (`a/b.jpg`), unique; `before` (rel -> output of an earlier run) is kept and reserved."""
    taken = {name.removesuffix(".jpg").casefold() for name in before.values()}
    return {rel: before[rel] if rel in before else _claim(photo_place(rel)[:-4], rel, taken) + ".jpg"
            for rel in sorted(rels)}
