"""bench/gpu_check.sh on a machine without CUDA: one line, non-zero, nothing run."""

import os
import subprocess
import sys
from pathlib import Path

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
