"""`facessl inspect`: what a dataset reader makes of a folder, before any model sees it.

    facessl inspect --dataset affectnet:/data/AffectNet --out affectnet.png
    facessl inspect --dataset csv:faces.csv --box-columns x,y,w,h --label-column mood --out faces.png

Prints the task the format implies, the rows per split, the classes (rows per split) or the targets, and
what the reader skipped and why; with --out, writes a contact sheet of a few faces per class (or of random
faces), decoded and resized exactly as the probes see them, landmarks drawn as red dots.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from facessl.commands.options import output_file, positive_int
from facessl.data.labels import AU_NAMES, class_labels
from facessl.errors import FacesslError


SPARSE_TEST = 5  # test images of a class below which its per-class accuracy is a coin or two


def add_arguments(p) -> None:
    p.add_argument("--dataset", required=True, help="FORMAT:PATH, e.g. rafdb:/data/RAF-DB or csv:labels.csv, or a bare "
                   "PATH (its layout is recognised and named)")
    p.add_argument("--out", default=None, help="contact sheet PNG of the faces as the probes see them")
    p.add_argument("--per-class", type=positive_int, default=6, help="faces per class on the sheet (others: 6 x 8)")
    p.add_argument("--size", type=positive_int, default=64, help="the probes' input size to show (default 64; "
                                                                 "8 to 1024)")
    p.add_argument("--seed", type=int, default=0, help="which faces the sheet shows")
    p.add_argument("--skip-missing", action="store_true",
                   help="skip (and count) images the dataset lists but lacks or that do not decode")
    from facessl.commands.eval import add_dataset_options

    add_dataset_options(p)


def describe(data) -> list[str]:
    """Lines saying what a reader returned: rows per split, classes or targets, skips."""
    from facessl.data.formats.common import PairSet
    from facessl.data.formats.grouping import case_note
    from facessl.data.formats.imagefiles import dropped_names, named_list
    from facessl.evaluate.splits import copies_line

    lines = []
    if isinstance(data, PairSet):
        folds = len(set(data.fold.tolist()))
        tar = data.images.meta.get("verification_metric") == "tar_at_far"
        lines.append(f"pairs: {len(data.pairs)} ({int(data.same.sum())} same, {int((~data.same).sum())} different) "
                     + ("scored by TAR at FAR, no folds" if tar else f"in {folds} fold(s)")
                     + f", over {len(data.images)} images"
                     + (f" of {len(np.unique(data.item))} items (videos or templates: an item's images are averaged)"
                        if data.item is not None else ""))
        images = data.images
    else:
        images = data
        split = images.split if images.split is not None else np.array(["all"] * len(images))
        lines.append(f"images: {len(images)} (" + ", ".join(f"{s} {n}" for s, n in sorted(Counter(split.tolist()).items()))
                     + ")" + (f"; split: {images.meta['split_from']}" if images.meta.get("split_from") else ""))
        classes = class_labels(images)
        if classes is not None:
            values, names = classes
            for c in np.unique(values):
                per_split = Counter(split[values == c].tolist())
                lines.append(f"  {names[int(c)] if names else c}: " + ", ".join(f"{s} {n}" for s, n in sorted(per_split.items())))
            sparse = {(names[int(c)] if names else str(c)): int((split[values == c] == "test").sum())
                      for c in np.unique(values) if 0 < (split[values == c] == "test").sum() < SPARSE_TEST}
            if sparse and "test" in set(split.tolist()):  # one such image moves mean-class accuracy by points
                lines.append(f"  few test images (under {SPARSE_TEST}): " + ", ".join(f"{n} ({k})" for n, k in sparse.items())
                             + "; --min-class-count N leaves classes with fewer than N images out")
            unused = [n for i, n in enumerate(names or []) if i not in set(np.unique(values).tolist())]
            if unused:  # a class the labels name (a yaml's names, a fixed list) that no image carries
                lines.append(f"  no images: {', '.join(map(str, unused))}")
        if images.meta.get("left_out_classes"):  # --min-class-count: which classes, not only how many rows
            lines.append("  left out (fewer images than --min-class-count): "
                         + ", ".join(f"{name} ({n})" for name, n in images.meta["left_out_classes"].items()))
        if images.meta.get("classes_without_a_face"):
            lines.append("  left out (no face found in any of their clips): "
                         + ", ".join(images.meta["classes_without_a_face"]))
        if images.meta.get("note"):
            lines.append(f"note: {images.meta['note']}")
        if images.meta.get("case_only_classes"):
            lines.append(f"note: {case_note(images.meta['case_only_classes'])}")
        if "clip" in images.labels:  # video sets: what is scored is the clip, not the frame
            clips = np.asarray(images.labels["clip"]).astype(str)
            per_split = Counter(split[np.unique(clips, return_index=True)[1]].tolist())
            lines.append(f"clips: {len(np.unique(clips))} (" + ", ".join(f"{s} {n}" for s, n in sorted(per_split.items()))
                         + f"), up to {images.meta.get('frames_per_clip', '?')} frames each; eval scores a clip by the "
                           "mean of its frames' class probabilities")
        for key in ("faces", "frames_from"):  # crops facessl made: --detect-faces, DFEW read from its videos
            if images.meta.get(key):
                lines.append(f"{key.replace('_', ' ')}: {images.meta[key]}")
        if images.meta.get("unreadable_videos"):
            lines.append("unreadable videos: " + "; ".join(images.meta["unreadable_videos"][:3]))
        for label, array in images.labels.items():
            if label not in ("class", "expression", "group", "clip") and hasattr(array, "shape"):
                lines.append(f"labels {label!r}: shape {tuple(array.shape)}")
        lines += multi_label_rates(images)
        if "group" in images.labels:
            lines.append(f"groups (kept on one side of the split): {len(set(images.labels['group'].tolist()))}")
        copies = copies_line(images.meta.get("copies_together"), given=False)
        if copies:  # a drawn split: byte-identical files were kept on one side
            lines.append(f"note: {copies}")
    skipped = {**images.dropped, **(data.dropped if isinstance(data, PairSet) else {})}
    lines.append("skipped: " + (", ".join(f"{why.replace('_', ' ')} {n}" for why, n in skipped.items() if n) or "nothing"))
    names = dropped_names(data)
    for why, n in skipped.items():  # which files, the first few per reason (as eval's results and embed name them)
        if n and names.get(why):
            lines.append(f"  {why.replace('_', ' ')}: {named_list(names[why], n)}")
    return lines


CHECK_AT_MOST = 20_000  # images decoded to find the broken ones; past it a seeded sample, said as such


def undecodable(images, seed: int = 0) -> tuple[np.ndarray, str | None]:
    """(rows that do not decode, a line saying so or None): every image of a set up to CHECK_AT_MOST, else a
    sample. inspect is the check before eval, which would stop at the first such image without --skip-missing."""
    from facessl.data.formats.decodable import undecodable_rows
    from facessl.data.video.writers import shown

    files = images.images
    if isinstance(files, np.ndarray) or len(files) == 0:
        return np.zeros(0, np.int64), None
    rows = np.arange(len(files))
    if len(rows) > CHECK_AT_MOST:
        rows = np.sort(np.random.default_rng(seed).choice(len(files), CHECK_AT_MOST, replace=False))
    bad = rows[undecodable_rows([files[i] for i in rows])]
    if len(bad) == 0:
        return bad, None
    checked = "" if len(rows) == len(files) else f" of {len(rows)} checked (a sample)"
    return bad, (f"do not decode: {len(bad)}{checked}, e.g. {shown(str(files[bad[0]]))}; eval stops at the first "
                 "unless --skip-missing (which skips and counts them)")


def multi_label_rates(images) -> list[str]:
    """How often each AU or attribute is present (the imbalance a reader of F1 or accuracy needs to know):
    attributes and occurrence-coded AUs are 0/1, DISFA-style intensities count as present at >= 2 (eval's default)."""
    lines = []
    for label, names_key in (("attributes", "attribute_names"), ("aus", "au_names")):
        if label not in images.labels:
            continue
        values = np.asarray(images.labels[label], dtype=np.float64)
        if values.ndim != 2:
            continue
        occurrence = label == "attributes" or images.meta.get("au_labels") == "occurrence"
        present = values >= (0.5 if occurrence else 2.0)
        names = images.meta.get(names_key) or (AU_NAMES if label == "aus" and values.shape[1] == len(AU_NAMES)
                                                else [f"{label}_{i}" for i in range(values.shape[1])])
        rule = "" if occurrence else " (intensity >= 2)"
        lines.append(f"{label} present %{rule}: " + ", ".join(f"{n} {100 * r:.1f}" for n, r in zip(names, present.mean(0))))
    return lines


def sheet_rows(data, per_class: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """(row indices, caption per row) for the contact sheet: per_class faces of each class, else 48 at random."""
    rng = np.random.default_rng(seed)
    if hasattr(data, "pairs"):
        return pair_rows(data, rng)
    images = data
    classes = class_labels(images)
    if classes is None:
        rows = np.sort(rng.choice(len(images), size=min(48, len(images)), replace=False))
        return rows, [images.split[i] if images.split is not None else "" for i in rows]
    values, names = classes
    rows, captions = [], []
    for c in np.unique(values):
        members = np.flatnonzero(values == c)
        chosen = np.sort(rng.choice(members, size=min(per_class, len(members)), replace=False))
        rows += chosen.tolist()
        captions += [str(names[int(c)] if names else c)] * len(chosen)
    return np.array(rows), captions


def pair_rows(pairs, rng, per_kind: int = 12) -> tuple[np.ndarray, list[str]]:
    """A verification set's sheet: per_kind same and per_kind different pairs, each pair's two faces side by
    side and captioned alike (same 3 / diff 3), so a reader's pairing can be checked by eye."""
    rows, captions = [], []
    for kind, wanted in (("same", True), ("diff", False)):
        members = np.flatnonzero(pairs.same == wanted)
        stand_for = pairs.first_images() if getattr(pairs, "item", None) is not None else None
        for k, p in enumerate(np.sort(rng.choice(members, size=min(per_kind, len(members)), replace=False)), 1):
            rows += [int(stand_for[i] if stand_for is not None else i) for i in pairs.pairs[p]]
            captions += [f"{kind} {k}"] * 2
    return np.array(rows, dtype=np.int64), captions


def landmark_frame(images, bad=(), seed: int = 0) -> str | None:
    """The line eval's landmarks task would stop with when the points cannot be pixels of their images (all far
    outside, or fractions in [0, 1]); images that do not decode left out, at most CHECK_AT_MOST (a seeded sample)."""
    from facessl.evaluate.landmarks import frame_problem

    if "landmarks" not in images.labels:
        return None
    rows = np.setdiff1d(np.arange(len(images)), np.asarray(bad, dtype=np.int64))
    if len(rows) > CHECK_AT_MOST:
        rows = np.sort(np.random.default_rng(seed).choice(rows, CHECK_AT_MOST, replace=False))
    problem = frame_problem(images, rows=rows)
    return None if problem is None else f"landmarks in the wrong frame (eval stops here): {problem}"


def draw_points(tiles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Red 2x2 dots at each (x, y) of points (n, K, 2), given in the tiles' pixels."""
    tiles = tiles.copy()
    size = tiles.shape[1]
    for tile, pts in zip(tiles, points):
        for x, y in np.floor(pts).astype(int):
            if 0 <= x < size and 0 <= y < size:
                tile[max(0, y - 1):y + 1, max(0, x - 1):x + 1] = (255, 0, 0)
    return tiles


def run(args) -> int:
    from facessl.commands.eval import check_size, reader_options
    from facessl.evaluate.images import image_sizes, load_batch
    from facessl.evaluate.suite import FORMAT_TASK, TaskSpec, parse_dataset, read_dataset
    from facessl.viz.grids import image_grid

    check_size(args.size)
    out = output_file(args.out, "--out") if args.out else None
    if out is not None and out.suffix.lower() != ".png":
        raise FacesslError(f"{out}: --out must end in .png")
    fmt, _ = parse_dataset(args.dataset)
    data = read_dataset(args.dataset, args.skip_missing, reader_options(args))
    try:
        task = TaskSpec("", args.dataset, options=reader_options(args)).task if fmt in FORMAT_TASK else "?"
    except FacesslError as exc:  # eval would need more (AFLW2000's training set): the reader can still be shown
        task = f"{FORMAT_TASK[fmt]} (eval: {exc})"
    print(f"{args.dataset}: format {fmt}, task {task}")  # the task eval would run (csv's columns, utkface's target)
    for line in describe(data):
        print(line)
    images = data.images if hasattr(data, "pairs") else data
    bad, line = undecodable(images, args.seed)
    if line:
        print(line)
    line = landmark_frame(images, bad, args.seed)
    if line:
        print(line)
    if "source_file" not in images.labels:  # not --detect-faces: are these face crops at all?
        from facessl.data.crop_check import scene_note

        scenes = scene_note(images.images, args.seed)
        if scenes:
            print(f"note: {scenes}")
    if out is None:
        return 0
    if len(bad):  # the sheet shows faces that decode
        from facessl.data.formats.decodable import drop_undecodable

        data = drop_undecodable(data)
        images = data.images if hasattr(data, "pairs") else data
    rows, captions = sheet_rows(data, args.per_class, args.seed)
    tiles = load_batch(images.images, rows, args.size)
    if "landmarks" in images.labels:
        scale = args.size / image_sizes(images.subset(rows))
        tiles = draw_points(tiles, images.labels["landmarks"][rows] * scale[:, None, :])
    nrow = 8 if hasattr(data, "pairs") or len(set(captions)) <= 1 else args.per_class
    image_grid(tiles, nrow, out, labels=captions)
    print(f"contact sheet: {out} ({len(rows)} faces at {args.size} px)")
    return 0
