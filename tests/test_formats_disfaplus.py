"""DISFA+ read in its distributed layout (Labels/SN001/<trial>/AU1.txt with two header lines and `000.jpg     0`
rows, Images/SN001/<trial>/000.jpg), and the AU task run on it with the set's 12 AU names.

Every fixture is written here from the documented layout (tiny JPEGs), never from the real data.
"""
import numpy as np
import pytest

from eval_toys import ToyEncoder
from image_toys import write
from facessl.data import formats
from facessl.data.formats.disfaplus import DISFAPLUS_AUS
from facessl.data.formats.imagefiles import save_image
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import au, runner, tables
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

RNG = np.random.default_rng(3)
FAST = EvalOptions(seeds=1, epochs=4, weight_decays=(0.0,), supervised_epochs=1, device="cpu", quiet=True)
HEADER = "AU{au}\nFrame     Intensity\n"  # two header lines (their wording is not relied on)


def level(subject_index, frame, au):
    return (frame + au + 2 * subject_index) % 6  # 0..5, both sides of the >= 2 rule for every AU


def label_files(root, subject, trial, frames, index=0, odd=None, skip=(), nest=False, header=HEADER, **kw):
    """The 12 AU files of one trial as DISFA+ writes them; odd = {(frame, au): cell}; skip = {(frame, au)}."""
    folder = root / "Labels" / subject / (subject if nest else "") / trial
    odd = odd or {}
    for au in DISFAPLUS_AUS:
        rows = [f"{f:03d}.jpg     {odd.get((f, au), level(index, f, au))}" for f in frames if (f, au) not in skip]
        write(folder / f"AU{au}.txt", header.format(au=au) + "\n".join(rows) + "\n", **kw)


def frame_images(root, subject, trial, frames, folder="Images", suffix=".jpg"):
    for f in frames:
        path = root / folder / subject / trial / f"{f:03d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(path, RNG.integers(0, 256, size=(16, 16, 3), dtype=np.uint8))
    (root / folder / subject / trial / "TimeStamp.txt").write_text("0.000\n")  # shipped beside the frames


def small_disfaplus(root):
    """SN001: two trials; SN003: CRLF + BOM label files, frame 2 lacking AU9; SN004: per-subject nesting."""
    label_files(root, "SN001", "A1_AU1_TrailNo_1", range(0, 4))
    label_files(root, "SN001", "Y_HappyDescribed_TrailNo_1", range(0, 3))
    label_files(root, "SN003", "A1_AU1_TrailNo_2", range(0, 4), index=1, skip={(2, 9)}, crlf=True, bom=True)
    label_files(root, "SN004", "A9_AU4_5x_TrailNo_1", range(0, 2), index=2, nest=True)
    frame_images(root, "SN001", "A1_AU1_TrailNo_1", range(0, 4))
    frame_images(root, "SN001", "Y_HappyDescribed_TrailNo_1", range(0, 3))
    frame_images(root, "SN003", "A1_AU1_TrailNo_2", range(0, 4))
    frame_images(root, "SN004", "A9_AU4_5x_TrailNo_1", range(0, 2))


def test_labels_trials_and_unlabelled_frames(tmp_path):
    small_disfaplus(tmp_path)
    got = formats.read("disfaplus", tmp_path)
    assert got.labels["aus"].shape == (12, 12) and got.labels["aus"].dtype == np.float32
    assert got.meta == {"au_names": [f"AU{a}" for a in DISFAPLUS_AUS], "au_labels": "intensity"}
    assert got.dropped == {"unlabelled": 1, "missing_image": 0}  # SN003 frame 2: no AU9 row
    assert got.labels["subject"].tolist() == ["SN001"] * 7 + ["SN003"] * 3 + ["SN004"] * 2
    assert got.labels["trial"].tolist()[:7] == ["A1_AU1_TrailNo_1"] * 4 + ["Y_HappyDescribed_TrailNo_1"] * 3
    assert got.labels["frame"].tolist() == [0, 1, 2, 3, 0, 1, 2, 0, 1, 3, 0, 1]
    assert got.images[0].endswith("Images/SN001/A1_AU1_TrailNo_1/000.jpg")
    np.testing.assert_array_equal(got.labels["aus"][7:10], [[level(1, f, a) for a in DISFAPLUS_AUS] for f in (0, 1, 3)])
    np.testing.assert_array_equal(got.labels["aus"][-1], [level(2, 1, a) for a in DISFAPLUS_AUS])


def test_every_aus_and_image_folder_options(tmp_path):
    small_disfaplus(tmp_path)
    thinned = formats.read("disfaplus", tmp_path, every=2)
    assert thinned.labels["frame"].tolist() == [0, 2, 0, 2, 0, 3, 0]  # every 2nd labelled frame per trial
    chosen = formats.read("disfaplus", tmp_path, aus="AU12, 25")
    assert chosen.meta["au_names"] == ["AU12", "AU25"] and chosen.labels["aus"].shape == (13, 2)
    assert chosen.dropped["unlabelled"] == 0  # the missing row was AU9's
    np.testing.assert_array_equal(chosen.labels["aus"][0], [level(0, 0, 12), level(0, 0, 25)])
    aligned = tmp_path / "aligned_copy"  # py-feat's Aligned/ crops, stored as .png for the label's 000.jpg
    label_files(aligned, "SN009", "A1_AU1_TrailNo_1", range(0, 2))
    frame_images(aligned, "SN009", "A1_AU1_TrailNo_1", range(0, 2), folder="Aligned", suffix=".png")
    got = formats.read("disfaplus", aligned, images="Aligned")
    assert got.images[1].endswith("Aligned/SN009/A1_AU1_TrailNo_1/001.png")
    with pytest.raises(FacesslError, match="every must be a whole number >= 1"):
        formats.read("disfaplus", tmp_path, every="0")
    with pytest.raises(FacesslError, match="disfaplus: aus must be"):
        formats.read("disfaplus", tmp_path, aus="1,x")
    with pytest.raises(DataFormatError, match=r"no trial has a label file for AU 7 \(the files are for AU 1, 2"):
        formats.read("disfaplus", tmp_path, aus=[1, 7])


