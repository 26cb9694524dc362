"""Merge finished ``compare_strategies`` runs into one table and one set of plots.

A comparison is often run in parts: one labeled-set size at a time, more
seeds later, or on several machines. Each part writes ``results.json``
(one entry per run, with the training argv). This joins the parts:

    python -m espnet_bljust.bin.merge_comparisons --out_dir exp/compare_fsdd_sizes \\
        exp/compare_fsdd_l60 exp/compare_fsdd_ave exp/compare_fsdd_l300

and writes ``results.md`` (the table and the target lines), ``results.json``,
``RESULTS.md`` (with this command and the source folders) and the PNG plots,
WER vs labeled utterances among them when the parts cover several sizes.

Runs are only put side by side when they were trained alike: for each
strategy, every merged run must have the same training options once the
folders and the seed are set aside (config, budget, phases, K, extra
options). A (labeled, strategy, seed) that two parts both hold must agree on
its test WER (training on one thread is deterministic; the harness reuses
runs); otherwise the merge is refused, naming both files.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_bljust.experiments.argv import STRATEGY_ORDER
from espnet_bljust.experiments.report import write_report

# bljust_train options whose values are folders or files of one part, or the seed
PER_RUN_OPTIONS = (
    "--output_dir", "--token_list", "--seed",
    "--train_data_path_and_name_and_type", "--train_shape_file",
    "--valid_data_path_and_name_and_type", "--valid_shape_file",
    "--unlabeled_data_path_and_name_and_type", "--unlabeled_shape_file",
)  # fmt: skip


class MergeError(ValueError):
    """Parts that cannot be put in one table."""


def training_setting(argv: Sequence[str]) -> Tuple[str, ...]:
    """The argv of one run without its folders, files and seed."""
    kept: List[str] = []
    skip = False
    for item in argv:
        if skip:
            skip = False
        elif item in PER_RUN_OPTIONS:
            skip = True
        else:
            kept.append(item)
    return tuple(kept)


def results_file(source: Path) -> Path:
    """A part's results.json (given the file or its folder)."""
    path = source / "results.json" if source.is_dir() else source
    if not path.is_file():
        raise MergeError(f"{source}: no results.json (is it a compare_strategies --out_dir?)")
    return path


def merge_runs(sources: Sequence[Path]) -> List[dict]:
    """Every finished run of the parts, each once; see the module doc for the checks."""
    merged: Dict[Tuple[int, str, int], dict] = {}
    origin: Dict[Tuple[int, str, int], Path] = {}
    settings: Dict[str, Tuple[Tuple[str, ...], Path]] = {}
    for source in sources:
        path = results_file(Path(source))
        try:
            runs = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise MergeError(f"{path}: not JSON ({e})") from e
        for run in runs:
            if not run.get("ok"):
                continue
            setting = training_setting(run["argv"])
            if run["strategy"] not in settings:
                settings[run["strategy"]] = (setting, path)
            elif settings[run["strategy"]][0] != setting:
                first = settings[run["strategy"]][1]
                raise MergeError(
                    f"{path}: {run['strategy']} seed {run['seed']} was trained with other "
                    f"options than the {run['strategy']} runs of {first}:\n"
                    f"  {shlex.join(settings[run['strategy']][0])}\n  {shlex.join(setting)}"
                )
            key = (run["labeled"], run["strategy"], run["seed"])
            if key in merged:
                if merged[key]["test_wer"] != run["test_wer"]:
                    raise MergeError(
                        f"{path} and {origin[key]} both hold {run['strategy']} seed "
                        f"{run['seed']} with {run['labeled']} labeled, with test WER "
                        f"{run['test_wer']:.2f} and {merged[key]['test_wer']:.2f}"
                    )
                continue
            merged[key], origin[key] = run, path
    if not merged:
        raise MergeError(f"no finished run in {' '.join(str(s) for s in sources)}")
    return [merged[k] for k in sorted(merged, key=lambda k: (k[0], k[2], k[1]))]


def iters_per_epoch(runs: Sequence[dict]) -> int:
    """``--num_iters_per_epoch`` of the runs (the plots' tick axis)."""
    values = {
        int(r["argv"][r["argv"].index("--num_iters_per_epoch") + 1])
        for r in runs if "--num_iters_per_epoch" in r["argv"]
    }  # fmt: skip
    if len(values) != 1:
        raise MergeError(f"the runs differ in --num_iters_per_epoch: {sorted(values)}")
    return values.pop()


def settings_listing(runs: Sequence[dict]) -> str:
    """One line per strategy: its training options, folders and seed aside."""
    lines = []
    for strategy in STRATEGY_ORDER:
        argv = next((r["argv"] for r in runs if r["strategy"] == strategy), None)
        if argv is not None:
            lines.append(f"{strategy}: {shlex.join(training_setting(argv))}\n")
    return "".join(lines)


def write_merged(runs: List[dict], out: Path, command: str, sources: Sequence[Path],
                 plots: bool = True) -> Dict[str, Path]:  # fmt: skip
    """The harness's report files (results.md, results.json, RESULTS.md, PNGs) for
    the merged runs; RESULTS.md names this command, the parts and each strategy's options."""
    listing = "".join(f"- `{s}`\n" for s in sources)
    preamble = (f"```sh\n{command}\n```\n\nFrom:\n{listing}\n"
                f"Training options per strategy (folders and seed aside):\n\n"
                f"```\n{settings_listing(runs)}```")  # fmt: skip
    return write_report(runs, out, "Merged strategy comparison", preamble,
                                           iters_per_epoch(runs), plots)  # fmt: skip


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path,
                        help="compare_strategies output folders (or their results.json)")
    parser.add_argument("--out_dir", type=Path, required=True, help="output folder")
    parser.add_argument("--no_plots", action="store_true", help="skip the PNG plots")
    return parser  # fmt: skip


def main(cmd: Optional[Sequence[str]] = None) -> Dict[str, Path]:
    args = get_parser().parse_args(cmd)
    command = "python -m espnet_bljust.bin.merge_comparisons " + shlex.join(
        sys.argv[1:] if cmd is None else cmd
    )
    try:
        runs = merge_runs(args.sources)
        paths = write_merged(runs, args.out_dir, command, args.sources, not args.no_plots)
    except MergeError as e:
        raise SystemExit(f"merge_comparisons: error: {e}") from None
    print(paths["table"].read_text())
    for name, path in paths.items():
        print(f"{name}: {path}")
    return paths


if __name__ == "__main__":
    main()
