"""Layouts found in the reference code of PCL (CVPR 2023) and FAb-Net (BMVC 2018) and in widely used loaders of
their benchmarks (see the "Evidence (read, not copied)" paragraphs of the readers): FSA-Net's type1 npz copies of
AFLW2000-3D and 300W-LP (PCL's pose evaluation reads them), AffectNet's 7-class protocol, FER+'s first label file
(no `Image name` column), label.csv rows without the face box, and the FERPlus repository's own tree
(fer2013new.csv at the root, data/FER2013Train/ ... beside it).

Every fixture is written here from the documented layout (tiny arrays and images), never from the real data.
"""
import numpy as np
import pytest

from facessl.data import formats
from facessl.data.formats.imagefiles import save_image as _save
from facessl.errors import DataFormatError, FacesslError


def save_image(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, image)


# --- AFLW2000-3D / 300W-LP as FSA-Net's type1 npz (PCL's linearposenpdb reads every *.npz of a folder) ---------
def bgr_images(n, side=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)


def test_aflw2000_npz_folder_reads_fsa_net_copy(tmp_path):
    folder = tmp_path / "AFLW2000"
    folder.mkdir()
    image = bgr_images(4)
    pose = np.array([[10.0, -20.0, 5.0], [120.0, 0.0, 0.0], [np.nan, 0.0, 0.0], [-30.0, 40.0, -50.0]])
    np.savez(folder / "AFLW2000.npz", image=image, pose=pose, img_size=64)
    data = formats.read("aflw2000", folder)
    assert len(data) == 2
    np.testing.assert_allclose(data.labels["pose"], [[10, -20, 5], [-30, 40, -50]])  # [yaw, pitch, roll] degrees
    assert list(data.labels["subset"]) == ["AFLW2000", "AFLW2000"]
    np.testing.assert_array_equal(data.images[0], image[0][..., ::-1])  # BGR (cv2) -> RGB
    np.testing.assert_array_equal(data.images[1], image[3][..., ::-1])
    assert data.dropped["angle_over_99"] == 1 and data.dropped["invalid_pose"] == 1
    assert "landmarks" not in data.labels
    single = formats.read("aflw2000", folder / "AFLW2000.npz")  # the file itself
    np.testing.assert_allclose(single.labels["pose"], data.labels["pose"])


