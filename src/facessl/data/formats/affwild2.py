"""Aff-Wild2 as distributed for the ABAW competitions (Kollias et al.): per-frame expressions, AU occurrences and
valence / arousal.

Annotations, one text file per annotated person of a video (named after the video; a video showing two people
has `<video>_left.txt` and `<video>_right.txt`):

    Annotations/EXPR_Recognition_Challenge/Train_Set/<video>.txt     ABAW 2024 on (6th ABAW Annotations/ ...)
    Annotations/EXPR_Recognition_Challenge/Validation_Set/<video>.txt
    Annotations/AU_Detection_Challenge/Train_Set/<video>.txt
    Annotations/VA_Estimation_Challenge/Train_Set/<video>.txt        (VA_Set/ in ABAW 2020-2021)
    cropped_aligned/<video>/00001.jpg                                  the released aligned face crops
    cropped_aligned_new_50_vids/<video>/00001.jpg                      the videos added in ABAW 2023

Earlier editions name the folders EXPR_Classification_Challenge (ABAW 2022-2023), EXPR_Set and AU_Set (2020-2021,
`Training_Set/` in 2020); the annotation folder is `annotations/`, `6th ABAW Annotations/` and the like, found up to
two folders below the root, as are the crop folders (also nested twice, `cropped_aligned/cropped_aligned/`).
The first line of an expression file is `Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other` (without
Other before 2022), then one class index per frame; of an AU file `AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,
AU25,AU26` (2020: AU1,AU2,AU4,AU6,AU12,AU15,AU20,AU25), then one 0/1 per AU and frame; of a VA file `valence,arousal`,
then one `v,a` pair in [-1, 1] per frame. -1 (VA: -5, as -1 is a valid value there) marks a frame that is not
annotated: dropped and counted (`dropped['unannotated']`). Line k after the header is frame k, the crop
`<video>/{k:05d}.jpg` (1-based); frames where no face was found have no crop: skipped and counted
(`dropped['no_crop']`, counted over the frames `every` keeps).

The set has ~2.6M annotated frames and neighbouring frames are near-identical: `every` (default 10) keeps every
k-th annotated frame of each annotation file. The test sets' labels were never released: Validation_Set is the
test split here (`meta['split_from']`), Train_Set the training split.
Aff-Wild2 gives no person id: 'subject' is the video name without `_left` / `_right` (the two people of one video
share it, so one video never lands on both sides of a fold) and without the part number of a video cut into
parts (`video45_1` ... `video45_7`, `122-60-1920x1080-1` ... `-5`: the same recording); otherwise one video shows
one person.
ABAW reports the concordance correlation coefficient (CCC) of valence and arousal: meta['report_ccc'] makes task
regression report it per column beside the MAE.
The static s-Aff-Wild2 of the multi-task challenges (one list of sampled frames) is another layout, not read.

Evidence (read, not copied): kuhnkeF/ABAW2020TNT `README.md` (the 2020 challenge's videos, aligned crops made
from them); dntai/dntai_fg20_affwild2_challenges `README.md` (ABAW 2020 entry: `cropped_aligned` extracted into
its data folder). Loaders found by text search (the search tool does not show their repositories): one walks
`Annotations/{AU_Detection_Challenge, EXPR_Classification_Challenge, MTL_Challenge, VA_Estimation_Challenge}/
{Train_Set, Validation_Set}` beside `cropped_aligned/`, with the class map -1 Ignored, 0 Neutral, 1 Anger,
2 Disgust, 3 Fear, 4 Happiness, 5 Sadness, 6 Surprise, 7 Other (the order read here); another keeps the
2020-2021 seven classes (no Other); another reads `/AffWild2/cropped_aligned/` for the multi-task set. Matched;
nothing changed. Unconfirmed: the 2025 (8th ABAW) folder names, assumed the same as 2024's.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import (SKIP_MISSING_HINT, every_kth, parse_number, read_lines, with_dropped,
                                            yes_no)
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError

DEFAULT_EVERY = 10
EXPR_FOLDERS = ("EXPR_Recognition_Challenge", "EXPR_Classification_Challenge", "EXPR_Set")  # newest edition first
AU_FOLDERS = ("AU_Detection_Challenge", "AU_Set")
VA_FOLDERS = ("VA_Estimation_Challenge", "VA_Set")
VA_COLUMNS = ("valence", "arousal")
VA_UNANNOTATED = -5
SET_FOLDERS = {"train": ("Train_Set", "Training_Set"), "validation": ("Validation_Set",)}
CROP_FOLDERS = ("cropped_aligned", "cropped_aligned_new_50_vids")
EXPR_CLASSES = ("neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise", "other")
EXPR_HEADER = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"
AU_HEADER = "AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,AU25,AU26"
UNANNOTATED = -1
PERSON_SUFFIX = re.compile(r"_(?:left|right)$")
PART_SUFFIX = re.compile(r"^(video\d+)_\d+$|^(\d+-\d+-\d+x\d+)-\d+$")  # video45_3, 122-60-1920x1080-3
AU_SPLITS = ("all", "train", "validation")


def subject_of(video: str) -> str:
    """The person group of an annotation name: without _left/_right and without a part number."""
    base = PERSON_SUFFIX.sub("", video)
    match = PART_SUFFIX.match(base)
    return next(g for g in match.groups() if g) if match else base


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def _search_bases(root: Path) -> list[Path]:
    """The root, its folders and theirs: where the annotation and crop folders may sit."""
    children = _subfolders(root)
    grandchildren = [g for c in children if c.name.lower() not in CROP_FOLDERS for g in _subfolders(c)]
    return [root] + children + grandchildren


def challenge_folder(root: Path, names: tuple[str, ...], what: str) -> Path:
    bases = _search_bases(root)
    for name in names:  # the newest edition's name wins where several are present
        for base in bases:
            if (base / name).is_dir():
                return base / name
    raise DataFormatError(root, f"Aff-Wild2 {what} annotations not found (expected Annotations/{names[0]}/"
                                f"Train_Set/<video>.txt, or {', '.join(names[1:])} of earlier ABAW editions, "
                                f"up to two folders below this one)")


def crop_folders(root: Path) -> list[Path]:
    """The crop folders, cropped_aligned/ first; a copy unzipped into a folder of its own name is looked into."""
    found = []
    for base in _search_bases(root):
        if base.name.lower() in CROP_FOLDERS:
            found += [c for c in _subfolders(base) if c.name.lower() == base.name.lower()] + [base]
    if not found:
        raise DataFormatError(root, "Aff-Wild2 face crops not found (expected cropped_aligned/<video>/00001.jpg "
                                    "beside the annotations, up to two folders below this one)")
    return sorted(set(found), key=lambda p: (CROP_FOLDERS.index(p.name.lower()), len(p.parts), str(p)))


def annotation_files(challenge: Path, split: str) -> list[Path]:
    folder = next((challenge / n for n in SET_FOLDERS[split] if (challenge / n).is_dir()), None)
    if folder is None:
        raise DataFormatError(challenge, f"no {SET_FOLDERS[split][0]}/ folder here")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".txt")
    if not files:
        raise DataFormatError(folder, "no annotation files (<video>.txt) in this folder")
    return files


def _header_cells(text: str) -> list[str]:
    return [c.strip() for c in text.split(",")]


def expression_classes(header: str, path: Path) -> tuple[str, ...]:
    cells = [c.lower() for c in _header_cells(header)]
    for classes in (EXPR_CLASSES, EXPR_CLASSES[:7]):  # 7 classes before 'Other' came in (ABAW 2020-2021)
        if tuple(cells) == classes:
            return classes
    raise DataFormatError(path, f"expected the header {EXPR_HEADER!r} (without ',Other' in ABAW 2020-2021), "
                                f"got {header.strip()!r}", 1)


def au_names(header: str, path: Path) -> tuple[str, ...]:
    cells = _header_cells(header)
    numbers = [re.fullmatch(r"AU0*(\d+)", c, re.IGNORECASE) for c in cells]
    if not all(numbers) or len({m.group(1) for m in numbers}) != len(cells):
        raise DataFormatError(path, f"expected a header of AU names such as {AU_HEADER!r}, got {header.strip()!r}", 1)
    return tuple(f"AU{int(m.group(1))}" for m in numbers)


def va_columns(header: str, path: Path) -> tuple[str, ...]:
    if tuple(c.lower() for c in _header_cells(header)) != VA_COLUMNS:
        raise DataFormatError(path, f"expected the header 'valence,arousal', got {header.strip()!r}", 1)
    return VA_COLUMNS


class LineReader:
    """Checks the value lines of annotation files. A release has 2.6M lines but few distinct ones (a class
    index, or 12 AU codes), so each distinct text is checked once and its values remembered."""

    missing = UNANNOTATED  # a value that marks a frame not annotated

    def __init__(self, names: tuple[str, ...], allowed: tuple[int, ...], expected: str):
        self.names, self.allowed, self.expected = names, allowed, expected
        self.seen: dict[str, tuple[int, ...]] = {}

    def values(self, text: str, path: Path, line: int) -> tuple[int, ...]:
        known = self.seen.get(text)
        if known is None:
            known = self.seen[text] = self._check(text, path, line)
        return known

    def _check(self, text: str, path: Path, line: int) -> tuple[int, ...]:
        cells = _header_cells(text)
        if len(cells) != len(self.names):
            form = "one value" if len(self.names) == 1 else f"{len(self.names)} comma-separated values"
            raise DataFormatError(path, f"expected {form} ({','.join(self.names)}), got {len(cells)}", line)
        out = []
        for cell, name in zip(cells, self.names):
            value = parse_number(cell, path, line, self._what(name), float)
            if value not in self.allowed:
                raise DataFormatError(path, f"expected {self._what(name)}, got {cell!r}", line)
            out.append(int(value))
        return tuple(out)

    def _what(self, name: str) -> str:
        return self.expected if len(self.names) == 1 else f"{self.expected} for {name}"


class VaReader:
    """Checks `valence,arousal` lines: two numbers in [-1, 1], or -5 (not annotated). Values are continuous, so
    nothing is remembered."""

    missing = VA_UNANNOTATED

    def values(self, text: str, path: Path, line: int) -> tuple[float, ...]:
        cells = _header_cells(text)
        if len(cells) != 2:
            raise DataFormatError(path, f"expected 2 comma-separated values (valence,arousal), got {len(cells)}", line)
        out = tuple(parse_number(c, path, line, f"a number for {n}", float) for c, n in zip(cells, VA_COLUMNS))
        for value, name in zip(out, VA_COLUMNS):
            if value != VA_UNANNOTATED and not -1 <= value <= 1:
                raise DataFormatError(path, f"expected {name} in [-1, 1] or -5 (not annotated), got {value:g}", line)
        return out


def read_annotation(path: Path, header_of, reader_for) -> tuple[tuple, list[tuple[int, tuple[int, ...] | None]]]:
    """(header value, [(frame, values or None when not annotated)]) of one file; line k after the header = frame k."""
    lines = read_lines(path, "Aff-Wild2 annotation file")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataFormatError(path, "empty; expected a header line, then one line per frame", 1)
    header = header_of(lines[0], path)
    reader = reader_for(header)
    frames = []
    for frame, text in enumerate(lines[1:], start=1):
        if not text.strip():
            raise DataFormatError(path, "empty line: every line after the header is one frame", frame + 1)
        values = reader.values(text.strip(), path, frame + 1)
        frames.append((frame, None if reader.missing in values else values))
    return header, frames


def crop_files(folders: list[Path], video: str) -> dict[int, str] | None:
    """{frame number: crop file} of one annotation name, from the first crop folder holding it; None if none does."""
    folder = next((f / video for f in folders if (f / video).is_dir()), None)
    if folder is None:
        return None
    crops = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            stem, suffix = os.path.splitext(entry.name)
            if stem.isdigit() and suffix.lower() in IMAGE_SUFFIXES:
                crops[int(stem)] = entry.path
    return crops


class Collector:
    """Accumulates the kept frames of the annotation files of one read, with the dropped counts."""

    def __init__(self, root: Path, every: int, skip_missing: bool):
        self.crops, self.every, self.skip_missing = crop_folders(root), every, skip_missing
        self.dropped = {"unannotated": 0, "no_crop": 0}
        self.rows: dict[str, list] = {"images": [], "values": [], "video": [], "frame": [], "split": []}

    def add_file(self, path: Path, split: str, frames, keep=lambda values: True) -> None:
        annotated = [(f, v) for f, v in frames if v is not None]
        self.dropped["unannotated"] += len(frames) - len(annotated)
        wanted = [(f, v) for f, v in annotated if keep(v)]
        kept = wanted[::self.every]
        crops = crop_files(self.crops, path.stem)
        if crops is None:
            self._missing_video(path, len(kept))
            return
        for frame, values in kept:
            image = crops.get(frame)
            if image is None:  # no face found in this frame: the release has no crop for it
                self.dropped["no_crop"] += 1
                continue
            self.rows["images"].append(image)
            self.rows["values"].append(values)
            self.rows["video"].append(path.stem)
            self.rows["frame"].append(frame)
            self.rows["split"].append(split)

    def _missing_video(self, path: Path, n_frames: int) -> None:
        if not self.skip_missing:
            raise DataFormatError(path, f"no crop folder {path.stem}/ in {', '.join(map(str, self.crops))}; "
                                        f"{SKIP_MISSING_HINT}")
        self.dropped["missing_video"] = self.dropped.get("missing_video", 0) + n_frames

    def common_labels(self, source: Path) -> dict[str, np.ndarray]:
        if not self.rows["images"]:
            raise DataFormatError(source, f"no annotated Aff-Wild2 frame with a face crop (skipped: {self.dropped})")
        videos = self.rows["video"]
        subjects = {v: subject_of(v) for v in set(videos)}
        return {"subject": np.array([subjects[v] for v in videos], dtype=str), "video": np.array(videos, dtype=str),
                "frame": np.array(self.rows["frame"], dtype=np.int64)}


class SameHeader:
    """The label list of the first file read; every other file of the read must have the same."""

    def __init__(self):
        self.first: tuple | None = None
        self.first_path: Path | None = None

    def check(self, header: tuple, path: Path) -> tuple:
        if self.first is None:
            self.first, self.first_path = header, path
        elif header != self.first:
            raise DataFormatError(path, f"the header lists {','.join(header)} but {self.first_path.name} lists "
                                        f"{','.join(self.first)}; one read needs one label list", 1)
        return header


def read_affwild2_expr(root, every: int = DEFAULT_EVERY, other: bool = True, skip_missing: bool = False) -> ImageSet:
    """Expression classes: labels 'class' (N,) index into meta['class_names'] (Aff-Wild2's order: neutral, anger,
    disgust, fear, happiness, sadness, surprise, other); 'subject', 'video', 'frame'. Split train (Train_Set) /
    test (Validation_Set). every=k keeps every k-th annotated frame of each file (default 10). other=False drops
    the frames labelled Other (dropped['other']); the seven basic classes then also give 'expression' (N,) in
    facessl's internal order, for task expression. Task classification."""
    root, every, other = Path(root), every_kth(every, "affwild2"), yes_no(other, "affwild2", "other")
    if not root.is_dir():
        raise DataFormatError(root, "Aff-Wild2 folder not found")
    challenge = challenge_folder(root, EXPR_FOLDERS, "expression")
    collector, same, other_frames = Collector(root, every, skip_missing), SameHeader(), 0
    for split, name in (("train", "train"), ("validation", "test")):
        for path in annotation_files(challenge, split):
            header, frames = read_annotation(path, expression_classes, _class_reader)
            classes = same.check(header, path)
            keep = _class_filter(classes, other)
            other_frames += sum(1 for _, v in frames if v is not None and not keep(v))
            collector.add_file(path, name, frames, keep)
    if not other and "other" in classes:
        classes = tuple(c for c in classes if c != "other")  # the last class: the others keep their index
        collector.dropped["other"] = other_frames
    labels = collector.common_labels(challenge)
    codes = np.array([v[0] for v in collector.rows["values"]], dtype=np.int64)
    labels["class"] = codes
    if all(c in EXPRESSIONS for c in classes):
        labels["expression"] = np.array([EXPRESSIONS.index(classes[c]) for c in codes], dtype=np.int64)
    meta = {"class_names": list(classes),
            "split_from": f"Aff-Wild2 {challenge.name}: Train_Set = train, Validation_Set = test (the test "
                          f"set's labels were never released); 1 in {every} annotated frames"}
    result = ImageSet(collector.rows["images"], labels, np.array(collector.rows["split"]), str(root), meta=meta)
    return with_dropped(result, collector.dropped)


