"""WER ratios with paired-bootstrap intervals, and Holm's correction across comparisons.

Inputs are per-utterance word errors (substitutions + deletions + insertions)
and reference lengths per (strategy, seed), all on the same test utterances.
A strategy's WER pools its seeds: total errors / total reference words, i.e.
the mean of its seeds' WERs (every seed decodes the same utterances).

``ratio_interval`` gives WER(A) / WER(B) with a percentile interval from a
paired two-way bootstrap: each resample draws N utterances with replacement and,
independently, S seeds with replacement, and both strategies are scored on that
same draw (the same seed index is the same initial weights and data order for
both). Resampling both factors of a crossed utterance x seed design is Owen's
pigeonhole bootstrap (Owen 2007, Ann. Appl. Stat. 1(1)), ``method="pigeonhole"``;
it counts the seed x utterance interaction (here: which utterances one seed
gets wrong and another right) three times, so its intervals are too wide (99-100%
coverage in the simulations of the tests). The default ``method="matched"``
keeps its draws' order but rescales them on the log scale to the moment
estimate of the crossed design: with V_both, V_utts (seeds fixed), V_seeds
(utterances fixed) the variances of the three bootstraps' log ratios, the
interaction part is X = V_both - V_utts - V_seeds, the seed part
(V_seeds - X) S/(S - 1) and the utterance part V_utts; the draws' normal scores
are mapped to a t distribution with Satterthwaite's degrees of freedom, since S
is small. Measured coverage of a 95% interval (the tests' model, 5 seeds, 300
utterances): 0.94-0.97 when seeds move the ratio by up to ~15%, 0.88-0.91
when they move it by ~40% (5 seeds cannot pin that down). ``method="utts"``
keeps every seed (the classic paired bootstrap over utterances) and ignores
the variation between seeds. Hand-written in numpy (counts from ``bincount``,
totals by one matrix product per chunk) because no maintained library
bootstraps two crossed factors at once: 10,000 resamples over 1,000
utterances x 5 seeds take well under a second.

The one-sided p-value for H0: ratio >= 1 is (1 + #{resampled ratios >= 1}) /
(B + 1), and the one-sided upper bound at level 1 - a is the order statistic
number ceil((1 - a)(B + 1)) of the B resampled ratios; with these two
definitions "upper bound < 1" holds exactly when "p <= a", so the intervals
and the tests never disagree.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import jiwer
import numpy as np
import scipy.stats

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
    """Kaldi ``text`` ('uid transcript' per line; the transcript may be empty)."""
    texts = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            uid, _, text = line.strip().partition(" ")
            if uid in texts:
                raise ValueError(f"{path}:{lineno}: utterance {uid} listed twice")
            texts[uid] = text.strip()
    return texts


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
    refs, hyps = read(ref), read(hyp)
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
        resamples: B, the number of resamples.
        seed: the random generator's seed (the same seed, the same resamples).
        chunk: resamples drawn at a time (memory: chunk x N counts).

    Returns:
        three (B, K) arrays, for resample b the sum over its seeds and
        utterances, counted with multiplicity, of each system's errors; all
        systems share resample b. "both": utterances and seeds resampled;
        "utts": utterances resampled, every seed once; "seeds": seeds
        resampled, every utterance once.
    """
    errors = np.asarray(errors, dtype=np.float64)
    num_sys, num_seeds, num_utts = errors.shape
    rng = np.random.default_rng(seed)
    flat = errors.transpose(2, 0, 1).reshape(num_utts, num_sys * num_seeds)  # (N, K*S)
    seed_sums = errors.sum(axis=2)  # (K, S)
    out = {name: np.empty((resamples, num_sys)) for name in ("both", "utts", "seeds")}
    for start in range(0, resamples, chunk):
        rows = slice(start, min(start + chunk, resamples))
        b = rows.stop - rows.start
        per_seed = (_counts(rng, b, num_utts) @ flat).reshape(b, num_sys, num_seeds)  # (b, K, S)
        seed_counts = _counts(rng, b, num_seeds)  # (b, S)
        out["both"][rows] = np.einsum("bks,bs->bk", per_seed, seed_counts)
        out["utts"][rows] = per_seed.sum(axis=2)
        out["seeds"][rows] = seed_counts @ seed_sums.T
    return out