def test_300wlp_npz_files_become_subsets(tmp_path):
    folder = tmp_path / "300W_LP"
    folder.mkdir()
    np.savez(folder / "AFW.npz", image=bgr_images(2, seed=1), pose=np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.savez(folder / "AFW_Flip.npz", image=bgr_images(1, seed=2), pose=np.array([[-1.0, 2.0, -3.0]]))
    data = formats.read("300wlp", folder)
    assert list(data.labels["subset"]) == ["AFW", "AFW", "AFW_Flip"]
    np.testing.assert_allclose(data.labels["pose"][2], [-1, 2, -3])
    assert data.dropped["angle_over_99"] == 0


def test_pose_npz_refuses_pickles_and_other_arrays(tmp_path):
    folder = tmp_path / "AFLW2000"
    folder.mkdir()
    np.savez(folder / "AFLW2000.npz", image=np.array([object()], dtype=object), pose=np.zeros((1, 3)))
    with pytest.raises(DataFormatError) as err:
        formats.read("aflw2000", folder)
    assert "\n" not in str(err.value) and "AFLW2000.npz" in str(err.value)
    np.savez(folder / "AFLW2000.npz", faces=bgr_images(1))
    with pytest.raises(DataFormatError, match="'image' and 'pose'"):
        formats.read("aflw2000", folder)
    np.savez(folder / "AFLW2000.npz", image=bgr_images(2), pose=np.zeros((2, 2)))
    with pytest.raises(DataFormatError, match="yaw, pitch, roll"):
        formats.read("aflw2000", folder)


def test_pose_mat_files_win_over_npz(tmp_path):
    """A folder with the released .mat pairs is read from them even when an npz copy lies beside them."""
    from facessl.data.formats.aflw2000 import PoseMatWriter

    folder = tmp_path / "AFLW2000"
    writer = PoseMatWriter(folder)
    marks = np.stack([np.linspace(10, 50, 68), np.linspace(12, 40, 68)], axis=1)
    writer.add("image00002", np.full((64, 64, 3), 90, np.uint8), (15.0, -5.0, 2.0), marks)
    np.savez(folder / "AFLW2000.npz", image=bgr_images(3), pose=np.zeros((3, 3)))
    data = formats.read("aflw2000", folder)
    assert len(data) == 1
    np.testing.assert_allclose(data.labels["pose"][0], [15, -5, 2], atol=1e-4)
    assert data.labels["landmarks"].shape == (1, 68, 2)


# --- AffectNet: the 7-class protocol ----------------------------------------------------------------------
LIST_HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"


def write_affectnet_lists(root, rows_train, rows_val):
    """training.csv with its header, validation.csv without (as released); each row (name, code)."""
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    for name, rows, header in (("training.csv", rows_train, True), ("validation.csv", rows_val, False)):
        lines = [LIST_HEADER] if header else []
        for file, code in rows:
            save_image(root / "Manually_Annotated_Images" / "1" / file, np.full((40, 40, 3), 120, np.uint8))
            lines.append(f'1/{file},4,4,30,30,"1.0;2.0",{code},0.1,-0.2')
        (lists / name).write_text("\r\n".join(lines) + "\r\n")


def test_affectnet_seven_class_protocol_drops_contempt(tmp_path):
    root = tmp_path / "AffectNet"
    write_affectnet_lists(root, [("a.jpg", 0), ("b.jpg", 7), ("c.jpg", 3), ("d.jpg", 8)],
                          [("e.jpg", 7), ("f.jpg", 6)])
    eight = formats.read("affectnet", root)
    assert list(eight.labels["class"]) == [0, 7, 3, 7, 6] and len(eight.meta["class_names"]) == 8
    seven = formats.read("affectnet", root, classes=7)
    assert list(seven.labels["class"]) == [0, 3, 6]
    assert list(seven.split) == ["train", "train", "test"]
    assert seven.meta["class_names"] == ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"]
    assert seven.dropped == {"contempt (7-class protocol)": 2, "label none": 1}
    assert formats.read("affectnet", root, classes="7").meta["class_names"][-1] == "anger"
    with pytest.raises(FacesslError, match="7 .* or 8"):
        formats.read("affectnet", root, classes=6)


def test_affectnet_seven_classes_in_the_cropped_release(tmp_path):
    root = tmp_path / "AffectNet"
    for split, codes in (("train_set", ["1", "7"]), ("val_set", ["7", "2"])):
        for k, code in enumerate(codes):
            save_image(root / split / "images" / f"{k}.jpg", np.full((16, 16, 3), 100, np.uint8))
            (root / split / "annotations").mkdir(parents=True, exist_ok=True)
            np.save(root / split / "annotations" / f"{k}_exp.npy", np.array(code))
    seven = formats.read("affectnet", root, classes=7)
    assert list(seven.labels["class"]) == [1, 2] and list(seven.split) == ["train", "test"]
    assert seven.dropped["contempt (7-class protocol)"] == 2
    assert len(formats.read("affectnet", root).labels["class"]) == 4  # 8 classes: contempt kept


# --- FER+ -----------------------------------------------------------------------------------------------------
VOTES = {"happy": "0,10,0,0,0,0,0,0,0,0", "neutral": "8,0,0,2,0,0,0,0,0,0", "contempt": "0,0,0,0,0,0,0,7,3,0",
         "notface": "0,0,0,0,0,0,0,0,0,10", "split": "4,0,0,1,3,2,0,0,0,0"}
USAGES = ["Training", "Training", "PublicTest", "PrivateTest", "Training"]


def write_fer2013(path, n):
    rows = [f"{k % 7},{' '.join([str(10 * k)] * 2304)},{USAGES[k]}" for k in range(n)]
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")


def test_ferplus_first_release_without_image_name_column(tmp_path):
    folder = tmp_path / "ferplus"
    folder.mkdir()
    write_fer2013(folder / "fer2013.csv", 5)
    votes = [VOTES[k] for k in ("happy", "neutral", "contempt", "notface", "split")]
    (folder / "fer2013new.csv").write_text(
        "Usage,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
        + "".join(f"{u},{v}\n" for u, v in zip(USAGES, votes)))
    data = formats.read("ferplus", folder)
    assert list(data.labels["class"]) == [1, 0, 7]
    assert list(data.split) == ["train", "train", "val"]
    assert int(data.images[2, 0, 0, 0]) == 20  # the third row's pixels
    assert data.dropped == {"majority not a face": 1, "no majority vote": 1}


def test_ferplus_repository_tree_with_generated_folders(tmp_path):
    """FERPlus-master/: fer2013new.csv at the root, data/FER2013Train/label.csv ... with the PNGs
    generate_training_data.py wrote, and no fer2013.csv anywhere: the generated folders are read."""
    root = tmp_path / "FERPlus-master"
    root.mkdir()
    (root / "fer2013new.csv").write_text(
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
        f"Training,fer0000000.png,{VOTES['happy']}\n")
    lines = {"FER2013Train": [("fer0000000.png", VOTES["happy"]), ("fer0000001.png", VOTES["notface"])],
             "FER2013Test": [("fer0000002.png", VOTES["neutral"])]}
    for name, rows in lines.items():
        for file, _ in rows:
            save_image(root / "data" / name / file, np.full((48, 48, 3), 50, np.uint8))
        (root / "data" / name / "label.csv").write_text(
            "".join(f'{file},"(0, 0, 48, 48)",{v}\r\n' for file, v in rows))
    data = formats.read("ferplus", tmp_path)
    assert list(data.labels["class"]) == [1, 0] and list(data.split) == ["train", "test"]
    assert data.images[0].endswith("FER2013Train/fer0000000.png")
    assert data.dropped == {"majority not a face": 1}


def test_ferplus_label_csv_rows_without_the_box(tmp_path):
    folder = tmp_path / "FER2013Valid"
    save_image(folder / "fer0028638.png", np.full((48, 48, 3), 50, np.uint8))
    save_image(folder / "fer0028639.png", np.full((48, 48, 3), 50, np.uint8))
    (folder / "label.csv").write_text(f"fer0028638.png,{VOTES['contempt']}\n"
                                      f'fer0028639.png,"(0, 0, 48, 48)",{VOTES["neutral"]}\n')
    data = formats.read("ferplus", tmp_path)
    assert list(data.labels["class"]) == [7, 0] and list(data.split) == ["val", "val"]
    (folder / "label.csv").write_text(f"fer0028638.png,{VOTES['contempt']},1\n")
    with pytest.raises(DataFormatError, match="the box optional"):
        formats.read("ferplus", tmp_path)


def test_ferplus_with_fer2013_csv_still_reads_the_csv(tmp_path):
    """fer2013.csv beside fer2013new.csv wins over generated folders (behaviour kept)."""
    folder = tmp_path / "ferplus"
    folder.mkdir()
    write_fer2013(folder / "fer2013.csv", 2)
    (folder / "fer2013new.csv").write_text(
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
        f"Training,fer0000000.png,{VOTES['happy']}\nTraining,,{VOTES['notface']}\n")
    save_image(folder / "data" / "FER2013Train" / "fer0000000.png", np.full((48, 48, 3), 50, np.uint8))
    (folder / "data" / "FER2013Train" / "label.csv").write_text(f"fer0000000.png,{VOTES['neutral']}\n")
    data = formats.read("ferplus", folder)
    assert isinstance(data.images, np.ndarray) and list(data.labels["class"]) == [1]
    assert data.dropped == {"no FER+ image": 1}


# --- 300-W: HRNet's converted lists (data/300w/face_landmarks_300w_*.csv + images/), read as FaRL reads them -----
def hrnet_row(name, points):
    values = ",".join(f"{v:.3f}" for v in np.asarray(points).ravel())
    return f"{name},1.5,60.0,60.0,{values}"


def write_hrnet_300w(root, files, images_folder="images"):
    header = "image_name,scale,center_w,center_h," + ",".join(f"original_{k}_{a}" for k in range(68) for a in "xy")
    for csv_name, rows in files.items():
        for name, _ in rows:
            save_image(root / images_folder / name, np.full((120, 120, 3), 80, np.uint8))
        (root / f"face_landmarks_300w_{csv_name}.csv").write_text(
            header + "\n" + "\n".join(hrnet_row(n, p) for n, p in rows) + "\n")


def points68(shift):
    return np.stack([np.linspace(20, 90, 68), np.linspace(30, 80, 68)], axis=1) + shift


def test_300w_hrnet_lists_without_pts(tmp_path):
    root = tmp_path / "300w"
    write_hrnet_300w(root, {
        "train": [("afw/134212_1.jpg", points68(0)), ("helen/trainset/100032540_1.jpg", points68(1))],
        "valid": [("ibug/image_003_1.jpg", points68(2)), ("lfpw/testset/image_0001.png", points68(3))],
        "valid_common": [("lfpw/testset/image_0001.png", points68(3))],  # a half of valid: not read twice
        "test": [("300W/01_Indoor/indoor_001.png", points68(4))]})
    data = formats.read("300w", root)
    assert list(data.split) == ["train", "train", "test", "test", "private"]
    assert list(data.labels["subset"]) == ["afw", "helen/trainset", "ibug", "lfpw/testset", "01_Indoor"]
    np.testing.assert_allclose(data.labels["landmarks"][2], points68(2) - 2.0, atol=1e-3)  # FaRL: value - 2
    assert data.images[0].endswith("images/afw/134212_1.jpg")


def test_300w_hrnet_list_names_the_space_in_image_092(tmp_path):
    """FaRL's lists (CSVs beside ibug/ ...): HRNet names ibug/image_092_01.jpg, the release 'image_092 _01.jpg'."""
    root = tmp_path / "IBUG300W"
    write_hrnet_300w(root, {"valid_challenge": [("ibug/image_092 _01.jpg", points68(0))]}, images_folder=".")
    text = (root / "face_landmarks_300w_valid_challenge.csv").read_text().replace("image_092 _01", "image_092_01")
    (root / "face_landmarks_300w_valid_challenge.csv").write_text(text)
    data = formats.read("300w", root)
    assert data.images[0].endswith("ibug/image_092 _01.jpg") and list(data.split) == ["test"]


def test_300w_pts_files_win_over_hrnet_lists(tmp_path):
    from facessl.data.formats.w300 import W300Writer

    root = tmp_path / "300w"
    W300Writer(root / "images").add("ibug", "image_003_1.jpg", np.full((64, 64, 3), 60, np.uint8), points68(0) / 2)
    write_hrnet_300w(root, {"valid": [("ibug/image_003_1.jpg", points68(5))]})
    data = formats.read("300w", root)
    np.testing.assert_allclose(data.labels["landmarks"][0], points68(0) / 2, atol=1e-3)  # from the .pts
    with pytest.raises(DataFormatError, match="140 columns"):
        (root / "images" / "ibug" / "image_003_1.pts").unlink()
        (root / "face_landmarks_300w_valid.csv").write_text("image_name,scale,center_w,center_h,x\nibug/a.jpg,1,2,3,4\n")
        formats.read("300w", root)


# --- RAF-DB as PCL's configs lay it out: RAFDB/img/aligned/ + img/train_list.txt, img/test_list.txt ----------
def test_rafdb_pcl_split_lists_beside_aligned(tmp_path):
    img = tmp_path / "dataset" / "RAFDB" / "img"
    for name in ("train_00001", "train_00002", "test_0001"):
        save_image(img / "aligned" / f"{name}_aligned.jpg", np.full((20, 20, 3), 100, np.uint8))
    (img / "train_list.txt").write_text("train_00001.jpg 5\r\ntrain_00002.jpg 7\r\n")
    (img / "test_list.txt").write_text("test_0001.jpg 1\n")
    data = formats.read("rafdb", tmp_path / "dataset" / "RAFDB")  # the img/ folder found one level below
    assert list(data.labels["expression"]) == [4, 6, 0]  # RAF-DB label - 1 (PCL's lineardb: int(label) - 1)
    assert list(data.split) == ["train", "train", "test"]
    assert data.images[1].endswith("aligned/train_00002_aligned.jpg")
    (img / "test_list.txt").write_text("test_0001.jpg 9\n")
    with pytest.raises(DataFormatError, match="test_list.txt.*label 1..7|label 1..7"):
        formats.read("rafdb", img)


def test_rafdb_official_list_wins_over_pcl_lists(tmp_path):
    img = tmp_path / "img"
    save_image(img / "aligned" / "train_00001_aligned.jpg", np.full((20, 20, 3), 100, np.uint8))
    save_image(img / "aligned" / "test_0001_aligned.jpg", np.full((20, 20, 3), 100, np.uint8))
    (img / "list_patition_label.txt").write_text("train_00001.jpg 2\ntest_0001.jpg 3\n")
    (img / "train_list.txt").write_text("train_00001.jpg 5\n")
    data = formats.read("rafdb", img)
    assert list(data.labels["expression"]) == [1, 2] and list(data.split) == ["train", "test"]


# --- CelebA as torchvision's datasets.CelebA lays it out: ROOT/celeba/ with the lists flat -------------------------
ATTRS = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
         "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
         "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
         "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
         "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()


def test_celeba_and_mafl_in_torchvision_root(tmp_path):
    celeba = tmp_path / "data" / "celeba"
    names = ["000001.jpg", "000002.jpg", "000003.jpg"]
    for name in names:
        save_image(celeba / "img_align_celeba" / name, np.full((218, 178, 3), 70, np.uint8))
    rows = ["-1 " * 39 + "1", "1 " + "-1 " * 39, "-1  " * 20 + "1  " * 20]
    (celeba / "list_attr_celeba.txt").write_text(
        "3\n" + " ".join(ATTRS) + " \n" + "".join(f"{n} {r.strip()}\n" for n, r in zip(names, rows)))
    (celeba / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n")
    (celeba / "list_landmarks_align_celeba.txt").write_text(
        "3\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n"
        + "".join(f"{n}  69  109  106  113   77  142   73  152  108  154\n" for n in names))
    (celeba / "MAFL").mkdir()
    (celeba / "MAFL" / "training.txt").write_text("000001.jpg\n000002.jpg\n")
    (celeba / "MAFL" / "testing.txt").write_text("000003.jpg\n")
    data = formats.read("celeba", tmp_path / "data")
    assert list(data.split) == ["train", "val", "test"]
    assert data.labels["attributes"][0, -1] == 1 and data.labels["attributes"][0, :-1].sum() == 0
    assert data.labels["attributes"][1, 0] == 1 and data.labels["attributes"][2, 20:].sum() == 20
    mafl = formats.read("mafl", tmp_path / "data")
    assert list(mafl.split) == ["train", "train", "test"]
    np.testing.assert_allclose(mafl.labels["landmarks"][2], [[69, 109], [106, 113], [77, 142], [73, 152], [108, 154]])


def test_affectnet_compressed_wrapper_and_headed_validation_list(tmp_path):
    """Manually_Annotated_compressed/Manually_Annotated_Images/ (a loader's path) and a validation.csv with a header."""
    root = tmp_path / "AffectNet"
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    save_image(root / "Manually_Annotated_compressed" / "Manually_Annotated_Images" / "3" / "x.jpg",
               np.full((40, 40, 3), 120, np.uint8))
    (lists / "validation.csv").write_text(LIST_HEADER + '\n3/x.jpg,2,2,30,30,"1;2",5,0.3,0.4\n')
    data = formats.read("affectnet", root)
    assert list(data.labels["class"]) == [5] and list(data.split) == ["test"]
    assert "Manually_Annotated_compressed" in str(data.images[0]) and data.images[0].box == (2, 2, 32, 32)
