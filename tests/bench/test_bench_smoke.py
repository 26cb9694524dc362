"""The benchmark scripts keep working: --help everywhere, and the step-cost
benchmark at its smallest setting prints its table with a numeric ratio.
(No timing is asserted: the machine's load decides those.)"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ["step_cost", "memory", "data_wait", "plugin_overhead", "decode_rtf", "scaling", "data_checks"]
SMALL = ["--model_args", "--encoder_conf num_blocks=1 --encoder_conf output_size=64 "
         "--encoder_conf linear_units=128 --encoder_conf attention_heads=2",
         "--speakers", "george theo", "--labeled_takes", "1", "--unlabeled_takes", "2"]  # fmt: skip


def run_script(name, *args, timeout=120):
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / f"{name}.py"), *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


@pytest.mark.parametrize("name", SCRIPTS)
def test_help(name):
    out = run_script(name, "--help", timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout and "--threads" in out.stdout


def test_step_cost_prints_a_ratio_table(fsdd_root, tmp_path):
    out = run_script(
        "step_cost", "--fsdd", str(fsdd_root), "--work_dir", str(tmp_path),
        "--repeats", "2", "--warmup", "1", "--grad_cosine_interval", "0",
        "--batch_size", "8", *SMALL, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| what | median ms | ratio | target | verdict |" in out.stdout
    row = re.search(r"\*\*BL-JUST iteration, unlabeled\*\* .*?\| ([\d.]+) \| ([\d.]+) \|",
                    out.stdout)  # fmt: skip
    assert row, out.stdout
    assert float(row.group(1)) > 0
    inherent = re.search(r"\| inherent passes: sum of the three \| ([\d.]+) \| 1.000 \|", out.stdout)
    assert inherent and float(inherent.group(1)) > 0, out.stdout
    assert re.search(r"load average \(1, 5, 15 min\): [\d.]+ [\d.]+ [\d.]+ before", out.stdout)
    ratio = float(re.search(r"^RATIO ([\d.]+)$", out.stdout, re.M).group(1))
    assert ratio == pytest.approx(float(row.group(2)), abs=1e-3)
    assert "command: `python bench/step_cost.py" in out.stdout


def test_memory_with_pinned_malloc_thresholds(fsdd_root, tmp_path):
    """The script restarts itself with glibc's thresholds set; the training
    child reports them in its own environment."""
    out = run_script(
        "memory", "--fsdd", str(fsdd_root), "--work_dir", str(tmp_path),
        "--ticks", "2", "--repeats", "1", "--same_audio", "0",
        "--strategies", "supervised pt_ft", "--malloc_mmap_threshold", "131072",
        "--batch_size", "8", *SMALL, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert ("- glibc malloc: mmap and trim thresholds 131072 B "
            "(MALLOC_MMAP_THRESHOLD_ in the training processes: 131072)") in out.stdout
    rows = re.findall(r"^\| (supervised|pt_ft) \| \d+ \| (\d+) \[", out.stdout, re.M)
    assert [name for name, _ in rows] == ["supervised", "pt_ft"]
    peaks = {name: int(peak) for name, peak in rows}
    ratio = float(re.search(r"^RATIO ([\d.]+)$", out.stdout, re.M).group(1))
    assert ratio == pytest.approx(peaks["pt_ft"] / peaks["supervised"], abs=5e-3)  # peaks in whole MiB
