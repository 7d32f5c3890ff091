"""Image files as real datasets carry them: EXIF orientation, 16-bit grey, alpha, palettes, float TIFFs.
Every reader (evaluation, pretraining, prepare) decodes through facessl.data.image_decode."""
import numpy as np
import pytest
from PIL import Image

from facessl.data.formats.common import load_image
from facessl.data.frames import decode_image
from facessl.data.image_decode import IMAGE_SUFFIXES, read_rgb, upright_size
from facessl.evaluate.images import image_sizes


def _upright(h=24, w=40) -> np.ndarray:
    """An asymmetric picture: a gradient along x, a bright block in the top-left corner."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 250, w, dtype=np.uint8)[None, :]
    img[:6, :9] = 255
    return img


def _all_readers(path) -> list[np.ndarray]:
    return [load_image(path), decode_image(path, None).permute(1, 2, 0).numpy(), read_rgb(path)]  # prepare: read_rgb


@pytest.mark.parametrize("orientation, stored_from_upright", [
    (3, lambda u: np.rot90(u, 2)),   # shown after a half turn
    (6, lambda u: np.rot90(u, 1)),   # shown after a quarter turn clockwise (a phone held upright)
    (8, lambda u: np.rot90(u, -1)),  # shown after a quarter turn anticlockwise
    (2, lambda u: u[:, ::-1]),       # mirrored
])
def test_exif_orientation_is_applied_by_every_reader(tmp_path, orientation, stored_from_upright):
    upright = _upright()
    stored = np.ascontiguousarray(stored_from_upright(upright))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.png"  # lossless, with an eXIf chunk
    Image.fromarray(stored).save(path, exif=exif)
    for got in _all_readers(path):
        np.testing.assert_array_equal(got, upright)
    # the size a landmark reader normalises by is the upright one
    assert tuple(image_sizes(type("S", (), {"images": [str(path)]})())[0]) == (upright.shape[1], upright.shape[0])
    with Image.open(path) as im:
        assert upright_size(im) == (upright.shape[1], upright.shape[0])


def test_sixteen_bit_grey_keeps_its_top_bits_instead_of_clipping_to_white(tmp_path):
    grey16 = (np.arange(30 * 20, dtype=np.uint32).reshape(30, 20) * 109 % 65536).astype(np.uint16)
    path = tmp_path / "depth.png"
    Image.fromarray(grey16).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")
    expected = np.rint(grey16.astype(np.float64) * 255 / 65535).astype(np.uint8)
    for got in _all_readers(path):
        assert got.shape == (30, 20, 3)
        np.testing.assert_array_equal(got[..., 0], expected)
        np.testing.assert_array_equal(got[..., 1], got[..., 2])
    dark = tmp_path / "dark.png"  # a dark 16-bit image stays dark (the format's range, not the image's)
    Image.fromarray(np.full((8, 8), 200, np.uint16)).save(dark)
    assert read_rgb(dark).max() == 1


def test_float_tiff_in_unit_range_is_scaled(tmp_path):
    grey = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    path = tmp_path / "float.tif"
    Image.fromarray(grey, "F").save(path)
    np.testing.assert_array_equal(read_rgb(path)[..., 1], np.rint(grey.astype(np.float64) * 255).astype(np.uint8))


def test_transparency_is_composited_over_white(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:5, :, :3] = (200, 40, 10)
    rgba[:5, :, 3] = 255           # opaque top half
    rgba[5:, :, 3] = 0             # transparent bottom half over black pixels
    rgba[5:, :5, 3] = 128          # half transparent
    rgba[5:, :5, :3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    got = read_rgb(tmp_path / "cutout.png")
    np.testing.assert_array_equal(got[:5], np.broadcast_to([200, 40, 10], (5, 10, 3)))
    np.testing.assert_array_equal(got[5:, 5:], np.full((5, 5, 3), 255))
    assert np.all(np.abs(got[5:, :5].astype(int) - 127) <= 1)
    palette = Image.fromarray(rgba[..., :3]).convert("P")
    palette.info["transparency"] = palette.getpixel((9, 9))  # the colour of the transparent corner
    palette.save(tmp_path / "palette.gif", transparency=palette.getpixel((9, 9)))
    assert tuple(read_rgb(tmp_path / "palette.gif")[9, 9]) == (255, 255, 255)


def test_every_image_suffix_is_found_and_decoded_by_the_pretraining_listing(tmp_path):
    from facessl.data.frames import list_images

    folder = tmp_path / "faces" / "happy"
    folder.mkdir(parents=True)
    picture = Image.fromarray(_upright())
    suffixes = (".jpg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm")
    for suffix in suffixes:
        assert suffix in IMAGE_SUFFIXES
        picture.save(folder / f"a{suffix}")
    (folder / "notes.txt").write_text("not an image")
    listed = list_images(tmp_path / "faces")
    assert sorted(listed) == sorted(f"happy/a{s}" for s in suffixes)
    for rel in listed:
        assert decode_image(tmp_path / "faces" / rel, 16).shape == (3, 16, 16)


def test_a_large_jpeg_decodes_at_a_reduced_scale_that_keeps_twice_the_wanted_pixels(tmp_path):
    from facessl.data.image_decode import BoxedImage, read_face, reduced_decode

    y, x = np.mgrid[0:600, 0:800]
    photo = np.stack([(x / 3) % 256, (y / 2) % 256, (x + y) / 6 % 256], -1).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "big.jpg", quality=95)
    with Image.open(tmp_path / "big.jpg") as im:
        assert reduced_decode(im, 64, 600) == 0.25 and im.size == (200, 150)  # 150 px >= 2 x 64 on the short side
    with Image.open(tmp_path / "big.jpg") as im:
        assert reduced_decode(im, 200, 600) == 1.0  # 600 < 4 x 200: decoded whole
    with Image.open(tmp_path / "big.jpg") as im:
        full = np.asarray(im.convert("RGB").resize((64, 64), Image.BILINEAR), int)
    assert np.abs(read_rgb(tmp_path / "big.jpg", 64).astype(int) - full).mean() < 2
    box = BoxedImage(tmp_path / "big.jpg", (300, 100, 700, 500))
    with Image.open(tmp_path / "big.jpg") as im:
        crop = np.asarray(im.convert("RGB").crop(box.square()).resize((32, 32), Image.BILINEAR), int)
    assert np.abs(read_face(box, 32).astype(int) - crop).mean() < 2  # the same face, decoded at 1/4
    small = tmp_path / "small.png"
    Image.fromarray(photo[:100, :100]).save(small)
    np.testing.assert_array_equal(read_rgb(small, 40), np.asarray(Image.open(small).convert("RGB").resize((40, 40), Image.BILINEAR)))
