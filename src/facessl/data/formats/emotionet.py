"""EmotioNet (Benitez-Quiroz et al., CVPR 2016; the EmotioNet Challenges 2017, 2018, 2020): AU occurrences of
face photos from the web.

EmotioNet gives no images, only annotation lists: each row names an image by URL and codes its AUs (1 present,
0 absent, 999 not coded / unknown). Users download the images themselves. Lists as
released:

    EmotioNet_FACS_aws_2020_24600.csv / .xlsx        the manually annotated set (24,600 images; 25,000 in 2017):
                                                     header `URL, URL orig, 'AU 1', 'AU 2', ...` (names in single
                                                     quotes), URL cells quoted `'https://.../N_0000000001_00001.jpg'`
    EmotioNet_FACS.csv, EmotioNet_FACS_aws_without_passw.xlsx, emotionet_facs_24600.xlsx   earlier / renamed copies
    emotioNet_challenge_files_server_challenge_1.2_aws/dataFile_1001.txt ...   the ~950,000 automatically annotated
                                                     images (2018 on; `emotioNet_1.txt` ... in release 1.1): no
                                                     header, tab-separated `URL <tab> URL orig <tab>` then 60 codes,
                                                     AU 1 ... AU 60 by position

Since release 1.2 the URLs point at the organisers' copy, `https://s3.us-east-2.amazonaws.com/emotionet/Images/
N_0000000001/N_0000000001_00001.jpg` (1,068,550 images in 2,790 folders); 2017 lists name the original web pages'
images. Images found where the common download scripts put them, anywhere under the root (or `images=DIR`):
the S3 tree mirrored (`aws s3 sync`: `whole/N_0000000001/N_0000000001_00001.jpg`, EMOCA's `images/N_.../...`),
flat by the URL's file name (`imgs/N_0000000001_00001.jpg`; for web URLs also %-decoded, with the query cut, or
with the extension normalised as `x.JPG` -> `x.jpg`, `x` -> `x.jpg`), or numbered by the row of the list
(`00000.jpg`, when no file carries a URL's name: 0-based if a file numbered 0 exists, else 1-based).

Rows dropped and counted in `dropped`: `not_coded` (999 or an empty cell in a chosen AU; meta['not_coded_per_au']
says which AU), `missing_image` (not downloaded: dead URLs are common; `skip_missing=False` makes it an error),
`duplicate_url` (a URL listed again: the first row kept), `shared_image` (rows with different URLs that resolve to
one downloaded file, e.g. two web images both called `1.jpg`: which one is on disk cannot be told),
`ambiguous_image` (several files could be the URL's: same name in folders that do not say which), `no_url`.
Images that exist but do not decode (an error page saved as .jpg) are the CLI's `--skip-missing` check.

AUs: the challenge's 12 (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26, 43; 2018 on), or its 11 of 2017 (without 43) when
a list has no AU 43; `aus=[...]` picks others the lists code. Labels 'aus' (N, K) 0/1, meta au_names and
au_labels='occurrence' (as bp4d); 'group' is the image (EmotioNet has no person ids): task au deals the images into
its 3 cross-validation folds by it. 'annotation' says 'manual' or 'auto' per row.
`annotations`: 'manual' (the default when a manual list is there, else 'auto'), 'auto', or 'all' (both: split
train = auto, test = manual, the challenge's own use: train on the automatic labels, verify on the manual ones).
With 'all', meta au_protocol='split' makes task au fit on the automatic rows and test on the manual ones (one
fold). Otherwise the release has no split (the challenge's test labels were never published): the split column is
seeded, 20 % test, by image, and task au cross-validates over the rows read (3 folds by image).

An .xlsx is read with the standard library (zip + XML, every sheet in workbook order, each with its header); an
encrypted workbook (copies named `..._without_passw.xlsx` say a list came with a password) is one error asking for
a copy saved without it.
Checked against: the challenge page (cbcsl.ece.ohio-state.edu/EmotionNetChallenge: 11 AUs; 950,000 automatic +
25,000 manual), radekd91/emoca `gdl/datasets/EmotioNetDataModule.py` and its author's download script (columns `url,
orig_url, AU1..AU60` of the tab-separated .txt lists, quotes stripped from both ends of a URL, images kept as
`images/N_.../<file>`), cosanlab/py-feat `notebooks/content/extract_labels_and_landmarks.ipynb` (`labels/
EmotioNet_FACS_aws_2020_24600.csv` beside `imgs/<URL's file name>`, quotes and spaces stripped from the `'AU 1'`
names and the URLs, 17 AUs 1 ... 43 read), lnavneet331/EmotioNet
(`aws s3 sync` of the `Images/N_...` folders, `emotioNet_challenge_files/*.txt`, AU k = code k after the URLs),
alessaww/emotioNet_URLs_Download (flat downloads named by the URL's file name, extension normalised), and loaders
reading `dataFile_1001.txt` (AU k in column k + 1, 999 kept apart as unknown) and naming downloads by row.

Evidence (read, not copied; re-checked for this audit): the sources named above, plus lkq52110/au-recognition
`README.md` (EmotioNet trained and tested with three-fold cross-validation after its own label processing, as
task au's 3 folds here). Matched; nothing changed. Unconfirmed: the current column layout of the 2020 manual
list beyond the 'AU k' names (read by name, so extra columns are harmless) and FAb-Net's EmotioNet protocol.
"""
from __future__ import annotations

