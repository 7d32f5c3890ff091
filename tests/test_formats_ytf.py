"""YouTube Faces written here as released (frame_images_DB with <Name>.labeled_faces.txt, aligned_images_DB,
meta_data/meta_and_splits.mat, splits.txt) with tiny frames, and read back as a PairSet of videos."""
import json

import numpy as np
import pytest

from image_toys import write
from facessl.data import formats
from facessl.data.formats.common import PairSet, load_image
from facessl.data.formats.imagefiles import save_image as _save
from facessl.data.formats.ytf import evenly_spaced
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError, FacesslError

HEADER = "split number, pair number in split, first name, second name, is same:"
# name -> {video: frame numbers}; Cher/1's 25 frames run 5..29, so numeric order differs from the names' order
VIDEOS = {"Alan_Ball": {"2": range(40, 46), "4": range(100, 104)},
          "Cher": {"1": range(5, 30), "3": range(7, 12)},
          "Bo_Derek": {"0": range(555, 560)}}
# (split, first, second, same): 2 splits; Bo_Derek/9 does not exist
PAIRS = [(1, "Alan_Ball/2", "Alan_Ball/4", 1), (1, "Cher/1", "Bo_Derek/0", 0),
         (2, "Cher/1", "Cher/3", 1), (2, "Alan_Ball/4", "Bo_Derek/9", 0), (2, "Bo_Derek/0", "Alan_Ball/2", 0)]
FRAME = (40, 32)  # frame width, height
COLOURS = {"Alan_Ball": (200, 40, 40), "Cher": (40, 200, 40), "Bo_Derek": (40, 40, 200)}


def save_image(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, image)


def face(colour, rng, size):
    return np.clip(np.array(colour) + rng.normal(0, 10, (size[1], size[0], 3)), 0, 255).astype(np.uint8)


def box_of(frame):
    """centre x, y, width, height of a frame's face: moves with the frame number."""
    return 10 + frame % 7, 14, 12, 12


def write_ytf(base, videos=VIDEOS, pairs=PAIRS, splits_txt=True, crlf=True, bom=True, colours=COLOURS):
    """YouTubeFaces/ as released under base: both DBs, labeled_faces.txt (Windows paths), splits.txt."""
    rng = np.random.default_rng(0)
    ytf = base / "YouTubeFaces"
    for name, clips in videos.items():
        lines = []
        for video, numbers in clips.items():
            for n in numbers:
                save_image(ytf / "frame_images_DB" / name / video / f"{video}.{n}.jpg", face(colours[name], rng, FRAME))
                aligned = ytf / "aligned_images_DB" / name / video / f"aligned_detect_{video}.{n}.jpg"
                save_image(aligned, face(colours[name], rng, (24, 24)))
                if name != "Bo_Derek":  # Bo_Derek has no box file: whole frames
                    lines.append(f"{name}\\{video}\\{video}.{n}.jpg,0,{','.join(map(str, box_of(n)))},0.0,1")
        if lines:
            write(ytf / "frame_images_DB" / f"{name}.labeled_faces.txt", "\n".join(lines) + "\n", crlf=crlf)
    (ytf / "descriptors_DB").mkdir()
    if splits_txt:
        counters = {}
        lines = [HEADER]
        for split, a, b, same in pairs:
            counters[split] = counters.get(split, 0) + 1
            lines.append(f"{split}, {counters[split]}, {a}, {b}, {same} ")
        write(ytf / "splits.txt", "\n".join(lines) + "\n", crlf=crlf, bom=bom)
    return ytf


def write_mat(path, names, splits):
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    cell = np.empty((len(names), 1), dtype=object)
    cell[:, 0] = names
    savemat(str(path), {"video_names": cell, "Splits": np.asarray(splits, np.float64),
                        "video_labels": np.arange(1, len(names) + 1, dtype=np.float64)[None]})


def videos_of(got):
    """Each pair as (video, video) names, through the items."""
    first = got.first_images()
    video = got.images.labels["video"]
    return [(video[first[a]], video[first[b]]) for a, b in got.pairs]


