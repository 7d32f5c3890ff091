"""Layouts found in public loaders of DISFA, BP4D, CPLFW/CALFW, LFW and VoxCeleb (see each reader's "Evidence"
paragraph): the pairs_CPLFW.txt class order, DISFA's right-camera folder as released and the frame folders
extraction scripts write, sklearn's lfw_home, ME-GraphAU's BP4D frames, VoxCeleb1's unzippedFaces and the
shallower frame trees of FAb-Net / PCL.

Every fixture is written here from the documented layout (tiny images), never from the real data.
"""
import numpy as np
import pytest

from image_toys import write
from facessl.data import formats
from facessl.data.formats.common import load_image
from facessl.data.formats.imagefiles import save_image as _save
from facessl.data.formats.lfw import LfwWriter
from facessl.errors import DataFormatError
from facessl.evaluate.au import present_aus
from facessl.evaluate.protocol import EvalOptions

RNG = np.random.default_rng(11)
DISFA_AUS = (1, 2, 4, 6, 9, 12, 25, 26)


def face(size=12, value=None):
    if value is not None:
        return np.full((size, size, 3), value, dtype=np.uint8)
    return RNG.integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def save_image(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, image)


# --- CPLFW / CALFW: the released class order ------------------------------------------------------------
def cplfw_release(root, per_fold=2, folds=10):
    """pairs_CPLFW.txt as FaceX-Zoo's parser reads it: every positive pair first (label 1 on both lines), then
    every negative pair (label 0); fold k = the k-th block of positives + the k-th block of negatives."""
    n = per_fold * folds
    positives = [(f"P{k}_1.jpg", f"P{k}_2.jpg") for k in range(n)]
    negatives = [(f"P{k}_1.jpg", f"P{(k + 1) % n}_2.jpg") for k in range(n)]
    for a, b in positives:
        save_image(root / "images" / a, face())
        save_image(root / "images" / b, face())
    text = "".join(f"{a} 1\n{b} 1\n" for a, b in positives) + "".join(f"{a} 0\n{b} 0\n" for a, b in negatives)
    write(root / "pairs_CPLFW.txt", text, crlf=True)
    return positives, negatives


