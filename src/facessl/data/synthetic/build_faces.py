"""Action-unit and landmark parts: DISFA (AU videos), 300-W (68 points) and MAFL (5 points).

DISFA: one near-frontal video per subject in a fixed scene; the AU course is a chain of
expression episodes, every subject going through all six emotions in a shuffled order (the real
subjects all watch the same emotive clips), so every AU reaches high intensity in every subject and
every cross-validation fold; labels are the AU intensities rounded to DISFA's integer levels.
300-W: train from afw / helen / lfpw trainsets, test = common (helen, lfpw testsets) + challenging
(ibug: wide poses, always a strong expression), with the real set's subset proportions.
MAFL: CelebA-style near-frontal faces, two per identity, numbered in one shuffled sequence.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from facessl.data.formats.disfa import DisfaWriter, subject_name
from facessl.data.formats.mafl import MaflWriter, five_from_68
from facessl.data.formats.w300 import W300Writer
from facessl.data.synthetic.build_context import RENDER_POSE_SIGN, PartContext, identity_params, sample_expressions
from facessl.data.synthetic.build_expression import RAFDB_COUNTS

EMOTIONS = (0, 1, 2, 3, 4, 5)  # every internal expression but neutral (index 6)
W300_SHARE = {"train": {"afw": 337, "helen/trainset": 2000, "lfpw/trainset": 811},
              "common": {"helen/testset": 330, "lfpw/testset": 224}, "challenging": {"ibug": 135}}


def needs_disfa(counts):
    return {"all": counts["subjects"]}


def needs_300w(counts):
    return {"train": counts["train"], "test": counts["common"] + counts["challenging"]}


def needs_mafl(counts):
    return {"train": math.ceil(counts["train"] / 2), "test": math.ceil(counts["test"] / 2)}


def build_disfa(ctx: PartContext) -> dict:
    from facessl.data.synthetic import sample_track

    frames = ctx.counts["frames"]
    writer = DisfaWriter(ctx.root)
    ctx.progress(ctx.counts["subjects"] * frames)
    for local, gid in enumerate(ctx.identities("all")):
        params = identity_params(ctx.seed, [gid])[0]
        track = sample_track(params, frames, ctx.generator)  # smooth head motion and the subject's fixed scene
        scene = {k: v[:1].repeat_interleave(frames, dim=0) for k, v in track["scene"].items()}
        scene["occluder"][:, 0] = 0  # a lab recording: nothing in front of the face
        expr = ctx.rng.permutation(EMOTIONS)[: max(1, min(len(EMOTIONS), frames // 12))]
        bounds = np.linspace(0, frames, len(expr) + 1).round().astype(int)
        aus = torch.cat([sample_track(params, int(b - a), ctx.generator, expression=int(e))["aus"]
                         for a, b, e in zip(bounds[:-1], bounds[1:], expr)])
        pose = track["pose"] * RENDER_POSE_SIGN * 0.5  # to internal signs; DISFA subjects face the camera
        images, _ = ctx.render(np.full(frames, gid), pose, aus, scene)
        name = subject_name(local)
        paths = writer.add_subject(name, images, aus.numpy())
        for t, path in enumerate(paths):
            ctx.truth.add(path, identity=int(gid), split="all", subject=name, pose=pose[t].numpy(), aus=aus[t].numpy())
    return {"images": ctx.counts["subjects"] * frames, "subjects": ctx.counts["subjects"]}


def _w300_name(rng: np.random.Generator, subset: str, k: int) -> str:
    if subset == "afw":
        return f"{int(rng.integers(100000, 9999999))}_{k % 3 + 1}.jpg"
    if subset.startswith("helen"):
        return f"{int(rng.integers(10000000, 3000000000))}_{k % 2 + 1}.jpg"
    if subset.startswith("lfpw"):
        return f"image_{k:04d}.png"  # LFPW images are PNG in the release
    return f"image_{k:03d}_{k % 2 + 1}.jpg"


def build_300w(ctx: PartContext) -> dict:
    from facessl.data.synthetic import expression_aus, sample_poses

    writer = W300Writer(ctx.root)
    total = sum(ctx.counts[k] for k in W300_SHARE)
    ctx.progress(total)
    for group, shares in W300_SHARE.items():
        n = ctx.counts[group]
        ids = ctx.identities("train") if group == "train" else ctx.identities("test")
        ids = ids[:n] if group != "challenging" else ids[ctx.counts["common"]:]
        subsets = ctx.rng.choice(list(shares), size=n, p=np.array(list(shares.values())) / sum(shares.values()))
        hard = group == "challenging"
        expr = sample_expressions(n, np.sqrt(RAFDB_COUNTS[:6]) if hard else np.sqrt(RAFDB_COUNTS), ctx.rng)
        pose = sample_poses(n, ctx.generator, "uniform" if hard else "voxceleb")
        aus = expression_aus(torch.as_tensor(expr), ctx.generator)
        used, counter = set(), {}
        for lo, images, marks in ctx.render_batches(ids, pose, aus):
            for k, (image, mark) in enumerate(zip(images, marks), start=lo):
                subset = str(subsets[k])
                counter[subset] = counter.get(subset, 0) + 1
                name = _w300_name(ctx.rng, subset, counter[subset])
                while (subset, name) in used:
                    name = _w300_name(ctx.rng, subset, counter[subset])
                used.add((subset, name))
                path = writer.add(subset, name, image, mark)
                ctx.truth.add(path, identity=int(ids[k]), split="train" if group == "train" else "test", expression=int(expr[k]),
                              pose=pose[k].numpy(), aus=aus[k].numpy())
    return {"images": total}


def build_mafl(ctx: PartContext) -> dict:
    from facessl.data.synthetic import expression_aus, sample_poses

    c = ctx.counts
    rows = [("train", int(g)) for g in np.repeat(ctx.identities("train"), 2)[: c["train"]]]
    rows += [("test", int(g)) for g in np.repeat(ctx.identities("test"), 2)[: c["test"]]]
    rows = [rows[i] for i in ctx.rng.permutation(len(rows))]
    n = len(rows)
    expr = sample_expressions(n, np.sqrt(RAFDB_COUNTS), ctx.rng)
    pose = sample_poses(n, ctx.generator, "voxceleb") * 0.6  # aligned CelebA faces are mostly frontal
    aus = expression_aus(torch.as_tensor(expr), ctx.generator)
    writer = MaflWriter(ctx.root)
    ctx.progress(n)
    for lo, images, marks in ctx.render_batches([g for _, g in rows], pose, aus):
        for k, (image, mark) in enumerate(zip(images, marks), start=lo):
            path = writer.add(image, five_from_68(mark), rows[k][0])
            ctx.truth.add(path, identity=rows[k][1], split=rows[k][0], expression=int(expr[k]), pose=pose[k].numpy(), aus=aus[k].numpy())
    writer.close()
    return {"images": n}
