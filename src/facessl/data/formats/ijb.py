"""IJB-B and IJB-C 1:1 template verification (Whitelam et al., CVPRW 2017; Maze et al., ICB 2018), in the form
nearly every user has them: InsightFace's IJB evaluation package (IJB_release.tar, or ijb-testsuite.tar holding
IJBB.zip / IJBC.zip; deepinsight/insightface recognition/_evaluation_/ijb/README.md):

    IJB_release/IJBB/loose_crop/1.jpg ... 227630.jpg    a loose face crop for each line of the lists below
    IJB_release/IJBB/meta/ijbb_face_tid_mid.txt         `image_name template_id media_id`, e.g. `1.jpg 1 69544`
    IJB_release/IJBB/meta/ijbb_template_pair_label.txt  `template1 template2 label` (1 same subject, 0 not),
                                                        e.g. `1 11065 1`
    IJB_release/IJBB/meta/ijbb_name_5pts_score.txt      `image_name x1 y1 ... x5 y5 score`: left eye, right eye,
                                                        nose tip, mouth corners in the loose crop's pixels, and
                                                        the detector's face score (~1; low for a doubtful one)
    IJB_release/IJBC/...                                the same with ijbc_ names
IJB-B: 227,630 images, 12,115 templates, 8,010,270 pairs (10,270 same); IJB-C: 469,375 images, 23,124
templates, 15,658,489 pairs (19,557 same). The 1:N csv lists and ijbX_name_box_score_5pts.txt are not read;
ijbX_name_5pts_score_retina.txt (RetinaFace's points, same form) only when the plain file is absent.

The path may be IJB_release/ (or any folder holding IJBB/ and IJBC/: `variant` IJBB or IJBC picks one when both
are there), one set's folder (loose_crop/ + meta/, as IJBB.zip unpacks), its meta/ folder, or the pair file.

Protocol, as InsightFace's evaluation (recognition/_evaluation_/ijb/ijb_11.py, recognition/arcface_torch/
eval_ijbc.py) and the loaders built on it (leondgarse/Keras_insightface's IJB_evals.py): every pair of templates
is scored by the cosine of the templates' features; a template's feature is the mean over its media (a photo,
or a video's frames) of the mean of that media's image features, each image's unit feature weighted by its
detector score; TAR (TPR) at FAR (FPR) 1e-6 ... 1e-1 is read off the ROC of all pairs, at the ROC point whose
FPR is nearest to each FAR (InsightFace's table; metrics.tar_at_far rule 'nearest'). There are no folds.
(InsightFace also keeps its network's feature norm as a weight and adds the mirrored face's feature; a frozen
self-supervised feature's norm means nothing, so unit features here, and no flip.) The
PairSet's `item` is each image's template (0 .. T-1 in order of template id); images.meta carries
verification_metric='tar_at_far', tar_at_far_rule, template_pooling='media' and template_weights, which
evaluate.verification follows. Labels: 'template' (the file's template id), 'media', 'detector_score'.

Crops: InsightFace warps each face by the similarity transform that takes its 5 points onto ArcFace's 112x112
template. facessl's crops are upright squares (image_decode.BoxedImage), so each face here is that template's
112x112 frame fitted to its 5 points by scale and shift alone (least squares): the ArcFace crop without its
in-plane rotation. Without a landmarks file, or with crop='loose', the whole loose crop is the face.

For CPU users: `limit_pairs=N` keeps a seeded sample of N pairs with the same share of same-subject pairs (and
only the images of the templates those pairs use); `max_images_per_template=K` keeps at most K images of each
template, spread evenly over its list order. Both are said in images.meta (reduced numbers are not comparable
with published ones). A listed image missing from loose_crop/ is skipped and counted (skip_missing=False: an
error instead); a template left without images drops its pairs, counted. The pair list (IJB-C: ~235 MB of
text) is parsed in one vectorised pass.

Evidence (read, not copied): deepinsight/insightface recognition/_evaluation_/ijb/ijb_11.py
(`read_template_media_list`: `<IJBX>/meta/<ijbx>_face_tid_mid.txt` space-separated, columns 1 and 2 the template
and media; `read_template_pair_list`: `<ijbx>_template_pair_label.txt` columns t1 t2 label; images in
`<IJBX>/loose_crop/`; `<ijbx>_name_5pts_score.txt` name, 10 numbers [1:-1], score last; media features averaged,
summed per template, normalised; TPR read at the FPR nearest each of 1e-6 ... 1e-1) and evaluation/IJB/README.md
(IJB_release.tar, IJBB_meta.tar / IJBC_meta.tar). All matched; nothing changed.
"""
from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import SKIP_MISSING_HINT, count_option, one_of, unnested, yes_no
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError, FacesslError

