#!/usr/bin/env python3
"""Compare BL-JUST with its baselines: under a protocol, or at equal ticks.

``--protocol egs2/fsdd/bljust1/conf/protocol.yaml`` runs the comparison that
file fixes (:mod:`espnet_bljust.experiments.protocol_run`): every run budgeted
by the same compute (encoder passes), each strategy tuned on dev with the same
number of trials, the checkpoint rule and LM weights chosen on dev, then the
final runs over the seeds, test decoded once per run at the very end, and a
report that records the protocol's sha256 and the git commit. Stopped and
called again, it reuses every finished run and decode.

Without ``--protocol`` (``--fsdd`` or ``--data_dir``): the exploratory
equal-ticks comparison (:mod:`espnet_bljust.experiments.equal_ticks`): every
strategy ``--max_epoch`` x ``--num_iters_per_epoch`` ticks, pt_ft pre-training
for ``--exploration_frac`` of them, test decoded as each run ends.

Examples:
    python -m espnet_bljust.bin.compare_strategies \
        --protocol egs2/fsdd/bljust1/conf/protocol.yaml --out_dir exp/protocol_fsdd
    python -m espnet_bljust.bin.compare_strategies --fsdd ../shared/data/fsdd \
        --out_dir exp/compare --strategies "supervised pt_ft just bljust" \
        --seeds "1 2 3" --labeled_takes 2 --max_epoch 12 --num_iters_per_epoch 25
"""

import argparse
import shlex
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from espnet_bljust.experiments.argv import DEFAULT_CONFIG


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--protocol", type=Path,
                        help="a protocol file (e.g. egs2/fsdd/bljust1/conf/protocol.yaml): "
                        "run the comparison it fixes; the options below are then unused")
    source.add_argument("--fsdd", type=Path, help="FSDD root (recordings/): splits made here")
    source.add_argument("--data_dir", type=Path,
                        help="a prepared split instead: Kaldi dirs train_labeled, "
                        "train_unlabeled, dev, test (e.g. egs2/demo/bljust1/data); "
                        "--labeled_takes and the other FSDD options are then unused")  # fmt: skip
    parser.add_argument("--out_dir", type=Path, required=True, help="output folder")
    parser.add_argument("--strategies", default="supervised pt_ft just bljust",
                        help="space-separated strategies to train")
    parser.add_argument("--seeds", default="1", help="space-separated seeds")
    parser.add_argument("--labeled_takes", default="2",
                        help="space-separated labeled takes per speaker x digit "
                        "(1, 2, 5 = 60, 120, 300 utts with all speakers)")
    parser.add_argument("--unlabeled_takes", type=int, default=-1,
                        help="unlabeled takes after the labeled ones (<0: the rest of train)")
    parser.add_argument("--dev_takes", type=int, default=5)
    parser.add_argument("--test_takes", type=int, default=5)
    parser.add_argument("--speakers", default=None,
                        help="space-separated FSDD speaker subset (default: all 6)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="training config shared by every strategy")
    parser.add_argument("--max_epoch", type=int, default=12,
                        help="epochs (one validation and one checkpoint each)")
    parser.add_argument("--num_iters_per_epoch", type=int, default=25,
                        help="ticks per epoch; the budget is max_epoch x this")
    parser.add_argument("--exploration_frac", type=float, default=0.2,
                        help="share of the ticks spent exploring (pt_ft, just, bljust)")
    parser.add_argument("--finetune_frac", type=float, default=0.1,
                        help="share of the ticks spent fine-tuning at the end (just, bljust)")
    parser.add_argument("--lower_steps_per_upper", type=int, default=1, help="K of bljust")
    parser.add_argument("--train_args", default="",
                        help="extra bljust_train options for every run (one string)")
    parser.add_argument("--beam_size", type=int, default=1, help="CTC decoding beam")
    parser.add_argument("--average_nbest", type=int, default=1,
                        help="also decode test with the average of this many best dev "
                        "checkpoints (espnet2's valid.cer_ctc.ave_<n>best.pth; trains with "
                        "--keep_nbest_models n); 1: the single best only")
    parser.add_argument("--lm_config", type=Path, default=None,
                        help="also decode with a token LM trained (espnet2 lm_train, this "
                        "config) on each split's labeled transcripts, fused with CTC; "
                        "e.g. egs2/fsdd/bljust1/conf/train_lm.yaml")
    parser.add_argument("--lm_weights", default="0.5 1 2 4",
                        help="LM weights tried on dev per run (the best dev WER decodes test)")
    parser.add_argument("--lm_weight_max", type=float, default=None,
                        help="while a run's best dev weight is the largest tried, try twice "
                        "that on dev too, up to this (default: the --lm_weights grid only)")
    parser.add_argument("--lm_beam_size", type=int, default=10,
                        help="beam of the decoding with the LM")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per run")
    parser.add_argument("--rerun", action="store_true",
                        help="train again even where a finished run with the same options exists")
    parser.add_argument("--no_plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--stop_before", default=None, choices=("final", "test"),
                        help="with --protocol: stop before that stage (resumed by the next call)")
    parser.add_argument("--ledger", type=Path, default=None,
                        help="with --protocol: a folder (commit it) that keeps every finished "
                        "job's record; a fresh checkout's call continues from it")
    return parser  # fmt: skip



def main(cmd: Optional[Sequence[str]] = None) -> Dict[str, Path]:
    parser = get_parser()
    args = parser.parse_args(cmd)
    if args.protocol is None and args.fsdd is None and args.data_dir is None:
        parser.error("one of --protocol, --fsdd, --data_dir is required")
    command = "python -m espnet_bljust.bin.compare_strategies " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if cmd is None else cmd)
    )
    if args.protocol is not None:
        from espnet_bljust.experiments import protocol_run

        return protocol_run.run(args.protocol, args.out_dir, command, jobs=args.jobs,
                                stop_before=args.stop_before, ledger_dir=args.ledger)
    from espnet_bljust.experiments import equal_ticks

    return equal_ticks.run(args, command)


if __name__ == "__main__":
    # Run the package module's main, so that the child processes find every
    # function under its importable name (not __main__).
    from espnet_bljust.bin import compare_strategies

    compare_strategies.main()
