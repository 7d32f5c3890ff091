"""Readers on benchmarks laid out as their owners distribute them, unpacked with the folders their archives
carry (300W-LP's Code/, the Drive download's CelebA/, Kaggle's fer2013/, a zip unpacked into a folder of its
own name), and a malformed line in each reported as one line naming the file and the line.

Every fixture is written here from the documented layout (tiny images), never from the real data.
"""
import numpy as np
import pytest

from image_toys import write
from facessl.cli import main
from facessl.data import formats
from facessl.data.formats.aflw2000 import savemat_deterministic
from facessl.data.formats.imagefiles import save_image as _save
from facessl.errors import DataFormatError

RNG = np.random.default_rng(7)


def face(size=12):
    return RNG.integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def save_image(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, image)


def one_line_error(call, pattern):
    """The DataFormatError `call` raises: matches `pattern`, one line (no stack trace, no listing)."""
    with pytest.raises(DataFormatError, match=pattern) as caught:
        call()
    assert "\n" not in str(caught.value)
    return caught.value


# --- 300W-LP: the release's Code/ folder holds the 3DMM's own .mat files ---------------------------------
def test_300wlp_skips_the_3dmm_model_files_under_code(tmp_path):
    """300W_LP.zip holds Code/ModelGeneration/Model_Shape.mat, Model_Exp.mat (no image, no Pose_Para) beside
    the samples; they were read as samples and stopped the read with 'no image beside this .mat'."""
    root = tmp_path / "300W_LP"
    for stem in ("AFW/AFW_134212_1_0", "IBUG_Flip/IBUG_image_003_1_0"):
        save_image(root / f"{stem}.jpg", face(20))
        savemat_deterministic(root / f"{stem}.mat", {"Pose_Para": np.array([[0.1, -0.2, 0.0, 10, 10, 0, 0.001]]),
                                                     "pt2d": RNG.uniform(0, 19, (2, 68))})
    for name in ("Model_Shape.mat", "Model_Exp.mat", "model_info.mat"):
        (root / "Code" / "ModelGeneration").mkdir(parents=True, exist_ok=True)
        savemat_deterministic(root / "Code" / "ModelGeneration" / name, {"mu_shape": np.zeros((3, 1))})
    got = formats.read("300wlp", tmp_path)
    assert len(got) == 2 and sorted(got.labels["subset"]) == ["300W_LP/AFW", "300W_LP/IBUG_Flip"]
    np.testing.assert_allclose(got.labels["pose"][0], np.rad2deg([-0.2, 0.1, 0.0]), atol=1e-4)


def test_aflw2000_sample_without_pose_para_names_the_file(tmp_path):
    root = tmp_path / "AFLW2000"
    save_image(root / "image00002.jpg", face(20))
    savemat_deterministic(root / "image00002.mat", {"pt3d_68": np.zeros((3, 68))})
    one_line_error(lambda: formats.read("aflw2000", tmp_path),
                   r"image00002\.mat: missing field Pose_Para \(expected 1x7")


# --- FER+: fer2013new.csv beside Kaggle's fer2013/ folder, or inside FERPlus-master/ -------------------------
FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def pixels(value):
    return " ".join([str(value)] * 2304)


def write_ferplus(label_folder, pixel_csv, votes="0,10,0,0,0,0,0,0,0,0"):
    write(pixel_csv, f"emotion,pixels,Usage\n3,{pixels(10)},Training\n4,{pixels(20)},PrivateTest\n")
    write(label_folder / "fer2013new.csv", f"{FERPLUS_HEADER}\nTraining,fer0000000.png,{votes}\n"
          "PrivateTest,fer0000001.png,9,0,0,1,0,0,0,0,0,0\n", crlf=True, bom=True)


@pytest.mark.parametrize("layout", ["fer2013-beside", "FERPlus-master-wrapper"])
def test_ferplus_finds_fer2013_csv_in_the_tarballs_folder(tmp_path, layout):
    """fer2013.tar.gz unpacks to fer2013/fer2013.csv; the FERPlus repository's zip to FERPlus-master/. The first
    stopped the read with "FER-2013's CSV ... not found beside fer2013new.csv", the second with 'labels not found'."""
    labels = tmp_path if layout == "fer2013-beside" else tmp_path / "FERPlus-master"
    write_ferplus(labels, labels / "fer2013" / "fer2013.csv")
    got = formats.read("ferplus", tmp_path)
    assert list(got.labels["class"]) == [1, 0] and list(got.split) == ["train", "test"]
    assert got.images[1, 0, 0, 0] == 20  # the second pixel row, matched row by row


