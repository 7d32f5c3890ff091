"""Head-pose parts: 300W-LP (train), AFLW2000-3D (test) and the BU-3DFE-style yaw classes.

300W-LP: each source face (a 300-W photo) is "profiled" to larger yaw in `profiles` steps
(`<SUBSET>_<source>_<step>.jpg`, step 0 = the source pose, the last step at 60-90 deg), with the
same scene and expression, and every image has a mirrored copy in `<SUBSET>_Flip/` (yaw and roll
negated, landmarks mirrored). Subsets are drawn with the real set's proportions. Source yaws are
VoxCeleb-like (300-W photos are mostly frontal) but pitch and roll span AFLW2000's range, as the
real 300W-LP's fitted poses do, so a pose model trained on it is not asked to extrapolate.
AFLW2000-3D: `image%05d` numbers with gaps; about 31 in 2000 samples get an annotation failure
(|pitch| > 99 deg stored while the face is rendered at its true pose), like the real set's outliers
that the evaluation drops.
"""
from __future__ import annotations

import numpy as np
import torch

from facessl.data.formats.aflw2000 import PoseMatWriter
from facessl.data.formats.bu3dfe import ETHNICITIES, YAW_CLASSES, Bu3dfeWriter
from facessl.data.formats.imagefiles import mirror_landmarks_68
from facessl.data.synthetic.build_context import PartContext, sample_expressions
from facessl.data.synthetic.build_expression import RAFDB_COUNTS

W300LP_SHARE = {"AFW": 5207, "HELEN": 37676, "IBUG": 1786, "LFPW": 16556}  # real image counts per subset
AFLW_OUTLIER_RATE = 31 / 2000


def needs_300wlp(counts):
    return {"train": counts["sources"]}


def needs_aflw2000(counts):
    return {"test": counts["images"]}


def needs_bu3dfe(counts):
    return {"train": counts["subjects"] - counts["test_subjects"], "test": counts["test_subjects"]}


def _expressions(ctx: PartContext, n: int):
    from facessl.data.synthetic import expression_aus

    expr = sample_expressions(n, np.sqrt(RAFDB_COUNTS), ctx.rng)
    return expr, expression_aus(torch.as_tensor(expr), ctx.generator)


def _source_names(rng: np.random.Generator, n: int) -> list[str]:
    subsets = rng.choice(list(W300LP_SHARE), size=n, p=np.array(list(W300LP_SHARE.values())) / sum(W300LP_SHARE.values()))
    names, counter = [], {}
    for s in subsets:
        k = counter[s] = counter.get(s, 0) + 1
        if s == "AFW":
            names.append(f"AFW/AFW_{int(rng.integers(100000, 9999999))}_{k % 3 + 1}")
        elif s == "HELEN":
            names.append(f"HELEN/HELEN_{int(rng.integers(10000000, 3000000000))}_{k % 2 + 1}")
        elif s == "IBUG":
            names.append(f"IBUG/IBUG_image_{k:03d}_{k % 2 + 1}")
        else:
            names.append(f"LFPW/LFPW_image_{'train' if k % 4 else 'test'}_{k:04d}")
    # the random numbers may repeat: make every source name unique
    seen = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name}{seen[name]}"
    return names


def build_300wlp(ctx: PartContext) -> dict:
    from facessl.data.synthetic import sample_poses, sample_scene

    n_src, steps = ctx.counts["sources"], ctx.counts["profiles"]
    ids = ctx.identities("train")
    names = _source_names(ctx.rng, n_src)
    base = sample_poses(n_src, ctx.generator, "voxceleb")
    base[:, 1:] = sample_poses(n_src, ctx.generator, "uniform")[:, 1:]
    side = torch.where(base[:, 0] >= 0, 1.0, -1.0)
    target = 60 + 30 * torch.rand(n_src, generator=ctx.generator)
    step = ((target - base[:, 0].abs()).clamp_min(0) / max(steps - 1, 1)).repeat_interleave(steps)
    pose = base.repeat_interleave(steps, dim=0)
    pose[:, 0] += side.repeat_interleave(steps) * step * torch.arange(steps).repeat(n_src)
    expr, aus = _expressions(ctx, n_src)
    scene = {k: v.repeat_interleave(steps, dim=0) for k, v in sample_scene(n_src, ctx.generator).items()}
    writer = PoseMatWriter(ctx.root, landmark_field="pt2d")
    ctx.progress(n_src * steps)
    for lo, images, marks in ctx.render_batches(np.repeat(ids, steps), pose, aus.repeat_interleave(steps, dim=0), scene):
        for k, (image, mark) in enumerate(zip(images, marks), start=lo):
            src, j = divmod(k, steps)
            subset, stem = names[src].split("/")
            flipped = pose[k] * torch.tensor([-1.0, 1.0, -1.0])
            for folder, img, p, m in ((subset, image, pose[k], mark),
                                      (f"{subset}_Flip", image[:, ::-1], flipped, mirror_landmarks_68(mark, image.shape[1]))):
                path = writer.add(f"{folder}/{stem}_{j}", np.ascontiguousarray(img), p.numpy(), m)
                ctx.truth.add(path, identity=int(ids[src]), split="train", expression=int(expr[src]), pose=p.numpy(), aus=aus[src].numpy())
    return {"images": 2 * n_src * steps, "sources": n_src}


