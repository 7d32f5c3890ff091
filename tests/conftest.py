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
