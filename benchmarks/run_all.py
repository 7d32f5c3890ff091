"""Every benchmark, one after the other, with settings that fit 2 CPU cores (a few minutes).

    python benchmarks/run_all.py [--quick]

Speed is measured here, never asserted in tests: run this on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [  # (script, arguments, quick arguments)
    ("synth_speed.py", ["--sizes", "64", "128"], ["--sizes", "64", "--repeats", "1"]),
    ("throughput.py", ["--backbones", "facecycle,small,resnet18,resnet50", "--batch", "32", "--steps", "1"],
     ["--backbones", "small", "--precisions", "fp32", "--size", "32"]),
    ("pcl_negatives.py", ["--backbone", "small"], ["--backbone", "small", "--size", "32", "--repeats", "1"]),
    ("aug_speed.py", [], ["--batch", "64", "--repeats", "1"]),
    ("eval_speed.py", [], ["--images", "200", "--ref-epochs", "1"]),
    ("probe_fit.py", [], ["--dims", "512", "--rows", "500", "--epochs", "10", "--repeats", "1"]),
    ("supervised_step.py", [], ["--sizes", "32", "--tasks", "pose", "--steps", "3", "--repeats", "1"]),
    ("baselines_stage.py", ["--data-scale", "default", "--tasks", "RAF-DB,300-W,MAFL"],
     ["--tasks", "RAF-DB,300-W", "--supervised-epochs", "2"]),
    ("step_profile.py", ["--methods", "simclr,pcl,fabnet", "--steps", "30"], ["--methods", "simclr", "--steps", "3"]),
    ("parallel_stages.py", ["--steps", "30"], ["--methods", "simclr", "--steps", "3"]),
    ("bf16_gradients.py", ["--train-steps", "100", "--batches", "2", "--view-seeds", "4"], ["--train-steps", "5"]),
    ("recordio_read.py", [], ["--people", "100", "--per-person", "4", "--decode", "200"]),
    ("clip_faces.py", [], ["--synthetic"]),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small settings (a smoke run of every benchmark)")
    ap.add_argument("--only", default="", help="comma list of script names to run")
    args = ap.parse_args()
    failed = 0
    for script, full, quick in RUNS:
        if args.only and script.removesuffix(".py") not in args.only.split(","):
            continue
        print(f"\n== {script} ==", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / script), *(quick if args.quick else full)])
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
