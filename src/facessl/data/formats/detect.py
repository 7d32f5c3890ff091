"""Which format a dataset folder (or file) is in, from the marker files its layout ships: `--dataset PATH`
without a FORMAT: prefix.

    detect("/data/RAF-DB/basic")   -> ["rafdb"]
    detect("/data/fer2013.csv")    -> ["fer2013"]

The table below (LAYOUTS) holds, per format, the files and folders its reader looks for (read off each reader's
docstring and code): each layout is a few relative glob patterns that must all exist, tried in the folder given
and, where the reader itself looks through an archive's own folders, up to `below` folders under it. A pattern
starting with `../` is looked for beside the folder (only where the reader takes a folder below its root, e.g.
LFW's image folder with pairs.txt beside it). Cheap by construction: literal names are one stat each, globs read
at most SCAN_LIMIT entries of a folder (os.scandir, stopping at the first matches); nothing is decoded.

Resolution, most specific first:
  1. a synthetic part's `.facessl_part.json` names its format outright (facessl synth writes it);
  2. STRONG layouts (label lists and annotation folders), else WEAK ones (layouts told by file names alone:
     VoxCeleb's track folders, AgeDB's or KDEF's names), else the generic FALLBACK ones (imagefolder, csv, ...);
  3. a format that reads a superset of another's files hides it (FER+'s fer2013new.csv beside fer2013.csv);
  4. variants sharing files (FAMILIES) become one: the first of the family that matched; the others are named
     as `alternatives` (detect_layout) so the user is told how to choose them.
"""
from __future__ import annotations

import fnmatch
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

STRONG, WEAK, FALLBACK = 1, 2, 3
SCAN_LIMIT = 500  # entries read of one folder when looking for a glob (a folder of 100k images is never listed)
GLOB_BRANCHES = 3  # folders searched by a glob below a glob (id10001/, id10002/, ...: one is enough, three is safer)
WRAPPER_FANOUT = 8  # a folder with more subfolders than this is a dataset, not an archive's wrapper: not entered
PART_FILE = ".facessl_part.json"
IMAGES = ("jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff")
VIDEOS = ("mp4", "avi", "mov", "mkv", "flv", "webm")
TABLES = ("csv", "tsv", "xlsx")
FOUR = "[0-9][0-9][0-9][0-9]"
BIN_NAMES = ("lfw", "cfp_fp", "cfp_ff", "agedb_30", "calfw", "cplfw", "vgg2_fp")


@dataclass(frozen=True)
class Layout:
    format: str
    markers: tuple  # relative glob patterns that must all exist
    below: int = 0  # wrapper folders the reader looks through (imagefiles.WRAPPER_DEPTH where it does)
    tier: int = STRONG
    not_named: str = ""  # the base folder must not have this name (RAF-DB's basic reader refuses compound/)
    named: str = ""  # the base folder must have this name


def _layouts(fmt, *marker_sets, **kw) -> list[Layout]:
    return [Layout(fmt, (m,) if isinstance(m, str) else tuple(m), **kw) for m in marker_sets]


def _each(template: str, values) -> list[str]:
    return [template.format(v) for v in values]


