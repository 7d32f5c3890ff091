"""MAFL: CelebA aligned images with 5 landmarks, and the MAFL train/test lists.

    <root>/img_align_celeba/000001.jpg
    <root>/list_landmarks_align_celeba.txt   line 1: number of images; line 2: the header below;
                                             then `000001.jpg  69  109  106  113 ...` (integer pixels)
    <root>/training.txt, <root>/testing.txt  one image name per line (MAFL split)
MAFL on the CelebA files as distributed is read too: `Img/img_align_celeba/`, `Anno/list_landmarks_align_celeba.txt`
and the MAFL lists in `MAFL/` (or beside), the CelebA tree also up to two folders below the path (the Drive
folder downloaded as `CelebA/`, with `MAFL/` inside it or beside it); Kaggle's CelebA copy (`img_align_celeba/img_align_celeba/`,
`list_landmarks_align_celeba.csv` with `image_id,lefteye_x,...`); the PNG copy `img_align_celeba_png/`.
Where CelebA's files lie is found in one place, formats.celeba (find_list, find_aligned_images).
CelebA does not say whether its integer coordinates are 0- or 1-based; facessl reads them as 0-based
pixel positions, and the writer rounds 0-based positions to integers (so labels round-trip exactly
when they are integers). Point order: left eye, right eye, nose, left mouth corner, right mouth
corner, where "left" is the image's left (facessl.data.labels.MAFL_FROM_68 gives them from 68 points).

Evidence (read, not copied): pytorch/vision `torchvision/datasets/celeba.py` (list_landmarks_align_celeba.txt read
with header=1: line 1 the count, line 2 the names lefteye_x ... rightmouth_y; space-delimited with
skipinitialspace; images `celeba/img_align_celeba/<name>`); a loader found by text search (its repository not
shown) reads `<root>/MAFL/training.txt` / `testing.txt` (one name per line) with `<root>/Anno/
list_landmarks_align_celeba.txt` (and Anno/list_landmarks_celeba.txt for the unaligned photos, not read here).
oawiles/FAb-Net `FAb-Net/code/examples/mafl/036384.jpg` is an aligned CelebA name. Matched: all of the above.
Unconfirmed: FAb-Net's own MAFL loader is not in its repository; the 0- vs 1-based question (see above).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facessl.data.formats.celeba import find_aligned_images, find_list, release_folder
from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefiles import JPEG_QUALITY, MissingImages, parse_number, read_lines, save_image, with_dropped
from facessl.data.formats.text import column_index, read_csv
from facessl.errors import DataFormatError

LANDMARK_FILE = "list_landmarks_align_celeba.txt"
HEADER = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
SPLIT_FILES = {"train": "training.txt", "test": "testing.txt"}


def five_from_68(landmarks68: np.ndarray) -> np.ndarray:
    """(...,68,2) iBUG points -> (...,5,2) MAFL points (eye centres, nose tip, mouth corners)."""
    from facessl.data.labels import MAFL_FROM_68

    return np.stack([np.asarray(landmarks68)[..., list(ix), :].mean(axis=-2) for ix in MAFL_FROM_68.values()], axis=-2)


class MaflWriter:
    """Numbers images 000001, 000002, ... in the order added; `close()` writes the landmark and split lists."""

    def __init__(self, root, quality: int = JPEG_QUALITY):
        self.root = Path(root)
        self.quality = quality
        self.rows: list[str] = []
        self.splits = {"train": [], "test": []}
        (self.root / "img_align_celeba").mkdir(parents=True, exist_ok=True)

    def add(self, image: np.ndarray, landmarks5: np.ndarray, split: str) -> Path:
        """landmarks5 (5,2) 0-based pixel x, y (rounded to integers); split 'train' or 'test'."""
        if split not in self.splits:
            raise ValueError(f"MAFL split must be 'train' or 'test', got {split!r}")
        name = f"{len(self.rows) + 1:06d}.jpg"
        path = self.root / "img_align_celeba" / name
        save_image(path, image, self.quality)
        values = np.rint(np.asarray(landmarks5, dtype=np.float64)).astype(int).ravel()
        self.rows.append(name + " " + " ".join(f"{v:4d}" for v in values))
        self.splits[split].append(name)
        return path

    def close(self) -> None:
        text = f"{len(self.rows)}\n{HEADER}\n" + "".join(row + "\n" for row in self.rows)
        (self.root / LANDMARK_FILE).write_text(text)
        for split, file_name in SPLIT_FILES.items():
            (self.root / file_name).write_text("".join(name + "\n" for name in self.splits[split]))


def read_landmark_list(path) -> dict[str, np.ndarray]:
    """list_landmarks_align_celeba.txt -> image name -> (5,2) float32."""
    lines = read_lines(path, "CelebA landmark list")
    count = parse_number(lines[0].strip() if lines else "", path, 1, "the number of images on the first line", int)
    if len(lines) < 2 or lines[1].split() != HEADER.split():
        raise DataFormatError(path, f"expected the header {HEADER!r}", 2)
    table = {}
    for number, line in enumerate(lines[2:], start=3):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 11:
            raise DataFormatError(path, f"expected an image name and 10 coordinates, got {len(fields)} fields", number)
        values = [parse_number(v, path, number, "an integer coordinate", float) for v in fields[1:]]
        table[fields[0]] = np.array(values, dtype=np.float32).reshape(5, 2)
    if len(table) != count:
        raise DataFormatError(path, f"first line says {count} images, found {len(table)}", 1)
    return table


def read_landmark_csv(path) -> dict[str, np.ndarray]:
    """Kaggle's list_landmarks_align_celeba.csv: image_id + the 10 HEADER columns."""
    header, rows = read_csv(path, "CelebA landmark table")
    columns = [column_index(header, name, path, "CelebA landmark table") for name in ["image_id"] + HEADER.split()]
    return {f[columns[0]]: np.array([parse_number(f[i], path, n, "a coordinate", float) for i in columns[1:]],
                                    dtype=np.float32).reshape(5, 2) for n, f in rows}


