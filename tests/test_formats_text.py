"""The one text reader behind every list, CSV, .pts and pairs file."""
import re

import pytest

from facessl.data.formats.text import read_csv, read_lines
from facessl.errors import DataFormatError


def test_bom_crlf_and_trailing_spaces(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xef\xbb\xbftrain_00001.jpg 5  \r\ntest_0001.jpg 7\t\r\n\r\nlast\r")
    assert read_lines(path, "list") == ["train_00001.jpg 5", "test_0001.jpg 7", "", "last"]


def test_csv_quoted_fields_and_line_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbfemotion, pixels ,Usage\r\n0,"1 2 3",Training\r\n\r\n3,"4, 5",PublicTest\r\n')
    header, rows = read_csv(path, "table")
    assert header == ["emotion", "pixels", "Usage"]
    assert rows == [(2, ["0", "1 2 3", "Training"]), (4, ["3", "4, 5", "PublicTest"])]


def test_not_utf8_and_wrong_field_count_are_clear(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("café\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin.txt:1: list is not UTF-8 text .* at byte 3\); save it as UTF-8"):
        read_lines(path, "list")
    path.write_bytes("image,emotion\r\nx.jpg,happy\r\nJos\u00e9.jpg,sad\r\n".encode("cp1252"))  # Excel's plain CSV
    with pytest.raises(DataFormatError, match=r"latin.txt:3: list is not UTF-8 text .*Excel: CSV UTF-8"):
        read_lines(path, "list")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2,3\n")
    with pytest.raises(DataFormatError, match=r"bad.csv:2: expected 2 fields \(a, b\), got 3"):
        read_csv(bad, "table")
    with pytest.raises(DataFormatError, match="missing.txt: list not found"):
        read_lines(tmp_path / "missing.txt", "list")


def test_an_image_folder_named_twice_is_diagnosed(tmp_path):
    from facessl.data.formats.imagefiles import MissingImages

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"x")
    with pytest.raises(DataFormatError, match=r"list.csv:2: .*the folder 'images' is named twice: .* \(--images\) at "
                                              + re.escape(str(tmp_path))):
        MissingImages(False).ok(tmp_path / "images" / "images" / "a.jpg", tmp_path / "list.csv", 2)
    with pytest.raises(DataFormatError, match="--skip-missing"):  # a file that is simply missing: the usual hint
        MissingImages(False).ok(tmp_path / "images" / "b.jpg", tmp_path / "list.csv", 2)
