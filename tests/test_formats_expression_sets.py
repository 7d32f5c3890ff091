"""KDEF, JAFFE and Oulu-CASIA read in the layouts they are distributed and commonly unpacked in
(docs/data_formats.md, the module docstrings). Every fixture is written here from the documented layout
(tiny images), never from the real data."""
import re

import numpy as np
import pytest
from PIL import Image

from facessl.cli import main
from facessl.data import formats
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError

RNG = np.random.default_rng(3)
KDEF_CODES = ("AF", "AN", "DI", "HA", "NE", "SA", "SU")
KDEF_ANGLES = ("FL", "HL", "S", "HR", "FR")
JAFFE_PEOPLE = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")
JAFFE_CODES = ("AN", "DI", "FE", "HA", "NE", "SA", "SU")
OULU_FOLDERS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")


def save(path, fmt=None, grey=False):
    """A tiny random image; the format from the suffix unless given (JAFFE's .tiff, KDEF's .JPG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = RNG.integers(0, 256, size=(8, 8) if grey else (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def write_clutter(folder):
    """What real copies carry beside the images: OS files, a README, a macOS resource fork."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Thumbs.db").write_bytes(b"\x00thumbs")
    (folder / ".DS_Store").write_bytes(b"\x00ds")
    (folder / "README.txt").write_text("about this set\n")
    (folder / "._hidden.jpg").write_bytes(b"not an image")
    (folder / "__MACOSX").mkdir(exist_ok=True)
    (folder / "__MACOSX" / "KA.AN1.39.tiff").write_bytes(b"resource fork")


def assert_grouped_and_deterministic(got, again):
    assert set(got.split) == {"train", "test"}
    for group in set(got.labels["group"]):
        assert len(set(got.split[got.labels["group"] == group])) == 1, group
    assert list(got.split) == list(again.split) and list(got.images) == list(again.images)


# --- KDEF --------------------------------------------------------------------------------------------------
def write_kdef(folder, people=("F02", "F03", "F04", "M01", "M02", "M03"), suffix=".JPG", nested=True):
    """Every expression and angle of both sessions; the default people have no image in kdef.KNOWN_BLANK."""
    for person in people:
        for session in "AB":
            for code in KDEF_CODES:
                for angle in KDEF_ANGLES:
                    name = f"{session}{person}{code}{angle}{suffix}"
                    save((folder / f"{session}{person}" / name) if nested else folder / name, fmt="JPEG")


@pytest.mark.parametrize("layout", ["KDEF", "KDEF_and_AKDEF/KDEF", "root is KDEF", "flat"])
def test_kdef_layouts_labels_pose_and_person_split(tmp_path, layout):
    folder = tmp_path / ("KDEF" if layout in ("root is KDEF", "flat") else layout)
    write_kdef(folder, nested=layout != "flat")
    write_clutter(folder)
    if layout.startswith("KDEF_and_AKDEF"):  # the averaged faces beside KDEF/ are not read
        save(tmp_path / "KDEF_and_AKDEF" / "AKDEF" / "FAFFL.JPG", fmt="JPEG")
    root = folder if layout in ("root is KDEF", "flat") else tmp_path / layout.split("/")[0]
    got = formats.read("kdef", root)
    assert len(got) == 6 * 2 * 7 * 5 and got.dropped == {}
    assert all("/AKDEF/" not in p for p in got.images)
    first = {p.rsplit("/", 1)[1]: i for i, p in enumerate(got.images)}
    row = first["AF02ANFL.JPG"]
    assert EXPRESSIONS[got.labels["expression"][row]] == "anger" and got.labels["group"][row] == "F02"
    assert got.labels["group"][first["BF02ANFL.JPG"]] == "F02"  # both sessions are the same person
    yaw = {angle: got.labels["pose"][first[f"AM02SU{angle}.JPG"]] for angle in KDEF_ANGLES}
    assert [yaw[a][0] for a in KDEF_ANGLES] == [90, 45, 0, -45, -90]  # full left: face towards the image's left
    assert all(not v[1:].any() for v in yaw.values())
    assert got.labels["pose_class"][first["AM02SUFL.JPG"]] == 4 and got.labels["pose_class"][first["AM02SUFR.JPG"]] == 0
    assert_grouped_and_deterministic(got, formats.read("kdef", root))


