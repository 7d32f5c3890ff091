"""`facessl embed`: features of a folder of images -> .npy (+ sidecar .txt of file names) or .csv; with --dataset,
each row's label, group and split as eval reads them (.csv columns, or FILE.rows.csv beside a .npy).

    facessl embed --checkpoint runs/pcl --images photos/ --out feats.npy --features ff+fp
    facessl embed --checkpoint runs/pcl --images photos/ --out feats.csv
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from facessl.commands.options import device, output_file, positive_int
from facessl.errors import FacesslError
from facessl.engine.io import atomic_path


def add_arguments(p) -> None:
    p.add_argument("--checkpoint", required=True, help="run directory or checkpoint directory")
    p.add_argument("--images", default=None, help="folder of images (searched recursively, symlinked folders too)")
    p.add_argument("--dataset", default=None, help="instead of --images: FORMAT:PATH of a dataset, e.g. "
                                                   "csv:labels.csv or imagefolder:faces/ (its images, in its order); "
                                                   "a bare PATH: its layout is recognised")
    p.add_argument("--out", required=True, help="output file: .npy (with FILE.txt of names) or .csv")
    p.add_argument("--features", default=None, help="feature choice: fs, ff, fp, ff+fp, embedding "
                                                    "(default: the encoder's first feature)")
    p.add_argument("--size", type=int, default=None, help="input size in pixels (default: the training size)")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--device", type=device, default=None, help="cpu, cuda, mps (default: the fastest available)")
    p.add_argument("--amp", action="store_true", help="bf16 autocast")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--per-clip", action="store_true",
                   help="video clip sets (videofolder:, dfew:, ...): one row per clip, the mean of its frames' features")
    p.add_argument("--skip-missing", action="store_true",
                   help="--dataset: skip (and count) the images its list names but lacks. Images that do not "
                        "decode are skipped and named with or without it (with --images it checks them all first)")
    from facessl.commands.eval import add_dataset_options

    add_dataset_options(p, images_flag=False)


def write_features(out: Path, names: list[str], features: np.ndarray, columns: dict | None = None) -> list[Path]:
    """Write features (N, D) with their file names, and the dataset's `columns` per row (label, group, split: as
    eval reads them) when given: in the .csv before the features, beside a .npy in FILE.rows.csv. Returns the files
    written."""
    columns = columns or {}
    if out.suffix == ".npy":
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as fh:  # np.save on a path would append .npy to the temporary name
                np.save(fh, features.astype(np.float32))
        sidecar = out.with_suffix(".txt")
        with atomic_path(sidecar) as tmp:  # names as the file system has them, even when not UTF-8
            tmp.write_bytes("".join(f"{n}\n" for n in names).encode("utf-8", "surrogateescape"))
        if not columns:
            return [out, sidecar]
        rows = out.with_suffix(".rows.csv")
        _write_csv(rows, ["file", *columns], ([n, *values] for n, *values in zip(names, *columns.values())))
        return [out, sidecar, rows]
    _write_csv(out, ["file", *columns] + [f"f{i}" for i in range(features.shape[1])],
               ([name, *values, *(f"{v:.7g}" for v in row)] for name, *values, row in zip(names, *columns.values(),
                                                                                           features)))
    return [out]


def _write_csv(path: Path, header: list[str], rows) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)


def row_columns(imageset) -> dict[str, list]:
    """What eval reads of each row besides its image: its class (by name), person or group, and split."""
    from facessl.data.labels import EXPRESSIONS

    labels, names = imageset.labels, (imageset.meta or {}).get("class_names")
    columns = {}
    if "class" in labels:
        columns["label"] = [names[int(c)] if names else str(c) for c in labels["class"]]
    elif "expression" in labels:
        columns["label"] = [EXPRESSIONS[int(c)] for c in labels["expression"]]
    for key in ("identity", "group"):
        if key in labels:
            columns[key] = [str(v) for v in labels[key]]
            break
    if imageset.split is not None:
        columns["split"] = [str(v) for v in imageset.split]
    return columns


def images_to_embed(args):
    """(ImageSet, names to write) from --images FOLDER or --dataset FORMAT:PATH (+ reader options)."""
    from facessl.commands.eval import reader_options
    from facessl.data.face_crops import face_options, with_detected_faces
    from facessl.data.formats.common import ImageSet, PairSet
    from facessl.data.formats.imagefiles import dropped_names, skipped_text
    from facessl.evaluate.images import list_image_files
    from facessl.evaluate.suite import read_dataset

    if bool(args.images) == bool(args.dataset):
        raise FacesslError("give exactly one of --images FOLDER or --dataset FORMAT:PATH"
                           + (" (the folder a table's image column is relative to is --image-root)" if args.images else ""))
    if args.images:
        files, linked = list_image_files(args.images, count_linked=True)
        bad = []
        if args.skip_missing:  # one checking pass, so a corrupt photo is counted here, not fatal mid-extraction
            from facessl.data.formats.decodable import undecodable_rows
            from facessl.data.video.writers import shown  # names that are not UTF-8, printable

            rows = set(undecodable_rows([str(f) for f in files]).tolist())
            bad = [f for i, f in enumerate(files) if i in rows]
            files = [f for i, f in enumerate(files) if i not in rows]
        if not args.quiet:
            print(f"found {len(files) + len(bad)} images under {args.images}"
                  + (f" ({linked} of them through symlinked folders)" if linked else "")
                  + (f"; skipped {len(bad)} that do not decode (e.g. {shown(str(bad[0]))})" if bad else ""))
        root = Path(args.images)
        images = ImageSet([str(f) for f in files], source=str(args.images))
        faces, _ = face_options(reader_options(args))
        if faces is None:
            return images, [str(f.relative_to(root)) for f in files]
        images = with_detected_faces(images, faces, str(args.images))  # pictures without a face skipped, counted
        if not args.quiet and images.dropped:
            print("skipped: " + skipped_text(images.dropped, dropped_names(images), count_first=True))
        return images, [str(Path(f).relative_to(root)) for f in images.labels["source_file"]]
    from facessl.evaluate.suite import parse_dataset

    options = reader_options(args)
    if parse_dataset(args.dataset)[0] == "csv":  # embedding needs no labels: a table of images alone will do
        options.setdefault("require_labels", False)
    data = read_dataset(args.dataset, getattr(args, "skip_missing", False), options)
    data = data.images if isinstance(data, PairSet) else data
    if "clip" in data.labels and "frame" in data.labels:  # faces cropped from videos: named by where they come from
        names = [f"{clip}@{frame}" for clip, frame in zip(data.labels["clip"], data.labels["frame"])]
    elif "source_file" in data.labels:  # --detect-faces: the crop's picture
        names = [str(p) for p in data.labels["source_file"]]
    elif isinstance(data.images, np.ndarray):  # images held in memory (FER-2013 csv rows)
        names = [f"row{i:06d}" for i in range(len(data))]
    else:
        names = [str(p) for p in data.images]
    if not args.quiet:
        dropped = skipped_text(data.dropped, dropped_names(data), count_first=True)  # as eval prints it, named
        print(f"found {len(data)} images in {args.dataset}" + (f" (skipped: {dropped})" if dropped else ""))
    return data, names


def per_clip_means(imageset, feats: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(clip names, sorted; (clips, D) mean of each clip's frame features), as eval pools a clip's frames."""
    from facessl.evaluate.expression import per_clip

    clips = np.asarray(imageset.labels["clip"]).astype(str)
    means, _ = per_clip(feats, np.zeros(len(clips), np.int64), clips)
    return [str(n) for n in np.unique(clips)], means.astype(np.float32)


