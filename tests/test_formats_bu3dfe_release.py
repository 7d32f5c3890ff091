"""BU-3DFE as its owners distribute it (bu3dfe-expr): the 2D images of F0001/F0001_AN01WH_F2D.bmp ... read in
the layouts a user is likely to have unpacked (formats/bu3dfe_release.py). Every fixture is written here from
the documented layout (tiny images), never from the real data. Labels live in the file names only: the
release has no text label file, so there is no CRLF/BOM case to write."""
import re

import numpy as np
import pytest
from PIL import Image

from facessl.cli import main
from facessl.data import formats
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate.suite import FORMAT_TASK

RNG = np.random.default_rng(5)
CODES = ("AN", "DI", "FE", "HA", "SA", "SU")
NAMES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "SA": "sadness", "SU": "surprise",
         "NE": "neutral"}
SUBJECTS = {"F0001": "WH", "F0002": "BL", "F0005": "AE", "M0001": "AM", "M0019": "IN", "M0031": "LA"}
PER_SUBJECT = 6 * 4 + 1  # six expressions x four intensities + neutral


def save(path, fmt="BMP"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)).save(path, format=fmt)
    return path


def sample_names(subject, race):
    yield f"{subject}_NE00{race}"
    for code in CODES:
        for level in (1, 2, 3, 4):
            yield f"{subject}_{code}{level:02d}{race}"


def write_release(folder, subjects=SUBJECTS, suffix=".bmp", nested=True, lower=False):
    """Each sample as released: the 2D image, the texture, the 3D model files beside them."""
    fmt = {".bmp": "BMP", ".png": "PNG", ".jpg": "JPEG"}[suffix.lower()]
    for subject, race in subjects.items():
        where = folder / subject if nested else folder
        for stem in sample_names(subject, race):
            name = (lambda n: n.lower() if lower else n)
            save(where / name(f"{stem}_F2D{suffix}"), fmt)
            save(where / name(f"{stem}_F3D{suffix}"), fmt)
            for other in ("_F3D.wrl", "_F3D.bnd", "_RAW.wrl", "_RAW.pse"):
                (where / name(stem + other)).write_text("#VRML V2.0 utf8\n")
    (folder / "README.txt").write_text("BU-3DFE\n")
    (folder / ".DS_Store").write_bytes(b"\x00ds")
    (folder / "__MACOSX").mkdir(exist_ok=True)
    save(folder / "__MACOSX" / "F0001_AN01WH_F2D.bmp")  # a resource fork in a Mac copy


def rows_by_name(got):
    return {p.rsplit("/", 1)[1]: i for i, p in enumerate(got.images)}


def assert_grouped_and_deterministic(got, again):
    assert set(got.split) == {"train", "test"}
    for subject in set(got.labels["subject"]):
        assert len(set(got.split[got.labels["subject"] == subject])) == 1, subject
    assert list(got.split) == list(again.split) and list(got.images) == list(again.images)


@pytest.mark.parametrize("tree, root", [
    ("", ""), ("BU-3DFE", ""), ("BU_3DFE", ""), ("bu-3dfe", ""), ("BU-3DFE/BU-3DFE", ""), ("BU-3DFE", "BU-3DFE"),
    ("Original_BU3DFE/Subjects", ""), ("BU_3DFE/Subjects", "BU_3DFE"),
])
def test_layouts_default_protocol_labels_and_subject_split(tmp_path, tree, root):
    folder = tmp_path / tree if tree else tmp_path
    write_release(folder)
    got = formats.read("bu3dfe-expr", tmp_path / root)
    assert len(got) == 6 * 6 * 2  # six subjects, six expressions, intensities 3 and 4
    assert got.dropped == {"intensity left out (levels option)": 6 * 6 * 2, "neutral left out (neutral option)": 6}
    assert got.source == str(folder)
    assert all(p.endswith("_F2D.bmp") and "__MACOSX" not in p for p in got.images)
    row = rows_by_name(got)["M0019_HA04IN_F2D.bmp"]
    assert EXPRESSIONS[got.labels["expression"][row]] == "happiness" and got.labels["intensity"][row] == 4
    assert got.labels["subject"][row] == "M0019" and got.labels["race"][row] == "IN"
    assert set(got.labels["intensity"]) == {3, 4}
    assert {EXPRESSIONS[e] for e in got.labels["expression"]} == set(NAMES.values()) - {"neutral"}
    assert got.meta["levels"] == [3, 4] and got.meta["neutral"] is False and got.meta["variant"] == "F2D"
    assert got.meta["race_names"] == {"AE": "East Asian", "AM": "Middle-East Asian", "BL": "Black",
                                      "IN": "Indian", "LA": "Hispanic/Latino", "WH": "White"}
    assert_grouped_and_deterministic(got, formats.read("bu3dfe-expr", tmp_path / root))
    assert set(got.labels["expression"][got.split == "test"]) == set(got.labels["expression"])


