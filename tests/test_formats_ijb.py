"""IJB-B / IJB-C 1:1 verification as InsightFace's IJB package lays it out (IJB_release/IJBB/loose_crop/1.jpg,
meta/ijbb_face_tid_mid.txt, ijbb_template_pair_label.txt, ijbb_name_5pts_score.txt), written here in tiny form,
read back, scored with InsightFace's template pooling and TAR@FAR, and evaluated end to end through the CLI."""
import json

import numpy as np
import pytest
from PIL import Image

from facessl.data import formats
from facessl.data.formats import ijb
from facessl.data.formats.common import PairSet
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import tables
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.verification import evaluate

SIDE = 40


def write_set(folder, prefix="ijbb", subjects=4, templates_per_subject=2, crlf=False, bom=False, landmarks=True,
              shuffle_landmarks=False, seed=0):
    """One set as the package has it. Template t holds 3 faces: two frames of one video (one media id) and a
    photo; template ids are sparse (as IJB-C's up to 187,955). Every template pair is listed, label 1 when both
    templates show the same subject. Returns what a reader must find."""
    rng = np.random.default_rng(seed)
    (folder / "loose_crop").mkdir(parents=True)
    (folder / "meta").mkdir()
    colours = rng.integers(30, 225, (subjects, 3))
    names, tids, mids, points, scores, subject_of = [], [], [], [], [], {}
    for s in range(subjects):
        for k in range(templates_per_subject):
            tid = 1 + 7 * (s * templates_per_subject + k)
            subject_of[tid] = s
            for m, media in enumerate((1000 + tid, 1000 + tid, 5000 + tid)):
                n = len(names) + 1
                name = f"{n}.jpg"
                face = np.clip(colours[s] + rng.normal(0, 10, (SIDE, SIDE, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(face).save(folder / "loose_crop" / name, quality=95)
                scale, shift = 0.25 + 0.01 * (n % 5), np.array([2.0 + n % 3, 1.0 + n % 2])
                names.append(name)
                tids.append(tid)
                mids.append(media)
                points.append(np.round(ijb.ARCFACE_112 * scale + shift, 3))
                scores.append(0.999 if n % 4 else 0.05)
    tid_list = list(subject_of)
    pairs = [(a, b, int(subject_of[a] == subject_of[b])) for i, a in enumerate(tid_list) for b in tid_list[i + 1:]]
    end = "\r\n" if crlf else "\n"
    head = "\ufeff" if bom else ""

    def write(name, lines):
        (folder / "meta" / name).write_bytes((head + "".join(line + end for line in lines)).encode())

    write(f"{prefix}_face_tid_mid.txt", [f"{n} {t} {m}" for n, t, m in zip(names, tids, mids)])
    write(f"{prefix}_template_pair_label.txt", [f"{a} {b} {y}" for a, b, y in pairs])
    order = rng.permutation(len(names)) if shuffle_landmarks else np.arange(len(names))
    if landmarks:
        write(f"{prefix}_name_5pts_score.txt",
              [names[k] + " " + " ".join(f"{v:.3f}" for v in points[k].reshape(-1)) + f" {scores[k]:.3f}" for k in order])
    return {"names": names, "tids": np.array(tids), "mids": np.array(mids), "points": np.array(points),
            "scores": np.array(scores), "pairs": pairs, "subject_of": subject_of}


def read(path, **kw):
    return formats.read("ijb", path, **kw)


def check(got, truth, folder):
    """The PairSet holds every face, each image's item is its template, and pairs compare the right templates."""
    assert isinstance(got, PairSet)
    images = got.images
    assert [str(p).rsplit("/", 1)[-1] for p in images.images] == truth["names"]
    assert images.labels["template"].tolist() == truth["tids"].tolist()
    assert images.labels["media"].tolist() == truth["mids"].tolist()
    np.testing.assert_allclose(images.labels["detector_score"], truth["scores"])
    template_of_item = {int(i): int(t) for i, t in zip(got.item, images.labels["template"])}
    listed = [(template_of_item[a], template_of_item[b], int(s)) for (a, b), s in zip(got.pairs, got.same)]
    assert listed == truth["pairs"]
    assert got.fold.tolist() == [0] * len(truth["pairs"])
    assert images.meta["verification_metric"] == "tar_at_far" and images.meta["variant"] == "IJBB"
    assert images.meta["tar_at_far_rule"] == "nearest"  # InsightFace's table
    assert images.meta["template_pooling"] == "media" and images.meta["template_weights"] == "detector_score"
    assert got.dropped == {}
    assert str(folder / "loose_crop") == images.source


# --- the layouts -----------------------------------------------------------------------------------------------
def test_reads_the_package_from_each_place_a_user_points_at(tmp_path):
    truth = write_set(tmp_path / "IJB_release" / "IJBB")
    folder = tmp_path / "IJB_release" / "IJBB"
    for path in (tmp_path, tmp_path / "IJB_release", folder, folder / "meta", folder / "meta" / "ijbb_template_pair_label.txt"):
        check(read(path), truth, folder)


def test_faces_are_the_arcface_frame_of_their_five_points(tmp_path):
    """Points written as ArcFace's 112 template times s plus t: the face is the square (t, t + 112 s)."""
    truth = write_set(tmp_path / "IJBB")
    got = read(tmp_path / "IJBB")
    assert all(isinstance(face, BoxedImage) for face in got.images.images)
    for face, pts in zip(got.images.images, truth["points"]):
        scale = (pts[1, 0] - pts[0, 0]) / (ijb.ARCFACE_112[1, 0] - ijb.ARCFACE_112[0, 0])
        origin = pts.mean(0) - scale * ijb.ARCFACE_112.mean(0)
        np.testing.assert_allclose(face.box, [*origin, *(origin + 112 * scale)], atol=0.05)
    assert "arcface" in got.images.meta["crop"] and got.images.meta["images_without_landmarks"] == 0
    crop = formats.load_image(got.images.images[0], 16)
    assert crop.shape == (16, 16, 3)
    loose = read(tmp_path / "IJBB", crop="loose")
    assert not any(isinstance(face, BoxedImage) for face in loose.images.images)


def test_crlf_bom_and_a_landmark_list_in_another_order(tmp_path):
    truth = write_set(tmp_path / "IJBB", crlf=True, bom=True, shuffle_landmarks=True)
    got = read(tmp_path / "IJBB")
    check(got, truth, tmp_path / "IJBB")
    for face, pts in zip(got.images.images, truth["points"]):  # matched by name, not by row
        assert face.box[0] == pytest.approx(pts.mean(0)[0] - (face.box[2] - face.box[0]) / 112 * ijb.ARCFACE_112.mean(0)[0], abs=0.05)


def test_without_a_landmark_list_the_whole_loose_crop_unweighted(tmp_path):
    write_set(tmp_path / "IJBB", landmarks=False)
    got = read(tmp_path / "IJBB")
    assert all(type(face) is str for face in got.images.images)
    assert "detector_score" not in got.images.labels and got.images.meta["template_weights"] is None
    assert got.images.meta["crop"] == "whole loose crop"
    got = read(tmp_path / "IJBB", detector_weights="false")
    assert got.images.meta["template_weights"] is None


def test_variant_picks_ijbb_or_ijbc_when_both_are_there(tmp_path):
    release = tmp_path / "IJB_release"
    write_set(release / "IJBB", subjects=3)
    truth_c = write_set(release / "IJBC", prefix="ijbc", subjects=5, seed=1)
    with pytest.raises(FacesslError, match="both IJB-B and IJB-C.*--variant"):
        read(release)
    for spelling in ("IJBC", "ijbc", "IJB-C", "IJB_C"):
        got = read(tmp_path, variant=spelling)
        assert got.images.meta["variant"] == "IJBC" and len(got.images) == len(truth_c["names"])
    assert read(release, variant="IJBB").images.meta["variant"] == "IJBB"
    with pytest.raises(FacesslError, match="variant 'IJBD'"):
        read(release, variant="IJBD")
    with pytest.raises(FacesslError, match="IJBB list, but variant IJBC"):
        read(release / "IJBB" / "meta" / "ijbb_template_pair_label.txt", variant="IJBC")
    with pytest.raises(DataFormatError, match="no IJBC lists here.*found IJBB"):
        read(release / "IJBB", variant="IJBC")


# --- skipping and reducing ----------------------------------------------------------------------------------------
def test_missing_images_are_skipped_and_an_empty_template_drops_its_pairs(tmp_path):
    truth = write_set(tmp_path / "IJBB")
    crops = tmp_path / "IJBB" / "loose_crop"
    (crops / "2.jpg").unlink()  # template 1 keeps 2 of its 3 faces
    for name in ("4.jpg", "5.jpg", "6.jpg"):  # template 8 loses all of them
        (crops / name).unlink()
    got = read(tmp_path / "IJBB")
    assert got.dropped == {"missing_image": 4, "pair_with_a_template_without_images": 7}
    assert len(got.images) == len(truth["names"]) - 4 and 8 not in got.images.labels["template"]
    assert len(got.pairs) == len(truth["pairs"]) - 7
    with pytest.raises(DataFormatError, match=r"ijbb_face_tid_mid.txt:2: image .*2.jpg named here does not exist"):
        read(tmp_path / "IJBB", skip_missing=False)
    for k in range(1, len(truth["names"]) + 1):
        (crops / f"{k}.jpg").unlink(missing_ok=True)
    with pytest.raises(DataFormatError, match="none of the 24 images"):
        read(tmp_path / "IJBB")


def test_limit_pairs_is_a_seeded_sample_keeping_the_mix_and_only_its_templates_images(tmp_path):
    truth = write_set(tmp_path / "IJBB", subjects=8)  # 16 templates, 120 pairs, 8 same
    full = read(tmp_path / "IJBB")
    assert len(full.pairs) == 120 and full.same.sum() == 8
    got = read(tmp_path / "IJBB", limit_pairs=30, seed=3)
    again = read(tmp_path / "IJBB", limit_pairs="30", seed=3)
    assert len(got.pairs) == 30 and got.same.sum() == 2  # 8/120 of 30
    assert np.array_equal(got.pairs, again.pairs) and np.array_equal(got.same, again.same)
    other = read(tmp_path / "IJBB", limit_pairs=30, seed=4)
    assert not np.array_equal(got.images.labels["template"], other.images.labels["template"]) or \
        not np.array_equal(got.pairs, other.pairs)
    used = set(np.unique(got.pairs))
    assert set(np.unique(got.item)) == used and got.item.max() == len(used) - 1
    assert got.images.meta["limit_pairs"] == 30 and got.images.meta["seed"] == 3
    assert got.images.meta["pairs_in_file"] == 120 and got.images.meta["pairs_kept"] == 30
    whole = read(tmp_path / "IJBB", limit_pairs=500).images.meta
    assert whole["pairs_kept"] == 120 and whole["limit_pairs"] is None and whole["seed"] is None
    with pytest.raises(FacesslError, match="limit_pairs must be a whole number >= 1"):
        read(tmp_path / "IJBB", limit_pairs=0)
    assert len(truth["pairs"]) == 120


def test_max_images_per_template_spreads_the_kept_images(tmp_path):
    write_set(tmp_path / "IJBB")
    got = read(tmp_path / "IJBB", max_images_per_template=2)
    names = [str(p).rsplit("/", 1)[-1] for p in got.images.images]
    assert names[:4] == ["1.jpg", "2.jpg", "4.jpg", "5.jpg"]  # of 3 faces: rows 0 and 1 (floor(j*3/2), j=0,1)
    assert np.bincount(got.item).tolist() == [2] * 8 and got.images.meta["max_images_per_template"] == 2
    assert ijb.evenly_spread(np.zeros(5, int), np.ones(5, bool), 2).tolist() == [True, False, True, False, False]
    assert ijb.evenly_spread(np.array([0, 1, 0, 1, 0]), np.array([True] * 4 + [False]), 1).tolist() == \
        [True, True, False, False, False]
    with pytest.raises(FacesslError, match="max_images_per_template"):
        read(tmp_path / "IJBB", max_images_per_template="two")


# --- bad files ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, line, message", [
    ("ijbb_template_pair_label.txt", "1 8 2", r"ijbb_template_pair_label.txt:3: .*label 1 \(same subject\) or 0, got 2"),
    ("ijbb_template_pair_label.txt", "1 8", r"ijbb_template_pair_label.txt:3: expected 'template1 template2 label' \(3 fields\), got 2"),
    ("ijbb_template_pair_label.txt", "1 8.5 0", r"ijbb_template_pair_label.txt:3: .*a whole number, got '8.5'"),
    ("ijbb_face_tid_mid.txt", "3.jpg one 1001", r"ijbb_face_tid_mid.txt:3: .*a whole number, got 'one'"),
    ("ijbb_name_5pts_score.txt", "3.jpg 1 2 3 4 5 6 7 8 9 10", r"ijbb_name_5pts_score.txt:3: expected .* \(12 fields\), got 11"),
])
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path, name, line, message):
    write_set(tmp_path / "IJBB")
    path = tmp_path / "IJBB" / "meta" / name
    lines = path.read_text().splitlines()
    lines[2] = line
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=message):
        read(tmp_path / "IJBB")


