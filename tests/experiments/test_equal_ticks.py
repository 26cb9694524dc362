"""The equal-ticks plan: run order and budgets in steps."""

from espnet_bljust.bin import compare_strategies
from espnet_bljust.experiments import equal_ticks
from espnet_bljust.experiments.budget import planned_steps


def test_costliest_run_of_a_seed_starts_first(fsdd_root, tmp_path):
    """bljust takes a lower step beside each joint upper step; the plan starts
    it first within each seed (seed-major still: a stopped comparison holds
    whole seeds), so that runs at --jobs 2 end close together."""
    from espnet_bljust.corpora.fsdd import make_fsdd_split

    assert planned_steps("supervised", 100, 0.2, 0.1) == 100
    assert planned_steps("just", 100, 0.2, 0.1) == 100
    assert planned_steps("bljust", 100, 0.2, 0.1) == 170
    assert planned_steps("bljust", 100, 0.2, 0.0, lower_steps_per_upper=2) == 260
    make_fsdd_split(fsdd_root, tmp_path / "src", 1, 1, 1, 1, speakers=["george"])
    args = compare_strategies.get_parser().parse_args([
        "--data_dir", str(tmp_path / "src"), "--out_dir", str(tmp_path / "cmp"),
        "--strategies", "supervised pt_ft just bljust", "--seeds", "1 2"])  # fmt: skip
    order = [(run["seed"], run["strategy"]) for run in equal_ticks.plan_runs(args)]
    assert order == [(1, "bljust"), (1, "supervised"), (1, "pt_ft"), (1, "just"),
                     (2, "bljust"), (2, "supervised"), (2, "pt_ft"), (2, "just")]