VARIANTS = ("IJBB", "IJBC")
TID_MID = "{p}_face_tid_mid.txt"
PAIRS = "{p}_template_pair_label.txt"
LANDMARK_FILES = ("{p}_name_5pts_score.txt", "{p}_name_5pts_score_retina.txt")
IMAGE_FOLDER = "loose_crop"
# ArcFace's 112x112 alignment template (left eye, right eye, nose, left and right mouth corner), as InsightFace's
# evaluation warps IJB faces (arcface_torch/eval_ijbc.py: its 96-wide template shifted by 8 px).
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]])
ARCFACE_SIDE = 112.0
TAR_AT_FAR_RULE = "nearest"  # InsightFace's table (metrics.tar_at_far)


def read_ijb(root, variant: str | None = None, limit_pairs=None, max_images_per_template=None, seed=0,
             crop: str = "landmarks", detector_weights=True, skip_missing: bool = True) -> PairSet:
    """PairSet of template pairs (`item` = each image's template) with TAR@FAR metadata; see the module docstring.
    variant IJBB | IJBC (also IJB-B, ijbc ...); crop 'landmarks' | 'loose'; detector_weights: weight each image of a
    template by its detector score (InsightFace's default) or not."""
    options = {"limit_pairs": _positive_int(limit_pairs, "limit_pairs"), "seed": _seed(seed),
               "max_images_per_template": _positive_int(max_images_per_template, "max_images_per_template"),
               "crop": one_of(crop, ("landmarks", "loose"), "ijb", "crop"),
               "weighted": yes_no(detector_weights, "ijb", "detector_weights")}
    meta_dir, prefix = find_meta(Path(root), _variant(variant))
    images_dir = find_images(meta_dir)
    tid_path = meta_dir / TID_MID.format(p=prefix)
    names, template, media = read_tid_mid(tid_path)
    points, score, landmarks_path = read_landmarks(meta_dir, prefix, names)
    keep = present(names, images_dir, tid_path, skip_missing)
    dropped = {"missing_image": int((~keep).sum())}
    keep &= evenly_spread(template, keep, options["max_images_per_template"])
    pairs_path = meta_dir / PAIRS.format(p=prefix)
    p1, p2, same, dropped["pair_with_a_template_without_images"], total = kept_pairs(
        pairs_path, template, keep, options["limit_pairs"], options["seed"])
    if not same.size:
        raise DataFormatError(pairs_path, f"no template pair left to score ({_said(dropped)})")
    if len(same) == total - dropped["pair_with_a_template_without_images"]:
        options["limit_pairs"] = None  # a limit above the pairs there are leaves the protocol whole
    # a template no kept pair compares is not worth its images' features
    keep &= _looked_up(_flags(np.concatenate([p1, p2]), template), template, False)
    rows = np.flatnonzero(keep)
    template_ids, item = np.unique(template[rows], return_inverse=True)
    index = np.full(int(template_ids.max()) + 1, -1, np.int64)
    index[template_ids] = np.arange(len(template_ids))
    pairs = np.stack([index[p1], index[p2]], 1)  # every kept pair's templates have images: no -1
    faces = face_images(images_dir, names[rows], None if options["crop"] == "loose" else points, rows)
    labels = {"template": template[rows], "media": media[rows]}
    if score is not None:
        labels["detector_score"] = score[rows]
    meta = _meta(prefix, options, faces, score is not None, landmarks_path, len(template_ids), total, len(same))
    result = PairSet(ImageSet(faces, labels, None, str(images_dir), meta=meta), pairs, same,
                     np.zeros(len(same), np.int64), str(pairs_path), item=item.reshape(-1).astype(np.int64))
    result.dropped = {k: v for k, v in dropped.items() if v}
    return result


