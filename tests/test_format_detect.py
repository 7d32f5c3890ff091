"""`--dataset PATH` without a FORMAT: prefix: formats.detect recognises a layout by its marker files, and
parse_dataset uses it (one notice on stderr), refuses several or none in one line, and keeps FORMAT:PATH."""
import pytest

from facessl.cli import main
from facessl.data.formats import READERS
from facessl.data.formats.detect import FILE_LAYOUTS, LAYOUTS, SAME_FILES, detect, detect_layout
from facessl.errors import FacesslError
from facessl.evaluate import suite

# format -> the files (and folders, ending in /) of a tiny copy of its layout, named as released
TREES = {
    "rafdb": ["EmoLabel/list_patition_label.txt", "Image/aligned/train_00001_aligned.jpg"],
    "rafdb-compound": ["RAF-DB/compound/EmoLabel/list_patition_label.txt",
                       "RAF-DB/compound/Image/aligned/train_0001_aligned.jpg"],
    "fer2013": ["fer2013/fer2013.csv"],
    "ferplus": ["fer2013new.csv", "fer2013.csv"],
    "affectnet": ["Manually_Annotated_file_lists/training.csv", "Manually_Annotated_file_lists/validation.csv",
                  "Manually_Annotated_Images/1/a.jpg"],
    "lfw": ["pairs.txt", "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"],
    "cplfw": ["pairs_CPLFW.txt", "images/Aaron_Eckhart_1.jpg"],
    "calfw": ["pairs_CALFW.txt", "aligned images/Aaron_Eckhart_0001.jpg"],
    "cfp": ["cfp-dataset/Protocol/Pair_list_F.txt", "cfp-dataset/Protocol/Pair_list_P.txt",
            "cfp-dataset/Data/Images/001/frontal/01.jpg"],
    "aflw2000": ["image00002.jpg", "image00002.mat", "image00004.jpg", "image00004.mat"],
    "300wlp": ["AFW/AFW_134212_1_0.jpg", "AFW/AFW_134212_1_0.mat", "HELEN_Flip/HELEN_1_1_0.mat",
               "landmarks/AFW/AFW_134212_1_0_pts.mat"],
    "disfa": ["ActionUnit_Labels/SN001/SN001_au1.txt", "Images/SN001/00001.jpg"],
    "bp4d": ["AUCoding/AU_OCC/F001_T1.csv", "Sequences/F001/T1/0001.jpg"],
    "300w": ["afw/134212_1.jpg", "afw/134212_1.pts", "ibug/image_003_1.jpg", "ibug/image_003_1.pts"],
    "celeba": ["Img/img_align_celeba/000001.jpg", "Anno/list_attr_celeba.txt", "Eval/list_eval_partition.txt"],
    "mafl": ["img_align_celeba/000001.jpg", "list_landmarks_align_celeba.txt", "training.txt", "testing.txt"],
    "voxceleb": ["id10001/1zcIwhmdeo4/00001/0001.jpg", "id10002/abcdefghijk/00001/0001.jpg"],
    "utkface": ["UTKFace/25_0_1_20170116174525125.jpg.chip.jpg", "UTKFace/26_1_0_20170116174525126.jpg.chip.jpg"],
    "fairface": ["fairface_label_train.csv", "fairface_label_val.csv", "fairface-img-margin025-trainval/train/1.jpg"],
    "insightface-bin": ["faces_webface_112x112/lfw.bin", "faces_webface_112x112/cfp_fp.bin"],
    "insightface-rec": ["train.rec", "train.idx", "property"],
    "parquet": ["data/train-00000-of-00001.parquet", "data/test-00000-of-00001.parquet", "README.md"],
    "imagefolder": ["happy/0001.jpg", "sad/0002.png"],
    "yolo": ["data.yaml", "train/images/a.jpg", "train/labels/a.txt", "valid/images/b.jpg", "valid/labels/b.txt"],
    "coco": ["train/_annotations.coco.json", "train/a_jpg.rf.0123.jpg"],
    "voc": ["Annotations/a.xml", "JPEGImages/a.jpg", "ImageSets/Main/train.txt"],
    "dfew": ["DFEW/EmoLabel_DataSplit/train(single-labeled)/set_1.csv", "DFEW/Clip/clip_224x224/00001/00001_00001.jpg"],
    "expw": ["data/label/label.lst", "data/image/origin/a.jpg"],
    "ckplus": ["cohn-kanade-images/S005/001/S005_001_00000001.png", "Emotion/S005/001/S005_001_00000011_emotion.txt"],
    "kdef": ["KDEF/AF01/AF01ANS.JPG", "KDEF/AF01/AF01HAS.JPG"],
    "jaffe": ["jaffe/KA.AN1.39.tiff", "jaffe/README_FIRST.txt"],
    "affwild2-au": ["Annotations/AU_Detection_Challenge/Train_Set/1-30-1280x720.txt", "cropped_aligned/1-30-1280x720/00001.jpg"],
    "aflw": ["aflw/data/aflw.sqlite", "aflw/data/flickr/0/image00002.jpg"],
    "cofw": ["COFW_train_color.mat", "COFW_test_color.mat"],
    "ytf": ["YouTubeFaces/frame_images_DB/Aaron_Eckhart/0/0.555.jpg", "splits.txt"],
    "biwi": ["hpdb/01/rgb.cal", "hpdb/01/frame_00003_rgb.png", "hpdb/01/frame_00003_pose.txt"],
    "bu3dfe": ["F0001/F0001_HA03WH_yaw+30.jpg", "test_subjects.txt"],
    "ravdess": ["Actor_01/01-01-03-02-01-01-01.mp4", "Actor_02/02-01-03-02-01-01-02.mp4"],
    "agedb": ["AgeDB/0_MariaCallas_35_f.jpg", "AgeDB/1_MariaCallas_40_f.jpg"],
}
# the cropped AffectNet release, the second layout of the same reader
TREES_ALSO = {"affectnet": ["AffectNet/train_set/images/0.jpg", "AffectNet/train_set/annotations/0_exp.npy",
                            "AffectNet/val_set/annotations/0_exp.npy"]}


