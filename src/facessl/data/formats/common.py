"""The internal forms every format reader returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ImageSet:
    """Images with labels, one row per image.

    images: list of image file paths (decoded lazily) or a uint8 array (N,H,W,3) already in memory
            (e.g. FER-2013 CSV rows, converted to RGB).
    labels: name -> array with N rows. Names used across facessl:
        'expression' (N,) int, internal order (facessl.data.labels.EXPRESSIONS)
        'pose'       (N,3) float degrees, (yaw, pitch, roll)
        'landmarks'  (N,K,2) float pixel coordinates (x, y) in the stored image
        'aus'        (N,8) float intensities 0..5 in facessl.data.labels.AUS order
        'identity'   (N,) str or int; 'subject' (N,) for subject-exclusive folds
    split: (N,) array of str ('train', 'test', 'PublicTest', ...) or None when the set is one split.
    """

    images: list | np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    split: np.ndarray | None = None
    source: str = ""  # the file or directory read, for messages and cache keys
    dropped: dict = field(default_factory=dict)  # reason -> count of rows a reader skipped (missing file, |angle|>99 ...)
    meta: dict = field(default_factory=dict)  # generic sets: class_names, target_columns, split_from ...

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index) -> "ImageSet":
        index = np.asarray(index)
        images = self.images[index] if isinstance(self.images, np.ndarray) else [self.images[i] for i in index]
        labels = {k: v[index] for k, v in self.labels.items()}
        split = None if self.split is None else self.split[index]
        return ImageSet(images, labels, split, self.source, dict(self.dropped), dict(self.meta))


@dataclass
class PairSet:
    """Verification pairs (LFW / CPLFW pairs.txt): indices into `images`, same-identity flags, folds.

    With `item` set, each image row belongs to an item (a video's frames, a template's photos: YouTube Faces,
    IJB) and `pairs` index items, not images: an item is compared by the mean of its images' unit features."""

    images: ImageSet
    pairs: np.ndarray  # (P,2) int
    same: np.ndarray  # (P,) bool
    fold: np.ndarray  # (P,) int 0..n_folds-1
    source: str = ""
    dropped: dict = field(default_factory=dict)
    item: np.ndarray | None = None  # (N,) int: the item of each image row; None: pairs index images

    def first_images(self) -> np.ndarray:
        """The image row that stands for each item (its first), or every row when pairs index images."""
        if self.item is None:
            return np.arange(len(self.images))
        n_items = int(self.pairs.max()) + 1 if len(self.pairs) else 0
        first = np.full(max(n_items, int(self.item.max()) + 1 if len(self.item) else 0), -1, np.int64)
        for row in range(len(self.item) - 1, -1, -1):
            first[self.item[row]] = row
        return first


def load_image(path, size: int | None = None) -> np.ndarray:
    """Decode an image file to uint8 RGB (H,W,3): upright, 16-bit grey and transparency handled (image_decode);
    resized to size x size when given (a large JPEG decoded at a reduced scale first)."""
    from facessl.data.image_decode import read_face

    return read_face(path, size)
