"""The synthetic benchmark builder: every part readable by its format reader, identities disjoint,
same seed -> byte-identical files, cached re-runs, nothing half-written left looking complete."""
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from synth_stub import fake_render, fast_render  # noqa: F401

from facessl.data import formats
from facessl.data.formats.truth import read_truth
from facessl.data.synthetic.build import STAMP, build_benchmark
from facessl.data.synthetic.build_presets import PARTS
from facessl.errors import FacesslError


def _tiny(out, **kw):
    return build_benchmark(out, scale="tiny", size=48, quiet=True, **kw)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import facessl.data.synthetic as synthetic

    out = tmp_path_factory.mktemp("tiny") / "synth"
    with pytest.MonkeyPatch.context() as mp:  # patched only while building: later tests may use the real renderer
        mp.setattr(synthetic, "render", fake_render)
        result = _tiny(out)
    return out, result


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_part_reads_back_with_true_labels(tiny):
    out, result = tiny
    assert sorted(result.built) == sorted(PARTS) and set(result.manifest["parts"]) == set(PARTS)
    read = {name: formats.read(name, out / name) for name in PARTS}
    assert len(read["rafdb"]) == 18 and len(read["fer2013"]) == 14 and len(read["voxceleb"]) == 24
    assert len(read["lfw"].pairs) == 8 and read["lfw"].same.sum() == 4
    truth = read_truth(out / "rafdb")
    for path, label in zip(read["rafdb"].images, read["rafdb"].labels["expression"]):
        assert truth[Path(path).relative_to(out / "rafdb").as_posix()]["expression"] == label
    aflw = read["aflw2000"]
    truth = read_truth(out / "aflw2000")
    for path, pose in zip(aflw.images, aflw.labels["pose"]):
        np.testing.assert_allclose(pose, truth[Path(path).relative_to(out / "aflw2000").as_posix()]["pose"], atol=1e-3)
    lp = read["300wlp"]
    assert len(lp) == 16 and {s.split("_")[0] for s in lp.labels["subset"]} <= {"AFW", "HELEN", "IBUG", "LFPW"}
    flips = lp.labels["subset"] == np.char.add(lp.labels["subset"], "")  # all rows
    assert flips.all() and sum(s.endswith("_Flip") for s in lp.labels["subset"]) == 8
    assert read["disfa"].labels["aus"].shape == (12, 8) and set(read["disfa"].labels["subject"]) == {"SN001", "SN002"}
    assert read["300w"].labels["landmarks"].shape == (11, 68, 2) and read["mafl"].labels["landmarks"].shape == (9, 5, 2)
    assert set(read["bu3dfe"].split) == {"train", "test"} and len(read["bu3dfe"]) == 14
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["size"] == 48 and manifest["parts"]["rafdb"]["result"]["images"] == 18


def test_identities_never_shared_between_parts_or_splits(tiny):
    out, _ = tiny
    owner = defaultdict(set)
    for name in PARTS:
        for record in read_truth(out / name).values():
            owner[record["identity"]].add((name, record.get("split", "all")))
    shared = {i: s for i, s in owner.items() if len(s) > 1}
    assert not shared
    groups = {g for s in owner.values() for g in s}
    assert ("rafdb", "train") in groups and ("rafdb", "test") in groups and ("lfw", "fold1") in groups


def test_cplfw_pairs_are_cross_pose(tiny):
    out, _ = tiny
    pairs = formats.read("cplfw", out / "cplfw")
    truth = read_truth(out / "cplfw")
    yaw = [truth[Path(p).relative_to(out / "cplfw").as_posix()]["pose"][0] for p in pairs.images.images]
    assert all(abs(yaw[a] - yaw[b]) > 25 for a, b in pairs.pairs)


def test_same_seed_is_byte_identical_and_cached(tiny, tmp_path, fast_render):
    out, _ = tiny
    again = _tiny(tmp_path / "again")
    assert _files(out) == _files(tmp_path / "again")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "again").rglob("*")}
    rerun = _tiny(tmp_path / "again")
    assert rerun.built == [] and sorted(rerun.cached) == sorted(PARTS)
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "again").rglob("*")}
    other = _tiny(tmp_path / "other", seed=1, parts=["rafdb"])
    assert _files(out / "rafdb") != _files(tmp_path / "other" / "rafdb")
    assert again.manifest["parts"]["rafdb"]["identities"] == other.manifest["parts"]["rafdb"]["identities"]