import csv
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, unquote_plus, urlsplit

import numpy as np

from facessl.data.formats import xlsx
from facessl.data.formats.common import ImageSet
from facessl.data.formats.grouping import SPLIT_SEED, TEST_FRACTION
from facessl.data.formats.imagefiles import au_numbers, every_kth, fraction_option, one_of, with_dropped
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import DataFormatError, FacesslError

AUS_2017 = (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26)  # challenge 2017, track 1
CHALLENGE_AUS = AUS_2017 + (43,)  # 2018 on
NOT_CODED = 999
ANNOTATIONS = ("manual", "auto", "all")
MANUAL_LIST = re.compile(r".*facs.*\.(csv|xlsx|tsv|txt)", re.IGNORECASE)
AUTO_LIST = re.compile(r"(datafile|emotionet)_\d+\.(txt|tsv|csv)", re.IGNORECASE)
LIST_SUFFIX_ORDER = (".csv", ".tsv", ".txt", ".xlsx")  # the same list saved twice: the text copy is read
URL_HEADERS = {"url", "imageurl", "image_url", "url1", "link"}
AU_HEADER = re.compile(r"au[\s_-]*0*(\d+)", re.IGNORECASE)
AMBIGUOUS = object()


# --- reading the lists: text (csv / tab) and xlsx ------------------------------------------------------------
@dataclass
class Table:
    """One list (or one sheet of a workbook): where it is, for messages, and its rows (line, cells)."""

    path: Path
    where: str
    rows: object  # callable -> iterator of (line number, cells)


def open_tables(path: Path) -> list[Table]:
    if path.suffix.lower() == ".xlsx":
        return xlsx_tables(path)
    return [Table(path, str(path), lambda: text_rows(path))]


def text_rows(path: Path):
    """(line, cells) of a delimited text list, streamed: tab if the first line has one, else ',' or ';'."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
            delimiter = "\t" if "\t" in first else (";" if ";" in first and "," not in first else ",")
            reader = csv.reader(itertools.chain([first], handle), delimiter=delimiter)
            for cells in reader:
                if any(c.strip() for c in cells):
                    yield reader.line_num, cells
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"EmotioNet list is not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise DataFormatError(path, f"malformed list ({exc})") from None


def xlsx_tables(path: Path) -> list[Table]:
    """One Table per worksheet, in workbook order (read by formats.xlsx: zip + XML, no openpyxl)."""
    return [Table(path, sheet.where, sheet.rows) for sheet in xlsx.worksheets(path, "EmotioNet list")]


# --- what a list's rows mean ----------------------------------------------------------------------------------
def _bare(cell: str) -> str:
    """A cell without surrounding spaces and the quotes the releases put around URLs and AU names."""
    return cell.strip().strip("'\"").strip()


def looks_like_url(cell: str) -> bool:
    text = _bare(cell).lower()
    return "://" in text or text.startswith("www.")


@dataclass
class Layout:
    """Where a list keeps the URL and each AU's code; `header` False when the first row is already data."""

    url: int
    aus: dict[int, int]  # AU number -> column
    header: bool
    line: int  # of the first row, for messages


