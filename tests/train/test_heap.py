"""Giving the heap's free pages back between steps: less resident memory,
the same training."""

import itertools
import platform

import pytest
import torch

from espnet_bljust.tasks.bljust import BLJUSTTask
from espnet_bljust.train.bljust_trainer import BLJUSTTrainer
from espnet_bljust.train.heap import trim_heap
from espnet_bljust.train.step_runner import StepRunner

from asr.test_bljust_model import fsdd_batch, tiny_args

GLIBC = platform.libc_ver()[0] == "glibc"


def rss_anon_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024.0
    raise KeyError("RssAnon")


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_trim_gives_the_holes_of_a_fragmented_heap_back():
    # 64 KiB tensors come from the heap (below glibc's mmap threshold); keep
    # one in ten, so that the freed 90% are holes glibc does not return itself
    tensors = [torch.ones(16384) for _ in range(2400)]  # 150 MiB
    kept = tensors[::10]
    del tensors
    before = rss_anon_mb()
    assert trim_heap()
    after = rss_anon_mb()
    assert before - after > 60, (before, after)
    assert all(float(t.sum()) == 16384 for t in kept)  # live tensors untouched


def runner(tmp_path, *extra):
    tmp_path.mkdir()
    torch.manual_seed(0)
    args = tiny_args(tmp_path, "--output_dir", str(tmp_path / "exp"), *extra)
    model = BLJUSTTask.build_model(args)
    optimizers = BLJUSTTask.build_optimizers(args, model)
    options = BLJUSTTrainer.build_options(args)
    return StepRunner(model, optimizers, [None, None], None, options, "cpu")


def test_trimming_between_steps_trains_the_same_numbers(tmp_path):
    # the same up to float rounding: the math kernels may sum in an order that
    # follows their buffers' alignment, which the heap's state moves; SGD keeps
    # such rounding at its size (Adam would scale a near-zero gradient's to lr)
    sgd = ("--optim", "sgd", "--optim_conf", "lr=0.1", "--lower_optim", "sgd")
    sgd += ("--lower_optim_conf", "lr=0.1")
    runs = [
        runner(tmp_path / str(on), "--malloc_trim", str(on).lower(), *sgd)
        for on in (False, True)
    ]
    initial = [p.detach().clone() for p in runs[0].core.parameters()]
    for r in runs:
        torch.manual_seed(1)
        batches = itertools.repeat((["a", "b"], fsdd_batch()))
        assert r.lower_step(batches)[0]
        assert r.upper_step(batches, batches, weight=0.5, lr_scale=1.0, cosine=False)[0]
    assert runs[1].options.malloc_trim and not runs[0].options.malloc_trim
    moved = 0.0
    for a, b, init in zip(runs[0].core.parameters(), runs[1].core.parameters(), initial):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        moved = max(moved, float((a - init).abs().max()))
    assert moved > 1e-3  # the steps did change the weights