def test_ferplus_bad_vote_and_missing_pixels_are_one_line(tmp_path):
    write_ferplus(tmp_path, tmp_path / "fer2013" / "fer2013.csv", votes="0,ten,0,0,0,0,0,0,0,0")
    one_line_error(lambda: formats.read("ferplus", tmp_path), r"fer2013new\.csv:2: expected a vote count, got 'ten'")
    (tmp_path / "fer2013" / "fer2013.csv").unlink()
    one_line_error(lambda: formats.read("ferplus", tmp_path), r"fer2013\.csv: FER-2013's CSV .* not found beside")


# --- CelebA / MAFL: the Drive folder downloads as CelebA/, MAFL's lists beside it ------------------------
LANDMARK_HEADER = ("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
                   "rightmouth_y")
ATTRIBUTES = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
              "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair "
              "Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face "
              "Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair "
              "Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()


def write_celeba_drive(root, landmark_row2="000002.jpg  70 110 107 112  88 135  72 152 104 151"):
    """CelebA/ as the Drive folder downloads: Anno/, Eval/, Img/img_align_celeba/ (CRLF lists, runs of spaces)."""
    celeba = root / "CelebA"
    for name in ("000001.jpg", "000002.jpg"):
        save_image(celeba / "Img" / "img_align_celeba" / name, face(20))
    write(celeba / "Anno" / "list_landmarks_align_celeba.txt", f"2\n{LANDMARK_HEADER}\n"
          "000001.jpg  69 109 106 113  77 142  73 152 108 154\n" + landmark_row2 + "\n", crlf=True)
    values = " ".join(["-1"] * 31 + ["1"] + ["-1"] * 8)
    write(celeba / "Anno" / "list_attr_celeba.txt", f"2\n{' '.join(ATTRIBUTES)} \n000001.jpg {values}\n"
          f"000002.jpg {values.replace('1', '-1').replace('--', '-')}\n", crlf=True)
    write(celeba / "Eval" / "list_eval_partition.txt", "000001.jpg 0\n000002.jpg 2\n", crlf=True)
    return celeba


def test_celeba_and_mafl_in_the_drive_download_folder(tmp_path):
    """Pointing at the folder holding CelebA/ stopped both readers: 'list_attr_celeba.txt not found' and
    'list_landmarks_align_celeba.txt: CelebA landmark list not found'. MAFL's lists may sit in CelebA/MAFL/ or
    beside CelebA/."""
    celeba = write_celeba_drive(tmp_path)
    got = formats.read("celeba", tmp_path, attributes="Smiling")
    assert list(got.split) == ["train", "test"] and got.labels["attributes"][:, 0].tolist() == [1.0, 0.0]
    for lists in (tmp_path / "MAFL", celeba / "MAFL"):
        write(lists / "training.txt", "000001.jpg\n", crlf=True)
        write(lists / "testing.txt", "000002.jpg\n", crlf=True)
        got = formats.read("mafl", tmp_path)
        assert list(got.split) == ["train", "test"] and got.labels["landmarks"][1, 4].tolist() == [104, 151]
        assert got.images[0].endswith("CelebA/Img/img_align_celeba/000001.jpg")
        for name in ("training.txt", "testing.txt"):
            (lists / name).unlink()


def test_mafl_short_landmark_row_is_one_line(tmp_path):
    write_celeba_drive(tmp_path, landmark_row2="000002.jpg  70 110 107 112  88 135  72 152 104")
    write(tmp_path / "MAFL" / "training.txt", "000001.jpg\n")
    write(tmp_path / "MAFL" / "testing.txt", "000002.jpg\n")
    one_line_error(lambda: formats.read("mafl", tmp_path),
                   r"list_landmarks_align_celeba\.txt:4: expected an image name and 10 coordinates, got 10 fields")


