"""Tiny image and text files for the format readers' tests."""
import numpy as np
from PIL import Image


def save_jpeg(path, rng, level=None, size=8):
    """A tiny JPEG: random pixels, or a flat grey `level` with a little noise (a face whose label is linear)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if level is None:
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    else:
        pixels = np.clip(level + rng.normal(0, 6, (size, size, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")
    return path


def write(path, text, crlf=False, bom=False):
    """A text file as a real release may carry it: Windows line ends (crlf) and a UTF-8 byte-order mark (bom)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
