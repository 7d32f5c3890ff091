"""Resumable stages: each finished stage leaves <out>/stages/<name>.json; a rerun skips it.

Independent stages (the pretraining runs, the baselines, each run's evaluation once its run is trained)
can run side by side in worker processes: on a CPU the demo's small model gains little from a second
thread, so two one-thread runs at once do 1.45-1.73x the steps of one two-thread run
(benchmarks/parallel_stages.py).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from facessl.engine.io import write_json_atomic
from facessl.errors import FacesslError, Terminated


_IN_WORKER = False  # set in the worker processes of run_parallel


def _start_worker(threads: int, parent: int) -> None:
    """Worker initialiser: each worker process gets its share of the cores, and ends with the process that started
    it."""
    global _IN_WORKER
    _IN_WORKER = True
    _die_with_parent(parent)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch starts OpenMP (and for processes it forks)
    import torch

    torch.set_num_threads(threads)


def _die_with_parent(parent: int) -> None:
    """A demo or study stopped by SIGTERM (a scheduler's preemption, `timeout`, `kill`) or killed outright would leave
    its workers training on, unseen, into run folders that a rerun then writes to as well: each worker is sent
    SIGTERM when its parent dies (Linux's PR_SET_PDEATHSIG), else a thread watches the parent's pid. A finished stage
    is recorded by the parent, so a rerun starts the stages that were cut short again, from their last checkpoint."""
    import signal
    import threading

    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGTERM, 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the request took effect
                os._exit(143)
            return
    except (OSError, AttributeError):  # not Linux: no prctl
        pass

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _timed(fn, args, kwargs):
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        result = fn(*args, **kwargs)
    except Terminated:
        if _IN_WORKER:  # SIGTERM as its parent died: the run saved its step; nothing is left to report to
            os._exit(143)
        raise
    return result, time.perf_counter() - t0, time.process_time() - cpu0


def default_workers() -> int:
    """Side-by-side stages: 2 on a CPU with at least 2 cores (each stage then uses half of them);
    1 on a GPU, where one run already keeps the device busy."""
    import torch

    return 1 if torch.cuda.is_available() or (os.cpu_count() or 1) < 2 else 2


class StageRunner:
    """Runs named stages in order, printing one line per stage with its elapsed time."""

    def __init__(self, out: Path, total: int, quiet: bool = False):
        self.dir = Path(out) / "stages"
        self.total, self.index, self.quiet = total, 0, quiet
        self.start = time.perf_counter()

    def done(self, name: str) -> dict | None:
        path = self.dir / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def forget(self, name: str) -> None:
        """Drop stage `name`'s record, so that the next run of it runs again (its output is out of date)."""
        (self.dir / f"{name}.json").unlink(missing_ok=True)

    def run(self, name: str, fn, *args, **kwargs):
        """Run fn unless stage `name` finished before; returns fn's (JSON-able) result or the saved one."""
        self.index += 1
        prefix = f"[{self.index}/{self.total}] {name}"
        previous = self.done(name)
        if previous is not None:
            self._say(f"{prefix}: done earlier ({previous['seconds']:.0f} s), skipped")
            return previous.get("result")
        return self._run_here(prefix, name, fn, args, kwargs)

    def run_parallel(self, jobs, workers: int) -> dict:
        """Run independent stages, `workers` at a time, each in a worker process with
        cpu_count // workers threads. jobs: [(name, fn, args, kwargs)] or [(name, fn, args, kwargs, after)],
        `after` naming the stages a job needs (an evaluation its pretraining run): it starts once they have
        finished, so a free worker never waits for a whole group. The list is the priority: a free worker
        takes the first job whose stages are done (longest first, so that the workers finish together).
        fn and its arguments must pickle (module-level functions, plain data). Returns {name: result}. A
        failing stage is raised after the stages already running have finished (and been recorded), so a
        rerun resumes after them; jobs that need it are not started."""
        results, pending, needs = {}, [], {}
        for name, fn, args, kwargs, *after in jobs:
            self.index += 1
            needs[name] = tuple(after[0]) if after else ()
            previous = self.done(name)
            if previous is not None:
                self._say(f"[{self.index}/{self.total}] {name}: done earlier ({previous['seconds']:.0f} s), skipped")
                results[name] = previous.get("result")
            else:
                pending.append((f"[{self.index}/{self.total}] {name}", name, fn, args, kwargs))
        earlier = set(self._finished(needs))
        unknown = sorted({n for wanted in needs.values() for n in wanted} - set(needs) - earlier)
        if unknown:
            raise FacesslError(f"stage {unknown[0]!r} is needed by a job but is neither in this group nor done")
        ready = lambda job: all(n in results or n in earlier for n in needs[job[1]])
        if workers <= 1 or len(pending) <= 1:
            while pending:
                job = next((j for j in pending if ready(j)), None)
                if job is None:  # only a cycle of needs leaves no job ready here
                    raise FacesslError(f"stages {', '.join(j[1] for j in pending)} wait for each other")
                pending.remove(job)
                prefix, name, fn, args, kwargs = job
                results[name] = self._run_here(prefix, name, fn, args, kwargs)
            return results
        threads = max(1, (os.cpu_count() or 1) // workers)
        error = None
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_start_worker, initargs=(threads, os.getpid())) as pool:
            queue, running = list(pending), {}
            while queue or running:
                while len(running) < workers and error is None:
                    job = next((j for j in queue if ready(j)), None)
                    if job is None:
                        break
                    queue.remove(job)
                    prefix, name, fn, args, kwargs = job
                    self._say(f"{prefix} ... (worker process, {threads} thread{'s' * (threads > 1)})")
                    running[pool.submit(_timed, fn, args, kwargs)] = (prefix, name, time.perf_counter())
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    prefix, name, started = running.pop(future)
                    try:
                        result, seconds, cpu = future.result()
                    except Exception as exc:  # noqa: BLE001 - re-raised once the others have finished
                        error = error or exc
                        self._say(f"{prefix}: failed after {time.perf_counter() - started:.0f} s")
                        continue
                    self._record(name, result, seconds, cpu)
                    self._say(f"{prefix}: done in {seconds:.0f} s (total {time.perf_counter() - self.start:.0f} s)")
                    results[name] = result
        if error is not None:
            raise error
        if queue:  # only a cycle of needs leaves jobs that never became ready
            raise FacesslError(f"stages {', '.join(j[1] for j in queue)} wait for each other")
        return results

    def _finished(self, names) -> list[str]:
        """Of every stage recorded in this directory, those not among `names` (stages of an earlier group)."""
        return [p.stem for p in self.dir.glob("*.json") if p.stem not in names] if self.dir.is_dir() else []

    def _run_here(self, prefix, name, fn, args, kwargs):
        self._say(f"{prefix} ...")
        result, seconds, cpu = _timed(fn, args, kwargs)
        self._record(name, result, seconds, cpu)
        self._say(f"{prefix}: done in {seconds:.0f} s (total {time.perf_counter() - self.start:.0f} s)")
        return result

    def _record(self, name, result, seconds, cpu_seconds) -> None:
        # CPU seconds of the process that ran the stage (all its threads): on a shared machine, wall time says little
        write_json_atomic(self.dir / f"{name}.json", {"seconds": seconds, "cpu_seconds": cpu_seconds,
                                                      "load": os.getloadavg()[0], "result": result})

    def timings(self) -> dict[str, float]:
        return {p.stem: json.loads(p.read_text())["seconds"] for p in sorted(self.dir.glob("*.json"))}

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)


def check_recorded(out: Path, record_name: str, wanted: dict, what: str, short: str) -> None:
    """Finished stages in `out` are reused by the next run, so they must come from the same settings: the first
    run records `wanted` (out/record_name); another run with other settings is refused, naming the first one that
    differs, instead of mixing stale stages into a report that names the new settings. what: 'demo plan' ...,
    short: 'plan' (as an older directory did not record its plan)."""
    import json

    wanted = json.loads(json.dumps(wanted))  # tuples as lists, as read back
    record, fresh = out / record_name, f"run into a new --out (or delete {out})"
    if record.is_file():
        try:
            made = json.loads(record.read_text())
        except (OSError, ValueError):
            raise FacesslError(f"{record}: unreadable record of the {what}; {fresh}") from None
        changed = next((k for k in sorted(set(made) | set(wanted)) if made.get(k) != wanted.get(k)), None)
        if changed is not None:
            other = "other" if what.endswith("s") else "another"  # other settings, another plan
            raise FacesslError(f"{out}: made with {other} {what} ({changed}: {made.get(changed)!r} there, "
                               f"{wanted.get(changed)!r} now); {fresh}")
        return
    if (out / "stages").is_dir() and any((out / "stages").glob("*.json")):
        raise FacesslError(f"{out}: made by an earlier facessl that did not record its {short}; {fresh}")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(record, wanted)
