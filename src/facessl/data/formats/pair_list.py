"""The pairs of a verification file as read, with what is left out and why (LFW, CPLFW, CALFW, CFP).

A pair of an image with itself (a cosine of 1 whatever the model), a 'different' pair naming one person twice and a
'same' pair of two people are skipped, counted (PairSet.dropped) and their lines named in a note
(images.meta['pair_notes']); a pair listed again is scored as listed and named; listed again with the other label,
it is an error naming both lines.
"""
from __future__ import annotations

from pathlib import Path

from facessl.errors import DataFormatError

SAME_IMAGE, ONE_PERSON, TWO_PEOPLE = "pair of an image with itself", "different pair of one person", "same pair of two people"
SHOWN = 5  # lines named per kind of pair left out


class PairList:
    """The pairs read so far (each image once, in order of first use) and those left out: a pair of an image with
    itself (a cosine of 1 whatever the model), a 'different' pair naming one person twice and a 'same' pair of two
    people (CPLFW-style files, by their Name_N.jpg names): each skipped, counted (PairSet.dropped) and its line
    named in a note (images.meta['pair_notes']). A pair listed again is scored as listed (as every evaluation of a
    released pairs file does) and named in a note; listed again with the other label, it is an error. Pairs skipped
    for a missing image (--skip-missing) are named too."""

    def __init__(self, name_of=lambda source: Path(source).name, people_from: str = "the Name_N.jpg file names"):
        """name_of(source): how a note names a pairs file (CFP: '01/same.txt'); people_from: where the people of a
        'same' pair of two people were read from."""
        self.name_of, self.people_from = name_of, people_from
        self.index: dict[str, int] = {}
        self.names: list[str] = []
        self.pairs, self.same, self.fold = [], [], []
        self.first: dict[tuple, tuple] = {}  # the pair's two files, sorted -> (file, line, is_same) where first listed
        self.left_out: dict[str, list[str]] = {}  # reason -> ['pairs.txt:3 (what)', ...]
        self.repeated: list[str] = []  # pairs listed again: scored as listed (a released protocol's count), named
        self.missing: list[str] = []  # pairs skipped for a missing image (--skip-missing), named
        self.notes: list[str] = []

    def skip(self, reason: str, source: Path, line: int, text: str) -> None:
        self.left_out.setdefault(reason, []).append(f"{self.name_of(source)}:{line} ({text})")

    def check_labels(self, files, is_same: bool, source: Path, line: int, text: str) -> None:
        """A pair listed before with the other label: an error naming both lines (one of them is wrong)."""
        first = self.first.get(tuple(sorted(map(str, files))))
        if first is not None and first[2] != is_same:
            kind = lambda same: "same-identity" if same else "different-identity"
            raise DataFormatError(source, f"this pair ({text}) is a {kind(is_same)} pair here and a {kind(first[2])} "
                                          f"pair at {self.name_of(first[0])}:{first[1]}: one of the two labels is wrong", line)

    def add(self, files, people, is_same: bool, fold: int, source: Path, line: int, text: str) -> None:
        if str(files[0]) == str(files[1]):
            return self.skip(SAME_IMAGE, source, line, text)
        self.check_labels(files, is_same, source, line, text)
        key = tuple(sorted(map(str, files)))
        if key in self.first:
            self.repeated.append(f"{self.name_of(source)}:{line} ({text}, as at line {self.first[key][1]})")
        else:
            self.first[key] = (source, line, is_same)
        for p, person in zip(files, people):
            if str(p) not in self.index:
                self.index[str(p)] = len(self.index)
                self.names.append(person)
        self.pairs.append([self.index[str(p)] for p in files])
        self.same.append(is_same)
        self.fold.append(fold)

    def counts(self) -> dict:
        return {reason: len(hits) for reason, hits in self.left_out.items()}

    def left_out_notes(self) -> list[str]:
        what = {SAME_IMAGE: "pair of an image with itself (its cosine is 1 whatever the model) skipped",
                ONE_PERSON: "'different' pair naming one person twice skipped",
                TWO_PEOPLE: f"'same' pair of two people (by {self.people_from}) skipped"}
        shown = lambda hits: "; ".join(hits[:SHOWN]) + (f"; ... ({len(hits) - SHOWN} more)" if len(hits) > SHOWN else "")
        notes = [f"{len(hits)} {what[reason].replace('pair ', 'pairs ', 1) if len(hits) != 1 else what[reason]}: "
                 f"{shown(hits)}" for reason, hits in self.left_out.items()]
        if self.missing:
            notes.append(f"{len(self.missing)} pair{'s' * (len(self.missing) != 1)} skipped for a missing image "
                         f"(--skip-missing): {shown(self.missing)}")
        if self.repeated:
            notes.append(f"{len(self.repeated)} pair{'s' * (len(self.repeated) != 1)} listed again, scored each time "
                         f"as listed: {shown(self.repeated)}")
        return notes
