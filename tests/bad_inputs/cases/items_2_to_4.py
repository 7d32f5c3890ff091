"""Issue 15 items 2-4, fixed by issues 12 and 13: symlinked sub-folders are followed and pretraining and
embed say what they found; non-UTF-8 file names do not crash embed or eval (the dataset fingerprint); a
UTF-8 BOM, CRLF line ends and a quoted CSV field are accepted by every text reader."""
import os

from bad_inputs.cases.common import embed, evaluate, pretrain
from bad_inputs.corpus import case


# ---- item 2: symlinked sub-folders -----------------------------------------------------------------
def _tree_with_linked_identities(w, s):
    """3 identities: one real folder, two symlinked folders (as a user links datasets from other disks)."""
    import shutil

    real, elsewhere = w / "data", w / "elsewhere"
    real.mkdir()
    for i, ident in enumerate(sorted(p.name for p in s.tree.iterdir() if p.is_dir())):
        if i == 0:
            shutil.copytree(s.tree / ident, real / ident)
        else:
            shutil.copytree(s.tree / ident, elsewhere / ident)
            os.symlink(elsewhere / ident, real / ident)
    return real


@case("pretrain/symlinked-identities", 0, "3 identities")
def _(w, s):
    args = pretrain(w, s, data=_tree_with_linked_identities(w, s))
    args.remove("--quiet")
    return args


@case("pretrain/folder-layout-symlinked-folder", 0, "18 images")
def _(w, s):
    args = pretrain(w, s, "data.layout=folder", data=_tree_with_linked_identities(w, s))
    args.remove("--quiet")
    return args


@case("embed/symlinked-folder", 0, "8 images", "symlink")
def _(w, s):
    import shutil

    folder = w / "photos"
    shutil.copytree(s.images, folder / "here")
    os.symlink(s.images, folder / "linked")  # 4 more images through a symlinked folder
    args = embed(w, s, images=folder)
    args.remove("--quiet")
    return args


# ---- item 3: non-UTF-8 file names ------------------------------------------------------------------
def _non_utf8_folder(w, s):
    import shutil

    folder = w / "photos"
    shutil.copytree(s.images, folder)
    os.rename(folder / "p0.jpg", os.path.join(os.fsencode(folder), b"caf\xe9.jpg"))  # Latin-1 name
    return folder


@case("embed/non-utf8-name", 0)
def _(w, s):
    return embed(w, s, images=_non_utf8_folder(w, s))


@case("embed/non-utf8-name-csv", 0)
def _(w, s):
    return embed(w, s, images=_non_utf8_folder(w, s), out=w / "f.csv")


@case("eval/non-utf8-name", 0)
def _(w, s):
    root = s.aflw2000(w / "aflw2000")
    s.w300lp(w / "300wlp")
    for suffix in (".jpg", ".mat"):
        os.rename(root / f"image00002{suffix}", os.path.join(os.fsencode(root), b"image\xe90002" + suffix.encode()))
    return evaluate(w, s, f"aflw2000:{root}")


# ---- item 4: BOM, CRLF, quoted CSV ---------------------------------------------------------------
def _rewrite(path, bom=True, crlf=True):
    text = path.read_text()
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())


# format, Shared builder, the text files it reads (globs under the dataset root)
BOM_CRLF = [("rafdb", "rafdb", ["EmoLabel/list_patition_label.txt"]), ("fer2013", "fer2013", ["fer2013.csv"]),
            ("lfw", "lfw", ["pairs.txt"]), ("300w", "w300", ["**/*.pts"]), ("disfa", "disfa", ["**/*_au*.txt"]),
            ("mafl", "mafl", ["**/list_landmarks_align_celeba.txt", "**/training.txt", "**/testing.txt"])]


def _bom_crlf_dataset(w, s, fmt, builder, globs):
    root = getattr(s, builder)(w / fmt)
    for pattern in globs:
        for path in root.glob(pattern):
            _rewrite(path)
    return evaluate(w, s, f"{fmt}:{root}")


for fmt, builder, globs in BOM_CRLF:
    case(f"formats/{fmt}-bom-crlf", 0)(
        lambda w, s, f=fmt, b=builder, g=globs: _bom_crlf_dataset(w, s, f, b, g))


@case("formats/fer2013-quoted-pixels", 0)
def _(w, s):
    root = s.fer2013(w / "fer")
    lines = (root / "fer2013.csv").read_text().splitlines()
    quoted = [lines[0]] + [f'{a},"{b}",{c}' for a, b, c in (line.split(",") for line in lines[1:])]
    (root / "fer2013.csv").write_text("\n".join(quoted) + "\n")
    return evaluate(w, s, f"fer2013:{root}")

