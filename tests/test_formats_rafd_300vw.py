"""RaFD and 300VW read in the layouts they are distributed in (docs/data_formats.md, the module docstrings).
Every fixture is written here from the documented layout (tiny images, a tiny MJPG video), never from the real data."""
import re

import numpy as np
import pytest
from PIL import Image

from facessl.data import formats
from facessl.data.formats import rafd, w300vw
from facessl.data.formats.w300 import format_pts
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate.suite import FORMAT_TASK

RNG = np.random.default_rng(5)
RAFD_WORDS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")
RAFD_ANGLES = ("000", "045", "090", "135", "180")
RAFD_PEOPLE = (("01", "Caucasian", "female"), ("02", "Caucasian", "female"), ("03", "Caucasian", "male"),
               ("45", "Moroccan", "male"), ("70", "Moroccan", "male"), ("71", "Caucasian", "male"))


def save(path, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, size=(*size, 3), dtype=np.uint8)).save(path, format="JPEG")
    return path


# --- RaFD --------------------------------------------------------------------------------------------------
def write_rafd(folder, people=RAFD_PEOPLE, angles=RAFD_ANGLES):
    for number, ethnicity, gender in people:
        for angle in angles:
            for word in RAFD_WORDS:
                for gaze in ("frontal", "left", "right"):
                    save(folder / f"Rafd{angle}_{number}_{ethnicity}_{gender}_{word}_{gaze}.jpg")


def rows_by_name(got):
    return {p.rsplit("/", 1)[1]: i for i, p in enumerate(got.images)}


def test_rafd_labels_yaw_sign_gaze_and_person_split(tmp_path):
    write_rafd(tmp_path / "RaFD")
    (tmp_path / "RaFD" / "Thumbs.db").write_bytes(b"\x00")
    got = formats.read("rafd", tmp_path / "RaFD")
    assert len(got) == 6 * 5 * 8 * 3 and got.dropped == {}
    assert got.meta["class_names"] == ["anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    assert got.meta["gaze_names"] == ["frontal", "left", "right"]
    row = rows_by_name(got)
    first = row["Rafd090_01_Caucasian_female_angry_frontal.jpg"]
    assert got.meta["class_names"][got.labels["class"][first]] == "anger" and got.labels["group"][first] == "01"
    contempt = row["Rafd090_45_Moroccan_male_contemptuous_left.jpg"]
    assert got.labels["class"][contempt] == 1 and got.labels["gaze"][contempt] == 1 and got.labels["group"][contempt] == "45"
    assert got.labels["gaze"][row["Rafd090_45_Moroccan_male_sad_right.jpg"]] == 2
    yaw = [got.labels["pose"][row[f"Rafd{a}_03_Caucasian_male_happy_frontal.jpg"]] for a in RAFD_ANGLES]
    assert [y[0] for y in yaw] == [90, 45, 0, -45, -90]  # 000 shows the left cheek: face towards the image's left
    assert not np.any([y[1:] for y in yaw])
    assert [got.labels["pose_class"][row[f"Rafd{a}_03_Caucasian_male_happy_frontal.jpg"]] for a in RAFD_ANGLES] == [4, 3, 2, 1, 0]
    assert set(got.split) == {"train", "test"}
    for person in set(got.labels["group"]):  # every camera, gaze and expression of a person on one side
        assert len(set(got.split[got.labels["group"] == person])) == 1, person
    again = formats.read("rafd", tmp_path / "RaFD")
    assert list(again.split) == list(got.split) and list(again.images) == list(got.images)
    assert FORMAT_TASK["rafd"] == "classification" and "rafd" in formats.FORMAT_NAMES


def test_rafd_options_class_folders_and_skipped_names(tmp_path):
    write_rafd(tmp_path / "angry", people=RAFD_PEOPLE[:1], angles=("090",))  # a copy sorted into class folders
    write_rafd(tmp_path, people=RAFD_PEOPLE[1:5])
    save(tmp_path / "rafd045_70_moroccan_male_happy_left.JPG")  # lower case, upper-case suffix
    save(tmp_path / "Rafd090_01_Caucasian_female_angry_frontal (2).jpg")  # a copy's duplicate
    save(tmp_path / "Rafd060_01_Caucasian_female_angry_frontal.jpg")  # no such camera
    save(tmp_path / "Rafd090_01_Caucasian_female_bored_frontal.jpg")  # no such expression
    got = formats.read("rafd", tmp_path)
    assert len(got) == 1 * 8 * 3 + 4 * 5 * 8 * 3 + 1
    assert got.dropped == {"file name not in the RaFD form": 3}
    assert got.meta["unrecognised_files"] == ["Rafd060_01_Caucasian_female_angry_frontal.jpg",
                                              "Rafd090_01_Caucasian_female_angry_frontal (2).jpg",
                                              "Rafd090_01_Caucasian_female_bored_frontal.jpg"]
    assert got.labels["pose"][rows_by_name(got)["rafd045_70_moroccan_male_happy_left.JPG"]][0] == 45
    frontal = formats.read("rafd", tmp_path, angles="090", gaze="frontal")
    assert len(frontal) == 5 * 8 and not frontal.labels["pose"].any() and set(frontal.labels["gaze"]) == {0}
    assert frontal.dropped["angle left out (angles option)"] == 4 * 4 * 8 * 3 + 1
    assert frontal.dropped["gaze left out (gaze option)"] == 5 * 8 * 2
    assert set(formats.read("rafd", tmp_path, angles=[45, "135"]).labels["pose"][:, 0]) == {45, -45}
    assert len(formats.read("rafd", tmp_path, angles="45, 090 ,135", gaze=["LEFT", "right"])) == 4 * 3 * 8 * 2 + 2 * 8 + 1
    with pytest.raises(FacesslError, match="rafd angles '060': expected some of 000, 045, 090, 135, 180"):
        formats.read("rafd", tmp_path, angles="060")
    with pytest.raises(FacesslError, match="rafd gaze 'up': expected some of frontal, left, right"):
        formats.read("rafd", tmp_path, gaze="up")


def test_rafd_errors_name_the_path(tmp_path):
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: RaFD not found: expected Rafd090_01_")):
        formats.read("rafd", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'empty'}: no RaFD images found")):
        formats.read("rafd", tmp_path / "empty")
    save(tmp_path / "odd" / "face_001.jpg")
    with pytest.raises(DataFormatError, match=r"odd: no RaFD images found: 1 image file\(s\) not named like "
                                              r"Rafd090_01_Caucasian_female_angry_frontal\.jpg \(e\.g\. face_001\.jpg\)"):
        formats.read("rafd", tmp_path / "odd")


# --- 300VW -------------------------------------------------------------------------------------------------
FRAME_SIZE = (96, 80)  # width, height
NOSE = 30  # the landmark drawn as a bright dot


def shape_68(shift=0.0):
    """68 0-based points on an ellipse inside the frame; point NOSE at the centre."""
    angle = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    points = np.stack([44 + shift + 16 * np.cos(angle), 38 + 20 * np.sin(angle)], axis=1)
    points[NOSE] = [44.0 + shift, 40.0]
    return points


def frame_picture(number, points):
    """A dark frame whose grey level tells its 1-based number, with a bright 3x3 dot on the NOSE point."""
    frame = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 4 * number, dtype=np.uint8)
    x, y = np.rint(points[NOSE]).astype(int)
    frame[y - 1:y + 2, x - 1:x + 2] = 255
    return frame


