"""Small file helpers shared by the format writers and readers.

Writers save images deterministically (same array -> same bytes with the same Pillow), so a
synthetic build is a pure function of its seed. Readers report a malformed file with one
DataFormatError naming file and line, and count what they skip in `ImageSet.dropped`.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from facessl.data.formats.text import read_lines as read_text_lines
from facessl.data.image_decode import IMAGE_SUFFIXES  # noqa: F401  (re-exported for the readers)
from facessl.errors import DataFormatError, FacesslError

JPEG_QUALITY = 90


def save_image(path, image: np.ndarray, quality: int = JPEG_QUALITY) -> None:
    """Write a uint8 (H,W,3) RGB or (H,W) grey array; JPEG for .jpg (fixed quality, no metadata), else PNG."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"save_image expects uint8, got {image.dtype}")
    path = Path(path)
    pil = Image.fromarray(np.ascontiguousarray(image))
    if path.suffix.lower() in (".jpg", ".jpeg"):
        pil.save(path, format="JPEG", quality=quality, optimize=False, progressive=False)
    else:
        pil.save(path, format="PNG", compress_level=6)


SKIP_MISSING_HINT = "pass --skip-missing (Python: skip_missing=True) to skip and count such images"


def read_lines(path, what: str) -> list[str]:
    """Lines of a text file without line ends or trailing spaces (BOM, CRLF accepted; see formats.text)."""
    return read_text_lines(path, what)


