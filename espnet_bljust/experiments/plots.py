"""PNG plots of a strategy comparison (matplotlib, no display needed).

Every function takes the run dicts of ``espnet_bljust.bin.compare_strategies``:
``strategy``, ``seed``, ``labeled``, ``test_wer`` and ``epochs`` =
{epoch: {"train": {stat: mean}, "valid": {stat: mean}}} (reporter means).
"""

import statistics
from pathlib import Path
from typing import Dict, List, Sequence

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
