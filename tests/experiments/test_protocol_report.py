"""The protocol report prints no test number decoded under another protocol."""

from espnet_bljust.experiments.argv import REPO
from espnet_bljust.experiments.protocol import load_protocol
from espnet_bljust.experiments.protocol_report import compute_spread, table, current_test

PROTOCOL = REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "protocol.yaml"


def _run(strategy, seed, sha, wer):
    return dict(strategy=strategy, seed=seed, passes=3000 - seed, ticks=1400, lower_steps=1400,
                upper_steps=800, train_loop_s=60.0, dev_curve=[(1500, 0.3), (3000, 0.2)],
                test=dict(protocol_sha256=sha, test_wer=wer, test_wer_lm=wer / 2))  # fmt: skip


def test_test_numbers_of_another_protocol_are_withheld():
    protocol = load_protocol(PROTOCOL)
    runs = [_run("bljust", 1, protocol.sha256, 20.0), _run("bljust", 2, protocol.sha256, 30.0),
            _run("just", 1, "0" * 64, 11.0), _run("just", 2, protocol.sha256, 12.0)]  # fmt: skip
    assert current_test(runs[0], protocol) and current_test(runs[2], protocol) is None
    rows = {line.split("|")[1].strip(): line for line in table(protocol, runs).splitlines()[2:]}
    assert "| bljust | 2 | 25.0 ± 7.1 | 12.5 ± 3.5 | 20.0 ± 0.0 |" in rows["bljust"]
    assert "withheld (1 runs of another protocol)" in rows["just"]
    assert "11.0" not in rows["just"] and "12.0" not in rows["just"]
    assert "| supervised | 0 | – | – |" in rows["supervised"]
    assert compute_spread(runs) == 2999 / 2998


def test_runs_continued_after_a_stop_are_named():
    from espnet_bljust.experiments.protocol_report import resumed_line

    runs = [dict(strategy="bljust", seed=2, resumed_after_epoch=11), dict(strategy="just", seed=3)]
    line = resumed_line(runs)
    assert "bljust seed 2 (after epoch 11)" in line and "seed 3" not in line
    assert resumed_line(runs[1:]) == ""