# --- CFP: cfp-dataset.zip unpacked into a folder of its own name --------------------------------------------
def write_cfp(data, same="1,1\n"):
    for person in ("001", "002"):
        save_image(data / "Data" / "Images" / person / "frontal" / "01.jpg", face())
        save_image(data / "Data" / "Images" / person / "profile" / "01.jpg", face())
    protocol = data / "Protocol"
    write(protocol / "Pair_list_F.txt", "1 ../Data/Images/001/frontal/01.jpg\n2 ../Data/Images/002/frontal/01.jpg\n",
          crlf=True, bom=True)
    write(protocol / "Pair_list_P.txt", "1 ../Data/Images/001/profile/01.jpg\n2 ../Data/Images/002/profile/01.jpg\n",
          crlf=True)
    write(protocol / "Split" / "FP" / "01" / "same.txt", same, crlf=True)
    write(protocol / "Split" / "FP" / "01" / "diff.txt", "1,2\n", crlf=True)


def test_cfp_below_a_doubled_or_kaggle_folder(tmp_path):
    """`unzip -d cfp-dataset cfp-dataset.zip` gives cfp-dataset/cfp-dataset/; the folder above it stopped the
    read with 'CFP not found: expected Protocol/Pair_list_F.txt here, in cfp-dataset/'."""
    write_cfp(tmp_path / "cfp-dataset" / "cfp-dataset")
    write_cfp(tmp_path / "kaggle" / "archive" / "cfp-dataset")
    for root in (tmp_path, tmp_path / "kaggle"):
        got = formats.read("cfp", root)
        assert list(got.same) == [True, False] and list(got.fold) == [0, 0]
        assert "cfp-dataset/Data/Images/001/profile/01.jpg" in got.images.images[got.pairs[0][1]]


def test_cfp_bad_pair_line_is_one_line(tmp_path):
    write_cfp(tmp_path / "cfp-dataset" / "cfp-dataset", same="1,1\n1;2\n")
    one_line_error(lambda: formats.read("cfp", tmp_path), r"same\.txt:2: expected 'i,j'")


# --- FairFace: the label files and image folder unpacked into one folder -----------------------------------
FAIRFACE_HEADER = "file,age,gender,race,service_test"


def write_fairface(root, race="East Asian"):
    images = root / "fairface-img-margin025-trainval"
    save_image(images / "train" / "1.jpg", face())
    save_image(images / "val" / "1.jpg", face())
    write(root / "fairface_label_train.csv", f"{FAIRFACE_HEADER}\ntrain/1.jpg,50-59,Male,{race},True\n", crlf=True)
    write(root / "fairface_label_val.csv", f"{FAIRFACE_HEADER}\nval/1.jpg,3-9,Female,Indian,False\n", crlf=True)


def test_fairface_in_a_folder_of_its_own(tmp_path):
    """Everything downloaded into fairface/: the folder above stopped the read with 'FairFace labels not found'."""
    write_fairface(tmp_path / "fairface")
    got = formats.read("fairface", tmp_path)
    assert got.labels["class"].tolist() == [3, 5] and list(got.split) == ["train", "test"]
    assert formats.read("fairface-age", tmp_path).labels["class"].tolist() == [6, 1]


def test_fairface_unknown_race_is_one_line(tmp_path):
    write_fairface(tmp_path / "fairface", race="Martian")
    one_line_error(lambda: formats.read("fairface", tmp_path), r"fairface_label_train\.csv:2: race 'Martian' is not one of")


# --- DISFA: the label folder inside DISFA/ ----------------------------------------------------------------
def write_disfa(root, bad_line=None):
    for au in (1, 2, 4, 6, 9, 12, 25, 26):
        lines = [f"{k},{(k + au) % 6}" for k in (1, 2)]
        if au == 4 and bad_line:
            lines[1] = bad_line
        write(root / "ActionUnit_Labels" / "SN001" / f"SN001_au{au}.txt", "\n".join(lines) + "\n", crlf=True)
    for k in (1, 2):
        save_image(root / "Images" / "SN001" / f"{k:05d}.jpg", face())


def test_disfa_inside_a_wrapper_folder(tmp_path):
    """DISFA/ActionUnit_Labels/SN001/SN001_au1.txt: the folder above DISFA/ stopped the read with 'DISFA label
    folder not found'."""
    write_disfa(tmp_path / "DISFA")
    got = formats.read("disfa", tmp_path)
    assert got.labels["frame"].tolist() == [1, 2] and got.labels["aus"][0].tolist() == [2, 3, 5, 1, 4, 1, 2, 3]


