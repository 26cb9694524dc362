"""The equal-ticks comparison: every strategy the same number of ticks
(``--max_epoch`` x ``--num_iters_per_epoch``), each run decoded on test as
soon as it is trained. Exploratory; the protocol run
(:mod:`espnet_bljust.experiments.protocol_run`) is the one budgeted by compute."""

import argparse
import shlex
import signal
from pathlib import Path
from typing import Dict, List

from espnet_bljust.experiments.argv import STRATEGY_ORDER, strategy_argv, train_argv
from espnet_bljust.experiments.budget import planned_steps
from espnet_bljust.experiments.lm_search import plan_lms
from espnet_bljust.experiments.report import write_report
from espnet_bljust.experiments.schedule import execute, exit_on_sigterm
from espnet_bljust.experiments.splits import num_utts, prepare_fsdd, prepare_split_dir


def plan_runs(args: argparse.Namespace) -> List[dict]:
    """One dict per (labeled takes, seed, strategy): its argv and folders."""
    strategies = args.strategies.split()
    unknown = [s for s in strategies if s not in STRATEGY_ORDER]
    if unknown or not strategies:
        raise SystemExit(f"compare_strategies: unknown strategies {unknown}; "
                         f"choose from {' '.join(STRATEGY_ORDER)}")  # fmt: skip
    seeds = [int(s) for s in args.seeds.split()]
    total = args.max_epoch * args.num_iters_per_epoch
    speakers = args.speakers.split() if args.speakers else None
    runs = []
    if args.data_dir is not None:
        splits = [prepare_split_dir(args.data_dir, args.out_dir / "data")]
    else:
        splits = (prepare_fsdd(args.fsdd, args.out_dir / f"data_l{takes}", takes,
                               args.unlabeled_takes, args.dev_takes, args.test_takes,
                               speakers)
                  for takes in (int(t) for t in args.labeled_takes.split()))  # fmt: skip
    # seed-major: a comparison stopped part-way holds whole seeds; within a seed
    # the costliest run first, so that the last runs of two or more jobs end
    # close together (simulated with measured run times: bljust last left one
    # core idle for ~4 of ~61 min)
    by_cost = sorted(strategies, key=lambda s: -planned_steps(
        s, total, args.exploration_frac, args.finetune_frac, args.lower_steps_per_upper))
    for data in splits:
        labeled = num_utts(data / "train_labeled")
        for seed in seeds:
            for strategy in by_cost:
                exp = args.out_dir / f"l{labeled}" / f"{strategy}_seed{seed}"
                argv = train_argv(
                    data, exp, args.config,
                    "--seed", str(seed), "--max_epoch", str(args.max_epoch),
                    "--num_iters_per_epoch", str(args.num_iters_per_epoch),
                    *strategy_argv(strategy, total, args.exploration_frac,
                                   args.finetune_frac, args.lower_steps_per_upper),
                    *(["--keep_nbest_models", str(args.average_nbest)]
                      if args.average_nbest > 1 else []),
                    *shlex.split(args.train_args),
                )  # fmt: skip
                runs.append(dict(labeled=labeled, unlabeled=num_utts(data / "train_unlabeled"),
                                 strategy=strategy, seed=seed, exp=str(exp), data=str(data),
                                 argv=argv))  # fmt: skip
    return runs



def write_outputs(runs: List[dict], args: argparse.Namespace, command: str) -> Dict[str, Path]:
    """The report of one harness call (see :func:`write_report`)."""
    from espnet_bljust.version import __version__

    total = args.max_epoch * args.num_iters_per_epoch
    first = next((r for r in runs if r.get("ok")), runs[0])
    budget = (
        f"{total} ticks per run ({args.max_epoch} epochs × {args.num_iters_per_epoch}), "
        f"exploration {args.exploration_frac:g}, fine-tune {args.finetune_frac:g} of them; "
        f"{first['unlabeled']} unlabeled utts; dev picks the checkpoint "
        f"(valid.cer_ctc.best.pth); test decoded with Speech2Text, CTC beam {args.beam_size}"
    )
    title = (f"Strategy comparison on {'FSDD' if args.data_dir is None else args.data_dir} "
             f"(espnet_bljust {__version__}, {_versions()})")  # fmt: skip
    return write_report(runs, args.out_dir, title, f"```sh\n{command}\n```\n\n{budget}.",
                        args.num_iters_per_epoch, not args.no_plots)  # fmt: skip



def _versions() -> str:
    import espnet
    import torch

    return f"espnet {espnet.__version__}, torch {torch.__version__}"


def run(args: argparse.Namespace, command: str) -> Dict[str, Path]:
    """Plan, run (or reuse) and report the comparison ``args`` asks for."""
    args.out_dir.mkdir(parents=True, exist_ok=True)
    runs = plan_runs(args)
    lm_plan = plan_lms(runs, args) if args.lm_config is not None else None
    # SIGTERM (kill, a job scheduler) ends the loop like Ctrl-C does, so that the running
    # children are stopped too (their forkserver would otherwise keep them going)
    previous = signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        execute(runs, args, lm_plan)
    finally:
        signal.signal(signal.SIGTERM, previous)
    paths = write_outputs(runs, args, command)
    print(paths["table"].read_text())
    for name, path in paths.items():
        print(f"{name}: {path}")
    if not any(r.get("ok") for r in runs):
        raise SystemExit("compare_strategies: every run failed (see the logs)")
    return paths