def _counts(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """(rows, n) float: how often each of n items is drawn in n draws with
    replacement, one row per resample."""
    draws = rng.integers(0, n, size=(rows, n))
    draws += np.arange(rows)[:, None] * n
    return np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, with 0/0 = 1 (both systems perfect) and x/0 = inf."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, 1.0))


@dataclass
class RatioInterval:
    """WER(a) / WER(b) with its bootstrap distribution.

    ratio: the point estimate (pooled over seeds); low, high: the two-sided
    ``level`` percentile interval; p_value: one-sided, H0 ratio >= 1;
    wer_a, wer_b: pooled WERs (%); draws: (B,) sorted resampled ratios.
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
    draws: np.ndarray = field(repr=False)

    def upper(self, alpha: float) -> float:
        """One-sided upper bound at level 1 - alpha (inf when alpha < 1/(B+1));
        < 1 exactly when p_value <= alpha."""
        k = math.ceil((1.0 - alpha) * (len(self.draws) + 1) - 1e-9)
        return float(self.draws[k - 1]) if k <= len(self.draws) else math.inf

    def lower(self, alpha: float) -> float:
        """One-sided lower bound at level 1 - alpha (0 when alpha < 1/(B+1))."""
        k = math.floor(alpha * (len(self.draws) + 1) + 1e-9)
        return float(self.draws[k - 1]) if k >= 1 else 0.0

    def as_dict(self) -> dict:
        """The numbers (no draws), for a results file."""
        keys = ("a", "b", "ratio", "low", "high", "p_value", "wer_a", "wer_b", "level")
        return {k: getattr(self, k) for k in keys} | {"resamples": len(self.draws)}


METHODS = ("matched", "pigeonhole", "utts")


def _draws(totals: Dict[str, np.ndarray], i: int, j: int, observed: float, method: str,
           shape: Tuple[int, int]) -> np.ndarray:  # fmt: skip
    """Resampled ratios of system i to system j (see the module docstring);
    shape: (S seeds, N utterances)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    ratios = {name: _ratio(t[:, i], t[:, j]) for name, t in totals.items()}
    if method != "matched":
        return ratios["both" if method == "pigeonhole" else "utts"]
    logs = {name: np.log(r) for name, r in ratios.items() if np.all((r > 0) & np.isfinite(r))}
    var = {name: float(np.var(x)) for name, x in logs.items()}
    num_seeds, num_utts = shape
    if len(logs) < 3 or not 0.0 < observed < math.inf or var["both"] == 0 or num_seeds < 2:
        # a resample without errors (no log scale), no spread, or one seed
        return ratios["both"] if num_seeds > 1 else ratios["utts"]
    cross = max(0.0, var["both"] - var["utts"] - var["seeds"])
    seed_part = max(0.0, var["seeds"] - cross) * num_seeds / (num_seeds - 1)
    utt_part = max(var["utts"] - cross, 0.0) + cross
    target = seed_part + utt_part
    df = target**2 / (seed_part**2 / (num_seeds - 1) + utt_part**2 / (num_utts - 1))
    centre = math.log(observed)
    z = (logs["both"] - centre) / math.sqrt(var["both"])
    return np.exp(centre + math.sqrt(target) * scipy.stats.t.ppf(scipy.stats.norm.cdf(z), df))


def _interval(a, b, totals, i, j, observed, words, level, method, shape) -> RatioInterval:
    ratio = float(_ratio(observed[i], observed[j]))
    draws = np.sort(_draws(totals, i, j, ratio, method, shape))
    p = (1.0 + np.count_nonzero(draws >= 1.0)) / (len(draws) + 1.0)
    out = RatioInterval(a, b, ratio, 0.0, 0.0, float(p), float(100.0 * observed[i] / words),
                        float(100.0 * observed[j] / words), level, draws)  # fmt: skip
    alpha = (1.0 - level) / 2.0
    out.low, out.high = out.lower(alpha), out.upper(alpha)
    return out


def ratio_interval(
    errors_a: np.ndarray,
    errors_b: np.ndarray,
    ref_lengths: Optional[np.ndarray] = None,
    names: Tuple[str, str] = ("A", "B"),
    level: float = 0.95,
    resamples: int = 10000,
    seed: int = 0,
    method: str = "matched",
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
        method: "matched" (default), "pigeonhole" or "utts" (module docstring).
    """
    errors_a, errors_b = np.atleast_2d(errors_a), np.atleast_2d(errors_b)
    if errors_a.shape != errors_b.shape:
        raise ValueError(f"errors of {names[0]} {errors_a.shape} and {names[1]} "
                         f"{errors_b.shape}: not the same seeds x utterances")  # fmt: skip
    errors = np.stack([errors_a, errors_b])
    totals = bootstrap_totals(errors, resamples, seed)
    words = np.nan if ref_lengths is None else errors_a.shape[0] * float(np.sum(ref_lengths))
    observed = errors.sum(axis=(1, 2))
    return _interval(*names, totals, 0, 1, observed, words, level, method, errors_a.shape)


def ratio_intervals(
    table: ErrorTable,
    pairs: Sequence[Tuple[str, str]],
    level: float = 0.95,
    resamples: int = 10000,
    seed: int = 0,
    method: str = "matched",
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
        _interval(a, b, totals, index(a), index(b), observed, words, level, method,
                  table.errors.shape[1:])
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
