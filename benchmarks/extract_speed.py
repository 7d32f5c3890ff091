"""Feature extraction from image files: decoding beside the model vs after it.

    python benchmarks/extract_speed.py --images DIR [--limit 2000] [--sizes 64,96] [--backbone small]
                                       [--threads 1]

Extracts the features of the first --limit images of DIR (JPEG/PNG files, any size) with a randomly
initialised backbone, twice per input size: with the next batch decoded in a background thread while the
model runs on this one (what `facessl eval` does), and with decoding and the model one after the other.
Prints images/s of each (best of --repeats, alternating, after a warm-up pass) and their ratio. --threads sets
the model's torch threads: 1 on a 2-core CPU leaves a core for the decoding threads, as a GPU leaves the whole
CPU to them; with every core given to the model both paths share the same cores.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from eval_speed import TrunkEncoder  # this folder's: a random backbone's flattened map as 'fs'

from facessl.data.formats.common import ImageSet
from facessl.data.formats.imagefolder import walk_images
from facessl.evaluate import features
from facessl.evaluate.images import decode_workers, load_batch
from facessl.models import build_backbone


def one_after_the_other(encoder, imageset: ImageSet, size: int, batch_size: int = 256) -> None:
    """The extraction loop without the prefetch: decode a batch, then run the model on it."""
    with torch.no_grad():
        for start in range(0, len(imageset), batch_size):
            index = range(start, min(start + batch_size, len(imageset)))
            encoder.features(features.to_float_images(load_batch(imageset.images, index, size), "cpu"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="a folder of face images (any depth)")
    p.add_argument("--limit", type=int, default=2000)
    p.add_argument("--sizes", default="64,96")
    p.add_argument("--backbone", default="small")
    p.add_argument("--threads", type=int, default=None, help="torch threads of the model (default: torch's)")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    files = [str(f) for f in walk_images(Path(args.images))][:args.limit]
    imageset = ImageSet(files, {}, None, args.images)
    print(f"{len(files)} images from {args.images}; model threads {torch.get_num_threads()}, decode threads "
          f"{decode_workers()}")
    for size in (int(s) for s in args.sizes.split(",")):
        encoder = TrunkEncoder(build_backbone(args.backbone, image_size=size)).eval()
        one_after_the_other(encoder, ImageSet(files[:512], {}, None, "warm-up"), size)  # kernels and page cache
        overlapped, serial = float("inf"), float("inf")
        for _ in range(args.repeats):  # alternating, best of each: the first pass of a process runs slower
            t = time.perf_counter()
            features.extract(encoder, imageset, size, device="cpu", quiet=True)
            overlapped = min(overlapped, time.perf_counter() - t)
            t = time.perf_counter()
            one_after_the_other(encoder, imageset, size)
            serial = min(serial, time.perf_counter() - t)
        print(f"{size} px: decoding beside the model {len(files) / overlapped:7.0f} images/s, one after the other "
              f"{len(files) / serial:7.0f} images/s, ratio {serial / overlapped:.2f}x")


if __name__ == "__main__":
    main()
