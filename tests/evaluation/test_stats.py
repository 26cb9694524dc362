"""WER-ratio intervals, Holm's correction and per-utterance errors, on inputs with known answers."""

import numpy as np
import pytest
import scipy.stats

from espnet_bljust.bin.score import score, write_trn
from espnet_bljust.evaluation import stats


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


def test_upper_bound_and_p_value_agree():
    rng = np.random.default_rng(2)
    e_a, e_b = _errors(rng, 0.85, 0.1)
    r = stats.ratio_interval(e_a, e_b, resamples=999)
    assert 0.001 < r.p_value < 0.5
    for alpha in (0.001, 0.01, 0.025, 0.05, 0.1, 0.5, r.p_value * 0.999, r.p_value * 1.001):
        assert (r.upper(alpha) < 1.0) == (r.p_value < alpha), alpha
    assert r.low == r.lower(0.025) < r.ratio < r.high == r.upper(0.025)
    assert r.upper(0.05) < r.high and r.upper(0.05 / 3) > r.high  # wider for a smaller alpha
    assert 0.0 < r.seed_share < 1.0 and 4.0 <= r.df


def test_coverage_of_a_known_ratio_is_about_95_percent():
    """200 simulated experiments (5 seeds x 300 utterances; seeds move the ratio by
    ~14%): the 95% interval covers the true ratio about 95% of the time (it errs on
    the wide side, see the module docstring), the one-sided 95% upper bound lies
    above it about 95% of the time; with the seeds taken as fixed (the paired
    bootstrap over utterances alone) the interval misses it far more often."""
    rng = np.random.default_rng(3)
    rho, sims = 0.8, 200
    hits = {"both": 0, "utts only": 0, "upper": 0}
    for i in range(sims):
        e_a, e_b = _errors(rng, rho, 0.1)
        r = stats.ratio_interval(e_a, e_b, resamples=500, seed=i)
        hits["both"] += r.low <= rho <= r.high
        hits["upper"] += rho <= r.upper(0.05)
        r = stats.ratio_interval(e_a, e_b, resamples=500, seed=i, resample_seeds=False)
        hits["utts only"] += r.low <= rho <= r.high
    coverage = {m: h / sims for m, h in hits.items()}
    assert 0.93 <= coverage["both"] <= 0.995, coverage
    assert 0.92 <= coverage["upper"] <= 0.995, coverage
    assert coverage["utts only"] < 0.92, coverage


def test_10000_resamples_over_1000_utts_and_5_seeds():
    rng = np.random.default_rng(4)
    e_a, e_b = _errors(rng, 0.9, 0.1, num_utts=1000)
    r = stats.ratio_interval(e_a, e_b, np.ones(1000), resamples=10000)
    assert r.low < r.ratio < r.high


def test_same_seed_same_resamples_and_shared_across_pairs():
    rng = np.random.default_rng(5)
    e_a, e_b = _errors(rng, 0.9, 0.1)
    e_c = rng.poisson(0.25, size=e_a.shape)
    runs = {}
    for name, e in (("bljust", e_a), ("pt_ft", e_b), ("supervised", e_c)):
        for s, seed in enumerate((11, 12, 13, 14, 15)):
            runs[(name, seed)] = {f"u{n:03d}": (int(e[s, n]), 1) for n in range(e.shape[1])}
    table = stats.error_table(runs)
    assert table.strategies == ["bljust", "pt_ft", "supervised"]
    assert table.seeds == [11, 12, 13, 14, 15]
    assert table.wer("pt_ft") == pytest.approx(100 * e_b.mean())
    assert table.seed_wers("bljust") == pytest.approx(100 * e_a.mean(axis=1))
    pairs = [("bljust", "pt_ft"), ("bljust", "supervised")]
    both = stats.ratio_intervals(table, pairs, resamples=800)
    ones = np.ones(e_a.shape[1])
    alone = stats.ratio_interval(e_a, e_b, ones, ("bljust", "pt_ft"), resamples=800)
    assert both[0].as_dict() == alone.as_dict()
    assert both[1].b == "supervised" and both[1].ratio == pytest.approx(e_a.sum() / e_c.sum())


def test_error_table_refuses_unpaired_runs():
    good = {"u1": (0, 1), "u2": (1, 2)}
    with pytest.raises(ValueError, match=r"run \(b, seed 2\) missing"):
        stats.error_table({("a", 1): good, ("a", 2): good, ("b", 1): good})
    with pytest.raises(ValueError, match=r"seed 1\) and run \(a, seed 1\) differ in utterance u2"):
        stats.error_table({("a", 1): good, ("b", 1): {"u1": (0, 1), "u3": (0, 1)}})
    message = r"run \(b, seed 1\), utterance u2: reference length 3 != 2 in run \(a, seed 1\)"
    with pytest.raises(ValueError, match=message):
        stats.error_table({("a", 1): good, ("b", 1): {"u1": (0, 1), "u2": (0, 3)}})
    with pytest.raises(ValueError, match="not the same seeds x utterances"):
        stats.ratio_interval(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="strategy just not among"):
        stats.ratio_intervals(stats.error_table({("a", 1): good}), [("a", "just")])