def build_aflw2000(ctx: PartContext) -> dict:
    from facessl.data.synthetic import sample_poses

    n = ctx.counts["images"]
    ids = ctx.identities("test")
    numbers = 2 + np.cumsum(np.concatenate([[0], ctx.rng.integers(1, 4, size=n - 1)]))
    pose = sample_poses(n, ctx.generator, "uniform")
    expr, aus = _expressions(ctx, n)
    outliers = set(ctx.rng.choice(n, size=int(round(n * AFLW_OUTLIER_RATE)), replace=False).tolist())
    writer = PoseMatWriter(ctx.root, landmark_field="pt3d_68")
    ctx.progress(n)
    for lo, images, marks in ctx.render_batches(ids, pose, aus):
        for k, (image, mark) in enumerate(zip(images, marks), start=lo):
            label = pose[k].numpy().copy()
            if k in outliers:  # annotation failure: an impossible pitch is stored
                label[1] = float(np.sign(label[1]) or 1.0) * float(ctx.rng.uniform(100, 170))
            path = writer.add(f"image{numbers[k]:05d}", image, label, mark)
            ctx.truth.add(path, identity=int(ids[k]), split="test", expression=int(expr[k]), pose=pose[k].numpy(),
                          aus=aus[k].numpy(), label_outlier=k in outliers)
    return {"images": n, "label_outliers": len(outliers)}


def build_bu3dfe(ctx: PartContext) -> dict:
    from facessl.data.synthetic import expression_aus, sample_scene

    c = ctx.counts
    subjects = [(int(g), "train") for g in ctx.identities("train")] + [(int(g), "test") for g in ctx.identities("test")]
    order = ctx.rng.permutation(len(subjects))  # interleave train and test subjects in the numbering
    rows, numbers = [], {"F": 0, "M": 0}
    for s in order:
        gid, split = subjects[s]
        sex = "F" if ctx.rng.random() < 0.56 else "M"
        numbers[sex] += 1
        name, race = f"{sex}{numbers[sex]:04d}", str(ctx.rng.choice(ETHNICITIES))
        for e in ctx.rng.choice(7, size=c["expressions"], replace=False):
            level = int(ctx.rng.integers(1, 5))
            for yaw in YAW_CLASSES:
                rows.append((gid, split, name, race, int(e), level, yaw))
    n = len(rows)
    expr = torch.tensor([r[4] for r in rows])
    strength = torch.tensor([0.4 + 0.15 * r[5] for r in rows]).unsqueeze(1)
    aus = expression_aus(expr, ctx.generator) * strength
    pose = torch.stack([torch.tensor([float(r[6]) for r in rows]) + (torch.rand(n, generator=ctx.generator) * 6 - 3),
                        torch.randn(n, generator=ctx.generator).clamp(-2, 2) * 3, torch.randn(n, generator=ctx.generator).clamp(-2, 2)], 1)
    per_expression = len(YAW_CLASSES)  # one studio scene per subject and expression, shared by its views
    studio = sample_scene(n // per_expression, ctx.generator, occluder_rate=0.0)  # lab captures: nothing in front of the face
    scene = {k: v.repeat_interleave(per_expression, dim=0) for k, v in studio.items()}
    writer = Bu3dfeWriter(ctx.root)
    ctx.progress(n)
    for lo, images, _ in ctx.render_batches([r[0] for r in rows], pose, aus, scene):
        for k, image in enumerate(images, start=lo):
            gid, split, name, race, e, level, yaw = rows[k]
            path = writer.add(name, e, level, race, yaw, image, test=split == "test")
            ctx.truth.add(path, identity=gid, split=split, expression=e, pose=pose[k].numpy(), aus=aus[k].numpy())
    writer.close()
    return {"images": n, "subjects": len(subjects)}
