#!/usr/bin/env python3
"""Training time per epoch: our ``--strategy supervised`` over espnet2's asr_train.

Both train the same model on the same labeled data with the same batching:
``python -m espnet_bljust.bin.bljust_train --strategy supervised`` and
``python -m espnet2.bin.asr_train`` (its config is ``--config`` without the
BL-JUST keys, which asr_train does not know). An epoch is one pass over the
labeled mini-batches in both (espnet2's folded batch sampler, the same
``--batch_size``); no unlabeled stream is given to ours. Each run is a fresh
process; the epoch time is the espnet2 reporter's ``time`` of the train group
(the epoch loop only: no process start, model build, validation or
checkpoint). The first epoch of every run is dropped as warm-up; runs
alternate between the two (``--repeats``) so that drift in the machine's load
hits both.

Ratio = median epoch time (ours) / median epoch time (espnet2), target <= 1.03.

Example:
    python bench/plugin_overhead.py --labeled_takes 5 --epochs 4 --repeats 2
"""

import copy
import statistics

import common

TARGET = 1.03


def asr_train_config(config, out):
    """``config`` without the options asr_train does not have; returns ``out``."""
    import yaml
    from espnet2.tasks.asr import ASRTask

    known = set(ASRTask.get_default_config())
    with open(config, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    dropped = sorted(k for k in conf if k not in known)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        yaml.safe_dump({k: v for k, v in conf.items() if k in known}, f, sort_keys=False)
    return out, dropped


def main():
    parser = common.base_parser(__doc__)
    parser.set_defaults(labeled_takes=5)
    parser.add_argument("--epochs", type=int, default=4,
                        help="epochs per run (the first is dropped)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per trainer")
    args = parser.parse_args()  # fmt: skip

    data = common.prepare(args)
    asr_config, dropped = asr_train_config(args.config, args.work_dir / "overhead_asr.yaml")
    espnet_args = copy.copy(args)
    espnet_args.config = asr_config
    common_opts = ["--max_epoch", str(args.epochs), "--keep_nbest_models", "1"]
    epochs = {"ours": [], "espnet2": []}
    for repeat in range(args.repeats):
        order = [("ours", args), ("espnet2", espnet_args)]
        for name, run_args in order if repeat % 2 == 0 else reversed(order):
            exp = args.work_dir / f"overhead_{name}_{repeat}"
            extra = common_opts + (["--strategy", "supervised"] if name == "ours" else [])
            argv = common.bench_argv(run_args, data, exp, *extra, unlabeled=None)
            result = common.run_training(
                argv, exp, args.threads, entry="bljust" if name == "ours" else "asr"
            )
            seconds = common.epoch_train_seconds(result)
            epochs[name] += [seconds[e] for e in sorted(seconds) if e > 1]
    med = {name: statistics.median(values) for name, values in epochs.items()}
    ratio = med["ours"] / med["espnet2"]
    rows = [
        ["espnet2.bin.asr_train", len(epochs["espnet2"]), med["espnet2"],
         min(epochs["espnet2"]), 1.0, "", ""],
        ["bljust_train --strategy supervised", len(epochs["ours"]), med["ours"],
         min(epochs["ours"]), ratio, f"≤ {TARGET}", common.verdict(ratio, TARGET)],
    ]  # fmt: skip
    table = common.markdown(
        ["trainer", "epochs timed", "median s/epoch", "min s/epoch", "ratio", "target",
         "verdict"], rows)  # fmt: skip
    common.report(
        "Plugin overhead: time per epoch, supervised, ours vs espnet2",
        table,
        [f"{common.num_utts(data / 'train_labeled')} labeled utts, batch {args.batch_size}, "
         f"{args.epochs} epochs per run (first dropped), {args.repeats} run(s) each, "
         f"torch threads {args.threads}",
         f"min-ratio {min(epochs['ours']) / min(epochs['espnet2']):.3f}; "
         f"asr_train config = {args.config.name} without {', '.join(dropped)}"],
    )  # fmt: skip
    print(f"RATIO {ratio:.4f}")


if __name__ == "__main__":
    main()
