"""`facessl bench`: run the benchmarks in the repository's benchmarks/ folder (throughput and MFU of every
method, PCL negative schemes, augmentation share, renderer speed, evaluation cache speed-ups).

    facessl bench [--quick] [--only throughput,eval_speed]
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from facessl.errors import FacesslError

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="small settings: a smoke run of every benchmark")
    p.add_argument("--only", default="", help="comma list: synth_speed, throughput, pcl_negatives, aug_speed, eval_speed")


def run(args) -> int:
    script = BENCHMARKS / "run_all.py"
    if not script.is_file():
        raise FacesslError(f"{script}: not found (benchmarks ship with a checkout of the repository)")
    extra = (["--quick"] if args.quick else []) + (["--only", args.only] if args.only else [])
    return subprocess.call([sys.executable, str(script), *extra])
