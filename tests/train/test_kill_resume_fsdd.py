"""SIGKILL a training process at an arbitrary step, rerun the same command:
it resumes from the last checkpoint and ends bitwise where an uninterrupted
run ends (CPU, fixed seed, one thread: with several, MKL/OpenMP may split
reductions differently under load, and two uninterrupted runs already differ
in the last bits). A resume with changed options is refused."""

import os
import random
import signal
import subprocess
import sys
import time

import torch

from conftest import REPO, train_args
from espnet_bljust.train.checksums import verify

ARGS = [
    "--strategy", "bljust", "--max_epoch", "4", "--num_iters_per_epoch", "4",
    "--phase_unit", "tick", "--exploration_len", "2", "--joint_len", "10",
    "--finetune_len", "4", "--lower_steps_per_upper", "2",
    "--scheduler_conf", "warmup_steps=10", "--lower_scheduler_conf", "warmup_steps=10",
    "--resume", "true",
]  # fmt: skip


def command(data, exp, *extra):
    return [sys.executable, "-m", "espnet_bljust.bin.bljust_train",
            *train_args(data, exp, *ARGS, *extra)]  # fmt: skip


KILL_SEED = 5
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(cmd):
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=ONE_THREAD
    )
    return proc.returncode, proc.stdout + proc.stderr


def load(exp):
    return torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)


def test_kill_and_rerun_ends_bitwise_like_an_uninterrupted_run(fsdd_small, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    rc, log = run(command(fsdd_small, whole))
    assert rc == 0, log[-3000:]

    # Kill somewhere after the first epoch's checkpoint, mid-training.
    proc = subprocess.Popen(
        command(fsdd_small, killed), cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True, env=ONE_THREAD,
    )  # fmt: skip
    first = killed / "checkpoints" / "checkpoint.1epoch.pth"
    deadline = time.time() + 300
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    delay = random.Random(KILL_SEED).uniform(0.0, 2.0)  # a point mid-training, the same each run
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "training ended before it could be killed"
    epoch_at_kill = int(load(killed)["reporter"]["epoch"])
    assert 1 <= epoch_at_kill < 4, f"killed {delay:.2f} s after epoch 1: epoch {epoch_at_kill}"

    # Changed options are refused before anything is overwritten.
    config_before = (killed / "config.yaml").read_bytes()
    rc, log = run(command(fsdd_small, killed, "--gamma_max", "2.0"))
    assert rc == 1
    assert "gamma_max: 1.0 (saved) -> 2.0 (now)" in log
    assert (killed / "config.yaml").read_bytes() == config_before

    rc, log = run(command(fsdd_small, killed))
    assert rc == 0, log[-3000:]
    assert "The training was resumed using" in log
    a, b = load(whole), load(killed)
    assert int(b["model"]["bilevel_state.ticks"]) == 16
    for key, value in a["model"].items():  # weights, gamma, counters, stream positions
        assert torch.equal(value, b["model"][key]), f"{key} (killed {delay:.2f} s after epoch 1)"
    for opt_a, opt_b in zip(a["optimizers"], b["optimizers"]):
        for pid, state in opt_a["state"].items():
            for name, value in state.items():
                assert torch.equal(value, opt_b["state"][pid][name]), (pid, name)
    assert a["schedulers"] == b["schedulers"]
    kept = sorted(p.name for p in (killed / "checkpoints").iterdir())
    assert kept == ["checkpoint.3epoch.pth", "checkpoint.3epoch.pth.sha256",
                    "checkpoint.4epoch.pth", "checkpoint.4epoch.pth.sha256"]  # keep last 2
    for path in [killed / "checkpoint.pth", *(killed / "checkpoints").glob("*.pth")]:
        assert verify(path) is None, path  # fmt: skip
