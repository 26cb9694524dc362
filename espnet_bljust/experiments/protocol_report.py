"""The report of a protocol run: RESULTS.md, results.json, the dev-CER-against-
compute figure. Test numbers are printed only for runs whose test decode was
made under this protocol's sha256."""

import json
from pathlib import Path
from typing import Dict, List, Optional

from espnet_bljust.evaluation import stats
from espnet_bljust.experiments import plots
from espnet_bljust.experiments.budget import passes_from_counters, plan_for_budget
from espnet_bljust.experiments.protocol import Protocol, Trial, same_package, stamp
from espnet_bljust.experiments.report import distinct_values, mean_std

BASELINES = ("pt_ft", "supervised", "just")


def current_test(run: dict, protocol: Protocol) -> Optional[dict]:
    """The run's test results, or None where there are none or they were
    decoded under another protocol (never printed then)."""
    test = run.get("test")
    return test if test and test.get("protocol_sha256") == protocol.sha256 else None


def add_compute(protocol: Protocol, choices: dict, runs: List[dict]) -> None:
    """Each run's passes (from its counters) and ``dev_curve``: dev CER (a
    fraction) after each epoch against the passes made by then (its tick plan)."""
    budget, source = protocol.raw["budget"], protocol.raw["upper_unsup_source"]
    for r in runs:
        c = choices["chosen"][r["strategy"]]
        trial = Trial(**{k: c[k] for k in Trial.__dataclass_fields__})
        plan = plan_for_budget(r["strategy"], budget["passes"], budget["epochs"],
                               trial.exploration_frac, trial.finetune_frac,
                               trial.lower_steps_per_upper, source)  # fmt: skip
        r["passes"] = passes_from_counters(r, r["strategy"], source)
        at_epoch = {e: x for e, x in enumerate(plan.passes_per_epoch(), start=1)}
        r["dev_curve"] = plots.dev_curve_from_epochs(
            {int(e): v for e, v in r["epochs"].items()}, at_epoch
        )


def tuning_seeds_text(choices: dict) -> str:
    """"tuning seed 1" or "mean over tuning seeds 1, 2" (choices.json of any version)."""
    seeds = choices.get("tuning_seeds") or [choices["tuning_seed"]]
    if len(seeds) == 1:
        return f"tuning seed {seeds[0]}"
    return "mean over tuning seeds " + ", ".join(str(s) for s in seeds)


# the knobs each strategy's trial sets (the others are ignored by its tick plan)
KNOBS = dict(supervised=(), pt_ft=(("exploration_frac", "pre-training"),),
             just=(("exploration_frac", "exploration"), ("finetune_frac", "fine-tune")),
             bljust=(("exploration_frac", "exploration"), ("finetune_frac", "fine-tune"),
                     ("lower_steps_per_upper", "K")))  # fmt: skip


def chosen_text(strategy: str, chosen: dict) -> str:
    """A chosen trial as the report gives it: its options and the knobs its
    strategy uses ("just_t3 (--lambda 3, exploration 0.2, fine-tune 0.2;
    dev CER 39.7%)")."""
    knobs = [chosen["train_args"] or "defaults"] + [
        f"{label} {chosen[key]:g}" for key, label in KNOBS.get(strategy, ())]  # fmt: skip
    return f"{chosen['name']} ({', '.join(knobs)}; dev CER {chosen['dev_cer']:.1f}%)"


def table(protocol: Protocol, runs: List[dict]) -> str:
    """One row per strategy: test WER (CTC; CTC + LM), dev CER, compute, updates."""
    rows = ["| strategy | seeds | test WER (%) | test WER, LM (%) | best dev CER, mean of the "
            "seeds' own (%) | passes | ticks | lower updates | upper updates | train loop (s) |",
            "|" + "---|" * 10]  # fmt: skip
    for strategy in protocol.strategies:
        group = [r for r in runs if r["strategy"] == strategy]
        tests = [current_test(r, protocol) for r in group]
        done = [t for t in tests if t]
        withheld = sum(1 for r, t in zip(group, tests) if r.get("test") and not t)

        def col(key):
            if withheld:
                return f"withheld ({withheld} run{'s' * (withheld > 1)} of another protocol)"
            return mean_std([t.get(key) for t in done]) if done else "–"

        dev = [100 * min(c for _, c in r["dev_curve"]) for r in group if r["dev_curve"]]
        rows.append(f"| {strategy} | {len(group)} | {col('test_wer')} | {col('test_wer_lm')} | "
                    f"{mean_std(dev)} | {distinct_values(r['passes'] for r in group)} | "
                    f"{distinct_values(r['ticks'] for r in group)} | "
                    f"{distinct_values(r['lower_steps'] for r in group)} | "
                    f"{distinct_values(r['upper_steps'] for r in group)} | "
                    f"{mean_std([r['train_loop_s'] for r in group])} |")  # fmt: skip
    return "\n".join(rows) + "\n"


