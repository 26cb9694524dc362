"""The comparison table and target lines from run dicts."""

from espnet_bljust.experiments.report import target_lines, mean_std, paired_difference, results_table


def test_mean_std_over_seeds():
    assert mean_std([10.0]) == "10.0"
    assert mean_std([10.0, 20.0]) == "15.0 ± 7.1"
    assert mean_std([]) == "–"


def test_failed_runs_keep_their_row():
    table = results_table([dict(labeled=60, strategy="bljust", seed=1, ok=False)])
    assert "| 60 | bljust | 0/1 (failed) |" in table


def _scored(strategy, seed, wer, wer_ave=None):
    run = dict(labeled=120, strategy=strategy, seed=seed, ok=True, test_wer=wer, test_cer=wer / 2,
               epochs={1: {"valid": {"cer_ctc": 0.1}}}, ticks=10, lower_steps=2,
               upper_steps=8, train_loop_s=1.0, train_wall_s=2.0, train_peak_rss_mb=500.0)  # fmt: skip
    if wer_ave is not None:
        run.update(test_wer_ave=wer_ave, test_cer_ave=wer_ave / 2)
    return run


def test_target_lines_pair_the_seeds():
    runs = [_scored("pt_ft", 1, 30.0), _scored("pt_ft", 2, 20.0), _scored("pt_ft", 3, 40.0),
            _scored("bljust", 1, 20.0), _scored("bljust", 2, 18.0),
            _scored("supervised", 1, 40.0)]  # fmt: skip
    lines = target_lines(runs).splitlines()
    # the ratio of the means and the pairs on the seeds both finished (pt_ft's
    # seed 3 is left out: over all its seeds its mean would be 30.0)
    assert lines[0].startswith("- 120 labeled, best dev checkpoint, seeds 1, 2: BL-JUST WER / "
                               "pt_ft WER = 19.0 / 25.0 = 0.76 (point estimate against the "
                               "target ≤ 0.85: met)")  # fmt: skip
    assert "per seed BL-JUST - pt_ft = -6.0 ± 5.7 WER points (paired t = -1.50, p = 0.374)" in lines[0]
    assert lines[0].endswith("better on 2 of 2 seeds")
    assert lines[1].startswith("- 120 labeled, best dev checkpoint, seeds 1: BL-JUST WER / "
                               "supervised WER = 20.0 / 40.0 = 0.50 (point estimate against the "
                               "target ≤ 0.7: met); per seed BL-JUST - supervised = -20.0 "
                               "WER points, better on 1 of 1 seeds")  # fmt: skip
    assert len(lines) == 2  # no averaged decodes: no n-best lines


def test_paired_difference_without_spread():
    assert paired_difference([-2.0, -2.0]) == "-2.0 WER points"
    assert paired_difference([1.0, 3.0]).startswith("+2.0 ± 1.4 WER points (paired t = 2.00, p = 0.295)")


def test_table_and_targets_carry_the_nbest_average():
    runs = [_scored("pt_ft", 1, 30.0, 28.0), _scored("bljust", 1, 20.0, 14.0)]
    table = results_table(runs)
    assert "| test WER, n-best average (%) | test CER, n-best average (%) |" in table
    assert "| 120 | bljust | 1 | 20.0 | 10.0 | 14.0 | 7.0 | 10.0 |" in table
    header, rule = table.splitlines()[:2]
    assert header.count("|") == rule.count("|")
    failed = results_table(runs + [dict(labeled=120, strategy="just", seed=1, ok=False)])
    assert "| 120 | just | 0/1 (failed) |" + " – |" * 11 in failed
    lines = target_lines(runs).splitlines()
    assert any(line.startswith("- 120 labeled, n-best average, seeds 1: BL-JUST WER / pt_ft WER "
                               "= 14.0 / 28.0 = 0.50") for line in lines)  # fmt: skip


def test_table_and_targets_carry_the_lm_decoding():
    runs = [_scored("supervised", 1, 30.0), _scored("bljust", 1, 20.0)]
    runs[0].update(test_wer_lm=18.0, test_cer_lm=12.0, lm_weight=1.0)
    runs[1].update(test_wer_lm=9.0, test_cer_lm=8.0, lm_weight=2.0)
    table = results_table(runs)
    assert "| test WER, LM (%) | test CER, LM (%) | LM weight (dev) | best dev CER (%) |" in table
    assert "| 120 | bljust | 1 | 20.0 | 10.0 | 9.0 | 8.0 | 2 | 10.0 |" in table
    lines = target_lines(runs).splitlines()
    assert any(line.startswith("- 120 labeled, best dev checkpoint + LM, seeds 1: BL-JUST WER / "
                               "supervised WER = 9.0 / 18.0 = 0.50 (point estimate against the "
                               "target ≤ 0.7: met)") for line in lines)  # fmt: skip
