"""WER-ratio intervals, Holm's correction and per-utterance errors, on inputs with known answers."""

import time

import numpy as np
import pytest

from espnet_bljust.bin.score import score, write_trn
from espnet_bljust.experiments import stats


def _errors(rng, rho, seed_sd, num_seeds=5, num_utts=300, shape=0.5):
    """(S, N) errors of A and B: utterance difficulty q ~ Gamma (mean 0.2 errors),
    a seed factor per system (log-normal, mean 1, sd ~ seed_sd), Poisson errors;
    the population WER ratio A / B is exactly rho."""
    q = rng.gamma(shape, 0.2 / shape, size=num_utts)
    factor = np.exp(seed_sd * rng.normal(size=(2, num_seeds)) - seed_sd**2 / 2)
    e_a = rng.poisson(rho * q * factor[0][:, None])
    e_b = rng.poisson(q * factor[1][:, None])
    return e_a, e_b


def test_identical_systems_give_ratio_one():
    rng = np.random.default_rng(0)
    e_a, _ = _errors(rng, 1.0, 0.1)
    same = stats.ratio_interval(e_a, e_a.copy(), np.ones(e_a.shape[1]))
    assert same.ratio == 1.0 and same.low == same.high == 1.0 and same.p_value == 1.0
    # two systems of equal quality (different errors): an interval around 1
    e_a, e_b = _errors(rng, 1.0, 0.1, num_utts=1000)
    equal = stats.ratio_interval(e_a, e_b, resamples=2000)
    assert equal.low < 1.0 < equal.high and 0.1 < equal.p_value < 0.9
    assert 0.85 < equal.ratio < 1.15


def test_clearly_better_system_has_interval_below_one():
    rng = np.random.default_rng(1)
    e_a, e_b = _errors(rng, 0.6, 0.1, num_utts=1000)
    ref = np.ones(1000, dtype=int)
    r = stats.ratio_interval(e_a, e_b, ref, names=("bljust", "pt_ft"))
    assert r.a == "bljust" and r.b == "pt_ft"
    assert r.low < r.ratio < r.high < 1.0 and r.p_value < 0.001
    assert r.ratio == pytest.approx(e_a.sum() / e_b.sum())
    assert r.wer_a == pytest.approx(100 * e_a.sum() / 5000) and r.wer_b > r.wer_a
    # the other way round: the reciprocal, far from significant
    back = stats.ratio_interval(e_b, e_a, ref)
    assert back.ratio == pytest.approx(1 / r.ratio) and back.low > 1.0 and back.p_value > 0.99


def test_upper_bound_and_p_value_agree_exactly():
    rng = np.random.default_rng(2)
    e_a, e_b = _errors(rng, 0.85, 0.1)
    r = stats.ratio_interval(e_a, e_b, resamples=999)
    for alpha in (0.001, 0.01, 0.025, 0.05, 0.1, r.p_value, r.p_value * 0.999, r.p_value * 1.001):
        assert (r.upper(alpha) < 1.0) == (r.p_value <= alpha), alpha
    assert r.upper(1e-4) == np.inf and r.lower(1e-4) == 0.0
    assert r.low == r.lower(0.025) and r.high == r.upper(0.025)


def test_coverage_of_a_known_ratio_is_about_95_percent():
    """200 simulated experiments (5 seeds x 300 utterances, seeds move the ratio by
    ~14%): the 95% interval covers the true ratio about 95% of the time; keeping the
    seeds fixed (the utterance-only bootstrap) misses it far more often."""
    rng = np.random.default_rng(3)
    rho, sims = 0.8, 200
    hits = {"matched": 0, "utts": 0, "pigeonhole": 0}
    for i in range(sims):
        e_a, e_b = _errors(rng, rho, 0.1)
        for method in hits:
            r = stats.ratio_interval(e_a, e_b, resamples=500, seed=i, method=method)
            hits[method] += r.low <= rho <= r.high
    coverage = {m: h / sims for m, h in hits.items()}
    assert 0.91 <= coverage["matched"] <= 0.985, coverage
    assert coverage["utts"] < coverage["matched"] - 0.02, coverage
    assert coverage["pigeonhole"] > 0.98, coverage  # the uncorrected two-way bootstrap: too wide


def test_10000_resamples_over_1000_utts_and_5_seeds_are_fast():
    rng = np.random.default_rng(4)
    e_a, e_b = _errors(rng, 0.9, 0.1, num_utts=1000)
    start = time.process_time()
    r = stats.ratio_interval(e_a, e_b, np.ones(1000), resamples=10000)
    assert time.process_time() - start < 2.0
    assert len(r.draws) == 10000 and np.all(np.diff(r.draws) >= 0)


