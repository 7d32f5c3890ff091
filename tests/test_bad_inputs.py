"""The bad-input corpus (tests/bad_inputs): every case through the real CLI entry, in-process.

A case passes when nothing escapes as a traceback, the exit status is the expected one, the output
holds the expected words, an error is reported on an 'error:' line, and its `after` check holds
(e.g. the checkpoint the NaN guard kept gives finite features; old checkpoints survive a full disk).
`PYTHONPATH=src:tests python -m bad_inputs` prints the same corpus as a table.
"""
import pytest

from bad_inputs import CASES, Shared, check, run_case
from bad_inputs import cases  # noqa: F401  (registers the cases)
from facessl.data.formats import FORMAT_NAMES


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return Shared(tmp_path_factory.mktemp("corpus_shared"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, shared, tmp_path):
    result = run_case(case, tmp_path / "case", shared)
    problems = check(case, result, tmp_path / "case", shared)
    assert not problems, f"{case.name}: {problems}\nstdout: {result.out[-800:]}\nstderr: {result.err[-800:]}\n{result.traceback}"


def test_corpus_covers_every_verb_and_format_reader():
    verbs = {c.name.split("/")[0] for c in CASES}
    assert {"pretrain", "eval", "embed", "synth", "report", "demo", "ablate", "prepare", "formats", "shards", "csv",
            "imagefolder", "cli"} <= verbs
    readers = {"rafdb", "fer2013", "lfw", "aflw2000", "disfa", "300w", "mafl", "bu3dfe", "voxceleb"}
    assert readers <= set(FORMAT_NAMES)
    covered = {r for r in readers if any(c.name.startswith(f"formats/{r}-") for c in CASES)}
    assert covered == readers, readers - covered
    assert len(CASES) >= 200

