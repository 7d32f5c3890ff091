"""The one way every list, CSV, .pts and pairs reader reads text.

Real files are not always what their format page shows: a UTF-8 byte-order mark (Excel, Notepad),
UTF-16 with its byte-order mark (Excel's "Unicode text" export, tab-separated), Windows line ends
(CRLF), spaces after the last field, a quoted CSV field (`"70 80 82 ..."`, as some FER-2013 copies
quote `pixels`). All of those are read, not rejected. A file that is not UTF-8 at all (and has no
UTF-16 byte-order mark) is one DataFormatError naming the file and the byte offset.
"""
from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from facessl.errors import DataFormatError


# byte-order marks of the UTF-16/32 files Windows tools write (UTF-32's first: its little-endian BOM starts as UTF-16's)
UNICODE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def read_text(path, what: str) -> str:
    """The whole file as text: UTF-8 with or without BOM, or UTF-16/32 with their BOM; a missing or undecodable
    file is one clear error."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, f"{what} not found")
    data = path.read_bytes()
    encoding = next((name for bom, name in UNICODE_BOMS if data.startswith(bom)), None)
    if encoding:  # Excel's "Unicode text" export: UTF-16 (little-endian) with its byte-order mark, tab-separated
        try:
            return data.decode(encoding)  # the codec reads the BOM for the byte order and drops it
        except UnicodeDecodeError as exc:
            line = data[:exc.start].decode(encoding, "replace").count("\n") + 1
            raise DataFormatError(path, f"{what} is not UTF-8 text, nor the {encoding.upper()} its byte-order mark "
                                        f"says ({exc.reason} at byte {exc.start}); save it as UTF-8", line) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(path, f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 "
                                    "(Excel: CSV UTF-8; a Windows code page such as cp1252 is not guessed)", line) from None


def read_lines(path, what: str) -> list[str]:
    """Lines without line ends (LF, CRLF or CR) and without trailing spaces/tabs; numbering starts at 1."""
    return [line.rstrip() for line in read_text(path, what).splitlines()]


def read_csv(path, what: str, delimiter: str | None = None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, fields)]) of a CSV file; quoted fields, BOM and CRLF handled by the csv module.

    Header names and fields are stripped of surrounding spaces (Kaggle's icml_face_data.csv has
    ' Usage'); blank rows are skipped. delimiter None: ',' unless the header has tabs or semicolons
    and no comma. A row with a different number of fields than the header is one clear error."""
    text = read_text(path, what)
    first = text.split("\n", 1)[0]
    if delimiter is None:
        delimiter = "," if "," in first else ("\t" if "\t" in first else (";" if ";" in first else ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataFormatError(path, f"{what} is empty; expected a header row", 1) from None
    rows = []
    try:
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            line = reader.line_num
            if len(fields) != len(header):
                raise DataFormatError(path, f"expected {len(header)} fields ({shortened(', '.join(header))}), "
                                            f"got {len(fields)}", line)
            rows.append((line, [f.strip() for f in fields]))
    except csv.Error as exc:
        raise DataFormatError(path, f"malformed CSV ({exc})", reader.line_num) from None
    return header, rows


def column_index(header: list[str], name: str, path, what: str, line: int = 1) -> int:
    """Index of a column by name (exact, else case-insensitive); a missing column names the ones there are.
    line: the header's line (a worksheet's header may sit below title rows)."""
    if name in header:
        return header.index(name)
    lowered = [h.lower() for h in header]
    if name.lower() in lowered:
        return lowered.index(name.lower())
    names = shortened(", ".join(repr(shortened(h, 40)) for h in header))
    raise DataFormatError(path, f"{what}: no column {name!r}; the header has {names}", line)


def shortened(text: str, limit: int = 200) -> str:
    """Echoed file content cut to `limit` characters (a data row read as a header holds 136 landmark numbers),
    so that an error stays one readable line."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
