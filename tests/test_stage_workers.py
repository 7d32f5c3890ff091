"""Worker processes of the demo's and the study's stages end with the process that started them: one stopped by
SIGTERM (a scheduler's preemption, `timeout`) or killed must not leave them training on into run folders that a
rerun writes to as well."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facessl.demo import stages

HERE = Path(__file__).parent


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z" if Path(f"/proc/{pid}").exists() else True


def wait_for(check, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.2)
    return check()


@pytest.mark.parametrize("how,stage", [(signal.SIGTERM, "sleep"), (signal.SIGKILL, "sleep"), (signal.SIGTERM, "save")])
def test_workers_end_when_the_runner_is_stopped(tmp_path, how, stage):
    """"save": stages that catch SIGTERM, save and raise Terminated, as the demo's pretraining does: each saves, and
    then ends rather than wait for a parent that is gone."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    runner = subprocess.Popen([sys.executable, str(HERE / "stage_sleeper.py"), str(tmp_path), stage], env=env,
                              stderr=subprocess.DEVNULL)
    markers = [tmp_path / "a.pid", tmp_path / "b.pid"]
    try:
        assert wait_for(lambda: all(m.is_file() and m.read_text() for m in markers), 60), "workers never started"
        workers = [int(m.read_text()) for m in markers]
        runner.send_signal(how)
        runner.wait(30)
        assert wait_for(lambda: not any(alive(pid) for pid in workers), 10), "a worker outlived its runner"
        if stage == "save":
            assert all(m.with_name(m.name + ".saved").is_file() for m in markers)
    finally:
        runner.kill()
        for m in markers:
            if m.is_file() and m.read_text():
                try:
                    os.kill(int(m.read_text()), signal.SIGKILL)
                except ProcessLookupError:
                    pass


def test_the_watch_thread_stops_a_worker_whose_parent_is_gone_where_prctl_is_missing(monkeypatch):
    """Without prctl (macOS, Windows' spawn) a thread watches the parent's pid: the worker gets SIGTERM once it
    changes."""
    import ctypes

    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: (_ for _ in ()).throw(OSError("no libc")))
    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    monkeypatch.setattr(stages.time, "sleep", lambda s: None)
    stages._die_with_parent(parent=os.getppid() + 1)  # a parent that is not ours: as if it had died
    assert wait_for(lambda: sent == [(os.getpid(), signal.SIGTERM)], 5)


def test_a_terminated_stage_ends_its_worker_and_is_raised_in_the_main_process(monkeypatch):
    from facessl.errors import Terminated

    def stopped():
        raise Terminated("stopped by SIGTERM after step 3, checkpoint saved")

    with pytest.raises(Terminated):  # `--workers 1`: the CLI says it and exits 143
        stages._timed(stopped, (), {})
    exits = []
    monkeypatch.setattr(stages, "_IN_WORKER", True)
    monkeypatch.setattr(stages.os, "_exit", exits.append)
    with pytest.raises(Terminated):  # os._exit patched to return: in a worker it ends the process here
        stages._timed(stopped, (), {})
    assert exits == [143]
