"""`facessl embed`: options and folders."""
from bad_inputs.cases.common import embed
from bad_inputs.corpus import case


@case("embed/batch-size-zero", 2, "--batch-size")
def _(w, s):
    return embed(w, s, "--batch-size", "0")


@case("embed/batch-size-negative", 2, "--batch-size")
def _(w, s):
    return embed(w, s, "--batch-size", "-4")


@case("embed/size-too-small", 2, "--size")
def _(w, s):
    return embed(w, s, "--size", "4")


@case("embed/size-not-a-number", 2, "invalid int value")
def _(w, s):
    return embed(w, s, "--size", "big")


@case("embed/out-wrong-suffix", 2, ".npy or .csv")
def _(w, s):
    return embed(w, s, out=w / "f.txt")


@case("embed/out-is-a-directory", 2, "--out", "directory")
def _(w, s):
    (w / "f.npy").mkdir()
    return embed(w, s, out=w / "f.npy")


@case("embed/out-parent-is-a-file", 2, "--out", "file")
def _(w, s):
    (w / "blocker").write_text("x")
    return embed(w, s, out=w / "blocker" / "f.npy")


@case("embed/images-missing", 2, "not a directory")
def _(w, s):
    return embed(w, s, images=w / "nothing")


@case("embed/images-empty", 2, "no image")
def _(w, s):
    (w / "empty").mkdir()
    return embed(w, s, images=w / "empty")


@case("embed/images-is-a-file", 2, "not a directory")
def _(w, s):
    (w / "one.jpg").write_bytes(b"x")
    return embed(w, s, images=w / "one.jpg")


@case("embed/image-corrupt", 2, "bad.jpg")
def _(w, s):
    import shutil

    folder = w / "imgs"
    shutil.copytree(s.images, folder)
    (folder / "bad.jpg").write_bytes(b"not an image")
    return embed(w, s, images=folder)


@case("embed/features-unknown", 2, "this encoder has")
def _(w, s):
    return embed(w, s, "--features", "ff+fp")


@case("embed/csv-ok", 0)
def _(w, s):
    return embed(w, s, out=w / "f.csv")


@case("embed/odd-image-modes", 0, "7 images")
def _(w, s):
    args = embed(w, s, images=s.odd_images)
    args.remove("--quiet")
    return args


@case("embed/png-with-jpg-name", 0)
def _(w, s):
    import shutil

    folder = w / "imgs"
    shutil.copytree(s.images, folder)
    from PIL import Image

    Image.new("RGBA", (20, 24), (10, 200, 30, 128)).save(folder / "actually_png.jpg", format="PNG")
    return embed(w, s, images=folder)


@case("embed/device-unknown", 2, "--device")
def _(w, s):
    return embed(w, s, "--device", "tpu")


@case("embed/device-index-out-of-range", 2, "--device")
def _(w, s):
    return embed(w, s, "--device", "cuda:99")
