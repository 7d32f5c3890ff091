"""The pretraining part: VoxCeleb-style face tracks (identities x videos x tracks x frames)."""
from __future__ import annotations

import numpy as np
import torch

from facessl.data.formats.voxceleb import VoxCelebWriter, identity_folder, video_id
from facessl.data.synthetic.build_context import RENDER_BATCH, RENDER_POSE_SIGN, PartContext, identity_params

COUNT_KEYS = ("identities", "videos", "tracks", "frames")
# Written frames are every FRAME_STRIDE-th frame of a 25 fps track, so a track of 8 frames spans about
# 2.5 s of head motion and expression change, like frames sampled across a VoxCeleb track (consecutive
# frames 40 ms apart barely differ: FAb-Net then has nothing to learn from).
FRAME_STRIDE = 8


def needs(counts: dict) -> dict:
    return {"all": counts["identities"]}


def image_count(counts: dict) -> int:
    return counts["identities"] * counts["videos"] * counts["tracks"] * counts["frames"]


def build_voxceleb(ctx: PartContext) -> dict:
    from facessl.data.synthetic import sample_track

    c = ctx.counts
    writer = VoxCelebWriter(ctx.root)
    ctx.progress(image_count(c))
    pending = []  # tracks waiting to be rendered together in one batch

    def flush():
        if not pending:
            return
        ids = np.concatenate([np.full(len(t["pose"]), gid) for *_, gid, t in pending])
        pose = torch.cat([t["pose"] for *_, t in pending]) * RENDER_POSE_SIGN  # renderer -> internal signs
        aus = torch.cat([t["aus"] for *_, t in pending])
        scene = {k: torch.cat([t["scene"][k] for *_, t in pending]) for k in pending[0][-1]["scene"]}
        images, _ = ctx.render(ids, pose, aus, scene)
        start = 0
        for folder, video, track_no, gid, t in pending:
            n = len(t["pose"])
            truth = {"pose": pose[start:start + n].numpy(), "aus": aus[start:start + n].numpy(), "identity": int(gid),
                     "expression": _expression(t, n)}
            writer.add_track(folder, video, track_no, images[start:start + n], truth)
            start += n
        pending.clear()

    for local, gid in enumerate(ctx.identities("all")):
        params = identity_params(ctx.seed, [gid])[0]
        for _ in range(c["videos"]):
            video = video_id(ctx.rng)
            for track_no in range(1, c["tracks"] + 1):
                track = subsample(sample_track(params, c["frames"] * FRAME_STRIDE, ctx.generator), FRAME_STRIDE)
                pending.append((identity_folder(local), video, track_no, gid, track))
                if sum(len(t["pose"]) for *_, t in pending) >= RENDER_BATCH:
                    flush()
    flush()
    writer.close()
    return {"images": image_count(c), "identities": c["identities"]}


def subsample(track: dict, stride: int) -> dict:
    """Every stride-th frame of a sample_track() result (per-frame tensors and the scene's)."""
    out = {}
    for key, value in track.items():
        if isinstance(value, dict):
            out[key] = subsample(value, stride)
        elif isinstance(value, torch.Tensor) and value.dim() > 0:
            out[key] = value[::stride].contiguous()
        else:
            out[key] = value
    return out


def _expression(track: dict, n: int):
    """Per-frame expression index of a track when the generator provides one, else -1 (not defined)."""
    expr = track.get("expression")
    if expr is None:
        return np.full(n, -1)
    return np.broadcast_to(np.asarray(expr).reshape(-1), (n,))