def _class_filter(classes: tuple[str, ...], other: bool):
    """Whether a frame's values are kept: all of them, or (other=False) those not labelled Other."""
    return lambda values: other or classes[values[0]] != "other"


def _class_reader(classes: tuple[str, ...]) -> LineReader:
    return LineReader(("class",), tuple(range(UNANNOTATED, len(classes))),
                      f"a class index 0..{len(classes) - 1} or -1 (not annotated)")


def _au_reader(names: tuple[str, ...]) -> LineReader:
    return LineReader(names, (0, 1, UNANNOTATED), "0, 1 or -1 (not annotated)")


def _au_splits(split) -> tuple[str, ...]:
    chosen = str(split).strip().lower()
    if chosen not in AU_SPLITS:
        raise FacesslError(f"affwild2-au: split must be one of {', '.join(AU_SPLITS)}, got {split!r}")
    return ("train", "validation") if chosen == "all" else (chosen,)


def read_affwild2_au(root, every: int = DEFAULT_EVERY, split: str = "all", skip_missing: bool = False) -> ImageSet:
    """AU occurrences: labels 'aus' (N,K) 0/1 float in the files' AU order (12 AUs since ABAW 2021); 'subject',
    'video', 'frame', 'partition' ('train' / 'validation': the official set a row comes from). meta au_names,
    au_labels='occurrence' (as bp4d). split='all' (default) reads both official sets as split train / test with
    meta au_protocol='split': task au fits on Train_Set and tests on Validation_Set, ABAW's protocol (the test
    set's labels were never released). split='train' or 'validation' reads one official set only, without a
    split column: task au cross-validates it by subject. every=k keeps every k-th annotated frame of each file
    (default 10)."""
    root, every, splits = Path(root), every_kth(every, "affwild2"), _au_splits(split)
    if not root.is_dir():
        raise DataFormatError(root, "Aff-Wild2 folder not found")
    challenge = challenge_folder(root, AU_FOLDERS, "AU")
    collector, same = Collector(root, every, skip_missing), SameHeader()
    for part in splits:
        for path in annotation_files(challenge, part):
            header, frames = read_annotation(path, au_names, _au_reader)
            names = same.check(header, path)
            collector.add_file(path, part, frames)
    labels = collector.common_labels(challenge)
    values = collector.rows["values"]
    labels["aus"] = np.array(values, dtype=np.float32).reshape(len(values), len(names))
    labels["partition"] = np.array(collector.rows["split"], dtype=str)
    meta = {"au_names": list(names), "au_labels": "occurrence"}
    if len(splits) == 2:  # ABAW's protocol: fit on Train_Set, test on Validation_Set
        split = np.where(labels["partition"] == "train", "train", "test")
        meta["au_protocol"] = "split"
        meta["split_from"] = (f"Aff-Wild2 {challenge.name}: Train_Set = train, Validation_Set = test (ABAW's "
                              f"protocol); 1 in {every} annotated frames")
    else:
        split = None
        meta["split_from"] = (f"Aff-Wild2 {challenge.name} {SET_FOLDERS[splits[0]][0]}, cross-validated by subject "
                              f"(video); 1 in {every} annotated frames")
    return with_dropped(ImageSet(collector.rows["images"], labels, split, str(root), meta=meta), collector.dropped)