def test_holm_matches_a_hand_calculation():
    # sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> 0.06)
    adjusted = stats.holm([0.03, 0.01, 0.04, 0.02])
    assert adjusted == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # capped at 1, monotone in the sorted order, ties kept
    assert stats.holm([0.5, 0.5, 0.001]) == pytest.approx([1.0, 1.0, 0.003])
    assert stats.holm([0.2]) == pytest.approx([0.2])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        stats.holm([0.1, 1.5])


def _interval(centre, se, df=10.0):
    p = float(scipy.stats.t.cdf(centre / se, df))
    return stats.RatioInterval("a", "b", float(np.exp(centre)), 0.0, 0.0, p,
                               np.nan, np.nan, 0.95, centre, se, df, 0.5)  # fmt: skip


def test_holm_family_bounds_follow_holms_decisions():
    # p = 0.001 (clear), 0.03 (borderline), 0.4 (none)
    family = [_interval(c, 0.1) for c in (-0.3 * 1.3, -0.1 * 2.1, -0.1 * 0.26)]
    ps = [r.p_value for r in family]
    assert ps[0] < 0.05 / 3 and 0.05 / 2 < ps[1] < 0.05 and ps[2] > 0.05
    rows = stats.holm_family(family, alpha=0.05)
    adjusted = stats.holm(ps)
    assert [x["p_holm"] for x in rows] == pytest.approx(adjusted)
    # Holm: first p <= 0.05/3 rejected, then 0.03 > 0.05/2 stops
    assert [x["rejected"] for x in rows] == [True, False, False]
    assert rows[0]["upper_simultaneous"] == 1.0  # rejected while others are not: "< 1" only
    for row, r in zip(rows[1:], family[1:]):  # level 1 - alpha/2 over the two kept
        assert row["upper_simultaneous"] == pytest.approx(r.upper(0.05 / 2))
        assert row["upper_simultaneous"] > max(1.0, r.upper(0.05))

    # every comparison rejected: bounds at level 1 - alpha/m, capped at 1
    family = [_interval(-0.5, 0.1), _interval(-0.3, 0.1)]
    rows = stats.holm_family(family, alpha=0.05)
    assert [x["rejected"] for x in rows] == [True, True]
    assert rows[0]["upper_simultaneous"] == pytest.approx(family[0].upper(0.025))
    assert rows[0]["upper_simultaneous"] < 1.0
    assert rows[1]["upper_simultaneous"] == pytest.approx(min(1.0, family[1].upper(0.025)))
    assert rows[0]["a"] == "a" and rows[0]["alpha"] == 0.05


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
    write_trn({u: t.split() for u, t in ref.items()}, tmp_path / "ref.trn")
    write_trn({u: t.split() for u, t in hyp.items()}, tmp_path / "hyp.trn")
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
    (tmp_path / "twice").write_text("george-0-00 ZERO\ngeorge-0-00 ONE\n")
    with pytest.raises(ValueError, match="twice:2: utterance 'george-0-00': duplicate id"):
        stats.errors_from_files(tmp_path / "text", tmp_path / "twice")
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


def test_ratio_table_from_text_files(tmp_path):
    """Kaldi text files of 3 strategies x 2 seeds on 40 utterances -> one row per pair."""
    ref = {f"theo-{d}-{t:02d}": word for d, word in enumerate(["ZERO", "ONE"]) for t in range(20)}
    (tmp_path / "text").write_text("".join(f"{u} {w}\n" for u, w in ref.items()))
    wrong = {"supervised": 12, "pt_ft": 10, "bljust": 3}  # wrong utterances per seed
    runs = {}
    for strategy, n_wrong in wrong.items():
        for seed in (1, 2):
            hyp = tmp_path / f"{strategy}_{seed}"
            lines = [f"{u} {'NINE' if i < n_wrong + seed - 1 else w}" for i, (u, w) in
                     enumerate(ref.items())]  # fmt: skip
            hyp.write_text("\n".join(lines) + "\n")
            runs[(strategy, seed)] = stats.errors_from_files(tmp_path / "text", hyp)
    rows = stats.ratio_table(runs, [("bljust", "pt_ft"), ("bljust", "supervised")], resamples=2000)
    assert [(r["a"], r["b"]) for r in rows] == [("bljust", "pt_ft"), ("bljust", "supervised")]
    assert rows[0]["ratio"] == pytest.approx(7 / 21) and rows[1]["ratio"] == pytest.approx(7 / 25)
    assert rows[0]["wer_a"] == pytest.approx(100 * 7 / 80) and rows[0]["level"] == 0.95
    for row in rows:
        assert row["low"] < row["ratio"] < row["high"]
        assert row["p_holm"] >= row["p_value"] and row["rejected"] == (row["p_holm"] <= 0.05)
    assert rows[0]["rejected"] and rows[1]["rejected"]  # 7 errors against 21 and 25
