"""BP4D-Spontaneous read in its distributed layout (AUCoding/AU_OCC/F001_T1.csv + Sequences/F001/T1/0001.jpg),
and the AU task run on it: its own AU names as the table's columns, occurrence labels (present = 1).

Every fixture is written here from the documented layout (tiny JPEGs), never from the real data.
"""
import numpy as np
import pytest

from eval_toys import ToyEncoder
from image_toys import write
from facessl.data import formats
from facessl.data.formats.bp4d import BP4D_AUS
from facessl.data.formats.imagefiles import save_image
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import au, runner, tables
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

RNG = np.random.default_rng(7)
HEADER_AUS = range(1, 28)  # the release's header: frame column '0', then consecutive AU numbers
FAST = EvalOptions(seeds=1, epochs=4, weight_decays=(0.0,), supervised_epochs=1, device="cpu", quiet=True)


def code(subject_index, frame, au):
    return (frame + au + subject_index) % 2  # both classes for every AU in every sequence


def occ_csv(root, subject, task, frames, index=0, odd=None, first="0", folder="AUCoding/AU_OCC", **kw):
    """One AU_OCC file as BP4D writes it; odd = {(frame, au): cell} overrides a cell."""
    odd = odd or {}
    lines = [",".join([first] + [str(a) for a in HEADER_AUS])]
    for f in frames:
        lines.append(",".join([str(f)] + [str(odd.get((f, a), code(index, f, a))) for a in HEADER_AUS]))
    write(root / folder / f"{subject}_{task}.csv", "\n".join(lines) + "\n", **kw)


def sequence_images(root, subject, task, numbers, digits=4, folder="Sequences"):
    for n in numbers:
        path = root / folder / subject / task / f"{n:0{digits}d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(path, RNG.integers(0, 256, size=(16, 16, 3), dtype=np.uint8))


def small_bp4d(root):
    """F001 T1/T2, M001 T1 (a 9 at frame 3, CRLF + BOM), F002 T1 (3-digit file names)."""
    occ_csv(root, "F001", "T1", range(1, 6))
    occ_csv(root, "F001", "T2", range(10, 13))
    occ_csv(root, "M001", "T1", range(1, 5), index=1, odd={(3, 7): 9}, crlf=True, bom=True)
    occ_csv(root, "F002", "T1", range(1, 4), index=2)
    sequence_images(root, "F001", "T1", range(1, 6))
    sequence_images(root, "F001", "T2", range(1, 20))  # the whole sequence; frames 10-12 coded
    sequence_images(root, "M001", "T1", range(1, 5))
    sequence_images(root, "F002", "T1", range(1, 4), digits=3)


def test_labels_subjects_and_not_coded_frames(tmp_path):
    small_bp4d(tmp_path)
    got = formats.read("bp4d", tmp_path)
    assert got.labels["aus"].shape == (14, 12) and got.labels["aus"].dtype == np.float32
    assert got.meta == {"au_names": [f"AU{a}" for a in BP4D_AUS], "au_labels": "occurrence"}
    assert got.dropped == {"not_coded": 1, "missing_image": 0}  # M001 frame 3: AU7 = 9
    subjects = got.labels["subject"].tolist()
    assert subjects == ["F001"] * 8 + ["F002"] * 3 + ["M001"] * 3
    assert got.labels["task"].tolist()[:8] == ["T1"] * 5 + ["T2"] * 3
    assert got.labels["frame"].tolist() == [1, 2, 3, 4, 5, 10, 11, 12, 1, 2, 3, 1, 2, 4]
    assert got.images[5].endswith("Sequences/F001/T2/0010.jpg") and got.images[8].endswith("F002/T1/001.jpg")
    expected = [[code(1, f, a) for a in BP4D_AUS] for f in (1, 2, 4)]
    np.testing.assert_array_equal(got.labels["aus"][-3:], expected)


def test_every_and_aus_options(tmp_path):
    small_bp4d(tmp_path)
    thinned = formats.read("bp4d", tmp_path, every=2)
    assert thinned.labels["frame"].tolist() == [1, 3, 5, 10, 12, 1, 3, 1, 4]  # every 2nd coded frame per sequence
    chosen = formats.read("bp4d", tmp_path, aus="1, 7,24")
    assert chosen.meta["au_names"] == ["AU1", "AU7", "AU24"] and chosen.labels["aus"].shape == (14, 3)
    assert chosen.dropped["not_coded"] == 1
    without_au7 = formats.read("bp4d", tmp_path, aus=[1, 2])
    assert len(without_au7) == 15 and without_au7.dropped["not_coded"] == 0  # the 9 was AU7's
    np.testing.assert_array_equal(without_au7.labels["aus"][0], [code(0, 1, 1), code(0, 1, 2)])
    with pytest.raises(FacesslError, match="every must be a whole number >= 1"):
        formats.read("bp4d", tmp_path, every=0)
    with pytest.raises(FacesslError, match="aus must be"):
        formats.read("bp4d", tmp_path, aus="1,1")


