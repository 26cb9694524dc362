import pytest

from espnet_bljust.bilevel.penalty_schedule import PenaltySchedule
from espnet_bljust.bilevel.strategy import (
    STRATEGIES,
    STRATEGY_NAMES,
    Phase,
    Strategy,
    get_strategy,
)

E, J, F = Phase.EXPLORATION, Phase.JOINT, Phase.FINETUNE


def test_each_strategy_owns_its_phases():
    assert STRATEGY_NAMES == ("supervised", "pt_ft", "just", "bljust")
    assert get_strategy("supervised").phases == (F,)
    assert get_strategy("pt_ft").phases == (E, F)
    assert get_strategy("just").phases == get_strategy("bljust").phases == (E, J, F)
    assert [s.has_joint_phase for s in STRATEGIES.values()] == [False, False, True, True]
    assert [s.lower_steps_in_joint for s in STRATEGIES.values()] == [False, False, False, True]
    assert [s.label for s in STRATEGIES.values()] == ["supervised", "PT+FT", "JUST", "BL-JUST"]


@pytest.mark.parametrize(
    "name, source, exploration_len, needed",
    [
        ("supervised", "unlabeled", 3, False),
        ("pt_ft", "labeled", 1, True),
        ("just", "unlabeled", 0, True),  # the penalty's g on unlabeled batches
        ("just", "labeled_shared", 0, False),
        ("just", "labeled", 2, True),  # exploration reads unlabeled speech
        ("bljust", "labeled_shared", 0, True),  # the lower steps do
    ],
)
def test_which_runs_read_the_unlabeled_stream(name, source, exploration_len, needed):
    assert get_strategy(name).needs_unlabeled_stream(source, exploration_len) is needed


def test_joint_step_weights():
    schedule = PenaltySchedule(0.5, 4.0, "linear", ramp_steps=7)
    bljust = get_strategy("bljust")
    assert bljust.joint_weight(schedule, 0, 0.3, True) == (0.5, 1.0)
    assert bljust.joint_weight(schedule, 7, 0.3, True) == (4.0, 0.25)  # PBGD: 1/gamma
    assert bljust.joint_weight(schedule, 7, 0.3, False) == (4.0, 1.0)
    assert get_strategy("just").joint_weight(schedule, 7, 0.3, True) == (0.3, 1.0)
    with pytest.raises(ValueError, match="no joint phase"):
        get_strategy("pt_ft").joint_weight(schedule, 0, 0.3, True)


def test_errors():
    with pytest.raises(ValueError, match="strategy must be one of"):
        get_strategy("bilevel")
    with pytest.raises(ValueError, match="exploration_len > 0"):
        get_strategy("pt_ft").check_phase_lengths(0)
    get_strategy("bljust").check_phase_lengths(0)
    with pytest.raises(ValueError, match="weighting"):
        Strategy("x", "X", (E, J), lower_steps_in_joint=True, weighting=None, summary="")
    with pytest.raises(ValueError, match="weighting"):
        Strategy("x", "X", (F,), lower_steps_in_joint=False, weighting="fixed", summary="")
