"""Excel workbooks (.xlsx, Office Open XML SpreadsheetML) read with the standard library: zip + XML, no openpyxl.

What a workbook is, and what is read of it (ECMA-376 Part 1, SpreadsheetML):

    [Content_Types].xml              not read
    xl/workbook.xml                  <sheets><sheet name="Sheet1" r:id="rId1"/>...: the sheets' names, in order
    xl/_rels/workbook.xml.rels       rId1 -> worksheets/sheet1.xml (without it: xl/worksheets/sheetN.xml by name)
    xl/sharedStrings.xml             <si><t>text</t></si> or rich-text runs <si><r><t>..</t></r>...</si>; phonetic
                                     runs (<rPh>) are not part of the text
    xl/worksheets/sheet1.xml         <row r="3"><c r="A3" t="s"><v>0</v></c><c r="B3"><v>12.5</v></c>...</row>

Cells: t="s" a shared string, t="inlineStr" text in <is>, t="str" a formula's text, t="b" a boolean (0 / 1, kept
as is), no t (or t="n") a number, written as the user sees a plain number: `3` for 3.0, `12.5`, 15 significant
digits as Excel shows them (dates are numbers too and are not converted). Excel's `_x000D_` escapes are decoded.
Cells Excel leaves empty are absent from the XML: a row's gaps come back as '' and trailing empty cells are
simply missing (read_xlsx pads rows to the header's width). Rows with no text are skipped; row numbers are the
sheet's own (what Excel shows at the left), so messages point at the cell.

Refused with one DataFormatError naming the workbook: a password-protected workbook (saved encrypted, Excel
writes an OLE compound file, not a zip: magic D0 CF 11 E0, the same as an old .xls), a file that is not a zip,
a damaged or not well-formed part, and any part declaring a DTD (entities could expand without bound).
Checked against ECMA-376 Part 1 (sheetData, shared strings, the ST_Xstring `_xHHHH_` escapes) and openpyxl's
readers: `openpyxl/worksheet/_reader.py` (cell types n / s / str / b / inlineStr / d / e, a cell without `r` is the
next column, a row without `r` the next row, `r="3.0"` read as 3) and `openpyxl/reader/strings.py` (<si> read with
iterparse, runs joined).
"""
from __future__ import annotations

import contextlib
import math
import posixpath
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterator, NamedTuple
from xml.etree import ElementTree

from facessl.errors import DataFormatError

OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an encrypted .xlsx (or an old .xls) is an OLE compound file, not a zip
ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")  # ST_Xstring: characters XML cannot hold, e.g. _x000D_ for CR

Rows = Iterator[tuple[int, list[str]]]


class Worksheet(NamedTuple):
    """One sheet of a workbook: its name, where it is for messages (`book.xlsx [sheet NAME]`), and a function
    giving its rows (row number, cells) afresh each call, streamed from the zip."""

    title: str
    where: str
    rows: Callable[[], Rows]
    hidden: bool = False


class Sheet(NamedTuple):
    """The table on one worksheet: header (its row number `header_line`) and the rows below it, shaped like
    text.read_csv's result."""

    where: str
    title: str
    header_line: int
    header: list[str]
    rows: list[tuple[int, list[str]]]


