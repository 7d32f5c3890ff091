"""Jobs for data/face_cache.run_jobs's worker processes in the tests (module level, so spawned workers import them)."""
import os
import signal


def dying_job(item):
    """Job 1 kills its worker process, as the kernel's out-of-memory killer would."""
    if item[0] == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return item[0], "ok"


def slow_job(seconds):
    """Sleeps: a long video's job."""
    import time

    time.sleep(seconds)
    return os.getpid()


def ignore_ctrl_c():
    """As prepare's workers do: Ctrl-C is the main process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
