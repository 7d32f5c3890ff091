"""Whether a set's pictures are face crops: a seeded sample of the larger ones searched with prepare's detector."""
import numpy as np
import pytest
from PIL import Image

from facessl.cli import main
from facessl.data import crop_check
from prepare_fixtures import faces, photo


def folder_of(tmp_path, name, pictures):
    for label in ("happy", "sad"):
        (tmp_path / name / label).mkdir(parents=True)
    paths = []
    for i, picture in enumerate(pictures):
        paths.append(tmp_path / name / ("happy", "sad")[i % 2] / f"p{i}.png")
        Image.fromarray(picture).save(paths[-1])
    return tmp_path / name, [str(p) for p in paths]


@pytest.fixture(scope="module")
def pictures():
    crops = [np.asarray(Image.fromarray(f).resize((200, 200))) for f in faces(8, seed=3, size=96)]
    scenes = [photo(seed=i, size=48, shape=(360, 480)) for i in range(8)]  # a 48 px head in a 480 px picture
    return crops, scenes


def test_scenes_are_told_from_crops(tmp_path, pictures):
    crops, scenes = pictures
    _, crop_files = folder_of(tmp_path, "crops", crops)
    _, scene_files = folder_of(tmp_path, "scenes", scenes)
    assert crop_check.scenes_in_sample(crop_files)[:2] == (0, 8)
    found, searched, example = crop_check.scenes_in_sample(scene_files)
    assert (found, searched) == (8, 8) and example in scene_files
    assert crop_check.scene_note(crop_files) is None
    assert "8 of 8 sampled pictures are not face crops" in crop_check.scene_note(scene_files)


def test_small_pictures_and_arrays_are_not_searched(tmp_path):
    class NoDetector:
        def detect(self, image):
            raise AssertionError("searched")

    _, small = folder_of(tmp_path, "small", faces(6, size=64))
    assert crop_check.scenes_in_sample(small, detector=NoDetector()) == (0, 0, None)
    assert crop_check.scenes_in_sample(faces(6, size=200), detector=NoDetector()) == (0, 0, None)


def test_inspect_names_a_set_of_scenes_and_detect_faces(tmp_path, pictures, capsys):
    root, _ = folder_of(tmp_path, "scenes", pictures[1])
    assert main(["inspect", "--dataset", f"imagefolder:{root}"]) == 0
    printed = capsys.readouterr().out
    assert "note: 8 of 8 sampled pictures are not face crops" in printed and "--detect-faces" in printed


def test_eval_notes_scenes_on_the_console_and_under_the_table(tmp_path, pictures, monkeypatch, capsys):
    import json

    import facessl
    from eval_toys import ToyEncoder

    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    root, _ = folder_of(tmp_path, "scenes", pictures[1] * 2)
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"imagefolder:{root}", "--out",
                 str(tmp_path / "out"), "--seeds", "1", "--epochs", "2", "--baselines", "none", "--no-cache",
                 "--device", "cpu"]) == 0
    assert "note: 8 of 8 sampled pictures are not face crops" in capsys.readouterr().err
    task = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"][0]
    assert "not face crops" in task["info"]["not_face_crops"]
    assert "imagefolder: 8 of 8 sampled pictures are not face crops" in (tmp_path / "out" / "results.md").read_text()


def test_pretraining_on_whole_pictures_is_warned_about(tmp_path, pictures, capsys):
    from facessl.engine.train import train
    from train_helpers import tiny_config

    for i, picture in enumerate(pictures[1]):
        Image.fromarray(picture).save(tmp_path / f"p{i}.jpg")
    train(tiny_config(tmp_path, "data.layout=folder", "data.sampling=all_frames", steps=1, batch=4), tmp_path / "run")
    err = capsys.readouterr().err
    assert "warning: 8 of 8 sampled pictures are not face crops" in err and "facessl prepare --images" in err