def test_changed_counts_rebuild_only_that_part(tmp_path, fast_render):
    _tiny(tmp_path, parts=["rafdb", "mafl"])
    result = _tiny(tmp_path, parts=["rafdb", "mafl"], counts={"rafdb.train": 5})
    assert result.built == ["rafdb"] and result.cached == ["mafl"]
    assert len(formats.read("rafdb", tmp_path / "rafdb")) == 11


def test_failed_part_leaves_nothing_that_looks_complete(tmp_path, monkeypatch, fast_render):
    import facessl.data.synthetic.build_expression as expression

    def broken(ctx):
        (ctx.root / "Image").mkdir()
        raise RuntimeError("disk full")

    monkeypatch.setattr(expression, "build_rafdb", broken)
    with pytest.raises(RuntimeError):
        _tiny(tmp_path, parts=["rafdb"])
    assert not (tmp_path / "rafdb").exists() and list(tmp_path.iterdir()) == []


def test_foreign_folder_is_not_overwritten(tmp_path, fast_render):
    (tmp_path / "rafdb").mkdir()
    (tmp_path / "rafdb" / "mine.txt").write_text("keep")
    with pytest.raises(FacesslError, match="not written by facessl synth"):
        _tiny(tmp_path, parts=["rafdb"])
    assert (tmp_path / "rafdb" / "mine.txt").read_text() == "keep"
    _tiny(tmp_path, parts=["rafdb"], force=True)
    assert (tmp_path / "rafdb" / STAMP).is_file()


def test_real_renderer_builds_deterministically(tmp_path):
    counts = {"rafdb.train": 2, "rafdb.test": 1}
    a = build_benchmark(tmp_path / "a", scale="tiny", size=48, parts=["rafdb"], counts=counts, quiet=True)
    build_benchmark(tmp_path / "b", scale="tiny", size=48, parts=["rafdb"], counts=counts, quiet=True)
    assert _files(tmp_path / "a") == _files(tmp_path / "b") and a.manifest["parts"]["rafdb"]["result"]["images"] == 3


def test_parts_built_in_parallel_processes_are_the_same_files(tmp_path):
    """The demo builds its parts two at a time (`jobs`): the files must not depend on it."""
    counts = {"rafdb.train": 2, "rafdb.test": 1, "lfw.folds": 2, "lfw.pairs": 2}
    kw = dict(scale="tiny", size=48, parts=["rafdb", "lfw"], counts=counts, quiet=True)
    build_benchmark(tmp_path / "one", **kw)
    build_benchmark(tmp_path / "two", jobs=2, **kw)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_pose_signs_match_aflw_convention():
    """Internal yaw > 0 turns the face to the image's left; roll > 0 rotates it clockwise (AFLW2000 / 300W-LP)."""
    import torch

    from facessl.data.synthetic import plain_scene
    from facessl.data.synthetic.build_context import PartContext

    ctx = PartContext("check", 0, Path("."), {}, 0, 48)
    poses = torch.tensor([[40.0, 0, 0], [0, 0, 25.0]])
    _, marks = ctx.render(np.zeros(2, int), poses, torch.zeros(2, 8), plain_scene(2))
    eye_mid = (marks[0, 36, 0] + marks[0, 45, 0]) / 2
    assert marks[0, 30, 0] < eye_mid - 2  # nose tip left of the eyes' midpoint
    assert marks[1, 45, 1] > marks[1, 36, 1] + 2  # the image-right eye is lower: clockwise


@pytest.mark.slow
def test_real_renderer_tiny_build_twice(tmp_path):
    _tiny(tmp_path / "a")
    _tiny(tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_truth_names_are_relative_to_the_part_even_for_a_relative_output_dir(tmp_path, monkeypatch):
    from facessl.data.formats.truth import TruthWriter, read_truth

    monkeypatch.chdir(tmp_path)
    root = tmp_path / "out" / "part"
    root.mkdir(parents=True)
    writer = TruthWriter(root)
    writer.add("out/part/Image/a.jpg", identity=3)  # relative to the working directory, not to the part
    writer.close()
    assert read_truth(root) == {"Image/a.jpg": {"identity": 3}}