def test_missing_pieces_are_named(tmp_path):
    with pytest.raises(DataFormatError, match="no IJB-B / IJB-C lists found"):
        read(tmp_path)
    write_set(tmp_path / "IJBB")
    (tmp_path / "IJBB" / "meta" / "ijbb_template_pair_label.txt").unlink()
    with pytest.raises(DataFormatError, match="ijbb_template_pair_label.txt: IJB template pair list not found"):
        read(tmp_path / "IJBB")
    (tmp_path / "IJBB" / "meta" / "ijbb_template_pair_label.txt").write_text("\n\n")
    with pytest.raises(DataFormatError, match="empty list"):
        read(tmp_path / "IJBB")
    (tmp_path / "IJBB" / "loose_crop").rename(tmp_path / "IJBB" / "crops")
    with pytest.raises(DataFormatError, match="loose_crop: image folder not found"):
        read(tmp_path / "IJBB")
    other = tmp_path / "IJBB" / "meta" / "pairs.txt"
    other.write_text("1 8 0\n")
    with pytest.raises(DataFormatError, match="pairs.txt: expected an IJB list such as ijbb_template_pair_label.txt"):
        read(other)


def test_the_pair_list_parses_fast_and_exactly(tmp_path):
    """The vectorised read agrees with a plain one on a large list with CRLF ends and a blank line (slow path)."""
    rng = np.random.default_rng(0)
    table = np.stack([rng.integers(1, 190000, 200_000), rng.integers(1, 190000, 200_000),
                      rng.random(200_000) < 0.01], 1).astype(np.int64)
    text = "".join(f"{a} {b} {y}\r\n" for a, b, y in table)
    path = tmp_path / "ijbc_template_pair_label.txt"
    path.write_text(text, newline="")
    p1, p2, same = ijb.read_pairs(path)
    assert np.array_equal(np.stack([p1, p2, same], 1), table)
    cut = text.index("\n", 60) + 1
    path.write_text(text[:cut] + "\r\n" + text[cut:], newline="")  # a blank line somewhere
    assert np.array_equal(np.stack(ijb.read_pairs(path), 1), table)


