"""Case registry and the in-process runner."""
from __future__ import annotations

import contextlib
import io
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

CASES: list["Case"] = []
PENDING: list["Case"] = []  # cases of fixes other issues are making: run with `python -m bad_inputs --pending`


@dataclass
class Case:
    name: str
    build: Callable  # (workdir: Path, shared: Shared) -> argv list
    rc: int  # expected exit status
    words: tuple = ()  # each must appear (case-insensitively) in stdout + stderr
    after: Callable | None = None  # (workdir, shared) -> None; asserts on what the run left behind
    patch: Callable | None = None  # (workdir, shared) -> context manager active during the run (e.g. a full disk)


@dataclass
class Result:
    rc: int
    out: str
    err: str
    traceback: str = ""
    problems: list = field(default_factory=list)


def case(name: str, rc: int, *words: str, after=None, patch=None, pending: bool = False):
    """Register the decorated argv builder as a corpus case (pending: in PENDING, not yet in the suite)."""
    def register(build):
        into = PENDING if pending else CASES
        if any(c.name == name for c in CASES + PENDING):
            raise ValueError(f"duplicate corpus case {name}")
        into.append(Case(name, build, rc, tuple(words), after, patch))
        return build
    return register


def run_case(c: Case, workdir: Path, shared) -> Result:
    """Build the input, run facessl.cli.main(argv) capturing its output; an escaping exception is a traceback."""
    from facessl.cli import main

    workdir.mkdir(parents=True, exist_ok=True)
    out, err = io.StringIO(), io.StringIO()
    tb = ""
    try:
        argv = [str(a) for a in c.build(workdir, shared)]
        patch = c.patch(workdir, shared) if c.patch else contextlib.nullcontext()
        with patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as exc:  # argparse
                rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception:  # noqa: BLE001 - anything escaping the CLI is what the corpus counts
        rc, tb = 1, traceback.format_exc()
    return Result(int(rc), out.getvalue(), err.getvalue(), tb)


def check(c: Case, result: Result, workdir: Path, shared) -> list[str]:
    """What is wrong with a result (empty: the case passes)."""
    problems = []
    if result.traceback:
        last = result.traceback.strip().splitlines()[-1]
        return [f"traceback: {last}"]
    if "Traceback (most recent call last)" in result.err:
        problems.append("a traceback was printed")
    if result.rc != c.rc:
        problems.append(f"exit status {result.rc}, expected {c.rc}")
    text = (result.out + result.err).lower()
    missing = [w for w in c.words if w.lower() not in text]
    if missing:
        problems.append(f"message lacks {missing}")
    if c.rc == 2 and result.rc == 2:
        errors = [line for line in result.err.splitlines() if "error:" in line]
        if not errors and "usage:" not in (result.out + result.err):
            problems.append("neither an 'error:' line nor the usage")
    if c.after is not None and not problems:
        try:
            c.after(workdir, shared)
        except AssertionError as exc:
            problems.append(f"after: {exc}")
    return problems
