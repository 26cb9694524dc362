import math

import pytest

from espnet_bljust.bilevel.penalty_schedule import PenaltySchedule


def test_linear_cosine_exponential_constant_values():
    lin = PenaltySchedule(0.1, 1.1, "linear", ramp_steps=10)
    assert lin(0) == pytest.approx(0.1)
    assert lin(5) == pytest.approx(0.6)
    assert lin(10) == pytest.approx(1.1) and lin(1000) == pytest.approx(1.1)
    cos = PenaltySchedule(0.0, 2.0, "cosine", ramp_steps=4)
    assert [cos(s) for s in (0, 2, 4)] == pytest.approx([0.0, 1.0, 2.0])
    assert cos(1) == pytest.approx(1.0 - math.cos(math.pi / 4))
    exp = PenaltySchedule(0.01, 1.0, "exponential", ramp_steps=2)
    assert [exp(s) for s in (0, 1, 2)] == pytest.approx([0.01, 0.1, 1.0])
    assert PenaltySchedule(0.1, 3.0, "constant")(0) == 3.0


def test_schedule_is_monotone():
    for shape in ("linear", "cosine", "exponential"):
        sched = PenaltySchedule(0.05, 5.0, shape, ramp_steps=50)
        values = [sched(s) for s in range(60)]
        assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))


def test_pbgd_step_scale():
    assert PenaltySchedule.step_scale(0.5) == 1.0
    assert PenaltySchedule.step_scale(1.0) == 1.0
    assert PenaltySchedule.step_scale(4.0) == 0.25


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(gamma_init=0.1, gamma_max=1.0, shape="quadratic"), "gamma shape must be one of"),
        (dict(gamma_init=0.0, gamma_max=1.0, shape="exponential"), "needs gamma_init > 0"),
        (dict(gamma_init=-1.0, gamma_max=1.0), r"non-negative: init=-1.0, max=1.0"),
        (dict(gamma_init=0.1, gamma_max=1.0, ramp_steps=0), "ramp_steps must be >= 1, got 0"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PenaltySchedule(**kwargs)