@pytest.mark.parametrize("per_fold", [1, 3])
def test_cplfw_positives_first_file_gives_every_fold_both_classes(tmp_path, per_fold):
    positives, negatives = cplfw_release(tmp_path, per_fold)
    got = formats.read("cplfw", tmp_path)
    assert len(got.pairs) == 20 * per_fold and got.same.sum() == 10 * per_fold
    for fold in range(10):  # FaceX-Zoo: per fold the k-th 300 positives and the k-th 300 negatives
        assert list(got.same[got.fold == fold]) == [True] * per_fold + [False] * per_fold
    assert list(got.fold[got.same]) == [k // per_fold for k in range(10 * per_fold)]
    assert list(got.fold[~got.same]) == [k // per_fold for k in range(10 * per_fold)]
    names = [tuple(got.images.images[i].rsplit("/", 1)[1] for i in pair) for pair in got.pairs]
    assert names[:10 * per_fold] == positives and names[10 * per_fold:] == negatives  # file order kept


def test_cplfw_interleaved_pairs_keep_consecutive_folds(tmp_path):
    """A pairs file whose classes alternate (a fold's pairs together) keeps folds of consecutive pairs."""
    for name in ("Ann_Lee_1.jpg", "Ann_Lee_2.jpg", "Bo_Chen_1.jpg", "Cy_Diaz_3.jpg"):
        save_image(tmp_path / "images" / name, face())
    lines = ["Ann_Lee_1.jpg 1", "Ann_Lee_2.jpg 1", "Bo_Chen_1.jpg 0", "Cy_Diaz_3.jpg 0"] * 10
    write(tmp_path / "pairs_CPLFW.txt", "\n".join(lines) + "\n")
    got = formats.read("cplfw", tmp_path)
    assert list(got.fold) == [k // 2 for k in range(20)] and list(got.same[:4]) == [True, False, True, False]


# --- LFW as sklearn's fetch_lfw_pairs and torchvision leave it -------------------------------------------
def test_lfw_sklearn_lfw_home_and_dev_pairs(tmp_path):
    home = tmp_path / "scikit_learn_data" / "lfw_home"
    w = LfwWriter(home / "lfw_funneled")
    for name in ("Ann_Lee", "Bo_Chen", "Cy_Diaz"):
        for _ in range(2):
            w.add(name, face())
    (home / "joblib").mkdir(parents=True)  # sklearn's cache beside the images
    write(home / "pairs.txt", "2\t1\nAnn_Lee\t1\t2\nAnn_Lee\t1\tBo_Chen\t2\nCy_Diaz\t1\t2\nCy_Diaz\t2\tAnn_Lee\t1\n")
    write(home / "pairsDevTrain.txt", "1\nBo_Chen\t1\t2\nBo_Chen\t2\tCy_Diaz\t1\n")
    got = formats.read("lfw", home)
    assert list(got.same) == [True, False, True, False] and list(got.fold) == [0, 0, 1, 1]
    assert "lfw_funneled/Ann_Lee/Ann_Lee_0002.jpg" in got.images.images[got.pairs[0, 1]]
    dev = formats.read("lfw", home, pairs_file="pairsDevTrain.txt")
    assert list(dev.same) == [True, False] and list(dev.fold) == [0, 0]
    ids = dev.images.labels["identity"]
    assert [tuple(ids[p]) for p in dev.pairs] == [("Bo_Chen", "Bo_Chen"), ("Bo_Chen", "Cy_Diaz")]


def test_lfw_torchvision_lfw_py_deepfunneled(tmp_path):
    root = tmp_path / "lfw-py"  # torchvision's base folder: images_dir and pairs files side by side
    for folder in ("lfw_funneled", "lfw-deepfunneled"):
        w = LfwWriter(root / folder)
        for name in ("Ann_Lee", "Bo_Chen"):
            w.add(name, face())
            w.add(name, face())
    write(root / "pairsDevTest.txt", "1\nAnn_Lee\t1\t2\nAnn_Lee\t2\tBo_Chen\t1\n")
    got = formats.read("lfw", root, pairs_file="pairsDevTest.txt", variant="lfw-deepfunneled")
    assert all("/lfw-deepfunneled/" in got.images.images[i] for i in got.pairs.ravel())
    assert list(got.same) == [True, False]


# --- DISFA ----------------------------------------------------------------------------------------------
def disfa_labels(root, subject="SN001", frames=3):
    """ActionUnit_Labels/SN001/SN001_au<k>.txt: `frame,intensity`, 1-based frames, intensities 0..5."""
    for au in DISFA_AUS:
        write(root / "ActionUnit_Labels" / subject / f"{subject}_au{au}.txt",
              "".join(f"{k},{(k + au) % 6}\n" for k in range(1, frames + 1)), crlf=True)


def disfa_video(path, values):
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (16, 16))
    for value in values:
        writer.write(np.full((16, 16, 3), value, dtype=np.uint8))
    writer.release()


def test_disfa_right_camera_as_released(tmp_path):
    """The release's right camera: Video_RightCamera/RightVideoSN001_Comp.avi (OpenFace's DISFA scripts)."""
    disfa_labels(tmp_path, frames=2)
    disfa_video(tmp_path / "Video_RightCamera" / "RightVideoSN001_Comp.avi", (40, 220))
    got = formats.read("disfa", tmp_path)
    assert got.images.shape[0] == 2 and got.images[1].mean() > got.images[0].mean() + 100
    disfa_video(tmp_path / "Videos_LeftCamera" / "LeftVideoSN001_comp.avi", (220, 40))  # the left one wins
    got = formats.read("disfa", tmp_path)
    assert got.images[0].mean() > got.images[1].mean() + 100


@pytest.mark.parametrize("folder,names", [
    # OpenFace-style extraction beside the videos, frames named after the video, 1-based
    ("Videos_LeftCamera_frames/LeftVideoSN001_comp", ["LeftVideoSN001_comp_00001.jpg", "LeftVideoSN001_comp_00002.jpg",
                                                      "LeftVideoSN001_comp_00003.jpg"]),
    # ffmpeg '%d.jpg' per right-camera video, folder named after it (Comp with a capital C)
    ("images/RightVideoSN001_Comp", ["1.jpg", "2.jpg", "3.jpg"]),
    # cv2 capture loops writing '%d.jpg' from 1 into a folder per subject at the root
    ("SN001", ["1.jpg", "2.jpg", "3.jpg"]),
    # ME-GraphAU: data/DISFA/img/SN001/0.png, 0-based
    ("img/SN001", ["0.png", "1.png", "2.png"]),
    # OpenFace -simalign output: aligned/LeftVideoSN001_comp/frame_det_00_000001.bmp
    ("aligned/LeftVideoSN001_comp", ["frame_det_00_000001.bmp", "frame_det_00_000002.bmp",
                                     "frame_det_00_000003.bmp"]),
])
def test_disfa_extracted_frame_folders(tmp_path, folder, names):
    disfa_labels(tmp_path)
    for i, name in enumerate(names):
        save_image(tmp_path / folder / name, face(8, 40 * (i + 1)))
    got = formats.read("disfa", tmp_path)
    assert list(got.labels["frame"]) == [1, 2, 3] and list(got.labels["subject"]) == ["SN001"] * 3
    assert [int(load_image(p)[0, 0, 0] + 20) // 40 for p in got.images] == [1, 2, 3]  # label frame k = k-th file
    assert list(got.labels["aus"][:, 0]) == [2, 3, 4]  # AU1 of frames 1-3: (k + 1) % 6


def test_disfa_intensities_kept_and_present_from_2(tmp_path):
    """The reader keeps DISFA's 0..5 intensities; the AU task counts an AU present from 2 (ME-GraphAU's rule)."""
    disfa_labels(tmp_path, frames=6)
    for k in range(6):
        save_image(tmp_path / "Images" / "SN001" / f"{k + 1:05d}.jpg", face(8))
    got = formats.read("disfa", tmp_path)
    expected = np.array([[(k + au) % 6 for au in DISFA_AUS] for k in range(1, 7)], dtype=np.float32)
    np.testing.assert_array_equal(got.labels["aus"], expected)
    present, _ = present_aus(got, EvalOptions())
    np.testing.assert_array_equal(present, (expected >= 2).astype(np.float32))


def test_disfa_label_folder_is_not_taken_for_frames(tmp_path):
    disfa_labels(tmp_path)
    with pytest.raises(DataFormatError, match="frame 1 labelled in SN001_au1.txt has no image"):
        formats.read("disfa", tmp_path)


# --- BP4D as ME-GraphAU prepares it ----------------------------------------------------------------------
def test_bp4d_megraphau_img_tree_unpadded_frames(tmp_path):
    """AUCoding/AU_OCC/F001_T1.csv (header `0,1,2,...`, frame numbers from 2440) + img/F001/T1/2440.jpg."""
    header = ",".join(["0"] + [str(a) for a in range(1, 28)])
    rows = []
    for frame in (2440, 2441, 2442):
        cells = [str((frame + a) % 2) for a in range(1, 28)]
        if frame == 2441:
            cells[6] = "9"  # AU7 not coded: the frame is dropped and counted
        rows.append(",".join([str(frame)] + cells))
    write(tmp_path / "AUCoding" / "AU_OCC" / "F001_T1.csv", "\n".join([header] + rows) + "\n")
    for frame in (2440, 2441, 2442):
        save_image(tmp_path / "img" / "F001" / "T1" / f"{frame}.jpg", face(8))
    got = formats.read("bp4d", tmp_path)
    assert list(got.labels["frame"]) == [2440, 2442] and got.dropped["not_coded"] == 1
    assert got.images[0].endswith("img/F001/T1/2440.jpg")
    assert list(got.labels["aus"][0]) == [float((2440 + a) % 2) for a in (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)]


# --- VoxCeleb frame trees ------------------------------------------------------------------------------
def frames_at(folder, numbers, suffix=".jpg", digits=7):
    for n in numbers:
        save_image(folder / f"{n:0{digits}d}{suffix}", face(8))


def test_voxceleb1_unzipped_faces_release(tmp_path):
    """unzippedFaces/<Name>/1.6/<YouTube id>/0000375.jpg: the release folder skipped, the video one track."""
    release = tmp_path / "voxceleb1" / "unzippedFaces"
    frames_at(release / "A.J._Buckley" / "1.6" / "1zcIwhmdeo4", (375, 400, 1375))
    frames_at(release / "A.J._Buckley" / "1.6" / "7w0IBEWc9Qw", (25,))
    frames_at(release / "Aaron_Tveit" / "1.6" / "5r0dWxy17C8", (100, 125))
    for root in (release, release.parent):  # the folder given, or the one holding unzippedFaces/
        got = formats.read("voxceleb", root)
        assert list(got.labels["identity"]) == ["A.J._Buckley"] * 4 + ["Aaron_Tveit"] * 2
        assert list(got.labels["video"]) == ["1zcIwhmdeo4"] * 3 + ["7w0IBEWc9Qw", "5r0dWxy17C8", "5r0dWxy17C8"]
        assert list(got.labels["track"]) == list(got.labels["video"])
        assert list(got.labels["frame"]) == [375, 400, 1375, 25, 100, 125]


def test_voxceleb_fabnet_and_pcl_trees(tmp_path):
    """FAb-Net: <id>/<video>/<track>/*.jpg with a VISITED marker; PCL: <identity>/<video>/<frame>; png frames."""
    fab = tmp_path / "fab"
    frames_at(fab / "id00012" / "21Uxsk56VDQ" / "00001", (1, 2), digits=4)
    write(fab / "id00012" / "21Uxsk56VDQ" / "VISITED", "")
    frames_at(fab / "id00012" / "21Uxsk56VDQ" / "00002", (10, 2, 1), suffix=".png", digits=1)
    got = formats.read("voxceleb", fab)
    assert list(got.labels["track"]) == ["00001", "00001", "00002", "00002", "00002"]
    assert list(got.labels["frame"]) == [1, 2, 1, 2, 10]  # by number, not by name (10.png after 2.png)
    pcl = tmp_path / "pcl"
    frames_at(pcl / "id10001" / "1zcIwhmdeo4", (0, 1, 2), digits=6)
    frames_at(pcl / "id10001" / "1zcIwhmdeo4" / "a" / "b" / "c", (0,))  # too deep for any layout
    got = formats.read("voxceleb", pcl)
    assert list(got.labels["video"]) == ["1zcIwhmdeo4"] * 3 and list(got.labels["track"]) == ["1zcIwhmdeo4"] * 3
    assert got.dropped == {"short_track": 0, "too_deep": 1}


def test_voxceleb2_videos_say_to_prepare(tmp_path):
    video = tmp_path / "dev" / "mp4" / "id00012" / "21Uxsk56VDQ" / "00001.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00")
    with pytest.raises(DataFormatError, match=r"no frames found.*holds videos .*facessl prepare"):
        formats.read("voxceleb", tmp_path / "dev" / "mp4")
