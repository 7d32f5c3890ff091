"""Layouts found in public loaders of CK+, MTFL/WFLW, ExpW, BIWI and AFLW-19 (see each reader's "Evidence"
paragraph): CK+'s archives unpacked into folders of their own names, WFLW's test subsets and HRNet's CSV
lists, MTFL inside a wrapper, ExpW's photos under the 7-Zip folder name, FSA-Net's default BIWI.npz and
FaRL-style aflw-19/ + aflw-21/ folders.

Every fixture is written here from the documented layout (tiny images), never from the real data.
"""
import numpy as np
import pytest

from image_toys import write
from facessl.data import formats
from facessl.data.formats import aflw as aflw_module
from facessl.data.formats.common import load_image
from facessl.data.formats.imagefiles import save_image as _save
from facessl.data.labels import EXPRESSIONS
from facessl.errors import DataFormatError, FacesslError

RNG = np.random.default_rng(23)


def save_image(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, image)


def photo_with_face(path, box, size=(64, 48)):
    """A dark photo whose box (x0, y0, x1, y1) is bright: a crop of the box is all bright."""
    img = np.zeros((size[1], size[0], 3), np.uint8)
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = 230
    save_image(path, img)


# --- CK+ -------------------------------------------------------------------------------------------------
def write_ckplus_archives(root, subjects, frames=5):
    """CK+ with each archive unpacked into a folder of its name, plus macOS `._` copies in the frame folders."""
    images = root / "CK+" / "extended-cohn-kanade-images" / "cohn-kanade-images"
    for k, subject in enumerate(subjects):
        folder = images / subject / "001"
        for frame in range(1, frames + 1):
            stem = f"{subject}_001_{frame:08d}"
            photo_with_face(folder / f"{stem}.png", (20, 10, 40, 30))
            points = np.array([[22.0 + i % 17, 12.0 + i // 4] for i in range(68)])  # spans 22..38 x 12..28
            write(root / "CK+" / "Landmarks" / "Landmarks" / subject / "001" / f"{stem}_landmarks.txt",
                  "".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points))
        (folder / f"._{subject}_001_{frames + 1:08d}.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
        (folder / ".DS_Store").write_bytes(b"\x00")
        write(root / "CK+" / "Emotion_labels" / "Emotion" / subject / "001" / f"{subject}_001_{frames:08d}_emotion.txt",
              f"   {1 + k % 7:.7e}\n")


def test_ckplus_archive_folders_hidden_files_and_neutral_frames(tmp_path):
    subjects = [f"S{n:03d}" for n in range(5, 19)]  # 14 subjects, codes 1..7 twice
    write_ckplus_archives(tmp_path, subjects)
    got = formats.read("ckplus", tmp_path)
    assert len(got) == 42 and got.meta["class_names"] == ["anger", "contempt", "disgust", "fear", "happiness",
                                                          "sadness", "surprise"]
    assert [p.rsplit("_", 1)[1] for p in got.images[:3]] == ["00000003.png", "00000004.png", "00000005.png"]
    assert list(got.labels["class"][:6]) == [0, 0, 0, 1, 1, 1]  # S005 anger, S006 contempt
    crop = load_image(got.images[0])  # Landmarks/Landmarks found: the points' square enlarged by a quarter
    assert crop.shape == (20, 20, 3) and crop.min() > 200
    with_neutral = formats.read("ckplus", tmp_path / "CK+", neutral_frames=1)
    assert len(with_neutral) == 56 and with_neutral.meta["class_names"][-1] == "neutral"
    first = with_neutral.labels["class"][:4]
    assert list(first) == [7, 0, 0, 0] and with_neutral.images[0].endswith("S005_001_00000001.png")
    assert sum(with_neutral.labels["class"] == 7) == 14  # one neutral frame per labelled sequence
    for subject in subjects:
        assert len(set(with_neutral.split[with_neutral.labels["group"] == subject])) == 1
    with pytest.raises(FacesslError, match="ckplus neutral_frames 'x': expected a whole number"):
        formats.read("ckplus", tmp_path, neutral_frames="x")


def test_ckplus_missing_emotion_folder_names_what_was_expected(tmp_path):
    photo_with_face(tmp_path / "cohn-kanade-images" / "S005" / "001" / "S005_001_00000001.png", (20, 10, 40, 30))
    (tmp_path / "Emotion_labels" / "Emotion").mkdir(parents=True)  # unpacked, but empty
    with pytest.raises(DataFormatError, match="CK\\+ not found: expected cohn-kanade-images/ and Emotion/"):
        formats.read("ckplus", tmp_path)


# --- MTFL / WFLW ---------------------------------------------------------------------------------------------
def test_mtfl_inside_a_wrapper_folder_with_leading_spaces(tmp_path):
    base = tmp_path / "MTFL"
    for rel in ("lfw_5590/Aaron_Eckhart_0001.jpg", "lfw_5590/Aaron_Guiel_0001.jpg", "AFLW/0001-image20056.jpg"):
        save_image(base / rel, RNG.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    write(base / "training.txt",
          "lfw_5590\\Aaron_Eckhart_0001.jpg 107.250000 147.750000 126.250000 106.250000 140.750000 108.750000 "
          "113.250000 143.750000 158.750000 162.750000 1 2 2 3\n"
          " lfw_5590\\Aaron_Guiel_0001.jpg 101.250000 146.750000 125.250000 93.750000 139.750000 112.250000 "
          "117.750000 137.750000 160.750000 164.750000 1 1 2 3\n")
    write(base / "testing.txt", "AFLW/0001-image20056.jpg 56.6 101.3 79.5 43.8 93.2 43.3 58.1 70.0 86.2 103.9 1 1 2 3\n")
    got = formats.read("mtfl", tmp_path)
    assert list(got.split) == ["train", "train", "test"]
    np.testing.assert_allclose(got.labels["landmarks"][1, 3], [93.75, 160.75])  # left mouth corner: x4, y4
    assert list(got.labels["attributes"][0]) == [1, 2, 2, 3] and got.images[2].endswith("AFLW/0001-image20056.jpg")
    with pytest.raises(DataFormatError, match="MTFL lists not found here or up to 2 folders below"):
        formats.read("mtfl", tmp_path / "MTFL" / "AFLW")


def wflw_line(points, box, attrs, name):
    return " ".join([f"{v:.6f}" for v in points.ravel()] + [str(v) for v in box] + [str(a) for a in attrs] + [name])


def test_wflw_test_subset_lists_and_a_wrapper_folder(tmp_path):
    root = tmp_path / "WFLW"
    annotations = root / "WFLW_annotations"
    lines, names = [], []
    for k in range(4):
        name = f"{k}--Parade/{k}_Parade_{k}.jpg"
        photo_with_face(root / "WFLW_images" / name, (30, 20, 70, 60), size=(120, 100))
        points = np.stack([np.linspace(30, 70, 98), np.linspace(20, 60, 98)], 1) + k
        lines.append(wflw_line(points, (30, 20, 70, 60), (k % 2, 0, 0, 0, 0, 0), name))
        names.append(name)
    write(annotations / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_train.txt", "\n".join(lines[:2]) + "\n")
    write(annotations / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_test.txt", "\n".join(lines[2:]) + "\n",
          crlf=True)
    write(annotations / "list_98pt_test" / "list_98pt_test_largepose.txt", lines[3] + "\n")  # the pose flag set
    full = formats.read("wflw", tmp_path)  # WFLW/ found below the path given
    assert list(full.split) == ["train", "train", "test", "test"] and full.meta["subset"] == "all"
    pose = formats.read("wflw", root, subset="LargePose")
    assert list(pose.split) == ["train", "train", "test"] and pose.meta["subset"] == "largepose"
    assert pose.images[2].endswith(names[3]) and list(pose.labels["attributes"][2]) == [1, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(pose.labels["landmarks"][2], full.labels["landmarks"][3])
    with pytest.raises(DataFormatError, match="list_98pt_test_blur.txt: WFLW's blur test list not found"):
        formats.read("wflw", root, subset="blur")
    with pytest.raises(FacesslError, match="wflw subset 'profile': expected one of all, largepose"):
        formats.read("wflw", root, subset="profile")


def test_wflw_hrnet_csv_lists_crop_about_the_centre(tmp_path):
    root = tmp_path / "wflw"
    img = np.zeros((200, 240, 3), np.uint8)
    points = np.stack([np.linspace(90, 150, 98), np.linspace(70, 130, 98)], 1)
    img[int(points[60, 1]), int(points[60, 0])] = 255
    save_image(root / "WFLW_images" / "0--Parade" / "0_Parade_1.png", img)
    header = "image_name,scale,center_w,center_h," + ",".join(f"original_{i}_{c}" for i in range(98) for c in "xy")
    row = "0--Parade/0_Parade_1.png,0.32,120.0,100.0," + ",".join(f"{v:.4f}" for v in points.ravel())
    write(root / "face_landmarks_wflw_train.csv", header + "\n" + row + "\n")
    write(root / "face_landmarks_wflw_test.csv", header + "\n" + row + "\n", bom=True)
    write(root / "face_landmarks_wflw_test_makeup.csv", header + "\n" + row + "\n")
    got = formats.read("wflw", root)
    assert list(got.split) == ["train", "test"] and "attributes" not in got.labels
    side = 200 * 0.32 * 1.25  # 80 px about (120, 100)
    left, top, right, bottom = got.images[0].square()
    assert (left, top, right - left) == (80, 60, int(side))
    np.testing.assert_allclose(got.labels["landmarks"][0], points - [80, 60], atol=1e-3)
    crop = load_image(got.images[0])
    x, y = np.floor(got.labels["landmarks"][0, 60]).astype(int)
    assert crop.shape == (80, 80, 3) and crop[y, x, 0] == 255
    assert len(formats.read("wflw", root, subset="makeup")) == 2
    write(root / "face_landmarks_wflw_train.csv", "image_name,scale,center_w,center_h,x0\nimg.png,1,2,3,4\n")
    with pytest.raises(DataFormatError, match="face_landmarks_wflw_train.csv:1.*expected 200 columns"):
        formats.read("wflw", root)


# --- ExpW ----------------------------------------------------------------------------------------------------
def test_expw_photos_under_the_7zip_folder_name(tmp_path):
    data = tmp_path / "ExpW" / "data"
    rows = []
    for i in range(14):
        photo_with_face(data / "image" / "origin.7z" / "origin" / f"angry_actor_{i}.jpg", (5, 4, 25, 24), size=(60, 40))
        rows.append(f"angry_actor_{i}.jpg 0 4 5 25 24 41.2 {i % 7}")
    write(data / "label" / "label.lst", "\n".join(rows) + "\n")
    got = formats.read("expw", tmp_path / "ExpW")
    assert len(got) == 14 and got.images[0].endswith("image/origin.7z/origin/angry_actor_0.jpg")
    assert [EXPRESSIONS[e] for e in got.labels["expression"][:7]] == ["anger", "disgust", "fear", "happiness",
                                                                        "sadness", "surprise", "neutral"]
    crop = load_image(got.images[0])
    assert crop.shape == (20, 20, 3) and crop.min() > 200
    write(data / "label" / "label.lst", "missing.jpg 0 4 5 25 24 41.2 3\n")
    with pytest.raises(DataFormatError, match="label.lst:1: image .*missing.jpg named here does not exist"):
        formats.read("expw", tmp_path / "ExpW")


# --- BIWI (FSA-Net's script output) ----------------------------------------------------------------------------
def test_biwi_fsanet_script_default_npz_name(tmp_path):
    image = np.zeros((3, 8, 8, 3), np.uint8)
    image[..., 0] = 200  # blue first, as OpenCV writes
    pose = np.array([[30.0, -10.0, 5.0], [-5.0, 2.0, 1.0], [0.0, 0.0, 0.0]])
    np.savez(tmp_path / "BIWI.npz", image=image, pose=pose, img_size=8)
    got = formats.read("biwi", tmp_path)
    assert got.images.shape == (3, 8, 8, 3) and got.images[0, 0, 0].tolist() == [0, 0, 200]
    np.testing.assert_allclose(got.labels["pose"], pose)
    np.savez(tmp_path / "BIWI_noTrack.npz", image=image[:1], pose=pose[:1], img_size=8)
    assert len(formats.read("biwi", tmp_path)) == 1  # the no-track copy wins when both are there


# --- AFLW-19 in aflw-19/ beside aflw-21/data/flickr ---------------------------------------------------------
def test_aflw19_mat_in_aflw19_folder_photos_in_aflw21(tmp_path, monkeypatch):
    from scipy.io import savemat

    monkeypatch.setattr(aflw_module, "AFLW19_TRAIN", 2)
    names = ["0/image00002.jpg", "2/image00004.jpg", "3/image00035.jpg"]
    boxes = np.array([[10.0, 34.0, 8.0, 36.0]] * 3)  # x1 x2 y1 y2
    data = np.hstack([10 + np.tile(np.linspace(2, 22, 19), (3, 1)), 8 + np.tile(np.linspace(3, 27, 19), (3, 1))])
    name_list = np.empty((3, 1), dtype=object)
    for k, name in enumerate(names):
        name_list[k, 0] = name
        save_image(tmp_path / "aflw-21" / "data" / "flickr" / name, np.full((60, 60, 3), 128, np.uint8))
    (tmp_path / "aflw-19").mkdir()
    savemat(tmp_path / "aflw-19" / "AFLWinfo_release.mat",
            {"bbox": boxes, "data": data, "mask_new": np.ones((3, 19)), "nameList": name_list,
             "ra": np.array([[2, 3, 1]], dtype=float)})
    got = formats.read("aflw19", tmp_path)
    assert list(got.split) == ["train", "train", "test"] and list(got.labels["group"]) == [names[1], names[2], names[0]]
    assert got.images[0].endswith("aflw-21/data/flickr/2/image00004.jpg")
    assert got.dropped == {"missing_image": 0, "invalid_box": 0, "invalid_landmarks": 0}
