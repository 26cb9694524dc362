"""WER ratios with paired-bootstrap intervals, and Holm's correction across comparisons.

Inputs are per-utterance word errors (substitutions + deletions + insertions)
and reference lengths per (strategy, seed), all on the same test utterances.
A strategy's WER pools its seeds: total errors / total reference words, i.e.
the mean of its seeds' WERs (every seed decodes the same utterances).

``ratio_interval`` gives WER(A) / WER(B) with an interval from a paired
bootstrap of both random factors of the crossed utterance x seed design, each
resample scoring both strategies on the same draw (row s of both is the same
seed: the same initial weights and data order):

- resampling the N utterances with replacement, every seed kept, gives the
  variance V_utts of the log ratio that comes from the choice of test
  utterances (and the utterance x seed interaction);
- resampling the S seeds with replacement, every utterance kept, gives V_seeds,
  scaled by S / (S - 1) to undo the bootstrap's bias for few seeds.

The log ratio is then centre +- se * t(df) with se**2 = V_utts + V_seeds and
Satterthwaite's df (S - 1 for the seed part, N - 1 for the utterance part),
because 5 seeds leave the seed part uncertain. This counts the interaction
twice, so it errs on the wide side; resampling both factors at once in one
draw (Owen's pigeonhole bootstrap, Ann. Appl. Stat. 2007) counts it three
times. Coverage of the 95% interval measured on the tests' model
(``tests/evaluation/test_stats.py::_errors``, ratio 0.8, 5 seeds x 300
utterances, 500 resamples, 400 simulated experiments each): 0.995, 0.985 and
0.935 when seeds move the ratio by 0, ~14% and ~40% (per-system seed sd 0,
0.1, 0.3); without the seed part (``resample_seeds=False``, the classic
paired bootstrap over utterances) 0.945, 0.88 and 0.56.
Hand-written in numpy (counts from ``bincount``, totals by a matrix
product per chunk) because no maintained library bootstraps two crossed
factors of a paired ratio: 10,000 resamples of each kind over 1,000
utterances x 5 seeds take well under a second.

The one-sided p-value for H0: ratio >= 1 is P(t(df) <= centre / se), and the
one-sided upper bound at level 1 - a is exp(centre + se * t_{1-a}(df)); so
"upper bound < 1" holds exactly when "p < a", and intervals and tests never
disagree.

``holm`` adjusts a family of p-values (Holm 1979); ``holm_family`` adds
simultaneous upper bounds compatible with Holm's decisions (Strassburger &
Bretz 2008, Stat. Med. 27(24); Guilbaud 2008): with m comparisons, R those
Holm rejects at alpha and A the others,

- when R is every comparison: bound_i = min(1, upper bound at level 1 - alpha/m);
- otherwise: bound_i = 1 for i in R (the data say "ratio < 1" and no more),
  bound_i = upper bound at level 1 - alpha/|A| for i in A (>= 1).

All m bounds hold together with probability >= 1 - alpha, and bound_i < 1 only
where Holm rejects comparison i.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import jiwer
import numpy as np
import scipy.stats
from typeguard import typechecked

from espnet_bljust.data.list_checks import duplicate_ids, read_list

# uid -> (errors, reference length)
UttErrors = Dict[str, Tuple[int, int]]


# ---------------------------------------------------------------- reading


def utterance_errors(
    ref: Mapping[str, str], hyp: Mapping[str, str], unit: str = "word"
) -> UttErrors:
    """uid -> (errors, reference length) for every reference utterance.

    ``ref``/``hyp``: uid -> transcript (a hypothesis missing from ``hyp`` counts
    as empty, as ``espnet_bljust.bin.score`` does). ``unit``: "word" or "char"
    (jiwer's alignment either way, so the totals equal ``score``'s WER/CER).
    """
    if unit not in ("word", "char"):
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    uids = sorted(ref)
    if not uids:
        return {}
    process = jiwer.process_words if unit == "word" else jiwer.process_characters
    out = process([ref[u] for u in uids], [hyp.get(u, "") for u in uids])
    result = {}
    for uid, chunks in zip(uids, out.alignments):
        errors = length = 0
        for c in chunks:
            ref_span, hyp_span = c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx
            length += ref_span
            errors += hyp_span if c.type == "insert" else 0 if c.type == "equal" else ref_span
        result[uid] = (errors, length)
    return result


def read_trn(path: Path) -> Dict[str, str]:
    """sclite ``trn`` file ('TRANSCRIPT (id)' per line) -> {id: transcript}."""
    texts = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            open_at = line.rfind("(")
            if open_at < 0 or not line.endswith(")") or open_at == len(line) - 2:
                raise ValueError(f"{path}:{lineno}: not a trn line 'TEXT (id)': {line!r}")
            uid = line[open_at + 1 : -1]
            if uid in texts:
                raise ValueError(f"{path}:{lineno}: utterance {uid} listed twice")
            texts[uid] = line[:open_at].strip()
    return texts


def read_kaldi_text(path: Path) -> Dict[str, str]:
    """Kaldi ``text`` ('uid transcript' per line; the transcript may be empty);
    an id listed twice is an error naming the file and line."""
    entries = read_list(path)
    problems = duplicate_ids(entries, str(path))
    if problems:
        raise ValueError(str(problems[0]))
    return {uid: text.strip() for _, uid, text in entries}


def read_sclite_scores(path: Path) -> UttErrors:
    """Per-utterance errors from sclite's alignment output (``-o all`` or ``pra``,
    e.g. espnet2's ``score_wer/result.txt``): 'id: (x)' then
    'Scores: (#C #S #D #I) c s d i' -> {x: (s + d + i, c + s + d)}."""
    result: UttErrors = {}
    uid, id_line = None, 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if line.startswith("id: (") and line.endswith(")"):
                uid, id_line = line[5:-1], lineno
            elif line.startswith("Scores: (#C #S #D #I)"):
                fields = line.split()[-4:]
                if uid is None or not all(x.isdigit() for x in fields):
                    raise ValueError(f"{path}:{lineno}: Scores line without an id line before it")
                if uid in result:
                    raise ValueError(f"{path}:{id_line}: utterance {uid} listed twice")
                c, s, d, i = map(int, fields)
                result[uid], uid = (s + d + i, c + s + d), None
    if not result:
        raise ValueError(f"{path}: no per-utterance 'Scores:' lines (sclite -o all or pra)")
    return result


def errors_from_files(ref: Path, hyp: Path, unit: str = "word") -> UttErrors:
    """Per-utterance errors of a hypothesis file against a reference file: both
    sclite ``.trn`` files, or both Kaldi ``text`` files (e.g. espnet2's
    ``1best_recog/text``); a hypothesis id the reference lacks is an error."""
    read = read_trn if Path(ref).suffix == ".trn" else read_kaldi_text
    return checked_errors(read(ref), read(hyp), ref, hyp, unit)


def checked_errors(
    refs: Mapping[str, str], hyps: Mapping[str, str], ref: Path, hyp: Path, unit: str = "word"
) -> UttErrors:
    """utterance_errors, where a hypothesis id the reference lacks is an error
    naming ``hyp`` and ``ref`` (where the texts came from)."""
    extra = sorted(set(hyps) - set(refs))
    if extra:
        raise ValueError(f"{hyp}: utterance {extra[0]} is not in {ref} ({len(extra)} such)")
    return utterance_errors(refs, hyps, unit)


# ---------------------------------------------------------------- the table


@dataclass
class ErrorTable:
    """Errors of every (strategy, seed) on the same utterances.

    errors: (K, S, N) ints, strategies x seeds x utterances; ref_lengths: (N,).
    """

    strategies: List[str]
    seeds: List[int]
    uids: List[str]
    errors: np.ndarray
    ref_lengths: np.ndarray

    def wer(self, strategy: str) -> float:
        """Pooled WER (%) of one strategy over its seeds."""
        e = self.errors[self.strategies.index(strategy)]
        return 100.0 * e.sum() / (len(self.seeds) * self.ref_lengths.sum())

    def seed_wers(self, strategy: str) -> np.ndarray:
        """(S,) WER (%) of each seed of one strategy."""
        e = self.errors[self.strategies.index(strategy)]
        return 100.0 * e.sum(axis=1) / self.ref_lengths.sum()


@typechecked
def error_table(runs: Mapping[Tuple[str, int], UttErrors]) -> ErrorTable:
    """(strategy, seed) -> per-utterance errors  ->  an ErrorTable.

    Every strategy must have the same seeds and every run the same utterances
    with the same reference lengths; otherwise a ValueError names the run and
    the utterance.
    """
    if not runs:
        raise ValueError("no runs")
    strategies = sorted({s for s, _ in runs})
    seeds = sorted({seed for _, seed in runs})
    for strategy in strategies:
        for seed in seeds:
            if (strategy, seed) not in runs:
                raise ValueError(f"run ({strategy}, seed {seed}) missing: seeds are paired")
    first = runs[(strategies[0], seeds[0])]
    first_key = f"({strategies[0]}, seed {seeds[0]})"
    uids = sorted(first)
    ref_lengths = np.array([first[u][1] for u in uids], dtype=np.int64)
    errors = np.zeros((len(strategies), len(seeds), len(uids)), dtype=np.int64)
    for k, strategy in enumerate(strategies):
        for s, seed in enumerate(seeds):
            run = runs[(strategy, seed)]
            if set(run) != set(uids):
                other = sorted(set(run) ^ set(uids))[0]
                raise ValueError(
                    f"run ({strategy}, seed {seed}) and run {first_key} differ in utterance {other}"
                )
            for n, uid in enumerate(uids):
                err, length = run[uid]
                if length != ref_lengths[n]:
                    raise ValueError(
                        f"run ({strategy}, seed {seed}), utterance {uid}: reference length "
                        f"{length} != {ref_lengths[n]} in run {first_key}"
                    )
                errors[k, s, n] = err
    return ErrorTable(strategies, seeds, uids, errors, ref_lengths)


# ---------------------------------------------------------------- bootstrap


def bootstrap_totals(
    errors: np.ndarray,
    resamples: int = 10000,
    seed: int = 0,
    chunk: int = 1000,
) -> Dict[str, np.ndarray]:
    """Total errors of K systems on each of ``resamples`` paired resamples.

    Args:
        errors: (K, S, N) errors, systems x seeds x utterances.
        resamples: B, the number of resamples of each kind.
        seed: the random generator's seed (the same seed, the same resamples).
        chunk: resamples drawn at a time (memory: chunk x N counts).

    Returns:
        two (B, K) arrays, for resample b the sum, counted with multiplicity,
        of each system's errors; all systems share resample b. "utts": N
        utterances drawn with replacement, every seed once; "seeds": S seeds
        drawn with replacement, every utterance once.
    """
    errors = np.asarray(errors, dtype=np.float64)
    num_sys, num_seeds, num_utts = errors.shape
    rng = np.random.default_rng(seed)
    utt_sums = errors.sum(axis=1).T  # (N, K)
    seed_sums = errors.sum(axis=2).T  # (S, K)
    out = {"utts": np.empty((resamples, num_sys)), "seeds": np.empty((resamples, num_sys))}
    for start in range(0, resamples, chunk):
        rows = slice(start, min(start + chunk, resamples))
        b = rows.stop - rows.start
        out["utts"][rows] = _counts(rng, b, num_utts) @ utt_sums
        out["seeds"][rows] = _counts(rng, b, num_seeds) @ seed_sums
    return out


def _counts(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """(rows, n) float: how often each of n items is drawn in n draws with
    replacement, one row per resample."""
    draws = rng.integers(0, n, size=(rows, n))
    draws += np.arange(rows)[:, None] * n
    return np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def _log_ratio(num, den):
    """log((num + 1/2) / (den + 1/2)): finite when a total is 0; with the
    hundreds of errors of a test set the 1/2 moves nothing."""
    return np.log(np.asarray(num, dtype=np.float64) + 0.5) - np.log(
        np.asarray(den, dtype=np.float64) + 0.5
    )


@dataclass
class RatioInterval:
    """WER(a) / WER(b): log ratio ~ centre + se * t(df) (module docstring).

    ratio: the point estimate (pooled over seeds); low, high: the two-sided
    ``level`` interval; p_value: one-sided, H0 ratio >= 1; wer_a, wer_b:
    pooled WERs (%); centre: log ratio (continuity-corrected); se: its standard
    error; df: Satterthwaite's degrees of freedom; seed_share: the share of
    se**2 that comes from the seeds.
    """

    a: str
    b: str
    ratio: float
    low: float
    high: float
    p_value: float
    wer_a: float
    wer_b: float
    level: float
    centre: float
    se: float
    df: float
    seed_share: float

    def upper(self, alpha: float) -> float:
        """One-sided upper bound at level 1 - alpha; < 1 exactly when
        p_value < alpha."""
        return self._bound(1.0 - alpha)

    def lower(self, alpha: float) -> float:
        """One-sided lower bound at level 1 - alpha."""
        return self._bound(alpha)

    def _bound(self, quantile: float) -> float:
        if self.se == 0.0:
            return math.exp(self.centre)
        return math.exp(self.centre + self.se * scipy.stats.t.ppf(quantile, self.df))

    def as_dict(self) -> dict:
        """The numbers, for a results file."""
        return dict(vars(self))


def _interval(a, b, totals, i, j, observed, words, level, shape, resample_seeds):
    """RatioInterval of system i to system j from bootstrap_totals' output."""
    num_seeds, num_utts = shape
    utt_var = float(np.var(_log_ratio(totals["utts"][:, i], totals["utts"][:, j])))
    seed_var = 0.0
    if resample_seeds and num_seeds > 1:
        seed_var = float(np.var(_log_ratio(totals["seeds"][:, i], totals["seeds"][:, j])))
        seed_var *= num_seeds / (num_seeds - 1)
    var = utt_var + seed_var
    df_terms = (seed_var**2 / (num_seeds - 1) if seed_var else 0.0) + (
        utt_var**2 / (num_utts - 1) if utt_var else 0.0
    )
    df = var**2 / df_terms if df_terms > 0 else math.inf
    centre, se = float(_log_ratio(observed[i], observed[j])), math.sqrt(var)
    if se > 0:
        p_value = float(scipy.stats.t.cdf(centre / se, df))
    else:
        p_value = 1.0 if centre >= 0 else 0.0
    out = RatioInterval(
        a, b, float(_ratio(observed[i], observed[j])), 0.0, 0.0, p_value,
        float(100.0 * observed[i] / words), float(100.0 * observed[j] / words), level,
        centre, se, df, seed_var / var if var > 0 else 0.0,
    )  # fmt: skip
    out.low, out.high = out.lower((1 - level) / 2), out.upper((1 - level) / 2)
    return out


