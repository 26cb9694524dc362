"""The protocol report: no test number decoded under another protocol; the
ratios name the seeds they pool; the shorter-training line per seed; the
per-seed table; the commits of the runs; the chosen trials' knobs."""

import pytest

from espnet_bljust.experiments.argv import REPO
from espnet_bljust.experiments.protocol import load_protocol
from espnet_bljust.experiments.protocol_report import (
    chosen_text,
    commits_line,
    compute_spread,
    current_test,
    per_seed_table,
    ratio_lines,
    shorter_training_line,
    table,
)

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
    assert ("| bljust | 2 | 25.0 ± 7.1 | 12.5 ± 3.5 | 20.0 ± 0.0 | 2998/2999 | 1400 | 1400 | "
            "800 | 60.0 ± 0.0 |") in rows["bljust"]  # fmt: skip
    assert "withheld (1 run of another protocol)" in rows["just"]
    assert "11.0" not in rows["just"] and "12.0" not in rows["just"]
    assert "| supervised | 0 | – | – |" in rows["supervised"]
    assert compute_spread(runs) == 2999 / 2998


def test_runs_continued_after_a_stop_are_named():
    from espnet_bljust.experiments.protocol_report import resumed_line

    runs = [dict(strategy="bljust", seed=2, resumed_after_epoch=11), dict(strategy="just", seed=3)]
    line = resumed_line(runs)
    assert "bljust seed 2 (after epoch 11)" in line and "seed 3" not in line
    assert resumed_line(runs[1:]) == ""


REFERENCE = {f"u{i:02d}": "ONE TWO" for i in range(40)}


