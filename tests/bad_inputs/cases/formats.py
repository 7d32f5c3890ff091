"""Malformed benchmark files, one or more per named format reader, through `facessl eval`."""
from bad_inputs.cases.common import evaluate
from bad_inputs.corpus import case


def edit(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


# ---- RAF-DB -------------------------------------------------------------------------------------
RAF_LIST = "EmoLabel/list_patition_label.txt"


@case("formats/rafdb-label-out-of-range", 2, "list_patition_label.txt:1", "1..7")
def _(w, s):
    root = s.rafdb(w / "raf")
    edit(root / RAF_LIST, "train_00001.jpg 1", "train_00001.jpg 9")
    return evaluate(w, s, f"rafdb:{root}")


@case("formats/rafdb-label-not-a-number", 2, "list_patition_label.txt:2")
def _(w, s):
    root = s.rafdb(w / "raf")
    edit(root / RAF_LIST, "train_00002.jpg 2", "train_00002.jpg happy")
    return evaluate(w, s, f"rafdb:{root}")


@case("formats/rafdb-missing-image", 2, "does not exist", "--skip-missing")
def _(w, s):
    root = s.rafdb(w / "raf")
    (root / "Image/aligned/train_00003_aligned.jpg").unlink()
    return evaluate(w, s, f"rafdb:{root}")


@case("formats/rafdb-missing-image-skipped", 0)
def _(w, s):
    root = s.rafdb(w / "raf")
    (root / "Image/aligned/train_00003_aligned.jpg").unlink()
    return evaluate(w, s, f"rafdb:{root}", "--skip-missing")


@case("formats/rafdb-no-list", 2, "label list not found")
def _(w, s):
    root = s.rafdb(w / "raf")
    (root / RAF_LIST).unlink()
    return evaluate(w, s, f"rafdb:{root}")


@case("formats/rafdb-list-not-utf8", 2, "not UTF-8")
def _(w, s):
    root = s.rafdb(w / "raf")
    (root / RAF_LIST).write_bytes(b"train_00001.jpg 1\n\xff\xfe\x00 2\n")
    return evaluate(w, s, f"rafdb:{root}")


@case("formats/rafdb-image-corrupt", 0, "train_00002_aligned.jpg: cannot decode", "skipped 1 undecodable image")
def _(w, s):  # one damaged file: skipped, counted and named, not fatal
    root = s.rafdb(w / "raf")
    (root / "Image/aligned/train_00002_aligned.jpg").write_bytes(b"\xff\xd8 truncated")
    args = evaluate(w, s, f"rafdb:{root}")
    args.remove("--quiet")
    return args


# ---- FER-2013 -----------------------------------------------------------------------------------
@case("formats/fer2013-short-pixels", 2, "fer2013.csv:2", "2304")
def _(w, s):
    root = s.fer2013(w / "fer")
    lines = (root / "fer2013.csv").read_text().splitlines()
    head, pixels, usage = lines[1].split(",")
    lines[1] = ",".join([head, " ".join(pixels.split()[:100]), usage])
    (root / "fer2013.csv").write_text("\n".join(lines) + "\n")
    return evaluate(w, s, f"fer2013:{root}")


@case("formats/fer2013-bad-header", 2, "fer2013.csv:", "expected")
def _(w, s):
    root = s.fer2013(w / "fer")
    edit(root / "fer2013.csv", "emotion,pixels,Usage", "label;pixels;usage")
    return evaluate(w, s, f"fer2013:{root}")


@case("formats/fer2013-bad-usage", 2, "fer2013.csv:3", "Usage")
def _(w, s):
    root = s.fer2013(w / "fer")
    lines = (root / "fer2013.csv").read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",Validation"
    (root / "fer2013.csv").write_text("\n".join(lines) + "\n")
    return evaluate(w, s, f"fer2013:{root}")


@case("formats/fer2013-pixel-over-255", 2, "fer2013.csv:2", "0..255")
def _(w, s):
    root = s.fer2013(w / "fer")
    lines = (root / "fer2013.csv").read_text().splitlines()
    head, pixels, usage = lines[1].split(",")
    lines[1] = ",".join([head, "300 " + " ".join(pixels.split()[1:]), usage])
    (root / "fer2013.csv").write_text("\n".join(lines) + "\n")
    return evaluate(w, s, f"fer2013:{root}")


# ---- LFW ----------------------------------------------------------------------------------------
@case("formats/lfw-bad-header", 2, "pairs.txt:1", "header")
def _(w, s):
    root = s.lfw(w / "lfw")
    edit(root / "pairs.txt", "2\t1", "two folds")
    return evaluate(w, s, f"lfw:{root}")


@case("formats/lfw-short-line", 2, "pairs.txt:2", "same-identity pair")
def _(w, s):
    root = s.lfw(w / "lfw")
    lines = (root / "pairs.txt").read_text().splitlines()
    lines[1] = lines[1].rsplit("\t", 1)[0]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    return evaluate(w, s, f"lfw:{root}")


@case("formats/lfw-missing-image", 2, "does not exist", "--skip-missing")
def _(w, s):
    root = s.lfw(w / "lfw")
    next(root.glob("*/*_0002.jpg")).unlink()
    return evaluate(w, s, f"lfw:{root}")


@case("formats/lfw-count-mismatch", 2, "pairs.txt", "header promises")
def _(w, s):
    root = s.lfw(w / "lfw")
    lines = (root / "pairs.txt").read_text().splitlines()
    (root / "pairs.txt").write_text("\n".join(lines[:-1]) + "\n")
    return evaluate(w, s, f"lfw:{root}")


# ---- DISFA, 300-W, MAFL, BU-3DFE ----------------------------------------------------------------
@case("formats/disfa-intensity-out-of-range", 2, "_au1.txt:2", "0..5")
def _(w, s):
    root = s.disfa(w / "disfa")
    au = next(root.rglob("SN001_au1.txt"))
    lines = au.read_text().splitlines()
    lines[1] = lines[1].split(",")[0] + ",9"
    au.write_text("\n".join(lines) + "\n")
    return evaluate(w, s, f"disfa:{root}")


@case("formats/disfa-line-malformed", 2, "_au1.txt:1", "frame,intensity")
def _(w, s):
    root = s.disfa(w / "disfa")
    au = next(root.rglob("SN001_au1.txt"))
    au.write_text("1;0\n" + "\n".join(au.read_text().splitlines()[1:]) + "\n")
    return evaluate(w, s, f"disfa:{root}")


@case("formats/300w-pts-bad-point", 2, ".pts:5", "coordinate")
def _(w, s):
    root = s.w300(w / "w300")
    pts = sorted(root.rglob("*.pts"))[0]
    lines = pts.read_text().splitlines()
    lines[4] = "12.5 abc"
    pts.write_text("\n".join(lines) + "\n")
    return evaluate(w, s, f"300w:{root}")


@case("formats/300w-pts-no-version", 2, ".pts:1", "version")
def _(w, s):
    root = s.w300(w / "w300")
    pts = sorted(root.rglob("*.pts"))[0]
    pts.write_text("\n".join(pts.read_text().splitlines()[1:]) + "\n")
    return evaluate(w, s, f"300w:{root}")


@case("formats/300w-missing-image", 2, "no image beside", "--skip-missing")
def _(w, s):
    root = s.w300(w / "w300")
    sorted(root.rglob("*.jpg"))[0].unlink()
    return evaluate(w, s, f"300w:{root}")


@case("formats/mafl-count-mismatch", 2, "list_landmarks_align_celeba.txt:1", "first line says")
def _(w, s):
    root = s.mafl(w / "mafl")
    path = next(root.rglob("list_landmarks_align_celeba.txt"))
    edit(path, "6\n", "7\n")
    return evaluate(w, s, f"mafl:{root}")


@case("formats/mafl-unlisted-image", 2, "testing.txt:1", "has no row")
def _(w, s):
    root = s.mafl(w / "mafl")
    (root / "testing.txt").write_text("999999.jpg\n")
    return evaluate(w, s, f"mafl:{root}")


@case("formats/bu3dfe-bad-name", 2, "expected <subject>")
def _(w, s):
    root = s.bu3dfe(w / "bu3dfe")
    first = sorted(root.glob("*/*.jpg"))[0]
    first.rename(first.with_name("photo.jpg"))
    return evaluate(w, s, f"bu3dfe:{root}")


@case("formats/voxceleb-without-task", 2, "no default task", "--task")
def _(w, s):
    return evaluate(w, s, f"voxceleb:{s.tree}")


@case("formats/disfa-missing-image", 2, "has no image", "--skip-missing")
def _(w, s):
    root = s.disfa(w / "disfa")
    sorted((root / "Images").rglob("*.jpg"))[0].unlink()
    return evaluate(w, s, f"disfa:{root}")


@case("formats/lfw-one-fold", 2, "one fold", "--verification fixed")
def _(w, s):
    root = s.lfw(w / "lfw")
    lines = (root / "pairs.txt").read_text().splitlines()
    (root / "pairs.txt").write_text("\n".join(["1\t1"] + lines[1:3]) + "\n")  # a pairsDevTest-style single fold
    return evaluate(w, s, f"lfw:{root}")


@case("formats/lfw-one-fold-fixed-threshold", 0)
def _(w, s):
    root = s.lfw(w / "lfw")
    lines = (root / "pairs.txt").read_text().splitlines()
    (root / "pairs.txt").write_text("\n".join(["1\t1"] + lines[1:3]) + "\n")
    return evaluate(w, s, f"lfw:{root}", "--verification", "fixed", "--threshold", "0.5")


# ---- the same fixtures undamaged: each reader and its protocol accept them (exit 0) ------------------
for fmt, builder in [("fer2013", "fer2013"), ("lfw", "lfw"), ("disfa", "disfa"), ("300w", "w300"), ("mafl", "mafl"),
                     ("bu3dfe", "bu3dfe")]:
    case(f"formats/{fmt}-valid", 0)(lambda w, s, f=fmt, b=builder: evaluate(w, s, f"{f}:{getattr(s, b)(w / f)}"))
