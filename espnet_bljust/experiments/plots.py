"""PNG plots of a strategy comparison (matplotlib, no display needed), and the
compute each strategy needs to reach a dev CER.

Every function takes the run dicts of ``espnet_bljust.bin.compare_strategies``:
``strategy``, ``seed``, ``labeled``, ``test_wer`` and ``epochs`` =
{epoch: {"train": {stat: mean}, "valid": {stat: mean}}} (reporter means);
the compute functions (``dev_cer_vs_compute``, ``compute_to_reach``,
``shorter_training``) read ``dev_curve`` instead (see there).
"""

import math
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from typeguard import typechecked

from espnet_bljust.bilevel.strategy import STRATEGIES

STRATEGY_LABELS = {name: strategy.label for name, strategy in STRATEGIES.items()}


def _save(plt, fig, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curve(epochs: Dict, group: str, key: str, iters_per_epoch: int):
    """(ticks at each epoch's end, values) of one reporter stat."""
    points = sorted(
        (int(e) * iters_per_epoch, stats[group][key])
        for e, stats in epochs.items()
        if key in stats.get(group, {})
    )
    return [x for x, _ in points], [y for _, y in points]


DEV_METRICS = {"cer_ctc": "dev CER", "wer_ctc": "dev WER"}


def plot_dev_curve(
    runs: Sequence[dict], path: Path, iters_per_epoch: int, key: str = "cer_ctc"
) -> Path:
    """Dev error rate (%) vs training ticks, mean over seeds, one line per
    strategy; one panel per labeled-set size. ``key``: the validation stat,
    ``cer_ctc`` or ``wer_ctc`` (CTC greedy)."""
    plt = _pyplot()
    name = DEV_METRICS[key]
    sizes = sorted({r["labeled"] for r in runs})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.6), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        for strategy in STRATEGY_LABELS:
            group = [r for r in runs if r["labeled"] == size and r["strategy"] == strategy]
            if not group:
                continue
            curves = [_curve(r["epochs"], "valid", key, iters_per_epoch) for r in group]
            xs = curves[0][0]
            ys = [
                100.0 * statistics.fmean(c[1][i] for c in curves if len(c[1]) > i)
                for i in range(len(xs))
            ]
            ax.plot(xs, ys, marker="o", ms=3, label=STRATEGY_LABELS[strategy])
        ax.set_title(f"{size} labeled utts (mean over seeds)")
        ax.set_xlabel("training ticks (equal budget)")
        # while exploring, the untrained CTC head scores far above 100%: clip there
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"{name} (%, clipped at 100)")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(plt, fig, path)


def plot_bljust_training(run: dict, path: Path, iters_per_epoch: int) -> Path:
    """loss_sup, loss_unsup_lower, loss_unsup_upper (left axis) and gamma
    (right axis) per epoch of one bljust run, vs ticks."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for key in ("loss_sup", "loss_unsup_lower", "loss_unsup_upper"):
        xs, ys = _curve(run["epochs"], "train", key, iters_per_epoch)
        if xs:
            ax.plot(xs, ys, marker="o", ms=3, label=key)
    ax.set_xlabel("training ticks (epoch ends; per-epoch means)")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    xs, ys = _curve(run["epochs"], "train", "gamma", iters_per_epoch)
    if xs:
        twin.plot(xs, ys, color="black", ls="--", label="gamma")
    twin.set_ylabel("gamma")
    handles = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=8)
    ax.set_title(f"BL-JUST, {run['labeled']} labeled utts, seed {run['seed']}")
    return _save(plt, fig, path)


def wer_by_labeled(runs: Sequence[dict], strategy: str):
    """(labeled sizes, mean test WER, std over seeds) of one strategy's
    successful runs, sizes ascending; std is 0 where one seed ran."""
    by_size: Dict[int, List[float]] = {}
    for r in runs:
        if r["strategy"] == strategy and r.get("ok", True):
            by_size.setdefault(r["labeled"], []).append(r["test_wer"])
    sizes = sorted(by_size)
    means = [statistics.fmean(by_size[s]) for s in sizes]
    stds = [statistics.stdev(by_size[s]) if len(by_size[s]) > 1 else 0.0 for s in sizes]
    return sizes, means, stds


def plot_wer_vs_labeled(runs: Sequence[dict], path: Path) -> Path:
    """Test WER (%) vs labeled utterances, mean ± std over seeds per strategy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for strategy in STRATEGY_LABELS:
        sizes, means, stds = wer_by_labeled(runs, strategy)
        if not sizes:
            continue
        ax.errorbar(sizes, means, yerr=stds, marker="o", capsize=3,
                    label=STRATEGY_LABELS[strategy])  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("labeled utterances")
    ax.set_ylabel("test WER (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


# ------------------------------------------------ dev CER against compute
#
# A run here also carries ``dev_curve``: [(compute, dev CER), ...] at each
# validation, compute cumulative from the start of training in one unit for
# every strategy (encoder forward+backward passes, or train-loop seconds) and
# the CER a fraction, as espnet2's reporter writes ``valid.cer_ctc``.


def dev_curve_from_epochs(
    epochs: Dict, compute_at_epoch: Dict, key: str = "cer_ctc"
) -> List[Tuple[float, float]]:
    """[(compute, dev CER)] of one run from its reporter ``epochs`` and the
    cumulative compute at the end of each epoch ({epoch: compute}); epochs
    without a finite validation ``key`` or without a compute figure are left out."""
    points = []
    for epoch, stats in epochs.items():
        value = stats.get("valid", {}).get(key)
        compute = compute_at_epoch.get(epoch, compute_at_epoch.get(str(epoch)))
        if value is not None and math.isfinite(value) and compute is not None:
            points.append((float(compute), float(value)))
    return sorted(points)


def mean_dev_curve(runs: Sequence[dict], strategy: str):
    """(compute (P,), mean, min, max dev CER (P,) over seeds) of one strategy,
    or None where it has no run with a dev curve or its seeds' curves share no
    compute range.

    Seeds evaluated at different compute (e.g. train-loop seconds) are
    interpolated linearly onto the union of their points within the range
    every seed covers; with equal points (pass counts) nothing is interpolated.
    """
    curves = [
        np.asarray(sorted(r["dev_curve"]), dtype=np.float64)
        for r in runs
        if r["strategy"] == strategy and r.get("ok", True) and r.get("dev_curve")
    ]
    if not curves:
        return None
    start, stop = max(c[0, 0] for c in curves), min(c[-1, 0] for c in curves)
    xs = np.unique(np.concatenate([c[:, 0] for c in curves]))
    xs = xs[(xs >= start) & (xs <= stop)]
    if not xs.size:
        return None
    ys = np.stack([np.interp(xs, c[:, 0], c[:, 1]) for c in curves])
    return xs, ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)


