"""`facessl prepare` at scale: videos (or chunks of photos) in worker processes, resumable.

State lives in `<out>/.prepare/`: `options.json` (a rerun with other options is refused) and
`done.jsonl` (one line per finished input, video or photo, appended and fsync'ed after its output
is in place). A killed run continues where it stopped: unfinished inputs are redone from scratch,
and each track folder appears by one atomic rename, so nothing half-written looks finished. A
rerun also does what is new: inputs added since, and inputs whose size or modification time
changed since they were skipped (a file still being copied) or, for photos, prepared. Output
names given once are kept (naming.py). The result is a pure function of the input and the
options; `prepare.json` (written last) summarises it, and photos also get `photos.csv`.

`--format shards`: a video's tracks go to a part (`.prepare/parts/`), logged as done, then handed to
the shard writer in the jobs' order (writers.ShardFeed), which writes each shard as soon as it is full
and deletes its parts. Every crash point is safe, because each step is durable before the next one
starts, and a rerun first makes the index and the log agree (ShardFeed.settle): a part not yet logged
is redone; a logged part is queued again for whichever of its tracks no shard holds; a shard renamed
into place but not yet in index.json is adopted from its tar headers (ShardWriter); a part whose tracks
are all in shards is deleted. So no track is lost or listed twice. An input removed or changed since
leaves the index before the log forgets it.
Progress: a tqdm bar on a terminal, a plain line every 30 s on a log file, nothing with --quiet.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from facessl.data.video.pipeline import Options
from facessl.data.video import writers
from facessl.data.video.naming import photo_places, video_places
from facessl.data.video.writers import STATE
from facessl.engine.io import write_json_atomic
from facessl.errors import FacesslError
from facessl.wording import counted

_WORKER: dict = {}


def _init_worker(opts: Options) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the run in the main process, without a trace per worker
    _load_detector(opts)


def _load_detector(opts: Options) -> None:
    import torch

    torch.set_num_threads(1)  # one core per worker; also keeps the float results independent of thread count
    from facessl.data.video.detectors import build_detector

    _WORKER["detector"] = build_detector(opts.detector, min_face=opts.min_face, max_side=opts.max_side)
    _WORKER["opts"] = opts


def _run_job(job: tuple) -> dict:
    kind, root, out, fmt, payload = job
    try:
        if kind == "videos":
            return writers.video_job(Path(root), Path(out), fmt, *payload, _WORKER["opts"], _WORKER["detector"])
        return writers.photo_job(Path(root), Path(out), payload, _WORKER["opts"], _WORKER["detector"])
    except Exception as exc:  # one bad input must never stop a large run: counted, named, and retried on a rerun
        reason = f"unexpected error: {type(exc).__name__}: {str(exc)[:200]}"
        if kind == "videos":
            return {"key": payload[0], "skipped": reason, "retry": True}
        return [{"key": rel, "result": "error", "reason": reason, "retry": True} for rel, _ in payload]


class DoneLog:
    """Finished inputs, one JSON line each; a torn last line (a kill mid-write) is dropped on reading."""

    def __init__(self, path: Path):
        self.path, self.records = path, {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                    self.records[rec["key"]] = rec
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.records.values())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        self.file = open(path, "a")

    def add(self, *recs: dict) -> None:
        for rec in recs:
            self.records[rec["key"]] = rec
            self.file.write(json.dumps(rec, sort_keys=True) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def drop(self, keys) -> None:
        """Forget these inputs (gone from the input folder): the log is rewritten without them."""
        for key in keys:
            self.records.pop(key, None)
        self.file.close()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in self.records.values()))
        os.replace(tmp, self.path)
        self.file = open(self.path, "a")

    def close(self) -> None:
        self.file.close()


def _check_options(state: Path, settings: dict) -> None:
    path = state / "options.json"
    if path.is_file():
        before = json.loads(path.read_text())
        if before != settings:
            changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
            raise FacesslError(f"{path.parent.parent}: already prepared with other settings ({', '.join(changed)}); "
                               "use a new --out folder")
    else:
        write_json_atomic(path, settings)


def prepare(kind: str, root, out, opts: Options, fmt: str = "tree", workers: int | None = None,
            quiet: bool = False, chunk: int = 256, shard_frames: int = 2000) -> dict:
    root, out = Path(root), Path(out)
    writers.check_separate(kind, root, out)
    inputs, ignored = writers.list_inputs(kind, root, out)
    state = out / STATE
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FacesslError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None
    _check_options(state, {"input": kind, "format": fmt, **opts.as_dict()})
    shutil.rmtree(state / "tmp", ignore_errors=True)  # leftovers of a killed run
    done = DoneLog(state / "done.jsonl")
    sigs = {rel: writers.signature(root / rel) for rel in inputs}
    gone = sorted(set(done.records) - set(inputs))
    todo = [rel for rel in inputs if not _current(kind, done.records.get(rel), sigs[rel])]
    feed = writers.ShardFeed(out, shard_frames) if fmt == "shards" and kind == "videos" else None
    pending: dict = {}
    if feed is not None:  # the index first, then the log: a kill between leaves tracks of nothing listed
        redo = [rel for rel in todo if rel in done.records]  # changed, or unreadable now: old tracks go
        removed, broken, pending = feed.settle(done.records, gone, redo)
        todo = sorted(set(todo) | set(broken))
    else:
        removed = _remove_outputs(kind, out, [done.records[k] for k in gone])
    if gone:
        done.drop(gone)
    already = len(inputs) - len(todo)
    if already and todo and not quiet:  # a rerun that goes on: said before the progress bar
        print(f"resuming: {already} of {counted(len(inputs), 'video' if kind == 'videos' else 'photo')} already "
              "prepared", flush=True)
    unreadable = [rel for rel in todo if sigs[rel] is None]  # named, counted and retried on a rerun, not fatal
    done.add(*[_unreadable(kind, rel) for rel in unreadable])
    todo = [rel for rel in todo if sigs[rel] is not None]
    if kind == "videos":
        if feed is None:  # redone: changed
            _remove_outputs(kind, out, [done.records[rel] for rel in todo if rel in done.records])
        places = video_places(inputs, {k: r["out"] for k, r in done.records.items() if r.get("out")})
        todo.sort(key=lambda r: (-sigs[r][0], r))  # big first
        jobs = [("videos", str(root), str(out), fmt, (rel, places[rel])) for rel in todo]
    else:
        places = photo_places(inputs, {k: r["output"] for k, r in done.records.items() if r.get("output")})
        # chunks small enough that every worker gets several (and a kill redoes little), large enough to be cheap
        size = max(16, min(chunk, -(-len(todo) // (4 * max(1, workers or os.cpu_count() or 1)))))
        jobs = [("photos", str(root), str(out), fmt, [(rel, places[rel]) for rel in todo[i:i + size]])
                for i in range(0, len(todo), size)]
    if feed is not None:  # parts left by a killed run, merged into the jobs' order as a clean run would have them
        feed.start(sorted([*pending, *todo], key=lambda r: (-sigs[r][0], r)), pending, done.records)
    if jobs:  # a detector that cannot load (weights missing, no OpenCV 4 ...) is one clear error, here
        _load_detector(opts)  # not _init_worker: this process must still stop on Ctrl-C
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    bar = _progress(len(inputs), len(inputs) - len(todo), quiet, "videos" if kind == "videos" else "photos")
    frames, t0 = 0, time.time()
    speed = lambda: (f"{frames / max(time.time() - t0, 1e-9):.0f} frames/s"
                     + (f", {counted(feed.writer.written, 'shard')} written" if feed is not None else ""))
    try:
        for result in _results(jobs, opts, workers):
            recs = result if isinstance(result, list) else [result]
            for rec in recs:  # as listed before reading: a file that grows meanwhile is redone next time
                rec["sig"] = sigs[rec["key"]]
            done.add(*recs)
            if feed is not None:
                feed.finished(recs[0])
            frames += sum(rec.get("frames_sampled", kind == "images") for rec in recs)
            bar.set_postfix_str(speed(), refresh=False)
            bar.update(len(recs))
        totals = feed.finish() if feed is not None else None
        bar.set_postfix_str(speed(), refresh=False)  # the last shard is written at the end: the closing line counts it
    except (KeyboardInterrupt, Exception):
        if feed is not None:  # the shards finished so far, listed (after a hard kill the next run adopts them)
            try:
                feed.writer.write_index()
            except Exception:  # a full disk, say: the index on disk stays as it was, and valid
                pass
        raise
    finally:
        bar.close()
        done.close()
    elapsed = time.time() - t0
    shutil.rmtree(state / "tmp", ignore_errors=True)
    records = [done.records[k] for k in sorted(inputs) if k in done.records]
    summary = writers.summarise(kind, root, opts, fmt, records)
    summary.update(_ignored(ignored))
    summary["removed"] = removed
    if totals is not None:
        summary["shards"] = totals
        if not quiet and (totals["written_this_run"] or totals["tracks_dropped_this_run"]):
            print(_shards_line(totals, out))
    if kind == "images":
        writers.write_photo_list(out, records)
    write_json_atomic(out / "prepare.json", summary)
    summary["_run"] = {"seconds": elapsed, "frames_per_s": frames / max(elapsed, 1e-9), "workers": workers,
                       "inputs_done": len(todo)}
    return summary


def _ignored(names: list[str], shown: int = 20) -> dict:
    """The files passed over: {suffix: count}, most first, and the first few of their names."""
    counts: dict[str, int] = {}
    for name in names:
        suffix = os.path.splitext(name)[1].lower() or "(no suffix)"
        counts[suffix] = counts.get(suffix, 0) + 1
    return {"ignored_files": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "ignored_names": names[:shown]}


def _shards_line(t: dict, out: Path) -> str:
    dropped = (f"; {counted(t['tracks_dropped_this_run'], 'track')} of inputs removed or changed since dropped from "
               "the index (their bytes stay in the older shard files)" if t["tracks_dropped_this_run"] else "")
    return (f"shards: {t['written_this_run']} written this run; {out / 'shards' / 'index.json'} lists "
            f"{counted(t['shards'], 'shard')}, {counted(t['tracks'], 'track')}, {counted(t['frames'], 'frame')}"
            f"{dropped}")


def _unreadable(kind: str, rel: str) -> dict:
    reason = "cannot read the file (a broken link, or removed while listing)"
    if kind == "videos":
        return {"key": rel, "skipped": reason, "retry": True}
    return {"key": rel, "result": "unreadable", "reason": reason, "retry": True}


def _remove_outputs(kind: str, out: Path, records: list[dict]) -> list[str]:
    """Remove what these inputs wrote (their input is gone, or changed and about to be redone): the output
    stays a function of the input folder, so no crop of a deleted photo or video is trained on. Only names this
    run's own log gave out are touched. Returns the inputs whose outputs were removed."""
    removed = []
    for rec in records:
        if kind == "videos":
            if rec.get("place") and rec.get("tracks"):  # records before session 32 have no track_paths
                for path in rec.get("track_paths") or [f"{rec['place']}/{name}" for name in rec["tracks"]]:
                    shutil.rmtree(out / path, ignore_errors=True)
                removed.append(rec["key"])
        elif rec.get("output"):
            (out / rec["output"]).unlink(missing_ok=True)
            removed.append(rec["key"])
    return removed