def test_kdef_quirks_case_blank_and_misnamed_files_are_counted(tmp_path):
    write_kdef(tmp_path / "KDEF", people=("F01", "F02", "M01", "M02", "M03"))
    write_kdef(tmp_path / "KDEF", people=("F09",), suffix=".jpg")  # lower-case extension
    save(tmp_path / "KDEF" / "AM04" / "am04hahr.jpeg", fmt="JPEG")  # lower-case name
    (tmp_path / "KDEF" / "AF02" / "AF02NES.JPG").unlink()  # a missing file is no error
    save(tmp_path / "KDEF" / "AF01" / "AF01XXS.JPG", fmt="JPEG")  # unknown expression code
    save(tmp_path / "KDEF" / "AM01" / "AM01ANS (2).JPG", fmt="JPEG")  # a copy's duplicate
    got = formats.read("kdef", tmp_path)
    assert len(got) == 6 * 2 * 7 * 5 + 1 - 1 - 1  # + am04hahr, - AF02NES, - AF01SUFR (known blank)
    assert got.dropped == {"file name not in the KDEF form": 2, "known blank image": 1}
    assert got.meta["unrecognised_files"] == ["AF01XXS.JPG", "AM01ANS (2).JPG"]
    row = next(i for i, p in enumerate(got.images) if p.endswith("am04hahr.jpeg"))
    assert got.labels["group"][row] == "M04" and got.labels["pose"][row][0] == -45
    assert not any(p.endswith("AF01SUFR.JPG") for p in got.images)


def test_kdef_angles_option(tmp_path):
    write_kdef(tmp_path / "KDEF")
    frontal = formats.read("kdef", tmp_path, angles="S")
    assert len(frontal) == 6 * 2 * 7 and not frontal.labels["pose"].any() and set(frontal.labels["pose_class"]) == {2}
    assert frontal.dropped == {"angle left out (angles option)": 6 * 2 * 7 * 4}
    half = formats.read("kdef", tmp_path, angles=["hl", "HR"])
    assert sorted(set(half.labels["pose"][:, 0])) == [-45, 45]
    assert len(formats.read("kdef", tmp_path, angles="HL, S ,HR")) == 6 * 2 * 7 * 3
    with pytest.raises(FacesslError, match="kdef angles 'XL'.*FL, HL, S, HR, FR"):
        formats.read("kdef", tmp_path, angles="XL")