# --- reading --------------------------------------------------------------------------------------------
def test_pairs_index_videos_with_folds_and_skips(tmp_path):
    ytf = write_ytf(tmp_path)
    got = formats.read("ytf", ytf)
    assert isinstance(got, PairSet) and got.item is not None
    assert videos_of(got) == [("Alan_Ball/2", "Alan_Ball/4"), ("Cher/1", "Bo_Derek/0"), ("Cher/1", "Cher/3"),
                              ("Bo_Derek/0", "Alan_Ball/2")]
    assert got.same.tolist() == [True, False, True, False] and got.fold.tolist() == [0, 0, 1, 1]
    assert got.dropped == {"pair_with_missing_video": 1, "missing_video": 1}
    assert got.pairs.max() == 4 and len(got.item) == len(got.images)
    labels = got.images.labels
    assert len(got.images) == 6 + 4 + 10 + 5 + 5  # Cher/1 capped at 10 frames
    for row, path in enumerate(got.images.images):  # each row's labels agree with its file
        assert isinstance(path, str) and not isinstance(path, BoxedImage)
        parts = path.replace("\\", "/").split("/")
        assert parts[-4] == "aligned_images_DB" and parts[-3] == labels["identity"][row]
        assert f"{parts[-3]}/{parts[-2]}" == labels["video"][row]
        assert parts[-1] == f"aligned_detect_{parts[-2]}.{labels['frame'][row]}.jpg"
    for item in range(got.pairs.max() + 1):
        assert len(set(labels["video"][got.item == item])) == 1  # an item is one video
    assert np.all(np.diff(got.item) >= 0)
    assert got.images.meta["variant"] == "aligned" and got.images.meta["frames_per_video"] == 10


def test_frames_evenly_spaced_in_numeric_frame_order(tmp_path):
    ytf = write_ytf(tmp_path)
    got = formats.read("ytf", ytf)
    cher = got.images.labels["frame"][got.images.labels["video"] == "Cher/1"]
    # 25 frames 5..29 (5.jpg sorts after 29.jpg by name): linspace(0, 24, 10) rounded, the ends included
    assert cher.tolist() == [5 + i for i in (0, 3, 5, 8, 11, 13, 16, 19, 21, 24)]
    assert evenly_spaced(25, 10).tolist() == [0, 3, 5, 8, 11, 13, 16, 19, 21, 24]
    assert evenly_spaced(4, 10).tolist() == [0, 1, 2, 3] and evenly_spaced(9, 1).tolist() == [0]
    three = formats.read("ytf", ytf, frames=3)
    assert three.images.labels["frame"][three.images.labels["video"] == "Cher/1"].tolist() == [5, 17, 29]
    every = formats.read("ytf", ytf, frames="all")
    assert (every.images.labels["video"] == "Cher/1").sum() == 25
    assert every.images.meta["frames_per_video"] == "all"
    for bad in (0, -2, "ten", 2.5):
        with pytest.raises(FacesslError, match="frames"):
            formats.read("ytf", ytf, frames=bad)


def test_frames_variant_crops_the_labeled_face_box(tmp_path):
    ytf = write_ytf(tmp_path)
    got = formats.read("ytf", ytf, variant="frames")
    labels, images = got.images.labels, got.images.images
    assert got.images.meta["variant"] == "frames" and got.images.meta["whole_frames"] == 5  # Bo_Derek/0: no box file
    for row, image in enumerate(images):
        assert "frame_images_DB" in str(image)
        if labels["identity"][row] == "Bo_Derek":
            assert not isinstance(image, BoxedImage)
            assert load_image(image).shape == (FRAME[1], FRAME[0], 3)
            continue
        cx, cy, w, h = box_of(labels["frame"][row])  # (x, y) the centre, grown 2.2 times
        assert isinstance(image, BoxedImage)
        assert image.box == pytest.approx((cx - 1.1 * w, cy - 1.1 * h, cx + 1.1 * w, cy + 1.1 * h))
    assert load_image(images[0]).shape[:2] == (26, 26)  # the square crop about the grown box
    tight = formats.read("ytf", ytf, variant="frame_images_DB", box_scale=1)
    assert tight.images.images[0].box == pytest.approx((4 + 40 % 7, 8, 16 + 40 % 7, 20))
    assert formats.read("ytf", ytf / "frame_images_DB").images.meta["variant"] == "frames"  # the folder says so
    with pytest.raises(FacesslError, match="variant"):
        formats.read("ytf", ytf, variant="original")
    with pytest.raises(FacesslError, match="box_scale"):
        formats.read("ytf", ytf, variant="frames", box_scale=0)