def read_affwild2_va(root, every: int = DEFAULT_EVERY, skip_missing: bool = False) -> ImageSet:
    """Valence / arousal: labels 'target' (N,2) float in [-1, 1], meta['target_columns'] ['valence', 'arousal'];
    'subject', 'video', 'frame'. Split train (Train_Set) / test (Validation_Set). every=k keeps every k-th
    annotated frame of each file (default 10). Task regression (MAE and ABAW's CCC per column)."""
    root, every = Path(root), every_kth(every, "affwild2")
    if not root.is_dir():
        raise DataFormatError(root, "Aff-Wild2 folder not found")
    challenge = challenge_folder(root, VA_FOLDERS, "valence / arousal")
    collector = Collector(root, every, skip_missing)
    for split, name in (("train", "train"), ("validation", "test")):
        for path in annotation_files(challenge, split):
            _, frames = read_annotation(path, va_columns, lambda header: VaReader())
            collector.add_file(path, name, frames)
    labels = collector.common_labels(challenge)
    values = collector.rows["values"]
    labels["target"] = np.array(values, dtype=np.float32).reshape(len(values), 2)
    meta = {"target_columns": list(VA_COLUMNS), "report_ccc": True,  # ABAW scores VA by the CCC
            "split_from": f"Aff-Wild2 {challenge.name}: Train_Set = train, Validation_Set = test (the test "
                          f"set's labels were never released); 1 in {every} annotated frames"}
    result = ImageSet(collector.rows["images"], labels, np.array(collector.rows["split"]), str(root), meta=meta)
    return with_dropped(result, collector.dropped)
