"""The upper step in two parts (backward of f, then of gamma * g) on real FSDD
batches with the tiny conformer: the same gradient as one backward of the sum,
one unlabeled batch per step, and under DDP every parameter averaged."""

import random

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from espnet2.train.distributed_utils import DistributedOption

from espnet_bljust.tasks.bljust import BLJUSTTask
from espnet_bljust.train.bljust_trainer import BLJUSTTrainer
from espnet_bljust.train.step_runner import StepRunner
from espnet_bljust.train.diagnostics import CosineWithHeldGradient
from espnet_bljust.train.split_backward import backward_in_parts, upper_loss_parts

from conftest import train_args

GAMMA = 0.7


def build(data, tmp_path, *extra):
    """(runner, labeled stream, unlabeled stream) as bljust_train builds them."""
    torch.manual_seed(0)
    args = BLJUSTTask.get_parser().parse_args(
        train_args(data, tmp_path / "exp", "--batch_size", "4", *extra)
    )
    model = BLJUSTTask.build_model(args)
    optimizers = BLJUSTTask.build_optimizers(args, model)
    options = BLJUSTTrainer.build_options(args)
    factory = BLJUSTTask.build_iter_factory(args, DistributedOption(), "train")
    model.train()
    runner = StepRunner(model, optimizers, [None, None], None, options, "cpu")
    return runner, factory.labeled, factory.unlabeled


def once(batch):
    """A stream of one batch, as the trainer's streams yield it: (utterance ids, batch)."""
    uids = [f"utt{i}" for i in range(len(batch["speech"]))]
    return iter([(uids, batch)])


def seed_all(seed=1):
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def joint_gradient(model, lab, unl):
    """Reference: one backward of f + gamma * g, both graphs alive."""
    model.zero_grad(set_to_none=True)
    seed_all()
    (loss_f, loss_g), _, _ = model(
        **lab, objective="joint", unsup_source="unlabeled",
        unlabeled_speech=unl["speech"], unlabeled_speech_lengths=unl["speech_lengths"],
    )  # fmt: skip
    (loss_f + GAMMA * loss_g).backward()
    return grads(model), float(loss_f.detach()), float(loss_g.detach())


def split_gradient(runner, model, lab, unl):
    """The trainer's parts: backward of f, then forward + backward of gamma * g."""
    model.zero_grad(set_to_none=True)
    seed_all()
    stats = {}
    parts = upper_loss_parts(runner, once(lab), once(unl), GAMMA, False, stats)
    backward_in_parts(model, parts, lambda loss: loss.backward())
    return grads(model), stats


def test_split_backward_gives_the_gradient_of_the_sum(fsdd_small, tmp_path):
    runner, labeled, unlabeled = build(fsdd_small, tmp_path)
    model = runner.core
    lab, unl = next(labeled)[1], next(unlabeled)[1]
    assert not torch.equal(lab["speech"][:, :1000], unl["speech"][:, :1000])

    ref, loss_f, loss_g = joint_gradient(model, lab, unl)
    split, stats = split_gradient(runner, model, lab, unl)

    assert split.keys() == ref.keys()
    groups = model.parameter_groups()
    names = {id(p): n for n, p in model.named_parameters()}
    for group in ("shared", "supervised", "unsupervised"):
        got = [names[id(p)] for p in groups[group] if names[id(p)] in split]
        assert got, f"no {group} parameter received a gradient"
        assert any(split[n].abs().sum() > 0 for n in got), f"{group}: all-zero gradient"
    worst = max((split[n] - ref[n]).abs().max().item() for n in ref)
    assert worst <= 1e-6, f"largest gradient difference {worst:g}"
    assert float(stats["loss_sup"]) == pytest.approx(loss_f, abs=1e-6)
    assert float(stats["loss_unsup_upper"]) == pytest.approx(loss_g, abs=1e-6)


def test_gradient_cosine_is_that_of_f_and_g_on_theta(fsdd_small, tmp_path):
    runner, labeled, unlabeled = build(fsdd_small, tmp_path)
    model = runner.core
    lab, unl = next(labeled)[1], next(unlabeled)[1]

    model.zero_grad(set_to_none=True)
    seed_all()
    (loss_f, loss_g), _, _ = model(
        **lab, objective="joint", unsup_source="unlabeled",
        unlabeled_speech=unl["speech"], unlabeled_speech_lengths=unl["speech_lengths"],
    )  # fmt: skip
    theta = runner.theta
    flat = []
    for loss in (loss_f, loss_g):
        parts = torch.autograd.grad(loss, theta, retain_graph=True, allow_unused=True)
        flat.append(torch.cat([
            (g if g is not None else torch.zeros_like(p)).reshape(-1).double()
            for g, p in zip(parts, theta)
        ]))  # fmt: skip
    expected = float(torch.nn.functional.cosine_similarity(flat[0], flat[1], dim=0))

    model.zero_grad(set_to_none=True)
    seed_all()
    stats = {}
    parts = upper_loss_parts(runner, once(lab), once(unl), GAMMA, True, stats)
    backward_in_parts(model, parts, lambda loss: loss.backward())
    assert abs(expected) > 1e-3  # two gradients that are not orthogonal by construction
    assert float(stats["grad_cos"]) == pytest.approx(expected, abs=5e-5)  # float32 sums against float64