def read_xlsx(path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(row number, fields)]) of the first worksheet with rows, as text.read_csv gives a CSV file."""
    sheet = read_sheet(path, what)
    return sheet.header, sheet.rows


def read_sheet(path, what: str, columns=(), sheet: str | None = None) -> Sheet:
    """The worksheet holding the table: `sheet` by name when given; else the first one (visible before hidden,
    workbook order) with a header and data rows that has every name in `columns` (any case), else the first with
    data rows at all (a notes or title sheet before the table is passed over). Header on its first non-empty row,
    names and fields stripped, rows padded to the header's width; a filled cell right of the header is one clear
    error, as a CSV row with too many fields is."""
    path = Path(path)
    sheets = worksheets(path, what)
    names = ", ".join(s.title for s in sheets)
    if sheet is not None:
        chosen = [s for s in sheets if s.title == str(sheet)] or [s for s in sheets if s.title.lower() == str(sheet).lower()]
        if not chosen:
            raise DataFormatError(path, f"no worksheet named {sheet!r}; the workbook has {names}")
        table = _table(chosen[0])
        if table is None:
            raise DataFormatError(chosen[0].where, f"{what}: the worksheet is empty; expected a header row")
        return table
    tables = []
    for candidate in sorted(sheets, key=lambda s: s.hidden):  # stable: workbook order within visible / hidden
        table = _table(candidate)
        if table is None:
            continue
        if table.rows and _has_columns(table.header, columns):
            return table
        tables.append(table)
    with_rows = [t for t in tables if t.rows]
    if with_rows:
        return with_rows[0]  # none has all the columns asked for: the caller names what is missing
    if tables:
        return tables[0]  # header rows only: the caller says there are no data rows
    raise DataFormatError(path, f"{what} is empty: no worksheet ({names}) has a row; expected a header row")


def _table(sheet: Worksheet) -> Sheet | None:
    rows = sheet.rows()
    first = next(rows, None)
    if first is None:
        return None
    line, cells = first
    header = _trimmed([c.strip() for c in cells])
    return Sheet(sheet.where, sheet.title, line, header, [_fitted(r, header, sheet.where) for r in rows])


def _has_columns(header: list[str], columns) -> bool:
    lowered = {h.lower() for h in header}
    return all(str(c).lower() in lowered for c in columns if c)


def _trimmed(cells: list[str]) -> list[str]:
    """Cells without the empty ones at the end (a formatted but empty cell is in the XML, with no text)."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _fitted(row: tuple[int, list[str]], header: list[str], where: str) -> tuple[int, list[str]]:
    line, cells = row
    cells = _trimmed(cells)
    if len(cells) > len(header):
        ref = f"{column_letters(len(cells) - 1)}{line}"
        raise DataFormatError(where, f"expected {len(header)} fields ({', '.join(header)}), got {len(cells)}: cell "
                                     f"{ref} ({cells[-1].strip()!r}) is right of the header's last column", line)
    return line, [c.strip() for c in cells] + [""] * (len(header) - len(cells))


