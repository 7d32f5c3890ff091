"""A runner of two long stages in worker processes, for tests/test_stage_workers.py to stop (not a test module)."""
import os
import sys
import time
from pathlib import Path


def nap(seconds: float, marker: str) -> float:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


def nap_then_save(seconds: float, marker: str) -> float:
    """As a pretraining run with save_on_sigterm: SIGTERM finishes the "step", writes `<marker>.saved`, raises
    Terminated."""
    import signal

    from facessl.errors import Terminated

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    Path(marker).write_text(str(os.getpid()))
    end = time.monotonic() + seconds
    while not stop and time.monotonic() < end:
        time.sleep(0.05)
    Path(marker + ".saved").write_text("step")
    raise Terminated("stopped by SIGTERM")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))  # so that the spawned workers unpickle `nap`
    from facessl.demo.stages import StageRunner

    out = Path(sys.argv[1])
    stage = nap_then_save if sys.argv[2:] == ["save"] else nap
    StageRunner(out, 2, quiet=True).run_parallel(
        [(name, stage, (120, str(out / f"{name}.pid")), {}) for name in ("a", "b")], workers=2)
