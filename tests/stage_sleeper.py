"""A runner of two long stages in worker processes, for tests/test_stage_workers.py to stop (not a test module)."""
import os
import sys
import time
from pathlib import Path


def nap(seconds: float, marker: str) -> float:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))  # so that the spawned workers unpickle `nap`
    from facessl.demo.stages import StageRunner

    out = Path(sys.argv[1])
    StageRunner(out, 2, quiet=True).run_parallel(
        [(name, nap, (120, str(out / f"{name}.pid")), {}) for name in ("a", "b")], workers=2)