def _ratio(num, den) -> float:
    """num / den, with 0/0 = 1 (both systems perfect) and x/0 = inf."""
    if den > 0:
        return float(num) / float(den)
    return math.inf if num > 0 else 1.0


def ratio_interval(
    errors_a: np.ndarray,
    errors_b: np.ndarray,
    ref_lengths: Optional[np.ndarray] = None,
    names: Tuple[str, str] = ("A", "B"),
    level: float = 0.95,
    resamples: int = 10000,
    seed: int = 0,
    resample_seeds: bool = True,
) -> RatioInterval:
    """WER(A) / WER(B) with a paired-bootstrap interval and a one-sided p-value.

    Args:
        errors_a, errors_b: (S, N) errors per seed and utterance; row s of
            both is the same seed, column n the same utterance.
        ref_lengths: (N,) reference words (only for the WERs reported; the
            ratio does not depend on them). None: WERs are left as NaN.
        names: labels of A and B.
        level: two-sided level of [low, high].
        resamples, seed: see ``bootstrap_totals``.
        resample_seeds: False leaves out the seed part (seeds as fixed: the
            classic paired bootstrap over utterances).
    """
    errors_a, errors_b = np.atleast_2d(errors_a), np.atleast_2d(errors_b)
    if errors_a.shape != errors_b.shape:
        raise ValueError(f"errors of {names[0]} {errors_a.shape} and {names[1]} "
                         f"{errors_b.shape}: not the same seeds x utterances")  # fmt: skip
    errors = np.stack([errors_a, errors_b])
    totals = bootstrap_totals(errors, resamples, seed)
    words = np.nan if ref_lengths is None else errors_a.shape[0] * float(np.sum(ref_lengths))
    observed = errors.sum(axis=(1, 2))
    return _interval(*names, totals, 0, 1, observed, words, level, errors_a.shape,
                     resample_seeds)  # fmt: skip


