"""`--skip-missing` for images that exist but do not decode (a truncated download, an HTML page saved as
.jpg, a zero-byte file): one checking pass before any features are computed, so every later step sees
only rows it can read. Without the flag, evaluation meets the first such image while computing features and then
runs the task again through this check (evaluate.runner.evaluate_spec)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import add_dropped_names
from facessl.data.image_decode import decode_errors, image_source

UNDECODABLE = "undecodable image"


def decodable(path) -> bool:
    """Whether the whole file decodes. JPEGs decode at reduced scale (draft), which still reads every byte."""
    from PIL import Image

    try:
        with Image.open(image_source(path)) as im:
            im.draft("RGB", (64, 64))
            im.load()
        return True
    except decode_errors():
        return False


def undecodable_rows(images, workers: int = 2) -> np.ndarray:
    """Indices of the image files that do not decode (none for images already in memory)."""
    if isinstance(images, np.ndarray) or len(images) == 0:
        return np.zeros(0, np.int64)
    with ThreadPoolExecutor(workers) as pool:  # Pillow releases the GIL while decoding
        ok = list(pool.map(lambda item: isinstance(item, np.ndarray) or decodable(item), images))
    return np.flatnonzero(~np.asarray(ok, bool))


def drop_undecodable(data: ImageSet | PairSet) -> ImageSet | PairSet:
    """The set without its undecodable images (and, for pairs, without the pairs that use one), counted in
    `dropped` like the readers' other skips."""
    images = data.images if isinstance(data, PairSet) else data
    bad = undecodable_rows(images.images)
    if len(bad) == 0:
        return data
    keep = np.setdiff1d(np.arange(len(images)), bad)
    kept = images.subset(keep)
    kept.dropped[UNDECODABLE] = kept.dropped.get(UNDECODABLE, 0) + len(bad)
    add_dropped_names(kept, UNDECODABLE, [images.images[i] for i in bad])  # named as well as counted
    if not isinstance(data, PairSet):
        return kept
    return pairs_of_kept(data, kept, keep, {UNDECODABLE: len(bad)}, "pair with an undecodable image")


def pairs_of_kept(data: PairSet, kept: ImageSet, keep: np.ndarray, counts: dict, pair_reason: str) -> PairSet:
    """The pairs set over `kept` (data's image rows `keep`): pairs whose two images (or items) are still there,
    the others dropped and counted as pair_reason; counts (reason -> images) added to its own skips."""
    dropped = dict(data.dropped)
    for reason, n in counts.items():
        dropped[reason] = dropped.get(reason, 0) + n
    if data.item is not None:  # pairs of items (videos, templates): an item keeps its other images
        item = data.item[keep]
        usable = np.isin(data.pairs, item).all(axis=1)
        dropped["pair with an item left without images"] = (dropped.get("pair with an item left without images", 0)
                                                            + int((~usable).sum()))
        return PairSet(kept, data.pairs[usable], data.same[usable], data.fold[usable], data.source, dropped, item)
    new_index = np.full(len(data.images), -1, np.int64)
    new_index[keep] = np.arange(len(keep))
    pairs = new_index[data.pairs]
    usable = (pairs >= 0).all(axis=1)
    dropped[pair_reason] = dropped.get(pair_reason, 0) + int((~usable).sum())
    return PairSet(kept, pairs[usable], data.same[usable], data.fold[usable], data.source, dropped)
