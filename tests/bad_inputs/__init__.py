"""The bad-input corpus: every case builds its own input, runs the real `facessl` entry point in-process
and states the exit status and the words the message must contain.

    from bad_inputs import CASES, run_case
    result = run_case(case, workdir, shared)   # -> Result(rc, out, err, traceback)

`python tests/bad_inputs` prints one line per case and the totals (cases, tracebacks, mismatches);
run it with another PYTHONPATH to count the tracebacks of an older facessl.
"""
from bad_inputs.corpus import CASES, PENDING, Case, Result, check, run_case  # noqa: F401
from bad_inputs.shared import Shared  # noqa: F401