@pytest.mark.parametrize("suffix, lower, nested", [(".png", False, True), (".jpg", False, True), (".BMP", False, True),
                                                   (".bmp", True, True), (".bmp", False, False)])
def test_suffixes_case_and_flat_copies(tmp_path, suffix, lower, nested):
    write_release(tmp_path / "BU3DFE", suffix=suffix, lower=lower, nested=nested)
    got = formats.read("bu3dfe-expr", tmp_path, levels="all", neutral=True)
    assert len(got) == 6 * PER_SUBJECT and got.dropped == {}
    name = "f0002_sa01bl_f2d" if lower else "F0002_SA01BL_F2D"
    row = next(i for i, p in enumerate(got.images) if p.rsplit("/", 1)[1].startswith(name))
    assert EXPRESSIONS[got.labels["expression"][row]] == "sadness" and got.labels["intensity"][row] == 1
    assert got.labels["subject"][row] == "F0002" and got.labels["race"][row] == "BL"


def test_levels_and_neutral_options(tmp_path):
    write_release(tmp_path / "BU-3DFE")
    every = formats.read("bu3dfe-expr", tmp_path, levels="all", neutral=True)
    assert len(every) == 6 * PER_SUBJECT and every.dropped == {}
    neutral = every.labels["expression"] == EXPRESSIONS.index("neutral")
    assert neutral.sum() == 6 and set(every.labels["intensity"][neutral]) == {0}
    assert set(every.labels["intensity"][~neutral]) == {1, 2, 3, 4}
    top = formats.read("bu3dfe-expr", tmp_path, levels=4, neutral="true")  # as --reader-option gives them
    assert len(top) == 6 * 7 and set(top.labels["intensity"]) == {0, 4}
    assert top.dropped == {"intensity left out (levels option)": 6 * 6 * 3}
    assert len(formats.read("bu3dfe-expr", tmp_path, levels=[3, 4], neutral=True)) == 6 * 13
    assert len(formats.read("bu3dfe-expr", tmp_path, levels=" 1, 2 ")) == 6 * 12
    assert len(formats.read("bu3dfe-expr", tmp_path, levels="1 2 3")) == 6 * 18
    for bad in ("5", "", "high", [0, 4], None, True):
        with pytest.raises(FacesslError, match=r"bu3dfe-expr levels .*expected some of 1, 2, 3, 4"):
            formats.read("bu3dfe-expr", tmp_path, levels=bad)
    with pytest.raises(FacesslError, match="bu3dfe-expr neutral 'maybe': expected true or false"):
        formats.read("bu3dfe-expr", tmp_path, neutral="maybe")


def test_texture_variant(tmp_path):
    write_release(tmp_path / "BU-3DFE")
    for variant in ("F3D", "texture", "f3d"):
        got = formats.read("bu3dfe-expr", tmp_path, variant=variant)
        assert len(got) == 6 * 12 and all(p.endswith("_F3D.bmp") for p in got.images)
        assert got.meta["variant"] == "F3D"
    frontal = formats.read("bu3dfe-expr", tmp_path, variant="frontal")
    assert all(p.endswith("_F2D.bmp") for p in frontal.images)
    with pytest.raises(FacesslError, match="bu3dfe-expr variant 'RAW': expected F2D .* or F3D"):
        formats.read("bu3dfe-expr", tmp_path, variant="RAW")


