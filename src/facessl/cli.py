"""The `facessl` command: each verb lives in facessl.commands.<verb> with add_arguments(parser) and run(args)."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from facessl.errors import FacesslError, Terminated

VERBS = {
    "synth": "generate the embedded synthetic face-video dataset in the real benchmarks' formats",
    "prepare": "turn raw videos or photos into aligned face tracks / crops (frame tree or tar shards)",
    "pretrain": "self-supervised pretraining (SimCLR, PCL, FAb-Net) from a YAML config",
    "eval": "linear-probe evaluation of a checkpoint on downstream tasks",
    "embed": "write features of a folder of images to .npy or .csv",
    "inspect": "what a dataset reader makes of a folder: splits, classes, skips, and a contact sheet",
    "demo": "the whole study end to end on the embedded data",
    "ablate": "the PCL ablation and feature-choice tables",
    "report": "rebuild the report of a demo run from its saved results",
    "compare": "several facessl eval results side by side, one table per task",
    "bench": "throughput and evaluation-speed benchmarks",
    "study": "SimCLR, PCL and FAb-Net pretrained and probed on real labelled faces (one report)",
}


def _load_verb(verb):
    try:
        return importlib.import_module(f"facessl.commands.{verb}")
    except ModuleNotFoundError as exc:
        if exc.name == f"facessl.commands.{verb}":
            return None
        raise


def build_parser(verbs=None) -> argparse.ArgumentParser:
    """The parser; only the verbs in `verbs` (default: all) are imported, so one verb's imports
    (torch, sklearn ...) never slow down or break another."""
    parser = argparse.ArgumentParser(prog="facessl", description="Self-supervised facial representation learning.")
    parser.add_argument("--version", action="version", version=f"facessl {__import__('facessl').__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, help_text in VERBS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        if verbs is None or verb in verbs:
            module = _load_verb(verb)
            if module is not None:
                module.add_arguments(p)
                p.set_defaults(_run=module.run)
    return parser


def _parse(parser, argv):
    """parse_args, except that `key.sub=value` overrides may stand anywhere among a verb's options
    (argparse takes only the first run of them; the runs after an option come back unrecognised)."""
    args, extra = parser.parse_known_args(argv)
    if extra and isinstance(getattr(args, "overrides", None), list) \
            and all("=" in a and not a.startswith("-") for a in extra):
        args.overrides = args.overrides + extra
    elif extra:
        parser.parse_args(argv)  # argparse's own one-line error for what it does not know
    return args


def main(argv=None) -> int:
    # Before torch loads OpenMP: idle threads sleep instead of spinning. On a shared or oversubscribed
    # CPU (DataLoader workers, other jobs) spinning made training steps up to 15x slower (measured).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = [a for a in argv if a in VERBS][:1]
    parser = build_parser(chosen or ())
    args = _parse(parser, argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        result = args._run(args)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
    except FacesslError as exc:
        print(f"facessl {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"facessl {args.verb}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `facessl inspect ... | head`: the reader of our output has gone, which is no error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that flushing stdout at exit does not raise again
        return 0
    except Terminated as exc:  # training told to stop (SIGTERM, Ctrl-C): saved, said, and the shell's 128 + signal
        print(f"facessl {args.verb}: {exc}", file=sys.stderr)
        return exc.exit_code
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
