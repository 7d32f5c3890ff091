"""Landmarks in the wrong frame are one error, not the same NME as right ones (audit s35, A5 and C6).

NME (inter-ocular or box) does not change when every label is shifted or scaled, so points written for another
crop, offset or normalised to [0, 1] used to score exactly as the right ones. The landmarks task now stops when
the points cannot be pixels of their stored images; `inspect` prints the same finding. Points a little outside
(occluded landmarks of real crops) stay fine.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from eval_toys import landmark_set
from facessl.cli import main
from facessl.data.formats.common import ImageSet
from facessl.errors import FacesslError
from facessl.evaluate import landmarks
from facessl.evaluate.protocol import EvalOptions

FAST = EvalOptions(seeds=1, epochs=2, weight_decays=(0.0,))


def shifted(data: ImageSet, points) -> ImageSet:
    return ImageSet(data.images, {**data.labels, "landmarks": points}, data.split, data.source)


def test_points_far_outside_their_images_are_one_error():
    data = landmark_set()  # 24 x 20 images, points inside
    moved = shifted(data, data.labels["landmarks"] + 500)
    with pytest.raises(FacesslError) as err:
        landmarks.build(moved, None, FAST)
    message = str(err.value)
    assert "toy-lm-0: 100 of 100 rows have landmarks outside their image" in message
    assert "on a 24x20 image" in message and "pixels of the stored image" in message and "0-based" in message
    assert "\n" not in message


def test_normalised_points_are_one_error():
    data = landmark_set(width=64, height=48)
    unit = shifted(data, data.labels["landmarks"] / np.array([64.0, 48.0]))
    with pytest.raises(FacesslError, match=r"toy-lm-0: the landmarks of 100 of 100 rows lie within \[0, 1\].*look "
                                           r"normalised.*pixels of the stored image"):
        landmarks.build(unit, None, FAST)


def test_normalised_check_leaves_tiny_images_alone():
    """On 4 px images, pixel coordinates within [0, 1] are possible: no claim that they are fractions."""
    points = np.random.default_rng(0).uniform(0, 1, (40, 5, 2))
    tiny = ImageSet(np.zeros((40, 4, 4, 3), np.uint8), {"landmarks": points}, None, "tiny")
    assert landmarks.frame_problem(tiny) is None
    assert "look normalised" in landmarks.frame_problem(ImageSet(np.zeros((40, 8, 8, 3), np.uint8),
                                                                 {"landmarks": points}, None, "small"))


def test_points_a_little_outside_pass():
    """Real crops (300-W, COFW, AFLW-19) put occluded chins and brows a bit outside: every row here has a point
    20 % of the width outside and 40 % of the rows one point 45 % outside: no error."""
    data = landmark_set(k=10, width=40, height=40)
    points = data.labels["landmarks"].copy()
    points[:, 0, 0] = -8.0   # 20 % of 40 px left of the image
    points[:, 1, 1] = 47.0   # below it
    points[:40, 2, 0] = 40 + 18.0  # 45 % of the width right of it, in 40 of 100 rows
    assert landmarks.frame_problem(shifted(data, points)) is None
    task = landmarks.build(shifted(data, points), None, FAST)
    assert task.info["points"] == 10


def test_a_minority_far_outside_passes_and_missing_points_are_ignored():
    data = landmark_set()
    points = data.labels["landmarks"].copy()
    points[:45] += 500  # 45 of 100 rows: under half
    points[50:, 3] = np.nan  # a point not annotated
    assert landmarks.frame_problem(shifted(data, points)) is None
    points[45:55] += 500
    assert "55 of 100 rows" in landmarks.frame_problem(shifted(data, points))


def test_most_points_slightly_outside_are_caught():
    """Coordinates of an image twice the size (most points past the right or bottom edge, none by 50 %)."""
    data = landmark_set(width=40, height=40)
    points = data.labels["landmarks"] * 0.5 + 41  # every point 1 to 19 px past the edge: under 50 % of 40
    message = landmarks.frame_problem(shifted(data, points))
    assert message and "100 of 100 rows" in message and "0 with a point farther out" in message


def test_the_train_dataset_is_checked_too():
    test = landmark_set()
    train = shifted(landmark_set(seed=1), landmark_set(seed=1).labels["landmarks"] / 24.0)
    train.source = "train-set"
    with pytest.raises(FacesslError, match="train-set: the landmarks of"):
        landmarks.build(test, train, FAST)


def test_a_point_count_without_eyes_says_why_the_nme_is_missing():
    three = landmarks.build(landmark_set(k=3), None, FAST)
    assert three.info["notes"] == ["NME (inter-ocular) needs 5, 29, 68 or 98 points, whose eye points are known, or a "
                                   "set that gives face boxes (aflw19:); these 3 points get NME box only"]
    assert "notes" not in landmarks.build(landmark_set(k=5), None, FAST).info


def test_landmarks_task_on_a_set_without_points_names_what_it_has():
    data = ImageSet(np.zeros((4, 8, 8, 3), np.uint8), {"target": np.zeros((4, 2))}, None, "t.csv",
                    meta={"target_columns": ["yaw", "pitch"]})
    with pytest.raises(FacesslError, match=r"t.csv: task 'landmarks' needs landmarks .*--target-columns \(here yaw, "
                                           r"pitch\) give task 'regression'"):
        landmarks.build(data, None, FAST)


def _table(tmp_path, offset=0.0, scale=1.0):
    rng = np.random.default_rng(0)
    rows = ["image,lx,ly,rx,ry"]
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)).save(tmp_path / f"f{i:02d}.png")
        lx, ly, rx, ry = (np.array([12, 20, 28, 20]) + rng.normal(0, 1, 4)) * scale + offset
        rows.append(f"f{i:02d}.png,{lx:.3f},{ly:.3f},{rx:.3f},{ry:.3f}")
    (tmp_path / "lm.csv").write_text("\n".join(rows) + "\n")
    return ["inspect", "--dataset", f"csv:{tmp_path / 'lm.csv'}", "--point-columns", "lx,ly,rx,ry"]


def test_inspect_says_the_points_are_outside(tmp_path, capsys):
    assert main(_table(tmp_path, offset=500)) == 0
    out = capsys.readouterr().out
    assert "landmarks in the wrong frame (eval stops here):" in out and "30 of 30 rows have landmarks outside" in out
    assert "f00.png" in out and "on a 40x48 image" in out


def test_inspect_says_the_points_look_normalised(tmp_path, capsys):
    assert main(_table(tmp_path, scale=1 / 40)) == 0
    assert "look normalised" in capsys.readouterr().out


def test_inspect_is_quiet_on_right_points(tmp_path, capsys):
    assert main(_table(tmp_path)) == 0
    assert "wrong frame" not in capsys.readouterr().out
