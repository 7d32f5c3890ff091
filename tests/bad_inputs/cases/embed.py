"""`facessl embed`: options and folders."""
from bad_inputs.cases.common import embed
from bad_inputs.corpus import case

OPTIONS = [  # name, option, value, a word the message must hold
    ("batch-size-zero", "--batch-size", "0", "--batch-size"),
    ("batch-size-negative", "--batch-size", "-4", "--batch-size"),
    ("size-too-small", "--size", "4", "--size"),
    ("size-not-a-number", "--size", "big", "invalid int value"),
    ("features-unknown", "--features", "ff+fp", "this encoder has"),
    ("device-unknown", "--device", "tpu", "--device"),
    ("device-index-out-of-range", "--device", "cuda:99", "--device"),
]
for name, option, value, word in OPTIONS:
    case(f"embed/{name}", 2, word)(lambda w, s, o=option, v=value: embed(w, s, o, v))


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


@case("embed/image-corrupt", 0, "skipped 1 image(s) that do not decode: bad.jpg")  # skipped and named, not fatal
def _(w, s):
    import shutil

    folder = w / "imgs"
    shutil.copytree(s.images, folder)
    (folder / "bad.jpg").write_bytes(b"not an image")
    args = embed(w, s, images=folder)
    args.remove("--quiet")
    return args


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
