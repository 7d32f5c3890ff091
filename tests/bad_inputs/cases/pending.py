"""PENDING cases: expected behaviour for fixes other engineers are making (issue 15 items 2-4), written
ahead so the lead can move each into the suite once its fix lands: change `pending=True` to nothing and
the words to the wording the fix chose. `python -m bad_inputs --pending` runs them.

  item 2 (issues 12/13): symlinked sub-folders are followed (or named) and pretraining says what it found
  item 3 (issue 13): non-UTF-8 file names do not crash embed/eval (the dataset fingerprint)
  item 4 (issue 13): a UTF-8 BOM, CRLF line ends and a quoted CSV field are accepted by every text reader
"""
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


@case("pending/pretrain-symlinked-identities", 0, "3 identities", pending=True)
def _(w, s):
    args = pretrain(w, s, data=_tree_with_linked_identities(w, s))
    args.remove("--quiet")
    return args


@case("pending/pretrain-folder-layout-symlinked-folder", 0, "18 images", pending=True)
def _(w, s):
    args = pretrain(w, s, "data.layout=folder", data=_tree_with_linked_identities(w, s))
    args.remove("--quiet")
    return args


@case("pending/embed-symlinked-folder", 0, "8 images", pending=True)
def _(w, s):
    folder = w / "photos"
    folder.mkdir()
    os.symlink(s.images, folder / "linked")
    os.symlink(s.images, folder / "again")
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


@case("pending/embed-non-utf8-name", 0, pending=True)
def _(w, s):
    return embed(w, s, images=_non_utf8_folder(w, s))


@case("pending/embed-non-utf8-name-no-cache", 0, pending=True)
def _(w, s):
    return embed(w, s, images=_non_utf8_folder(w, s), out=w / "f.csv")


@case("pending/eval-non-utf8-name", 0, pending=True)
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


@case("pending/rafdb-bom-crlf", 0, pending=True)
def _(w, s):
    root = s.rafdb(w / "raf")
    _rewrite(root / "EmoLabel/list_patition_label.txt")
    return evaluate(w, s, f"rafdb:{root}")


@case("pending/fer2013-bom-crlf", 0, pending=True)
def _(w, s):
    root = s.fer2013(w / "fer")
    _rewrite(root / "fer2013.csv")
    return evaluate(w, s, f"fer2013:{root}")


@case("pending/fer2013-quoted-pixels", 0, pending=True)
def _(w, s):
    root = s.fer2013(w / "fer")
    lines = (root / "fer2013.csv").read_text().splitlines()
    quoted = [lines[0]] + [f'{a},"{b}",{c}' for a, b, c in (line.split(",") for line in lines[1:])]
    (root / "fer2013.csv").write_text("\n".join(quoted) + "\n")
    return evaluate(w, s, f"fer2013:{root}")


@case("pending/lfw-pairs-bom-crlf", 0, pending=True)
def _(w, s):
    root = s.lfw(w / "lfw")
    _rewrite(root / "pairs.txt")
    return evaluate(w, s, f"lfw:{root}")


@case("pending/300w-pts-bom-crlf", 0, pending=True)
def _(w, s):
    root = s.w300(w / "w300")
    for pts in root.rglob("*.pts"):
        _rewrite(pts)
    return evaluate(w, s, f"300w:{root}")


@case("pending/mafl-lists-bom-crlf", 0, pending=True)
def _(w, s):
    root = s.mafl(w / "mafl")
    for name in ("list_landmarks_align_celeba.txt", "training.txt", "testing.txt"):
        for path in root.rglob(name):
            _rewrite(path)
    return evaluate(w, s, f"mafl:{root}")


@case("pending/disfa-au-files-bom-crlf", 0, pending=True)
def _(w, s):
    root = s.disfa(w / "disfa")
    for path in root.rglob("*_au*.txt"):
        _rewrite(path)
    return evaluate(w, s, f"disfa:{root}")
