"""Budgets in encoder passes: each strategy's ticks from one budget, and the
passes a finished run made, from its counters."""

import pytest

from espnet_bljust.experiments.argv import REPO
from espnet_bljust.experiments.budget import (
    joint_tick_passes,
    passes_from_counters,
    plan_for_budget,
)
from espnet_bljust.experiments.protocol import load_protocol

PROTOCOL = REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "protocol.yaml"


def test_a_joint_tick_costs_its_passes():
    assert joint_tick_passes("bljust") == 3  # lower, f, g
    assert joint_tick_passes("bljust", lower_steps_per_upper=2) == 4
    assert joint_tick_passes("just") == 2
    assert joint_tick_passes("bljust", upper_unsup_source="labeled_shared") == 2
    # g on a second, masked pass over the labeled batch: a pass of its own
    assert joint_tick_passes("bljust", upper_unsup_source="labeled") == 3
    assert joint_tick_passes("just", upper_unsup_source="labeled") == 2
    assert joint_tick_passes("supervised") == 1


def test_every_run_of_the_protocol_gets_the_same_compute():
    """Every trial of every strategy under the committed protocol: planned
    passes within 5% of the budget (so of each other)."""
    protocol = load_protocol(PROTOCOL)
    budget = protocol.raw["budget"]
    passes = {}
    for strategy in protocol.strategies:
        for trial in protocol.trials(strategy):
            plan = plan_for_budget(strategy, budget["passes"], budget["epochs"],
                                   trial.exploration_frac, trial.finetune_frac,
                                   trial.lower_steps_per_upper,
                                   protocol.raw["upper_unsup_source"])  # fmt: skip
            passes[trial.name] = plan.passes
            assert plan.passes_per_epoch()[-1] == plan.passes
    assert max(passes.values()) / min(passes.values()) <= 1.05, passes
    assert abs(passes["bljust_t0"] - budget["passes"]) <= 0.05 * budget["passes"]
    # the ticks differ: bljust's joint ticks cost 3 passes, supervised's 1
    bl = plan_for_budget("bljust", budget["passes"], budget["epochs"], 0.2)
    sup = plan_for_budget("supervised", budget["passes"], budget["epochs"])
    assert bl.ticks < sup.ticks == budget["passes"]


def test_plan_lays_the_phases_out_over_the_epochs():
    plan = plan_for_budget("bljust", 100, 4, exploration_frac=0.2, finetune_frac=0.1)
    assert plan.finetune == 10 and abs(plan.exploration - 20) <= 3
    assert plan.ticks == plan.exploration + plan.joint + plan.finetune
    assert plan.ticks % 4 == 0 and abs(plan.passes - 100) <= 1  # within half a joint tick
    # cumulative passes: exploration ticks cost 1, joint ticks 3, fine-tune ticks 1
    n1 = plan.exploration
    assert plan.passes_after(n1) == n1 and plan.passes_after(n1 + 1) == n1 + 3
    assert plan.passes_after(plan.ticks - 1) == plan.passes - 1
    pt_ft = plan_for_budget("pt_ft", 100, 4, exploration_frac=0.6)
    assert (pt_ft.exploration, pt_ft.joint, pt_ft.ticks, pt_ft.passes) == (60, 0, 100, 100)
    # a tiny budget too: every strategy within a pass of it
    for strategy, k in (("supervised", 1), ("just", 1), ("bljust", 1), ("bljust", 2)):
        assert abs(plan_for_budget(strategy, 40, 2, 0.2, 0, k).passes - 40) <= 1
    with pytest.raises(ValueError, match="cannot fill 4 epochs"):
        plan_for_budget("just", 3, 4)


def test_passes_from_counters():
    counters = dict(lower_steps=50, upper_steps=40, skipped_steps=1, joint_upper_steps=30)
    assert passes_from_counters(counters, "bljust") == 121
    assert passes_from_counters(counters, "bljust", "labeled_shared") == 91
    assert passes_from_counters(counters, "bljust", "labeled") == 121
    assert passes_from_counters(dict(counters, joint_upper_steps=0), "supervised") == 91