LAYOUTS: list[Layout] = [
    # expression
    *_layouts("rafdb", "basic/EmoLabel/list_patition_label.txt", below=2),
    *_layouts("rafdb", "EmoLabel/list_patition_label.txt", below=2, not_named="compound"),
    *_layouts("rafdb", ("list_patition_label.txt", "aligned"), ("list_patition_label.txt", "original"),
              ("train_list.txt", "test_list.txt", "aligned"), ("img/train_list.txt", "img/aligned")),  # PCL's lists
    *_layouts("rafdb", "train/[1-7]/train_*_aligned.jpg", below=2),  # Kaggle's DATASET/train/<1..7>/
    *_layouts("rafdb-compound", "compound/EmoLabel/list_patition_label.txt", below=2),
    *_layouts("rafdb-compound", "EmoLabel/list_patition_label.txt", named="compound"),
    *_layouts("fer2013", "fer2013.csv", "icml_face_data.csv", below=2),
    *_layouts("ferplus", "fer2013new.csv", "FER2013Train/label.csv", "FER2013Test/label.csv", below=2),
    *_layouts("affectnet", "Manually_Annotated_file_lists/training.csv", "Manually_Annotated_file_lists/validation.csv",
              ("training.csv", "Manually_Annotated_Images"), ("validation.csv", "Manually_Annotated_Images"),
              ("training.csv", "Manually_Annotated"), "train_set/annotations/*_exp.npy",
              "val_set/annotations/*_exp.npy", below=2),
    *_layouts("dfew", "EmoLabel_DataSplit", "*/EmoLabel_DataSplit"),  # DFEW/, DFEW-part2/ or the folder above
    *_layouts("ferv39k", "4_setups/All_scenes", "2_ClipsforFaceCrop", below=2),
    *_layouts("mafw", "*/single/no_caption/set_1", "*/*/single/no_caption/set_1", below=1),
    *_layouts("expw", "label/label.lst", "label.lst", below=2),
    *_layouts("ckplus", *itertools.product(("cohn-kanade-images", "extended-cohn-kanade-images/cohn-kanade-images"),
                                           ("Emotion", "Emotion_labels/Emotion")), below=1),  # zips unpacked in own folders
    *_layouts("kdef", *_each("{}/[AB][FM][0-9][0-9]/[AB][FM][0-9][0-9]*.jpg", (".", "KDEF", "KDEF/KDEF", "KDEF_and_AKDEF/KDEF",
                                                                                     "KDEF_and_AKDEF/KDEF_and_AKDEF/KDEF")),
              tier=WEAK),
    *_layouts("jaffe", *_each("{}/[a-z][a-z].[a-z][a-z][0-9].*.tif*", (".", "jaffe", "jaffedbase", "jaffedbase/jaffe",
                                                                            "jaffe/jaffedbase", "jaffedbase/jaffedbase")), tier=WEAK),
    *_layouts("oulucasia", "OriginalImg/VL/Strong", "OriginalImg/NI/Strong", "*/VL_Acropped/Strong", "VL_Acropped/Strong",
              "VL/Strong/P[0-9][0-9][0-9]", "Strong/P[0-9][0-9][0-9]/Anger", below=1),
    *_layouts("rafd", "Rafd[0-9][0-9][0-9]_*.*", "*/Rafd[0-9][0-9][0-9]_*.*", tier=WEAK),
    *_layouts("bu3dfe", "[FM]" + FOUR + "/[FM]" + FOUR + "_*_yaw*.*", tier=WEAK),
    *_layouts("bu3dfe-expr", "[FM]" + FOUR + "/*_F2D.bmp", "BU-3DFE/[FM]" + FOUR + "/*_F2D.bmp"),
    # verification
    *_layouts("lfw", ("pairs.txt", "*/*_" + FOUR + ".jpg"), ("pairs.txt", "lfw*/*/*_" + FOUR + ".jpg"),
              ("pairs.txt", "lfw*/lfw*/*/*_" + FOUR + ".jpg"), below=2),
    *_layouts("lfw", ("../pairs.txt", "*/*_" + FOUR + ".jpg")),  # the image folder, pairs.txt beside it
    *_layouts("cplfw", "pairs_CPLFW.txt", below=2),
    *_layouts("calfw", "pairs_CALFW.txt", below=2),
    *_layouts("cfp", "Protocol/Pair_list_F.txt", "cfp-dataset/Protocol/Pair_list_F.txt", below=2),
    *_layouts("ytf", "frame_images_DB", "aligned_images_DB", "YouTubeFaces/frame_images_DB",
              "YouTubeFaces/aligned_images_DB"),
    *_layouts("ytf", "../splits.txt", named="aligned_images_db"), *_layouts("ytf", "../splits.txt", named="frame_images_db"),
    *_layouts("ijb", "IJBB/meta", "IJBC/meta", ("loose_crop", "meta/ijb?_face_tid_mid.txt"), "ijb?_face_tid_mid.txt"),
    *_layouts("insightface-bin", *_each("{}.bin", BIN_NAMES), *_each("*/{}.bin", BIN_NAMES)),
    *_layouts("insightface-rec", "*.rec", "*/*.rec"),
    # pose
    *_layouts("aflw2000", ("image[0-9][0-9][0-9][0-9][0-9].mat", "image[0-9][0-9][0-9][0-9][0-9].jpg"), "AFLW2000.npz"),
    *_layouts("300wlp", *_each("{0}/{0}_*.mat", ("AFW", "HELEN", "IBUG", "LFPW", "AFW_Flip")),
              ("AFW.npz", "AFW_Flip.npz"), ("HELEN.npz", "IBUG.npz")),  # FSA-Net's npz copies (PCL evaluates on them)
    *_layouts("biwi", "hpdb/[0-9][0-9]/rgb.cal", "[0-9][0-9]/rgb.cal", "kinect_head_pose_db/hpdb", "faces_0/[0-9][0-9]/rgb.cal",
              ("rgb.cal", "frame_*_pose.txt"), "BIWI*.npz"),
    *_layouts("aflw", "aflw/data/aflw.sqlite", "data/aflw.sqlite", "aflw.sqlite", "aflw-db/aflw/data/aflw.sqlite"),
    *_layouts("pointing04", "Person[0-9][0-9]/person[0-9]*.jpg", "*/Person[0-9][0-9]/person[0-9]*.jpg", tier=WEAK),
    # action units
    *_layouts("disfa", "ActionUnit_Labels/SN[0-9][0-9][0-9]", below=2),
    *_layouts("bp4d", "AUCoding/AU_OCC", "AUCoding/[FM][0-9][0-9][0-9]_T[0-9].csv"),
    *_layouts("affwild2-expr", "*/EXPR_Recognition_Challenge", "*/EXPR_Classification_Challenge", "*/EXPR_Set", below=1),
    *_layouts("affwild2-au", "*/AU_Detection_Challenge", "*/AU_Set", below=1),
    *_layouts("affwild2-va", "*/VA_Estimation_Challenge", "*/VA_Set", below=1),
    *_layouts("disfaplus", "Labels/SN[0-9][0-9][0-9]/*_TrailNo_*", "Labels/SN[0-9][0-9][0-9]/SN[0-9][0-9][0-9]/*_TrailNo_*",
              below=1),
    *_layouts("unbc", "Frame_Labels/FACS", "Frame_Labels/PSPI"),
    *_layouts("emotionet", "EmotioNet_FACS*.csv", "EmotioNet_FACS*.xlsx", "emotionet_facs*.xlsx",
              "emotioNet_challenge_files*"),
    # landmarks
    *_layouts("300w", *_each("{}/*.pts", ("ibug", "afw", "helen/trainset", "lfpw/trainset", "helen/testset",
                                        "trainset", "testset", "01_Indoor", "02_Outdoor")),
              "face_landmarks_300w_train.csv", "face_landmarks_300w_valid.csv", "*/face_landmarks_300w_valid.csv",
              below=2),  # HRNet's CSV lists
    *_layouts("300vw", "[0-9][0-9][0-9]/annot/*.pts", "300VW_Dataset*/[0-9][0-9][0-9]/annot",
              "300VW_Dataset*/300VW_Dataset*/[0-9][0-9][0-9]/annot"),
    *_layouts("mafl", ("list_landmarks_align_celeba.*", "testing.txt"), ("list_landmarks_align_celeba.*", "MAFL/testing.txt"),
              ("Anno/list_landmarks_align_celeba.*", "MAFL/testing.txt"), ("Anno/list_landmarks_align_celeba.*", "testing.txt"),
              below=2),
    *_layouts("aflw19", "AFLWinfo_release.mat", "aflw-19/AFLWinfo_release.mat"),
    *_layouts("cofw", "COFW_train_color.mat", "COFW_test_color.mat", "COFW_train.mat", "COFW_test.mat"),
    *_layouts("mtfl", ("training.txt", "lfw_5590"), ("testing.txt", "AFLW"), ("lfw_5590", "net_7876"), below=2),
    *_layouts("wflw", "WFLW_annotations/list_98pt_rect_attr_train_test", "list_98pt_rect_attr_train_test",
              "list_98pt_rect_attr_train.txt", "face_landmarks_wflw_train.csv", "face_landmarks_wflw_test.csv", below=1),
    # attributes, age, demographics
    *_layouts("celeba", "Anno/list_attr_celeba.txt", "list_attr_celeba.txt", "list_attr_celeba.csv", below=2),
    *_layouts("utkface", *_each("{}/*.jpg.chip.jpg", (".", "UTKFace", "crop_part1", "utkface_aligned_cropped/UTKFace")),
              "landmark_list_part1.txt"),
    *_layouts("fairface", "fairface_label_train.csv", "fairface_label_val.csv", below=2),
    *_layouts("fairface", ("../fairface_label_train.csv", "train"), ("../fairface_label_val.csv", "val")),
    *_layouts("adience", "fold_0_data.txt", "fold_frontal_0_data.txt",  # + Levi & Hassner's per-fold lists
              *_each("{}train_val_txt_files_per_fold/test_fold_is_0/age_test.txt", ("", "Folds/", "folds/"))),
    *_layouts("agedb", *_each("{}/[0-9]*_*_[0-9]*_[mf].jpg", (".", "AgeDB", "AgeDB/AgeDB")), tier=WEAK),
    # face-detection exports (one face per box)
    *_layouts("yolo", "data.yaml", "dataset.yaml", "data.yml", "obj.data", ("labels/*.txt", "images"),
              ("labels/*/*.txt", "images/*"), *_each("{0}/labels/*.txt", ("train", "valid", "val", "test")), below=2),
    *_layouts("voc", ("Annotations/*.xml", "JPEGImages"), ("annotations/*.xml", "images"), ("xmls/*.xml", "imgs"),
              *_each("{}/*.xml", ("train", "valid", "val", "test")), ("*.xml", "*.jpg"), ("*.xml", "*.png"), below=2),
    *_layouts("coco", "*.coco.json", "*/_annotations.coco.json", "annotations/instances_*.json", below=2),
    # video clip sets
    *_layouts("ravdess", "Actor_[0-9][0-9]/0[12]-0[12]-*.mp4", "*/Actor_[0-9][0-9]/0[12]-0[12]-*.mp4", tier=WEAK),
    *_layouts("cremad", *_each("{}/" + FOUR + "_???_???_??.*", (".", "VideoFlash", "VideoMP4", "CREMA-D/VideoFlash")),
              tier=WEAK),
    *_layouts("mead", "[MW][0-9][0-9][0-9]/video/front", "[MW][0-9][0-9][0-9]/front/*/level_1",
              "[MW][0-9][0-9][0-9]/video.tar", below=2, tier=WEAK),
    *_layouts("voxceleb", "id[0-9][0-9][0-9][0-9][0-9]/*/[0-9][0-9][0-9][0-9][0-9]",
              "*/*/[0-9][0-9][0-9][0-9][0-9]/" + FOUR + ".jpg", tier=WEAK),
    *_layouts("voxceleb", "unzippedFaces/*/1.6/*/[0-9]*.jpg", "*/1.6/*/[0-9]*.jpg"),  # VoxCeleb1's released frames
    # Hugging Face parquet: searched up to 3 levels down by its reader
    *_layouts("parquet", "*.parquet", "*/*.parquet", "*/*/*.parquet", "*/*/*/*.parquet"),
    # generic fallbacks: only when nothing specific matched
    *_layouts("imagefolder", *_each("*/*.{}", IMAGES), *_each("*/*/*.{}", IMAGES), below=1, tier=FALLBACK),
    *_layouts("videofolder", *_each("*/*.{}", VIDEOS), *_each("*/*/*.{}", VIDEOS), below=1, tier=FALLBACK),
]