def test_same_seed_same_resamples_and_shared_across_pairs():
    rng = np.random.default_rng(5)
    e_a, e_b = _errors(rng, 0.9, 0.1)
    e_c = rng.poisson(0.25, size=e_a.shape)
    runs = {}
    for name, e in (("bljust", e_a), ("pt_ft", e_b), ("supervised", e_c)):
        for s, seed in enumerate((11, 12, 13, 14, 15)):
            runs[(name, seed)] = {f"u{n:03d}": (int(e[s, n]), 1) for n in range(e.shape[1])}
    table = stats.error_table(runs)
    assert table.strategies == ["bljust", "pt_ft", "supervised"] and table.seeds == [11, 12, 13, 14, 15]
    assert table.wer("pt_ft") == pytest.approx(100 * e_b.mean())
    assert table.seed_wers("bljust") == pytest.approx(100 * e_a.mean(axis=1))
    both = stats.ratio_intervals(table, [("bljust", "pt_ft"), ("bljust", "supervised")], resamples=800)
    alone = stats.ratio_interval(e_a, e_b, np.ones(e_a.shape[1]), resamples=800)
    assert np.array_equal(both[0].draws, alone.draws) and both[0].ratio == alone.ratio
    assert both[1].b == "supervised" and both[1].ratio == pytest.approx(e_a.sum() / e_c.sum())


def test_error_table_refuses_unpaired_runs():
    good = {"u1": (0, 1), "u2": (1, 2)}
    with pytest.raises(ValueError, match=r"run \(b, seed 2\) missing"):
        stats.error_table({("a", 1): good, ("a", 2): good, ("b", 1): good})
    with pytest.raises(ValueError, match=r"run \(b, seed 1\) and run \(a, seed 1\) differ in utterance u2"):
        stats.error_table({("a", 1): good, ("b", 1): {"u1": (0, 1), "u3": (0, 1)}})
    with pytest.raises(ValueError, match=r"run \(b, seed 1\), utterance u2: reference length 3 != 2 in run \(a, seed 1\)"):
        stats.error_table({("a", 1): good, ("b", 1): {"u1": (0, 1), "u2": (0, 3)}})
    with pytest.raises(ValueError, match="not the same seeds x utterances"):
        stats.ratio_interval(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="method must be one of"):
        stats.ratio_interval(np.ones((2, 3)), np.ones((2, 3)), method="bca")


def test_holm_matches_a_hand_calculation():
    # sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> 0.06)
    adjusted = stats.holm([0.03, 0.01, 0.04, 0.02])
    assert adjusted == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # capped at 1, monotone in the sorted order, ties kept
    assert stats.holm([0.5, 0.5, 0.001]) == pytest.approx([1.0, 1.0, 0.003])
    assert stats.holm([0.2]) == pytest.approx([0.2])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        stats.holm([0.1, 1.5])


def _interval(p_value, draws):
    draws = np.sort(np.asarray(draws, dtype=float))
    return stats.RatioInterval("a", "b", float(np.median(draws)), 0.0, 0.0, p_value,
                               np.nan, np.nan, 0.95, draws)  # fmt: skip


def test_holm_family_bounds_follow_holms_decisions():
    rng = np.random.default_rng(6)
    # three comparisons from real bootstraps: clear, borderline, none
    sims = [(0.6, 1000), (0.9, 1000), (1.0, 300)]
    intervals = []
    for rho, n in sims:
        e_a, e_b = _errors(rng, rho, 0.05, num_utts=n)
        intervals.append(stats.ratio_interval(e_a, e_b, resamples=4000, seed=7))
    rows = stats.holm_family(intervals, alpha=0.05)
    adjusted = stats.holm([r.p_value for r in intervals])
    for row, r, p_adj in zip(rows, intervals, adjusted):
        assert row["p_holm"] == pytest.approx(p_adj) and row["rejected"] == (p_adj <= 0.05)
        assert (row["upper_simultaneous"] < 1.0) == (row["rejected"] and all(x["rejected"] for x in rows))
    assert rows[0]["rejected"] and not rows[2]["rejected"]
    kept = sum(not x["rejected"] for x in rows)
    for row, r in zip(rows, intervals):
        if row["rejected"]:
            assert row["upper_simultaneous"] == 1.0
        else:  # non-rejected: the bound at level 1 - alpha / |kept|, wider than the marginal one
            assert row["upper_simultaneous"] == r.upper(0.05 / kept) >= max(1.0, r.upper(0.05))

    # every comparison rejected: bounds at level 1 - alpha/m, capped at 1
    draws = np.linspace(0.5, 0.9, 999)
    rows = stats.holm_family([_interval(0.001, draws), _interval(0.001, draws * 1.05)], 0.05)
    assert [x["rejected"] for x in rows] == [True, True]
    assert rows[0]["upper_simultaneous"] == pytest.approx(np.sort(draws)[int(np.ceil(0.975 * 1000)) - 1])
    assert rows[1]["upper_simultaneous"] == min(1.0, _interval(0.001, draws * 1.05).upper(0.025))