def test_every_root_and_the_pairs_file_option(tmp_path):
    ytf = write_ytf(tmp_path)
    expected = videos_of(formats.read("ytf", ytf))
    for root in (tmp_path, ytf / "aligned_images_DB", ytf / "splits.txt"):
        assert videos_of(formats.read("ytf", root)) == expected
    moved = tmp_path / "elsewhere" / "my_splits.txt"
    moved.parent.mkdir()
    (ytf / "splits.txt").rename(moved)
    (ytf / "meta_data").mkdir()
    with pytest.raises(DataFormatError, match="splits.txt") as err:
        formats.read("ytf", ytf)
    assert "\n" not in str(err.value)
    assert videos_of(formats.read("ytf", ytf, pairs_file=str(moved))) == expected
    # aligned_images_DB alone (renamed), with --pairs
    alone = tmp_path / "aligned"
    (ytf / "aligned_images_DB").rename(alone)
    assert videos_of(formats.read("ytf", alone, pairs_file=str(moved))) == expected
    (ytf / "meta_data" / "splits.txt").write_bytes(moved.read_bytes())  # splits.txt in meta_data/
    assert len(formats.read("ytf", ytf, variant="frames").pairs) == 4
    with pytest.raises(DataFormatError, match="no aligned_images_DB/ found") as err:  # moved away above
        formats.read("ytf", ytf)
    assert "\n" not in str(err.value)


def test_four_column_and_whitespace_splits(tmp_path):
    ytf = write_ytf(tmp_path, splits_txt=False)
    write(ytf / "splits.txt", "1,Alan_Ball/2,Alan_Ball/4,1\n1, Cher\\1, Bo_Derek/0, 0\n")
    got = formats.read("ytf", ytf)
    assert videos_of(got) == [("Alan_Ball/2", "Alan_Ball/4"), ("Cher/1", "Bo_Derek/0")]
    assert got.fold.tolist() == [0, 0] and got.dropped["pair_with_missing_video"] == 0
    write(ytf / "splits.txt", "2 1 Cher/1 Cher/3 1\n")
    assert formats.read("ytf", ytf).fold.tolist() == [1]


def test_meta_and_splits_mat_when_no_splits_txt(tmp_path):
    ytf = write_ytf(tmp_path, splits_txt=False)
    names = ["Alan_Ball/2", "Alan_Ball/4", "Bo_Derek/0", "Cher/1", "Cher/3", "Bo_Derek/9"]
    splits = np.zeros((2, 3, 2))
    splits[:, :, 0] = [[1, 2, 1], [4, 3, 0]]  # 1-based indices into video_names
    splits[:, :, 1] = [[4, 5, 1], [2, 6, 0]]
    write_mat(ytf / "meta_data" / "meta_and_splits.mat", names, splits)
    got = formats.read("ytf", ytf)
    assert got.source.endswith("meta_and_splits.mat")
    assert videos_of(got) == [("Alan_Ball/2", "Alan_Ball/4"), ("Cher/1", "Bo_Derek/0"), ("Cher/1", "Cher/3")]
    assert got.same.tolist() == [True, False, True] and got.fold.tolist() == [0, 0, 1]
    assert got.dropped == {"pair_with_missing_video": 1, "missing_video": 1}
    write(ytf / "splits.txt", HEADER + "\n2, 1, Cher/1, Cher/3, 1\n")  # splits.txt comes first
    assert len(formats.read("ytf", ytf).pairs) == 1
    assert len(formats.read("ytf", ytf, pairs_file="meta_data/meta_and_splits.mat").pairs) == 3
    splits[0, 1, 0] = 7  # past video_names
    write_mat(tmp_path / "bad.mat", names, splits)
    with pytest.raises(DataFormatError, match=r"bad.mat: .*1\.\.6") as err:
        formats.read("ytf", ytf, pairs_file=str(tmp_path / "bad.mat"))
    assert "\n" not in str(err.value)
    write_mat(tmp_path / "shape.mat", names, np.zeros((2, 4, 2)))
    with pytest.raises(DataFormatError, match=r"shape.mat: expected Splits of shape"):
        formats.read("ytf", ytf, pairs_file=str(tmp_path / "shape.mat"))
    write(tmp_path / "v73.mat", "MATLAB 7.3 MAT-file, Platform: GLNXA64" + " " * 100 + "\n")
    with pytest.raises(DataFormatError, match=r"v73.mat: .*splits.txt"):
        formats.read("ytf", ytf, pairs_file=str(tmp_path / "v73.mat"))


