"""The step runner: which parameters each level's step may touch."""

import itertools

import numpy as np
import pytest
import torch

from espnet_bljust.tasks.bljust import BLJUSTTask
from espnet_bljust.train.bljust_trainer import BLJUSTTrainer
from espnet_bljust.train.step_runner import StepRunner, scaled_lr

from asr.test_bljust_model import fsdd_batch, tiny_args


@pytest.fixture()
def runner(tmp_path):
    torch.manual_seed(0)
    args = tiny_args(tmp_path, "--output_dir", str(tmp_path / "exp"), "--accum_grad", "2")
    model = BLJUSTTask.build_model(args)
    optimizers = BLJUSTTask.build_optimizers(args, model)
    options = BLJUSTTrainer.build_options(args)
    return StepRunner(model, optimizers, [None, None], None, options, "cpu")


def stream():
    return itertools.repeat((["a", "b"], fsdd_batch()))


def snapshot(params):
    return [p.detach().clone() for p in params]


def changed(before, params):
    return [not torch.equal(b, p) for b, p in zip(before, params)]


def test_lower_step_never_touches_phi_and_finetune_never_touches_eta(runner):
    groups = runner.core.parameter_groups()
    theta, phi, eta = groups["shared"], groups["supervised"], groups["unsupervised"]

    # an upper step first, so that eta and phi have optimizer momentum
    ok, stats = runner.upper_step(stream(), stream(), weight=0.5, lr_scale=1.0, cosine=True)
    assert ok and np.isfinite(float(stats["grad_cos"]))  # its value: test_split_backward

    before_phi, before_theta, before_eta = snapshot(phi), snapshot(theta), snapshot(eta)
    ok, _ = runner.lower_step(stream())
    assert ok
    assert not any(changed(before_phi, phi)), "the lower step moved phi"
    assert any(changed(before_theta, theta)) and any(changed(before_eta, eta))

    before_eta, before_phi = snapshot(eta), snapshot(phi)
    ok, _ = runner.supervised_step(stream())
    assert ok
    assert not any(changed(before_eta, eta)), "the supervised step moved eta"
    assert any(changed(before_phi, phi))
    state = runner.state
    assert (state["lower_steps"], state["upper_steps"]) == (1, 2)


def test_upper_step_with_zero_penalty_leaves_eta_alone(runner):
    """With g on a separate unlabeled batch and gamma = 0, eta's gradient is
    exactly zero and Adam's first step leaves it where it was. (With the
    default labeled_shared pass the mask embedding is part of f's input too.)"""
    runner.options.upper_unsup_source = "unlabeled"
    eta = runner.core.parameter_groups()["unsupervised"]
    before = snapshot(eta)
    runner.upper_step(stream(), stream(), weight=0.0, lr_scale=1.0, cosine=False)
    assert not any(changed(before, eta))


def test_non_finite_gradient_skips_the_step(runner):
    theta = runner.core.parameter_groups()["shared"]
    before = snapshot(theta)

    def bad():
        loss, stats, _ = runner.model(**fsdd_batch(), objective="supervised")
        return loss * float("nan"), stats

    ok, stats = runner.step(0, bad)
    assert not ok and runner.state["skipped_steps"] == 1
    assert not any(changed(before, theta))
    runner.options.max_nonfinite_steps = 2
    with pytest.raises(RuntimeError, match="consecutive steps"):
        runner.step(0, bad)


def test_non_finite_lower_step_is_skipped_and_a_good_step_resets_the_streak(runner):
    eta = runner.core.parameter_groups()["unsupervised"]
    before = snapshot(eta)

    def bad():
        loss, stats, _ = runner.model(**fsdd_batch(), objective="unsupervised")
        return loss * float("inf"), stats

    ok, _ = runner.step(1, bad)
    assert not ok and runner.state["nonfinite_streak"] == 1
    assert not any(changed(before, eta)) and runner.state["lower_steps"] == 0
    ok, _ = runner.lower_step(stream())
    assert ok and runner.state["nonfinite_streak"] == 0
    assert runner.state["skipped_steps"] == 1 and runner.state["lower_steps"] == 1


def test_scaled_lr_restores_the_learning_rate():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    with scaled_lr(opt, 0.25):
        assert opt.param_groups[0]["lr"] == 0.125
    assert opt.param_groups[0]["lr"] == 0.5


def test_amp_steps_run_the_forward_in_bfloat16_on_cpu(tmp_path):
    """--use_amp on CPU: forward under bf16 autocast, fp32 master weights,
    espnet2's own GradScaler (disabled without CUDA) in the step."""
    from espnet2.train.trainer import GradScaler

    torch.manual_seed(0)
    args = tiny_args(tmp_path, "--output_dir", str(tmp_path / "exp"), "--use_amp", "true")
    model = BLJUSTTask.build_model(args)
    optimizers = BLJUSTTask.build_optimizers(args, model)
    options = BLJUSTTrainer.build_options(args)
    runner = StepRunner(model, optimizers, [None, None], GradScaler(), options, "cpu")
    dtypes = []
    first_linear = next(m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear))
    first_linear.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    theta = runner.core.parameter_groups()["shared"]
    before = snapshot(theta)

    ok_lower, lower = runner.lower_step(stream())
    ok_upper, upper = runner.upper_step(stream(), stream(), 0.5, 1.0, cosine=True)
    assert ok_lower and ok_upper
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert any(changed(before, theta))
    for stats in (lower, upper):
        assert all(torch.isfinite(torch.tensor(v)) for v in stats.values() if v is not None)
    assert np.isfinite(float(upper["grad_cos"]))