def test_a_part_whose_backward_raises_still_runs_its_after():
    """(loss, after) parts: ``after`` runs when the backward raises too, so the
    cosine's hooks never outlive their step."""

    class Boom(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            raise RuntimeError("boom")

    w = torch.nn.Parameter(torch.ones(3))
    (2 * w).sum().backward()
    measure = CosineWithHeldGradient([w])
    done = []
    parts = [lambda: (Boom.apply(w).sum(), lambda: done.append(measure.finish()))]
    with pytest.raises(RuntimeError, match="boom"):
        backward_in_parts(w, parts, lambda loss: loss.backward())
    assert len(done) == 1 and not w._backward_hooks


def test_faithful_upper_step_draws_one_batch_of_each_stream(fsdd_small, tmp_path):
    runner, labeled, unlabeled = build(fsdd_small, tmp_path)
    assert runner.options.upper_unsup_source == "unlabeled"  # the default
    before = (labeled.position, unlabeled.position)
    ok, stats = runner.upper_step(labeled, unlabeled, GAMMA, 1.0, cosine=True)
    assert ok
    assert labeled.position == (before[0][0], before[0][1] + 1)
    assert unlabeled.position == (before[1][0], before[1][1] + 1)
    assert np.isfinite(float(stats["grad_cos"]))  # its value: the test below
    assert np.isfinite(stats["loss_unsup_upper"]) and stats["loss_unsup_upper"] > 0
    assert np.isfinite(stats["loss_sup"]) and stats["loss_sup"] > 0


def _ddp_rank(rank, world_size, init_file, state, batches, out):
    """One rank: DDP over the model, split backward on its own batch pair, then
    a lower step's backward (DDP's state after the parts must allow it)."""
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    runner = state["make"]()
    runner.core.load_state_dict(state["weights"])
    ddp = torch.nn.parallel.DistributedDataParallel(runner.core, find_unused_parameters=True)
    runner.model = ddp
    lab, unl = batches[rank]
    seed_all(rank)
    stats = {}
    parts = upper_loss_parts(runner, once(lab), once(unl), GAMMA, True, stats)
    backward_in_parts(ddp, parts, lambda loss: loss.backward())
    torch.save(dict(grads(runner.core), grad_cos=stats["grad_cos"]), out / f"grads{rank}.pt")
    runner.core.zero_grad(set_to_none=True)
    loss, _, _ = ddp(**unl, objective="unsupervised")  # phi unused, as in a lower step
    loss.backward()
    torch.distributed.destroy_process_group()


class _Maker:
    """Picklable builder of the same runner in each rank."""

    def __init__(self, data, tmp_path):
        self.data, self.tmp_path = data, tmp_path

    def __call__(self):
        return build(self.data, self.tmp_path)[0]


def test_ddp_split_backward_averages_every_parameter(fsdd_small, tmp_path):
    """Two gloo ranks, each on its own batches: after the parts every rank holds
    the mean of the per-rank gradients, the CTC head (used by f only) and the
    unsupervised head (used by g only) included."""
    make = _Maker(fsdd_small, tmp_path)
    runner, labeled, unlabeled = build(fsdd_small, tmp_path)
    weights = {k: v.clone() for k, v in runner.core.state_dict().items()}
    batches = [(next(labeled)[1], next(unlabeled)[1]) for _ in range(2)]
    local = []
    for rank, (lab, unl) in enumerate(batches):
        runner.core.zero_grad(set_to_none=True)
        seed_all(rank)
        stats = {}
        parts = upper_loss_parts(runner, once(lab), once(unl), GAMMA, True, stats)
        backward_in_parts(runner.core, parts, lambda loss: loss.backward())
        local.append(dict(grads(runner.core), grad_cos=stats["grad_cos"]))
    mp.spawn(
        _ddp_rank,
        args=(2, tmp_path / "init", dict(make=make, weights=weights), batches, tmp_path),
        nprocs=2,
        join=True,
    )
    reduced = [torch.load(tmp_path / f"grads{r}.pt") for r in range(2)]
    # Each rank's grad_cos is that of its own batches' gradients, read before
    # DDP averages them (the hooks run ahead of the reducer).
    local_cos = [local[rank].pop("grad_cos") for rank in range(2)]
    assert abs(local_cos[0] - local_cos[1]) > 1e-3  # so the check below tells them apart
    for rank in range(2):
        assert reduced[rank].pop("grad_cos") == pytest.approx(local_cos[rank], abs=1e-5)
    assert reduced[0].keys() == local[0].keys()
    heads = [n for n in local[0] if n.startswith(("ctc.", "unsup_loss."))]
    assert any(n.startswith("ctc.") for n in heads) and any(n.startswith("unsup_loss.") for n in heads)
    for name in local[0]:
        mean = (local[0][name] + local[1][name]) / 2
        torch.testing.assert_close(reduced[0][name], mean, atol=1e-5, rtol=1e-4)
        assert torch.equal(reduced[0][name], reduced[1][name]), name
    assert any(not torch.equal(local[0][n], local[1][n]) for n in heads)