@pytest.mark.parametrize("text, line, message", [
    ("1, 1, Alan_Ball/2, Alan_Ball/4\n", 2, "expected 'split number"),
    ("x, 1, Alan_Ball/2, Alan_Ball/4, 1\n", 2, "split number"),
    ("0, 1, Alan_Ball/2, Alan_Ball/4, 1\n", 2, "split number from 1"),
    ("1, 1, Alan_Ball/2, Alan_Ball/4, 2\n", 2, "'is same' as 1 or 0"),
    ("1, 1, Alan_Ball, Alan_Ball/4, 1\n", 2, "<Name>/<video number>"),
])
def test_malformed_splits_lines_are_one_line_errors(tmp_path, text, line, message):
    ytf = write_ytf(tmp_path, splits_txt=False)
    write(ytf / "splits.txt", HEADER + "\n" + text)
    with pytest.raises(DataFormatError) as err:
        formats.read("ytf", ytf)
    text = str(err.value)
    assert text.startswith(f"{ytf / 'splits.txt'}:{line}: ") and message in text and "\n" not in text


def test_bad_box_file_nothing_found_and_no_videos(tmp_path):
    ytf = write_ytf(tmp_path)
    write(ytf / "frame_images_DB" / "Cher.labeled_faces.txt", "Cher\\1\\1.5.jpg,0,10,oops,12,12,0.0,1\n")
    with pytest.raises(DataFormatError, match=r"Cher.labeled_faces.txt:1: expected a number") as err:
        formats.read("ytf", ytf, variant="frames")
    assert "\n" not in str(err.value)
    assert len(formats.read("ytf", ytf).pairs) == 4  # the aligned variant never reads it
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="pairs not found"):
        formats.read("ytf", tmp_path / "empty")
    write(tmp_path / "other" / "splits.txt", HEADER + "\n1, 1, Nobody/1, Nobody/2, 1\n")
    with pytest.raises(DataFormatError, match="does not hold the videos"):
        formats.read("ytf", tmp_path / "other")
    write(ytf / "splits.txt", HEADER + "\n1, 1, Nobody/1, Nobody/2, 1\n")
    with pytest.raises(DataFormatError, match=r"none of the 2 videos .* Nobody/1/ missing or empty") as err:
        formats.read("ytf", ytf)
    assert "\n" not in str(err.value)
    (ytf / "aligned_images_DB" / "Nobody" / "1").mkdir(parents=True)  # an empty video folder counts as missing
    write(ytf / "splits.txt", HEADER + "\n1, 1, Nobody/1, Cher/3, 0\n1, 2, Cher/1, Cher/3, 1\n")
    got = formats.read("ytf", ytf)
    assert len(got.pairs) == 1 and got.dropped == {"pair_with_missing_video": 1, "missing_video": 1}


# --- through the command line ---------------------------------------------------------------------------
def test_eval_and_inspect_cli(tmp_path, monkeypatch, capsys):
    import facessl
    from eval_toys import ToyEncoder
    from facessl.cli import main

    people = {f"Person_{k}": tuple(int(c) for c in np.random.default_rng(k).integers(30, 225, 3)) for k in range(8)}
    names = list(people)
    videos = {name: {"1": range(1, 5), "2": range(10, 13)} for name in names}
    pairs = []
    for split in (1, 2):
        for k in range(4):
            a = names[(k + 4 * (split - 1)) % 8]
            pairs.append((split, f"{a}/1", f"{a}/2", 1))
            pairs.append((split, f"{a}/1", f"{names[(k + 4 * (split - 1) + 1) % 8]}/2", 0))
    ytf = write_ytf(tmp_path / "data", videos=videos, pairs=pairs, colours=people)
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"ytf:{tmp_path / 'data'}",
                 "--out", str(out), "--features", "fs", "--baselines", "none", "--seeds", "1", "--device", "cpu",
                 "--reader-option", "frames=3", "--quiet"]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "verification"
    row = task["rows"]["checkpoint"]["fs"]
    assert row["pairs"] == 16 and row["positive_pairs"] == 8 and row["selected_on"].startswith("2-fold")
    assert row["metrics"]["accuracy"]["mean"] > 0.8
    capsys.readouterr()
    sheet = tmp_path / "ytf.png"
    assert main(["inspect", "--dataset", f"ytf:{ytf}", "--variant", "frames", "--out", str(sheet)]) == 0
    printed = capsys.readouterr().out
    assert "pairs: 16 (8 same, 8 different) in 2 fold(s)" in printed and "of 16 items" in printed
    assert sheet.is_file()