def kept_pairs(path: Path, template: np.ndarray, keep: np.ndarray, limit, seed):
    """(template1, template2, same, pairs dropped for a template without kept images, pairs in the file) of the
    pair list, sampled down to `limit` pairs when given."""
    p1, p2, same = read_pairs(path)
    has_images = _flags(template[keep], template)
    usable = _looked_up(has_images, p1, False) & _looked_up(has_images, p2, False)
    chosen = np.flatnonzero(usable)
    if limit is not None and limit < len(chosen):
        chosen = sample_pairs(chosen, same[chosen], limit, seed)
    return p1[chosen], p2[chosen], same[chosen], int((~usable).sum()), len(same)


def _meta(prefix: str, options: dict, faces: list, has_scores: bool, landmarks_path, n_templates: int,
          total: int, kept: int) -> dict:
    """What evaluate.verification follows (metric, rule, pooling) and what was read and reduced."""
    framed = sum(isinstance(f, BoxedImage) for f in faces)
    return {"variant": prefix.upper(), "verification_metric": "tar_at_far", "tar_at_far_rule": TAR_AT_FAR_RULE,
            "template_pooling": "media", "template_weights": "detector_score" if options["weighted"] and has_scores else None,
            "crop": "arcface frame of the 5 points (no rotation)" if framed else "whole loose crop",
            "landmarks_file": str(landmarks_path) if landmarks_path else None,
            "images_without_landmarks": len(faces) - framed if options["crop"] == "landmarks" else 0,
            "templates": n_templates, "pairs_in_file": total, "pairs_kept": kept,
            "limit_pairs": options["limit_pairs"], "seed": options["seed"] if options["limit_pairs"] else None,
            "max_images_per_template": options["max_images_per_template"]}


# --- where the files are ----------------------------------------------------------------------------------
def _variant(variant) -> str | None:
    if variant is None or str(variant).strip() == "":
        return None
    return one_of(re.sub(r"[-_ ]", "", str(variant)), VARIANTS, "ijb", "variant").lower()


def _prefixes(folder: Path) -> list[str]:
    """The sets ('ijbb', 'ijbc') whose face_tid_mid list lies in `folder`."""
    return [v.lower() for v in VARIANTS if (folder / TID_MID.format(p=v.lower())).is_file()]


def _set_folders(root: Path) -> list[Path]:
    """root, and the IJBB / IJBC folders in it or in IJB_release/ below it (any case, IJB-B spelt either way)."""
    bases = [root] + [unnested(root / name) for name in ("IJB_release", "ijb_release", "IJB") if (root / name).is_dir()]
    folders = []
    for base in bases:
        folders.append(base)
        for child in sorted(base.iterdir()) if base.is_dir() else []:
            if child.is_dir() and re.sub(r"[-_ ]", "", child.name).upper() in VARIANTS:
                folders.append(unnested(child))
    return folders


