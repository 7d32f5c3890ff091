"""Render report sections as ONE self-contained HTML file: inline CSS, images as base64 data URIs,
no scripts, fonts or links that reach outside the file."""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from facessl.errors import FacesslError
from facessl.report.sections import Section, Table, anchor

MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
        ".svg": "image/svg+xml", ".webp": "image/webp"}

CSS = """
:root { --ink: #1d232b; --muted: #5b6570; --rule: #d9dee3; --band: #f4f6f8; --accent: #2d5f8b; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 16px/1.55 system-ui, -apple-system,
       "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 64rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 1.9rem; margin: 0 0 .3rem; }
h2 { font-size: 1.35rem; margin: 2.6rem 0 .8rem; padding-bottom: .3rem; border-bottom: 2px solid var(--rule); }
p, li { max-width: 48rem; }
.subtitle { color: var(--muted); margin: 0 0 1.5rem; }
nav.toc { background: var(--band); border: 1px solid var(--rule); border-radius: 6px; padding: .8rem 1.2rem; }
nav.toc strong { display: block; margin-bottom: .3rem; }
nav.toc ol { margin: 0; padding-left: 1.4rem; columns: 2; column-gap: 2rem; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
.table-wrap { overflow-x: auto; margin: 1rem 0 1.6rem; }
table { border-collapse: collapse; font-size: .93rem; font-variant-numeric: tabular-nums; }
.table-caption { color: var(--muted); font-size: .88rem; margin: 0 0 .4rem; max-width: 48rem; }
th, td { padding: .35rem .75rem; border-bottom: 1px solid var(--rule); white-space: nowrap; }
thead th { border-bottom: 2px solid var(--ink); font-weight: 600; background: #fff; white-space: normal; }
tbody tr:nth-child(even) { background: var(--band); }
td.prose { white-space: normal; min-width: 10rem; max-width: 22rem; }
td.left, th.left { text-align: left; } td.right, th.right { text-align: right; } td.center { text-align: center; }
figure { margin: 1.2rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); border-radius: 4px; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .4rem; max-width: 48rem; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--band);
       padding: .05rem .3rem; border-radius: 3px; }
pre { background: var(--band); padding: .8rem 1rem; overflow-x: auto; border-radius: 4px; }
pre code { background: none; padding: 0; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
"""


def _inline(text: str) -> str:
    """Escape, then apply `code`, **bold** and *italic* (code spans are protected from the others)."""
    pieces = re.split(r"(`[^`]+`)", text)
    out = []
    for piece in pieces:
        if len(piece) > 1 and piece.startswith("`") and piece.endswith("`"):
            out.append(f"<code>{html.escape(piece[1:-1])}</code>")
            continue
        piece = html.escape(piece)
        piece = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", piece)
        piece = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", piece)
        out.append(piece)
    return "".join(out)


def markdown_to_html(text: str) -> str:
    """The small markdown subset of Section.text: paragraphs, '- ' lists, fenced code, inline marks."""
    blocks, paragraph, items, code = [], [], [], None

    def flush():
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if code is not None:
            if line.strip().startswith("```"):
                blocks.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
                code = None
            else:
                code.append(line)
        elif line.strip().startswith("```"):
            flush()
            code = []
        elif re.match(r"\s*[-*] ", line):
            if paragraph:
                flush()
            items.append(re.sub(r"^\s*[-*] ", "", line))
        elif not line.strip():
            flush()
        elif items and line.startswith("  "):
            items[-1] += " " + line.strip()  # continuation of a list item
        else:
            if items:
                flush()
            paragraph.append(line.strip())
    if code is not None:
        blocks.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
    flush()
    return "\n".join(blocks)


PROSE_CHARS = 32  # a cell longer than this is a sentence, not a value


def table_html(table: Table) -> str:
    head = "".join(f'<th class="{a}">{_inline(h)}</th>' for h, a in zip(table.header, table.align))
    rows = []
    for r, row in enumerate(table.rows):
        cells = []
        for c, (text, a) in enumerate(zip(row, table.align)):
            inner = html.escape(text)
            if (r, c) in table.emphasis:
                inner = f"<strong>{inner}</strong>"
            tag = "th" if c == 0 else "td"
            # sentences (a verdict's claim and numbers) wrap; numbers and short labels stay on one line
            prose = " prose" if tag == "td" and len(text) > PROSE_CHARS else ""
            cells.append(f'<{tag} class="{a}{prose}">{inner}</{tag}>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    # the caption as a paragraph above the table, not a <caption>: a <caption> is as wide as its table, so under
    # a table wider than the window (the verdicts) it ran off screen on one line
    caption = f'<p class="table-caption">{_inline(table.caption)}</p>' if table.caption else ""
    return (f'<div class="table-wrap">{caption}<table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def data_uri(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise FacesslError(f"{path}: figure file not found")
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise FacesslError(f"{path}: unsupported figure type '{path.suffix}', expected one of {sorted(MIME)}")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(sections: list[Section], title: str, subtitle: str = "", intro: str = "", footer: str = "") -> str:
    """The whole report as one HTML document string."""
    toc = "".join(f'<li><a href="#{anchor(s.title, i)}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections))
    body = [f"<h1>{html.escape(title)}</h1>"]
    if subtitle:
        body.append(f'<p class="subtitle">{_inline(subtitle)}</p>')
    if intro:
        body.append(markdown_to_html(intro))
    body.append(f'<nav class="toc"><strong>Contents</strong><ol>{toc}</ol></nav>')
    figure_number = 0
    for i, section in enumerate(sections):
        body.append(f'<section id="{anchor(section.title, i)}"><h2>{i + 1}. {html.escape(section.title)}</h2>')
        if section.text:
            body.append(markdown_to_html(section.text))
        body.extend(table_html(t) for t in section.tables)
        for figure in section.images:
            figure_number += 1
            alt = html.escape(figure.caption or figure.path.stem, quote=True)
            caption = f"<figcaption><strong>Figure {figure_number}.</strong> {_inline(figure.caption)}</figcaption>"
            body.append(f'<figure><img src="{data_uri(figure.path)}" alt="{alt}">{caption}</figure>')
        body.append("</section>")
    if footer:
        body.append(f"<footer>{_inline(footer)}</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")
