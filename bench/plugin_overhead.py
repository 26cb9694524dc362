#!/usr/bin/env python3
"""Training time per epoch: our ``--strategy supervised`` over espnet2's asr_train.

Both train the same model on the same labeled data with the same batching:
``bljust_train --strategy supervised`` and espnet2's ``asr_train`` (its config
is ``--config`` without the BL-JUST keys, which asr_train does not know). An
epoch is one pass over the labeled mini-batches in both (espnet2's folded
batch sampler, the same ``--batch_size``); no unlabeled stream is given to
ours. Two ways to measure (``--mode``):

- ``inprocess`` (default): both tasks build their model, optimizers,
  schedulers and train iterator from their command lines in one process, and
  each trainer's own ``train_one_epoch`` runs, alternating epoch by epoch
  (the order flips every epoch), so that the machine's load drifts over both;
- ``cli``: each trainer's ``main`` in a fresh process (``--repeats`` each,
  alternating); the epoch time is the espnet2 reporter's ``time`` of the
  train group (no process start, model build, validation or checkpoint).

The first epoch of each trainer (of every run) is dropped as warm-up.
Ratio = median epoch time (ours) / median epoch time (espnet2), target <= 1.03.

Example:
    python bench/plugin_overhead.py --labeled_takes 5 --epochs 8
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


def epochs_cli(args, argvs) -> dict:
    """{trainer: [epoch seconds]} from fresh-process runs of each main."""
    epochs = {"ours": [], "espnet2": []}
    for repeat in range(args.repeats):
        names = list(argvs) if repeat % 2 == 0 else list(reversed(list(argvs)))
        for name in names:
            exp = args.work_dir / f"overhead_{name}_{repeat}"
            argv = argvs[name](exp)
            entry = "bljust" if name == "ours" else "asr"
            result = common.run_training(argv, exp, args.threads, entry=entry)
            seconds = common.epoch_train_seconds(result)
            epochs[name] += [seconds[e] for e in sorted(seconds) if e > 1]
    return epochs


def epochs_inprocess(args, argvs) -> dict:
    """{trainer: [epoch seconds]}, both trainers alternating in this process."""
    import torch
    from espnet2.tasks.asr import ASRTask

    torch.set_num_threads(args.threads)
    built = {
        "ours": common.build_training(argvs["ours"](args.work_dir / "overhead_ip_ours")),
        "espnet2": common.build_training(
            argvs["espnet2"](args.work_dir / "overhead_ip_espnet2"), task=ASRTask
        ),
    }
    epochs = {"ours": [], "espnet2": []}
    for epoch in range(1, args.epochs + 1):
        names = list(built) if epoch % 2 else list(reversed(list(built)))
        for name in names:
            seconds = common.train_epoch(built[name], epoch)
            if epoch > 1:
                epochs[name].append(seconds)
    return epochs


def main():
    parser = common.base_parser(__doc__)
    parser.set_defaults(labeled_takes=5)
    parser.add_argument("--mode", choices=("inprocess", "cli"), default="inprocess")
    parser.add_argument("--epochs", type=int, default=8,
                        help="epochs per trainer (per run in cli mode); the first is dropped")
    parser.add_argument("--repeats", type=int, default=2, help="cli mode: runs per trainer")
    args = parser.parse_args()  # fmt: skip
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first is dropped)")

    data = common.prepare(args)
    asr_config, dropped = asr_train_config(args.config, args.work_dir / "overhead_asr.yaml")
    espnet_args = copy.copy(args)
    espnet_args.config = asr_config
    opts = ["--max_epoch", str(args.epochs), "--keep_nbest_models", "1"]
    argvs = {
        "ours": lambda exp: common.bench_argv(
            args, data, exp, *opts, "--strategy", "supervised", unlabeled=None),
        "espnet2": lambda exp: common.bench_argv(espnet_args, data, exp, *opts, unlabeled=None),
    }  # fmt: skip
    epochs = (epochs_cli if args.mode == "cli" else epochs_inprocess)(args, argvs)
    med = {name: statistics.median(values) for name, values in epochs.items()}
    ratio = med["ours"] / med["espnet2"]
    rows = [
        ["espnet2 asr_train (Trainer.train_one_epoch)", len(epochs["espnet2"]),
         med["espnet2"], min(epochs["espnet2"]), 1.0, "", ""],
        ["bljust_train --strategy supervised", len(epochs["ours"]), med["ours"],
         min(epochs["ours"]), ratio, f"≤ {TARGET}", common.verdict(ratio, TARGET)],
    ]  # fmt: skip
    table = common.markdown(
        ["trainer", "epochs timed", "median s/epoch", "min s/epoch", "ratio", "target",
         "verdict"], rows)  # fmt: skip
    runs = "one process" if args.mode == "inprocess" else f"{args.repeats} run(s) each"
    common.report(
        f"Plugin overhead: time per epoch, supervised, ours vs espnet2 ({args.mode})",
        table,
        [f"{common.num_utts(data / 'train_labeled')} labeled utts, batch {args.batch_size}, "
         f"{args.epochs} epochs per trainer (first dropped), {runs}, "
         f"torch threads {args.threads}",
         f"min-ratio {min(epochs['ours']) / min(epochs['espnet2']):.3f}, paired median "
         f"(epoch by epoch) {statistics.median(o / e for o, e in zip(epochs['ours'], epochs['espnet2'])):.3f}; "
         f"asr_train config = {args.config.name} without {', '.join(dropped)}"],
    )  # fmt: skip
    print(f"RATIO {ratio:.4f}")


if __name__ == "__main__":
    main()
