"""The per-epoch console lines, read from the log of a real (tiny) training run
while it runs, and the follower's return when the process it watches exits."""

import io
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, train_args
from espnet_bljust.recipe.progress import LogReader, follow, parse_stats, pid_alive

# 4 epochs of 2 ticks: exploration, two joint epochs, fine-tune.
ARGS = ["--strategy", "bljust", "--max_epoch", "4", "--num_iters_per_epoch", "2",
        "--phase_unit", "epoch", "--exploration_len", "1", "--joint_len", "2",
        "--finetune_len", "1", "--gamma_init", "0.5", "--gamma_max", "1.0"]  # fmt: skip
LINE = re.compile(
    r"^epoch (\d)/4 (\w+) +\| sup (\S+) unsup (\S+) gamma (\S+) \| dev CER (\d+\.\d)% "
    r"\| (\d+):(\d\d) elapsed, ~(\d+):(\d\d) left$"
)


@pytest.fixture(scope="module")
def followed_run(fsdd_small, tmp_path_factory):
    """A tiny bljust_train run writing its log the way the recipe's job runner does,
    followed by ``python -m espnet_bljust.recipe.progress`` while it runs."""
    exp = tmp_path_factory.mktemp("progress") / "exp"
    exp.mkdir()
    log = exp / "train.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "espnet_bljust.bin.bljust_train",
           *train_args(fsdd_small, exp, *ARGS)]  # fmt: skip
    with open(log, "w") as out:
        train = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
        progress = subprocess.run(
            [sys.executable, "-m", "espnet_bljust.recipe.progress", "--log", str(log),
             "--pid", str(train.pid), "--poll", "0.2"],
            cwd=REPO, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        ended_before = train.poll() is not None
        assert train.wait(timeout=60) == 0, log.read_text()[-3000:]
    return log, progress, ended_before


def test_one_line_per_finished_epoch_from_a_real_run(followed_run):
    log, progress, ended_before = followed_run
    assert progress.returncode == 0, progress.stderr[-3000:]
    assert ended_before  # it returned only once the training had exited
    lines = progress.stdout.splitlines()
    assert len(lines) == 4, progress.stdout
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    epochs = [int(m.group(1)) for m in parsed]
    phases = [m.group(2) for m in parsed]
    assert epochs == [1, 2, 3, 4]
    assert phases == ["exploration", "joint", "joint", "finetune"]
    # Exploration trains g only, fine-tune f only; the joint epochs report both and gamma.
    sup, unsup, gamma = ([m.group(i) for m in parsed] for i in (3, 4, 5))
    assert sup[0] == "-" and unsup[0] != "-" and float(unsup[0]) > 0
    assert all(float(s) > 0 and float(u) > 0 for s, u in zip(sup[1:3], unsup[1:3]))
    assert 0.5 <= float(gamma[1]) < float(gamma[2]) <= 1.0  # ramped from 0.5 towards 1.0
    assert sup[3] != "-"
    # The dev CER is the log's valid cer_ctc of the same epoch, in percent.
    results = [line for line in log.read_text().splitlines() if "epoch results:" in line]
    assert len(results) == 4
    for m, line in zip(parsed, results):
        cer = float(parse_stats(line.split("epoch results: ", 1)[1])["valid"]["cer_ctc"])
        assert float(m.group(6)) == pytest.approx(100 * cer, abs=0.051)
    # Elapsed time grows, the estimate left reaches 0:00 at the last epoch.
    elapsed = [60 * int(m.group(7)) + int(m.group(8)) for m in parsed]
    assert elapsed == sorted(elapsed)
    assert parsed[-1].group(9, 10) == ("0", "00")


def test_reader_keeps_the_time_origin_of_a_resumed_run():
    reader = LogReader()
    host = "[vm] 2026-12-03 20:00:{:02d},000 (trainer:336) INFO: "
    assert reader.feed(host.format(0) + "3/5epoch started") is None
    result = reader.feed(host.format(20) + "3epoch results: [train] loss_sup=2.5, "
                         "gamma=0.4, phase=1.000, [valid] cer_ctc=0.25, cer=0.25")  # fmt: skip
    assert (result.epoch, result.max_epoch, result.phase) == (3, 5, "joint")
    assert (result.loss_sup, result.loss_unsup, result.gamma) == (2.5, None, 0.4)
    assert result.dev_cer == pytest.approx(25.0)
    # 20 s for the one epoch this run trained, 2 epochs to go.
    assert (result.elapsed, result.left) == (20.0, 40.0)


def test_returns_when_the_process_ends(tmp_path):
    log = tmp_path / "train.log"  # never written: the job failed before logging
    sleeper = subprocess.Popen(["sleep", "600"])  # ends when the test ends it
    out = io.StringIO()
    done = threading.Event()
    status = []

    def run():
        status.append(follow(log, sleeper.pid, out=out, poll=0.1))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    try:
        assert not done.wait(0.8)  # still following while the process runs
        assert pid_alive(sleeper.pid)
    finally:
        sleeper.terminate()
        sleeper.wait()  # reaped here, as the recipe's shell reaps its job
    assert done.wait(60), "the follower did not return after the process ended"
    assert status == [0] and out.getvalue() == ""
    assert not pid_alive(sleeper.pid)


def test_an_exited_process_not_yet_reaped_counts_as_ended():
    child = subprocess.Popen(["true"])
    stat = f"/proc/{child.pid}/stat"
    deadline = time.monotonic() + 10
    while os.path.exists(stat) and time.monotonic() < deadline:
        with open(stat) as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                break
        time.sleep(0.02)
    else:
        pytest.skip("no procfs zombie state to observe")
    try:
        assert not pid_alive(child.pid)
    finally:
        child.wait()