def test_missing_images_and_out_of_range_values_are_counted(tmp_path):
    small_disfaplus(tmp_path)
    (tmp_path / "Images/SN001/A1_AU1_TrailNo_1/002.jpg").unlink()
    label_files(tmp_path, "SN004", "A9_AU4_5x_TrailNo_1", range(0, 2), index=2, nest=True, odd={(1, 26): 9})
    got = formats.read("disfaplus", tmp_path)
    assert got.dropped == {"unlabelled": 2, "missing_image": 1}  # + SN004 frame 1 (AU26 = 9: not coded)
    assert len(got) == 10 and "SN001/A1_AU1_TrailNo_1/002.jpg" not in " ".join(got.images)
    nested = tmp_path / "outer"  # an archive unpacked into a folder of its own name
    label_files(nested / "outer", "SN010", "A1_AU1_TrailNo_1", [0])
    frame_images(nested / "outer", "SN010", "A1_AU1_TrailNo_1", [0])
    assert formats.read("disfaplus", nested).labels["subject"].tolist() == ["SN010"]


def test_errors_name_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match="DISFA\\+ folder not found"):
        formats.read("disfaplus", tmp_path / "nowhere")
    with pytest.raises(DataFormatError, match=r"Labels: DISFA\+ label folder not found"):
        formats.read("disfaplus", tmp_path)
    small_disfaplus(tmp_path)
    trial = tmp_path / "Labels/SN001/A1_AU1_TrailNo_1"
    label_files(tmp_path, "SN001", "A1_AU1_TrailNo_1", range(0, 4), odd={(2, 4): "x"})
    with pytest.raises(DataFormatError, match=r"AU4.txt:5: expected an intensity 0..5, got 'x'") as err:
        formats.read("disfaplus", tmp_path)
    assert "\n" not in str(err.value)
    write(trial / "AU4.txt", HEADER.format(au=4) + "000.jpg     0\n001.jpg\n")
    with pytest.raises(DataFormatError, match=r"AU4.txt:4: expected '000.jpg intensity' .* got '001.jpg'"):
        formats.read("disfaplus", tmp_path)
    write(trial / "AU4.txt", HEADER.format(au=4) + "000.jpg     0\nend of file\n")
    with pytest.raises(DataFormatError, match=r"AU4.txt:4: expected '000.jpg intensity' .* got 'end of file'"):
        formats.read("disfaplus", tmp_path)
    write(trial / "AU4.txt", HEADER.format(au=4) + "000.jpg     0\n000.jpg     1\n")
    with pytest.raises(DataFormatError, match=r"AU4.txt:4: frame 000.jpg is listed twice \(first on line 3\)"):
        formats.read("disfaplus", tmp_path)
    write(trial / "AU4.txt", HEADER.format(au=4))
    with pytest.raises(DataFormatError, match=r"AU4.txt: no frame rows"):
        formats.read("disfaplus", tmp_path)
    (trial / "AU4.txt").write_bytes(b"\xe9A\x00")  # Latin-1 (a UTF-16 byte-order mark would be read as UTF-16)
    with pytest.raises(DataFormatError, match=r"AU4.txt:\d+: DISFA\+ AU label file is not UTF-8"):
        formats.read("disfaplus", tmp_path)
    empty = tmp_path / "labels_only"
    label_files(empty, "SN001", "A1_AU1_TrailNo_1", range(0, 2))
    with pytest.raises(DataFormatError, match=r"Images: no labelled DISFA\+ frame with an image .*missing_image': 2"):
        formats.read("disfaplus", empty)


def test_au_task_end_to_end(tmp_path):
    subjects = ("SN001", "SN003", "SN004", "SN007", "SN009", "SN010")
    for i, subject in enumerate(subjects):
        label_files(tmp_path, subject, "A1_AU1_TrailNo_1", range(0, 8), index=i)
        frame_images(tmp_path, subject, "A1_AU1_TrailNo_1", range(0, 8))
    data = formats.read("disfaplus", tmp_path)
    task = au.build(data, None, EvalOptions())
    assert task.info["aus"] == [f"AU{a}" for a in DISFAPLUS_AUS] and task.info["positive"] == "intensity >= 2.0"
    assert task.info["subjects"] == 6
    for fold in task.folds:
        np.testing.assert_array_equal(fold.y_test, data.labels["aus"][fold.test.index] >= 2)
    spec = TaskSpec("", f"disfaplus:{tmp_path}", options={"aus": "1,12,26"})
    assert spec.task == "au"
    results = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())
    result = results["tasks"][0]
    assert result["info"]["aus"] == ["AU1", "AU12", "AU26"]
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) >= {"f1_AU1", "f1_AU12", "f1_AU26", "f1_mean", "auc_AU26"}
    md = tables.render(results)
    assert "| AU1 | AU12 | AU26 | mean |" in md
