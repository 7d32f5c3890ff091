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


NAMES_KEPT = 1000  # skipped files named per reason (results.json); the count is always the whole


class Dropped(Counter):
    """A reader's reason -> count of skipped rows that also keeps the first NAMES_KEPT names per reason (`names`),
    which with_dropped puts in meta['dropped_names']: what was skipped can then be named, not only counted."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.names: dict[str, list[str]] = {}

    def add(self, reason: str, name) -> None:
        self[reason] += 1
        kept = self.names.setdefault(reason, [])
        if len(kept) < NAMES_KEPT:
            kept.append(str(name))


class MissingImages:
    """Checks that images named by a list file exist; raises or, with skip_missing, skips and counts (and names)."""

    def __init__(self, skip_missing: bool, searched: str = ""):
        self.skip_missing = skip_missing
        self.searched = searched  # set when the image folder itself was not found: where the reader looked
        self.dropped: Dropped = Dropped()

    def ok(self, image_path, list_path, line: int | None = None) -> bool:
        if Path(image_path).is_file():
            return True
        if self.skip_missing:
            self.dropped.add("missing_image", image_path)
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
    """Attach the per-reason count of skipped samples (dict reason -> count) to a reader's result; the names a
    Dropped kept go to meta['dropped_names']."""
    imageset.dropped = dict(dropped)
    for reason, names in getattr(dropped, "names", {}).items():
        add_dropped_names(imageset, reason, names)
    return imageset


def add_dropped_names(imageset, reason: str, names) -> None:
    """Keep the names of rows skipped for `reason` (meta['dropped_names'], up to NAMES_KEPT per reason) beside the
    counts in `dropped`, which stay the readers' and every caller's plain reason -> count. A new dict each time: a
    subset's meta is a shallow copy of its set's."""
    if not names:
        return
    kept = dict(imageset.meta.get("dropped_names") or {})
    kept[reason] = (list(kept.get(reason, [])) + [str(n) for n in names])[:NAMES_KEPT]
    imageset.meta = {**imageset.meta, "dropped_names": kept}


SHOWN_SKIPPED = 3  # names shown per reason on the console and in results.md


def dropped_names(data, root=None) -> dict[str, list[str]]:
    """reason -> the names of the rows a set's readers and checks skipped (paths shortened to below the dataset's
    folder), as far as they were kept; a clip set's unreadable videos from meta['unreadable_videos']."""
    images = data.images if hasattr(data, "pairs") else data
    meta = getattr(images, "meta", None) or {}
    base = Path(root if root is not None else getattr(images, "source", "") or "")
    base = base.parent if base.is_file() else base
    named = {reason: [_below(n, base) for n in names] for reason, names in (meta.get("dropped_names") or {}).items()}
    if meta.get("unreadable_videos"):  # videoclips.py names them itself: 'clip.mp4: why'
        named.setdefault("video that cannot be read", list(meta["unreadable_videos"]))
    return named


def _below(name: str, base: Path) -> str:
    try:
        return Path(name).relative_to(base).as_posix() if str(base) not in ("", ".") else name
    except ValueError:
        return name


def skipped_text(dropped: dict, names: dict | None = None, shown: int = SHOWN_SKIPPED, count_first=False) -> str:
    """'missing image 1 (a.jpg), undecodable image 5 (b.jpg, c.jpg, d.jpg ... (2 more))': each reason's count and
    the first few of its names, as far as they are known ('1 missing image (a.jpg)' with count_first, as the
    console has it); '' when nothing was skipped."""
    parts = []
    for why, n in dropped.items():
        if not n:
            continue
        listed = named_list((names or {}).get(why, []), n, shown)
        counted = f"{n} {why.replace('_', ' ')}" if count_first else f"{why.replace('_', ' ')} {n}"  # the console's order
        parts.append(counted + (f" ({listed})" if listed else ""))
    return ", ".join(parts)


def named_list(names: list, count: int, shown: int = SHOWN_SKIPPED) -> str:
    """'a.jpg, b.jpg, c.jpg ... (2 more)': the first `shown` of `count` skipped rows by name ('' if none known)."""
    listed = [printable(str(x)) for x in names[:shown]]
    return ", ".join(listed) + (f" ... ({count - len(listed)} more)" if listed and count > len(listed) else "")


def printable(name: str) -> str:
    """A name for the console: bytes that are not UTF-8 as \\xe9 (printing a surrogate would raise)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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


def load_fsa_net_npz(path: Path, made_by: str) -> tuple:
    """(image, pose) arrays of an FSA-Net npz (its BIWI and type1 300W-LP / AFLW2000 scripts), never unpickling."""
    import zipfile

    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:  # numpy takes a non-npz file for a pickle
        raise DataFormatError(path, "not an .npz archive of plain arrays (numpy would have to unpickle it, "
                                    f"which facessl never does: {exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFormatError(path, f"not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise DataFormatError(path, "expected an .npz archive with arrays 'image' and 'pose', got a single .npy array")
    with data:
        if "image" not in data.files or "pose" not in data.files:
            raise DataFormatError(path, f"expected arrays 'image' and 'pose' (FSA-Net's {made_by} npz), found {', '.join(data.files) or 'none'}")
        try:
            return data["image"], data["pose"]
        except ValueError:  # an object array
            raise DataFormatError(path, "'image' or 'pose' is an object array that only unpickling can read; "
                                        "facessl never unpickles data files (save them as numeric arrays)") from None
