"""A folder written by `facessl prepare --images` holds crops under new names (`a b.png` -> `a_b.jpg`) and
`photos.csv` (input,output,result,turn) saying which crop is which photo. A label table naming the original
photos is read against such a folder through that list, so labels made for the photos fit their crops."""
from __future__ import annotations

import csv
from pathlib import Path

LIST = "photos.csv"
HEADER = ["input", "output", "result", "turn"]


def crops_of(folder: Path) -> dict[str, str] | None:
    """{input photo: its crop ('' when prepare wrote none)} from `folder/photos.csv`; None when the folder holds no
    such list (a user's own photos.csv, another header, is not one)."""
    path = Path(folder) / LIST
    try:
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
            rows = list(csv.reader(fh))
    except OSError:
        return None
    if not rows or rows[0] != HEADER:
        return None
    return {row[0]: row[1] for row in rows[1:] if len(row) == len(HEADER)}