def per_seed_table(protocol: Protocol, runs: List[dict]) -> str:
    """Test WER of every run: "CTC / CTC + LM (LM weight)", a row per seed."""
    rows = ["| seed | " + " | ".join(protocol.strategies) + " |",
            "|" + "---|" * (len(protocol.strategies) + 1)]  # fmt: skip
    found = {(r["strategy"], r["seed"]): r for r in runs}
    for seed in protocol.seeds:
        cells = []
        for strategy in protocol.strategies:
            run = found.get((strategy, seed))
            test = current_test(run, protocol) if run else None
            if test is None:
                cells.append("withheld" if run and run.get("test") else "–")
                continue
            cell = f"{test['test_wer']:.1f}"
            if test.get("test_wer_lm") is not None:
                cell += f" / {test['test_wer_lm']:.1f} ({test['lm_weight']:g})"
            cells.append(cell)
        rows.append(f"| {seed} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _short(commit: Optional[str]) -> str:
    if not commit:
        return "not recorded"
    sha, plus, rest = commit.partition("+")
    return sha[:7] + plus + rest


def _code_of(commit: Optional[str], checkout: Optional[str]) -> str:
    """A job's code: the fork server's commit, and the checkout's where the
    modules a job imports itself (not preloaded) may have differed."""
    if checkout and commit and same_package(commit, checkout) is not True:
        return f"{_short(commit)} (modules not preloaded: {_short(checkout)})"
    return _short(commit)


def commits_line(runs: List[dict]) -> str:
    """The commits the final runs' jobs ran at (recorded when each job
    started; "not recorded" for records made before the harness kept them,
    or without git)."""
    parts = []
    for stage, what in (("train", "training"), ("dev_lm", "LM weight on dev"),
                        ("test", "test decoding")):  # fmt: skip
        at: Dict[str, List[str]] = {}
        done = [r for r in runs if stage in r.get("commits", {})]
        for r in done:
            code = _code_of(r["commits"][stage], r.get("checkouts", {}).get(stage))
            at.setdefault(code, []).append(f"{r['strategy']} {r['seed']}")
        if at:
            parts.append(f"{what} " + ", ".join(
                f"{c} ({'all' if len(names) == len(done) else ', '.join(names)})"
                for c, names in sorted(at.items())))  # fmt: skip
    if not parts:
        return ""
    return "Commits the final runs' jobs ran at (strategy seed): " + "; ".join(parts) + ".\n"


def resumed_line(runs: List[dict]) -> str:
    """Which final runs a stop cut and the next call continued ("" if none)."""
    cut = [f"{r['strategy']} seed {r['seed']} (after epoch {r['resumed_after_epoch']})"
           for r in runs if r.get("resumed_after_epoch")]  # fmt: skip
    if not cut:
        return ""
    return ("Continued from their last epoch checkpoint after a stop: " + ", ".join(cut) +
            "; their train loop seconds count every epoch once, from the reporter.\n")


def compute_spread(runs: List[dict]) -> float:
    """Largest over smallest passes of any two runs (1.0: equal compute)."""
    passes = [r["passes"] for r in runs]
    if passes and min(passes) <= 0:
        raise ValueError(f"a run made {min(passes)} encoder passes")
    return max(passes) / min(passes) if passes else 1.0


def decoded_errors(test: dict, key: str) -> stats.UttErrors:
    """Per-utterance errors of a run's test hypotheses ``key`` ("hyp", "hyp_lm"):
    the recorded texts where the record holds them, else the hypothesis file;
    a hypothesis id the reference lacks is an error either way."""
    texts = test.get(f"{key}_texts")
    ref, hyp = Path(test["ref"]), Path(test[key])
    if not ref.is_file():
        raise ValueError(f"{hyp}: its reference {ref} is missing")
    if texts is None:
        errors = stats.errors_from_files(ref, hyp)
    else:
        errors = stats.checked_errors(stats.read_kaldi_text(ref), texts, ref, hyp)
    recorded = test.get("test_wer" if key == "hyp" else f"test_wer_{key[4:]}")
    words = sum(n for _, n in errors.values())
    wer = 100.0 * sum(e for e, _ in errors.values()) / max(1, words)
    if recorded is not None and abs(wer - recorded) > 1e-6:
        raise ValueError(f"{hyp}: recorded test WER {recorded:.4f}% but its hypotheses score "
                         f"{wer:.4f}% against {ref} (the reference changed since decoding?)")  # fmt: skip
    return errors


def ratio_intervals(protocol: Protocol, runs: List[dict], key: str = "hyp") -> tuple:
    """BL-JUST's WER over each baseline's (test hypotheses ``key``: "hyp" CTC
    alone, "hyp_lm" with the LM), each with its paired bootstrap over
    utterances and seeds.

    Returns:
        (intervals, seeds): stats.ratio_intervals' list, and the seeds used
        (those every strategy with a current test finished)
    """
    errors = {}
    for r in runs:
        test = current_test(r, protocol)
        if test and test.get(key):
            errors[(r["strategy"], r["seed"])] = decoded_errors(test, key)
    present = sorted({s for s, _ in errors})
    pairs = [("bljust", b) for b in BASELINES if b in present and "bljust" in present]
    seeds = [seed for seed in sorted({k[1] for k in errors})
             if all((s, seed) in errors for s in present)]  # fmt: skip
    if not pairs or not seeds:
        return [], seeds
    table_ = stats.error_table({(s, seed): errors[(s, seed)] for s in present for seed in seeds})
    return stats.ratio_intervals(table_, pairs), seeds


def ratio_lines(protocol: Protocol, runs: List[dict]) -> List[str]:
    """One line per BL-JUST / baseline ratio, CTC alone and with the LM: the
    95% interval (unadjusted), and Holm's correction across all of them;
    first, the seeds they pool (flagged where fewer than the protocol's)."""
    labelled, seeds_used = [], {}
    for key, decoding in (("hyp", "CTC"), ("hyp_lm", "CTC + LM")):
        intervals, seeds = ratio_intervals(protocol, runs, key)
        labelled += [(decoding, r) for r in intervals]
        if intervals:
            seeds_used[decoding] = seeds
    rows = stats.holm_family([r for _, r in labelled])
    lines = [f"BL-JUST's test WER over each baseline's, pooled over seeds: 95% interval from a "
             f"paired bootstrap over test utterances and seeds; the {len(rows)} ratios are one "
             "family, Holm-corrected (one-sided, \"ratio < 1\"); the simultaneous upper bounds "
             "hold together with 95% probability and are below 1 only where Holm rejects (unless "
             "Holm rejects all of them, a rejected comparison's bound is 1.000: the corrected "
             "statement is \"ratio < 1\")."
             ] if rows else []  # fmt: skip
    for decoding, seeds in seeds_used.items():
        missing = sorted(set(protocol.seeds) - set(seeds))
        lines.append(f"- ratios ({decoding}) pool seeds {', '.join(map(str, seeds))}" + (
            f"; NOT seeds {', '.join(map(str, missing))} (a strategy has no current test "
            "there): WERs in these lines differ from the table's" if missing else ""))  # fmt: skip
    return lines + [
        f"- BL-JUST / {r['b']} ({decoding}): {r['wer_a']:.1f} / {r['wer_b']:.1f} = "
        f"{r['ratio']:.3f}, 95% interval (unadjusted) [{r['low']:.3f}, {r['high']:.3f}], Holm "
        f"p = {r['p_holm']:.3g} (of {len(rows)}), simultaneous upper bound "
        f"{r['upper_simultaneous']:.3f}" for (decoding, _), r in zip(labelled, rows)]  # fmt: skip


def shorter_training_line(runs: List[dict]) -> str:
    """The compute BL-JUST needs to reach PT+FT's best mean dev CER, over PT+FT's,
    and each seed's own curve at the same target."""
    present = {r["strategy"] for r in runs}
    if not {"bljust", "pt_ft"} <= present:
        return "- shorter training: needs bljust and pt_ft runs"
    try:
        found = plots.shorter_training(runs, "pt_ft", "bljust")
    except ValueError as e:  # no shared compute range of PT+FT's seeds, ...
        return f"- shorter training: not computed ({e})"

    def passes(x):
        return "never" if x is None else f"{x:g}"

    mine, ref = found["compute"].get("bljust"), found["compute"]["pt_ft"]
    ratio = f"{found['ratio']:.2f}" if found["ratio"] is not None else "– (never reached)"
    per_seed = "; ".join(
        f"{label} " + ", ".join(f"seed {seed} {passes(x)}"
                                for seed, x in sorted(found["per_seed"].get(s, {}).items()))
        for s, label in (("bljust", "BL-JUST"), ("pt_ft", "PT+FT")))  # fmt: skip
    return (f"- shorter training: PT+FT's best mean dev CER (the lowest point of its mean "
            f"curve) {100 * found['target']:.1f}% is "
            f"reached by BL-JUST after {passes(mine)} passes, by PT+FT after {passes(ref)}: "
            f"ratio {ratio}. Each seed's own curve, passes to reach it: {per_seed}")


def write(protocol: Protocol, choices: dict, runs: List[dict], out: Path,
          command: str) -> Dict[str, Path]:  # fmt: skip
    """RESULTS.md, results.json and (where the plot exists) dev_cer_vs_compute.png in ``out``."""
    add_compute(protocol, choices, runs)
    now = stamp(protocol)
    lines = [f"### Strategy comparison under {protocol.path.name}", "",
             f"```sh\n{command}\n```", "",
             f"Protocol sha256 {protocol.sha256}; choices fixed at commit {choices['commit']}; "
             f"report written at commit {now['commit']}.", "",
             f"Budget: {protocol.raw['budget']['passes']} encoder passes per run over "
             f"{protocol.raw['budget']['epochs']} epochs; largest / smallest passes of any two "
             f"final runs: {compute_spread(runs):.3f}.", "",
             f"Chosen on dev ({tuning_seeds_text(choices)}): " + "; ".join(
                 chosen_text(s, c) for s, c in choices["chosen"].items()) +
             f"; checkpoint rule {choices['checkpoint_rule']} (mean dev WER " + ", ".join(
                 f"{r} {w:.1f}%" for r, w in choices["rule_dev_wer"].items()) + ").", "",
             table(protocol, runs), "Test WER (%) per seed, CTC / CTC + LM (LM weight "
             "chosen on dev):", "", per_seed_table(protocol, runs)]  # fmt: skip
    lines += [line for line in (commits_line(runs), resumed_line(runs)) if line]
    try:
        lines += ratio_lines(protocol, runs)
    except ValueError as e:  # runs on different utterances, a changed reference, ...
        lines.append(f"- ratios: not computed ({e})")
    paths = dict(results=out / "RESULTS.md", json=out / "results.json",
                 dev_cer_vs_compute=out / "dev_cer_vs_compute.png")  # fmt: skip
    plots.dev_cer_vs_compute(runs, paths["dev_cer_vs_compute"])
    lines.append(shorter_training_line(runs))
    lines.append(f"\n![dev CER against compute]({paths['dev_cer_vs_compute'].name})")
    paths["results"].write_text("\n".join(lines) + "\n")
    for r in runs:
        if r.get("test") and not current_test(r, protocol):
            r["test"] = "withheld: decoded under another protocol"
    saved = dict(now, choices=choices, runs=[{k: (str(v) if isinstance(v, Path) else v)
                                              for k, v in r.items() if k != "train"} for r in runs])
    paths["json"].write_text(json.dumps(saved, indent=1, default=str))
    return paths