def layout_of(first: list[str], table: Table, line: int) -> Layout:
    if looks_like_url(first[0]):  # the .txt lists: URL, URL orig, then AU 1, AU 2, ... by position
        start = 2 if len(first) > 1 and (looks_like_url(first[1]) or not _bare(first[1])) else 1
        return Layout(0, {k + 1: start + k for k in range(len(first) - start)}, False, line)
    names = [_bare(c).lower() for c in first]
    url = next((i for i, n in enumerate(names) if n.replace(" ", "") in URL_HEADERS), None)
    if url is None:
        raise DataFormatError(table.where, f"expected a header with a URL column (`URL, URL orig, 'AU 1', ...`) or "
                                           f"rows starting with an image URL, got {first[0]!r}", line)
    aus: dict[int, int] = {}
    plain = {}
    for index, name in enumerate(names):
        match = AU_HEADER.fullmatch(name)
        if match:
            number = int(match.group(1))
            if number in aus:
                raise DataFormatError(table.where, f"two columns for AU {number}", line)
            aus[number] = index
        elif name.isdigit() and index != url:  # columns named 1, 2, ... 60 by some converted copies
            plain[int(name)] = index
    return Layout(url, aus or plain, True, line)


def chosen_aus(wanted: tuple[int, ...] | None, layouts: list[tuple[Table, Layout]]) -> tuple[int, ...]:
    """The AUs read: `wanted`, else the challenge's 12 (its 11 of 2017 when a list has no AU 43); every list must
    code them."""
    coded = set.intersection(*(set(layout.aus) for _, layout in layouts))
    if wanted is None:
        wanted = CHALLENGE_AUS if set(CHALLENGE_AUS) <= coded else AUS_2017
    for table, layout in layouts:
        lacking = [a for a in wanted if a not in layout.aus]
        if lacking:
            raise DataFormatError(table.where, f"no column for AU {', '.join(map(str, lacking))}; the list codes AUs "
                                               f"{', '.join(map(str, sorted(layout.aus))) or 'none'}", layout.line)
    return wanted


CODES = {0.0: 0.0, 1.0: 1.0}  # shared float objects: a million rows hold references, not a million floats


def _code(cell: str, au: int, table: Table, line: int) -> float | None:
    text = cell.strip()
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = None
    if value == NOT_CODED:
        return None
    if value not in CODES:
        raise DataFormatError(table.where, f"expected an AU{au} code 0, 1 or 999 (not coded), got {cell!r}", line)
    return CODES[value]


@dataclass(slots=True)
class Row:
    url: str
    codes: tuple | None  # None: a chosen AU is not coded
    position: int  # the data row's 0-based place in its list (what downloads named by row count)
    kind: str  # 'manual' or 'auto'
    table: Table
    line: int


def first_row(table: Table) -> tuple[int, list[str]] | None:
    return next(iter(table.rows()), None)


def list_rows(table: Table, layout: Layout, aus: tuple[int, ...], kind: str, not_coded: dict) -> list[Row]:
    """Every data row of a list, its codes of `aus` (None when one is not coded, counted per AU in not_coded)."""
    columns = [layout.aus[a] for a in aus]
    need = max(columns + [layout.url]) + 1
    lenient = table.path.suffix.lower() == ".xlsx"  # a workbook leaves trailing empty cells out
    rows = table.rows()
    if layout.header:
        next(rows, None)
    out = []
    for position, (line, cells) in enumerate(rows):
        if len(cells) < need:
            if not lenient:
                raise DataFormatError(table.where, f"expected at least {need} fields (URL, AU codes), got "
                                                   f"{len(cells)}", line)
            cells = cells + [""] * (need - len(cells))
        codes = tuple(_code(cells[c], a, table, line) for c, a in zip(columns, aus))
        if None in codes:
            for a, value in zip(aus, codes):
                if value is None:
                    not_coded[f"AU{a}"] = not_coded.get(f"AU{a}", 0) + 1
            codes = None
        out.append(Row(_bare(cells[layout.url]), codes, position, kind, table, line))
    return out


