"""`--detect-faces`: a set's pictures replaced by the aligned crop of their largest face, as `facessl prepare --images`
aligns it; pictures without a face (or that do not decode) skipped and counted, pairs that use one dropped; the crops
kept in the cache; labels that live in the picture's pixels refused."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data.face_cache import CropSettings
from facessl.data.face_crops import NO_FACE, UNREADABLE, with_detected_faces
from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import save_image
from facessl.errors import FacesslError
from facessl.evaluate.suite import read_dataset
from prepare_fixtures import photo

SETTINGS = CropSettings(frames=1, size=48, margin=0.25)


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """Class folders of scenes: a head on a grey frame (two people a class), a grey picture, a broken file."""
    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "photos"
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    for label, seeds in (("happy", (0, 1, 2)), ("sad", (3, 4, 5))):
        for seed in seeds:
            save_image(root / label / f"p{seed}.png", photo(seed))
    save_image(root / "sad" / "wall.png", np.full((128, 160, 3), 100, np.uint8))
    (root / "happy" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    return root


def prepare_crop(path, size=48):
    """The crop `facessl prepare --images` writes for one picture, decoded."""
    from facessl.data.video import runner
    from facessl.data.video.pipeline import Options

    out = Path(path).parent.parent.parent / "prepared" / Path(path).stem
    single = out.parent / f"in_{Path(path).stem}"
    single.mkdir(parents=True, exist_ok=True)
    (single / Path(path).name).write_bytes(Path(path).read_bytes())
    runner.prepare("images", single, out, Options(size=size), workers=1, quiet=True)
    return np.asarray(Image.open(out / f"{Path(path).stem}.jpg").convert("RGB"), np.float32)


def test_pictures_become_prepares_face_crops_and_faceless_ones_are_counted(photos, capsys):
    data = read_dataset(f"imagefolder:{photos}", options={"detect_faces": True, "face_size": 48})
    assert "finding the faces of 8 of 8 pictures" in capsys.readouterr().err
    assert len(data) == 6 and data.dropped == {NO_FACE: 1, UNREADABLE: 1}
    assert [p.split("/")[-2:] for p in data.labels["source_file"]] == \
        [["happy", "p0.png"], ["happy", "p1.png"], ["happy", "p2.png"], ["sad", "p3.png"], ["sad", "p4.png"],
         ["sad", "p5.png"]]
    assert data.labels["class"].tolist() == [0, 0, 0, 1, 1, 1] and data.split is not None
    for crop_path, source in zip(data.images, data.labels["source_file"]):
        crop = np.asarray(Image.open(crop_path).convert("RGB"), np.float32)
        assert crop.shape == (48, 48, 3)
        assert np.abs(crop - prepare_crop(source)).mean() < 3  # the same crop, through one JPEG encoding
    again = read_dataset(f"imagefolder:{photos}", options={"detect_faces": True, "face_size": 48})
    assert "finding the faces" not in capsys.readouterr().err and again.images == data.images
    assert read_dataset(f"imagefolder:{photos}", options={"detect_faces": True}).images != data.images  # 128 px


def test_labels_in_the_pictures_pixels_are_refused_and_arrays_need_files(tmp_path):
    files = ImageSet([str(tmp_path / "a.png")], {"landmarks": np.zeros((1, 5, 2))}, source="toy")
    with pytest.raises(FacesslError, match="toy: --detect-faces cannot be used with label 'landmarks'"):
        with_detected_faces(files, SETTINGS, "toy")
    posed = ImageSet([str(tmp_path / "a.png")], {"pose": np.zeros((1, 3))}, source="toy")
    with pytest.raises(FacesslError, match="label 'pose': the alignment turns the head's roll upright"):
        with_detected_faces(posed, SETTINGS, "toy")
    held = ImageSet(np.zeros((2, 8, 8, 3), np.uint8), {"class": np.zeros(2)}, source="fer")
    with pytest.raises(FacesslError, match="fer: --detect-faces needs image files"):
        with_detected_faces(held, SETTINGS, "fer")


def test_pairs_using_a_faceless_picture_are_dropped_and_counted(photos, tmp_path, monkeypatch):
    pictures = [str(photos / "happy" / "p0.png"), str(photos / "sad" / "wall.png"), str(photos / "happy" / "p1.png"),
                str(photos / "sad" / "p3.png")]
    pairs = PairSet(ImageSet(pictures, source="pairs"), np.array([[0, 2], [1, 3], [2, 3], [0, 1]]),
                    np.array([True, False, False, True]), np.array([0, 0, 1, 1]), "pairs")
    kept = with_detected_faces(pairs, SETTINGS, "pairs", workers=1)
    assert len(kept.images) == 3 and kept.pairs.tolist() == [[0, 1], [1, 2]]
    assert kept.same.tolist() == [True, False] and kept.fold.tolist() == [0, 1]
    assert kept.dropped == {NO_FACE: 1, "pair with a picture without a face": 2}


def test_cli_eval_and_embed_with_detect_faces(photos, tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"imagefolder:{photos}",
                 "--detect-faces", "--reader-option", "face_size=48", "--test-fraction", "0.34",
                 "--out", str(tmp_path / "out"), "--seeds", "1", "--epochs", "2", "--baselines", "", "--device", "cpu",
                 "--quiet", "--no-cache"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["settings"]["tasks"][0]["options"] == {"detect_faces": True, "face_size": 48, "test_fraction": 0.34}
    assert main(["embed", "--checkpoint", str(tmp_path / "run"), "--dataset", f"imagefolder:{photos}",
                 "--detect-faces", "--out", str(tmp_path / "feats.csv"), "--quiet"]) == 0
    names = [line.split(",")[0] for line in (tmp_path / "feats.csv").read_text().splitlines()[1:]]
    assert names == [str(photos / "happy" / f"p{i}.png") for i in range(3)] + \
        [str(photos / "sad" / f"p{i}.png") for i in range(3, 6)]
    assert main(["embed", "--checkpoint", str(tmp_path / "run"), "--images", str(photos), "--detect-faces",
                 "--out", str(tmp_path / "folder.csv"), "--quiet"]) == 0  # a plain folder: its pictures' faces too
    lines = (tmp_path / "folder.csv").read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in lines] == [f"happy/p{i}.png" for i in range(3)] + \
        [f"sad/p{i}.png" for i in range(3, 6)]
    header, first = (tmp_path / "feats.csv").read_text().splitlines()[:2]
    assert header.startswith("file,label,group,split,f0,")  # a dataset's rows carry what eval reads of them
    assert lines[0].split(",")[1:] == first.split(",")[4:]


def test_inspect_says_the_faces_were_detected(photos, tmp_path, capsys):
    assert main(["inspect", "--dataset", f"imagefolder:{photos}", "--detect-faces", "--out",
                 str(tmp_path / "sheet.png")]) == 0
    out = capsys.readouterr().out
    assert "faces: detected and aligned as facessl prepare --images (128 px, margin 0.25); 6 of 8 pictures" in out
    assert "skipped: undecodable image 1, image without a face (--detect-faces) 1" in out


@pytest.mark.parametrize("options,message", [
    ({"face_size": 64}, "face_size applies with --detect-faces only"),
    ({"detect_faces": "maybe"}, "--detect-faces detect_faces 'maybe': expected true or false"),
    ({"detect_faces": True, "face_margin": 5}, "face_margin 5: expected a number from 0 to 2"),
    ({"detect_faces": True, "face_size": 4}, "face_size 4: expected a whole number >= 16"),
])
def test_face_options_are_checked_before_reading(photos, options, message):
    with pytest.raises(FacesslError, match=message):
        read_dataset(f"imagefolder:{photos}", options=options)


def test_detect_faces_reaches_the_training_set_too():
    from facessl.evaluate.suite import TaskSpec, split_reader_options

    spec = TaskSpec("classification", "imagefolder:/test", "csv:/train.csv",
                    options={"detect_faces": True, "face_size": 96, "label_column": "mood"})
    assert split_reader_options(spec) == {"imagefolder:/test": {"detect_faces": True, "face_size": 96},
                                          "csv:/train.csv": {"detect_faces": True, "face_size": 96,
                                                             "label_column": "mood"}}


def test_no_face_anywhere_and_faces_already_found_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "cache"))
    for label in ("a", "b"):
        (tmp_path / "walls" / label).mkdir(parents=True)
        save_image(tmp_path / "walls" / label / "w.png", np.full((64, 64, 3), 90 + 50 * (label == "b"), np.uint8))
    with pytest.raises(FacesslError, match=r"walls: --detect-faces found no face in any of its 2 pictures \("
                                           r"image without a face \(--detect-faces\) 2\)"):
        read_dataset(f"imagefolder:{tmp_path / 'walls'}", options={"detect_faces": True})
    clips = ImageSet([str(tmp_path / "x.jpg")], {"clip": np.array(["a.mp4"]), "frame": np.array([3])}, source="v")
    with pytest.raises(FacesslError, match="v: --detect-faces does not apply: this set's rows are faces already found"):
        with_detected_faces(clips, SETTINGS, "v")


def test_pictures_inside_a_container_file_have_their_own_cache_keys(tmp_path):
    from facessl.data import face_cache

    class Record(str):  # formats.insightface_rec.RecordImage: `<file>#<key>`, read through open_bytes()
        def open_bytes(self):
            raise NotImplementedError

    (tmp_path / "train.rec").write_bytes(b"records")
    keys = [face_cache.input_key(Record(f"{tmp_path / 'train.rec'}#{k}"), SETTINGS, 1) for k in (1, 2)]
    assert None not in keys and keys[0] != keys[1]
    assert face_cache.input_key(Record(f"{tmp_path / 'gone.rec'}#1"), SETTINGS, 1) is None
