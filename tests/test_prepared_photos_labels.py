"""A label table naming the original photos, read against the crops `facessl prepare --images` made of them."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facessl.data.formats.csvtable import read_csv_table
from facessl.errors import DataFormatError
from test_prepare_inputs import photo, photo_list, prepare_photos


def test_a_table_of_the_original_names_finds_their_crops(tmp_path):
    root, out = tmp_path / "photos", tmp_path / "crops"
    names = ["happy one.png", "happy_two.jpg", "sad one.png", "sad (2).jpeg"]
    for i, name in enumerate(names):
        photo(root / name, seed=i)
    Image.fromarray(np.full((96, 96, 3), 127, np.uint8)).save(root / "blank.png")  # no face: no crop
    prepare_photos(root, out)
    crops = photo_list(out)
    assert crops["happy one.png"][0] == "happy_one.jpg" and crops["blank.png"] == ("", "no_face")
    table = tmp_path / "labels.csv"
    rows = [f"{n},{n.split()[0].split('_')[0]}" for n in names] + ["blank.png,sad"]
    table.write_text("image,label\n" + "\n".join(rows) + "\n")
    data = read_csv_table(table, images=out, test_fraction=0.5)
    assert sorted(data.images) == sorted(str(out / crops[n][0]) for n in names)
    by_file = dict(zip(data.images, data.labels["class"]))
    assert by_file[str(out / "happy_one.jpg")] == data.meta["class_names"].index("happy")
    assert data.dropped == {"no_crop_from_prepare": 1}
    # the group rule still reads the names the table gives, not the crops'
    assert set(data.labels["group"]) == set(names)


def test_boxes_or_points_of_the_original_photos_are_not_laid_on_crops(tmp_path):
    root, out = tmp_path / "photos", tmp_path / "crops"
    photo(root / "a b.png")
    prepare_photos(root, out)
    table = tmp_path / "points.csv"
    table.write_text("image,x1,y1\na b.png,10,20\n")
    with pytest.raises(DataFormatError, match=r"points.csv:2: .*crops made by facessl prepare.*original photos"):
        read_csv_table(table, images=out, point_columns="x1,y1")


def test_a_users_own_photos_csv_is_not_read_as_prepares(tmp_path):
    photo(tmp_path / "imgs" / "a.jpg")
    (tmp_path / "imgs" / "photos.csv").write_text("input,label\nb.jpg,a.jpg\n")
    table = tmp_path / "labels.csv"
    table.write_text("image,label\nb.jpg,x\n")
    with pytest.raises(DataFormatError, match="b.jpg named here does not exist"):
        read_csv_table(table, images=tmp_path / "imgs")
