"""One way to turn an image file into RGB pixels, used by every reader, the trainer and `prepare`.

Real datasets carry more than 8-bit RGB JPEGs: phone photos stored sideways with an EXIF orientation
tag, 16-bit grey PNGs and TIFFs (a plain `convert("RGB")` clips them to white), cut-outs with an alpha
channel, palette GIFs, CMYK JPEGs. Here each becomes the picture a viewer shows, as 8-bit RGB:
- EXIF orientation is applied (as OpenCV's imread and image viewers do);
- 16-bit and 32-bit grey keep their top 8 bits (scaled by the format's range, not the image's, so a
  dark image stays dark); float grey in [0, 1] is scaled to 0..255;
- transparency is composited over white;
- a multi-frame file (GIF, TIFF) gives its first frame.
"""
from __future__ import annotations

import numpy as np

# Every file suffix facessl reads as an image (lower case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm", ".pbm")

_ORIENTATION_TAG = 0x0112
_SIXTEEN_BIT_GREY = ("I;16", "I;16L", "I;16B", "I;16N")


def decode_errors() -> tuple[type[BaseException], ...]:
    """What a broken or unreadable image file raises while being opened or decoded."""
    from PIL import Image

    return (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def orientation(im) -> int:
    """The EXIF orientation (1..8; 1 = as stored). Cheap when there is no EXIF block (the common case)."""
    if "exif" not in im.info and im.format != "TIFF":
        return 1
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a malformed EXIF block: the pixels are still good
        return 1
    return value if 1 <= value <= 8 else 1


def upright_size(im) -> tuple[int, int]:
    """(width, height) of the picture as shown, without decoding it: orientations 5-8 swap the sides."""
    w, h = im.size
    return (h, w) if orientation(im) in (5, 6, 7, 8) else (w, h)


def to_rgb(im):
    """A PIL image in any mode -> an upright 8-bit RGB PIL image (see the module docstring)."""
    from PIL import Image, ImageOps

    if orientation(im) != 1:
        im = ImageOps.exif_transpose(im)
    mode = im.mode
    if mode in _SIXTEEN_BIT_GREY or mode == "I":  # "I" (32-bit) holds 16-bit PNGs on some Pillows: go by its values
        top = 65535.0 if mode != "I" or np.asarray(im).max() > 255 else 255.0
        grey = np.asarray(im, dtype=np.float64) * (255.0 / top)
        return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        grey = np.asarray(im, dtype=np.float64)
        scale = 255.0 if np.nanmax(grey, initial=0.0) <= 1.0 else 1.0
        return Image.fromarray(np.clip(np.rint(np.nan_to_num(grey) * scale), 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info) \
            or (mode in ("L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im if mode == "RGB" else im.convert("RGB")


def reduced_decode(im, want_side: float, of_side: float) -> float:
    """Let a large JPEG decode at 1/2, 1/4 or 1/8 scale (its DCT does it nearly for free: a 12-megapixel
    phone photo decodes ~10x faster) when `of_side` pixels of it still keep at least twice `want_side`
    pixels; returns the scale applied (1.0: none). Call before the pixels are loaded."""
    if im.format != "JPEG" or not want_side or of_side < 4 * want_side:
        return 1.0
    w, h = im.size
    keep = 2 * want_side / of_side  # the smallest scale that keeps twice the wanted pixels
    im.draft(im.mode, (int(np.ceil(w * keep)), int(np.ceil(h * keep))))
    return (im.size[0] / w + im.size[1] / h) / 2


def read_rgb(path_or_file, size: int | None = None) -> np.ndarray:
    """uint8 (H, W, 3) RGB of an image file (a path or a binary file object), resized to size x size
    (bilinear) when size is given (a large JPEG decoded at a reduced scale first, still at least 2x the
    size). Raises one of decode_errors() when the file cannot be decoded."""
    from PIL import Image

    with Image.open(path_or_file) as im:
        if size:
            reduced_decode(im, size, min(im.size))
        rgb = to_rgb(im)
        if size and rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


class BoxedImage(str):
    """An image file path that carries a face box (x0, y0, x1, y1 in the upright image's pixels), for sets that
    give boxes instead of crops (AffectNet's full images, ExpW). It is the path for everything that names or
    fingerprints files; decoding it gives the square crop centred on the box (its longer side), the part outside
    the picture filled with black, as a detector's crop would be."""

    box: tuple

    def __new__(cls, path, box):
        item = str.__new__(cls, path)
        item.box = tuple(float(v) for v in box)
        return item

    def __reduce__(self):  # pickles (a worker process) with its box
        return BoxedImage, (str(self), self.box)

    @classmethod
    def enlarged(cls, path, box, scale: float) -> "BoxedImage":
        """The face box (x0, y0, x1, y1) grown by `scale` about its centre (landmark or detector boxes that
        are tight around the points)."""
        x0, y0, x1, y1 = box
        cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, scale * (x1 - x0) / 2, scale * (y1 - y0) / 2
        return cls(path, (cx - hw, cy - hh, cx + hw, cy + hh))

    def square(self) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = self.box
        side = max(x1 - x0, y1 - y0, 1.0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
        return left, top, left + int(round(side)), top + int(round(side))


def image_source(item):
    """What PIL opens for an image item: the encoded bytes of an item inside a container file (its `open_bytes()`:
    formats.insightface_rec.RecordImage), else the item itself (a path)."""
    return item.open_bytes() if hasattr(item, "open_bytes") else item


def read_face(item, size: int | None = None) -> np.ndarray:
    """read_rgb for a path, an item inside a container file (image_source) or a BoxedImage (its square face crop)."""
    if not isinstance(item, BoxedImage):
        return read_rgb(image_source(item), size)
    from PIL import Image

    with Image.open(str(item)) as im:
        left, top, right, bottom = item.square()
        scale = reduced_decode(im, size, right - left) if size else 1.0
        crop = to_rgb(im).crop(tuple(int(round(v * scale)) for v in (left, top, right, bottom)))
        if size and crop.size != (size, size):
            crop = crop.resize((size, size), Image.BILINEAR)
        return np.asarray(crop, dtype=np.uint8)
