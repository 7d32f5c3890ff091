"""`facessl pretrain`: self-supervised pretraining from a YAML config, resumable.

    facessl pretrain --config configs/simclr_synth.yaml --data DIR --out RUN [--steps N] [--quiet] [key=value ...]
    torchrun --nproc_per_node=K -m facessl pretrain ...      (train.batch_size is the global batch)

Rerunning the same command on an existing RUN resumes from its newest checkpoint.
"""
from __future__ import annotations

from pathlib import Path

from facessl.errors import FacesslError


def resolve_config(name: str) -> Path:
    """A config file path, or a bare recipe name ('simclr_synth') looked up in the shipped configs."""
    path = Path(name)
    if path.is_file():
        return path
    stem = path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml"
    here = Path(__file__).resolve()
    for folder in (here.parents[1] / "configs", here.parents[3] / "configs", Path.cwd() / "configs"):
        if (folder / stem).is_file():
            return folder / stem
    raise FacesslError(f"{name}: config file not found (give a path, or a recipe name such as simclr_synth)")


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="YAML recipe (path or name, e.g. simclr_synth)")
    parser.add_argument("--data", help="pretraining data root (sets data.path)")
    parser.add_argument("--out", required=True, help="run directory; an existing run is resumed")
    parser.add_argument("--steps", type=int, help="training iterations (sets train.steps)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides, e.g. train.batch_size=128")


def run(args) -> int:
    from facessl.commands.options import output_dir
    from facessl.config import load_config
    from facessl.engine.train import train

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise FacesslError(f"override {bad[0]!r}: expected key.sub=value")
    output_dir(args.out, "--out")
    cfg = load_config(resolve_config(args.config), overrides)
    if args.data:  # set directly: a path is not always a clean YAML scalar
        cfg.data.path = str(Path(args.data).resolve())
    check_run_dir(Path(args.out), cfg.data.path)
    train(cfg, args.out, quiet=args.quiet, save_on_sigterm=True)  # a preempted job keeps the step it reached
    return 0


def check_run_dir(out: Path, data: str | None) -> None:
    """--out is a new or empty folder or a facessl run (resumed); never inside the data (the run's image grids
    would be read as training frames next time), never a folder of other files (config.yaml and metrics.jsonl
    would be overwritten)."""
    from facessl.config import load_config
    from facessl.engine.train import LOCK_FILE

    if data:
        try:
            out.resolve().relative_to(Path(data).resolve())
            raise FacesslError(f"--out {out} is inside the data folder {data}: the run's files would be read as "
                               "training images; choose a folder outside it")
        except ValueError:
            pass
    own = {LOCK_FILE, "train.log"}  # what a run writes before its config.yaml (a run killed right after starting)
    if not out.is_dir() or not any(p.name not in own for p in out.iterdir()) or (out / "checkpoints").is_dir():
        return
    config = out / "config.yaml"
    if not config.is_file():
        raise FacesslError(f"--out {out} holds other files and is not a facessl run (no config.yaml, no "
                           "checkpoints/); choose a new or empty folder")
    try:
        load_config(config)
    except FacesslError as exc:
        raise FacesslError(f"--out {out}: its config.yaml is not a facessl run's ({str(exc).splitlines()[0][:120]}); "
                           "choose a new or empty folder") from None
