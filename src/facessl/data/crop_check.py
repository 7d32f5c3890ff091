"""Are a set's pictures face crops? A probe reads the whole picture it is given: a folder of holiday photos or web
pictures, read as they are, gives the probe a room with a small face in it, and a poor score with no word of why.
A seeded sample of the larger pictures is searched with the face detector that `facessl prepare` uses: where the
largest face fills under `SCENE_WIDTH` of the picture's width, or no face is found, the picture is a scene. When
most of the sample are scenes, `scene_note` says so and names `--detect-faces`, which crops each picture to its face.

Only pictures at least `LARGE` px on their shorter side are searched: face-crop sets are mostly smaller (RAF-DB's
100 px, FER-2013's 48, CelebA's 178) and are then not checked at all, and tight crops of a whole face in a larger
picture (CK+, KDEF, LFW's 250 px) have their face over a third of the width."""
from __future__ import annotations

import numpy as np

from PIL import Image

from facessl.data.image_decode import BoxedImage, decode_errors, read_rgb, upright_size

SAMPLE = 8  # ~0.6 s each for a 480x360 picture on a CPU core
LARGE = 160
SCENE_WIDTH = 0.3
NOTE_SHARE = 0.5  # a note when at least this share of the searched sample are scenes
MIN_SEARCHED = 4


def scenes_in_sample(images, seed: int = 0, detector=None) -> tuple[int, int, str | None]:
    """(scenes, pictures searched, an example scene) in a seeded sample of the pictures of `LARGE` px or more."""
    if isinstance(images, np.ndarray) or len(images) == 0:  # decoded from a table: crops already
        return 0, 0, None
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))[:4 * SAMPLE]  # some may be small or undecodable
    scenes, searched, example = 0, 0, None
    for i in order:
        item = images[int(i)]
        if isinstance(item, (BoxedImage, np.ndarray)):  # a face box given: the reader crops it
            continue
        try:
            with Image.open(item) as im:  # its header: small pictures are passed over without decoding them
                if min(upright_size(im)) < LARGE:
                    continue
            picture = read_rgb(item)
        except decode_errors():
            continue
        if detector is None:
            from facessl.data.video.detectors import build_detector

            detector = build_detector("mtcnn")
        searched += 1
        if _is_scene(picture, detector):
            scenes += 1
            example = example or str(item)
        if searched == SAMPLE:
            break
    return scenes, searched, example


def _is_scene(picture: np.ndarray, detector) -> bool:
    from facessl.data.video.writers import best_face, detect_photo

    face = best_face(detect_photo(detector, picture))
    return face is None or (face.box[2] - face.box[0]) < SCENE_WIDTH * picture.shape[1]


def scene_finding(images, seed: int = 0, detector=None) -> str | None:
    """What the sample shows, when most of it are not face crops (else None)."""
    scenes, searched, example = scenes_in_sample(images, seed, detector)
    if searched < MIN_SEARCHED or scenes < NOTE_SHARE * searched:
        return None
    return (f"{scenes} of {searched} sampled pictures are not face crops (no face, or the largest fills under "
            f"{SCENE_WIDTH:.0%} of the width; e.g. {example})")


def scene_note(images, seed: int = 0, detector=None) -> str | None:
    """One line for an evaluation when most of the sampled pictures are not face crops, else None."""
    finding = scene_finding(images, seed, detector)
    return finding and (f"{finding}: the probe reads the whole picture; --detect-faces crops each picture to its "
                        "face, aligned as facessl prepare aligns the pretraining faces")
