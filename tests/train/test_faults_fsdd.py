"""Faults tried as a user would meet them, on tiny real-FSDD runs: NaN audio,
a flipped-byte or deleted checkpoint, a disk that fills up during a save.
Each one either trains through without harm or stops with one line, and
nothing already saved is lost."""

import resource
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

from bin.test_bljust_train import broken  # noqa: F401 (fixture)
from conftest import REPO, train_args
from espnet_bljust.train.checksums import verify

ARGS = [
    "--strategy", "bljust", "--phase_unit", "tick", "--exploration_len", "1",
    "--joint_len", "4", "--finetune_len", "1", "--num_iters_per_epoch", "2",
    "--resume", "true",
]  # fmt: skip
ERROR = "bljust_train: error: "


def train(data, exp, *extra, fsize=None):
    cmd = [sys.executable, "-m", "espnet_bljust.bin.bljust_train",
           *train_args(data, exp, *ARGS, *extra)]  # fmt: skip

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                          preexec_fn=limit if fsize else None)  # fmt: skip
    return proc.returncode, proc.stderr


def error_lines(log):
    return [line for line in log.splitlines() if line.startswith(ERROR)]


def load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def poison(wav_scp, line, value=float("nan")):
    """Rewrite the audio of ``line`` (0-based) of a wav.scp as float samples with
    ``value`` in them, under a new name; returns the utterance id."""
    lines = wav_scp.read_text().splitlines(keepends=True)
    uid, path = lines[line].split()
    samples, rate = soundfile.read(path, dtype="float32")
    samples[len(samples) // 3: len(samples) // 2] = value
    out = wav_scp.parent / f"{uid}.poisoned.wav"
    soundfile.write(out, samples, rate, subtype="FLOAT")
    lines[line] = f"{uid} {out}\n"
    wav_scp.write_text("".join(lines))
    return uid


@pytest.fixture()
def data(broken):
    """A writable copy of the small FSDD split."""
    return broken


def test_nan_wavs_are_skipped_and_leave_the_model_finite(data, tmp_path):
    """Every labeled and unlabeled batch is used (6 upper, 12 lower steps)."""
    bad = [poison(data / "train_labeled" / "wav.scp", 7),
           poison(data / "train_unlabeled" / "wav.scp", 30, float("inf"))]  # fmt: skip
    exp = tmp_path / "exp"
    rc, log = train(data, exp, "--max_epoch", "1", "--num_iters_per_epoch", "6",
                    "--exploration_len", "0", "--joint_len", "6", "--finetune_len", "0",
                    "--lower_steps_per_upper", "2")  # fmt: skip
    assert rc == 0, log[-3000:]
    for uid in bad:
        assert f"non-finite samples (NaN/Inf) in utterance(s) ['{uid}']: step skipped" in log
    model = load(exp / "checkpoint.pth")["model"]
    count = {k: int(model[f"bilevel_state.{k}"]) for k in
             ("skipped_steps", "upper_steps", "lower_steps", "joint_upper_steps")}  # fmt: skip
    assert count["skipped_steps"] >= 2
    assert count["upper_steps"] + count["lower_steps"] + count["skipped_steps"] == 6 + 12
    assert count["joint_upper_steps"] == count["upper_steps"]  # skipped ones not counted
    norms = [k for k in model if "norm.running" in k]
    assert norms and all(torch.isfinite(model[k]).all() for k in model if model[k].is_floating_point())


def test_nan_in_a_validation_clip_stops_the_run_naming_the_epoch(data, tmp_path):
    poison(data / "dev" / "wav.scp", 3)
    exp = tmp_path / "exp"
    rc, log = train(data, exp, "--max_epoch", "2")
    assert rc == 1
    assert error_lines(log) == [
        f"{ERROR}epoch 1: the validation loss is nan; stopping before this epoch is "
        "saved (the checkpoints of the earlier epochs are kept)"
    ]
    assert "Traceback" not in log
    assert not (exp / "checkpoint.pth").exists() and not (exp / "1epoch.pth").exists()


def test_an_epoch_whose_every_step_is_skipped_stops_the_run(data, tmp_path):
    """NaN in every training clip: every step of the first epoch is skipped.
    espnet2 alone would end such a run after the epoch with exit status 0."""
    for stream in ("train_labeled", "train_unlabeled"):
        scp = data / stream / "wav.scp"
        for line in range(len(scp.read_text().splitlines())):
            poison(scp, line)
    exp = tmp_path / "exp"
    rc, log = train(data, exp, "--max_epoch", "2")
    assert rc == 1, log[-3000:]
    assert error_lines(log) == [
        f"{ERROR}epoch 1: every step of its 2 ticks was skipped (non-finite loss, gradient or "
        "update; see the warnings above); stopping before this epoch is saved. Check the data, "
        "the learning rates and --use_amp."
    ]
    assert not (exp / "1epoch.pth").exists()


@pytest.fixture(scope="module")
def saved_run(fsdd_small, tmp_path_factory):
    """A 2-epoch run with its checkpoints (copied by each test)."""
    exp = tmp_path_factory.mktemp("saved") / "exp"
    rc, log = train(fsdd_small, exp, "--max_epoch", "2")
    assert rc == 0, log[-3000:]
    return exp


@pytest.fixture()
def run_copy(saved_run, tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(saved_run, exp, symlinks=True)  # hard links become copies
    for name in ("checkpoint.1epoch.pth", "checkpoint.2epoch.pth"):
        assert verify(exp / "checkpoints" / name) is None
    return exp


def flip(path, nbytes=4096):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle: middle + nbytes] = bytes(b ^ 0xFF for b in data[middle: middle + nbytes])
    path.write_bytes(bytes(data))


def test_flipped_bytes_in_checkpoint_resume_from_the_newest_verified(fsdd_small, run_copy):
    flip(run_copy / "checkpoint.pth")
    flip(run_copy / "checkpoints" / "checkpoint.2epoch.pth")  # the same file, hard-linked
    rc, log = train(fsdd_small, run_copy, "--max_epoch", "3")
    assert rc == 0, log[-3000:]
    warnings = [line for line in log.splitlines() if "resumed from the older checkpoint" in line]
    assert len(warnings) == 1
    assert f"checkpoint.1epoch.pth; not usable: {run_copy / 'checkpoint.pth'} (checksum mismatch" in warnings[0]
    ckpt = load(run_copy / "checkpoint.pth")
    assert ckpt["reporter"]["epoch"] == 3 and int(ckpt["model"]["bilevel_state.ticks"]) == 6
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_no_verified_checkpoint_is_refused_in_one_line(fsdd_small, run_copy):
    for p in [run_copy / "checkpoint.pth", *(run_copy / "checkpoints").glob("*.pth")]:
        flip(p)
    before = {p: p.read_bytes() for p in run_copy.rglob("*.pth") if not p.is_symlink()}
    rc, log = train(fsdd_small, run_copy, "--max_epoch", "3")
    assert rc == 1 and "Traceback" not in log
    (line,) = error_lines(log)
    assert line.startswith(f"{ERROR}no verified checkpoint to resume from; tried: ")
    assert line.count("checksum mismatch") == 3  # checkpoint.pth, epochs 2 and 1
    assert {p: p.read_bytes() for p in before} == before  # nothing overwritten


def test_deleted_checkpoint_resumes_from_the_newest_kept(fsdd_small, run_copy):
    (run_copy / "checkpoint.pth").unlink()
    (run_copy / ".checkpoint.pth.tmp.99999").write_bytes(b"left by a killed save")
    rc, log = train(fsdd_small, run_copy, "--max_epoch", "3")
    assert rc == 0, log[-3000:]
    assert f"{run_copy / 'checkpoint.pth'} is missing: resuming from the kept" in log
    assert "The training was resumed using" in log
    ckpt = load(run_copy / "checkpoint.pth")
    assert ckpt["reporter"]["epoch"] == 3 and int(ckpt["model"]["bilevel_state.ticks"]) == 6
    assert sorted(p.name for p in (run_copy / "checkpoints").glob("*.pth")) == [
        "checkpoint.2epoch.pth", "checkpoint.3epoch.pth"]  # fmt: skip
    assert not list(run_copy.glob(".*.tmp.*"))
    assert (run_copy / "latest.pth").resolve().name == "3epoch.pth"


def test_disk_full_during_a_save_stops_in_one_line_and_keeps_the_checkpoint(
    fsdd_small, run_copy
):
    before = (run_copy / "checkpoint.pth").read_bytes()
    limit = len(before) // 2  # the file size limit makes writes fail as a full disk does
    rc, log = train(fsdd_small, run_copy, "--max_epoch", "3", fsize=limit)
    assert rc == 1 and "Traceback" not in log
    assert error_lines(log) == [
        f"{ERROR}cannot save {run_copy / 'checkpoint.pth'}: File too large; the previous "
        "checkpoint.pth is kept"
    ]
    assert (run_copy / "checkpoint.pth").read_bytes() == before
    assert verify(run_copy / "checkpoint.pth") is None
    assert not list(run_copy.glob(".*.tmp.*"))
