"""Two CPU processes (torch.distributed, gloo), launched as espnet2 expects an
external launcher (torchrun): both streams sharded, replicas kept equal."""

import os
import re
import subprocess
import sys

import torch
from espnet2.train.reporter import Reporter

from conftest import REPO, train_args

NUM_ITERS = 5


def test_two_process_bljust_training_learns_and_checkpoints(fsdd_small, tmp_path):
    exp = tmp_path / "exp"
    args = train_args(
        fsdd_small, exp,
        "--strategy", "bljust", "--max_epoch", "2", "--num_iters_per_epoch", str(NUM_ITERS),
        "--phase_unit", "tick", "--exploration_len", "2", "--joint_len", "8",
        "--scheduler_conf", "warmup_steps=10", "--lower_scheduler_conf", "warmup_steps=10",
        "--dist_backend", "gloo", "--multiprocessing_distributed", "false",
    )  # fmt: skip
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nnodes", "1", "--nproc_per_node", "2",
        "-m", "espnet_bljust.bin.bljust_train", *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # 2 processes on 2 cores
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=900, env=env
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # rank 0 logs; each epoch ends with the cross-rank weight check
    assert "epoch 1: replicas in sync" in log and "epoch 2: replicas in sync" in log
    assert re.search(r"\[[^\]]*:0/2\]", log), "rank 0 of a world of 2 did not log"
    # rank 0's shard: half of each labeled (60 utts) and unlabeled (120) batch
    assert "name=labeled, batches=5, utts=30, mean_batch=6.0" in log
    assert "name=unlabeled, batches=10, utts=60, mean_batch=6.0" in log

    states = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)
    model = states["model"]
    assert int(model["bilevel_state.ticks"]) == 2 * NUM_ITERS
    assert int(model["bilevel_state.lower_steps"]) == 2 + 8
    assert int(model["bilevel_state.upper_steps"]) == 8
    assert int(model["bilevel_state.skipped_steps"]) == 0
    # Each rank reads half of every mini-batch (batch 12 -> 6 per rank): the
    # labeled stream has 60 utts = 5 batches; 8 upper steps = 1 pass + 3.
    assert (int(model["bilevel_state.labeled_pass"]), int(model["bilevel_state.labeled_offset"])) == (1, 3)
    reporter = Reporter()
    reporter.load_state_dict(states["reporter"])
    assert reporter.get_value("valid", "loss_ctc", 2) < reporter.get_value("valid", "loss_ctc", 1)
    assert (exp / "valid.cer_ctc.best.pth").is_file()  # best_model_criterion of conf/train.yaml
