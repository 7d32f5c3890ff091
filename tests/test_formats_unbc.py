"""UNBC-McMaster Shoulder Pain read in its distributed layout (Images/042-ll042/ll042t1aaaff/ll042t1aaaff001.png,
Frame_Labels/FACS/.../ll042t1aaaff001_facs.txt with MATLAB-written `AU intensity x x` rows, Frame_Labels/PSPI/...),
and the AU task run on it: intensities of the usual 9 AUs, or occurrences with AU43.

Every fixture is written here from the documented layout (tiny PNGs), never from the real data.
"""
import shutil

import numpy as np
import pytest

from image_toys import write
from eval_toys import ToyEncoder
from facessl.data import formats
from facessl.data.formats.imagefiles import save_image
from facessl.data.formats.unbc import INTENSITY_AUS, OCCURRENCE_AUS, pspi_from
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import au, runner, tables
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

RNG = np.random.default_rng(5)
FAST = EvalOptions(seeds=1, epochs=4, weight_decays=(0.0,), supervised_epochs=1, device="cpu", quiet=True)
SUBJECTS = ("042-ll042", "043-jh043", "047-jl047", "048-aa048", "049-bm049", "052-dr052")


def matlab(*numbers):
    """One line as MATLAB's save -ascii writes it: `   4.0000000e+00   2.0000000e+00 ...`."""
    return "".join(f"   {n:.7e}" for n in numbers)


def codes_of(subject_index, frame):
    """{AU: intensity} of one synthetic frame: frame 1 of each sequence has no AU (an empty FACS file)."""
    if frame == 1:
        return {}
    codes = {au: (frame + au + subject_index) % 6 for au in INTENSITY_AUS if (frame + au) % 3}
    codes[43] = (frame + subject_index) % 2
    codes[50] = 1  # speech, coded in the archive but not one of the chosen AUs
    return {au: v for au, v in codes.items() if v}  # the archive lists only the AUs present


def sequence(root, subject, name, frames, index=0, odd=None, pspi=True, images=True, image_folder="Images", **kw):
    """One sequence's FACS (and PSPI) files and frames; odd = {frame: FACS file text} replaces a file."""
    odd = odd or {}
    for f in frames:
        stem = f"{name}{f:03d}"
        codes = codes_of(index, f)
        text = "".join(matlab(au, v, 0, 0) + "\n" for au, v in sorted(codes.items()))
        write(root / "Frame_Labels/FACS" / subject / name / f"{stem}_facs.txt", odd.get(f, text), **kw)
        if pspi:
            pspi_file = root / "Frame_Labels/PSPI" / subject / name / f"{stem}_facs.txt"
            write(pspi_file, matlab(pspi_from(codes)) + "\n", **kw)
        if images:
            path = root / image_folder / subject / name / f"{stem}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(path, RNG.integers(0, 256, size=(16, 16, 3), dtype=np.uint8))


def small_unbc(root):
    """042: two sequences; 043: CRLF + BOM files."""
    sequence(root, "042-ll042", "ll042t1aaaff", range(1, 5))
    sequence(root, "042-ll042", "ll042t2aiunaff", range(1, 3))
    sequence(root, "043-jh043", "jh043t1afaff", range(1, 4), index=1, crlf=True, bom=True)


def test_intensities_pspi_and_empty_files(tmp_path):
    small_unbc(tmp_path)
    got = formats.read("unbc", tmp_path)
    assert got.meta == {"au_names": [f"AU{a}" for a in INTENSITY_AUS], "au_labels": "intensity",
                        "pspi": "Frame_Labels/PSPI"}
    assert got.dropped == {"not_coded": 0, "no_pspi": 0, "missing_image": 0}
    assert got.labels["aus"].shape == (9, 9) and got.labels["aus"].dtype == np.float32
    assert got.labels["subject"].tolist() == ["042-ll042"] * 6 + ["043-jh043"] * 3
    assert got.labels["sequence"].tolist()[3:7] == ["ll042t1aaaff", "ll042t2aiunaff", "ll042t2aiunaff", "jh043t1afaff"]
    assert got.labels["frame"].tolist() == [1, 2, 3, 4, 1, 2, 1, 2, 3]
    assert got.images[1].endswith("Images/042-ll042/ll042t1aaaff/ll042t1aaaff002.png")
    np.testing.assert_array_equal(got.labels["aus"][0], 0)  # frame 1: an empty FACS file
    for row, (index, frame) in zip(got.labels["aus"][6:], [(1, 1), (1, 2), (1, 3)]):
        np.testing.assert_array_equal(row, [codes_of(index, frame).get(a, 0) for a in INTENSITY_AUS])
    expected_pspi = [pspi_from(codes_of(i, f)) for i, f in [(0, 1), (0, 2), (0, 3), (0, 4), (0, 1), (0, 2),
                                                            (1, 1), (1, 2), (1, 3)]]
    np.testing.assert_allclose(got.labels["pspi"], expected_pspi)
    assert got.labels["pspi"].max() > 0


