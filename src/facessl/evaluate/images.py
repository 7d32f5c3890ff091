"""Decode and resize the images of an ImageSet to the protocol's square input size (uint8 throughout)."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from facessl.data.formats.common import ImageSet, load_image
from facessl.data.image_decode import BoxedImage, decode_errors, image_source, upright_size
from facessl.errors import FacesslError


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise FacesslError(f"expected uint8 RGB images (H,W,3), got {image.dtype} {image.shape}")
    return image


class UndecodableImage(FacesslError):
    """An image file that exists but does not decode (a truncated download, a web page saved as .jpg)."""

    def __init__(self, item, reason):
        super().__init__(f"{item}: cannot decode image ({reason}); --skip-missing skips and counts such images")
        self.item = item


def _decode(item, size: int | None = None) -> np.ndarray:
    if isinstance(item, np.ndarray):
        return _as_rgb(item)
    try:
        return load_image(item, size)
    except decode_errors() as exc:
        raise UndecodableImage(item, exc) from None


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear (antialiased when shrinking) resize of a uint8 RGB image to size x size."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), dtype=np.uint8)


def decode_workers() -> int:
    """Threads that decode images: the machine's cores, at most 8 (PIL releases the GIL while decoding; on a
    GPU machine the decoding, not the model, bounds feature extraction)."""
    return max(2, min(8, os.cpu_count() or 2))


def load_batch(images, index, size: int, workers: int | None = None) -> np.ndarray:
    """uint8 (len(index), size, size, 3) for the rows `index` of an ImageSet's `images`."""
    workers = decode_workers() if workers is None else workers
    items = [images[i] for i in index]
    if workers > 1 and len(items) > 8 and not isinstance(images, np.ndarray):
        with ThreadPoolExecutor(workers) as pool:  # PIL decoding releases the GIL
            decoded = list(pool.map(lambda item: resize(_decode(item, size), size), items))
    else:
        decoded = [resize(_decode(item, size), size) for item in items]
    return np.stack(decoded) if decoded else np.zeros((0, size, size, 3), np.uint8)


def load_all(imageset: ImageSet, size: int) -> np.ndarray:
    return load_batch(imageset.images, range(len(imageset)), size)


def image_sizes(imageset: ImageSet) -> np.ndarray:
    """(N, 2) stored (width, height) of every image, read from file headers without decoding."""
    if isinstance(imageset.images, np.ndarray):
        n, h, w = imageset.images.shape[:3]
        return np.tile([w, h], (n, 1)).astype(np.float64)
    sizes = []
    for item in imageset.images:
        if isinstance(item, np.ndarray):
            sizes.append((item.shape[1], item.shape[0]))
            continue
        if isinstance(item, BoxedImage):  # decoded as its square face crop
            left, top, right, _ = item.square()
            sizes.append((right - left, right - left))
            continue
        try:
            with Image.open(image_source(item)) as im:
                sizes.append(upright_size(im))  # as load_image will show it (EXIF orientation applied)
        except OSError as exc:
            raise FacesslError(f"{item}: cannot read image size ({exc})") from None
    return np.asarray(sizes, dtype=np.float64).reshape(-1, 2)


def list_image_files(folder, count_linked: bool = False):
    """Image files under a folder (recursive, following symlinked folders), sorted, for `facessl embed`.
    count_linked: also return how many were reached through a symlinked folder."""
    from facessl.data.formats.imagefolder import walk_images

    folder = Path(folder)
    if not folder.is_dir():
        raise FacesslError(f"{folder}: not a directory of images")
    files = walk_images(folder)
    if not files:
        raise FacesslError(f"{folder}: no image files (.jpg, .png, .bmp, .webp, .tif) found")
    if not count_linked:
        return files
    return files, sum(_through_link(folder, f) for f in files)


def _through_link(folder: Path, file: Path) -> bool:
    parent = file.relative_to(folder).parent
    return any((folder / q).is_symlink() for q in (parent, *parent.parents) if q != Path("."))
