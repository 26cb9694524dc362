"""Step stats averaged over two gloo processes whose stats differ in which are set."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from espnet_bljust.train.rank_stats import average_across_ranks

# What each rank reports for one tick: grad_cos only on rank 0 (None on rank 1),
# acc_unsup missing from rank 1's dict altogether, loss_att None on both.
RANK_STATS = [
    {"loss": 1.0, "grad_cos": 0.5, "acc_unsup": 0.2, "loss_att": None},
    {"loss": 3.0, "grad_cos": None, "loss_att": None},
]


def _worker(rank: int, port: int, results, same_keys: bool):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    try:
        stats = RANK_STATS[0 if same_keys else rank]
        results[rank] = average_across_ranks(dict(stats))
        results[f"{rank}-again"] = average_across_ranks({"loss": float(rank)})  # still in step
    finally:
        torch.distributed.destroy_process_group()


def _spawn(same_keys: bool):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(port, results, same_keys), nprocs=2, join=True)
    return dict(results)


def test_not_distributed_leaves_stats_alone():
    stats = {"loss": 1.0, "grad_cos": None}
    assert average_across_ranks(stats) is stats


@pytest.mark.parametrize("same_keys", [False, True])
def test_missing_and_none_stats_neither_hang_nor_crash(same_keys):
    results = _spawn(same_keys)
    for rank in (0, 1):
        got = results[rank]
        if same_keys:
            assert got == {"loss": 1.0, "grad_cos": 0.5, "acc_unsup": 0.2, "loss_att": None}
        else:  # each stat averaged over the ranks that have it
            assert got == {"loss": 2.0, "grad_cos": 0.5, "acc_unsup": 0.2, "loss_att": None}
        assert results[f"{rank}-again"] == {"loss": 0.5}