def find_meta(root: Path, variant: str | None) -> tuple[Path, str]:
    """(meta folder, 'ijbb' | 'ijbc') of the set to read."""
    if root.is_file():
        match = re.match(r"(ijb[bc])_", root.name.lower())
        if not match:
            raise DataFormatError(root, "expected an IJB list such as ijbb_template_pair_label.txt (or a folder)")
        if variant and variant != match.group(1):
            raise FacesslError(f"{root}: an {match.group(1).upper()} list, but variant {variant.upper()} was asked for")
        return root.parent, match.group(1)
    if not root.is_dir():
        raise DataFormatError(root, "IJB folder not found")
    found: dict[str, Path] = {}
    for folder in _set_folders(root):
        for meta in (folder / "meta", folder):
            for prefix in _prefixes(meta):
                found.setdefault(prefix, meta)
    if variant:
        if variant not in found:
            raise DataFormatError(root, f"no {variant.upper()} lists here ({TID_MID.format(p=variant)} in meta/, "
                                        f"{variant.upper()}/meta/ or IJB_release/{variant.upper()}/meta/)"
                                        + (f"; found {', '.join(p.upper() for p in found)}" if found else ""))
        return found[variant], variant
    if not found:
        raise DataFormatError(root, "no IJB-B / IJB-C lists found: expected meta/ijbb_face_tid_mid.txt (or ijbc_), "
                                    "IJBB/meta/ or IJBC/meta/ here or in IJB_release/")
    if len(found) > 1:
        raise FacesslError(f"{root} holds both IJB-B and IJB-C; pick one with --variant IJBB or --variant IJBC")
    prefix = next(iter(found))
    return found[prefix], prefix


def find_images(meta_dir: Path) -> Path:
    """loose_crop/ beside meta/ (also in the meta folder itself, or nested twice by unpacking)."""
    base = meta_dir.parent if meta_dir.name.lower() == "meta" else meta_dir
    for folder in (base / IMAGE_FOLDER, meta_dir / IMAGE_FOLDER):
        if folder.is_dir():
            return unnested(folder)
    raise DataFormatError(base / IMAGE_FOLDER, f"image folder not found (expected {IMAGE_FOLDER}/ beside meta/)")


