"""Print the corpus results: `PYTHONPATH=src:tests python -m bad_inputs [--pending] [NAME-SUBSTRING]`.

--pending runs the cases registered with case(..., pending=True) (written ahead of a fix) instead."""
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

torch.set_num_threads(1)
from bad_inputs import CASES, PENDING, Shared, check, run_case  # noqa: E402
from bad_inputs import cases  # noqa: E402,F401  (registers the cases)

args = sys.argv[1:]
chosen_list = PENDING if "--pending" in args else CASES
args = [a for a in args if a != "--pending"]
wanted = args[0] if args else ""
root = Path(tempfile.mkdtemp(prefix="facessl-corpus-"))
shared = Shared(root / "_shared")
tracebacks = failing = 0
start = time.perf_counter()
chosen = [c for c in chosen_list if wanted in c.name]
for c in chosen:
    work = root / c.name.replace("/", "_")
    result = run_case(c, work, shared)
    problems = check(c, result, work, shared)
    tracebacks += bool(result.traceback)
    failing += bool(problems)
    status = "ok" if not problems else "; ".join(problems)
    message = (result.err.strip().splitlines() or [""])[-1][:400]
    print(f"{c.name:42s} rc={result.rc} {status}  | {message}")
shutil.rmtree(root, ignore_errors=True)
print(f"{len(chosen)} cases, {tracebacks} tracebacks, {failing} not as expected, {time.perf_counter() - start:.1f} s")