# a path that is a file: (glob on its name, format, tier), first match wins
FILE_LAYOUTS = [
    ("fer2013.csv", "fer2013", STRONG), ("icml_face_data.csv", "fer2013", STRONG), ("fer2013new.csv", "ferplus", STRONG),
    ("pairs.txt", "lfw", STRONG), ("pairs_CPLFW.txt", "cplfw", STRONG), ("pairs_CALFW.txt", "calfw", STRONG),
    ("label.lst", "expw", STRONG), ("ijb?_template_pair_label.txt", "ijb", STRONG), ("*.sqlite", "aflw", STRONG), ("COFW*.mat", "cofw", STRONG),
    ("BIWI*.npz", "biwi", STRONG), ("EmotioNet*.csv", "emotionet", STRONG), ("EmotioNet*.xlsx", "emotionet", STRONG),
    ("*.bin", "insightface-bin", STRONG), ("*.rec", "insightface-rec", STRONG), ("*.idx", "insightface-rec", STRONG),
    ("*.parquet", "parquet", STRONG), ("*.coco.json", "coco", STRONG), ("instances_*.json", "coco", STRONG),
    ("data.yaml", "yolo", STRONG), ("obj.data", "yolo", STRONG),
    ("*.csv", "csv", FALLBACK), ("*.tsv", "csv", FALLBACK), ("*.xlsx", "csv", FALLBACK),
]

