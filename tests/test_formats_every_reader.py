"""Every named reader, handed a folder or file that is not its dataset, stops with one line naming the path
(never a traceback, never an empty set read as data)."""
import pytest

from facessl.data import formats
from facessl.errors import FacesslError


def wrong_input(tmp_path, kind):
    if kind == "empty folder":
        return tmp_path
    if kind == "other files":  # a README, a stray folder with an image that is not one
        (tmp_path / "readme.txt").write_text("hello\r\n")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "x.jpg").write_bytes(b"not a jpeg")
        return tmp_path
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    return path


@pytest.mark.parametrize("kind", ["empty folder", "other files", "a csv file"])
@pytest.mark.parametrize("name", formats.FORMAT_NAMES)
def test_a_reader_given_something_else_says_so_in_one_line(tmp_path, name, kind):
    with pytest.raises(FacesslError) as error:
        formats.read(name, wrong_input(tmp_path, kind))
    message = str(error.value)
    assert "\n" not in message and len(message) < 500, message
    assert str(tmp_path) in message or name in message, message  # it names where (or what) it looked