# --- scoring --------------------------------------------------------------------------------------------------------
def insightface_scores(feats, templates, medias, scores, pairs):
    """ijb_11.py's recipe, as loops: unit features times detector score, the mean within each media of a template,
    summed over the template's media, normalised; the cosine of each template pair."""
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True) * scores[:, None]
    pooled = {}
    for t in np.unique(templates):
        rows = np.flatnonzero(templates == t)
        pooled[t] = sum(unit[rows[medias[rows] == m]].mean(0) for m in np.unique(medias[rows]))
        pooled[t] /= np.linalg.norm(pooled[t])
    return np.array([pooled[a] @ pooled[b] for a, b, _ in pairs])


def test_tar_at_far_of_the_pairset_is_insightfaces_table(tmp_path):
    from sklearn.metrics import roc_curve

    truth = write_set(tmp_path / "IJBB", subjects=12)  # 24 templates: 276 pairs, 12 same, 264 different
    got = read(tmp_path / "IJBB")
    rng = np.random.default_rng(1)
    subject = np.array([truth["subject_of"][t] for t in got.images.labels["template"]])
    feats = rng.normal(size=(12, 8))[subject] + rng.normal(size=(len(got.images), 8))  # TARs well inside (0, 1)
    out = evaluate(got, feats, EvalOptions())
    scores = insightface_scores(feats, truth["tids"], truth["mids"], truth["scores"], truth["pairs"])
    labels = np.array([y for _, _, y in truth["pairs"]])
    fpr, tpr, _ = roc_curve(labels, scores)
    fpr, tpr = fpr[::-1], tpr[::-1]
    m = out["metrics"]
    assert sorted(m) == ["roc_auc", "tar_at_far_1e-1", "tar_at_far_1e-2"]  # 264 negatives resolve 1e-2, not 1e-3
    for key, far in (("tar_at_far_1e-1", 0.1), ("tar_at_far_1e-2", 0.01)):
        assert m[key]["mean"] == pytest.approx(tpr[min(zip(np.abs(fpr - far), range(len(fpr))))[1]])
    from sklearn.metrics import roc_auc_score
    assert m["roc_auc"]["mean"] == pytest.approx(roc_auc_score(labels, scores))
    assert out["pairs"] == 276 and out["positive_pairs"] == 12 and out["negative_pairs"] == 264
    assert out["fars_left_out"] == ["1e-6", "1e-5", "1e-4", "1e-3"] and "no threshold folds" in out["selected_on"]
    assert "reduced" not in out
    unweighted = read(tmp_path / "IJBB", detector_weights=False)
    assert evaluate(unweighted, feats, EvalOptions())["metrics"]["roc_auc"]["mean"] != pytest.approx(m["roc_auc"]["mean"])