# format -> formats it hides when both match (its files are a superset of theirs)
HIDES = {"ferplus": ("fer2013",), "bu3dfe-expr": ("bu3dfe",)}
# variants reading the same files: the first that matched is chosen, the others named in the notice
FAMILIES = (("rafdb", "rafdb-compound"), ("calfw", "cplfw", "lfw"), ("affwild2-expr", "affwild2-au", "affwild2-va"))
# variants with no marker of their own: the same files read with another label as the class
SAME_FILES = {"utkface": ("utkface-gender", "utkface-race"), "fairface": ("fairface-gender", "fairface-age"),
              "adience": ("adience-gender",), "lfw": ("cplfw", "calfw")}


@dataclass
class Detection:
    formats: list  # the candidates, most specific first (one: the format to read)
    alternatives: dict = field(default_factory=dict)  # format -> other format names that read the same files
    paths: dict = field(default_factory=dict)  # format -> the path to give it, where not the path detected


def detect(path) -> list[str]:
    """The format names (of formats.READERS) whose layout `path` matches, most specific first; [] for none."""
    return detect_layout(path).formats


def detect_layout(path) -> Detection:
    path = Path(path)
    _listing.cache_clear()  # a fresh look each time: folders change between runs
    if path.is_file():
        return _resolve(_file_matches(path))
    if not path.is_dir():
        return Detection([])
    part = _synthetic_part(path)
    if part:
        return Detection([part], {part: SAME_FILES.get(part, ())})
    parts = _synthetic_parts(path)
    if parts:  # a whole synthetic build: each part is a dataset of its own
        return Detection(list(parts), {p: () for p in parts}, parts)
    found = _folder_matches(path)
    if "imagefolder" in found and _image_folders(path) < 2:  # one folder of photos is no set of classes
        del found["imagefolder"]
    table = _lone_table(path)
    if table is not None and all(tier == FALLBACK for tier, _ in found.values()):
        found["csv"] = (FALLBACK, 1)  # photos with their label table beside them (legend.csv + images/)
        detection = _resolve(found)
        detection.paths["csv"] = table
        return detection
    return _resolve(found)