def test_occurrence_aus_every_and_computed_pspi(tmp_path):
    small_unbc(tmp_path)
    occ = formats.read("unbc", tmp_path, labels="Occurrence")
    assert occ.meta["au_names"][-1] == "AU43" and occ.meta["au_labels"] == "occurrence"
    codes = codes_of(0, 2)
    expected = [float(codes.get(a, 0) >= (1 if a == 43 else 2)) for a in OCCURRENCE_AUS]
    np.testing.assert_array_equal(occ.labels["aus"][1], expected)
    assert set(np.unique(occ.labels["aus"])) == {0.0, 1.0} and occ.labels["aus"][:, -1].sum() > 0
    chosen = formats.read("unbc", tmp_path, aus="AU43, 50")
    assert chosen.meta["au_names"] == ["AU43", "AU50"] and chosen.labels["aus"][1].tolist() == [0, 1]
    thinned = formats.read("unbc", tmp_path, every=3)
    assert thinned.labels["frame"].tolist() == [1, 4, 1, 1]  # every 3rd coded frame of each sequence
    from_files = formats.read("unbc", tmp_path).labels["pspi"]
    shutil.rmtree(tmp_path / "Frame_Labels/PSPI")
    computed = formats.read("unbc", tmp_path)
    assert computed.meta["pspi"] == "computed from the FACS codes"
    np.testing.assert_allclose(computed.labels["pspi"], from_files)
    by_hand = tmp_path / "by_hand"  # AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 = 2 + 3 + 2 + 1
    rows = [(4, 2), (6, 1), (7, 3), (10, 2), (43, 1), (12, 5)]
    sequence(by_hand, "042-ll042", "ll042t1aaaff", [7], pspi=False,
             odd={7: "".join(matlab(a, v, 0, 0) + "\n" for a, v in rows)})
    assert formats.read("unbc", by_hand).labels["pspi"].tolist() == [8.0]
    with pytest.raises(FacesslError, match="unbc labels 'binary': expected one of intensity, occurrence"):
        formats.read("unbc", tmp_path, labels="binary")
    with pytest.raises(FacesslError, match="unbc: aus must be distinct"):
        formats.read("unbc", tmp_path, aus=[4, 4])
    with pytest.raises(FacesslError, match="every must be a whole number"):
        formats.read("unbc", tmp_path, every=1.5)


def test_skipped_frames_are_counted(tmp_path):
    small_unbc(tmp_path)
    (tmp_path / "Images/042-ll042/ll042t1aaaff/ll042t1aaaff003.png").unlink()
    (tmp_path / "Frame_Labels/PSPI/043-jh043/jh043t1afaff/jh043t1afaff002_facs.txt").unlink()
    sequence(tmp_path, "042-ll042", "ll042t2aiunaff", range(1, 3), odd={2: matlab(6, 9, 0, 0) + "\n"})
    got = formats.read("unbc", tmp_path)
    assert got.dropped == {"not_coded": 1, "no_pspi": 1, "missing_image": 1}
    assert got.labels["frame"].tolist() == [1, 2, 4, 1, 1, 3]
    assert len(formats.read("unbc", tmp_path, aus=[4])) == 7  # AU6's 9 concerns only AU6
    lower = tmp_path / "lower"  # a copy with a lower-case image folder, nested in a folder of its own name
    sequence(lower / "lower", "109-ib109", "ib109t1aaaff", [1], image_folder="images")
    assert formats.read("unbc", lower).images[0].endswith("images/109-ib109/ib109t1aaaff/ib109t1aaaff001.png")
    aligned = tmp_path / "aligned_copy"
    sequence(aligned, "109-ib109", "ib109t1aaaff", [1, 2], image_folder="aligned")
    assert len(formats.read("unbc", aligned, images="aligned")) == 2


