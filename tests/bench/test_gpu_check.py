"""bench/gpu_check.sh: without CUDA one line and non-zero; --cpu runs every step."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import shared_dataset

from espnet_bljust.corpora.fsdd import SPEAKERS as FSDD_SPEAKERS
from espnet_bljust.experiments.rundata import bilevel_counters

REPO = Path(__file__).resolve().parents[2]


def test_without_cuda_it_exits_non_zero_with_one_line(tmp_path):
    work = tmp_path / "work"
    out = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_check.sh"), "--work_dir", str(work), "--epochs", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable},
    )  # fmt: skip
    lines = (out.stdout + out.stderr).splitlines()
    assert out.returncode == 2, out.stdout + out.stderr
    assert lines == [
        "gpu_check.sh: no CUDA device (torch.cuda.is_available() is False); nothing was run"
    ]
    assert not work.exists(), "it prepared data before finding out there is no GPU"


def test_an_unknown_option_is_named():
    out = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--gpus", "2"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 1 and "unknown option --gpus" in out.stderr


@pytest.mark.parametrize("args, message", [
    (["--amp_dtype", "bfloat8"], "--amp_dtype bfloat8: auto or float16"),
    (["--cpu", "--amp_dtype", "float16"], "--amp_dtype float16 needs the GPU"),
])  # fmt: skip
def test_a_bad_amp_dtype_is_named_before_anything_runs(tmp_path, args, message):
    work = tmp_path / "work"
    out = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--work_dir", str(work),
                          *args], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 1 and message in out.stderr and len(out.stderr.splitlines()) == 1
    assert not work.exists()


def test_cpu_mode_runs_every_step_and_prints_the_ratios(tmp_path):
    """--cpu: the same training, decoding and scoring steps without CUDA (the
    script's plumbing, which a GPU-less CI cannot reach otherwise)."""
    fsdd = shared_dataset("fsdd")
    work = tmp_path / "work"
    out = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_check.sh"), "--cpu", "--fsdd", str(fsdd),
         "--work_dir", str(work), "--epochs", "2", "--iters", "2", "--test_takes", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHON": sys.executable},
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"RATIO step_time (\S+) memory (\S+) memory_same_batches (\S+) step_cost (\S+)", last)
    assert m, last
    assert all(math.isfinite(float(v)) and float(v) > 0 for v in m.groups())
    for run in ("exp_supervised", "exp_bljust", "same_supervised", "same_bljust", "same_unsup"):
        figures = json.loads((work / run / "gpu_check.json").read_text())
        assert figures["device"] == "cpu" and figures["step_ms"] > 0, (run, figures)
    # every test utterance was decoded, by both models
    refs = (work / "data" / "test" / "text").read_text().splitlines()
    assert len(refs) == len(FSDD_SPEAKERS) * 10  # one take of each digit per speaker
    for strategy in ("supervised", "bljust"):
        hyps = (work / f"exp_{strategy}" / "decode_test" / "1best_recog" / "text").read_text()
        assert len(hyps.splitlines()) == len(refs)
    # what each same-batch run did: bljust K lower + 1 upper step per tick (joint
    # throughout), the unsupervised run lower steps only, supervised upper steps only
    K = yaml.safe_load((REPO / "egs2/fsdd/bljust1/conf/train.yaml").read_text())["lower_steps_per_upper"]
    assert re.search(rf"^K = {K}:", out.stdout, re.M)
    ticks = 2 * 2
    counters = {r: bilevel_counters(torch.load(work / f"same_{r}" / "checkpoint.pth",
                                               map_location="cpu", weights_only=False))
                for r in ("supervised", "bljust", "unsup")}  # fmt: skip
    assert counters["bljust"]["lower_steps"] == K * ticks
    assert counters["bljust"]["upper_steps"] == counters["bljust"]["joint_upper_steps"] == ticks
    assert (counters["unsup"]["lower_steps"], counters["unsup"]["upper_steps"]) == (ticks, 0)
    assert (counters["supervised"]["lower_steps"], counters["supervised"]["upper_steps"]) == (0, ticks)
    # the step-cost ratio: the bljust tick over (K+1) unsupervised + 1 supervised tick
    same = {r: json.loads((work / f"same_{r}" / "gpu_check.json").read_text())
            for r in ("supervised", "bljust", "unsup")}  # fmt: skip
    ratio = same["bljust"]["step_ms"] / ((K + 1) * same["unsup"]["step_ms"] + same["supervised"]["step_ms"])
    assert float(m.group(4)) == pytest.approx(ratio, abs=1e-3)
