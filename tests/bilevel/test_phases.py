import pytest

from espnet_bljust.bilevel.phases import Phase, PhasePlan
from espnet_bljust.bilevel.strategy import STRATEGIES

E, J, F = Phase.EXPLORATION, Phase.JOINT, Phase.FINETUNE


def test_bljust_epoch_plan_with_open_joint_phase():
    plan = PhasePlan(STRATEGIES["bljust"], "epoch", exploration_len=2, joint_len=-1, finetune_len=1, total=6)
    assert plan.joint_len == 3
    assert [plan.phase(e, 0) for e in range(1, 8)] == [E, E, J, J, J, F, F]


def test_step_unit_ignores_epochs():
    plan = PhasePlan(STRATEGIES["just"], "step", exploration_len=3, joint_len=2, finetune_len=0)
    assert [plan.phase(1, t) for t in range(7)] == [E, E, E, J, J, F, F]


def test_baselines():
    supervised = PhasePlan(STRATEGIES["supervised"], exploration_len=5, total=9)
    assert {supervised.phase(e, 0) for e in range(1, 10)} == {F}
    assert supervised.joint_length() == 0
    pt = PhasePlan(STRATEGIES["pt_ft"], "epoch", exploration_len=2, joint_len=5, total=9)
    assert [pt.phase(e, 0) for e in range(1, 6)] == [E, E, F, F, F]
    assert pt.joint_length() == 0


def test_errors():
    with pytest.raises(ValueError, match="exploration_len > 0"):
        PhasePlan(STRATEGIES["pt_ft"], total=3)
    with pytest.raises(ValueError, match="num_iters_per_epoch"):
        PhasePlan(STRATEGIES["bljust"], "step", joint_len=-1, total=None)
    with pytest.raises(ValueError, match="phase unit"):
        PhasePlan(STRATEGIES["bljust"], "minute", total=3)