def test_utterance_errors_add_up_to_score():
    ref = {"u1": "ONE TWO THREE", "u2": "FOUR", "u3": "FIVE SIX", "u4": "SEVEN"}
    hyp = {"u1": "ONE TOO THREE EIGHT", "u2": "", "u3": "FIVE SIX"}  # u4 missing: empty
    errors = stats.utterance_errors(ref, hyp)
    assert errors == {"u1": (2, 3), "u2": (1, 1), "u3": (0, 2), "u4": (1, 1)}
    total = sum(e for e, _ in errors.values()) / sum(n for _, n in errors.values())
    assert 100 * total == pytest.approx(score(ref, hyp)["wer"])
    chars = stats.utterance_errors(ref, hyp, unit="char")
    assert 100 * sum(e for e, _ in chars.values()) / sum(n for _, n in chars.values()) == (
        pytest.approx(score(ref, hyp)["cer"])
    )
    with pytest.raises(ValueError, match="unit must be"):
        stats.utterance_errors(ref, hyp, unit="phone")


def test_reading_trn_kaldi_text_and_sclite_output(tmp_path):
    ref = {"george-0-00": "ZERO", "theo-1-02": "ONE", "theo-2-03": "TWO"}
    hyp = {"george-0-00": "ZERO", "theo-1-02": "ONE ONE", "theo-2-03": "TEN"}
    write_trn(ref, tmp_path / "ref.trn")
    write_trn(hyp, tmp_path / "hyp.trn")
    from_trn = stats.errors_from_files(tmp_path / "ref.trn", tmp_path / "hyp.trn")
    assert from_trn == {"george-george-0-00": (0, 1), "theo-theo-1-02": (1, 1),
                        "theo-theo-2-03": (1, 1)}  # fmt: skip
    for name, texts in (("text", ref), ("hyp_text", hyp)):
        (tmp_path / name).write_text("".join(f"{u} {t}\n" for u, t in texts.items()))
    from_text = stats.errors_from_files(tmp_path / "text", tmp_path / "hyp_text")
    assert from_text == {"george-0-00": (0, 1), "theo-1-02": (1, 1), "theo-2-03": (1, 1)}

    (tmp_path / "bad.trn").write_text("ZERO (a)\nONE\n")
    with pytest.raises(ValueError, match=r"bad.trn:2: not a trn line"):
        stats.read_trn(tmp_path / "bad.trn")
    (tmp_path / "extra").write_text("george-0-00 ZERO\nnobody-1-00 ONE\n")
    with pytest.raises(ValueError, match="utterance nobody-1-00 is not in"):
        stats.errors_from_files(tmp_path / "text", tmp_path / "extra")

    # sclite -o all: the alignment section of espnet2's score_wer/result.txt
    (tmp_path / "result.txt").write_text(
        "Speaker sentences   0:  theo   #utts: 2\n"
        "id: (theo-theo-1-02)\nScores: (#C #S #D #I) 1 0 0 1\n"
        "REF:  ONE *** \nHYP:  ONE ONE \nEval:     I   \n\n"
        "id: (theo-theo-2-03)\nScores: (#C #S #D #I) 3 1 2 0\nREF:  x\nHYP:  y\n"
    )
    assert stats.read_sclite_scores(tmp_path / "result.txt") == {
        "theo-theo-1-02": (1, 1), "theo-theo-2-03": (3, 6)}  # fmt: skip
    (tmp_path / "sum.txt").write_text("| Sum/Avg | 3 3 | 66.7 33.3 0.0 0.0 33.3 33.3 |\n")
    with pytest.raises(ValueError, match="sum.txt: no per-utterance 'Scores:' lines"):
        stats.read_sclite_scores(tmp_path / "sum.txt")