def _current(kind: str, rec: dict | None, sig: list | None) -> bool:
    """Whether an input's record still stands. Skips (and photos) are keyed by the file's size and mtime, so a
    file fixed or finished copying is redone; an unexpected error is retried. A prepared video is kept while its
    size is the same (a copy or `touch` changes only the time, and a video costs minutes); another size is
    another file (a download finished since), redone."""
    if rec is None or rec.get("retry") or sig is None:
        return False
    if rec.get("sig") == sig:
        return True
    return kind == "videos" and "skipped" not in rec and bool(rec.get("sig")) and rec["sig"][0] == sig[0]


def _results(jobs, opts, workers):
    if workers == 1:  # in this process, with the detector prepare() loaded
        for job in jobs:
            yield _run_job(job)
        return
    from facessl.data.worker_pool import results_in_processes

    yield from results_in_processes(_run_job, jobs, workers, _init_worker, (opts,),
                                    "a prepare worker process died (out of memory, or a crash while decoding; "
                                    "--workers 1 runs in one process)")


def _progress(total: int, initial: int, quiet: bool, unit: str):
    """A tqdm bar on a terminal; elsewhere (a cluster's log file) a plain line every PLAIN_EVERY seconds and at the
    end; nothing with --quiet."""
    from tqdm.auto import tqdm

    if not quiet and not sys.stderr.isatty():
        return _PlainProgress(total, initial, "prepare " + unit)
    return tqdm(total=total, initial=initial, unit=unit.split()[-1], desc="prepare " + unit, disable=quiet)


PLAIN_EVERY = 30.0


class _PlainProgress:
    """Progress as lines for logs: `prepare videos: 120/1000 (12.0%), 850 frames/s, elapsed 0:02:10, ETA 0:15:54`."""

    def __init__(self, total: int, initial: int, desc: str):
        self.total, self.initial, self.n, self.desc, self.postfix = total, initial, initial, desc, ""
        self.t0 = self.last = time.monotonic()

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        self.postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self.last >= PLAIN_EVERY:
            self._line()

    def close(self) -> None:
        if self.n > self.initial:
            self._line()

    def _line(self) -> None:
        self.last = now = time.monotonic()
        elapsed, done = now - self.t0, self.n - self.initial
        eta = _clock((self.total - self.n) * elapsed / done) if done else "?"
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}/{self.total} ({100 * self.n / max(self.total, 1):.1f}%){extra}, "
              f"elapsed {_clock(elapsed)}, ETA {eta}", file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
