"""Verification parts: LFW (near-frontal) and CPLFW-like (cross-pose), both in LFW's pairs.txt format.

Each fold owns its identities (LFW's folds are identity-disjoint). Every identity gets 2-4 images;
a fold has `pairs` same-identity pairs (one per identity) and `pairs` different-identity pairs.
Cross-pose set: each identity's first image is near-frontal (|yaw| < 15 deg) and the others are
turned 40-80 deg to a random side; every pair joins a frontal and a turned image, so the poses of
the two faces always differ by more than 25 deg.
"""
from __future__ import annotations

import numpy as np
import torch

from facessl.data.formats.lfw import LfwWriter, person_name
from facessl.data.synthetic.build_context import PartContext, sample_expressions
from facessl.data.synthetic.build_expression import RAFDB_COUNTS

COUNT_KEYS = ("folds", "pairs")


def needs(counts: dict) -> dict:
    return {f"fold{f}": counts["pairs"] for f in range(counts["folds"])}


def _poses(ctx: PartContext, n_images: list[int], cross_pose: bool) -> torch.Tensor:
    from facessl.data.synthetic import sample_poses

    total = sum(n_images)
    pose = sample_poses(total, ctx.generator, "voxceleb") * 0.5
    pose[:, 0] = pose[:, 0].clamp(-35, 35)
    if cross_pose:
        first = np.cumsum([0] + n_images[:-1])
        turned = np.setdiff1d(np.arange(total), first)
        pose[first, 0] = (torch.rand(len(first), generator=ctx.generator) * 2 - 1) * 15
        side = torch.where(torch.rand(len(turned), generator=ctx.generator) < 0.5, -1.0, 1.0)
        pose[turned, 0] = side * (40 + 40 * torch.rand(len(turned), generator=ctx.generator))
    return pose


def _build(ctx: PartContext, cross_pose: bool) -> dict:
    from facessl.data.synthetic import expression_aus

    c = ctx.counts
    people = []  # (fold, global id, name, number of images)
    for f in range(c["folds"]):
        for gid in ctx.identities(f"fold{f}"):
            people.append((f, int(gid), person_name(len(people)), int(ctx.rng.integers(2, 5))))
    n_images = [p[3] for p in people]
    ids = np.repeat([p[1] for p in people], n_images)
    expr = sample_expressions(len(ids), np.sqrt(RAFDB_COUNTS), ctx.rng)
    pose = _poses(ctx, n_images, cross_pose)
    aus = expression_aus(torch.as_tensor(expr), ctx.generator)
    owner = np.repeat(np.arange(len(people)), n_images)
    number = np.concatenate([np.arange(1, m + 1) for m in n_images])
    writer = LfwWriter(ctx.root)
    ctx.progress(len(ids))
    for lo, images, _ in ctx.render_batches(ids, pose, aus):
        for k, image in enumerate(images, start=lo):
            fold, gid, name, _ = people[owner[k]]
            path, _ = writer.add(name, image)
            ctx.truth.add(path, identity=gid, split=f"fold{fold}", expression=int(expr[k]), pose=pose[k].numpy(), aus=aus[k].numpy())
    writer.write_pairs([_fold_pairs(ctx.rng, [p for p in people if p[0] == f], cross_pose) for f in range(c["folds"])])
    return {"images": len(ids), "pairs": 2 * c["folds"] * c["pairs"]}


def _fold_pairs(rng: np.random.Generator, people: list, cross_pose: bool):
    """`len(people)` same pairs (one per person) and as many different pairs, each between two people of the fold."""
    same, different = [], []
    for _, _, name, m in people:
        if cross_pose:
            i, j = 1, int(rng.integers(2, m + 1))
        else:
            i, j = sorted(int(x) for x in rng.choice(np.arange(1, m + 1), size=2, replace=False))
        same.append((name, i, j))
    n = len(people)
    for k in range(n):
        a, b = k, int((k + 1 + rng.integers(0, n - 1)) % n)  # any other person of the fold
        (_, _, name_a, m_a), (_, _, name_b, m_b) = people[a], people[b]
        if cross_pose:
            i, j = 1, int(rng.integers(2, m_b + 1))  # frontal of a, turned view of b
        else:
            i, j = int(rng.integers(1, m_a + 1)), int(rng.integers(1, m_b + 1))
        different.append((name_a, i, name_b, j))
    return same, different


def build_lfw(ctx: PartContext) -> dict:
    return _build(ctx, cross_pose=False)


def build_cplfw(ctx: PartContext) -> dict:
    return _build(ctx, cross_pose=True)