def test_quirks_misnamed_duplicates_and_unknown_races_are_counted(tmp_path):
    folder = tmp_path / "BU-3DFE"
    write_release(folder)
    save(folder / "F0001" / "F0001_HA04WH_F2D.png", "PNG")  # a conversion beside the original
    save(folder / "F0001" / "F0001_XX04WH_F2D.bmp")  # unknown expression code
    save(folder / "F0001" / "F0001_NE01WH_F2D.bmp")  # neutral has intensity 00
    save(folder / "F0001" / "F0001_HA00WH_F2D.bmp")  # the others 01-04
    save(folder / "F0001" / "F0001_HA05WH_F2D.bmp")
    save(folder / "F0001" / "F0001_HA04WH_F2D (copy).bmp")
    save(folder / "F0001" / "F0001_AN04WH_F3D_depth.png", "PNG")  # a user's rendering beside the release
    save(folder / "F0099" / "F0099_SU03XY_F2D.bmp")  # a race code the release does not use: read as given
    got = formats.read("bu3dfe-expr", tmp_path)
    assert len(got) == 6 * 12 + 1
    assert got.dropped == {"file name not in the BU-3DFE form": 6, "second file of one sample": 1,
                           "intensity left out (levels option)": 6 * 12, "neutral left out (neutral option)": 6}
    assert got.meta["unrecognised_files"] == ["F0001_AN04WH_F3D_depth.png", "F0001_HA00WH_F2D.bmp",
                                              "F0001_HA04WH_F2D (copy).bmp", "F0001_HA05WH_F2D.bmp",
                                              "F0001_NE01WH_F2D.bmp", "F0001_XX04WH_F2D.bmp"]
    names = rows_by_name(got)
    assert "F0001_HA04WH_F2D.bmp" in names and "F0001_HA04WH_F2D.png" not in names  # the first in name order
    row = names["F0099_SU03XY_F2D.bmp"]
    assert got.labels["race"][row] == "XY" and got.meta["race_names"]["XY"] == "XY"


def test_errors_name_the_path(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: BU-3DFE not found: expected "
                                                        "F0001/F0001_AN01WH_F2D.bmp here")):
        formats.read("bu3dfe-expr", tmp_path / "absent")
    (tmp_path / "empty" / "BU-3DFE").mkdir(parents=True)
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'empty'}: BU-3DFE not found")):
        formats.read("bu3dfe-expr", tmp_path / "empty")
    (tmp_path / "packed").mkdir()
    for name in ("F0001.rar", "M0044.rar", "readme.txt"):
        (tmp_path / "packed" / name).write_bytes(b"Rar!")
    with pytest.raises(DataFormatError, match=r"packed: BU-3DFE is still packed: unpack the per-subject archives"):
        formats.read("bu3dfe-expr", tmp_path / "packed")
    save(tmp_path / "odd" / "F0001" / "F0001_AN04.bmp")
    with pytest.raises(DataFormatError, match=r"odd: no BU-3DFE images found: 1 image file\(s\) not named like "
                                              r"F0001_AN01WH_F2D\.bmp \(e\.g\. F0001_AN04\.bmp\)"):
        formats.read("bu3dfe-expr", tmp_path / "odd")
    save(tmp_path / "textures" / "F0001" / "F0001_AN04WH_F3D.bmp")
    with pytest.raises(DataFormatError, match=r"textures: no BU-3DFE F2D images found, but 1 F3D image\(s\): "
                                              r"pass --variant F3D"):
        formats.read("bu3dfe-expr", tmp_path / "textures")
    save(tmp_path / "low" / "F0001" / "F0001_AN01WH_F2D.bmp")
    with pytest.raises(DataFormatError, match=r"low: no BU-3DFE F2D images found with the intensities 3, 4$"):
        formats.read("bu3dfe-expr", tmp_path / "low")
    with pytest.raises(DataFormatError, match=r"with the intensities 4 and neutral"):
        formats.read("bu3dfe-expr", tmp_path / "low", levels="4", neutral=True)


def test_inspect_through_the_registry_and_cli(tmp_path, capsys):
    write_release(tmp_path / "BU-3DFE", subjects=dict(list(SUBJECTS.items())[:5]))
    assert "bu3dfe-expr" in formats.FORMAT_NAMES and FORMAT_TASK["bu3dfe-expr"] == "expression"
    sheet = tmp_path / "sheet.png"
    assert main(["inspect", "--dataset", f"bu3dfe-expr:{tmp_path}", "--reader-option", "neutral=true",
                 "--variant", "F3D", "--per-class", "2", "--size", "16", "--out", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "format bu3dfe-expr, task expression" in out and "images: 65 (" in out, out
    assert "grouped by subject" in out and "labels 'subject': shape (65,)" in out and "neutral: test 1, train 4" in out
    assert "skipped: intensity left out (levels option) 60" in out
    assert sheet.is_file()
    assert main(["inspect", "--dataset", f"bu3dfe-expr:{tmp_path}", "--reader-option", "levels=7"]) == 2
    assert "bu3dfe-expr levels 7: expected some of 1, 2, 3, 4" in capsys.readouterr().err
