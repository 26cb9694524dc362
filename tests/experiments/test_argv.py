"""The phase options of each strategy under the shared plan."""

from espnet_bljust.experiments.argv import strategy_argv


def test_strategy_phases_share_one_plan():
    assert strategy_argv("supervised", 100, 0.2, 0.1) == [
        "--strategy", "supervised", "--phase_unit", "step"]  # fmt: skip
    pt_ft = strategy_argv("pt_ft", 100, 0.2, 0.1)
    assert pt_ft[pt_ft.index("--exploration_len") + 1] == "20"
    bl = strategy_argv("bljust", 100, 0.2, 0.1, lower_steps_per_upper=2)
    assert bl[bl.index("--exploration_len") + 1] == "20"
    assert bl[bl.index("--finetune_len") + 1] == "10"
    assert bl[bl.index("--lower_steps_per_upper") + 1] == "2"
