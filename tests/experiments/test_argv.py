"""The phase options of each strategy under the shared plan."""

from espnet_bljust.experiments.argv import strategy_argv


def test_strategy_phases_share_one_plan():
    assert strategy_argv("supervised", 100, 0.2, 0.1) == [
        "--strategy", "supervised", "--phase_unit", "tick"]  # fmt: skip
    pt_ft = strategy_argv("pt_ft", 100, 0.2, 0.1)
    assert pt_ft[pt_ft.index("--exploration_len") + 1] == "20"
    bl = strategy_argv("bljust", 100, 0.2, 0.1, lower_steps_per_upper=2)
    assert bl[bl.index("--exploration_len") + 1] == "20"
    assert bl[bl.index("--finetune_len") + 1] == "10"
    assert bl[bl.index("--lower_steps_per_upper") + 1] == "2"


def test_just_and_bljust_get_the_papers_penalty():
    """The harness passes --upper_unsup_source unlabeled to just and bljust
    (g on an unlabeled batch in every joint tick, f on the clean pass)."""
    for strategy in ("just", "bljust"):
        argv = strategy_argv(strategy, 100, 0.2, 0.1)
        assert argv[argv.index("--upper_unsup_source") + 1] == "unlabeled"
    assert "--upper_unsup_source" not in strategy_argv("pt_ft", 100, 0.2, 0.1)
    shared = strategy_argv("just", 100, 0.2, 0.1, upper_unsup_source="labeled_shared")
    assert shared[shared.index("--upper_unsup_source") + 1] == "labeled_shared"