# --- matching ------------------------------------------------------------------------------------------------------

def _file_matches(path: Path) -> dict:
    for pattern, fmt, tier in FILE_LAYOUTS:
        if fnmatch.fnmatchcase(path.name.lower(), pattern.lower()):
            return {fmt: (tier, 1)}
    return {}


def _synthetic_part(folder: Path) -> str:
    """The format a `facessl synth` part folder names in its .facessl_part.json ('' when none or unreadable)."""
    from facessl.data.formats import READERS

    try:
        part = json.loads((folder / PART_FILE).read_text()).get("part", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return part if part in READERS else ""


def _synthetic_parts(folder: Path) -> dict:
    """{format: part folder} of a `facessl synth` build's root (its manifest.json lists the parts)."""
    from facessl.data.formats import READERS

    try:
        parts = json.loads((folder / "manifest.json").read_text()).get("parts", {})
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(parts, dict):
        return {}
    return {p: folder / p for p in parts if p in READERS and (folder / p).is_dir()}


def _folder_matches(root: Path) -> dict:
    """{format: (tier, markers matched)} of every layout found in root (or the wrappers its reader looks through)."""
    found = {}
    depth = max(layout.below for layout in LAYOUTS)
    bases = list(_wrapper_folders(root, depth))
    for layout in LAYOUTS:
        for base, level in bases:
            if level > layout.below or not _name_fits(base, layout):
                continue
            if all(_exists(base, marker) for marker in layout.markers):
                best = found.get(layout.format, (FALLBACK + 1, 0))
                found[layout.format] = min(best, (layout.tier, -len(layout.markers)))
                break
    return {fmt: (tier, -score) for fmt, (tier, score) in found.items()}


def _image_folders(root: Path, want: int = 2) -> int:
    """How many folders one or two levels below root hold images directly, counted up to `want` (imagefolder
    needs two classes: `root/<class>/`, or `root/<split>/<class>/`, or one wrapper folder above either)."""
    count, level, current = 0, 0, [root]
    while level < 3 and current and count < want:
        level += 1
        below = [folder / e for folder in current for e, is_dir in _listing(folder) if is_dir][:SCAN_LIMIT]
        for folder in below:
            if any(not is_dir and e.rsplit(".", 1)[-1].lower() in IMAGES for e, is_dir in _listing(folder)):
                count += 1
                if count >= want:
                    break
        current = below
    return count


def _lone_table(root: Path) -> Path | None:
    """The one table file (.csv, .tsv, .xlsx) directly in root, if there is exactly one."""
    tables = [e for e, is_dir in _listing(root) if not is_dir and e.rsplit(".", 1)[-1].lower() in TABLES]
    return root / tables[0] if len(tables) == 1 else None


def _name_fits(base: Path, layout: Layout) -> bool:
    name = base.resolve().name.lower() if base.name in ("", ".", "..") else base.name.lower()
    return (not layout.named or name == layout.named) and (not layout.not_named or name != layout.not_named)


def _wrapper_folders(root: Path, depth: int):
    """(folder, level): root, then the subfolders of folders with few of them, `depth` levels down (an archive
    unpacked into a folder of its own; a folder of thousands of identities is a dataset, not a wrapper)."""
    level, current = 0, [root]
    yield root, 0
    while level < depth:
        level += 1
        below = []
        for folder in current:
            subfolders = [folder / e for e, is_dir in _listing(folder) if is_dir]
            if len(subfolders) <= WRAPPER_FANOUT:
                below.extend(subfolders)
        for folder in below:
            yield folder, level
        current = below


def _exists(base: Path, marker: str) -> bool:
    """Whether the relative glob `marker` names something under base (any case)."""
    return _first(base, marker.split("/")) is not None


def _first(folder: Path, parts: list, exact_only: bool = False) -> Path | None:
    if not parts:
        return folder
    head, rest = parts[0], parts[1:]
    # below a glob, a literal rest is one stat a folder: every folder is tried (by exact name: no folder is
    # listed for it); a glob rest only in a few
    wide = _is_glob(head) and not any(_is_glob(p) for p in rest)
    candidates = _candidates(folder, head, need_folder=bool(rest), any_case=not exact_only)
    for candidate in candidates if wide else itertools.islice(candidates, GLOB_BRANCHES):
        hit = _first(candidate, rest, exact_only or wide)
        if hit is not None:
            return hit
    return None


def _is_glob(name: str) -> bool:
    return any(c in name for c in "*?[")


def _candidates(folder: Path, name: str, need_folder: bool, any_case: bool = True):
    """Entries of folder matching one path component, lazily: a literal by a stat (then any case), a glob by a
    bounded scan."""
    if name in (".", ".."):
        yield folder / name
        return
    if not _is_glob(name):
        exact = folder / name
        if exact.is_dir() if need_folder else exact.exists():
            yield exact
            return
        if not any_case:
            return
    rule = _compiled(name)
    yield from (folder / entry for entry, is_dir in _listing(folder) if (is_dir or not need_folder) and rule(entry))


@lru_cache(maxsize=512)
def _compiled(pattern: str):
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE).match


