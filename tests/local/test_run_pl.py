"""The vendored Kaldi job backends: local/run.pl for real (job arrays, logs, exit
codes, as bljust.sh and espnet2.bin.launch call it), local/slurm.pl with the shared
conf/slurm.conf turned into sbatch options, and the recipes' links to them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

RUN_PL = REPO / "local" / "run.pl"
SLURM_PL = REPO / "local" / "slurm.pl"
RECIPES = sorted(p.parent for p in (REPO / "egs2").glob("*/bljust1/bljust.sh"))

pytestmark = pytest.mark.skipif(shutil.which("perl") is None, reason="Kaldi's run.pl needs perl")


def _run(cmd, cwd, env=None):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True)  # fmt: skip


def test_job_array_substitutes_job_in_logs_and_command(tmp_path):
    done = _run([RUN_PL, "--gpu", "0", "JOB=1:3", "log/echo.JOB.log",
                 "echo", "job", "JOB", "a b", "|", "tr", "a-z", "A-Z"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for i in (1, 2, 3):
        log = (tmp_path / "log" / f"echo.{i}.log").read_text()
        assert f"JOB {i} A B\n" in log  # the pipe ran; "a b" stayed one word
        assert log.startswith(f"# echo job {i} ") and "# Ended (code 0)" in log
        assert "# Accounting: time=" in log
    assert not (tmp_path / "log" / "echo.JOB.log").exists()


def test_failed_jobs_give_a_nonzero_exit_and_name_their_logs(tmp_path):
    done = _run([RUN_PL, "JOB=1:3", "log/x.JOB.log", "test", "JOB", "-eq", "2"], tmp_path)
    assert done.returncode == 1
    assert "2 / 3 failed" in done.stderr and "log/x.*.log" in done.stderr
    assert "# Ended (code 1)" in (tmp_path / "log" / "x.3.log").read_text()
    assert "# Ended (code 1)" in (tmp_path / "log" / "x.1.log").read_text()
    assert "# Ended (code 0)" in (tmp_path / "log" / "x.2.log").read_text()
    single = _run([RUN_PL, "one.log", "false"], tmp_path)
    assert single.returncode == 1 and "one.log" in single.stderr


def test_max_jobs_run_runs_them_all(tmp_path):
    done = _run([RUN_PL, "--max-jobs-run", "1", "JOB=1:4", "l/s.JOB.log",
                 "echo", "JOB", ">>", "order.txt"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted((tmp_path / "order.txt").read_text().split()) == ["1", "2", "3", "4"]


def test_espnet2_launch_runs_a_multi_gpu_job_through_run_pl(tmp_path):
    """bljust.sh's stage 11 with --ngpu > 1 on one node: espnet2.bin.launch + run.pl."""
    launch = [sys.executable, "-m", "espnet2.bin.launch"]
    done = _run(launch + ["--cmd", str(RUN_PL), "--log", "train.log", "--ngpu", "2",
                          "--num_nodes", "1", "--", "echo", "train"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "train --ngpu 2 --multiprocessing_distributed True" in (tmp_path / "train.log").read_text()


def test_slurm_pl_turns_the_shared_config_into_sbatch_options(tmp_path):
    """A stand-in sbatch records its options and runs the job script as Slurm would."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sbatch").write_text(
        "#!/usr/bin/env bash\n"
        'echo "$*" >> "${FAKE_SBATCH_CALLS}"\n'
        'prev=""; for a; do [ "${prev}" = --array ] && range="${a%%%*}"; prev="${a}"; done\n'
        'script="${prev}"\n'
        'for i in $(seq "${range%-*}" "${range#*-}"); do SLURM_ARRAY_TASK_ID=$i bash "${script}"; done\n'
        'echo "Submitted batch job 4242"\n'
    )
    (bindir / "squeue").write_text("#!/usr/bin/env bash\nexit 0\n")
    (tmp_path / "path.sh").write_text("")  # the job script sources the recipe's path.sh
    for tool in ("sbatch", "squeue"):
        (bindir / tool).chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
               FAKE_SBATCH_CALLS=str(tmp_path / "calls.txt"))  # fmt: skip
    done = _run([SLURM_PL, "--config", REPO / "conf" / "slurm.conf", "--gpu", "2", "--mem", "4G",
                 "--time", "1:00:00", "--num_threads", "3", "JOB=1:2", "exp/log/t.JOB.log",
                 "echo", "task", "JOB"], tmp_path, env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.txt").read_text()
    for opt in ("--export=ALL", "--gres=gpu:2", "--mem 4G", "--time 1:00:00",
                "--cpus-per-task 3", "--array 1-2"):  # fmt: skip
        assert opt in calls, opt
    for i in (1, 2):
        assert f"task {i}\n" in (tmp_path / "exp" / "log" / f"t.{i}.log").read_text()


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.parent.name for p in RECIPES])
def test_recipes_share_the_backends_and_cmd_sh(recipe):
    assert (recipe / "utils").is_symlink()
    assert (recipe / "utils" / "run.pl").resolve() == RUN_PL.resolve()
    if recipe.parent.name != "TEMPLATE":
        assert os.readlink(recipe / "cmd.sh") == "../../TEMPLATE/bljust1/cmd.sh"
        assert os.readlink(recipe / "bljust.sh") == "../../TEMPLATE/bljust1/bljust.sh"


def test_cmd_sh_picks_the_backend(tmp_path):
    cmd_sh = REPO / "egs2" / "TEMPLATE" / "bljust1" / "cmd.sh"

    def source(backend):
        return subprocess.run(
            ["bash", "-c", f'. "{cmd_sh}" && echo "$train_cmd|$cuda_cmd|$decode_cmd"'],
            env=dict(os.environ, cmd_backend=backend, BLJUST_ROOT=str(REPO)),
            capture_output=True, text=True)  # fmt: skip

    assert source("local").stdout.strip() == "utils/run.pl|utils/run.pl|utils/run.pl"
    slurm = source("slurm").stdout.strip().split("|")
    assert all(c.startswith(f"utils/slurm.pl --config {REPO}/conf/slurm.conf ") for c in slurm)
    bad = source("pbs")
    assert bad.returncode != 0 and "unknown cmd_backend=pbs" in bad.stderr