def test_disfa_bad_intensity_line_is_one_line(tmp_path):
    write_disfa(tmp_path / "DISFA", bad_line="2;3")
    one_line_error(lambda: formats.read("disfa", tmp_path), r"SN001_au4\.txt:2: expected 'frame,intensity', got '2;3'")


# --- LFW: lfw.tgz's lfw/ beside the pairs.txt downloaded on its own -------------------------------------------
def write_lfw(root, pairs):
    for name in ("Ann_Lee", "Bo_Chen"):
        for k in (1, 2):
            save_image(root / "lfw" / name / f"{name}_{k:04d}.jpg", face())
    write(root / "pairs.txt", pairs, crlf=True, bom=True)


def test_lfw_ten_fold_header_with_bom_and_crlf(tmp_path):
    write_lfw(tmp_path, "2\t1\nAnn_Lee\t1\t2\nAnn_Lee\t1\tBo_Chen\t1\nBo_Chen\t1\t2\nBo_Chen\t2\tAnn_Lee\t2\n")
    got = formats.read("lfw", tmp_path)
    assert got.same.tolist() == [True, False, True, False] and got.fold.tolist() == [0, 0, 1, 1]


def test_lfw_short_pair_line_is_one_line(tmp_path):
    write_lfw(tmp_path, "1\t1\nAnn_Lee\t1\nAnn_Lee\t1\tBo_Chen\t1\n")
    one_line_error(lambda: formats.read("lfw", tmp_path),
                   r"pairs\.txt:2: expected a same-identity pair 'Name<TAB>i<TAB>j' \(fold 1\), got 'Ann_Lee 1'")