def test_errors_name_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match="UNBC-McMaster folder not found"):
        formats.read("unbc", tmp_path / "nowhere")
    with pytest.raises(DataFormatError, match=r"Frame_Labels/FACS: UNBC FACS labels not found"):
        formats.read("unbc", tmp_path)
    small_unbc(tmp_path)
    facs = lambda text: sequence(tmp_path, "042-ll042", "ll042t1aaaff", [2], odd={2: text})
    facs(matlab(4, 2, 0, 0) + "\n" + "   x   2.0\n")
    with pytest.raises(DataFormatError, match=r"ll042t1aaaff002_facs.txt:2: expected an AU number, got 'x'") as err:
        formats.read("unbc", tmp_path)
    assert "\n" not in str(err.value)
    facs(matlab(4) + "\n")
    with pytest.raises(DataFormatError, match=r"_facs.txt:1: expected 'AU intensity' .*, got '4.0000000e\+00'"):
        formats.read("unbc", tmp_path)
    facs(matlab(4.5, 2, 0, 0) + "\n")
    with pytest.raises(DataFormatError, match=r"_facs.txt:1: expected a whole AU number, got '4.5000000e\+00'"):
        formats.read("unbc", tmp_path)
    facs(matlab(4, 2, 0) + "   ?\n")
    with pytest.raises(DataFormatError, match=r"_facs.txt:1: expected a number, got '\?'"):
        formats.read("unbc", tmp_path)
    facs("")
    write(tmp_path / "Frame_Labels/PSPI/042-ll042/ll042t1aaaff/ll042t1aaaff002_facs.txt", matlab(1, 2) + "\n")
    with pytest.raises(DataFormatError, match=r"PSPI/042-ll042/ll042t1aaaff/ll042t1aaaff002_facs.txt: expected one "
                                              r"PSPI score, got 2 values"):
        formats.read("unbc", tmp_path)
    write(tmp_path / "Frame_Labels/PSPI/042-ll042/ll042t1aaaff/ll042t1aaaff002_facs.txt", matlab(17) + "\n")
    with pytest.raises(DataFormatError, match=r"ll042t1aaaff002_facs.txt:1: expected a PSPI score 0..16, got 17"):
        formats.read("unbc", tmp_path)
    labels_only = tmp_path / "labels_only"
    sequence(labels_only, "042-ll042", "ll042t1aaaff", [1, 2], images=False)
    with pytest.raises(DataFormatError, match=r"Images: no coded UNBC frame with an image .*'missing_image': 2"):
        formats.read("unbc", labels_only)


@pytest.mark.parametrize("kind", ["intensity", "occurrence"])
def test_au_task_end_to_end(tmp_path, kind):
    for i, subject in enumerate(SUBJECTS):
        sequence(tmp_path, subject, f"{subject[4:]}t1aaaff", range(1, 9), index=i)
    data = formats.read("unbc", tmp_path, labels=kind)
    task = au.build(data, None, EvalOptions())
    assert task.info["subjects"] == 6 and task.info["aus"] == data.meta["au_names"]
    assert task.info["positive"] == ("intensity >= 2.0" if kind == "intensity" else "occurrence >= 0.5")
    threshold = 2 if kind == "intensity" else 0.5
    for fold in task.folds:
        np.testing.assert_array_equal(fold.y_test, data.labels["aus"][fold.test.index] >= threshold)
    chosen = "4,12,43" if kind == "occurrence" else "4,12"
    spec = TaskSpec("", f"unbc:{tmp_path}", options={"labels": kind, "aus": chosen})
    assert spec.task == "au"
    results = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())
    names = ["AU4", "AU12", "AU43"] if kind == "occurrence" else ["AU4", "AU12"]
    result = results["tasks"][0]
    assert result["info"]["aus"] == names
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) >= {f"f1_{n}" for n in names} | {"f1_mean", "auc_mean"}
    assert f"| {' | '.join(names)} | mean |" in tables.render(results)
