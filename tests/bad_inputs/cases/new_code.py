"""Bad inputs of the new code from issues 12 (`facessl prepare`, tar shards) and 13 (csv and imagefolder
datasets): options checked before work starts, damaged files named in one line, unreadable inputs
counted and named."""
import json

from bad_inputs.cases.common import evaluate
from bad_inputs.corpus import case


def prepare(w, *extra):
    return ["prepare", *extra, "--workers", "1", "--quiet"]


def _videos(w, content=b"not a video"):
    (w / "v").mkdir()
    (w / "v" / "a.mp4").write_bytes(content)
    return w / "v"


# ---- facessl prepare --------------------------------------------------------------------------------
for name, make, words in [
    ("no-source", lambda w, s: ["--out", w / "o"], "--videos"),
    ("videos-missing", lambda w, s: ["--videos", w / "none", "--out", w / "o"], "not found"),
    ("videos-empty", lambda w, s: (w.joinpath("v").mkdir(), ["--videos", w / "v", "--out", w / "o"])[1], "no video files"),
    ("images-missing", lambda w, s: ["--images", w / "none", "--out", w / "o"], "not found"),
    ("size-zero", lambda w, s: ["--images", s.images, "--out", w / "o", "--size", "0"], "--size"),
    ("margin-negative", lambda w, s: ["--images", s.images, "--out", w / "o", "--margin", "-1"], "--margin"),
    ("fps-zero", lambda w, s: ["--videos", _videos(w), "--out", w / "o", "--fps", "0"], "--fps"),
    ("every-zero", lambda w, s: ["--videos", _videos(w), "--out", w / "o", "--every", "0"], "--every"),
    ("detector-unknown", lambda w, s: ["--images", s.images, "--out", w / "o", "--detector", "yolo"], "--detector"),
    ("shard-frames-zero", lambda w, s: ["--images", s.images, "--out", w / "o", "--format", "shards",
                                        "--shard-frames", "0"], "--shard-frames"),
    ("out-is-a-file", lambda w, s: (w.joinpath("o").write_text("x"), ["--images", s.images, "--out", w / "o"])[1], "--out"),
]:
    case(f"prepare/{name}", 2, words)(lambda w, s, m=make: prepare(w, *m(w, s)))


@case("prepare/videos-corrupt-counted", 0, "1 skipped", "cannot open")
def _(w, s):
    return [a for a in prepare(w, "--videos", _videos(w), "--out", w / "o") if a != "--quiet"]


@case("prepare/photos-without-faces-counted", 0, "4 without a face")
def _(w, s):
    return [a for a in prepare(w, "--images", s.images, "--out", w / "o") if a != "--quiet"]


# ---- tar shards: a damaged index is one line naming it ---------------------------------------------
def _shards(w, text):
    (w / "shards").mkdir()
    (w / "shards" / "index.json").write_text(text)
    return ["pretrain", "--config", "unused", "--data", w / "shards", "--out", w / "run", "--quiet"]


for name, text in [("index-truncated", '{"format": "facessl-shards-1", "shards": ['),
                   ("index-wrong-format", json.dumps({"format": "webdataset", "shards": []})),
                   ("index-without-shards", json.dumps({"format": "facessl-shards-1"})),
                   ("index-names-a-missing-tar", json.dumps({"format": "facessl-shards-1", "shards": [
                       {"file": "shard-000000.tar", "frames": 2, "tracks": [{"offsets": [512, 2048], "sizes": [100, 100]}]}]}))]:
    def build(w, s, t=text):
        argv = _shards(w, t)
        argv[argv.index("unused")] = s.config
        return argv + ["data.layout=folder"]
    case(f"shards/{name}", 2, "index.json" if name != "index-names-a-missing-tar" else "shard-000000.tar")(build)


# ---- your own labelled data: csv and imagefolder --------------------------------------------------
def _table(w, rows, header="image,label"):
    from PIL import Image

    from bad_inputs.shared import faces

    folder = w / "t"
    folder.mkdir()
    for i, img in enumerate(faces(12)):
        Image.fromarray(img).save(folder / f"S{i % 4}_{i}.jpg")
    (folder / "labels.csv").write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return folder / "labels.csv"


GOOD = [f"S{i % 4}_{i}.jpg,{'ab'[i % 2]}" for i in range(12)]
for name, rows, header, extra, rc, words in [
    ("valid", GOOD, "image,label", (), 0, ()),
    ("label-column-missing", GOOD, "image,label", ("--label-column", "emotion"), 2, ("labels.csv:1", "emotion")),
    ("image-missing", GOOD + ["nope.jpg,a"], "image,label", (), 2, ("labels.csv:14", "--skip-missing")),
    ("image-missing-skipped", GOOD + ["nope.jpg,a"], "image,label", ("--skip-missing",), 0, ()),
    ("target-text", [r[:-2] + (",1.5" if i % 2 else ",x") for i, r in enumerate(GOOD)], "image,yaw",
     ("--target-columns", "yaw"), 2, ("labels.csv:2", "finite number")),
    ("no-rows", [], "image,label", (), 2, ("no data rows",)),
    ("test-fraction-too-big", GOOD, "image,label", ("--test-fraction", "1.5"), 2, ("test fraction",)),
    ("group-not-a-regex", GOOD, "image,label", ("--group", "(["), 2, ("--group",)),
    ("min-class-count-leaves-nothing", GOOD, "image,label", ("--min-class-count", "50"), 2,
     ("--min-class-count 50", "every class has fewer images")),
]:
    case(f"csv/{name}", rc, *words)(
        lambda w, s, r=rows, h=header, e=extra: evaluate(w, s, f"csv:{_table(w, r, h)}", *e))


def _class_folders(w, extra_file=None):
    from PIL import Image

    from bad_inputs.shared import faces

    root = w / "f"
    for i, img in enumerate(faces(12)):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / f"c{i % 2}" / f"S{i % 4}_{i}.jpg")
    if extra_file:
        (root / "c0" / extra_file).write_bytes(b"not an image")
    return root


case("imagefolder/valid", 0)(lambda w, s: evaluate(w, s, f"imagefolder:{_class_folders(w)}"))
case("imagefolder/corrupt-image", 0, "bad.jpg: cannot decode", "skipped 1 undecodable image")(  # skipped, named
    lambda w, s: [a for a in evaluate(w, s, f"imagefolder:{_class_folders(w, 'bad.jpg')}") if a != "--quiet"])
case("eval/min-class-count-on-a-named-format", 2, "--min-class-count does not apply to format 'rafdb'")(
    lambda w, s: evaluate(w, s, f"rafdb:{s.rafdb(w / 'raf')}", "--min-class-count", "5"))
case("imagefolder/no-class-folders", 2, "no class folders")(
    lambda w, s: (w.joinpath("e").mkdir(), evaluate(w, s, f"imagefolder:{w / 'e'}"))[1])
