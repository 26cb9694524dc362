"""A step that cannot poison the model: buffers restored, bad updates rolled back."""

import itertools
import logging

import torch

from espnet_bljust.bilevel.penalty_schedule import PenaltySchedule
from espnet_bljust.bilevel.phases import Phase
from espnet_bljust.train.bljust_trainer import UPPER, BLJUSTTrainer
from espnet_bljust.train.step_guard import nonfinite_max, nonfinite_utterances

from asr.test_bljust_model import fsdd_batch
from train.test_bljust_trainer import runner  # noqa: F401 (fixture)


def nan_stream():
    """Batches whose second utterance holds NaN samples."""
    batch = fsdd_batch()
    batch["speech"][1, 100:200] = float("nan")
    return itertools.repeat((["clean", "poisoned"], batch))


def model_buffers(runner):  # noqa: F811
    return {n: b.clone() for n, b in runner.core.named_buffers() if "running" in n}


def test_fused_check_and_utterance_ids():
    assert not nonfinite_max([torch.ones(3), torch.zeros(2, 2), torch.arange(3)])
    assert nonfinite_max([torch.ones(3), torch.tensor([1.0, float("inf")])])
    assert nonfinite_max([torch.tensor([float("nan")])])
    batch = {"speech": torch.zeros(3, 5), "speech_lengths": torch.tensor([5, 5, 5])}
    batch["speech"][2, 1] = float("-inf")
    assert nonfinite_utterances(["a", "b", "c"], batch) == ["c"]


def test_nan_input_leaves_the_batchnorm_statistics_alone(runner, caplog):  # noqa: F811
    before = model_buffers(runner)
    assert any("conv_module.norm.running_mean" in n for n in before)
    with caplog.at_level(logging.WARNING):
        ok, _ = runner.supervised_step(nan_stream())
    assert not ok and runner.state["skipped_steps"] == 1
    assert "non-finite samples (NaN/Inf) in utterance(s) ['poisoned']" in caplog.text
    for name, value in model_buffers(runner).items():
        assert torch.equal(value, before[name]), name  # without the guard: NaN


def test_update_that_writes_nan_is_rolled_back(runner):  # noqa: F811
    """A corrupted optimizer moment (as from flipped checkpoint bytes) would put NaN
    into the weights although the gradient is finite."""
    good = itertools.repeat((["a", "b"], fsdd_batch()))
    assert runner.supervised_step(good)[0]
    optimizer = runner.optimizers[UPPER]
    param = runner.theta[0]
    optimizer.state[param]["exp_avg_sq"].fill_(-3.9e11)
    params = {n: p.clone() for n, p in runner.core.named_parameters()}
    state = {k: v.clone() for k, v in optimizer.state[param].items()}
    buffers = model_buffers(runner)
    ok, stats = runner.supervised_step(good)
    assert not ok and runner.state["skipped_steps"] == 1 and runner.state["upper_steps"] == 1
    assert torch.isfinite(torch.tensor(stats["grad_norm"]))
    for name, value in runner.core.named_parameters():
        assert torch.equal(value, params[name]), name
    for key, value in optimizer.state[param].items():
        assert torch.equal(value, state[key]), key
    for name, value in model_buffers(runner).items():
        assert torch.equal(value, buffers[name]), name


def test_a_skipped_upper_step_does_not_advance_gamma(runner):  # noqa: F811
    runner.options.strategy = "bljust"
    runner.options.upper_unsup_source = "labeled_shared"
    runner.options.lower_steps_per_upper = 1
    schedule = PenaltySchedule(0.1, 1.0, "linear", 10)
    good = itertools.repeat((["a", "b"], fsdd_batch()))
    BLJUSTTrainer._one_tick(runner, Phase.JOINT, good, good, schedule, runner.options)
    assert runner.state["joint_upper_steps"] == 1
    BLJUSTTrainer._one_tick(runner, Phase.JOINT, nan_stream(), good, schedule, runner.options)
    assert runner.state["joint_upper_steps"] == 1 and runner.state["skipped_steps"] == 1


def test_the_copies_are_dropped_once_the_step_is_checked(runner):  # noqa: F811
    """The parameter and optimizer-state copies of a taken step live only around
    optimizer.step(): no reference to them is left for the next step's passes.
    (A rolled-back step puts them back into the model and the optimizer.)"""
    import gc
    import weakref

    guard, clones = runner.guard, []
    original = guard.before_update

    def remembering(optimizer, params):
        original(optimizer, params)
        clones.extend(weakref.ref(t) for t in guard._saved_params)
        clones.extend(weakref.ref(v) for state in guard._saved_state.values() if state
                      for v in state.values() if torch.is_tensor(v))  # fmt: skip

    guard.before_update = remembering
    good = itertools.repeat((["a", "b"], fsdd_batch()))
    for _ in range(2):  # the second step copies the Adam moments too
        assert runner.supervised_step(good)[0]
    assert len(clones) > len(runner.theta)
    gc.collect()
    assert [c for c in clones if c() is not None] == []
