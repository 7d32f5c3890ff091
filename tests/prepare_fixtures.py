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


def photo(seed: int = 0, size: int = 64, shape=(128, 160)) -> np.ndarray:
    """A still (shape + (3,)) uint8: one head of `size` px on a grey frame, up and left of the centre (a turn
    moves it), as big as MTCNN finds it standing upright and, after the turn search, turned."""
    frame = np.full((*shape, 3), 100, np.uint8)
    top, left = (shape[0] - size) // 3, (shape[1] - size) // 3
    frame[top:top + size, left:left + size] = faces(1, seed, size)[0]
    return frame


def write_video(path, frames: int = 20, seed: int = 0, shape=(120, 160), fps: int = 10, codec: str = "libx264",
                sideways: bool = False, squeeze: int = 1, turned: int = 0) -> Path:
    """An mp4 of a face moving right by 2 px a frame on a grey background. sideways: stored as a phone stores
    portrait video, the pixels turned a quarter anticlockwise and a display matrix saying "turn clockwise".
    squeeze: anamorphic, the width stored `squeeze` times narrower with a sample aspect ratio of squeeze:1.
    turned: the pixels stored `turned` quarter turns anticlockwise and nothing saying so (a video re-encoded
    without its rotation flag)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    heads = faces(frames, seed)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        quarters = 1 if sideways else turned
        height, width = (shape[1], shape[0]) if quarters % 2 else shape
        stream.width, stream.height = width // squeeze, height
        stream.pix_fmt = "yuv420p"
        if squeeze != 1:
            from fractions import Fraction

            stream.codec_context.sample_aspect_ratio = Fraction(squeeze, 1)
        for i, head in enumerate(heads):
            frame = np.full((*shape, 3), 100, np.uint8)
            x, y = 20 + 2 * i, (shape[0] - 64) // 2
            frame[y:y + 64, x:x + 64] = head
            if quarters:
                frame = np.ascontiguousarray(np.rot90(frame, quarters))
            if squeeze != 1:
                frame = np.ascontiguousarray(frame[:, ::squeeze])
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    if sideways:
        set_display_matrix(path, (0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30))
    return path


def set_display_matrix(path, matrix) -> None:
    """Write the 3x3 display matrix of an mp4's first track header (tkhd, version 0: 16.16 fixed point, the
    last column 2.30), which FFmpeg reports as the frames' display rotation."""
    import struct

    data = bytearray(Path(path).read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0, "expected a version-0 tkhd box"
    matrix_at = at + 4 + 4 + 20 + 8 + 8  # version+flags, times/track/reserved/duration, reserved, layer..volume
    data[matrix_at:matrix_at + 36] = struct.pack(">9i", *matrix)
    Path(path).write_bytes(bytes(data))


def tree_bytes(root) -> dict[str, bytes]:
    """Every file under root (except the resumable run's own state folder) -> its bytes."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).parts[0].startswith(".")}