def field_rows(path, what: str, n_fields: int, form: str):
    """(line number, whitespace-separated fields) of each non-blank line of a list file that has exactly
    n_fields fields; any other line is one error naming the line and the expected `form`."""
    for number, line in enumerate(read_lines(path, what), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != n_fields:
            raise DataFormatError(path, f"expected '{form}' ({n_fields} fields), got {len(fields)}", number)
        yield number, fields


def parse_number(text: str, path, line: int, what: str, kind=float):
    try:
        return kind(text)
    except ValueError:
        raise DataFormatError(path, f"expected {what}, got {text!r}", line) from None


class MissingImages:
    """Checks that images named by a list file exist; raises or, with skip_missing, skips and counts."""

    def __init__(self, skip_missing: bool, searched: str = ""):
        self.skip_missing = skip_missing
        self.searched = searched  # set when the image folder itself was not found: where the reader looked
        self.dropped: Counter = Counter()

    def ok(self, image_path, list_path, line: int | None = None) -> bool:
        if Path(image_path).is_file():
            return True
        if self.skip_missing:
            self.dropped["missing_image"] += 1
            return False
        where = f" ({self.searched})" if self.searched else ""
        hint = doubled_folder_hint(Path(image_path)) or SKIP_MISSING_HINT
        raise DataFormatError(list_path, f"image {image_path} named here does not exist{where}; {hint}", line)


def doubled_folder_hint(path: Path) -> str:
    """`images/images/x.jpg` where `images/x.jpg` exists: the list's paths already start with the image folder."""
    parts = path.parts
    for i in range(1, len(parts) - 1):
        if parts[i] == parts[i - 1] and Path(*parts[:i], *parts[i + 1:]).is_file():
            return (f"the folder {parts[i]!r} is named twice: the list's paths already start with it, so point the "
                    f"image folder (--images) at {Path(*parts[:i - 1]) if i > 1 else '.'}")
    return ""


def every_kth(every, reader: str) -> int:
    """A reader's `every` option (keep every k-th frame) as a whole number >= 1; '5' from a command line is 5."""
    return count_option(every, reader, "every")


def count_option(value, reader: str, option: str) -> int:
    """A reader option that counts something, a whole number >= 1: '5' from a command line is 5."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(number) != str(value).strip():
        raise FacesslError(f"{reader}: {option} must be a whole number >= 1, got {value!r}")
    return number


def au_numbers(aus, reader: str, example: str = "1,2,4") -> tuple[int, ...]:
    """An `aus` option: AU numbers as a sequence, a number, or a comma list ('1,2,4', 'AU1, AU2')."""
    items = aus.split(",") if isinstance(aus, str) else [aus] if isinstance(aus, int) else list(aus)
    try:
        numbers = tuple(int(str(a).strip().upper().removeprefix("AU").strip()) for a in items if str(a).strip())
    except ValueError:
        raise FacesslError(f"{reader}: aus must be AU numbers such as {example}, got {aus!r}") from None
    if not numbers or len(set(numbers)) != len(numbers) or min(numbers) < 1:
        raise FacesslError(f"{reader}: aus must be distinct AU numbers >= 1, got {aus!r}")
    return numbers


def fraction_option(value, reader: str, option: str = "test_fraction") -> float:
    """A reader option that is a share in (0, 1): '0.2' from a command line is 0.2."""
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = -1.0
    if not 0.0 < fraction < 1.0:
        raise FacesslError(f"{reader}: {option} must be a number in (0, 1), got {value!r}")
    return fraction


def one_of(value, allowed, reader: str, option: str) -> str:
    """A reader option that names one of `allowed` (any case accepted), spelled as in `allowed`."""
    for name in allowed:
        if str(value).strip().lower() == str(name).lower():
            return name
    raise FacesslError(f"{reader} {option} {value!r}: expected one of {', '.join(allowed)}")


def whole_number(value, reader: str, option: str, low: int = 1, high: int | None = None, hint: str = "") -> int:
    """A whole-number reader option in [low, high] (a suite's YAML gives an int, the command line text)."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        expected = f"{low}-{high}" if high is not None else f">= {low}"
        raise FacesslError(f"{reader} {option} {value!r}: expected a whole number {expected}"
                           + (f" ({hint})" if hint else ""))
    return int(text)


def positive_number(value, reader: str, option: str, hint: str = "") -> float:
    """A reader option that must be a number > 0 (a box scale): '1.2' from a command line is 1.2."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number > 0:
        raise FacesslError(f"{reader} {option} {value!r}: expected a number > 0" + (f" ({hint})" if hint else ""))
    return number


def yes_no(value, reader: str, option: str) -> bool:
    """A yes/no reader option: a bool, or true/false/yes/no/1/0 as typed on a command line."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise FacesslError(f"{reader} {option} {value!r}: expected true or false")


def age_or_class_labels(values, group: np.ndarray, target: str, class_names) -> tuple[dict, dict, np.ndarray]:
    """(labels, meta, strata) of an age set (UTKFace, AgeDB): target 'age' -> 'target' (N,1) years for task
    regression, meta target_columns; otherwise 'class' indices into class_names (gender, race)."""
    if target == "age":
        labels = {"target": np.array(values, dtype=np.float64)[:, None], "group": group}
        return labels, {"target_columns": ["age"]}, np.zeros(len(group), dtype=np.int64)
    labels = {"class": np.array(values, dtype=np.int64), "group": group}
    return labels, {"class_names": list(class_names)}, labels["class"]


def unnested(folder: Path) -> Path:
    """DIR/DIR/ (an archive unpacked into a folder of its own name) -> the innermost DIR."""
    while (folder / folder.name).is_dir():
        folder = folder / folder.name
    return folder


WRAPPER_DEPTH = 2  # ROOT/RAF-DB/basic/, ROOT/archive/train/, ROOT/Manually_Annotated/Manually_Annotated_Images/
BELOW = f"up to {WRAPPER_DEPTH} folders below"  # for not-found messages: "here or {BELOW}"


def wrapped_folders(root: Path, depth: int = WRAPPER_DEPTH):
    """root, then the folders 1..depth levels below it, breadth first and lazily (a level is listed only when
    the caller asks past the one above): where a release lies when its archive was unpacked into a folder of
    its own. DIR/DIR/ counts as one level (unnested); hidden folders and macOS's __MACOSX/ are passed over."""
    level = [Path(root)]
    yield level[0]
    for _ in range(depth):
        below = []
        for folder in level:
            try:  # scandir: an entry's type without a stat of each file (AffectNet's folders hold thousands)
                with os.scandir(folder) as entries:
                    names = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith(".")
                                   and e.name != "__MACOSX")
            except OSError:  # a file, or unreadable: nothing below it
                continue
            for name in names:
                below.append(unnested(folder / name))
                yield below[-1]
        level = below


def find_wrapped(root: Path, holds, depth: int = WRAPPER_DEPTH) -> Path | None:
    """The first of wrapped_folders(root) for which holds(folder) is true, else None."""
    return next((f for f in wrapped_folders(root, depth) if holds(f)), None)


def with_dropped(imageset, dropped) -> object:
    """Attach the per-reason count of skipped samples (dict reason -> count) to a reader's result."""
    imageset.dropped = dict(dropped)
    return imageset


def mirror_landmarks_68(landmarks: np.ndarray, width: int) -> np.ndarray:
    """Landmarks (..., 68, 2) of the horizontally flipped image: x -> width-1-x and left/right points swapped."""
    out = landmarks[..., FLIP_68, :].copy()
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def _flip_permutation_68() -> list[int]:
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # eyebrows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lips
    perm = list(range(68))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


FLIP_68 = _flip_permutation_68()
