"""A harness run cut mid-way continues from its last epoch checkpoint; one with
other options, a failed one or one without a usable checkpoint starts anew."""

import json
import time

import yaml

from conftest import train_args
from espnet_bljust.experiments.resume import RECORD, saved_epochs
from espnet_bljust.experiments.runs import ChildRun
from espnet_bljust.experiments.schedule import run_jobs
from espnet_bljust.experiments.training import train_run

EPOCHS = 6
PLAN = [
    "--strategy", "bljust", "--num_iters_per_epoch", "3", "--phase_unit", "tick",
    "--exploration_len", "2", "--joint_len", "-1", "--finetune_len", "0",
    "--lower_steps_per_upper", "2", "--upper_unsup_source", "unlabeled",
    "--scheduler_conf", "warmup_steps=5", "--lower_scheduler_conf", "warmup_steps=5",
]  # fmt: skip


def argv(data, exp, *extra):
    return train_args(data, exp, *PLAN, "--max_epoch", str(EPOCHS), *extra)


def cut_run(data, exp, tmp_path):
    """Start the run in a child process as the harness does; kill it once its
    first epoch is saved (as a stopped harness leaves it)."""
    child = ChildRun("espnet_bljust.experiments.training:train_run",
                     dict(argv=argv(data, exp), exp=str(exp), resume=True),
                     tmp_path / "cut.log").start()  # fmt: skip
    deadline = time.monotonic() + 300
    while not (exp / "1epoch.pth").exists() and child.process.is_alive():
        assert time.monotonic() < deadline, "no epoch saved in 300 s"
        time.sleep(0.02)
    child.stop()


def test_a_cut_run_continues_where_it_stopped(fsdd_small, tmp_path):
    whole = train_run(argv(fsdd_small, tmp_path / "whole"), str(tmp_path / "whole"))
    exp = tmp_path / "cut"
    cut_run(fsdd_small, exp, tmp_path)
    kept = saved_epochs(argv(fsdd_small, exp), exp)
    assert 1 <= kept < EPOCHS, "the child was not cut mid-way"

    resumed = train_run(argv(fsdd_small, exp), str(exp), resume=True)
    assert resumed["resumed_after_epoch"] == kept
    assert sorted(resumed["epochs"]) == list(range(1, EPOCHS + 1))
    for key in ("ticks", "lower_steps", "upper_steps", "joint_upper_steps"):
        assert resumed[key] == whole[key], key
    assert json.loads((exp / RECORD).read_text())["argv"] == argv(fsdd_small, exp)

    # What the trainer's resume check lets change, but changes a harness run: anew.
    assert saved_epochs(argv(fsdd_small, exp), exp) == EPOCHS
    assert saved_epochs(argv(fsdd_small, exp, "--max_epoch", str(EPOCHS + 1)), exp) == 0
    assert saved_epochs(argv(fsdd_small, exp, "--keep_nbest_models", "3"), exp) == 0
    assert saved_epochs(argv(fsdd_small, exp, "--seed", "1"), exp) == 0
    # A checkpoint whose epoch file espnet2 had not yet written: anew.
    (exp / f"{EPOCHS}epoch.pth").rename(exp / "aside.pth")
    assert saved_epochs(argv(fsdd_small, exp), exp) == 0
    (exp / "aside.pth").rename(exp / f"{EPOCHS}epoch.pth")
    # A checkpoint that fails its checksum is not the one continued from.
    sidecar = exp / "checkpoint.pth.sha256"
    sidecar.write_text("0" * 64 + "  checkpoint.pth\n")
    assert saved_epochs(argv(fsdd_small, exp), exp) < EPOCHS


def test_a_run_with_other_options_starts_anew(fsdd_small, tmp_path):
    exp = tmp_path / "run"
    first = train_run(argv(fsdd_small, exp, "--max_epoch", "1"), str(exp))
    assert first["ticks"] == 3 and "resumed_after_epoch" not in first
    anew = train_run(argv(fsdd_small, exp, "--max_epoch", "1", "--seed", "1"), str(exp),
                     resume=True)  # fmt: skip
    assert "resumed_after_epoch" not in anew and anew["ticks"] == 3
    assert yaml.safe_load((exp / "config.yaml").read_text())["seed"] == 1


def test_a_failed_job_is_run_anew_a_stopped_one_continues(tmp_path):
    """run_jobs: a job with ``resume`` keeps it unless its saved record failed."""
    def job(name):
        return dict(name=name, target="builtins:dict", kwargs=dict(resume=True),
                    log=tmp_path / f"{name}.log", result=tmp_path / f"{name}.json", key=name)  # fmt: skip

    (tmp_path / "failed.json").write_text(json.dumps(dict(key="failed", ok=False, error="x")))
    records = run_jobs([job("failed"), job("stopped")], 1, 0)
    assert records["failed"]["value"] == dict(resume=False)
    assert records["stopped"]["value"] == dict(resume=True)


def test_a_gpu_job_is_spawned_not_forked_from_the_preloaded_server(tmp_path):
    """A job marked ``gpu`` starts in a spawned process (importing espnet2 in
    the fork server initializes CUDA where there is a GPU, and a forked child
    cannot use it); a training argv with --ngpu 1 marks its protocol job so."""
    from espnet_bljust.experiments.protocol_run import train_job

    jobs = [dict(name=n, target="multiprocessing:current_process", kwargs={},
                 log=tmp_path / f"{n}.log", result=tmp_path / f"{n}.json", key=n, gpu=gpu)
            for n, gpu in (("forked", False), ("spawned", True))]  # fmt: skip
    records = run_jobs(jobs, 2, 0)
    assert all(r["ok"] for r in records.values())
    starts = {n: ChildRun("os:getpid", {}, tmp_path / f"{n}.probe.log", 0, gpu=g).process
              for n, g in (("forked", False), ("spawned", True))}  # fmt: skip
    assert starts["spawned"]._start_method == "spawn"
    assert starts["forked"]._start_method == "forkserver"
    assert train_job("r", ["--ngpu", "0", "--ngpu", "1"], tmp_path / "r")["gpu"] is True
    assert train_job("r", ["--ngpu", "0"], tmp_path / "r")["gpu"] is False
