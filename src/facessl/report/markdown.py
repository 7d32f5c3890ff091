"""Render report sections as GitHub-flavoured markdown; images are linked relative to the report file."""
from __future__ import annotations

import os
from pathlib import Path

from facessl.report.sections import Section, Table


def _cell(text: str) -> str:
    """Escape what would break a markdown table row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table) -> str:
    """A well-formed pipe table (header, alignment row, body), bold cells from `emphasis`."""
    align = {"left": ":---", "right": "---:", "center": ":---:"}
    lines = ["| " + " | ".join(_cell(h) for h in table.header) + " |",
             "|" + "|".join(align.get(a, "---") for a in table.align) + "|"]
    for r, row in enumerate(table.rows):
        cells = [f"**{_cell(c)}**" if (r, i) in table.emphasis and c != "—" else _cell(c) for i, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines) + "\n"
    if table.caption:
        out = f"*{table.caption}*\n\n" + out
    return out


def render_markdown(sections: list[Section], title: str, base_dir: Path, intro: str = "") -> str:
    """The whole report as markdown; image links are relative to `base_dir` (where the .md is written)."""
    parts = [f"# {title}\n"]
    if intro:
        parts.append(intro.strip() + "\n")
    for i, section in enumerate(sections):
        parts.append(f"## {i + 1}. {section.title}\n")
        if section.text:
            parts.append(section.text.strip() + "\n")
        for table in section.tables:
            parts.append(table_markdown(table))
        for figure in section.images:
            link = Path(os.path.relpath(Path(figure.path).resolve(), Path(base_dir).resolve())).as_posix()
            alt = figure.caption.replace("[", "(").replace("]", ")") or figure.path.stem
            parts.append(f"![{alt}]({link.replace(' ', '%20')})\n")
            if figure.caption:
                parts.append(f"*Figure: {figure.caption}*\n")
    return "\n".join(parts)