def test_kdef_errors_name_the_path(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: KDEF not found: expected KDEF/AF01/AF01ANS.JPG")):
        formats.read("kdef", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'empty'}: KDEF not found")):
        formats.read("kdef", tmp_path / "empty")
    save(tmp_path / "odd" / "AF01" / "AF01XXS.JPG", fmt="JPEG")
    with pytest.raises(DataFormatError, match=r"odd: no KDEF images found: 1 image file\(s\) not named like AF01ANS\.JPG \(e\.g\. AF01XXS\.JPG\)"):
        formats.read("kdef", tmp_path / "odd")
    save(tmp_path / "few" / "AF01" / "AF01ANS.JPG", fmt="JPEG")
    with pytest.raises(DataFormatError, match="few: no KDEF images found with the angles FL"):
        formats.read("kdef", tmp_path / "few", angles="FL")


# --- JAFFE -------------------------------------------------------------------------------------------------
def write_jaffe(folder, suffix=".tiff", lower=False):
    number = 0
    for person in JAFFE_PEOPLE:
        for code in JAFFE_CODES:
            for repeat in (1, 2, 3):
                number += 1
                name = f"{person}.{code}{repeat}.{number}{suffix}"
                save(folder / (name.lower() if lower else name), fmt="TIFF", grey=True)
    (folder / "README_FIRST.txt").write_text("ratings ...\n")


@pytest.mark.parametrize("layout, suffix", [("jaffe", ".tiff"), ("jaffedbase", ".tif"),
                                            ("jaffedbase/jaffedbase", ".TIFF"), ("", ".tiff"), ("lower", ".tiff")])
def test_jaffe_layouts_labels_and_expresser_split(tmp_path, layout, suffix):
    folder = tmp_path / layout if layout not in ("", "lower") else tmp_path
    write_jaffe(folder, suffix, lower=layout == "lower")
    write_clutter(folder)
    got = formats.read("jaffe", tmp_path)
    assert len(got) == 10 * 7 * 3
    row = next(i for i, p in enumerate(got.images) if p.lower().endswith(f"ka.an1.1{suffix.lower()}"))
    assert EXPRESSIONS[got.labels["expression"][row]] == "anger" and got.labels["group"][row] == "KA"
    assert set(got.labels["group"]) == set(JAFFE_PEOPLE)
    assert sum(got.split == "test") == 2 * 21  # two of the ten women, every expression on both sides
    assert set(got.labels["expression"][got.split == "test"]) == set(range(7))
    assert_grouped_and_deterministic(got, formats.read("jaffe", tmp_path))


def test_jaffe_errors_name_the_file(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: JAFFE not found")):
        formats.read("jaffe", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README_FIRST.txt").write_text("no images\n")
    with pytest.raises(DataFormatError, match="empty: no JAFFE images found"):
        formats.read("jaffe", tmp_path / "empty")
    write_jaffe(tmp_path / "jaffe")
    bad = save(tmp_path / "jaffe" / "KA.XX1.214.tiff", fmt="TIFF", grey=True)
    with pytest.raises(DataFormatError, match=rf"KA\.XX1\.214\.tiff: unknown expression code 'XX'"):
        formats.read("jaffe", tmp_path)
    bad.unlink()
    save(tmp_path / "jaffe" / "KA.AN1.39_flip.tiff", fmt="TIFF", grey=True)
    with pytest.raises(DataFormatError, match=r"KA\.AN1\.39_flip\.tiff: expected a JAFFE name"):
        formats.read("jaffe", tmp_path)


# --- Oulu-CASIA --------------------------------------------------------------------------------------------
def write_oulu(folder, subjects=6, frames=5, expressions=OULU_FOLDERS, names="{:03d}.jpeg"):
    """folder = one illumination (…/VL/Strong): P001/Anger/000.jpeg ..."""
    for s in range(1, subjects + 1):
        for expression in expressions:
            for f in range(frames):
                save(folder / f"P{s:03d}" / expression / names.format(f), fmt="JPEG")


@pytest.mark.parametrize("tree, root", [
    ("OriginalImg/VL/Strong", ""), ("OriginalImg/VL/Strong", "OriginalImg"),
    ("Oulu_CASIA_NIR_VIS/OriginalImg/VL/Strong", ""),
    ("Oulu_CASIA_NIR_VIS/OriginalImg/VL/Strong", "Oulu_CASIA_NIR_VIS"),
    ("PreProcessImg/VL_Acropped/Strong", ""), ("PreProcess_Img/VL_Acropped/Strong", ""),
    ("Oulu-CASIA/PreProcess/VL_Acropped/Strong", ""), ("Oulu-CASIA/VL_Acropped/Strong", "Oulu-CASIA"),
    ("VL_Acropped/Strong", "VL_Acropped"), ("VL_Acropped/Strong", "VL_Acropped/Strong"), ("originalimg/vl/strong", ""),
])
def test_oulucasia_layouts_peak_frames_and_subject_split(tmp_path, tree, root):
    write_oulu(tmp_path / tree)
    write_clutter(tmp_path / tree)
    write_clutter(tmp_path / tree / "P001" / "Anger")
    got = formats.read("oulucasia", tmp_path / root)
    assert len(got) == 6 * 6 * 3 and got.dropped == {}
    assert [p.rsplit("/", 3)[1:] for p in got.images[:3]] == [["P001", "Anger", f"00{f}.jpeg"] for f in (2, 3, 4)]
    assert EXPRESSIONS[got.labels["expression"][0]] == "anger" and got.labels["group"][0] == "P001"
    assert {EXPRESSIONS[e] for e in got.labels["expression"]} == {"anger", "disgust", "fear", "happiness", "sadness",
                                                                  "surprise"}
    assert_grouped_and_deterministic(got, formats.read("oulucasia", tmp_path / root))


def test_oulucasia_options_variants_and_renamed_folders(tmp_path):
    write_oulu(tmp_path / "OriginalImg" / "VL" / "Strong", subjects=5)
    write_oulu(tmp_path / "PreProcessImg" / "VL_Acropped" / "Strong", subjects=5)
    write_oulu(tmp_path / "OriginalImg" / "NI" / "Dark", subjects=5, frames=12, names="{}.jpeg",
               expressions=("Angry", "disgust", "Afraid", "Happy", "Sad", "Surprised"))
    assert all("VL_Acropped" in p for p in formats.read("oulucasia", tmp_path).images)  # the crops when both exist
    assert all("/OriginalImg/VL/" in p for p in formats.read("oulucasia", tmp_path, variant="original").images)
    dark = formats.read("oulucasia", tmp_path, light="ni", illumination="dark", peak_frames=2)
    assert [p.rsplit("/", 1)[1] for p in dark.images[:2]] == ["10.jpeg", "11.jpeg"]  # frame numbers, not text order
    by_folder = {p.rsplit("/", 2)[1]: EXPRESSIONS[e] for p, e in zip(dark.images, dark.labels["expression"])}
    assert by_folder == {"Angry": "anger", "disgust": "disgust", "Afraid": "fear", "Happy": "happiness",
                         "Sad": "sadness", "Surprised": "surprise"}
    for frame in (tmp_path / "PreProcessImg" / "VL_Acropped" / "Strong" / "P002" / "Fear").iterdir():
        frame.unlink()  # an empty sequence folder is counted, not an error
    assert formats.read("oulucasia", tmp_path).dropped == {"sequence without frames": 1}
    with pytest.raises(FacesslError, match="oulucasia light 'IR': expected one of VL, NI"):
        formats.read("oulucasia", tmp_path, light="IR")
    with pytest.raises(FacesslError, match="oulucasia variant 'aligned'"):
        formats.read("oulucasia", tmp_path, variant="aligned")
    with pytest.raises(FacesslError, match="peak_frames must be >= 1"):
        formats.read("oulucasia", tmp_path, peak_frames=0)


def test_oulucasia_errors_name_the_path(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: Oulu-CASIA not found")):
        formats.read("oulucasia", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=r"empty: Oulu-CASIA VL frames not found: expected OriginalImg/VL/Strong/"
                                              r"P001/Anger/000\.jpeg or PreProcessImg/VL_Acropped/Strong/"):
        formats.read("oulucasia", tmp_path / "empty")
    write_oulu(tmp_path / "set" / "OriginalImg" / "VL" / "Weak", subjects=2)
    with pytest.raises(DataFormatError, match=r"OriginalImg/VL: no Strong/ folder here"):
        formats.read("oulucasia", tmp_path / "set")
    write_oulu(tmp_path / "set" / "OriginalImg" / "VL" / "Strong", subjects=2)
    save(tmp_path / "set" / "OriginalImg" / "VL" / "Strong" / "P002" / "Neutral" / "000.jpeg", fmt="JPEG")
    with pytest.raises(DataFormatError, match=r"Strong/P002/Neutral: unknown expression folder"):
        formats.read("oulucasia", tmp_path / "set")
    (tmp_path / "frames" / "VL" / "Strong" / "P001" / "Anger").mkdir(parents=True)
    with pytest.raises(DataFormatError, match=r"frames/VL/Strong: no Oulu-CASIA frames found"):
        formats.read("oulucasia", tmp_path / "frames")


# --- through the registry and the CLI ----------------------------------------------------------------------
def test_inspect_reads_each_new_format(tmp_path, capsys):
    write_kdef(tmp_path / "kdef" / "KDEF", people=("F02", "F03", "M01", "M02", "M03"))
    write_jaffe(tmp_path / "jaffe")
    write_oulu(tmp_path / "oulu" / "OriginalImg" / "VL" / "Strong", subjects=5)
    for name, groups, rows in (("kdef", 5, 350), ("jaffe", 10, 210), ("oulucasia", 5, 90)):
        assert name in formats.FORMAT_NAMES
        sheet = tmp_path / f"{name}.png"
        assert main(["inspect", "--dataset", f"{name}:{tmp_path / name.replace('casia', '')}", "--per-class", "2",
                     "--size", "16", "--out", str(sheet)]) == 0
        out = capsys.readouterr().out
        assert f"format {name}, task expression" in out and f"images: {rows} (" in out, out
        assert f"groups (kept on one side of the split): {groups}" in out and "skipped: nothing" in out
        assert sheet.is_file()  # every face shown decodes (JAFFE's grey TIFFs included)
    assert main(["inspect", "--dataset", f"oulucasia:{tmp_path / 'oulu'}", "--variant", "cropped"]) == 2
    assert "Oulu-CASIA cropped VL frames not found: expected PreProcessImg/VL_Acropped/" in capsys.readouterr().err
