"""One module per real benchmark format: a writer (used by the synthetic generator) and a reader
(used by evaluation, for real and synthetic data alike). Readers return the shared forms below.

    from facessl.data import formats
    images = formats.read("rafdb", "data/rafdb")          # -> ImageSet
    pairs = formats.read("lfw", "data/lfw")               # -> PairSet
Every reader raises DataFormatError(path, message, line) on a malformed file; where a list names an
image that is missing, `skip_missing=True` skips it and counts it in `result.dropped`.
"""
from __future__ import annotations

import difflib
import importlib

from facessl.data.formats.common import ImageSet, PairSet, load_image
from facessl.errors import FacesslError

# name -> (module, reader, what it holds)
READERS = {
    "voxceleb": ("voxceleb", "read_voxceleb", "face-track tree <identity>/<video>/<track>/<frame>.jpg: VoxCeleb, facessl prepare (unlabelled)"),
    "rafdb": ("rafdb", "read_rafdb", "RAF-DB basic: Image/aligned + EmoLabel/list_patition_label.txt (7 expressions)"),
    "rafdb-compound": ("rafdb", "read_rafdb_compound", "RAF-DB compound: compound/Image/aligned + compound/EmoLabel list (11 classes)"),
    "fer2013": ("fer2013", "read_fer2013", "FER-2013 fer2013.csv (48x48 grey, 7 expressions)"),
    "ferplus": ("ferplus", "read_ferplus", "FER+ fer2013new.csv beside fer2013.csv, or FER2013Train/Valid/Test + label.csv (8 classes, majority vote)"),
    "affectnet": ("affectnet", "read_affectnet", "AffectNet training.csv/validation.csv + Manually_Annotated_Images (face boxes), or train_set/val_set images + _exp.npy (8 classes)"),
    "dfew": ("dfew", "read_dfew", "DFEW Clip/clip_224x224/<clip>/ frames + EmoLabel_DataSplit set_1..5 csvs: 7 classes per clip, frames pooled per clip"),
    "ferv39k": ("ferv39k", "read_ferv39k", "FERV39k 2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/ frames + 4_setups/All_scenes train_All/test_All.csv (scene=NAME: 22_scenes; or DFER-CLIP's / EmoCLIP's converted lists): 7 classes per clip, frames pooled per clip"),
    "mafw": ("mafw", "read_mafw", "MAFW data/frames/<clip>/ or data/faces/<clip>/ frames (or data/clips/<clip>.mp4) + Train & Test Set/single/no_caption/set_1..5 (or DFER-CLIP's MAFW_set_K lists): 11 classes per clip (subset=compound: the compound lists), frames pooled per clip"),
    "expw": ("expw", "read_expw", "ExpW label/label.lst + image/origin photos (face boxes; 7 expressions, split grouped by photo)"),
    "ckplus": ("ckplus", "read_ckplus", "CK+ cohn-kanade-images + Emotion (+ Landmarks): last 3 frames of the labelled sequences (7 classes)"),
    "kdef": ("kdef", "read_kdef", "KDEF AF01/AF01ANS.JPG: 7 expressions x 5 angles (FL HL S HR FR; labels pose, pose_class), split grouped by person"),
    "jaffe": ("jaffe", "read_jaffe", "JAFFE KA.AN1.39.tiff: 213 grey faces, 7 expressions, split grouped by expresser"),
    "oulucasia": ("oulucasia", "read_oulucasia", "Oulu-CASIA OriginalImg or PreProcessImg VL(_Acropped)/Strong/P001/Anger/000.jpeg: last 3 frames (6 expressions)"),
    "rafd": ("rafd", "read_rafd", "RaFD Rafd090_01_Caucasian_female_angry_frontal.jpg: 8 classes x 5 camera angles x 3 gazes (labels pose, pose_class, gaze), split grouped by person"),
    "lfw": ("lfw", "read_lfw_pairs", "LFW <Name>/<Name>_0001.jpg + pairs.txt (verification)"),
    "cplfw": ("lfw", "read_lfw_pairs", "cross-pose LFW-style set, same format as lfw; or pairs_CPLFW.txt + images/"),
    "calfw": ("lfw", "read_lfw_pairs", "CALFW pairs_CALFW.txt (positives labelled with their fold 1..10) + aligned images/"),
    "cfp": ("cfp", "read_cfp", "CFP cfp-dataset/Protocol Pair_list_F/P.txt + Split/FP|FF/01..10 same/diff.txt (verification, FP default)"),
    "ytf": ("ytf", "read_ytf", "YouTube Faces frame_images_DB or aligned_images_DB + splits.txt: 5,000 video pairs in 10 splits (a video = the mean of its frames)"),
    "ijb": ("ijb", "read_ijb", "IJB-B / IJB-C 1:1 verification as InsightFace packs it: loose_crop + meta/ijbb_face_tid_mid.txt + template pair labels (TAR@FAR)"),
    "aflw2000": ("aflw2000", "read_aflw2000", "AFLW2000-3D imageXXXXX.jpg + .mat (Pose_Para, pt3d_68)"),
    "300wlp": ("aflw2000", "read_300wlp", "300W-LP AFW/HELEN/IBUG/LFPW(+_Flip) .jpg + .mat"),
    "biwi": ("biwi", "read_biwi", "Biwi Kinect hpdb/01/frame_00003_rgb.png + _pose.txt + rgb.cal (head-centre crops), or FSA-Net's BIWI_*.npz"),
    "bu3dfe": ("bu3dfe", "read_bu3dfe", "BU-3DFE-style discrete yaw classes <subject>/<subject>_HA03WH_yaw+30.jpg"),
    "bu3dfe-expr": ("bu3dfe_release", "read_bu3dfe_expr", "BU-3DFE as released: F0001/F0001_AN01WH_F2D.bmp 2D images: 6 expressions x 4 intensities + neutral, split grouped by subject"),
    "disfa": ("disfa", "read_disfa", "DISFA ActionUnit_Labels/SN001/SN001_au1.txt + Images/SN001/00001.jpg"),
    "bp4d": ("bp4d", "read_bp4d", "BP4D-Spontaneous AUCoding/AU_OCC/F001_T1.csv + Sequences/F001/T1/0001.jpg (12 AU occurrences)"),
    "affwild2-expr": ("affwild2", "read_affwild2_expr", "Aff-Wild2 (ABAW) EXPR_Recognition_Challenge/Train_Set|Validation_Set/<video>.txt + cropped_aligned/<video>/00001.jpg (8 classes)"),
    "affwild2-au": ("affwild2", "read_affwild2_au", "Aff-Wild2 (ABAW) AU_Detection_Challenge/Train_Set|Validation_Set/<video>.txt + cropped_aligned/<video>/00001.jpg (12 AU occurrences)"),
    "affwild2-va": ("affwild2", "read_affwild2_va", "Aff-Wild2 (ABAW) VA_Estimation_Challenge/Train_Set|Validation_Set/<video>.txt + cropped_aligned: valence and arousal (regression)"),
    "300w": ("w300", "read_300w", "300-W images with 68-point .pts files"),
    "300vw": ("w300vw", "read_300vw", "300VW 001/vid.avi + 001/annot/000001.pts: every k-th frame's face crop in memory (68 landmarks), test categories 1-3"),
    "celeba": ("celeba", "read_celeba", "CelebA Img/img_align_celeba + Anno/list_attr_celeba.txt + Eval/list_eval_partition.txt (40 binary attributes), or Kaggle's csv copy"),
    "utkface": ("utkface", "read_utkface", "UTKFace UTKFace/25_0_1_20170116174525125.jpg.chip.jpg (age_gender_race_time), crop_part1/ or in-the-wild part1-3/ + landmark lists: age in years (regression; target=gender|race)"),
    "utkface-gender": ("utkface", "read_utkface_gender", "UTKFace as utkface, the gender as the class (2 classes)"),
    "utkface-race": ("utkface", "read_utkface_race", "UTKFace as utkface, the race as the class (5 classes)"),
    "fairface": ("fairface", "read_fairface", "FairFace fairface_label_train/val.csv + fairface-img-margin025-trainval/ (or 125): race, 7 classes (target=gender|age); val = test"),
    "fairface-gender": ("fairface", "read_fairface_gender", "FairFace as fairface, the gender as the class (2 classes)"),
    "fairface-age": ("fairface", "read_fairface_age", "FairFace as fairface, the 9 age bins as classes"),
    "adience": ("adience", "read_adience", "Adience fold_0_data.txt ... + aligned/ or faces/: 8 age groups, 5 subject-exclusive folds"),
    "adience-gender": ("adience", "read_adience_gender", "Adience as adience, the gender as the class (2 classes)"),
    "agedb": ("agedb", "read_agedb", "AgeDB 0_MariaCallas_35_f.jpg: age in years (regression; target=gender), split grouped by person"),
    "pointing04": ("pointing04", "read_pointing04", "Head Pose Image Database (Pointing'04) Person01/person01100-15+0.jpg: yaw and pitch (regression)"),
    "disfaplus": ("disfaplus", "read_disfaplus", "DISFA+ Labels/SN001/A1_AU1_TrailNo_1/AU1.txt + Images: 12 AU intensities"),
    "unbc": ("unbc", "read_unbc", "UNBC-McMaster Shoulder Pain Frame_Labels/FACS + Images: AU intensities and PSPI"),
    "mafl": ("mafl", "read_mafl", "MAFL/CelebA img_align_celeba + list_landmarks_align_celeba.txt + training/testing.txt"),
    "aflw": ("aflw", "read_aflw", "AFLW aflw/data/aflw.sqlite + flickr/0,2,3/imageXXXXX.jpg: head pose (yaw, pitch, roll) of each face box"),
    "aflw19": ("aflw", "read_aflw19", "AFLW-19 AFLWinfo_release.mat + AFLW images: 19 landmarks, full/frontal test (box-normalised NME)"),
    "cofw": ("cofw", "read_cofw", "COFW COFW_train_color.mat / COFW_test_color.mat (29 landmarks with occlusion flags)"),
    "emotionet": ("emotionet", "read_emotionet", "EmotioNet AU annotation lists + downloaded images: AU occurrences"),
    "insightface-bin": ("insightface_bin", "read_insightface_bin", "InsightFace verification .bin (lfw, cfp_fp, agedb_30, calfw, cplfw ...), read without unpickling"),
    "insightface-rec": ("insightface_rec", "read_insightface_rec", "InsightFace training sets as MXNet RecordIO train.rec + train.idx (faces_emore, CASIA faces_webface_112x112 ...): identities, read without MXNet"),
    "mtfl": ("mtfl", "read_mtfl", "MTFL training.txt/testing.txt + lfw_5590, net_7876, AFLW images (5 landmarks)"),
    "wflw": ("mtfl", "read_wflw", "WFLW list_98pt_rect_attr_train/test.txt + WFLW_images (98 landmarks, face-box crops)"),
    "yolo": ("yolo", "read_yolo", "YOLO detection sets (Roboflow / Ultralytics / Kaggle exports, Darknet / CVAT obj.data, LabelImg classes.txt): class names + images with .txt boxes, one face per box"),
    "voc": ("voc", "read_voc", "Pascal VOC XML face sets (LabelImg, Roboflow / CVAT Pascal VOC exports, Kaggle Face Mask Detection): one .xml per image beside it, Annotations/ + JPEGImages/ (+ ImageSets/Main), annotations/ + images/ or train/ valid/ test/; one face per <object>"),
    "coco": ("coco", "read_coco", "COCO-JSON box sets (Roboflow train/_annotations.coco.json, CVAT COCO 1.0 annotations/instances_default.json + images/, COCO annotations/instances_train2017.json + train2017/): one face per box, its category the class"),
    "videofolder": ("videofolder", "read_videofolder", "your own labelled clips root/<label>/*.mp4 (or root/train|val|test/<label>/; AFEW's Train_AFEW/Angry/*.avi): faces found in evenly spaced frames, a clip scored by its frames' mean"),
    "ravdess": ("ravdess", "read_ravdess", "RAVDESS Actor_01/01-01-03-02-01-01-01.mp4 (Zenodo Video_Speech/Song_Actor_XX.zip): 8 emotions, one take per full-AV/video-only pair, speech by default, split grouped by actor (fold=0-5)"),
    "cremad": ("cremad", "read_cremad", "CREMA-D VideoFlash/1001_DFA_ANG_XX.flv (or .mp4 copies): 6 emotions, labels level and sentence, split grouped by actor (fold=0-4)"),
    "mead": ("mead", "read_mead", "MEAD M003/video/front/angry/level_1/001.mp4 (video.tar unpacked): 8 emotions x 3 levels, view=front by default, split grouped by speaker"),
    "imagefolder": ("imagefolder", "read_imagefolder", "your own class folders root/<label>/*.jpg (or root/train|val|test/<label>/)"),
    "csv": ("csvtable", "read_csv_table", "your own CSV: image column + a label, numeric target or x,y point columns"),
    "parquet": ("hf_parquet", "read_hf_parquet", "Hugging Face Hub datasets as Parquet (data/train-00000-of-00001.parquet, refs/convert/parquet): Image column + ClassLabel or label column"),
}
FORMAT_NAMES = tuple(READERS)


def reader(format_name: str):
    """The reader function of a format name; an unknown name is one clear error with the nearest names."""
    if format_name not in READERS:
        close = difflib.get_close_matches(format_name, FORMAT_NAMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FacesslError(f"unknown dataset format {format_name!r}{hint}; known: {', '.join(FORMAT_NAMES)}")
    module, function, _ = READERS[format_name]
    return getattr(importlib.import_module(f"facessl.data.formats.{module}"), function)


def read(format_name: str, path, **kw):
    """Read a benchmark in `format_name` (see FORMAT_NAMES) from `path`; keyword options go to its reader."""
    return reader(format_name)(path, **kw)


__all__ = ["FORMAT_NAMES", "READERS", "ImageSet", "PairSet", "load_image", "read", "reader"]
