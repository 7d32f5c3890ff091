"""`facessl inspect`: a dataset as its reader returns it (splits, classes, skips) and a contact sheet of the
faces as the probes see them."""
import numpy as np
from PIL import Image

from facessl.cli import main
from facessl.commands.inspect import draw_points
from facessl.data.formats.imagefiles import save_image


def test_inspect_prints_classes_per_split_and_skips_and_writes_a_sheet(tmp_path, capsys):
    for i in range(12):
        label = ("happy", "sad")[i % 2]
        (tmp_path / "faces" / label).mkdir(parents=True, exist_ok=True)
        save_image(tmp_path / "faces" / label / f"S{i % 4}_{i}.png", np.full((20, 16, 3), 40 + 15 * i, np.uint8))
    (tmp_path / "faces" / "sad" / "S9_broken.png").write_bytes(b"\x89PNG broken")
    sheet = tmp_path / "sheet.png"
    assert main(["inspect", "--dataset", f"imagefolder:{tmp_path / 'faces'}", "--group", r"^(S\d)_", "--skip-missing",
                 "--per-class", "3", "--size", "24", "--out", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "format imagefolder, task classification" in out and "images: 12 (" in out
    assert "  happy: test " in out and "groups (kept on one side of the split): 4" in out
    assert "skipped: undecodable image 1" in out
    with Image.open(sheet) as im:
        assert im.size[0] > 3 * 24 and im.mode == "RGB"  # 3 faces a row, upscaled for visibility


def test_inspect_of_pairs_and_a_bad_out_name(tmp_path, capsys):
    from facessl.data.formats.lfw import LfwWriter

    w = LfwWriter(tmp_path / "lfw")
    for name in ("Ann_Lee", "Bo_Chen"):
        for _ in range(2):
            w.add(name, np.full((12, 12, 3), 90, np.uint8))
    w.write_pairs([([("Ann_Lee", 1, 2)], [("Ann_Lee", 1, "Bo_Chen", 2)])])
    assert main(["inspect", "--dataset", f"lfw:{tmp_path / 'lfw'}"]) == 0
    assert "pairs: 2 (1 same, 1 different) in 1 fold(s), over 3 images" in capsys.readouterr().out
    assert main(["inspect", "--dataset", f"lfw:{tmp_path / 'lfw'}", "--out", str(tmp_path / "x.jpg")]) == 2
    assert "--out must end in .png" in capsys.readouterr().err


def test_a_verification_sheet_shows_each_pair_side_by_side():
    from types import SimpleNamespace

    from facessl.commands.inspect import sheet_rows

    pairs = SimpleNamespace(pairs=np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]),
                            same=np.array([True, False, True, False, False]), images=None)
    rows, captions = sheet_rows(pairs, per_class=6, seed=0)
    assert rows.tolist() == [0, 1, 4, 5, 2, 3, 6, 7, 8, 9]  # the same pairs first, each pair's two faces adjacent
    assert captions == ["same 1"] * 2 + ["same 2"] * 2 + ["diff 1"] * 2 + ["diff 2"] * 2 + ["diff 3"] * 2


def test_draw_points_marks_the_pixels_of_each_point():
    tiles = np.zeros((1, 10, 10, 3), np.uint8)
    drawn = draw_points(tiles, np.array([[[3.5, 6.2], [20.0, 1.0]]]))  # the second is off the tile
    assert tuple(drawn[0, 6, 3]) == (255, 0, 0) and drawn[0, :, 8:].max() == 0 and tiles.max() == 0


def test_inspect_names_how_often_each_au_or_attribute_is_present():
    import numpy as np

    from facessl.commands.inspect import multi_label_rates
    from facessl.data.formats.common import ImageSet

    attributes = ImageSet(["a.jpg"] * 4, {"attributes": np.array([[1, 0], [1, 0], [0, 0], [1, 1]])},
                          meta={"attribute_names": ["Smiling", "Male"]})
    assert multi_label_rates(attributes) == ["attributes present %: Smiling 75.0, Male 25.0"]
    disfa = ImageSet(["a.jpg"] * 2, {"aus": np.array([[3.0] + [0.0] * 7, [1.0] * 8])})  # intensities: present at >= 2
    assert multi_label_rates(disfa) == ["aus present % (intensity >= 2): AU1 50.0, AU2 0.0, AU4 0.0, AU6 0.0, "
                                        "AU9 0.0, AU12 0.0, AU25 0.0, AU26 0.0"]
    bp4d = ImageSet(["a.jpg"] * 2, {"aus": np.array([[1.0, 0.0], [1.0, 1.0]])},
                    meta={"au_names": ["AU1", "AU7"], "au_labels": "occurrence"})
    assert multi_label_rates(bp4d) == ["aus present %: AU1 100.0, AU7 50.0"]


def test_output_into_a_closed_pipe_is_no_error(tmp_path):
    """`facessl inspect ... | head -1`: the reader goes away; no traceback, exit status 0."""
    import subprocess
    import sys

    import numpy as np
    from PIL import Image

    for label in ("happy", "sad"):
        (tmp_path / "faces" / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / "faces" / label / f"{i}.png")
    process = subprocess.Popen([sys.executable, "-m", "facessl", "inspect", "--dataset", f"imagefolder:{tmp_path / 'faces'}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # before facessl has written anything
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_describe_says_how_a_template_set_is_scored():
    from facessl.commands.inspect import describe
    from facessl.data.formats.common import ImageSet, PairSet

    images = ImageSet(np.zeros((4, 8, 8, 3), np.uint8), meta={"verification_metric": "tar_at_far"})
    pairs = PairSet(images, np.array([[0, 1]]), np.array([True]), np.array([0]), "ijb", item=np.array([0, 0, 1, 1]))
    assert describe(pairs)[0] == ("pairs: 1 (1 same, 0 different) scored by TAR at FAR, no folds, over 4 images of 2 "
                                  "items (videos or templates: an item's images are averaged)")