def split_list_folder(root: Path, given: Path) -> Path:
    """Where training.txt lies: CelebA's folder or MAFL/ in it, else the folder given or MAFL/ in it (MAFL's
    lists unpacked beside a CelebA/ wrapper); `root` when none holds it (the reader then names root/training.txt)."""
    candidates = dict.fromkeys([root, root / "MAFL", given, given / "MAFL"])
    return next((folder for folder in candidates if (folder / SPLIT_FILES["train"]).is_file()), root)


def _require_split_lists(list_dir: Path, marks_file: Path) -> None:
    """MAFL's training.txt / testing.txt come with MAFL (Zhang et al., ECCV 2014 / TCDCN), not with CelebA: Kaggle's copy
    (jessicali9530/celeba-dataset) has the landmarks csv but no MAFL list. One error saying where to put them."""
    absent = [name for name in SPLIT_FILES.values() if not (list_dir / name).is_file()]
    if absent and marks_file.is_file():
        raise DataFormatError(list_dir / absent[0], f"MAFL split list {' and '.join(absent)} not found: CelebA (and "
                                                    f"Kaggle's CelebA copy) does not include MAFL's training.txt / "
                                                    f"testing.txt; put them in {list_dir / 'MAFL'}/ or beside "
                                                    f"{marks_file.name}")


def read_mafl(root, skip_missing: bool = False) -> ImageSet:
    """Images of training.txt (split 'train') then testing.txt ('test'); labels 'landmarks' (N,5,2) 0-based."""
    given = Path(root)
    root = release_folder(given, Path(LANDMARK_FILE).stem)
    marks_file = find_list(root, Path(LANDMARK_FILE).stem) or root / LANDMARK_FILE
    table = read_landmark_csv(marks_file) if marks_file.suffix == ".csv" else read_landmark_list(marks_file)
    aligned = find_aligned_images(root)
    list_dir = split_list_folder(root, given)
    _require_split_lists(list_dir, marks_file)
    missing = MissingImages(skip_missing)
    images, marks, split = [], [], []
    for name_of_split, file_name in SPLIT_FILES.items():
        list_path = list_dir / file_name
        for number, line in enumerate(read_lines(list_path, f"MAFL {name_of_split} list"), start=1):
            name = line.strip()
            if not name:
                continue
            if name not in table:
                raise DataFormatError(list_path, f"image {name} has no row in {marks_file.name}", number)
            path = aligned.path(name)
            if not missing.ok(path, list_path, number):
                continue
            images.append(str(path))
            marks.append(table[name])
            split.append(name_of_split)
    if not images:
        raise DataFormatError(root, "training.txt and testing.txt list no images")
    return with_dropped(ImageSet(images, {"landmarks": np.stack(marks)}, np.array(split), str(root)), missing.dropped)