def column_letters(index: int) -> str:
    """'A' for 0, 'Z' for 25, 'AA' for 26: Excel's name of a 0-based column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def worksheets(path, what: str = "workbook") -> list[Worksheet]:
    """Every worksheet of an .xlsx, in workbook order (rows read only when asked for)."""
    path = Path(path)
    book = _open_workbook(path, what)
    with book:
        names = set(book.namelist())
        if "xl/workbook.xml" not in names:
            raise DataFormatError(path, "not an .xlsx workbook (no xl/workbook.xml)")
        shared = _shared_strings(book, path) if "xl/sharedStrings.xml" in names else []
        sheets = _sheet_parts(book, path, names)
    return [Worksheet(title, f"{path} [sheet {title}]", lambda part=part: _sheet_rows(path, part, shared, what),
                      hidden) for title, part, hidden in sheets]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_member(book: zipfile.ZipFile, name: str, path: Path):
    """An XML part of the workbook, refused when it declares a DTD (entities could expand without bound)."""
    with _workbook_errors(path, name), book.open(name) as handle:
        head = handle.read(65536)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise DataFormatError(path, f"workbook part {name} declares a DTD; refusing to expand it (re-save the file)")
    return book.open(name)


@contextlib.contextmanager
def _workbook_errors(path: Path, name: str):
    """A damaged workbook part is one DataFormatError naming the workbook and the part."""
    try:
        yield
    except ElementTree.ParseError as exc:
        raise DataFormatError(path, f"workbook part {name} is not well-formed XML ({exc})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise DataFormatError(path, f"workbook part {name} cannot be read ({exc})") from None


def _parse_xml(book: zipfile.ZipFile, name: str, path: Path):
    with _workbook_errors(path, name), _xml_member(book, name, path) as handle:
        return ElementTree.parse(handle).getroot()


def _open_workbook(path: Path, what: str) -> zipfile.ZipFile:
    if not path.is_file():
        raise DataFormatError(path, f"{what} not found")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == OLE_MAGIC:
        raise DataFormatError(path, "a password-protected (encrypted) workbook or an old .xls, not an .xlsx: open it "
                                    "and save a copy without the password as .xlsx or .csv")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise DataFormatError(path, "not an .xlsx workbook (not a zip archive); save it as .xlsx or .csv") from None


def _sheet_parts(book: zipfile.ZipFile, path: Path, names: set) -> list[tuple[str, str, bool]]:
    """[(sheet name, zip member, hidden)] from workbook.xml and its relationships."""
    targets = {}
    if "xl/_rels/workbook.xml.rels" in names:
        for element in _parse_xml(book, "xl/_rels/workbook.xml.rels", path):
            target = element.get("Target", "")
            targets[element.get("Id")] = posixpath.normpath(target.lstrip("/") if target.startswith("/") else
                                                            f"xl/{target}")
    sheets = []
    for element in _parse_xml(book, "xl/workbook.xml", path).iter():
        if _local(element.tag) == "sheet":
            rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
            part = targets.get(rid)
            if part in names:
                sheets.append((element.get("name", part), part, element.get("state", "visible") != "visible"))
    if not sheets:
        sheets = [(n, n, False) for n in sorted(names) if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
    if not sheets:
        raise DataFormatError(path, "the workbook has no worksheet")
    return sheets


def _shared_strings(book: zipfile.ZipFile, path: Path) -> list[str]:
    out = []
    with _workbook_errors(path, "xl/sharedStrings.xml"), _xml_member(book, "xl/sharedStrings.xml", path) as handle:
        for _, element in ElementTree.iterparse(handle):
            if _local(element.tag) == "si":
                out.append(_rich_text(element))
                element.clear()
    return out


def _rich_text(element) -> str:
    """The text of an <si> / <is>: its <t>, or the <t> of each run; phonetic runs (<rPh>) left out."""
    parts = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return _unescaped("".join(parts))


def _unescaped(text: str) -> str:
    return ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _column(ref: str | None, default: int) -> int:
    letters = re.match(r"[A-Z]+", ref or "")
    if not letters:
        return default
    index = 0
    for ch in letters.group(0):
        index = index * 26 + ord(ch) - 64
    return index - 1


def _sheet_rows(path: Path, part: str, shared: list[str], what: str = "workbook") -> Rows:
    """(row number, cells) of a worksheet, streamed; empty cells between filled ones come back as ''."""
    with _open_workbook(path, what) as book, _workbook_errors(path, part), _xml_member(book, part, path) as handle:
        number = 0
        for _, element in ElementTree.iterparse(handle):
            if _local(element.tag) != "row":
                continue
            number = _row_number(element.get("r"), number)
            cells: list[str] = []
            for cell in element:
                if _local(cell.tag) != "c":
                    continue
                index = _column(cell.get("r"), len(cells))
                cells.extend([""] * (index + 1 - len(cells)))
                cells[index] = _cell_text(cell, shared, path, number)
            element.clear()
            if any(c.strip() for c in cells):
                yield number, cells


def _row_number(r: str | None, previous: int) -> int:
    """A row's number: its `r` (some writers put '3.0'), else the one after the previous row."""
    try:
        return int(float(r)) if r else previous + 1
    except ValueError:
        return previous + 1


def _cell_text(cell, shared: list[str], path: Path, row: int) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = next((c for c in cell if _local(c.tag) == "is"), None)
        return "" if inline is None else _rich_text(inline)
    value = next((c.text or "" for c in cell if _local(c.tag) == "v"), "")
    if kind == "s":
        try:
            return shared[int(value)]
        except (ValueError, IndexError):
            raise DataFormatError(path, f"cell {cell.get('r')} names shared string {value!r}, which the workbook "
                                        f"does not have", row) from None
    if kind == "n":
        return number_text(value)
    return _unescaped(value) if kind == "str" else value


def number_text(value: str) -> str:
    """A number cell as Excel shows a plain number: 3.0 -> '3', 12.5 -> '12.5', 0.30000000000000004 -> '0.3'
    (15 significant digits, Excel's precision); whole numbers written in full; anything else unchanged."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return text  # already what the user sees, every digit kept (a long id)
    try:
        number = float(text)
    except ValueError:
        return value
    if not math.isfinite(number):
        return value
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return format(number, ".15G")  # '1E-05' for tiny or huge values, as Excel's General format shows them