# --- facessl inspect on such a tree, and its one-line error ---------------------------------------------------
def test_inspect_reads_a_wrapped_release_and_reports_a_bad_line_in_one_line(tmp_path, capsys):
    write_disfa(tmp_path / "ok" / "DISFA")
    assert main(["inspect", "--dataset", f"disfa:{tmp_path / 'ok'}"]) == 0
    assert "2" in capsys.readouterr().out
    write_disfa(tmp_path / "bad" / "DISFA", bad_line="2,seven")
    assert main(["inspect", "--dataset", f"disfa:{tmp_path / 'bad'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "SN001_au4.txt:2: expected an intensity 0..5, got 'seven'" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_samples_in_a_folder_named_code_are_still_read(tmp_path):
    """Only Code/'s image-less model files are passed over: a user's own code/AFLW2000/ is read."""
    root = tmp_path / "code" / "AFLW2000"
    save_image(root / "image00002.jpg", face(20))
    savemat_deterministic(root / "image00002.mat", {"Pose_Para": np.array([[0.0, 0.3, 0.0, 10, 10, 0, 0.001]]),
                                                    "pt3d_68": np.zeros((3, 68))})
    got = formats.read("aflw2000", tmp_path)
    assert len(got) == 1 and got.labels["subset"].tolist() == ["code/AFLW2000"]


# --- session 31: layouts a user really has -------------------------------------------------------------------
def test_lfw_kaggle_copy_inside_its_archive_folder(tmp_path):
    root = tmp_path / "lfw_kaggle" / "archive"
    for name in ("Ann_Lee", "Bo_Chen"):
        for k in (1, 2):
            save_image(root / "lfw-deepfunneled" / "lfw-deepfunneled" / name / f"{name}_{k:04d}.jpg", face())
    write(root / "pairs.csv", "name,imagenum1,imagenum2,\nAnn_Lee,1,2,\nAnn_Lee,1,Bo_Chen,1\n", crlf=True)
    got = formats.read("lfw", tmp_path / "lfw_kaggle")
    assert got.same.tolist() == [True, False]


def test_aflw2000_finds_300w_lp_as_released_and_inspect_needs_no_training_set(tmp_path, capsys):
    mat = {"Pose_Para": np.array([[0.0, 0.3, 0.0, 10, 10, 0, 0.001]]), "pt3d_68": np.zeros((3, 68))}
    for folder in ("posedata/AFLW2000/image00002", "posedata/300W_LP/AFW/AFW_1_1_0", "alone/AFLW2000/image00002"):
        save_image(tmp_path / f"{folder}.jpg", face(20))
        savemat_deterministic(tmp_path / f"{folder}.mat", mat)
    from facessl.evaluate.suite import TaskSpec

    spec = TaskSpec("", f"aflw2000:{tmp_path / 'posedata' / 'AFLW2000'}")
    assert spec.train_dataset == f"300wlp:{tmp_path / 'posedata' / '300W_LP'}"
    assert main(["inspect", "--dataset", f"aflw2000:{tmp_path / 'alone' / 'AFLW2000'}"]) == 0
    printed = capsys.readouterr().out
    assert "task pose (eval: task 'pose' on aflw2000 needs a training set" in printed and "images: 1" in printed


def test_an_affectnet_copy_in_another_layout_is_told_what_reads_it(tmp_path):
    for c in ("anger", "happy", "neutral"):
        save_image(tmp_path / "kaggle" / "archive" / "Train" / c / "0.jpg", face())
    one_line_error(lambda: formats.read("affectnet", tmp_path / "kaggle"),
                   f"a copy in class folders \\(train/<class>/\\) is read as imagefolder:{tmp_path / 'kaggle'}")
    save_image(tmp_path / "yolo" / "YOLO_format" / "train" / "images" / "0.jpg", face())
    write(tmp_path / "yolo" / "YOLO_format" / "train" / "labels" / "0.txt", "3 0.5 0.5 1 1\n")
    one_line_error(lambda: formats.read("affectnet", tmp_path / "yolo"), "looks like a YOLO-format copy")


def test_an_affectnet_class_folder_copy_with_labels_csv_is_sent_to_its_label_column(tmp_path):
    # Kaggle's noamsegal/affectnet-training-data: archive/<class>/imageNNNNNNN.jpg + labels.csv `,pth,label,relFCs`,
    # whose label disagrees with the folder for some images (e.g. anger/image0000006.jpg labelled surprise)
    root = tmp_path / "kaggle" / "archive"
    rows = [",pth,label,relFCs"]
    for k, (folder, label) in enumerate([("anger", "surprise"), ("anger", "anger"), ("happy", "happy"),
                                         ("neutral", "neutral"), ("happy", "happy"), ("neutral", "neutral")]):
        save_image(root / folder / f"image{k:07d}.jpg", face())
        rows.append(f"{k},{folder}/image{k:07d}.jpg,{label},0.87")
    write(root / "labels.csv", "\n".join(rows) + "\n")
    one_line_error(lambda: formats.read("affectnet", tmp_path / "kaggle"),
                   f"its labels.csv \\(pth,label\\) labels each image, for some images otherwise than its folder "
                   f"\\(as users of this copy report\\): "
                   f"read it as csv:{root / 'labels.csv'} with --reader-option image_column=pth "
                   f"--reader-option label_column=label")
    got = formats.read("csv", root / "labels.csv", image_column="pth", label_column="label")
    assert got.meta["class_names"][got.labels["class"][0]] == "surprise"


def test_an_affectnet_copy_in_numbered_folders_is_not_taken_for_code_order(tmp_path):
    for split in ("train", "val", "test"):
        for code in range(8):
            save_image(tmp_path / "AffectNet" / split / str(code) / "0.jpg", face())
    one_line_error(lambda: formats.read("affectnet", tmp_path),
                   f"numbered class folders \\(0/, 1/, ...\\) are numbered by whoever made the copy, not always in "
                   f"AffectNet's code order: read them as imagefolder:{tmp_path}")
    for number in (1, 2, 689):  # the release's Manually_Annotated_Images/<n>/ are not class folders
        save_image(tmp_path / "other" / "Manually_Annotated_Images" / str(number) / "a.jpg", face())
    with pytest.raises(DataFormatError) as error:
        formats.read("affectnet", tmp_path / "other")
    assert "numbered class folders" not in str(error.value)


def test_image_folders_with_one_file_name_in_two_classes_are_two_groups(tmp_path):
    for c in ("angry", "happy"):
        for k in range(3):
            save_image(tmp_path / "set" / c / f"im{k}.png", face())
    got = formats.read("imagefolder", tmp_path / "set")
    assert len(set(got.labels["group"].tolist())) == 6
