"""Jobs in worker processes, for `facessl prepare` and the readers that find faces (data/face_cache.py).

A process pool executor rather than multiprocessing.Pool: a worker killed (the out-of-memory killer, a crash inside
FFmpeg) breaks the executor with an error, where a Pool waits for that job forever. At most a few jobs per worker
are in flight, so a million inputs are not a million futures in memory.
"""
from __future__ import annotations

from facessl.errors import FacesslError

IN_FLIGHT_PER_WORKER = 4


def results_in_processes(function, jobs, workers: int, initializer, initargs: tuple, died: str):
    """Yield function(job) for every job, in the order they finish, from `workers` spawned processes (each set up by
    initializer(*initargs)). A worker that dies is one FacesslError: `died`, with how many jobs were left."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    jobs = list(jobs)
    pending, submitted, finished = set(), 0, 0
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=initializer,
                             initargs=initargs) as pool:
        try:
            while submitted < len(jobs) or pending:
                while submitted < len(jobs) and len(pending) < IN_FLIGHT_PER_WORKER * workers:
                    pending.add(pool.submit(function, jobs[submitted]))
                    submitted += 1
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    finished += 1
                    yield result
        except BrokenProcessPool:
            for future in pending:
                future.cancel()
            raise FacesslError(f"{died} with {len(jobs) - finished} of {len(jobs)} jobs left; what finished is kept, "
                               "so rerunning the same command goes on from there") from None
        except (KeyboardInterrupt, GeneratorExit):
            _stop_now(pool)
            raise


def _stop_now(pool) -> None:
    """Ctrl-C (or the caller giving up): end the workers now rather than after the jobs in flight, which leaving the
    pool's `with` would wait for (a long video each). Workers ignore SIGINT, so they are terminated; every output is
    written whole and renamed, so a job cut short leaves nothing that looks done, and a rerun redoes it."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
