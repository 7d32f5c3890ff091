"""`facessl embed` in parts: a stopped run resumes at its first missing part, damaged images are left out of their
part, and parts of another job are not reused."""
import numpy as np
import pytest

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.evaluate import embed_parts
from facessl.evaluate.features import FeatureSource
from test_generic_embed import png


@pytest.fixture
def seven_photos(tmp_path, monkeypatch):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    monkeypatch.setattr(embed_parts, "PART_ROWS", 2)  # 4 parts
    (tmp_path / "run").mkdir()
    for i in range(7):
        png(tmp_path / "imgs" / f"{i}.png", 30 * i)
    return tmp_path


def embed(root, out="f.npy", *extra):
    return main(["embed", "--checkpoint", str(root / "run"), "--images", str(root / "imgs"), "--out", str(root / out),
                 "--device", "cpu", *extra])


def test_a_stopped_embedding_resumes_at_its_first_missing_part(seven_photos, monkeypatch, capsys):
    assert embed(seven_photos, "whole.npy") == 0
    whole = np.load(seven_photos / "whole.npy")
    assert not (seven_photos / "whole.npy.parts").exists()  # written whole: its parts are gone
    computed = []
    real = FeatureSource.features

    def stop_in_the_third_part(self, imageset):
        computed.append(len(imageset))
        if len(computed) == 3:
            raise KeyboardInterrupt
        return real(self, imageset)

    monkeypatch.setattr(FeatureSource, "features", stop_in_the_third_part)
    assert embed(seven_photos) == 130  # Ctrl-C: "interrupted; rerun the same command to resume"
    assert not (seven_photos / "f.npy").exists() and len(list((seven_photos / "f.npy.parts").glob("*.npz"))) == 2
    monkeypatch.setattr(FeatureSource, "features", lambda self, imageset: computed.append(len(imageset))
                        or real(self, imageset))
    capsys.readouterr()
    assert embed(seven_photos) == 0
    assert computed == [2, 2, 2, 2, 1]  # the two parts done before the stop are not computed again
    assert "resuming: 2 of 4 parts" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(seven_photos / "f.npy"), whole)
    assert (seven_photos / "f.txt").read_text().split() == [f"{i}.png" for i in range(7)]


def test_progress_lines_for_a_long_job(seven_photos, monkeypatch, capsys):
    monkeypatch.setattr(embed_parts, "PROGRESS_SECONDS", -1)  # a line after every part but the last
    assert embed(seven_photos) == 0
    printed = capsys.readouterr().out
    assert [line.split(" (")[0] for line in printed.splitlines() if line.startswith("embedded")] == [
        "embedded 2 of 7 images", "embedded 4 of 7 images", "embedded 6 of 7 images"]


def test_parts_of_another_job_are_not_reused(seven_photos, capsys):
    parts = seven_photos / "f.npy.parts"
    parts.mkdir()
    (parts / "job.json").write_text('{"weights": "another checkpoint"}')
    (parts / "000000.npz").write_bytes(b"not these features")
    assert embed(seven_photos) == 0
    assert "parts of another job" in capsys.readouterr().out and np.load(seven_photos / "f.npy").shape[0] == 7


def test_a_damaged_photo_is_left_out_of_its_part(seven_photos, capsys):
    (seven_photos / "imgs" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    (seven_photos / "imgs" / "2.png").write_bytes(b"")
    assert embed(seven_photos) == 0
    assert "skipped 2 image(s) that do not decode: 2.png, 3.png" in capsys.readouterr().out
    names = (seven_photos / "f.txt").read_text().split()
    assert names == ["0.png", "1.png", "4.png", "5.png", "6.png"] and np.load(seven_photos / "f.npy").shape[0] == 5