# --- reading the lists -------------------------------------------------------------------------------------
def _read_bytes(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise DataFormatError(path, f"{what} not found")
    data = path.read_bytes()
    return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data


def _line_count(data: bytes) -> int:
    """Lines of a file with no blank line (CRLF or LF; the last may lack its end); -1 when there are blank
    lines or old Mac CR ends, which send the reader to the line-by-line path."""
    if b"\n\n" in data or b"\n\r\n" in data or data.startswith((b"\n", b"\r\n")) or (b"\r" in data and b"\n" not in data):
        return -1
    return data.count(b"\n") + (not data.endswith(b"\n"))


def _parse_lines(path: Path, data: bytes, kinds: tuple, form: str) -> list[list]:
    """The slow, exact reading: each non-blank line's fields converted by `kinds` (str, int, float); the first
    line that does not fit is one error naming it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    columns: list[list] = [[] for _ in kinds]
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(kinds):
            raise DataFormatError(path, f"expected '{form}' ({len(kinds)} fields), got {len(fields)}", number)
        for column, kind, field in zip(columns, kinds, fields):
            try:
                column.append(kind(field))
            except ValueError:
                what = {int: "a whole number", float: "a number"}.get(kind, "a name")
                raise DataFormatError(path, f"expected '{form}': {what}, got {field!r}", number) from None
    if not columns[0]:
        raise DataFormatError(path, f"empty list; expected lines '{form}'")
    return columns


def _table(path: Path, what: str, kinds: tuple, form: str) -> list[np.ndarray]:
    """The columns of a whitespace-separated list: names as str arrays, numbers as int64 / float64.
    Fast path: one split of the whole file; anything odd falls back to _parse_lines for an exact message."""
    data = _read_bytes(path, what)
    lines, tokens = _line_count(data), data.split()
    if lines > 0 and len(tokens) == lines * len(kinds):
        table = np.array(tokens, dtype=bytes).reshape(lines, len(kinds))
        try:
            return [_column(table[:, k], kind) for k, kind in enumerate(kinds)]
        except (ValueError, UnicodeDecodeError):
            pass  # a bad field: find its line below
    columns = _parse_lines(path, data, kinds, form)
    return [np.array(c, dtype={int: np.int64, float: np.float64}.get(kind, str)) for c, kind in zip(columns, kinds)]


def _column(values: np.ndarray, kind) -> np.ndarray:
    if kind is str:
        return np.char.decode(values, "utf-8").astype(str)
    return values.astype(np.int64 if kind is int else np.float64)


def read_tid_mid(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image names, template ids, media ids) of ijbX_face_tid_mid.txt, one row per face."""
    return tuple(_table(path, "IJB face list (face_tid_mid)", (str, int, int), "image_name template_id media_id"))


def read_landmarks(meta_dir: Path, prefix: str, names: np.ndarray):
    """(points (N,5,2) or None, detector scores (N,) or None, the file or None) of ijbX_name_5pts_score.txt,
    matched to the face list row by row when the names agree (the release), else by name; a face the file
    lacks gets no points (its whole loose crop) and score 1."""
    path = next((meta_dir / f.format(p=prefix) for f in LANDMARK_FILES if (meta_dir / f.format(p=prefix)).is_file()), None)
    if path is None:
        return None, None, None
    columns = _table(path, "IJB landmarks list (name_5pts_score)", (str,) + (float,) * 11,
                     "image_name x1 y1 x2 y2 x3 y3 x4 y4 x5 y5 score")
    listed, values = columns[0], np.stack(columns[1:], 1)
    if len(listed) == len(names) and np.array_equal(listed, names):
        return values[:, :10].reshape(-1, 5, 2), values[:, 10], path
    row_of = {name: k for k, name in enumerate(listed)}
    rows = np.array([row_of.get(name, -1) for name in names], dtype=np.int64)
    missing = rows < 0
    points = np.where(missing[:, None], np.nan, values[rows, :10]).reshape(-1, 5, 2)
    return points, np.where(missing, 1.0, values[rows, 10]), path


def read_pairs(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(template1, template2, same) of ijbX_template_pair_label.txt: IJB-C's 15.7 M lines are parsed by numpy
    from the whole text at once (a line-by-line or np.loadtxt read takes minutes)."""
    what, form = "IJB template pair list", "template1 template2 label"
    data = _read_bytes(path, what)
    lines = _line_count(data)
    values = None
    if lines > 0:
        try:
            values = np.fromstring(data, dtype=np.int64, sep=" ")  # text mode: any whitespace separates
        except (ValueError, AttributeError):
            values = None
    fast = values is not None and values.size == 3 * lines  # then row k is line k + 1
    if not fast:
        values = np.stack(_parse_lines(path, data, (int, int, int), form), 1).reshape(-1)
    table = values.reshape(-1, 3)
    bad = np.flatnonzero((table[:, 2] != 0) & (table[:, 2] != 1))
    if bad.size:
        raise DataFormatError(path, f"expected '{form}' with label 1 (same subject) or 0, got {table[bad[0], 2]}",
                              int(bad[0]) + 1 if fast else None)
    return table[:, 0], table[:, 1], table[:, 2] == 1


# --- choosing rows -----------------------------------------------------------------------------------------
def _positive_int(value, option: str) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return count_option(value, "ijb", option)


def _seed(value) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise FacesslError(f"ijb: seed must be a whole number, got {value!r}") from None


def present(names: np.ndarray, folder: Path, list_path: Path, skip_missing: bool) -> np.ndarray:
    """(N,) bool: the listed image exists. One directory listing, not 470k stat calls."""
    try:
        on_disk = set(os.listdir(folder))
    except OSError as exc:
        raise DataFormatError(folder, f"cannot list the image folder ({exc.strerror})") from None
    ok = np.array([name in on_disk or ("/" in name and (folder / name).is_file()) for name in names], dtype=bool)
    if not ok.any():
        raise DataFormatError(folder, f"none of the {len(names)} images named in {list_path.name} is here "
                                      f"(e.g. {names[0] if len(names) else '?'})")
    if not skip_missing and not ok.all():
        first = int(np.flatnonzero(~ok)[0])
        raise DataFormatError(list_path, f"image {folder / names[first]} named here does not exist; {SKIP_MISSING_HINT}",
                              first + 1)
    return ok


def evenly_spread(template: np.ndarray, keep: np.ndarray, k: int | None) -> np.ndarray:
    """(N,) bool: at most k of each template's kept rows, spread evenly over their order (row r of c is taken
    when some j < k has floor(j c / k) == r)."""
    if k is None:
        return np.ones(len(template), bool)
    rows = np.flatnonzero(keep)
    order = rows[np.argsort(template[rows], kind="stable")]
    ids, start, count = np.unique(template[order], return_index=True, return_counts=True)
    group = np.repeat(np.arange(len(ids)), count)
    rank, c = np.arange(len(order)) - start[group], count[group]
    j = -(-rank * k // c)  # ceil(rank k / c)
    chosen = np.zeros(len(template), bool)
    chosen[order[j * c < (rank + 1) * k]] = True
    return chosen


def sample_pairs(indices: np.ndarray, same: np.ndarray, limit: int, seed) -> np.ndarray:
    """A seeded sample of `limit` of the pair indices with the same share of same-subject pairs (at least one of
    each kind while both exist), in file order."""
    rng = np.random.default_rng(int(seed))
    pos, neg = indices[same], indices[~same]
    n_pos = int(round(limit * len(pos) / len(indices)))
    n_pos = min(len(pos), max(n_pos, 1 if len(pos) else 0), limit - (1 if len(neg) else 0))
    n_neg = min(len(neg), limit - n_pos)
    picked = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)])
    return np.sort(picked)


def _flags(ids: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """A lookup table over 0 .. max(universe): True at the (non-negative) ids given. Indexing a table is
    much faster than np.isin over IJB-C's 15.7 M pairs."""
    table = np.zeros(int(max(universe.max(initial=0), 0)) + 1, bool)
    ids = ids[(ids >= 0) & (ids < len(table))]
    table[ids] = True
    return table


def _looked_up(table: np.ndarray, ids: np.ndarray, default) -> np.ndarray:
    """table[ids], `default` where an id falls outside the table (a template the face list never names)."""
    inside = (ids >= 0) & (ids < len(table))
    out = np.full(len(ids), default, dtype=table.dtype)
    out[inside] = table[ids[inside]]
    return out


def _said(dropped: dict) -> str:
    return ", ".join(f"{why.replace('_', ' ')} {n}" for why, n in dropped.items() if n) or "the list is empty"


# --- the faces ---------------------------------------------------------------------------------------------
def arcface_boxes(points: np.ndarray) -> np.ndarray:
    """(N,4) x0, y0, x1, y1 of the 112x112 ArcFace frame fitted to each face's 5 points by scale s and shift t
    alone (least squares of s * template + t = points); NaN where the points are missing or degenerate."""
    q = ARCFACE_112 - ARCFACE_112.mean(0)
    centre = points.mean(1)
    scale = np.einsum("nkd,kd->n", points - centre[:, None], q) / np.sum(q * q)
    origin = centre - scale[:, None] * ARCFACE_112.mean(0)
    boxes = np.concatenate([origin, origin + scale[:, None] * ARCFACE_SIDE], 1)
    boxes[~(scale > 1e-3)] = np.nan  # NaN points, all points on one spot, or a mirrored set
    return boxes


def face_images(folder: Path, names: np.ndarray, points, rows: np.ndarray) -> list:
    """The kept faces: a BoxedImage of the ArcFace frame where the points allow, else the loose crop's path."""
    base = str(folder) + os.sep
    paths = [base + name for name in names]  # (Path joins cost seconds at IJB-C's 470k faces)
    if points is None:
        return paths
    boxes = arcface_boxes(points[rows])
    good = np.isfinite(boxes).all(1)
    return [BoxedImage(p, box) if ok else p for p, box, ok in zip(paths, boxes.tolist(), good.tolist())]
