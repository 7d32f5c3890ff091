"""The report's content model: sections holding text, tables and figures.

Plain dicts are accepted wherever a dataclass is expected, so callers can write::

    {"title": "Expression", "text": "Linear probe on *frozen* features.",
     "tables": [{"header": ["method", "RAF-DB"], "rows": [["PCL", "74.47 ± 0.31"]], "caption": "..."}],
     "images": [{"path": "figures/tsne.png", "caption": "t-SNE ..."}]}

`text` is a small markdown subset: paragraphs, '- ' bullet lists, **bold**, *italic*, `code`,
and ``` fenced blocks. Links are deliberately not supported (the HTML must stay self-contained).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from facessl.errors import FacesslError


@dataclass
class Table:
    """header: column titles; rows: lists of cell strings (same length as header);
    emphasis: (row, col) cells printed bold (e.g. the best value of a column)."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    emphasis: set[tuple[int, int]] = field(default_factory=set)
    align: list[str] | None = None  # per column 'left' / 'right'; default: first left, the rest right

    def __post_init__(self):
        self.header = [str(h) for h in self.header]
        self.rows = [[str(c) for c in row] for row in self.rows]
        for i, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise FacesslError(f"table '{self.caption}': row {i} has {len(row)} cells, header has "
                                   f"{len(self.header)}")
        self.emphasis = {tuple(e) for e in self.emphasis}
        if self.align is None:
            self.align = ["left"] + ["right"] * (len(self.header) - 1)


@dataclass
class Figure:
    path: Path
    caption: str = ""

    def __post_init__(self):
        self.path = Path(self.path)


@dataclass
class Section:
    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    images: list[Figure] = field(default_factory=list)

    def __post_init__(self):
        self.tables = [t if isinstance(t, Table) else Table(**t) for t in self.tables]
        self.images = [_figure(f) for f in self.images]


def _figure(item) -> Figure:
    if isinstance(item, Figure):
        return item
    if isinstance(item, dict):
        return Figure(**item)
    if isinstance(item, (tuple, list)):
        return Figure(*item)
    return Figure(item)  # a bare path


def coerce_sections(sections) -> list[Section]:
    """Accept Section objects or dicts with the same fields."""
    out = []
    for i, s in enumerate(sections):
        if isinstance(s, Section):
            out.append(s)
        elif isinstance(s, dict):
            unknown = set(s) - {"title", "text", "tables", "images"}
            if unknown:
                raise FacesslError(f"report section {i}: unknown keys {sorted(unknown)}; "
                                   "expected title, text, tables, images")
            out.append(Section(**s))
        else:
            raise FacesslError(f"report section {i}: expected a Section or dict, got {type(s).__name__}")
    return out


def anchor(title: str, index: int) -> str:
    """A stable HTML id for a section title."""
    slug = "".join(ch.lower() if ch.isalnum() else "-" for ch in title).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return f"s{index + 1}-{slug}" if slug else f"s{index + 1}"
