"""Photos and videos that stand sideways or upside down without saying so (EXIF stripped by a
messenger, a scan put in sideways, a video re-encoded without its rotation flag).

MTCNN is trained on upright faces: on a turned one it mostly finds nothing, and when it does find
it, its 5 landmarks are laid out like an upright face's over the wrong parts (the "eyes" on the
mouth), so a crop from them is upside down. Two checks say whether the upright reading can be
trusted; only when it cannot are the other three quarter turns tried (an upright dataset costs
what it did):

- `plausible_landmarks`: the geometry of an upright face in image coordinates (eyes above the nose,
  the nose above the mouth corners, eyes and mouth corners in order, the face rolled at most 60°);
- `trusted`: the detector's own face score (MTCNN's O-Net) of the face's crop turned by a quarter,
  a half, three quarters: clearly higher than as it stands (in log-odds) means it stands turned; low in all four
  for a detection that was itself weak means a weak find, which on a turned photo often comes with
  upright-looking landmarks. A sure detection (O-Net >= 0.95 in its own box) low in all four is a
  photo cropped tight to the face: the turn check's square crop reaches past its edges (black there).
  A detection surer than any find on a turned face (>= 0.999) skips the check: it costs a quarter
  of a detection, and more than half of upright faces score that high.

Turns are counted as np.rot90 counts them: k quarter turns anticlockwise make the input upright.
"""
from __future__ import annotations

import numpy as np

MAX_ROLL_DEG = 60.0      # real heads roll up to about 45°; a face turned a quarter reads near 90°
LAYOUT_SLACK = 0.1       # of the eyes-to-mouth height: a face looking up has its nose near the eye line
ORDER_SLACK = 0.15       # eyes / mouth corners may cross a little in a profile view
EYE_TILT = 0.5           # height difference of the two eyes, of the eyes-to-mouth height
TURNED_SCORE = 0.9       # a turned crop must look this much like a face ...
TURNED_LOGIT_MARGIN = 2.0  # ... and 7x the odds of the crop as it stands (O-Net reads some upside-down faces at
                           # 0.99 and the face turned back at 0.99999: a margin in probability could not see that;
                           # session 31, 1,400 shared photos and 304 frames of the shared clips, a quarter of them
                           # upright: turned frames read wrong 20/230 -> 4/230, photos 7/1059 -> 4/1059, upright
                           # unchanged, 1/341 and 0/74, and no more searches on upright inputs)
ODDS_CLIP = 1e-7         # a float32 softmax saturates at 0 and 1
UNSURE_SCORE = 0.8       # below this in every turn a weak detection is searched for in the other turns too
SURE_FACE = 0.95         # a detection this sure is not a weak find on a turned face (those scored <= 0.91)
UNCHECKED_SCORE = 0.999  # MTCNN's finds on turned faces scored <= 0.993 (86 in 2550 turned shared photos);
                         # 56 in 100 upright faces score this or more: they skip the turn check
PHOTO_SURE_TURN = 0.97   # a photo is turned only for a face found this surely turned: upright photos far outnumber
                         # turned ones, and a weak find in a turn (a chin read as a face in a tight crop) had
                         # turned 12 of 13,682 upright shared photos, half of them wrongly (session 37: 400
                         # shared photos in each of four turns: upright 394 right either way; turned ones
                         # 1,180 -> 1,117 right, 15 -> 77 without a face, skipped and counted, not cropped wrong)
VIDEO_FRAMES = 5         # sampled frames a video's turn is decided from (at most)
VIDEO_VOTES = 3          # stop once this many of them had a face


def turn(image: np.ndarray, k: int) -> np.ndarray:
    """The image turned k quarter turns anticlockwise (k = 0: itself, no copy)."""
    return image if k % 4 == 0 else np.ascontiguousarray(np.rot90(image, k))


def degrees(k: int) -> int:
    """A turn as said to the user: degrees anticlockwise."""
    return 90 * (k % 4)


def plausible_landmarks(landmarks) -> bool:
    """Whether 5 landmarks (eyes: person's right then left, nose, mouth corners: right then left) are
    laid out as an upright face's: measured in the face's own frame, whose "down" runs from the
    middle of the eyes to the middle of the mouth, so roll is judged once, by that direction."""
    le, re, nose, ml, mr = np.asarray(landmarks, float)
    eyes, mouth = (le + re) / 2, (ml + mr) / 2
    height = float(np.linalg.norm(mouth - eyes))
    if not height > 1e-6:
        return False
    down = (mouth - eyes) / height
    across = np.array([down[1], -down[0]])  # image x for an upright face
    if np.degrees(np.arctan2(-down[0], down[1])) ** 2 > MAX_ROLL_DEG ** 2:
        return False

    def y(p):
        return float(np.dot(p - eyes, down)) / height

    def x(p):
        return float(np.dot(p - eyes, across)) / height

    eyes_above_nose = max(y(le), y(re)) < y(nose) + LAYOUT_SLACK
    nose_above_mouth = y(nose) < min(y(ml), y(mr)) + LAYOUT_SLACK
    in_order = x(re) - x(le) > -ORDER_SLACK and x(mr) - x(ml) > -ORDER_SLACK
    level_eyes = abs(y(re) - y(le)) < EYE_TILT
    return eyes_above_nose and nose_above_mouth and in_order and level_eyes


