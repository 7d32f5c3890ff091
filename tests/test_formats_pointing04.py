"""Head Pose Image Database (Pointing'04) written here in the layouts it is distributed and unpacked in
(formats/pointing04.py: Person01/person01100-90+0.jpg + .txt face labels, the `personne` spelling, Front/,
per-series folders) with tiny JPEGs, and read back; then `facessl eval` on it end to end."""
import json

import numpy as np
import pytest
from PIL import Image

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data import formats
from facessl.data.formats.common import load_image
from facessl.data.formats.pointing04 import BOX_SCALE, POSES
from facessl.data.image_decode import BoxedImage
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate.suite import FORMAT_TASK, TaskSpec
from test_generic_eval import CLI_FAST

RNG = np.random.default_rng(4)
W, H = 48, 36
CX, CY, BW, BH = 24, 18, 20, 24  # the face box every .txt gives (centre, width, height)
SOME_POSES = (0, 1, 21, 46, 58, 92)  # (tilt, pan): (-90,0) down, (-60,-90), (-30,+15), (0,0), (+15,-15), (+90,0) up


def sign(v):
    return f"+{v}" if v >= 0 else str(v)


def image_name(person, series, number, prefix="person", suffix=".jpg"):
    tilt, pan = POSES[number]
    return f"{prefix}{person}{series}{number:02d}{sign(tilt)}{sign(pan)}{suffix}"