@typechecked
def ratio_intervals(
    table: ErrorTable,
    pairs: Sequence[Tuple[str, str]],
    level: float = 0.95,
    resamples: int = 10000,
    seed: int = 0,
    resample_seeds: bool = True,
) -> List[RatioInterval]:
    """``ratio_interval`` for each (A, B) of ``pairs``, all on the same resamples."""
    for a, b in pairs:
        for name in (a, b):
            if name not in table.strategies:
                raise ValueError(f"strategy {name} not among {table.strategies}")
    totals = bootstrap_totals(table.errors, resamples, seed)
    observed = table.errors.sum(axis=(1, 2))
    words = len(table.seeds) * float(table.ref_lengths.sum())
    index = table.strategies.index
    return [
        _interval(a, b, totals, index(a), index(b), observed, words, level,
                  table.errors.shape[1:], resample_seeds)  # fmt: skip
        for a, b in pairs
    ]


# ---------------------------------------------------------------- Holm


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order: the i-th smallest
    p becomes max over j <= i of min(1, (m - j + 1) p_(j)); reject where <= alpha."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError(f"p-values must be a list of numbers in [0, 1], got {pvalues}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


@typechecked
def holm_family(intervals: Sequence[RatioInterval], alpha: float = 0.05) -> List[dict]:
    """Holm's decisions and compatible simultaneous upper bounds (module
    docstring) for a family of one-sided comparisons "ratio < 1".

    Returns one dict per interval, in order: its ``as_dict()`` plus
    ``p_holm``, ``rejected`` (p_holm <= alpha) and ``upper_simultaneous``.
    """
    m = len(intervals)
    adjusted = holm([r.p_value for r in intervals]) if m else np.empty(0)
    rejected = adjusted <= alpha
    kept = m - int(rejected.sum())
    rows = []
    for r, p_adj, rej in zip(intervals, adjusted, rejected):
        if kept == 0:
            bound = min(1.0, r.upper(alpha / m))
        elif rej:
            bound = 1.0
        else:
            bound = r.upper(alpha / kept)
        rows.append(r.as_dict() | dict(p_holm=float(p_adj), rejected=bool(rej),
                                       upper_simultaneous=bound, alpha=alpha))  # fmt: skip
    return rows


@typechecked
def ratio_table(
    runs: Mapping[Tuple[str, int], UttErrors],
    pairs: Sequence[Tuple[str, str]],
    alpha: float = 0.05,
    resamples: int = 10000,
    seed: int = 0,
) -> List[dict]:
    """The whole family in one call: (strategy, seed) -> per-utterance errors
    (e.g. from ``errors_from_files``) and the reported (A, B) comparisons ->
    one row per pair with the ratio, its 95% interval, p, Holm's p, the
    decision and the simultaneous upper bound (``holm_family``)."""
    intervals = ratio_intervals(error_table(runs), pairs, 1.0 - alpha, resamples, seed)
    return holm_family(intervals, alpha)
