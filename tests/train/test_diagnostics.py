"""Diagnostics: gradient cosine and the cross-rank replica check."""

import os
import socket
import weakref

import pytest
import torch
import torch.multiprocessing as mp

from espnet_bljust.train.diagnostics import (
    CosineWithHeldGradient,
    check_replicas_in_sync,
    gradient_cosine,
)


def test_gradient_cosine_of_aligned_and_opposed_objectives():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    assert gradient_cosine((w * 3).sum(), (w * 5).sum(), [w]) == pytest.approx(1.0)
    assert gradient_cosine((w * 3).sum(), -(w * 5).sum(), [w]) == pytest.approx(-1.0)
    assert gradient_cosine(w[0], w[1], [w]) == pytest.approx(0.0)
    assert w.grad is None  # autograd.grad leaves .grad alone


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cosine_with_held_gradient_reads_the_next_backward(sign):
    torch.manual_seed(0)
    w, v = torch.nn.Parameter(torch.randn(5)), torch.nn.Parameter(torch.randn(3))
    a, b = torch.randn(5), torch.randn(5)
    loss_f = lambda: (a * w).sum() + (w * w).sum() + v.sum()  # noqa: E731
    loss_g = lambda: sign * ((b * w).sum() + (w ** 3).sum())  # noqa: E731  (v unused)
    expected = gradient_cosine(loss_f(), loss_g(), [w, v])
    loss_f().backward()
    held = w.grad.clone()
    measure = CosineWithHeldGradient([w, v])
    (0.3 * loss_g()).backward()
    assert measure.finish() == pytest.approx(expected, abs=1e-6)
    assert abs(expected) > 0.05  # not orthogonal by construction: the value is checked
    # .grad accumulated as without the measure: f's + 0.3 g's.
    g_grad = torch.autograd.grad(0.3 * loss_g(), w)[0]
    assert torch.allclose(w.grad, held + g_grad)
    assert not w._backward_hooks and not v._backward_hooks  # finish removed them


def test_cosine_with_held_gradient_keeps_no_incoming_gradient():
    """Each incoming gradient is freed once added to .grad, as without the measure."""
    w1, w2 = torch.nn.Parameter(torch.randn(1000)), torch.nn.Parameter(torch.randn(1000))
    (w1.sum() + w2.sum()).backward()
    measure = CosineWithHeldGradient([w2, w1])
    seen, alive = {}, []
    first = w2.register_hook(lambda grad: seen.__setitem__("w2", weakref.ref(grad)))
    then = w1.register_hook(lambda grad: alive.append(seen["w2"]() is not None))
    (w2 * (2 * w1).sin()).sum().backward()  # w2's gradient arrives before w1's
    first.remove(), then.remove()
    assert alive == [False]
    # held: ones (from the first backward); incoming: d/dw2 = sin(2 w1), d/dw1 = 2 w2 cos(2 w1)
    incoming = torch.cat([(2 * w1).sin(), 2 * w2 * (2 * w1).cos()]).detach()
    expected = torch.nn.functional.cosine_similarity(torch.ones(2000), incoming, dim=0)
    assert measure.finish() == pytest.approx(float(expected), abs=1e-6)


def test_cosine_with_held_gradient_is_none_without_a_value():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    (3 * w).sum().backward()
    measure = CosineWithHeldGradient([w])
    (0.0 * (w * 5).sum()).backward()  # a zero multiple of g
    assert measure.finish() is None
    frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    assert CosineWithHeldGradient([frozen]).finish() is None  # nothing trainable


def test_replica_check_is_silent_without_torch_distributed():
    assert check_replicas_in_sync(torch.nn.Linear(2, 2), "here") is None


def _replica_worker(rank: int, port: int, same: bool, results):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0 if same else rank)
    try:
        results[rank] = check_replicas_in_sync(torch.nn.Linear(4, 3), "epoch 1")
    except RuntimeError as e:
        results[rank] = str(e)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.parametrize("same", [True, False])
def test_replica_check_across_two_gloo_processes(same):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(_replica_worker, args=(port, same, results), nprocs=2)
    if same:
        assert isinstance(results[0], float) and results[0] == results[1]
    else:
        for rank in (0, 1):
            assert "epoch 1: the training processes hold different weights" in results[rank]