def plausible(face) -> bool:
    """A face whose landmarks read upright; a detector without landmarks (haar) cannot be judged: kept."""
    return face is not None and (face.landmarks is None or plausible_landmarks(face.landmarks))


def looks_turned(detector, image: np.ndarray, face) -> bool:
    """Whether the detector scores this face's crop clearly higher turned than as it stands."""
    return _stands_turned(detector.turn_scores(image, face.box))


def trusted(detector, image: np.ndarray, face) -> bool:
    """A plausible face the detector is sure of in this orientation: its crop is not clearly a face turned,
    and, for a weak detection, some turn of it is clearly a face (a weak detection on a turned photo often
    reads upright). A sure detection skips that last check: on upright photos cropped tight it fails
    (3 in 100 of the shared expression photos, each then searched in three more turns); a detection surer
    than any find on a turned face skips the turn check altogether."""
    if not plausible(face):
        return False
    if face.score >= UNCHECKED_SCORE:
        return True
    scores = detector.turn_scores(image, face.box)
    return not (_stands_turned(scores) or (face.score < SURE_FACE and _unsure(scores)))


def _stands_turned(scores) -> bool:
    if scores is None:
        return False
    best = float(max(scores[1:]))
    return best >= TURNED_SCORE and _logit(best) >= _logit(float(scores[0])) + TURNED_LOGIT_MARGIN


def _logit(p: float) -> float:
    p = min(max(p, ODDS_CLIP), 1 - ODDS_CLIP)
    return float(np.log(p / (1 - p)))


def _unsure(scores) -> bool:
    return scores is not None and float(max(scores)) < UNSURE_SCORE


def find_upright(image: np.ndarray, find_face, detector, sure_turn: float = 0.0):
    """(k, the image turned k quarters, its face) for the orientation to crop from, or (0, image, None).

    find_face(image) -> the one face a caller keeps (or None). The upright reading stands when its face
    is trusted; else the three turns are tried, and a turned face that is plausible, scores at least
    `sure_turn` and does not itself stand turned wins over a plausible upright one when its score is higher
    (a weak one too, with sure_turn 0: a video's turn is voted over several frames; a photo has one)."""
    face = find_face(image)
    if face is not None and trusted(detector, image, face):
        return 0, image, face
    best = (0, image, face if plausible(face) else None)
    for k in (1, 2, 3):
        turned = turn(image, k)
        candidate = find_face(turned)
        if not plausible(candidate) or candidate.score < sure_turn or looks_turned(detector, turned, candidate):
            continue
        if best[2] is None or candidate.score > best[2].score:
            best = (k, turned, candidate)
    return best


def video_turn(frames, detector) -> int:
    """One turn for a whole video (per frame it would flicker): the most frequent orientation over its first
    sampled frames that have a face, upright on a tie or when none has."""
    from facessl.data.video.writers import best_face

    votes = np.zeros(4, int)
    for frame in frames[:VIDEO_FRAMES]:
        k, _, face = find_upright(frame, lambda image: best_face(detector.detect(image)), detector)
        if face is not None:
            votes[k] += 1
        if votes.sum() >= VIDEO_VOTES:
            break
    return int(np.argmax(votes)) if votes.max() > votes[0] else 0


def upright_frames(samples, detector, summary: dict):
    """The sampled (index, time, frame) items of a video, every frame turned as its first ones decide;
    summary["turn"] says the turn (degrees anticlockwise) when there is one. A video that breaks off
    among those first frames keeps them (decided from what there is), then the error is raised."""
    from facessl.data.video.decode import VideoError

    head, error = [], None
    try:
        for item in samples:
            head.append(item)
            if len(head) == VIDEO_FRAMES:
                break
    except VideoError as exc:
        if not head:
            raise
        error = exc
    k = video_turn([frame for *_, frame in head], detector)
    if k:
        summary["turn"] = degrees(k)
    for index, time_s, frame in head:
        yield index, time_s, turn(frame, k)
    if error is not None:
        raise error
    for index, time_s, frame in samples:
        yield index, time_s, turn(frame, k)
