import logging

import pytest

from espnet_bljust.bilevel import phases
from espnet_bljust.bilevel.phases import Phase, PhasePlan, phase_unit
from espnet_bljust.bilevel.strategy import STRATEGIES

E, J, F = Phase.EXPLORATION, Phase.JOINT, Phase.FINETUNE


def test_bljust_epoch_plan_with_open_joint_phase():
    plan = PhasePlan(STRATEGIES["bljust"], "epoch", exploration_len=2, joint_len=-1, finetune_len=1, total=6)
    assert plan.joint_len == 3
    assert [plan.phase(e, 0) for e in range(1, 8)] == [E, E, J, J, J, F, F]


def test_tick_unit_ignores_epochs():
    plan = PhasePlan(STRATEGIES["just"], "tick", exploration_len=3, joint_len=2, finetune_len=0)
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
        PhasePlan(STRATEGIES["bljust"], "tick", joint_len=-1, total=None)
    with pytest.raises(ValueError, match="phase unit"):
        PhasePlan(STRATEGIES["bljust"], "minute", total=3)


def test_the_older_unit_name_still_works_with_one_deprecation_line(caplog, monkeypatch):
    monkeypatch.setattr(phases, "_warned", set())
    assert phase_unit("tick") == "tick" and phase_unit("epoch") == "epoch"
    with caplog.at_level(logging.WARNING):
        assert phase_unit("step") == "tick"
        assert phase_unit("step") == "tick"  # parsed again: no second line
    (record,) = caplog.records
    assert "--phase_unit step is deprecated" in record.getMessage()
    assert "--phase_unit tick" in record.getMessage()