def test_many_pairs_of_few_templates_score_by_blocks_of_a_matrix_product(monkeypatch):
    """IJB's pair lists are a large share of all (first, second) template combinations: the blockwise product gives
    the same cosines as gathering each pair's rows."""
    from facessl.evaluate import verification

    monkeypatch.setattr(verification, "PAIR_CHUNK_ELEMENTS", 4000)  # blocks of 10 first templates, chunks of 800 pairs
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(700, 5))
    pairs = np.stack([rng.integers(0, 300, 150_000), rng.integers(300, 700, 150_000)], 1)
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    direct = np.sum(unit[pairs[:, 0]] * unit[pairs[:, 1]], axis=1)
    np.testing.assert_allclose(verification._cosine_blocks(unit, pairs, np.arange(300), np.arange(300, 700)), direct)
    np.testing.assert_allclose(verification.cosine_scores(feats, pairs), direct)
    np.testing.assert_allclose(verification.cosine_scores(feats, pairs[:500]), direct[:500])


def test_the_verification_table_shows_tar_at_far_beside_lfw_accuracy():
    def task(name, metrics, **extra):
        return {"name": name, "task": "verification", "info": {},
                "rows": {"checkpoint": {"fs": {"metrics": {k: {"per_seed": [v], "mean": v, "std": 0.0}
                                                            for k, v in metrics.items()}, **extra}}}}

    lfw = task("lfw", {"accuracy": 0.9, "accuracy_fold_std": 0.01, "roc_auc": 0.95})
    ijbc = task("ijb", {"tar_at_far_1e-2": 0.5, "tar_at_far_1e-1": 0.7, "roc_auc": 0.9},
                fars_left_out=["1e-6", "1e-5", "1e-4", "1e-3"])
    alone = tables.table("verification", [ijbc])
    assert "| model | feature | TAR@FAR=1e-2 | TAR@FAR=1e-1 | AUC |" in alone
    assert "| checkpoint | fs | 50.00 | 70.00 | 90.00 |" in alone
    assert "TAR % at FAR" in alone and "ijb: TAR at FAR 1e-6, 1e-5, 1e-4, 1e-3 left out" in alone
    both = tables.table("verification", [lfw, ijbc])
    assert "| lfw acc | lfw AUC | ijb TAR@FAR=1e-2 | ijb TAR@FAR=1e-1 | ijb AUC |" in both
    assert "| checkpoint | fs | 90.00 ± 1.00 | 95.00 | 50.00 | 70.00 | 90.00 |" in both
    lfw_only = tables.table("verification", [lfw])
    assert lfw_only.startswith("### Face verification (accuracy %, cosine similarity)\n\n| model | feature | acc | AUC |")


def test_eval_cli_reports_tar_at_far(tmp_path, monkeypatch):
    import facessl
    from eval_toys import ToyEncoder
    from facessl.cli import main

    write_set(tmp_path / "IJB_release" / "IJBB", subjects=12)
    write_set(tmp_path / "IJB_release" / "IJBC", prefix="ijbc", subjects=2, seed=5)
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"ijb:{tmp_path / 'IJB_release'}",
                 "--variant", "IJBB", "--reader-option", "max_images_per_template=2", "--out", str(out),
                 "--features", "fs", "--baselines", "none", "--seeds", "1", "--device", "cpu", "--quiet"]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "verification"
    row = task["rows"]["checkpoint"]["fs"]
    assert row["pairs"] == 276 and set(row["metrics"]) == {"tar_at_far_1e-1", "tar_at_far_1e-2", "roc_auc"}
    assert row["metrics"]["roc_auc"]["mean"] > 0.7  # a subject's colour survives the toy encoder
    assert row["reduced"] == {"max_images_per_template": 2}
    md = (out / "results.md").read_text()
    assert "| model | feature | TAR@FAR=1e-2 | TAR@FAR=1e-1 | AUC |" in md
    assert "ijb: reduced protocol (max_images_per_template 2): not comparable" in md
