"""`facessl synth`: write the synthetic benchmark (every real benchmark's file layout) or a preview sheet.

    facessl synth --out data/synth                      # default scale, 64 px, seed 0
    facessl synth --out data/synth --scale tiny --parts rafdb,lfw --count rafdb.train=100
    facessl synth --preview faces.png                   # only the contact sheet
Every argument is checked before anything is written; a re-run with the same arguments is a no-op.
"""
from __future__ import annotations

import sys
from pathlib import Path

from facessl.errors import FacesslError


def add_arguments(parser) -> None:
    from facessl.data.synthetic.build_presets import PARTS, SCALES

    parser.add_argument("--out", metavar="DIR", help="output root (one folder per benchmark part and manifest.json)")
    parser.add_argument("--identities", metavar="N", help="pretraining (VoxCeleb-style) identities; default from --scale")
    parser.add_argument("--size", metavar="PX", default="64", help="image side in pixels (default 64)")
    parser.add_argument("--seed", metavar="S", default="0", help="the build is a pure function of the seed (default 0)")
    parser.add_argument("--scale", metavar="PRESET", default="default", help=f"count preset: {', '.join(SCALES)} (default: default)")
    parser.add_argument("--parts", metavar="LIST", help=f"comma-separated parts to build (default all): {', '.join(PARTS)}")
    parser.add_argument("--count", metavar="PART.KEY=N", action="append", default=[],
                        help="override one count of the preset, e.g. rafdb.train=500 (repeatable)")
    parser.add_argument("--preview", metavar="OUT.png", help="write a contact sheet of random faces (alone: only that)")
    parser.add_argument("--jobs", metavar="N", default="1", help="parts built in parallel processes (default 1)")
    parser.add_argument("--force", action="store_true", help="replace part folders that facessl did not write")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def _integer(value, option: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise FacesslError(f"{option} expects an integer, got {value!r}") from None


def _counts(items) -> dict:
    counts = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise FacesslError(f"--count expects PART.KEY=N (e.g. rafdb.train=500), got {item!r}")
        counts[key.strip()] = _integer(value.strip(), f"--count {key.strip()}")
    return counts


def _preview(path: str, size: int, seed: int) -> None:
    from facessl.data.synthetic import SUPPORTED_SIZES, preview_sheet
    from facessl.engine.io import atomic_path

    target = Path(path)
    if target.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise FacesslError(f"--preview expects an image file name ending in .png, got {path!r}")
    if target.is_dir():
        raise FacesslError(f"--preview {path} is a directory; expected an image file name")
    if size not in SUPPORTED_SIZES:
        raise FacesslError(f"unsupported image size {size}; supported: {', '.join(map(str, SUPPORTED_SIZES))}")
    with atomic_path(target) as tmp:
        preview_sheet(tmp, size=size, seed=seed)


def run(args) -> int:
    from facessl.data.synthetic.build import build_benchmark, check_arguments
    from facessl.data.synthetic.build_presets import check_counts, resolve_counts

    size, seed, jobs = _integer(args.size, "--size"), _integer(args.seed, "--seed"), _integer(args.jobs, "--jobs")
    identities = _integer(args.identities, "--identities")
    counts = _counts(args.count)
    parts = None if args.parts is None else [p.strip() for p in args.parts.split(",") if p.strip()]
    if parts is not None and not parts:
        raise FacesslError("--parts is empty; give a comma-separated list such as rafdb,lfw")
    if args.out is None and args.preview is None:
        raise FacesslError("nothing to do: give --out DIR to build the benchmark and/or --preview OUT.png")
    if args.out is not None:  # check everything before writing anything (the preview included)
        check_arguments(args.out, size, seed, parts or [], jobs)
        check_counts(resolve_counts(args.scale, counts, identities))
    if args.preview is not None:
        _preview(args.preview, size, seed)
        if not args.quiet:
            print(f"facessl synth: wrote preview {args.preview}")
    if args.out is None:
        return 0
    result = build_benchmark(args.out, identities=identities, size=size, seed=seed, scale=args.scale, parts=parts,
                             counts=counts, jobs=jobs, quiet=args.quiet, force=args.force)
    if not args.quiet:
        total = sum(p["result"]["images"] for p in result.manifest["parts"].values())
        built = ", ".join(result.built) or "nothing"
        cached = f"; up to date: {', '.join(result.cached)}" if result.cached else ""
        print(f"facessl synth: built {built}{cached} in {result.seconds:.1f} s; {total} images under {args.out}", file=sys.stdout)
    return 0
