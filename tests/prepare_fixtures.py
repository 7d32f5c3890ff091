"""Small videos and photos with faces a detector finds, made in the test: synthetic heads
(facessl.data.synthetic) pasted on a plain frame, encoded with PyAV."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)


def faces(n: int, seed: int = 0, size: int = 64) -> np.ndarray:
    """n renders (n, size, size, 3) uint8 of one identity turning its head a little."""
    from facessl.data.synthetic.params import sample_identities
    from facessl.data.synthetic.render import render
    from facessl.data.synthetic.scene import plain_scene

    ids = sample_identities(1, torch.Generator().manual_seed(seed)).expand(n, -1)
    yaw = torch.linspace(-15, 15, n)
    pose = torch.stack([yaw, torch.zeros(n), torch.zeros(n)], 1)
    return render(ids, pose, torch.zeros(n, 8), plain_scene(n), size=size).images.numpy()


def write_video(path, frames: int = 20, seed: int = 0, shape=(120, 160), fps: int = 10, codec: str = "libx264") -> Path:
    """An mp4 of a face moving right by 2 px a frame on a grey background."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    heads = faces(frames, seed)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = shape[1], shape[0], "yuv420p"
        for i, head in enumerate(heads):
            frame = np.full((*shape, 3), 100, np.uint8)
            x, y = 20 + 2 * i, (shape[0] - 64) // 2
            frame[y:y + 64, x:x + 64] = head
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def tree_bytes(root) -> dict[str, bytes]:
    """Every file under root (except the resumable run's own state folder) -> its bytes."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).parts[0].startswith(".")}
