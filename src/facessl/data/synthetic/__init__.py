"""Procedural 3D face generator: identities, poses, expressions (AUs), scenes, tracks and the renderer."""
from .params import (AU_INDEX, EXTRA_AUS, ID_PARAMS, N_ID_PARAMS, expression_aus, infer_extra_aus,
                     sample_identities, sample_poses)
from .preview import preview_sheet
from .render import SUPPORTED_SIZES, Render, render
from .scene import plain_scene, sample_scene
from .tracks import sample_track

__all__ = [
    "AU_INDEX", "EXTRA_AUS", "ID_PARAMS", "N_ID_PARAMS", "Render", "SUPPORTED_SIZES", "expression_aus",
    "infer_extra_aus", "plain_scene", "preview_sheet", "render", "sample_identities", "sample_poses",
    "sample_scene", "sample_track",
]