def run(args) -> int:
    import facessl
    from facessl.commands.eval import check_size
    from facessl.data.video.writers import shown  # names that are not UTF-8, printable
    from facessl.evaluate import embed_parts
    from facessl.evaluate.cache import weights_hash
    from facessl.evaluate.features import FeatureSource, available_choices, combine, feature_names
    from facessl.evaluate.protocol import EvalOptions
    from facessl.evaluate.runner import input_size

    out = output_file(args.out, "--out")
    if out.suffix not in (".npy", ".csv"):
        raise FacesslError(f"{out}: --out must end in .npy or .csv")
    check_size(args.size)
    imageset, names = images_to_embed(args)
    if args.per_clip and "clip" not in imageset.labels:
        raise FacesslError(f"--per-clip: {args.dataset or args.images} has no clips (a video set such as "
                           "videofolder: or dfew: has)")
    broken = next((n for n in names if "\n" in n or "\r" in n), None)
    if out.suffix == ".npy" and broken is not None:  # the .txt sidecar holds one name per line
        raise FacesslError(f"{broken!r}: a file name with a line break cannot go in {out.with_suffix('.txt')} (one "
                           "name per line); write --out FILE.csv, which quotes it")
    encoder = facessl.load(args.checkpoint)
    choice = args.features or feature_names(encoder)[0]
    if available_choices(encoder, [choice])[1]:
        raise FacesslError(f"--features {choice}: this encoder has {', '.join(feature_names(encoder))}")
    size = input_size(encoder, EvalOptions(size=args.size))
    source = FeatureSource(encoder, size=size, batch_size=args.batch_size, device=args.device, amp=args.amp,
                           quiet=args.quiet, label="embed")
    say = (lambda text: None) if args.quiet else print
    key = embed_parts.job_key(weights_hash(encoder), choice, size, names)
    kept, feats, bad = embed_parts.embed_in_parts(imageset, names, lambda part: combine(source.features(part), choice),
                                                  key, out, say)
    if bad:
        shown_bad = ", ".join(shown(n) for n in bad[:3]) + (" ..." if len(bad) > 3 else "")
        say(f"skipped {len(bad)} image(s) that do not decode: {shown_bad}")
    if not len(kept):
        raise FacesslError(f"none of the {len(names)} images decodes; nothing written")
    imageset, names = imageset.subset(kept), [names[i] for i in kept]
    columns = row_columns(imageset) if args.dataset else {}
    what = "images"
    if args.per_clip:
        clips = np.asarray(imageset.labels["clip"]).astype(str)
        first = {clip: i for i, clip in reversed(list(enumerate(clips)))}  # a clip's rows share its labels
        names, feats = per_clip_means(imageset, feats)
        columns = {key: [values[first[clip]] for clip in names] for key, values in columns.items()}
        what = "clips"
    written = write_features(out, names, feats, columns)
    embed_parts.remove_parts(out)  # the job is written whole: its parts are no longer needed
    if not args.quiet:
        print(f"{len(names)} {what} -> {feats.shape[1]}-d '{choice}' features at {size} px: "
              + ", ".join(str(w) for w in written))
        trained = input_size(encoder, EvalOptions())
        width = _width_at(source, imageset, choice, trained) if size > trained else feats.shape[1]
        if feats.shape[1] > 4 * width:
            print(f"note: a feature map grows with its input: at the training size, {trained} px, '{choice}' is "
                  f"{width}-d (--size {trained}, or leave --size out)")
    return 0


def _width_at(source, imageset, choice: str, size: int) -> int:
    """The width of `choice` for inputs of `size` px (one image's features computed)."""
    from facessl.evaluate.features import FeatureSource, combine

    one = FeatureSource(source.encoder, size=size, device=source.device, quiet=True, label="embed")
    return combine(one.features(imageset.subset([0])), choice).shape[1]