def make_tree(root, files):
    for rel in files:
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    return root


@pytest.fixture(autouse=True)
def fresh_notices():
    suite._DETECTED.clear()  # each test sees its own notices
    yield
    suite._DETECTED.clear()


def test_the_table_covers_every_format():
    folders = {layout.format for layout in LAYOUTS}
    files = {fmt for _, fmt, _ in FILE_LAYOUTS}
    variants = {name for names in SAME_FILES.values() for name in names}
    assert folders | files <= set(READERS)
    assert set(READERS) - folders - files - variants == set()  # a variant reads its base's files


@pytest.mark.parametrize("fmt", sorted(TREES))
def test_each_layout_is_detected_as_itself_alone(tmp_path, fmt):
    assert detect(make_tree(tmp_path / "set", TREES[fmt])) == [fmt]


@pytest.mark.parametrize("fmt", sorted(TREES_ALSO))
def test_a_second_layout_of_a_format_is_detected(tmp_path, fmt):
    assert detect(make_tree(tmp_path / "set", TREES_ALSO[fmt])) == [fmt]


@pytest.mark.parametrize("name,fmt", [("fer2013.csv", "fer2013"), ("fer2013new.csv", "ferplus"), ("lfw.bin", "insightface-bin"),
                                      ("train.rec", "insightface-rec"), ("train-00000-of-00001.parquet", "parquet"),
                                      ("labels.csv", "csv"), ("faces.xlsx", "csv"), ("pairs_CALFW.txt", "calfw")])
def test_a_file_is_detected_by_its_name(tmp_path, name, fmt):
    assert detect(make_tree(tmp_path, [name]) / name) == [fmt]


def test_an_archive_folder_above_the_release_is_looked_through(tmp_path):
    make_tree(tmp_path / "download" / "RAF-DB" / "basic", TREES["rafdb"])
    assert detect(tmp_path / "download") == ["rafdb"]
    make_tree(tmp_path / "raf_both" / "basic", TREES["rafdb"])
    make_tree(tmp_path / "raf_both" / "compound", TREES["rafdb"])
    found = detect_layout(tmp_path / "raf_both")  # both sets: the basic one, the compound named
    assert found.formats == ["rafdb"] and found.alternatives["rafdb"] == ("rafdb-compound",)


