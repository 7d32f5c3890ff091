"""Detector, alignment, tracking and naming pieces of `facessl prepare`, against independent formulations."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facessl.data.video.align import align, similarity, template
from facessl.data.video.detectors import Face, build_detector, iou
from facessl.data.video.mtcnn import nms
from facessl.data.video.naming import photo_place, track_name, video_place
from facessl.data.video.track import Tracker
from facessl.errors import FacesslError
from prepare_fixtures import faces


def test_mtcnn_finds_rendered_faces_with_landmarks_in_order():
    det = build_detector("mtcnn")
    heads = faces(3)
    for i, head in enumerate(heads):
        frame = np.full((200, 260, 3), 90, np.uint8)
        frame[50:114, 120:184] = head
        found = det.detect(frame)
        assert len(found) == 1, i
        f = found[0]
        assert f.score > 0.9 and iou(f.box, np.array([120, 50, 184, 114]))[0, 0] > 0.4
        eyes, nose, mouth = f.landmarks[:2], f.landmarks[2], f.landmarks[3:]
        assert eyes[0, 0] < eyes[1, 0] and eyes[:, 1].max() < nose[1] < mouth[:, 1].min()  # a face's layout
        again = det.refine(frame, f.box)  # O-Net following from the box lands on the same face
        assert again is not None and iou(again.box, f.box)[0, 0] > 0.7
    assert det.detect(np.full((120, 160, 3), 90, np.uint8)) == []  # a blank frame has no face


def test_similarity_matches_opencv_and_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (5, 2))
    angle, scale, shift = 0.3, 0.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = similarity(src, dst)
    np.testing.assert_allclose(m, np.concatenate([rot, shift[:, None]], 1), atol=1e-9)
    noisy = dst + rng.normal(0, 2, dst.shape)
    ref, _ = cv2.estimateAffinePartial2D(src, noisy, method=cv2.LMEDS)  # OpenCV's least squares on all 5 points
    np.testing.assert_allclose(similarity(src, noisy), ref, atol=1e-3)


def test_align_puts_landmarks_on_the_template():
    size, margin = 64, 0.25
    frame = np.zeros((300, 300, 3), np.uint8)
    lm = template(1, 0.0) * 150 + 40  # a face 150 px wide at (40, 40)
    for x, y in lm:
        cv2.circle(frame, (int(round(x)), int(round(y))), 6, (255, 255, 255), -1)
    out = align(frame, None, lm, size, margin)
    for x, y in template(size, margin):
        assert out[int(round(y)), int(round(x))].min() > 200


@pytest.mark.parametrize("frame_side", [120, 900])  # the direct warp, and the area-shrunk path
def test_a_rolled_face_at_the_frame_edge_gets_no_black_corners(frame_side):
    frame = np.full((frame_side, frame_side, 3), 180, np.uint8)
    frame[frame_side // 2:] = 90  # two tones: the repeated border must keep each side's own value
    centre = np.array([frame_side * 0.5, frame_side * 0.5])
    angle = np.deg2rad(35)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lm = (template(1, 0.0) - 0.5) @ rot.T * frame_side * 0.8 + centre  # rolled 35 degrees, filling the frame
    out = align(frame, None, lm, 64, 0.4)
    assert out.min() >= 85  # nothing black: the crop reaches past the frame on every side
    assert out[:8].mean() > 150 or out[-8:].mean() < 120  # the tones stay on their sides


def test_nms_equals_brute_force():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (40, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 30, (40, 2))], 1)
    scores = rng.uniform(size=40)
    keep = nms(boxes, scores, 0.4)
    area = lambda b: (b[2] - b[0] + 1) * (b[3] - b[1] + 1)  # noqa: E731
    alive, expect = list(np.argsort(-scores)), []
    while alive:
        i = alive.pop(0)
        expect.append(i)
        def overlap(j):
            w = max(0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]) + 1)
            h = max(0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]) + 1)
            return w * h / (area(boxes[i]) + area(boxes[j]) - w * h)
        alive = [j for j in alive if overlap(j) <= 0.4]
    assert keep.tolist() == expect


def test_tracker_links_by_overlap_caps_faces_and_closes_after_a_gap():
    face = lambda x, size=40: Face(np.array([x, 10, x + size, 10 + size], float), 0.99)  # noqa: E731
    t = Tracker(max_gap=1, max_faces=2)
    for pos in range(4):  # two faces drifting right, and a tiny third that the cap drops
        t.update(pos, [face(10 + 3 * pos), face(200 - 3 * pos), face(400, 10)], pos, pos / 10)
    t.update(4, [], 4, 0.4)
    t.update(5, [], 5, 0.5)   # two missed frames > max_gap: both close
    t.update(6, [face(22)], 6, 0.6)  # a new track, not a continuation
    t.close_all()
    lengths = sorted(len(tr.obs) for tr in t.closed)
    assert lengths == [1, 4, 4] and t.count == 3


def test_names_keep_voxceleb2_and_make_safe_identities():
    assert video_place("dev/mp4/id00012/21Uxsk56VDQ/00001.mp4") == ("id00012", "21Uxsk56VDQ", "00001")
    assert [track_name("00001", n) for n in (1, 2)] == ["00001", "00001_02"]
    assert video_place("talks/2019/my clip.MOV") == ("talks-2019-my_clip", "my_clip", None)
    assert track_name(None, 3) == "00003"
    assert photo_place("happy/a b.png") == "happy/a_b.jpg"


def test_unknown_detector_is_a_clear_error():
    with pytest.raises(FacesslError, match="unknown face detector.*mtcnn"):
        build_detector("retina")


def test_a_photo_filled_by_its_face_is_searched_again_with_a_border_and_mapped_back():
    from facessl.data.video.writers import detect_photo

    class OnlyWithContext:  # finds the face only when there is room around it, as MTCNN does
        def detect(self, image):
            if image.shape[0] == 100:
                return []
            pad = (image.shape[0] - 100) // 2
            assert (image[:pad] == 127).all()  # a grey border
            return [Face(np.array([pad + 10, pad + 20, pad + 90, pad + 95], float), 0.99,
                         np.full((5, 2), pad + 50.0))]

    (face,) = detect_photo(OnlyWithContext(), np.zeros((100, 100, 3), np.uint8))
    np.testing.assert_allclose(face.box, [10, 20, 90, 95])
    np.testing.assert_allclose(face.landmarks, 50.0)