@lru_cache(maxsize=4096)
def _listing(folder: Path) -> tuple:
    """(name, is folder) of the first SCAN_LIMIT visible entries of folder, sorted (the same answer every run)."""
    entries = []
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                if entry.name.startswith(".") or entry.name == "__MACOSX":
                    continue
                try:
                    entries.append((entry.name, entry.is_dir()))
                except OSError:
                    continue
                if len(entries) >= SCAN_LIMIT:
                    break
    except OSError:  # a file, unreadable, gone
        return ()
    return tuple(sorted(entries))


# --- resolution ----------------------------------------------------------------------------------------------------

def _resolve(found: dict) -> Detection:
    """Candidates of the best tier present, hidden formats and variant families folded, most markers first."""
    from facessl.data.formats import FORMAT_NAMES

    for fmt, hidden in HIDES.items():
        if fmt in found:
            for name in hidden:
                found.pop(name, None)
    if not found:
        return Detection([])
    tier = min(t for t, _ in found.values())
    names = [n for n in found if found[n][0] == tier]
    alternatives = {}
    for family in FAMILIES:
        matched = [n for n in family if n in names]
        if len(matched) > 1:
            names = [n for n in names if n not in matched[1:]]
        if matched:
            alternatives[matched[0]] = tuple(dict.fromkeys([*matched[1:], *SAME_FILES.get(matched[0], ())]))
    for name in names:
        alternatives.setdefault(name, SAME_FILES.get(name, ()))
    order = {n: i for i, n in enumerate(FORMAT_NAMES)}
    names.sort(key=lambda n: (-found[n][1], order.get(n, len(order))))
    return Detection(names, {n: alternatives[n] for n in names})
