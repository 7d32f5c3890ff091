"""Test-session setup, at one place for every test module.

- OpenMP threads sleep instead of spinning when idle (set before torch loads): on a shared 2-core
  machine spinning made small steps many times slower.
- Every model in the tests is tiny: one torch thread is faster than two and immune to contention.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def clip_sources(tmp_path_factory):
    """({'a', 'b'}: two 10-frame clips of two synthetic people, the crop cache holding their faces at frames=2,
    size=32): the video-set readers' tests link these under their sets' names (the cache is keyed by real path)."""
    from facessl.data.formats.videoclips import Clip, cache_root, crop_settings, find_faces
    from prepare_fixtures import write_video

    folder = tmp_path_factory.mktemp("clip_sources")
    videos = {"a": write_video(folder / "a.mp4", frames=10, seed=0),
              "b": write_video(folder / "b.mp4", frames=10, seed=3)}
    cache = folder / "cache"
    find_faces([Clip(p, "x", "x") for p in videos.values()], crop_settings("test", frames=2, size=32),
               cache_root(cache), 1, "test")
    return videos, cache


@pytest.fixture
def fast_clips(clip_sources, tmp_path, monkeypatch):
    """Reader options that find the faces of clip_sources' links in their cache, in this process."""
    monkeypatch.setenv("FACESSL_CACHE", str(tmp_path / "env_cache"))  # never ~/.cache
    return dict(frames=2, size=32, workers=1, cache=str(clip_sources[1]))
