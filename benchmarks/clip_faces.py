"""Faces of labelled video clips (data/video/clip_faces.py, the videofolder / ravdess / cremad / mead / dfew readers):
what a clip costs, and what decoding only the chosen frames saves.

    python benchmarks/clip_faces.py [--videos DIR | --synthetic] [--frames 4] [--limit 0]

On the videos under --videos (default: the shared talking-head clips, ../shared/realfaces/videos, where present;
else 8 synthetic 720p clips written in a temporary folder), one core:
  - decode, all frames converted to RGB (what `sample_frames(every=1)` costs) against the chosen frames only
    (`keep=`: the others skipped before colour conversion; decoding stops after the last), and their ratio;
  - clip_faces whole (count, decode, turn upright, detect, align) per clip, and faces found of frames sampled.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "realfaces" / "videos"


def synthetic_clips(folder: Path, n: int) -> list[Path]:
    """n 720p clips of 90 frames: a synthetic head of 200 px drifting over a grey frame."""
    import av

    from facessl.data.synthetic.params import sample_identities
    from facessl.data.synthetic.render import render
    from facessl.data.synthetic.scene import plain_scene

    paths = []
    for k in range(n):
        ids = sample_identities(1, torch.Generator().manual_seed(k)).expand(90, -1)
        pose = torch.stack([torch.linspace(-20, 20, 90), torch.zeros(90), torch.zeros(90)], 1)
        heads = render(ids, pose, torch.zeros(90, 8), plain_scene(90), size=200).images.numpy()
        path = folder / f"clip{k}.mp4"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
            for i, head in enumerate(heads):
                frame = np.full((720, 1280, 3), 110, np.uint8)
                frame[260:460, 500 + 2 * i:700 + 2 * i] = head
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        paths.append(path)
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", default=None, help="folder of videos (default: the shared clips, else synthetic)")
    ap.add_argument("--frames", type=int, default=4, help="frames per clip (the readers' default 4)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many videos (0: all)")
    ap.add_argument("--synthetic", action="store_true", help="8 synthetic 720p clips even where the shared ones are")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from facessl.data.video import decode
    from facessl.data.video.clip_faces import clip_faces, evenly_spaced
    from facessl.data.video.detectors import build_detector

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.videos) if args.videos else SHARED if SHARED.is_dir() and not args.synthetic else None
        if root is None:
            videos, where = synthetic_clips(Path(tmp), 8), "8 synthetic 720p clips of 90 frames"
        else:
            videos = sorted(root / rel for rel in decode.list_videos(root))
            where = f"{root}"
        videos = videos[:args.limit] if args.limit else videos
        if not videos:
            raise SystemExit(f"no videos under {root}")
        detector = build_detector("mtcnn", min_face=20, max_side=320)
        every = chosen = whole = 0.0
        frames = faces = sampled = 0
        for path in videos:
            start = time.perf_counter()
            n = sum(1 for _ in decode.sample_frames(path))
            every += time.perf_counter() - start
            start = time.perf_counter()
            list(decode.sample_frames(path, keep=set(evenly_spaced(decode.count_frames(path), args.frames))))
            chosen += time.perf_counter() - start
            start = time.perf_counter()
            crops, summary = clip_faces(path, args.frames, 128, 0.25, detector)
            whole += time.perf_counter() - start
            frames, faces, sampled = frames + n, faces + len(crops), sampled + summary["sampled"]
    k = len(videos)
    print(f"{k} videos ({where}), {frames} frames ({frames / k:.0f} a video), {args.frames} chosen a clip, one core")
    print(f"decode, every frame to RGB:  {every:7.2f} s  {every / k:.3f} s/clip  {frames / every:7.0f} frames/s")
    print(f"decode, chosen frames only:  {chosen:7.2f} s  {chosen / k:.3f} s/clip  ({every / chosen:.2f}x faster)")
    print(f"clip_faces (+ detect, align): {whole:6.2f} s  {whole / k:.3f} s/clip  {k / whole:.2f} clips/s; "
          f"faces {faces} of {sampled} frames sampled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