def _first_reach(xs, ys, target: float, interpolate: bool) -> Optional[float]:
    """Compute at which the curve (xs, ys) first reaches ys <= target, or None."""
    below = np.flatnonzero(np.asarray(ys) <= target + 1e-12)
    if not below.size:
        return None
    i = int(below[0])
    if interpolate and i > 0:
        share = (ys[i - 1] - target) / (ys[i - 1] - ys[i])
        return float(xs[i - 1] + share * (xs[i] - xs[i - 1]))
    return float(xs[i])


@typechecked
def compute_to_reach(
    runs: Sequence[dict], target: float, interpolate: bool = False
) -> Dict[str, Optional[float]]:
    """Compute each strategy's mean dev curve needs to reach dev CER <= target.

    ``interpolate=False``: the compute of the first validation at or below the
    target (what a saved checkpoint achieves); True: the linear interpolation
    between that validation and the one before. None: never reached.
    """
    out: Dict[str, Optional[float]] = {}
    for strategy in STRATEGY_LABELS:
        curve = mean_dev_curve(runs, strategy)
        if curve is not None:
            out[strategy] = _first_reach(curve[0], curve[1], target, interpolate)
    return out


def compute_to_reach_per_seed(
    runs: Sequence[dict], target: float, interpolate: bool = False
) -> Dict[str, Dict[int, Optional[float]]]:
    """compute_to_reach on each seed's own curve: {strategy: {seed: compute}}."""
    out: Dict[str, Dict[int, Optional[float]]] = {}
    for r in runs:
        if r.get("ok", True) and r.get("dev_curve"):
            xs, ys = zip(*sorted(r["dev_curve"]))
            out.setdefault(r["strategy"], {})[r["seed"]] = _first_reach(
                xs, ys, target, interpolate
            )
    return out


@typechecked
def shorter_training(
    runs: Sequence[dict], reference: str = "pt_ft", strategy: str = "bljust",
    interpolate: bool = False,
) -> dict:
    """The paper's "shorter training" figure: target = the reference's best
    mean dev CER; compute = compute_to_reach for every strategy; ratio =
    compute[strategy] / compute[reference] (None where either never reaches
    it); per_seed = compute_to_reach_per_seed at the same target. The
    reference's mean curve reaches its own best, by definition."""
    curve = mean_dev_curve(runs, reference)
    if curve is None:
        raise ValueError(f"no dev curve of the reference strategy {reference!r}")
    target = float(curve[1].min())
    compute = compute_to_reach(runs, target, interpolate)
    mine, ref = compute.get(strategy), compute[reference]
    ratio = mine / ref if mine is not None and ref else None
    per_seed = compute_to_reach_per_seed(runs, target, interpolate)
    return dict(target=target, reference=reference, strategy=strategy,
                compute=compute, ratio=ratio, per_seed=per_seed)  # fmt: skip


@typechecked
def dev_cer_vs_compute(
    runs: Sequence[dict],
    out_png: Union[str, Path],
    compute_label: str = "encoder forward+backward passes",
    reference: str = "pt_ft",
    title: str = "",
) -> Path:
    """Dev CER (%) against compute, every strategy in one panel: the mean over
    seeds with a band from the best to the worst seed, a dotted line at the
    reference strategy's best mean dev CER and a marker where each strategy's
    mean first reaches it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    target = None
    if mean_dev_curve(runs, reference) is not None:
        found = shorter_training(runs, reference)
        target, reached = found["target"], found["compute"]
        ax.axhline(100 * target, color="gray", ls=":", lw=1,
                   label=f"{STRATEGY_LABELS[reference]}'s best ({100 * target:.1f}%)")  # fmt: skip
    for strategy, label in STRATEGY_LABELS.items():
        curve = mean_dev_curve(runs, strategy)
        if curve is None:
            continue
        xs, mean, low, high = curve
        seeds = len({r["seed"] for r in runs if r["strategy"] == strategy and r.get("dev_curve")})
        label = f"{label} ({seeds} seed{'s' * (seeds != 1)})"
        (line,) = ax.plot(xs, 100 * mean, marker="o", ms=3, label=label)
        ax.fill_between(xs, 100 * low, 100 * high, color=line.get_color(), alpha=0.2, lw=0)
        if target is not None and reached.get(strategy) is not None:
            ax.plot([reached[strategy]], [100 * target], marker="v", ms=9,
                    color=line.get_color(), ls="none")  # fmt: skip
    ax.set_xlabel(compute_label)
    # while exploring, the untrained CTC head scores far above 100%: clip there
    ax.set_ylim(0, 100)
    ax.set_ylabel("dev CER (%, mean over seeds; band: seed range)")
    ax.set_title(title or "dev CER against compute")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)