# --- where the lists and images are ----------------------------------------------------------------------------
def _shallow_files(root: Path, depth: int = 2):
    """(name, path) of the files at most `depth` folders below root (the lists lie in the root, `labels/`, a
    challenge folder, its `txts/`)."""
    stack = [(root, 0)]
    while stack:
        folder, level = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith((".", "~$")):
                continue
            if entry.is_file():
                yield entry.name, entry.path
            elif entry.is_dir() and level < depth:
                stack.append((entry.path, level + 1))


def find_lists(root: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {"manual": [], "auto": []}
    for name, path in _shallow_files(root):
        if AUTO_LIST.fullmatch(name):
            found["auto"].append(Path(path))
        elif MANUAL_LIST.fullmatch(name):
            found["manual"].append(Path(path))
    found["auto"].sort(key=lambda p: _natural(p.name))
    found["manual"] = _one_copy_each(found["manual"])
    return found


def _natural(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _one_copy_each(paths: list[Path]) -> list[Path]:
    """A list saved both as .xlsx and .csv (same name) is read once, from the text copy."""
    by_stem: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: LIST_SUFFIX_ORDER.index(p.suffix.lower())):
        by_stem.setdefault(path.stem.lower(), path)
    return sorted(by_stem.values())


@dataclass
class ImageIndex:
    """Every image file under a folder, by lower-case stem (a URL's name is looked up with or without extension)."""

    root: Path
    by_stem: dict = field(default_factory=dict)  # lower stem -> path str, or a list of them
    numbered: dict = field(default_factory=dict)  # int(stem) of all-digit names -> path str (None when repeated)
    count: int = 0

    @classmethod
    def scan(cls, root: Path) -> "ImageIndex":
        index = cls(root)
        seen = set()
        for folder, dirs, files in os.walk(root, followlinks=True):
            try:
                key = os.stat(folder)
            except OSError:
                continue
            if (key.st_dev, key.st_ino) in seen:  # a symlink loop
                dirs[:] = []
                continue
            seen.add((key.st_dev, key.st_ino))
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                stem, suffix = os.path.splitext(name)
                if suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                    index.add(stem, os.path.join(folder, name))
        return index

    def add(self, stem: str, path: str) -> None:
        self.count += 1
        key = stem.lower()
        held = self.by_stem.get(key)
        if held is None:
            self.by_stem[key] = path
        elif isinstance(held, list):
            held.append(path)
        else:
            self.by_stem[key] = [held, path]
        if stem.isdigit():
            self.numbered[int(stem)] = None if int(stem) in self.numbered else path

    def find(self, url: str, list_stem: str):
        """The downloaded file of a URL: a path, None (not there) or AMBIGUOUS (several files could be it)."""
        held = self.by_stem.get(_stem(url.rsplit("/", 1)[-1]).lower())  # the usual case, before parsing the URL
        if isinstance(held, str):
            return held
        names, parent = url_names(url)
        for name in names:
            held = self.by_stem.get(_stem(name).lower())
            if held is not None:
                return held if isinstance(held, str) else _pick(held, name, parent, list_stem)
        return None


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def url_names(url: str) -> tuple[list[str], str | None]:
    """File names a download script may have saved a URL under (in the order tried), and the URL's folder name."""
    raw = url.rstrip("/").rsplit("/", 1)[-1]
    parts = [p for p in urlsplit(url).path.split("/") if p]
    base = parts[-1] if parts else raw
    names = []
    for name in (base, raw, unquote(base), unquote_plus(base), unquote(unquote(base))):
        if name and name not in names:
            names.append(name)
    return names, (parts[-2] if len(parts) > 1 else None)


def _pick(paths: list[str], name: str, parent: str | None, list_stem: str):
    """Among files sharing a stem: the one of the exact name, in the URL's folder (the S3 mirror) or in a folder
    named after the list (downloads kept per list); else AMBIGUOUS."""
    for keep in (lambda p: os.path.basename(p) == name,
                 lambda p: os.path.basename(os.path.dirname(p)) == parent,
                 lambda p: os.path.basename(os.path.dirname(p)) == list_stem):
        narrowed = [p for p in paths if keep(p)]
        if len(narrowed) == 1:
            return narrowed[0]
        if narrowed:
            paths = narrowed
    return AMBIGUOUS


# --- the reader ------------------------------------------------------------------------------------------------
def read_emotionet(root, annotations: str | None = None, aus=None, images=None, labels=None, every: int = 1,
                   skip_missing: bool = True, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """EmotioNet AU occurrences. root: the folder holding the lists and the downloaded images, or one list file.
    annotations 'manual' | 'auto' | 'all' (see the module doc); aus: AU numbers (default the challenge's 12);
    images: the image folder (default: searched under root); labels: a list file to read instead of the ones
    found by name; every=k keeps every k-th coded row of each list; skip_missing=False makes an image not
    downloaded an error. Labels 'aus' (N, K) 0/1, 'group' (the image), 'annotation'; meta au_names,
    au_labels='occurrence'."""
    root, every = Path(root), every_kth(every, "emotionet")
    fraction = fraction_option(test_fraction, "emotionet")
    if not root.exists():
        raise DataFormatError(root, "EmotioNet folder or list not found")
    base = root if root.is_dir() else root.parent
    lists, chosen = lists_to_read(root, base, annotations, labels)
    layouts = []
    for kind, path in lists:
        for table in open_tables(path):
            head = first_row(table)
            if head is not None:  # an empty sheet is no list
                layouts.append((kind, table, layout_of(head[1], table, head[0])))
    if not layouts:
        raise DataFormatError(lists[0][1], "the EmotioNet list has no rows")
    wanted = None if aus is None else au_numbers(aus, "emotionet")
    coded = chosen_aus(wanted, [(table, layout) for _, table, layout in layouts])
    not_coded: dict[str, int] = {}
    rows_by_list = [list_rows(table, layout, coded, kind, not_coded) for kind, table, layout in layouts]
    image_root = image_folder(base, images)
    kept, dropped = resolve(rows_by_list, ImageIndex.scan(image_root), every, skip_missing, image_root)
    meta = {"au_names": [f"AU{a}" for a in coded], "au_labels": "occurrence", "annotations": chosen,
            "lists": [str(path) for _, path in lists],
            "not_coded_per_au": {k: not_coded[k] for k in sorted(not_coded, key=lambda n: int(n[2:]))}}
    return image_set(kept, dropped, len(coded), meta, image_root, root, fraction, seed)


def lists_to_read(root: Path, base: Path, annotations, labels) -> tuple[list[tuple[str, Path]], str]:
    """[(kind, list path)] and the annotations read ('manual', 'auto' or 'all')."""
    wanted = None if annotations is None else one_of(annotations, ANNOTATIONS, "emotionet", "annotations")
    if labels is not None or root.is_file():
        path = Path(labels) if labels is not None else root
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise DataFormatError(path, "EmotioNet list not found")
        kind = "auto" if AUTO_LIST.fullmatch(path.name) else "manual"
        if wanted not in (None, kind):
            raise FacesslError(f"emotionet: annotations={wanted} does not apply to the one list {path.name} "
                               f"({kind}ly annotated by its name); leave annotations out")
        return [(kind, path)], kind
    found = find_lists(root)
    if wanted is None:
        wanted = "manual" if found["manual"] or not found["auto"] else "auto"
    if wanted in ("manual", "all") and len(found["manual"]) > 1:
        names = ", ".join(str(p.relative_to(root)) for p in found["manual"])
        raise DataFormatError(root, f"several manually annotated EmotioNet lists ({names}); choose one with "
                                    f"--reader-option labels=NAME")
    for kind in ("manual", "auto"):
        if wanted in (kind, "all") and not found[kind]:
            expected = ("EmotioNet_FACS_aws_2020_24600.csv or .xlsx" if kind == "manual" else
                        "dataFile_1001.txt ... or emotioNet_1.txt ...")
            raise DataFormatError(root, f"no {'manually' if kind == 'manual' else 'automatically'} annotated "
                                        f"EmotioNet list found (expected {expected} here or up to two folders below)")
    kinds = ("manual", "auto") if wanted == "all" else (wanted,)
    return [(kind, path) for kind in kinds for path in found[kind]], wanted


def image_folder(base: Path, images) -> Path:
    if images is None:
        return base
    folder = Path(images) if Path(images).is_absolute() else base / images
    if not folder.is_dir():
        raise DataFormatError(folder, "EmotioNet image folder not found")
    return folder


def resolve(rows_by_list: list[list[Row]], index: ImageIndex, every: int, skip_missing: bool, image_root: Path):
    """[(row, image path)] of the rows kept, and the counts of those dropped (see the module doc)."""
    dropped = {"not_coded": 0, "missing_image": 0, "duplicate_url": 0, "shared_image": 0, "ambiguous_image": 0,
               "no_url": 0}
    by_number = _row_numbered(rows_by_list, index)
    seen_urls, located = set(), []
    for rows in rows_by_list:
        coded = []
        for row in rows:
            reason = ("no_url" if not row.url else "not_coded" if row.codes is None else
                      "duplicate_url" if row.url in seen_urls else None)
            if reason:
                dropped[reason] += 1
                continue
            seen_urls.add(row.url)
            coded.append(row)
        for row in coded[::every]:
            image = by_number(row) if by_number else index.find(row.url, row.table.path.stem)
            if image is None and not skip_missing:
                raise DataFormatError(row.table.where, f"image of {row.url} not found under {image_root} (looked for "
                                                       f"{' or '.join(url_names(row.url)[0])}); skip_missing=True "
                                                       f"(the default) skips and counts it", row.line)
            if image is None or image is AMBIGUOUS:
                dropped["missing_image" if image is None else "ambiguous_image"] += 1
                continue
            located.append((row, image))
    users: dict[str, int] = {}
    for _, image in located:
        users[image] = users.get(image, 0) + 1
    kept = [(row, image) for row, image in located if users[image] == 1]
    dropped["shared_image"] += len(located) - len(kept)
    if not kept:
        if dropped["missing_image"] and not located:
            raise DataFormatError(image_root, f"none of the {dropped['missing_image']} images the EmotioNet list "
                                              f"names was found here ({index.count} image files; expected downloads "
                                              f"named after the URLs, e.g. N_0000000001/N_0000000001_00001.jpg or "
                                              f"N_0000000001_00001.jpg); download them first, or give images=DIR")
        raise DataFormatError(image_root, f"no EmotioNet row left to read (dropped: "
                                          f"{', '.join(f'{k} {v}' for k, v in dropped.items() if v)})")
    return kept, dropped


def _row_numbered(rows_by_list: list[list[Row]], index: ImageIndex):
    """For downloads named by row (`00000.jpg`): a row -> image function, used when one list is read, numbered
    files are there and no image carries a URL's name; else None."""
    if len(rows_by_list) != 1 or not index.numbered:
        return None
    if any(index.find(row.url, row.table.path.stem) is not None for row in rows_by_list[0] if row.url):
        return None
    offset = 0 if 0 in index.numbered else 1

    def image(row: Row):
        number = row.position + offset
        return index.numbered.get(number) if index.numbered.get(number) else (AMBIGUOUS if number in index.numbered
                                                                              else None)
    return image


def image_set(kept, dropped, n_aus: int, meta: dict, image_root: Path, root: Path, test_fraction: float,
              seed: int) -> ImageSet:
    images = [image for _, image in kept]
    codes = np.array([row.codes for row, _ in kept], dtype=np.float32).reshape(len(kept), n_aus)
    prefix = os.path.join(str(image_root), "")
    groups = np.array([i[len(prefix):].replace(os.sep, "/") if i.startswith(prefix) else i for i in images],
                      dtype=str)  # the image, relative to the image folder
    kinds = np.array([row.kind for row, _ in kept], dtype=str)
    if meta["annotations"] == "all":
        split = np.where(kinds == "auto", "train", "test")
        meta["split_from"] = "EmotioNet's own use: automatically annotated rows = train, manually annotated = test"
        meta["au_protocol"] = "split"  # task au fits on the automatic labels and tests on the manual ones
    else:
        split = np.full(len(kept), "train", dtype=object)
        split[np.random.default_rng(seed).permutation(len(kept))[:int(round(test_fraction * len(kept)))]] = "test"
        meta["split_from"] = (f"seeded ({seed}) random split, {test_fraction:.0%} test, by image (no split released); "
                              f"task au cross-validates by image")
    labels = {"aus": codes, "group": groups, "annotation": kinds}
    return with_dropped(ImageSet(images, labels, np.asarray(split, dtype=str), str(root), meta=meta), dropped)
