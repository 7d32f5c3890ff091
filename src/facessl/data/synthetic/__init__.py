"""Procedural 3D face generator: identities, head poses, expressions as action units, scenes, video
tracks, a batched ray-cast renderer with 68 landmarks, and a preview contact sheet.

Conventions (the renderer's; format writers may map them to their own):
- Pose (yaw, pitch, roll) in degrees, R = Rz(roll) @ Ry(yaw) @ Rx(-pitch). Positive yaw turns the face
  towards the IMAGE's right (the subject's left), positive pitch lifts the chin (looking up), positive
  roll tilts the head counter-clockwise in the image. A horizontal flip of the image equals negating
  yaw and roll (pitch unchanged), with the landmarks permuted by landmarks.FLIP_68.
- Images (n, H, W, 3) uint8 RGB. Landmarks (n, 68, 2) float pixel coordinates, x right and y down, where
  pixel (row i, column j) spans [j, j+1) x [i, i+1): its centre is (j + 0.5, i + 0.5).
- Landmark layout: iBUG / 300-W 68 points; 36 is the image-left outer eye corner of a frontal face.
- AU intensities 0..5 in facessl.data.labels.AUS order; expressions in labels.EXPRESSIONS order.
- Everything is a pure function of explicitly seeded generators (byte-identical on a given platform).

Typical use::

    g = torch.Generator().manual_seed(0)
    ids = sample_identities(8, g)
    out = render(ids, sample_poses(8, g), expression_aus(torch.arange(8) % 7, g), sample_scene(8, g), 64, g)
"""
from .landmarks import FLIP_68
from .params import (AU_INDEX, EXPRESSION_PROTOTYPES, EXTRA_AUS, ID_PARAMS, N_ID_PARAMS, expression_aus,
                     infer_extra_aus, sample_identities, sample_poses)
from .preview import preview_sheet
from .render import SUPPORTED_SIZES, Render, render
from .scene import SCENE_KEYS, plain_scene, sample_scene
from .tracks import sample_track

__all__ = [
    "AU_INDEX", "EXPRESSION_PROTOTYPES", "EXTRA_AUS", "FLIP_68", "ID_PARAMS", "N_ID_PARAMS", "Render",
    "SCENE_KEYS", "SUPPORTED_SIZES", "expression_aus", "infer_extra_aus", "plain_scene", "preview_sheet",
    "render", "sample_identities", "sample_poses", "sample_scene", "sample_track",
]