def save(path, level=None):
    """A W x H JPEG: noise, or a colour that codes the pose (red: pan, green: tilt) for the probe."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if level is None:
        pixels = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    else:
        pixels = np.clip(np.array(level, float) + RNG.normal(0, 4, (H, W, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")


def face_label(name, crlf=False, bom=False):
    """The .txt as released: the image name, a blank line, 'Face', centre x, centre y, width, height."""
    text = f"{name}\n\nFace\n{CX}\n{CY}\n{BW}\n{BH}\n"
    text = text.replace("\n", "\r\n") if crlf else text
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def write_person(folder, person, series=(1, 2), numbers=SOME_POSES, prefix="person", suffix=".jpg", labels=True,
                 level=False, crlf=False):
    names = []
    for s in series:
        for n in numbers:
            name = image_name(person, s, n, prefix, suffix)
            tilt, pan = POSES[n]
            save(folder / name, (128 + pan, 128 + tilt, 100) if level else None)
            if labels:
                (folder / name).with_suffix(".txt").write_bytes(face_label(name, crlf=crlf, bom=crlf))
            names.append(name)
    return names


def write_db(root, persons=("01", "02", "03"), **kw):
    """root/Person01/ ... as the crowley-coutaz.fr tarball unpacks."""
    for p in persons:
        write_person(root / f"Person{p}", p, **kw)
    return root


def by_name(got):
    return {str(i).replace("\\", "/").rsplit("/", 1)[-1]: k for k, i in enumerate(got.images)}


# --- layouts --------------------------------------------------------------------------------------------
def test_as_distributed_labels_boxes_and_series_split(tmp_path):
    write_db(tmp_path)
    got = formats.read("pointing04", tmp_path)
    assert len(got) == 3 * 2 * len(SOME_POSES) and got.dropped == {}
    rows = by_name(got)
    k = rows["person02121-30+15.jpg"]  # person 02, series 1, image 21: tilt -30, pan +15
    assert list(got.labels["target"][k]) == [15, -30]  # (yaw, pitch) = (pan, tilt)
    assert list(got.labels["pose"][k]) == [15, -30, 0]
    assert got.labels["subject"][k] == "02" and got.labels["series"][k] == 1 and got.split[k] == "train"
    assert got.labels["pose_class"][k] == 21 and got.meta["pose_class_angles"][21] == [15, -30]
    down = rows["person01200-90+0.jpg"]
    assert list(got.labels["target"][down]) == [0, -90] and got.split[down] == "test"
    assert list(got.labels["target"][rows["person03292+90+0.jpg"]]) == [0, 90]
    assert got.meta["target_columns"] == ["yaw", "pitch"] and "series 1 train, series 2 test" in got.meta["split_from"]
    assert set(got.split[got.labels["series"] == 1]) == {"train"} and set(got.split[got.labels["series"] == 2]) == {"test"}
    assert got.labels["target"].shape == (len(got), 2) and got.meta["faces_from_boxes"] == len(got)
    face = got.images[k]
    assert isinstance(face, BoxedImage)
    half_w, half_h = BOX_SCALE * BW / 2, BOX_SCALE * BH / 2
    np.testing.assert_allclose(face.box, (CX - half_w, CY - half_h, CX + half_w, CY + half_h))


def test_the_crop_is_the_grown_face_box(tmp_path):
    folder = tmp_path / "Person01"
    names = write_person(folder, "01", series=(1,), numbers=(46,))
    pixels = np.zeros((H, W, 3), np.uint8)
    pixels[:, :] = (0, 0, 255)
    pixels[CY - BH // 2: CY + BH // 2, CX - BW // 2: CX + BW // 2] = (255, 0, 0)  # the face box red
    Image.fromarray(pixels).save(folder / names[0], format="PNG")  # PNG bytes under .jpg: exact colours
    crop = load_image(formats.read("pointing04", tmp_path).images[0])
    side = int(round(BOX_SCALE * BH))
    assert crop.shape == (side, side, 3)
    assert tuple(crop[side // 2, side // 2]) == (255, 0, 0) and tuple(crop[0, side // 2]) == (0, 0, 255)


@pytest.mark.parametrize("layout", ["wrapper", "wrapper-lower-nested", "figshare-personne", "per-series", "one-person",
                                    "upper-suffix"])
def test_unpacked_variants_read_alike(tmp_path, layout):
    db = tmp_path
    if layout == "wrapper":
        db = write_db(tmp_path / "HeadPoseImageDatabase")
    elif layout == "wrapper-lower-nested":
        db = write_db(tmp_path / "headposeimagedatabase" / "headposeimagedatabase")
    elif layout == "figshare-personne":  # figshare's Personne01/personne01122-30+30.jpg
        for p in ("01", "02", "03"):
            write_person(tmp_path / f"Personne{p}", p, prefix="personne")
    elif layout == "per-series":  # the workshop's Person05-2.tar.gz, one series each
        for p in ("01", "02", "03"):
            for s in (1, 2):
                write_person(tmp_path / f"Person{p}-{s}" / f"Personne{p}", p, series=(s,), prefix="personne")
    elif layout == "one-person":
        write_person(tmp_path, "02")
    else:
        write_db(tmp_path, suffix=".JPG")
    if layout != "one-person":
        save(db / "extras" / "snapshot.jpg")  # beside the person folders: not theirs, not walked
    got = formats.read("pointing04", tmp_path)
    persons = 1 if layout == "one-person" else 3
    assert len(got) == persons * 2 * len(SOME_POSES) and got.dropped == {}
    assert got.meta["faces_from_boxes"] == len(got) and set(got.split) == {"train", "test"}
    assert sorted(set(got.labels["subject"])) == (["02"] if layout == "one-person" else ["01", "02", "03"])
    assert sorted(map(tuple, got.labels["target"].tolist()))[:2 * persons] == [(-90.0, -60.0)] * 2 * persons


def test_front_copies_duplicates_and_stray_names_are_skipped_and_counted(tmp_path):
    write_db(tmp_path)
    front = tmp_path / "Front"
    for p in ("01", "02", "03"):
        for s in (1, 2):
            save(front / image_name(p, s, 46, prefix="personne"))  # personne01146+0+0.jpg
    write_person(tmp_path / "Person01" / "copy", "01", series=(1,), numbers=(46, 58), prefix="personne")
    for stray in ("readme.jpg", "person01100-45+0.jpg", "person01393+0+0.jpg", "person16100-90+0x.jpg"):
        save(tmp_path / "Person01" / stray)
    save(tmp_path / "Person01" / "__MACOSX" / "._x.jpg")
    got = formats.read("pointing04", tmp_path)
    assert len(got) == 3 * 2 * len(SOME_POSES)
    assert got.dropped == {"file name not in the Pointing'04 form": 4, "Front/ copy of a series' frontal image": 6,
                           "same person, series and angles already read": 2}
    assert set(got.meta["unrecognised_files"]) == {"readme.jpg", "person01100-45+0.jpg", "person01393+0+0.jpg",
                                                   "person16100-90+0x.jpg"}
    # a flat copy (every image in one folder) with Front/ inside it: Front/ still counted, not read
    flat = tmp_path / "flat"
    write_person(flat, "01")
    save(flat / "Front" / image_name("01", 1, 46, prefix="personne"))
    got = formats.read("pointing04", flat)
    assert len(got) == 2 * len(SOME_POSES) and got.dropped == {"Front/ copy of a series' frontal image": 1}


def test_crlf_bom_labels_and_images_without_a_label(tmp_path):
    write_db(tmp_path, persons=("01",), crlf=True)
    write_person(tmp_path / "Person02", "02", labels=False)
    got = formats.read("pointing04", tmp_path)
    boxed = np.array([isinstance(i, BoxedImage) for i in got.images])
    assert boxed.sum() == 2 * len(SOME_POSES) and set(got.labels["subject"][boxed]) == {"01"}
    assert got.meta["faces_from_boxes"] == 2 * len(SOME_POSES) and got.meta["whole_images"] == 2 * len(SOME_POSES)
    whole = got.images[int(np.flatnonzero(~boxed)[0])]
    assert load_image(whole).shape == (H, W, 3)  # the whole photo
    np.testing.assert_allclose(got.images[0].box[0], CX - BOX_SCALE * BW / 2)
    # a label without the blank line and with everything on one line (the browsing code reads tokens)
    label = tmp_path / "Person01" / image_name("01", 1, 0).replace(".jpg", ".txt")
    label.write_text(f"{image_name('01', 1, 0)} Face {CX} {CY} {BW} {BH}\n")
    assert formats.read("pointing04", tmp_path).images[0].box == got.images[0].box


def test_person_split_keeps_each_person_on_one_side(tmp_path):
    write_db(tmp_path, persons=tuple(f"{i:02d}" for i in range(1, 11)), numbers=(0, 46))
    got = formats.read("pointing04", tmp_path, split="Person")
    subject, split = got.labels["subject"], got.split
    assert all(len(set(split[subject == s])) == 1 for s in set(subject))
    assert sum(set(split[subject == s]) == {"test"} for s in set(subject)) == 2  # 20 % of 10 people
    assert got.meta["split"] == "person" and "grouped by person" in got.meta["split_from"]
    again = formats.read("pointing04", tmp_path, split="person", seed=0)
    assert list(again.split) == list(split)
    bigger = formats.read("pointing04", tmp_path, split="person", test_fraction=0.5)
    assert sum(set(bigger.split[subject == s]) == {"test"} for s in set(subject)) == 5
    assert formats.read("pointing04", tmp_path, box_scale="1.5").images[0].box[2] == CX + 1.5 * BW / 2


# --- errors ---------------------------------------------------------------------------------------------
def test_errors_are_one_line_and_name_the_file(tmp_path):
    with pytest.raises(DataFormatError, match=r"nowhere: Pointing'04 not found: expected Person01/person01100-90\+0.jpg"):
        formats.read("pointing04", tmp_path / "nowhere")
    save(tmp_path / "empty" / "Person01" / "holiday.jpg")
    with pytest.raises(DataFormatError, match=r"empty: no Pointing'04 images found: 1 image file\(s\) not named like "
                                              r"person01100-90\+0.jpg \(e.g. holiday.jpg\)"):
        formats.read("pointing04", tmp_path / "empty")
    write_db(tmp_path / "db", persons=("01",))
    label = tmp_path / "db" / "Person01" / image_name("01", 1, 21).replace(".jpg", ".txt")
    cases = [(f"{label.stem}.jpg\n\nFce\n24\n18\n20\n24\n", r"\.txt:7: expected the image name, 'Face', .* \(no 'Face' found\)"),
             (f"{label.stem}.jpg\n\nFace\n24\n18\n20\n", r"\.txt:6: expected .*the file ends after 3 number\(s\)"),
             (f"{label.stem}.jpg\n\nFace\n24\neighteen\n20\n24\n", r"\.txt:5: expected a face box number, got 'eighteen'"),
             (f"{label.stem}.jpg\n\nFace\n24\n18\n0\n24\n", r"\.txt:6: expected a face box of positive size, got 0 x 24"),
             ("", r"person01121-30\+15\.txt: expected .* \(no 'Face' found\)")]
    for text, message in cases:
        label.write_text(text)
        with pytest.raises(DataFormatError, match=message) as caught:
            formats.read("pointing04", tmp_path / "db")
        assert "\n" not in str(caught.value) and str(label) in str(caught.value)
    label.write_bytes(b"\xff\xfe Face")
    with pytest.raises(DataFormatError, match="is not UTF-8 text"):
        formats.read("pointing04", tmp_path / "db")
    with pytest.raises(FacesslError, match="pointing04 split 'folds': expected one of series, person"):
        formats.read("pointing04", tmp_path / "db", split="folds")
    with pytest.raises(FacesslError, match="pointing04 box_scale 0: expected a number > 0"):
        formats.read("pointing04", tmp_path / "db", box_scale=0)


# --- task and end to end --------------------------------------------------------------------------------
def test_the_format_is_a_regression_task():
    assert FORMAT_TASK["pointing04"] == "regression"
    assert TaskSpec("", "pointing04:P").task == "regression"


@pytest.fixture
def toy_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    return tmp_path / "run"


def test_eval_cli_regresses_yaw_and_pitch(tmp_path, toy_checkpoint):
    write_db(tmp_path / "HeadPoseImageDatabase", persons=("01", "02", "03", "04"), numbers=range(0, 93, 2), level=True)
    save(tmp_path / "HeadPoseImageDatabase" / "Person01" / "notes.jpg")
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(toy_checkpoint), "--dataset", f"pointing04:{tmp_path}",
                 "--out", str(out), *CLI_FAST]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"][0]
    assert task["task"] == "regression" and task["info"]["columns"] == ["yaw", "pitch"]
    assert task["info"]["dropped"] == {"file name not in the Pointing'04 form": 1}
    assert task["info"]["test_rows"] == 4 * 47 and task["info"]["train_rows"] + task["info"]["val_rows"] == 4 * 47
    assert "series 1 train, series 2 test" in task["info"]["split"]
    metrics = task["rows"]["checkpoint"]["fs"]["metrics"]
    floor = task["rows"]["floor"]["mean prediction"]["metrics"]
    for column in ("mae_yaw", "mae_pitch"):  # the colour codes both angles: the probe beats the mean
        assert metrics[column]["mean"] < floor[column]["mean"]
    md = (out / "results.md").read_text()
    assert "| model | feature | yaw | pitch | MAE |" in md