def test_missing_images_zero_based_files_and_variants(tmp_path):
    small_bp4d(tmp_path)
    (tmp_path / "Sequences/F001/T1/0004.jpg").unlink()
    with pytest.raises(DataFormatError, match=r"F001_T1.csv:5: frame 4 has no image.*--skip-missing"):
        formats.read("bp4d", tmp_path)
    assert formats.read("bp4d", tmp_path, skip_missing=True).dropped == {"not_coded": 1, "missing_image": 1}
    zero = tmp_path / "zero"  # FERA-2015-style labels in AUCoding/, frames numbered from 0 in an extracted copy
    occ_csv(zero, "M002", "T3", range(1, 4), folder="AUCoding")
    sequence_images(zero, "M002", "T3", range(0, 3), folder="images")
    got = formats.read("bp4d", zero)
    assert got.labels["frame"].tolist() == [1, 2, 3] and got.images[0].endswith("images/M002/T3/0000.jpg")
    flat = tmp_path / "flat"
    occ_csv(flat, "F003", "T8", [7])
    image = flat / "BP4D_Sequences/F003_T8/7.jpg"  # flat sequence folders, unpadded numbers
    image.parent.mkdir(parents=True)
    save_image(image, np.zeros((8, 8, 3), np.uint8))
    assert formats.read("bp4d", flat).images == [str(image)]


def test_errors_name_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match="BP4D folder not found"):
        formats.read("bp4d", tmp_path / "nowhere")
    with pytest.raises(DataFormatError, match=r"AU_OCC: BP4D occurrence labels not found"):
        formats.read("bp4d", tmp_path)
    small_bp4d(tmp_path)
    occ_csv(tmp_path, "F001", "T1", range(1, 3), first="1")  # no frame column: the header starts with AUs
    with pytest.raises(DataFormatError, match=r"F001_T1.csv:1: expected the frame column first .* got '1'"):
        formats.read("bp4d", tmp_path)
    occ_csv(tmp_path, "F001", "T1", range(1, 6))
    with pytest.raises(DataFormatError, match=r"F001_T1.csv:1: no column for AU 43; the header has AUs 1, 2, "):
        formats.read("bp4d", tmp_path, aus=[1, 43])
    occ_csv(tmp_path, "F001", "T1", range(1, 6), odd={(3, 12): "x"})
    with pytest.raises(DataFormatError, match=r"F001_T1.csv:4: expected an AU12 code 0, 1 or 9, got 'x'") as err:
        formats.read("bp4d", tmp_path)
    assert "\n" not in str(err.value)
    occ_csv(tmp_path, "F001", "T1", range(1, 6), odd={(2, 4): 3})
    with pytest.raises(DataFormatError, match=r"F001_T1.csv:3: expected an AU4 code 0, 1 or 9 \(not coded\), got '3'"):
        formats.read("bp4d", tmp_path)
    write(tmp_path / "AUCoding/AU_OCC/F001_T1.csv", "0,1,2\none,0,1\n")
    with pytest.raises(DataFormatError, match=r"F001_T1.csv:2: expected an integer frame number, got 'one'"):
        formats.read("bp4d", tmp_path, aus=[1, 2])


def test_au_task_uses_occurrences_and_the_sets_au_names(tmp_path):
    for i, subject in enumerate(("F001", "F002", "M001", "M002", "M003", "M004")):
        occ_csv(tmp_path, subject, "T1", range(1, 9), index=i)
        sequence_images(tmp_path, subject, "T1", range(1, 9))
    data = formats.read("bp4d", tmp_path)
    task = au.build(data, None, EvalOptions(au_positive=3))  # an intensity threshold of 3 would make every label 0
    assert task.info["positive"] == "occurrence >= 0.5" and task.info["aus"] == [f"AU{a}" for a in BP4D_AUS]
    for fold in task.folds:
        np.testing.assert_array_equal(fold.y_test, data.labels["aus"][fold.test.index])
    spec = TaskSpec("", f"bp4d:{tmp_path}", options={"aus": [1, 7, 24]})
    assert spec.task == "au"
    results = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())
    result = results["tasks"][0]
    assert result["info"]["positive"] == "occurrence >= 0.5" and result["info"]["aus"] == ["AU1", "AU7", "AU24"]
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) >= {"f1_AU1", "f1_AU7", "f1_AU24", "f1_mean", "auc_AU24"}
    md = tables.render(results)
    assert "| model | feature | AU1 | AU7 | AU24 | mean |" in md and "AU26" not in md
