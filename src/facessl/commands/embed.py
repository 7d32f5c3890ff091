"""`facessl embed`: features of a folder of images -> .npy (+ sidecar .txt of file names) or .csv.

    facessl embed --checkpoint runs/pcl --images photos/ --out feats.npy --features ff+fp
    facessl embed --checkpoint runs/pcl --images photos/ --out feats.csv
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from facessl.commands.options import device, output_file, positive_int
from facessl.errors import FacesslError
from facessl.engine.io import atomic_path, write_text_atomic


def add_arguments(p) -> None:
    p.add_argument("--checkpoint", required=True, help="run directory or checkpoint directory")
    p.add_argument("--images", required=True, help="folder of images (searched recursively)")
    p.add_argument("--out", required=True, help="output file: .npy (with FILE.txt of names) or .csv")
    p.add_argument("--features", default=None, help="feature choice: fs, ff, fp, ff+fp, embedding "
                                                    "(default: the encoder's first feature)")
    p.add_argument("--size", type=int, default=None, help="input size in pixels (default: the training size)")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--device", type=device, default=None, help="cpu, cuda, mps (default: the fastest available)")
    p.add_argument("--amp", action="store_true", help="bf16 autocast")
    p.add_argument("--quiet", action="store_true")


def write_features(out: Path, names: list[str], features: np.ndarray) -> list[Path]:
    """Write features (N, D) with their file names; returns the files written."""
    if out.suffix == ".npy":
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as fh:  # np.save on a path would append .npy to the temporary name
                np.save(fh, features.astype(np.float32))
        sidecar = out.with_suffix(".txt")
        write_text_atomic(sidecar, "".join(f"{n}\n" for n in names))
        return [out, sidecar]
    with atomic_path(out) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file"] + [f"f{i}" for i in range(features.shape[1])])
            for name, row in zip(names, features):
                writer.writerow([name] + [f"{v:.7g}" for v in row])
    return [out]


def run(args) -> int:
    import facessl
    from facessl.data.formats.common import ImageSet
    from facessl.evaluate.features import FeatureSource, available_choices, combine, feature_names
    from facessl.evaluate.images import list_image_files
    from facessl.evaluate.protocol import EvalOptions
    from facessl.evaluate.runner import input_size

    out = output_file(args.out, "--out")
    if out.suffix not in (".npy", ".csv"):
        raise FacesslError(f"{out}: --out must end in .npy or .csv")
    if args.size is not None and args.size < 8:
        raise FacesslError(f"--size must be >= 8 pixels, got {args.size}")
    files = list_image_files(args.images)
    encoder = facessl.load(args.checkpoint)
    choice = args.features or feature_names(encoder)[0]
    if available_choices(encoder, [choice])[1]:
        raise FacesslError(f"--features {choice}: this encoder has {', '.join(feature_names(encoder))}")
    size = input_size(encoder, EvalOptions(size=args.size))
    source = FeatureSource(encoder, size=size, batch_size=args.batch_size, device=args.device, amp=args.amp,
                           quiet=args.quiet, label="embed")
    feats = combine(source.features(ImageSet([str(f) for f in files], source=str(args.images))), choice)
    root = Path(args.images)
    written = write_features(out, [str(f.relative_to(root)) for f in files], feats)
    if not args.quiet:
        print(f"{len(files)} images -> {feats.shape[1]}-d '{choice}' features at {size} px: "
              + ", ".join(str(w) for w in written))
    return 0
