"""Expression parts: RAF-DB (aligned colour faces) and FER-2013 (48x48 grey CSV rows).

Class balance follows the real sets' label counts, tempered by a square root so that the rare
classes (fear, disgust) stay learnable at the small synthetic scale. Each identity appears in
about IMAGES_PER_IDENTITY images of one split only.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from facessl.data.formats.fer2013 import Fer2013Writer
from facessl.data.formats.rafdb import RafdbWriter
from facessl.data.synthetic.build_context import PartContext, assign_identities, sample_expressions

IMAGES_PER_IDENTITY = 3
# label counts of the real training sets, internal order (surprise, fear, disgust, happiness, sadness, anger, neutral)
RAFDB_COUNTS = (1290, 281, 717, 4772, 1982, 705, 2524)
FER2013_COUNTS = (4002, 5121, 547, 8989, 6077, 4953, 6198)
RAFDB_SPLITS = {"train": "train", "test": "test"}  # count key -> split
FER_SPLITS = {"train": "Training", "public": "PublicTest", "private": "PrivateTest"}


def _needs(counts: dict, keys) -> dict:
    return {key: math.ceil(counts[key] / IMAGES_PER_IDENTITY) for key in keys}


def needs_rafdb(counts: dict) -> dict:
    return _needs(counts, RAFDB_SPLITS)


def needs_fer2013(counts: dict) -> dict:
    return _needs(counts, FER_SPLITS)


def _faces(ctx: PartContext, key: str, class_counts):
    """Labels for one split: identities, expressions, poses, AUs (internal conventions)."""
    from facessl.data.synthetic import expression_aus, sample_poses

    n = ctx.counts[key]
    ids = assign_identities(n, ctx.identities(key), ctx.rng)
    expr = sample_expressions(n, np.sqrt(class_counts), ctx.rng)
    pose = sample_poses(n, ctx.generator, "voxceleb")
    aus = expression_aus(torch.as_tensor(expr), ctx.generator)
    return ids, expr, pose, aus


def build_rafdb(ctx: PartContext) -> dict:
    writer = RafdbWriter(ctx.root)
    ctx.progress(sum(ctx.counts[k] for k in RAFDB_SPLITS))
    for key, split in RAFDB_SPLITS.items():
        ids, expr, pose, aus = _faces(ctx, key, RAFDB_COUNTS)
        for lo, images, _ in ctx.render_batches(ids, pose, aus):
            for k, image in enumerate(images, start=lo):
                path = writer.add(image, int(expr[k]), split)
                ctx.truth.add(path, identity=int(ids[k]), split=split, expression=int(expr[k]), pose=pose[k].numpy(), aus=aus[k].numpy())
    writer.close()
    return {"images": sum(ctx.counts[k] for k in RAFDB_SPLITS)}


def build_fer2013(ctx: PartContext) -> dict:
    row = 0
    ctx.progress(sum(ctx.counts[k] for k in FER_SPLITS))
    with Fer2013Writer(ctx.root / "fer2013.csv") as writer:
        for key, usage in FER_SPLITS.items():
            ids, expr, pose, aus = _faces(ctx, key, FER2013_COUNTS)
            for lo, images, _ in ctx.render_batches(ids, pose, aus):
                for k, image in enumerate(images, start=lo):
                    writer.add(image, int(expr[k]), usage)
                    row += 1  # truth key: the CSV data row number (1 = first row after the header)
                    ctx.truth.add(f"fer2013.csv#{row}", identity=int(ids[k]), split=usage, expression=int(expr[k]),
                                  pose=pose[k].numpy(), aus=aus[k].numpy())
    return {"images": row}
