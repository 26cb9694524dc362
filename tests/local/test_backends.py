"""The job backends local/run_local.sh and local/run_slurm.sh (run.pl convention)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

RUN_LOCAL = REPO / "local" / "run_local.sh"
RUN_SLURM = REPO / "local" / "run_slurm.sh"


def _run(cmd, cwd, env=None):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True)  # fmt: skip


def test_run_local_job_array_substitutes_job_in_logs_and_command(tmp_path):
    done = _run([RUN_LOCAL, "--gpu", "0", "JOB=1:3", "log/echo.JOB.log",
                 "echo", "job", "JOB", "a b", "|", "tr", "a-z", "A-Z"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for i in (1, 2, 3):
        log = (tmp_path / "log" / f"echo.{i}.log").read_text()
        assert f"JOB {i} A B\n" in log  # the pipe ran; "a b" stayed one word
        assert log.startswith(f"# echo job {i} ") and "# Ended (code 0)" in log
    assert not (tmp_path / "log" / "echo.JOB.log").exists()


def test_run_local_reports_failed_jobs_and_their_logs(tmp_path):
    done = _run([RUN_LOCAL, "JOB=1:3", "log/x.JOB.log", "bash", "-c", "exit $((JOB % 2))"],
                tmp_path)  # fmt: skip
    assert done.returncode == 1
    assert "job JOB=1 failed (exit 1), log is in log/x.1.log" in done.stderr
    assert "job JOB=3 failed" in done.stderr and "JOB=2 failed" not in done.stderr
    assert "2 / 3 jobs failed" in done.stderr
    assert "# Ended (code 1)" in (tmp_path / "log" / "x.3.log").read_text()
    single = _run([RUN_LOCAL, "one.log", "false"], tmp_path)
    assert single.returncode == 1 and "log is in one.log" in single.stderr


def test_run_local_max_jobs_run_and_bad_usage(tmp_path):
    done = _run([RUN_LOCAL, "--max_jobs_run", "1", "JOB=1:3", "l/s.JOB.log",
                 "echo", "JOB", ">>", "order.txt"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted((tmp_path / "order.txt").read_text().split()) == ["1", "2", "3"]
    assert _run([RUN_LOCAL, "JOB=1:2", "same.log", "true"], tmp_path).returncode == 1
    assert _run([RUN_LOCAL, "--bogus", "1", "x.log", "true"], tmp_path).returncode == 1
    assert _run([RUN_LOCAL, "--num_nodes", "2", "x.log", "true"], tmp_path).returncode == 1


@pytest.fixture
def fake_sbatch(tmp_path):
    """A stand-in for Slurm's sbatch: records its arguments, runs the script."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    sbatch = bindir / "sbatch"
    sbatch.write_text(
        "#!/usr/bin/env bash\n"
        'echo "$@" >> "${FAKE_SBATCH_CALLS}"\n'
        'for script; do :; done\n'
        'bash "${script}"\n'
    )
    sbatch.chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
               FAKE_SBATCH_CALLS=str(tmp_path / "calls.txt"))  # fmt: skip
    return env


def test_run_slurm_submits_one_waited_job_per_index(tmp_path, fake_sbatch):
    work = tmp_path / "work"
    work.mkdir()
    done = _run([RUN_SLURM, "--gpu", "2", "--mem", "4G", "--num_threads", "3", "JOB=1:3",
                 "exp/log/t.JOB.log", "echo", "task", "JOB", "$PWD"], work, fake_sbatch)  # fmt: skip
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert len(calls) == 3
    for call in calls:
        for opt in ("--wait", "--gres=gpu:2", "--mem=4G", "--cpus-per-task=3", "--nodes=1"):
            assert opt in call.split()
    for i in (1, 2, 3):
        log = (work / "exp" / "log" / f"t.{i}.log").read_text()
        assert f"task {i} {work}\n" in log and "# Ended (code 0)" in log
        assert (work / "exp" / "log" / "q" / f"t.{i}.sh").exists()


def test_run_slurm_failures_and_slurm_pl_name(tmp_path, fake_sbatch):
    assert os.path.realpath(REPO / "local" / "slurm.pl") == str(RUN_SLURM.resolve())
    done = _run([REPO / "local" / "slurm.pl", "JOB=1:2", "l/f.JOB.log", "bash", "-c",
                 "exit $((JOB - 1))"], tmp_path, fake_sbatch)  # fmt: skip
    assert done.returncode == 1 and "job JOB=2 failed" in done.stderr
    no_slurm = dict(fake_sbatch, PATH=os.defpath)
    if shutil.which("sbatch", path=os.defpath) is None:
        missing = _run([RUN_SLURM, "x.log", "true"], tmp_path, no_slurm)
        assert missing.returncode == 1 and "sbatch not found" in missing.stderr
    assert Path(tmp_path / "l" / "f.1.log").read_text().count("# Ended (code 0)") == 1


def test_espnet2_launch_drives_both_backends(tmp_path, fake_sbatch):
    """espnet2.bin.launch's two paths used by bljust.sh: one node with several GPUs
    through run_local.sh, several nodes through slurm.pl (its srun branch)."""
    launch = [sys.executable, "-m", "espnet2.bin.launch"]
    one = _run(launch + ["--cmd", f"{RUN_LOCAL} --name t", "--log", "one.log", "--ngpu", "2",
                         "--num_nodes", "1", "--", "echo", "train"], tmp_path)  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert "train --ngpu 2 --multiprocessing_distributed True" in (tmp_path / "one.log").read_text()

    bindir = Path(fake_sbatch["PATH"].split(os.pathsep)[0])
    (bindir / "srun").write_text('#!/usr/bin/env bash\necho "srun: $*"\n')
    (bindir / "srun").chmod(0o755)
    many = _run(launch + ["--cmd", str(REPO / "local" / "slurm.pl"), "--log", "many.log",
                          "--ngpu", "2", "--num_nodes", "2", "--init_file_prefix",
                          str(tmp_path / ".dist_init_"), "--", "echo", "train"],
                tmp_path, fake_sbatch)  # fmt: skip
    assert many.returncode == 0, many.stderr
    log = (tmp_path / "many.log").read_text()
    assert "srun: --export=ALL echo train --ngpu 2" in log and "--dist_launcher slurm" in log
    call = (tmp_path / "calls.txt").read_text().split()
    assert "--nodes=2" in call and "--gres=gpu:2" in call and "--cpus-per-task=2" in call