def write_300vw_video(folder, video, n_frames=6, as_frames=None):
    """folder/<video>/vid.avi (MJPG) + annot/000001.pts; as_frames: write that frame folder instead of a video."""
    import cv2

    (folder / video / "annot").mkdir(parents=True, exist_ok=True)
    writer = None if as_frames else cv2.VideoWriter(str(folder / video / "vid.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                                                    FRAME_SIZE)
    assert writer is None or writer.isOpened(), "OpenCV cannot write MJPG here"
    for number in range(1, n_frames + 1):
        points = shape_68(shift=number)
        (folder / video / "annot" / f"{number:06d}.pts").write_text(format_pts(points))
        picture = frame_picture(number, points)
        if writer is None:
            path = folder / video / as_frames / f"{number:06d}.png"
            path.parent.mkdir(exist_ok=True)
            Image.fromarray(picture).save(path)
        else:
            writer.write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if writer is not None:
        writer.release()


def write_300vw(root, videos=("001", "002", "114", "203", "410"), **kw):
    for video in videos:
        write_300vw_video(root / "300VW_Dataset_2015_12_14", video, **kw)


def assert_dot_where_drawn(got, row):
    crop, point = got.images[row], got.labels["landmarks"][row, NOSE]
    brightest = np.unravel_index(np.argmax(crop.astype(int).sum(2)), crop.shape[:2])[::-1]
    assert np.linalg.norm(np.array(brightest) - point) <= 1.5, (brightest, point)


@pytest.mark.parametrize("frames", [None, "extraction", "imgs"])
def test_300vw_crops_landmarks_categories_and_split(tmp_path, frames):
    write_300vw(tmp_path, as_frames=frames)
    got = formats.read("300vw", tmp_path, every=1, crop_size=64)
    assert isinstance(got.images, np.ndarray) and got.images.shape == (5 * 6, 64, 64, 3) and got.images.dtype == np.uint8
    assert got.labels["landmarks"].shape == (30, 68, 2) and got.dropped == {}
    assert list(got.labels["subject"][::6]) == ["001", "002", "114", "203", "410"]
    assert list(got.labels["category"][::6]) == ["train", "train", "1", "2", "3"]
    assert list(got.labels["frame"][:6]) == [1, 2, 3, 4, 5, 6]
    assert list(got.split[::6]) == ["train", "train", "test", "test", "test"]
    for row in range(0, 30, 5):
        assert_dot_where_drawn(got, row)
        number = got.labels["frame"][row]  # frame k of the video is annotation k: its grey level says so
        corner = got.images[row, :4, 28:36].astype(float).mean()
        assert abs(corner - 4 * number) <= 3, (row, corner)
    points = got.labels["landmarks"][0]
    assert points.min() > 0 and points.max() < 64  # the whole face inside the crop, with a margin
    assert FORMAT_TASK["300vw"] == "landmarks" and "300vw" in formats.FORMAT_NAMES


def test_300vw_every_and_category_options(tmp_path):
    write_300vw(tmp_path, n_frames=7)
    sparse = formats.read("300vw", tmp_path / "300VW_Dataset_2015_12_14", every=3)
    assert list(sparse.labels["frame"][:3]) == [1, 4, 7] and len(sparse) == 5 * 3
    assert sparse.images.shape[1:] == (128, 128, 3)  # the default crop size
    hard = formats.read("300vw", tmp_path, every="3", category="3")
    assert sorted(set(hard.labels["subject"])) == ["001", "002", "410"]
    assert hard.dropped == {"test category left out (category option)": 2 * 3}
    assert set(formats.read("300vw", tmp_path, every=3, category=[1, 2]).labels["category"]) == {"train", "1", "2"}
    with pytest.raises(FacesslError, match="300vw category '4': expected some of 1, 2, 3"):
        formats.read("300vw", tmp_path, category="4")
    with pytest.raises(FacesslError, match="300vw every 0: expected a whole number >= 1"):
        formats.read("300vw", tmp_path, every=0)


def test_300vw_face_crop_maps_pixel_centres():
    frame = np.zeros((40, 60, 3), np.uint8)
    points = np.array([[10.0, 10.0], [30.0, 30.0]])
    crop, moved = w300vw.face_crop(frame, points, 50)
    left, top, side = w300vw.face_square(points)
    assert (left, top, side) == (8, 8, 25) and crop.shape == (50, 50, 3)
    assert np.allclose(moved, (points - [left, top] + 0.5) * 2 - 0.5)


def test_300vw_unreadable_videos_are_counted_and_errors_name_the_file(tmp_path):
    write_300vw(tmp_path, videos=("001", "114"))
    data = tmp_path / "300VW_Dataset_2015_12_14"
    (data / "114" / "vid.avi").write_bytes(b"not a video")
    write_300vw_video(data, "002")
    (data / "002" / "vid.avi").unlink()  # neither a video nor frames
    (data / "001" / "annot" / "000009.pts").write_text(format_pts(shape_68()))  # past the last frame
    got = formats.read("300vw", tmp_path, every=1)
    assert list(set(got.labels["subject"])) == ["001"] and len(got) == 6
    assert got.dropped == {"undecodable video": 6, "video folder without vid.avi or frames": 6, w300vw.NOT_DECODED: 1}
    assert got.meta["unreadable_videos"] == [f"{data / '002'}: no vid.avi or frame folder", str(data / "114" / "vid.avi")]
    (data / "001" / "vid.avi").write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"300VW_Dataset_2015_12_14: no 300VW frames read: 3 video\(s\) could not be decoded"):
        formats.read("300vw", tmp_path)
    lines = format_pts(shape_68()).splitlines()
    lines[10] = "12.5 oops"
    (data / "001" / "annot" / "000001.pts").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=re.escape(f"{data / '001' / 'annot' / '000001.pts'}:11: expected a coordinate, got 'oops'")):
        formats.read("300vw", tmp_path)
    (data / "001" / "annot" / "000001.pts").write_text(format_pts(shape_68()[:5]))
    with pytest.raises(DataFormatError, match=r"000001\.pts:2: expected 68 points, got 5"):
        formats.read("300vw", tmp_path)
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / 'absent'}: 300VW not found: expected "
                                                        "300VW_Dataset_2015_12_14/001/vid.avi and 001/annot/000001.pts")):
        formats.read("300vw", tmp_path / "absent")


# --- through the registry and the CLI ----------------------------------------------------------------------
def test_inspect_reads_rafd_and_300vw(tmp_path, capsys):
    from facessl.cli import main

    write_rafd(tmp_path / "rafd", people=RAFD_PEOPLE[:5], angles=("045", "090"))
    write_300vw(tmp_path / "300vw", n_frames=4)
    assert main(["inspect", "--dataset", f"rafd:{tmp_path / 'rafd'}", "--reader-option", "angles=090",
                 "--out", str(tmp_path / "rafd.png")]) == 0
    out = capsys.readouterr().out
    assert "format rafd, task classification" in out and "images: 120 (" in out and "groups (kept on one side of the split): 5" in out
    assert main(["inspect", "--dataset", f"300vw:{tmp_path / '300vw'}", "--reader-option", "every=2",
                 "--out", str(tmp_path / "300vw.png")]) == 0
    out = capsys.readouterr().out
    assert "format 300vw, task landmarks" in out and "images: 10 (test 6, train 4)" in out
    assert (tmp_path / "rafd.png").is_file() and (tmp_path / "300vw.png").is_file()