def test_the_lfw_image_folder_with_pairs_beside_it(tmp_path):
    make_tree(tmp_path, ["pairs.txt", "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"])
    assert detect(tmp_path / "lfw") == ["lfw"]
    people = ["lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "lfw/Abba_Eban/Abba_Eban_0001.jpg"]
    assert detect(make_tree(tmp_path / "elsewhere", people) / "lfw") == ["imagefolder"]  # no pairs: class folders


def test_variants_resolve_to_the_base_or_the_distinctive_one(tmp_path):
    lfw = detect_layout(make_tree(tmp_path / "lfw", TREES["lfw"]))
    assert lfw.formats == ["lfw"] and set(lfw.alternatives["lfw"]) == {"cplfw", "calfw"}
    both = detect(make_tree(tmp_path / "cp", TREES["lfw"] + ["pairs_CPLFW.txt"]))
    assert both == ["cplfw"]  # its own pairs file says which
    utk = detect_layout(make_tree(tmp_path / "utk", TREES["utkface"]))
    assert utk.formats == ["utkface"] and utk.alternatives["utkface"] == ("utkface-gender", "utkface-race")
    fair = detect_layout(make_tree(tmp_path / "fair", TREES["fairface"]))
    assert fair.alternatives["fairface"] == ("fairface-gender", "fairface-age")
    abaw = detect_layout(make_tree(tmp_path / "abaw", ["Annotations/EXPR_Recognition_Challenge/Train_Set/a.txt",
                                                       "Annotations/VA_Estimation_Challenge/Train_Set/a.txt"]))
    assert abaw.formats == ["affwild2-expr"] and abaw.alternatives["affwild2-expr"] == ("affwild2-va",)


def test_fallbacks_only_when_nothing_specific_matches(tmp_path):
    assert detect(make_tree(tmp_path / "k", ["DATASET/train/1/train_00001_aligned.jpg",
                                             "DATASET/test/1/test_0001_aligned.jpg"])) == ["rafdb"]
    assert detect(make_tree(tmp_path / "split", ["train/happy/a.jpg", "test/happy/b.jpg"])) == ["imagefolder"]
    assert detect(make_tree(tmp_path / "empty", ["readme.txt"])) == []
    assert detect(make_tree(tmp_path / "one", ["photos/a.jpg", "photos/b.jpg"])) == []  # one folder is no classes


@pytest.mark.parametrize("fmt, files", [
    ("ckplus", ["CK+/extended-cohn-kanade-images/cohn-kanade-images/S005/001/S005_001_00000001.png",
                "CK+/Emotion_labels/Emotion/S005/001/S005_001_00000011_emotion.txt"]),
    ("wflw", ["WFLW/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_train.txt",
              "WFLW/WFLW_images/0--Parade/a.jpg"]),
    ("wflw", ["face_landmarks_wflw_train.csv", "face_landmarks_wflw_test.csv", "WFLW_images/0--Parade/a.jpg"]),
    ("mtfl", ["MTFL/training.txt", "MTFL/testing.txt", "MTFL/lfw_5590/a.jpg", "MTFL/net_7876/b.jpg"]),
    ("aflw19", ["aflw-19/AFLWinfo_release.mat", "aflw-21/data/flickr/0/image00002.jpg"]),
    ("kdef", ["KDEF_and_AKDEF/KDEF_and_AKDEF/KDEF/AF01/AF01ANS.JPG", "KDEF_and_AKDEF/KDEF_and_AKDEF/KDEF/AF01/AF01HAS.JPG"]),
    ("jaffe", ["jaffedbase/jaffe/KA.AN1.39.tiff", "jaffedbase/jaffe/KA.HA1.29.tiff"]),
    ("300vw", ["300VW_Dataset_2015_12_14/300VW_Dataset_2015_12_14/001/annot/000001.pts"]),
    ("aflw2000", ["AFLW2000.npz"]),
    ("300wlp", ["AFW.npz", "AFW_Flip.npz", "HELEN.npz"]),
    ("rafdb", ["img/train_list.txt", "img/test_list.txt", "img/aligned/train_00001_aligned.jpg"]),
    ("300w", ["data/300w/face_landmarks_300w_train.csv", "data/300w/face_landmarks_300w_valid.csv",
              "data/300w/images/ibug/image_003_1.jpg"]),
    ("adience", ["folds/train_val_txt_files_per_fold/test_fold_is_0/age_test.txt",
                 "DATA/aligned/62501130@N02/landmark_aligned_face.97.a.jpg"]),
])
def test_wrapped_and_converted_copies(tmp_path, fmt, files):
    assert detect(make_tree(tmp_path / "copy", files)) == [fmt]


def test_voxceleb1_released_frames(tmp_path):
    root = make_tree(tmp_path / "vox1", ["unzippedFaces/A.J._Buckley/1.6/1zcIwhmdeo4/0000375.jpg",
                                         "unzippedFaces/A.J._Buckley/1.6/7gWzIy6yIIk/0000001.jpg"])
    assert detect(root) == ["voxceleb"] and detect(root / "unzippedFaces") == ["voxceleb"]


def test_photos_with_their_label_table_beside_them_are_read_as_the_table(tmp_path):
    root = make_tree(tmp_path / "expressions", ["legend.csv", "images/a.jpg", "images/b.jpg"])
    found = detect_layout(root)
    assert found.formats == ["csv"] and found.paths["csv"] == root / "legend.csv"
    assert suite.parse_dataset(str(root)) == ("csv", str(root / "legend.csv"))
    two = make_tree(tmp_path / "two_tables", ["labels.csv", "other.csv", "images/a.jpg"])
    assert detect(two) == []  # which table holds the labels is not guessed
    classes = make_tree(tmp_path / "classes", ["notes.csv", "happy/a.jpg", "sad/b.jpg"])
    assert sorted(detect(classes)) == ["csv", "imagefolder"]  # class folders or the table: the user says which
    with pytest.raises(FacesslError, match="several layouts.*csv:.*notes.csv"):
        suite.parse_dataset(str(classes))


def test_a_huge_folder_is_not_listed_whole(tmp_path, monkeypatch):
    import facessl.data.formats.detect as detect_module

    monkeypatch.setattr(detect_module, "SCAN_LIMIT", 5)
    names = [f"image{i:05d}.jpg" for i in range(40)] + ["image00000.mat"]
    assert detect(make_tree(tmp_path / "big", names)) == []  # the .mat sorts past what is read


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "bench"
    assert main(["synth", "--out", str(root), "--scale", "tiny", "--quiet"]) == 0
    return root


def test_every_synthetic_part_is_detected_as_its_own_format(synthetic, tmp_path):
    import shutil

    parts = sorted(p.name for p in synthetic.iterdir() if p.is_dir())
    assert len(parts) >= 10
    assert all(detect(synthetic / p) == [p] for p in parts)
    copy = tmp_path / "copy"  # without the part's own note: by its files alone (cplfw's are lfw's)
    shutil.copytree(synthetic, copy)
    for note in copy.glob("*/.facessl_part.json"):
        note.unlink()
    assert {p: detect(copy / p) for p in parts} == {p: ["lfw" if p == "cplfw" else p] for p in parts}
    assert detect_layout(copy / "cplfw").alternatives["lfw"] == ("cplfw", "calfw")


def test_parse_dataset_reads_a_bare_path_and_says_so_once(tmp_path, capsys):
    folder = make_tree(tmp_path / "RAF-DB" / "basic", TREES["rafdb"])
    for _ in range(3):
        assert suite.parse_dataset(str(folder)) == ("rafdb", str(folder))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"read {folder} as rafdb" in err[0] and f"write rafdb:{folder}" in err[0]


def test_a_format_prefix_wins_and_unknown_names_stay_errors(tmp_path, capsys):
    folder = make_tree(tmp_path / "lfw", TREES["lfw"])
    assert suite.parse_dataset(f"rafdb:{folder}") == ("rafdb", str(folder))
    assert suite.parse_dataset(f"RAFDB:{folder}") == ("rafdb", str(folder))
    assert suite.parse_dataset("megaface:/data/x") == ("megaface", "/data/x")  # reader() names the known ones
    colon = make_tree(tmp_path / "odd:name", TREES["lfw"])  # a ':' in a path whose head is no format name
    assert suite.parse_dataset(str(colon)) == ("lfw", str(colon))
    assert capsys.readouterr().err.count("facessl: read") == 1


@pytest.mark.parametrize("files,words", [
    ([], ["no known dataset layout", "imagefolder:", "csv:", "facessl inspect"]),
    (TREES["celeba"] + TREES["disfa"], ["several layouts", "disfa:", "celeba:"]),
])
def test_none_or_several_layouts_is_one_line(tmp_path, files, words):
    folder = make_tree(tmp_path / "data", files)
    folder.mkdir(exist_ok=True)
    with pytest.raises(FacesslError) as error:
        suite.parse_dataset(str(folder))
    message = str(error.value)
    assert "\n" not in message and str(folder) in message and all(w in message for w in words), message


def test_a_missing_path_is_one_line_naming_it():
    with pytest.raises(FacesslError, match=r"'/no/such/dataset': no such file or folder; expected FORMAT:PATH"):
        suite.parse_dataset("/no/such/dataset")


def test_a_wrong_prefix_says_what_the_folder_looks_like(synthetic):
    with pytest.raises(FacesslError) as error:
        suite.read_dataset(f"rafdb:{synthetic / 'lfw'}")
    assert str(error.value).endswith(f"(this folder looks like lfw:{synthetic / 'lfw'})"), str(error.value)
    with pytest.raises(FacesslError) as error:
        suite.read_dataset(f"lfw:{synthetic / 'lfw'}", options={"pairs_file": "nope.txt"})
    assert "looks like" not in str(error.value)  # the right format's own error is left alone


def test_inspect_on_a_bare_path_end_to_end(synthetic, tmp_path, capsys):
    sheet = tmp_path / "x.png"
    assert main(["inspect", "--dataset", str(synthetic / "rafdb"), "--out", str(sheet)]) == 0
    captured = capsys.readouterr()
    assert sheet.is_file() and captured.err.count("as rafdb:") == 1, captured.err
    assert main(["inspect", "--dataset", str(tmp_path)]) == 2  # x.png alone: no layout
    assert "no known dataset layout" in capsys.readouterr().err


def test_a_marker_below_any_of_many_folders_is_found(tmp_path):
    files = [f"{i}_other/readme.txt" for i in range(6)] + ["annotations/AU_Set/Training_Set/1-30-1280x720.txt"]
    assert detect(make_tree(tmp_path / "abaw", files)) == ["affwild2-au"]
