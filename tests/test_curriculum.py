"""facessl.methods.fabnet_curriculum: the window, its moves on stalls only, its ceiling, and its state."""
import json
import math

import pytest
import torch

from facessl.methods.fabnet_curriculum import Curriculum
from facessl.errors import FacesslError


def test_select_keeps_the_easiest_half_at_first():
    c = Curriculum()
    losses = torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0, 0.0, 7.0, 6.0, 9.0, 8.0])
    assert c.window == (0.0, 0.5)
    assert c.select(losses).item() == pytest.approx((0 + 1 + 2 + 3 + 4) / 5)


def test_selected_samples_alone_get_gradients():
    c = Curriculum(low=0.2, high=0.6)
    x = torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0, 0.0, 7.0, 6.0, 9.0, 8.0], requires_grad=True)
    c.select(x * 1.0).backward()
    kept = {2.0, 3.0, 4.0, 5.0}  # sorted positions 2..5 of 10
    for value, g in zip(x.tolist(), x.grad.tolist()):
        assert g == pytest.approx(0.25 if value in kept else 0.0)


def test_window_moves_only_on_a_stall():
    c = Curriculum(patience=2)
    for v in [1.0, 0.9, 0.8, 0.7]:  # steady improvement: never moves
        assert not c.update(v)
    assert c.window == (0.0, 0.5)
    assert not c.update(0.75)       # one stall: not yet
    assert not c.update(0.65)       # new best resets the count
    assert not c.update(0.66)
    assert c.update(0.70)           # second stall in a row: moves
    assert c.window == (0.1, 0.6)
    assert c.history == [{"check": 8, "low": 0.1, "high": 0.6}]


def test_window_stops_at_its_ceiling():
    c = Curriculum(patience=1)
    windows = []
    for _ in range(20):
        c.update(1.0)  # constant loss: stalls all the time (first call sets the best)
        windows.append(c.window)
    assert windows[-1] == (0.4, 0.9)
    assert sorted(set(windows)) == [(0.0, 0.5), (0.1, 0.6), (0.2, 0.7), (0.3, 0.8), (0.4, 0.9)]
    assert c.at_ceiling and len(c.history) == 4


def test_periods_average_the_observed_values():
    c = Curriculum(patience=1)
    c.observe(2.0)
    c.observe(4.0)
    assert not c.end_period() and c.best == pytest.approx(3.0)
    assert not c.end_period()  # an empty period is not a check
    c.observe(3.5, count=2)
    assert c.end_period() and c.window == (0.1, 0.6)


def test_disabled_curriculum_uses_the_whole_batch_and_never_moves():
    c = Curriculum(enabled=False, patience=1)
    for _ in range(5):
        assert not c.update(1.0)
    assert c.window == (0.0, 1.0)
    assert c.select(torch.tensor([1.0, 3.0])).item() == 2.0


def test_tiny_batches_keep_at_least_one_sample():
    c = Curriculum(low=0.4, high=0.9)
    assert c.bounds(1) == (0, 1) and c.bounds(2) == (0, 1) and c.bounds(10) == (4, 9)


def test_state_round_trip_through_json():
    c = Curriculum(patience=2)
    for v in [1.0, 1.1, 1.2, 0.9, 0.95]:
        c.update(v)
    c.observe(0.5)
    d = Curriculum(patience=2)
    d.load_state_dict(json.loads(json.dumps(c.state_dict())))
    assert d.state_dict() == c.state_dict() and d.window == c.window
    for v in [0.96, 0.97]:
        assert c.update(v) == d.update(v)
    assert d.window == c.window == (0.2, 0.7)
    e = Curriculum()
    e.load_state_dict(Curriculum().state_dict())
    assert math.isinf(e.best)


def test_bad_windows_are_user_errors():
    with pytest.raises(FacesslError):
        Curriculum(low=0.6, high=0.5)
    with pytest.raises(FacesslError):
        Curriculum(high=0.5, max_high=0.4)
