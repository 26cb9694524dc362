"""The comparison's tables, target lines, plots and report files."""

import json
import math
import statistics
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from espnet_bljust.experiments.argv import STRATEGY_ORDER

def mean_std(values: Sequence[float]) -> str:
    """'m ± s' (sample std over seeds), or 'm' for a single value."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {statistics.stdev(values):.1f}"


def best_dev_cer(epochs: Dict) -> Optional[float]:
    """Lowest valid cer_ctc over the epochs, percent."""
    values = [e["valid"]["cer_ctc"] for e in epochs.values() if "cer_ctc" in e.get("valid", {})]
    return 100.0 * min(values) if values else None


def results_table(runs: List[dict]) -> str:
    """Markdown: one row per (labeled set, strategy), mean ± std over seeds.

    test WER/CER: the single best dev checkpoint; where the runs were also
    decoded with the average of the n best dev checkpoints (``--average_nbest``)
    two more columns give those, and where they were decoded with an LM
    (``--lm_config``) the LM's WER/CER (best checkpoint; n-best average) and
    the LM weights dev chose (per seed). train loop: the epochs' training time
    (espnet2 reporter, no validation); train wall: the whole bljust_train call
    (data checks, model build, validation, checkpoints); peak RSS: VmHWM of
    the run's process after training (the largest over seeds).
    """
    done = [r for r in runs if r.get("ok")]
    averaged = any("test_wer_ave" in r for r in done)
    with_lm = any("test_wer_lm" in r for r in done)
    # (header, cell of the runs that finished)
    columns = [("test WER (%)", lambda ok: mean_std([r["test_wer"] for r in ok])),
               ("test CER (%)", lambda ok: mean_std([r["test_cer"] for r in ok]))]
    if averaged:
        columns += [
            ("test WER, n-best average (%)", lambda ok: mean_std([r.get("test_wer_ave") for r in ok])),
            ("test CER, n-best average (%)", lambda ok: mean_std([r.get("test_cer_ave") for r in ok])),
        ]  # fmt: skip
    if with_lm:
        columns += [
            ("test WER, LM (%)", lambda ok: mean_std([r.get("test_wer_lm") for r in ok])),
            ("test CER, LM (%)", lambda ok: mean_std([r.get("test_cer_lm") for r in ok])),
        ]
        if averaged:
            columns.append(("test WER, LM, n-best average (%)",
                            lambda ok: mean_std([r.get("test_wer_lm_ave") for r in ok])))
        columns.append(("LM weight (dev)", lambda ok: "/".join(
            f"{r['lm_weight']:g}" if "lm_weight" in r else "–" for r in ok)))
    columns += [
        ("best dev CER (%)", lambda ok: mean_std([best_dev_cer(r["epochs"]) for r in ok])),
        ("ticks", lambda ok: distinct_values(r["ticks"] for r in ok)),
        ("lower updates", lambda ok: distinct_values(r["lower_steps"] for r in ok)),
        ("upper updates", lambda ok: distinct_values(r["upper_steps"] for r in ok)),
        ("train loop (s)", lambda ok: mean_std([r["train_loop_s"] for r in ok])),
        ("train wall (s)", lambda ok: mean_std([r["train_wall_s"] for r in ok])),
        ("peak RSS (MiB)", lambda ok: f"{max(r['train_peak_rss_mb'] for r in ok):.0f}"),
    ]
    header = ("| labeled utts | strategy | seeds | " + " | ".join(c[0] for c in columns)
              + " |\n|" + "---|" * (3 + len(columns)) + "\n")  # fmt: skip
    rows = []
    for (labeled, strategy), group in _groups(runs).items():
        ok = [r for r in group if r.get("ok")]
        if not ok:
            rows.append(f"| {labeled} | {strategy} | 0/{len(group)} (failed) |"
                        + " – |" * len(columns))  # fmt: skip
            continue
        rows.append(f"| {labeled} | {strategy} | {len(ok)} | "
                    + " | ".join(cell(ok) for _, cell in columns) + " |")  # fmt: skip
    return header + "\n".join(rows) + "\n"


TARGETS = (("pt_ft", 0.85), ("supervised", 0.7))
SELECTIONS = (
    ("test_wer", "best dev checkpoint"), ("test_wer_ave", "n-best average"),
    ("test_wer_lm", "best dev checkpoint + LM"), ("test_wer_lm_ave", "n-best average + LM"),
)


def paired_difference(diffs: Sequence[float]) -> str:
    """'mean ± std WER points (paired t = .., p = ..)' of per-seed differences.

    p is two-sided, from Student's t with n - 1 degrees of freedom; with
    fewer than two seeds, or no spread, only the mean is given.
    """
    mean = statistics.fmean(diffs)
    if len(diffs) < 2 or statistics.stdev(diffs) == 0:
        return f"{mean:+.1f} WER points"
    from scipy import stats as scipy_stats

    std = statistics.stdev(diffs)
    t = mean / (std / math.sqrt(len(diffs)))
    p = 2 * scipy_stats.t.sf(abs(t), df=len(diffs) - 1)
    return f"{mean:+.1f} ± {std:.1f} WER points (paired t = {t:.2f}, p = {p:.3f})"


def target_lines(runs: List[dict]) -> str:
    """BL-JUST test WER over PT+FT and over supervised, against the targets.

    One line per (labeled set, checkpoint selection, baseline), on the seeds
    both finished: the ratio of the mean WERs (a point estimate, judged against
    the target as such), then the per-seed paired difference (BL-JUST minus
    the baseline) with a paired t-test, and on how many seeds BL-JUST was better.
    """
    lines = []
    groups = _groups(runs)
    for labeled in sorted({k[0] for k in groups}):
        for key, selection in SELECTIONS:
            by_seed = {
                strategy: {r["seed"]: r[key] for r in groups.get((labeled, strategy), [])
                           if r.get("ok") and r.get(key) is not None}
                for strategy in STRATEGY_ORDER
            }  # fmt: skip
            bl = by_seed["bljust"]
            for base, target in TARGETS:
                seeds = sorted(set(bl) & set(by_seed[base]))
                if not seeds:
                    continue
                ours = statistics.fmean(bl[s] for s in seeds)
                theirs = statistics.fmean(by_seed[base][s] for s in seeds)
                if theirs <= 0:
                    continue
                ratio = ours / theirs
                diffs = [bl[s] - by_seed[base][s] for s in seeds]
                won = sum(d < 0 for d in diffs)
                lines.append(
                    f"- {labeled} labeled, {selection}, seeds {', '.join(map(str, seeds))}: "
                    f"BL-JUST WER / {base} WER = {ours:.1f} / {theirs:.1f} = {ratio:.2f} "
                    f"(point estimate against the target ≤ {target}: "
                    f"{'met' if ratio <= target else 'not met'}); per seed BL-JUST - {base} = "
                    f"{paired_difference(diffs)}, better on {won} of {len(diffs)} seeds"
                )
    return "\n".join(lines) + ("\n" if lines else "")


def distinct_values(values: Iterable[int]) -> str:
    """The one value all runs share ("1400"), else every distinct one
    ("1396/1400"); "–" for no runs."""
    values = sorted(set(values))
    return "/".join(map(str, values)) if values else "–"


def _groups(runs: List[dict]) -> Dict:
    groups: Dict = {}
    for run in sorted(runs, key=lambda r: (r["labeled"], STRATEGY_ORDER.index(r["strategy"]))):
        groups.setdefault((run["labeled"], run["strategy"]), []).append(run)
    return groups


def write_report(runs: List[dict], out: Path, title: str, preamble: str,
                 iters_per_epoch: int, plots: bool = True) -> Dict[str, Path]:  # fmt: skip
    """results.md (table and target lines), results.json, RESULTS.md and (unless
    ``plots`` is false) the PNGs in ``out``; RESULTS.md is ``title``, then
    ``preamble`` (markdown: how the runs were made), then the table, targets and
    images. Returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    table = results_table(runs)
    targets = target_lines(runs)
    paths = dict(table=out / "results.md", results=out / "RESULTS.md", json=out / "results.json")
    paths["table"].write_text(table + ("\n" + targets if targets else ""))
    paths["json"].write_text(json.dumps(runs, indent=1))
    images = make_plots(runs, out, iters_per_epoch) if plots else {}
    paths.update(images)
    pictures = "".join(f"![{name}]({p.name})\n" for name, p in images.items())
    paths["results"].write_text(f"### {title}\n\n{preamble}\n\n{table}\n{targets}\n{pictures}")
    return paths


def make_plots(runs: List[dict], out: Path, iters_per_epoch: int) -> Dict[str, Path]:
    from espnet_bljust.experiments import plots

    ok = [r for r in runs if r.get("ok")]
    paths = {}
    if ok:
        paths["dev_cer"] = plots.plot_dev_curve(ok, out / "dev_cer.png", iters_per_epoch)
        if any("wer_ctc" in e.get("valid", {}) for r in ok for e in r["epochs"].values()):
            paths["dev_wer"] = plots.plot_dev_curve(
                ok, out / "dev_wer.png", iters_per_epoch, key="wer_ctc"
            )
    bl = [r for r in ok if r["strategy"] == "bljust"]
    if bl:
        paths["bljust_losses"] = plots.plot_bljust_training(
            bl[0], out / "bljust_losses.png", iters_per_epoch
        )
    if len({r["labeled"] for r in ok}) > 1:
        paths["wer_vs_labeled"] = plots.plot_wer_vs_labeled(ok, out / "wer_vs_labeled.png")
    return paths


def _versions() -> str:
    import espnet
    import torch

    return f"espnet {espnet.__version__}, torch {torch.__version__}"


