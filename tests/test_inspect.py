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


def test_draw_points_marks_the_pixels_of_each_point():
    tiles = np.zeros((1, 10, 10, 3), np.uint8)
    drawn = draw_points(tiles, np.array([[[3.5, 6.2], [20.0, 1.0]]]))  # the second is off the tile
    assert tuple(drawn[0, 6, 3]) == (255, 0, 0) and drawn[0, :, 8:].max() == 0 and tiles.max() == 0
