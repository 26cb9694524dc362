"""A harness run cut between two epochs continues from its last checkpoint."""

import yaml

from conftest import train_args
from espnet_bljust.experiments.training import saved_epochs, train_run

PLAN = [
    "--strategy", "bljust", "--num_iters_per_epoch", "3", "--phase_unit", "tick",
    "--exploration_len", "2", "--joint_len", "-1", "--finetune_len", "0",
    "--lower_steps_per_upper", "2", "--upper_unsup_source", "unlabeled",
    "--scheduler_conf", "warmup_steps=5", "--lower_scheduler_conf", "warmup_steps=5",
]  # fmt: skip


def argv(data, exp, *extra):
    return train_args(data, exp, *PLAN, *extra)


def test_a_cut_run_resumes_and_a_changed_one_starts_anew(fsdd_small, tmp_path):
    exp = tmp_path / "run"
    # The first call stops after 2 of the run's 3 epochs (what a stopped harness leaves).
    first = train_run(argv(fsdd_small, exp, "--max_epoch", "2"), str(exp))
    assert first["ticks"] == 6 and "resumed_after_epoch" not in first
    whole = argv(fsdd_small, exp, "--max_epoch", "3")
    assert saved_epochs(whole, exp) == 2

    resumed = train_run(whole, str(exp), resume=True)
    assert resumed["resumed_after_epoch"] == 2
    assert resumed["ticks"] == 9 and resumed["lower_steps"] == first["lower_steps"] + 3 * 2
    assert sorted(resumed["epochs"]) == [1, 2, 3]
    for epoch in (1, 2):  # the kept epochs are the first call's, not trained again
        assert resumed["epochs"][epoch]["train"] == first["epochs"][epoch]["train"]
    kept_s = sum(first["epochs"][e][g]["time"] for e in (1, 2) for g in ("train", "valid"))
    assert resumed["train_wall_s"] > kept_s

    # Another seed is another run: the saved one is removed, not continued.
    other = argv(fsdd_small, exp, "--max_epoch", "1", "--seed", "1")
    assert saved_epochs(other, exp) == 0
    anew = train_run(other, str(exp), resume=True)
    assert "resumed_after_epoch" not in anew and sorted(anew["epochs"]) == [1]
    assert anew["ticks"] == 3
    assert yaml.safe_load((exp / "config.yaml").read_text())["seed"] == 1
    assert not (exp / "3epoch.pth").exists()