def _test_run(tmp_path, strategy, seed, sha, deletions, extra=None):
    """A run whose recorded test hypotheses drop one word of the first
    ``deletions`` utterances (CTC) and of half as many with the LM."""
    ref = tmp_path / "ref_text"
    ref.write_text("".join(f"{u} {t}\n" for u, t in REFERENCE.items()))

    def texts(n):
        return {u: "ONE" if i < n else t for i, (u, t) in enumerate(REFERENCE.items())}

    test = dict(protocol_sha256=sha, ref=str(ref), hyp="hyp/text", hyp_lm="hyp_lm/text",
                hyp_texts=dict(texts(deletions), **(extra or {})),
                hyp_lm_texts=texts(deletions // 2))  # fmt: skip
    return dict(strategy=strategy, seed=seed, test=test)


def test_ratio_lines_name_the_seeds_they_pool(tmp_path):
    protocol = load_protocol(PROTOCOL)  # seeds 1-5
    sha = protocol.sha256
    runs = [_test_run(tmp_path, s, seed, sha, n) for seed in (1, 2) for s, n in
            (("bljust", 4), ("pt_ft", 8), ("supervised", 10), ("just", 6))]  # fmt: skip
    runs.append(_test_run(tmp_path, "pt_ft", 3, sha, 40))  # only pt_ft has seed 3
    lines = ratio_lines(protocol, runs)
    assert "the 6 ratios are one family, Holm-corrected" in lines[0]
    assert lines[1] == ("- ratios (CTC) pool seeds 1, 2; NOT seeds 3, 4, 5 (a strategy has no "
                        "current test there): WERs in these lines differ from the table's")  # fmt: skip
    assert lines[2].startswith("- ratios (CTC + LM) pool seeds 1, 2; NOT seeds 3, 4, 5")
    ratios = lines[3:]
    assert len(ratios) == 6 and all("(of 6)" in line for line in ratios)
    # 4 of 80 words against 8 of 80 on each pooled seed (pt_ft's seed 3 left out)
    assert ratios[0].startswith("- BL-JUST / pt_ft (CTC): 5.0 / 10.0 = 0.500, 95% interval "
                                "(unadjusted) [")  # fmt: skip
    assert ratios[4].startswith("- BL-JUST / supervised (CTC + LM): 2.5 / 6.2 = 0.400")
    # every strategy on every protocol seed: nothing flagged
    full = [_test_run(tmp_path, s, seed, sha, n) for seed in protocol.seeds for s, n in
            (("bljust", 4), ("pt_ft", 8), ("supervised", 10), ("just", 6))]  # fmt: skip
    assert ratio_lines(protocol, full)[1] == "- ratios (CTC) pool seeds 1, 2, 3, 4, 5"


def test_a_hypothesis_the_reference_lacks_is_an_error(tmp_path):
    protocol = load_protocol(PROTOCOL)
    runs = [_test_run(tmp_path, "bljust", 1, protocol.sha256, 4, extra={"x99": "ONE"}),
            _test_run(tmp_path, "pt_ft", 1, protocol.sha256, 8)]  # fmt: skip
    with pytest.raises(ValueError, match="utterance x99 is not in"):
        ratio_lines(protocol, runs)


def test_a_recorded_wer_its_hypotheses_do_not_give_is_an_error(tmp_path):
    protocol = load_protocol(PROTOCOL)
    runs = [_test_run(tmp_path, "bljust", 1, protocol.sha256, 4),
            _test_run(tmp_path, "pt_ft", 1, protocol.sha256, 8)]  # fmt: skip
    runs[0]["test"]["test_wer"] = 5.0  # 4 of 80 words: the record agrees
    runs[1]["test"]["test_wer"] = 12.0  # 8 of 80 words score 10%: a changed reference
    with pytest.raises(ValueError, match="recorded test WER 12.0000% but its hypotheses score "
                                         "10.0000%"):  # fmt: skip
        ratio_lines(protocol, runs)
    runs[1]["test"]["test_wer"] = 10.0
    assert ratio_lines(protocol, runs)[3].startswith("- BL-JUST / pt_ft (CTC): 5.0 / 10.0")
    (tmp_path / "ref_text").unlink()
    with pytest.raises(ValueError, match="ref_text is missing"):
        ratio_lines(protocol, runs)


def test_per_seed_table_gives_every_run_and_its_lm_weight():
    protocol = load_protocol(PROTOCOL)  # seeds 1-5
    runs = [_run("bljust", 1, protocol.sha256, 20.0), _run("just", 1, "0" * 64, 11.0),
            _run("bljust", 2, protocol.sha256, 30.0)]  # fmt: skip
    runs[0]["test"]["lm_weight"], runs[2]["test"]["lm_weight"] = 4.0, 0.5
    rows = per_seed_table(protocol, runs).splitlines()
    assert rows[0] == "| seed | " + " | ".join(protocol.strategies) + " |"
    cells = {seed: row.split(" | ") for seed, row in zip(protocol.seeds, rows[2:])}
    column = protocol.strategies.index("bljust") + 1
    assert cells[1][column].strip(" |") == "20.0 / 10.0 (4)"
    assert cells[2][column].strip(" |") == "30.0 / 15.0 (0.5)"
    assert cells[1][protocol.strategies.index("just") + 1].strip(" |") == "withheld"
    assert cells[3][column].strip(" |") == "–" and len(rows) == 2 + len(protocol.seeds)


def test_commits_line_names_each_jobs_commit():
    sha = "0123456789abcdef0123456789abcdef01234567"
    runs = [dict(strategy="bljust", seed=1, commits=dict(train=None, test=sha)),
            dict(strategy="bljust", seed=2, commits=dict(train=sha + "+dirty", test=sha))]
    assert commits_line(runs) == (
        "Commits the final runs' jobs ran at (strategy seed): training 0123456+dirty (bljust 2), "
        "not recorded (bljust 1); test decoding 0123456 (all).\n")
    assert commits_line([dict(strategy="just", seed=1)]) == ""


def test_commits_line_names_the_checkout_only_where_the_package_differed():
    import subprocess

    from espnet_bljust.experiments.argv import REPO

    def commits(*args):
        return subprocess.run(["git", "log", "--format=%H", *args], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.split()  # fmt: skip

    # the last two commits that changed the package; the later one's parent has the package
    # as the earlier one left it (e.g. a ledger commit in between)
    changed, before = commits("-n", "2", "--", "espnet_bljust")
    parent = commits("-n", "1", f"{changed}^")[0]
    runs = [dict(strategy="bljust", seed=1, commits=dict(test=parent), checkouts=dict(test=before)),
            dict(strategy="just", seed=1, commits=dict(test=before), checkouts=dict(test=changed))]
    assert commits_line(runs) == (
        "Commits the final runs' jobs ran at (strategy seed): test decoding "
        + ", ".join(sorted([f"{parent[:7]} (bljust 1)",
                            f"{before[:7]} (modules not preloaded: {changed[:7]}) (just 1)"]))
        + ".\n")


def test_chosen_text_gives_the_knobs_its_strategy_uses():
    chosen = dict(name="x_t3", train_args="--lr 0.002", exploration_frac=0.2, finetune_frac=0.2,
                  lower_steps_per_upper=1, dev_cer=39.72)  # fmt: skip
    assert chosen_text("supervised", chosen) == "x_t3 (--lr 0.002; dev CER 39.7%)"
    assert chosen_text("pt_ft", chosen) == "x_t3 (--lr 0.002, pre-training 0.2; dev CER 39.7%)"
    assert chosen_text("just", dict(chosen, train_args="")) == (
        "x_t3 (defaults, exploration 0.2, fine-tune 0.2; dev CER 39.7%)")
    assert chosen_text("bljust", chosen).endswith("fine-tune 0.2, K 1; dev CER 39.7%)")


def _curve_run(strategy, seed, curve):
    return dict(strategy=strategy, seed=seed, dev_curve=curve)


def test_shorter_training_line_gives_each_seed():
    runs = [_curve_run("pt_ft", 1, [(1000, 0.5), (2000, 0.4), (3000, 0.45)]),
            _curve_run("pt_ft", 2, [(1000, 0.5), (2000, 0.4), (3000, 0.45)]),
            _curve_run("bljust", 1, [(1000, 0.35), (2000, 0.3), (3000, 0.3)]),
            _curve_run("bljust", 2, [(1000, 0.44), (2000, 0.39), (3000, 0.42)])]  # fmt: skip
    assert shorter_training_line(runs) == (
        "- shorter training: PT+FT's best mean dev CER (the lowest point of its mean curve) "
        "40.0% is reached by BL-JUST after 1000 "
        "passes, by PT+FT after 2000: ratio 0.50. Each seed's own curve, passes to reach it: "
        "BL-JUST seed 1 1000, seed 2 2000; PT+FT seed 1 2000, seed 2 2000")
    # PT+FT's seeds share no compute range: no mean curve, no figure, no crash
    apart = [_curve_run("pt_ft", 1, [(1000, 0.5), (2000, 0.4)]),
             _curve_run("pt_ft", 2, [(2500, 0.5), (3000, 0.4)]), runs[2]]  # fmt: skip
    assert shorter_training_line(apart) == (
        "- shorter training: not computed (no dev curve of the reference strategy 'pt_ft')")


def test_a_run_without_passes_is_refused():
    with pytest.raises(ValueError, match="a run made 0 encoder passes"):
        compute_spread([dict(passes=3000), dict(passes=0)])
