"""Resumable stages: each finished stage leaves <out>/stages/<name>.json; a rerun skips it."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from facessl.engine.io import write_json_atomic


class StageRunner:
    """Runs named stages in order, printing one line per stage with its elapsed time."""

    def __init__(self, out: Path, total: int, quiet: bool = False):
        self.dir = Path(out) / "stages"
        self.total, self.index, self.quiet = total, 0, quiet
        self.start = time.perf_counter()

    def done(self, name: str) -> dict | None:
        path = self.dir / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def run(self, name: str, fn, *args, **kwargs):
        """Run fn unless stage `name` finished before; returns fn's (JSON-able) result or the saved one."""
        self.index += 1
        prefix = f"[{self.index}/{self.total}] {name}"
        previous = self.done(name)
        if previous is not None:
            self._say(f"{prefix}: done earlier ({previous['seconds']:.0f} s), skipped")
            return previous.get("result")
        self._say(f"{prefix} ...")
        t0, cpu0 = time.perf_counter(), time.process_time()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - t0
        # CPU seconds of this process (all its threads): on a shared machine, wall time says little
        write_json_atomic(self.dir / f"{name}.json", {"seconds": seconds, "cpu_seconds": time.process_time() - cpu0,
                                                      "load": os.getloadavg()[0], "result": result})
        self._say(f"{prefix}: done in {seconds:.0f} s (total {time.perf_counter() - self.start:.0f} s)")
        return result

    def timings(self) -> dict[str, float]:
        return {p.stem: json.loads(p.read_text())["seconds"] for p in sorted(self.dir.glob("*.json"))}

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)
