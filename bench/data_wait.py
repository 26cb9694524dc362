#!/usr/bin/env python3
"""Share of the step time spent waiting for batches, BL-JUST and supervised.

Each strategy trains with the real ``bljust_train`` in a fresh process on
real FSDD (by default the unlabeled stream reads the unlabeled audio), the
runs alternating between the strategies (``--repeats``). The trainer splits
every tick as espnet2's Trainer does: ``iter_time`` (waiting for the next
batch of either stream) and ``train_time`` (the rest); the epoch's means come
from the checkpoint's reporter. Share = iter_time / (iter_time + train_time),
median over the runs; target <= 5% for every strategy. bljust stays in the
joint phase (K lower steps + 1 upper step, g on a fresh unlabeled batch), so
each of its ticks reads K + 1 unlabeled batches and one labeled batch.

Printed last: the largest share over the strategies, as a ratio.

Example:
    python bench/data_wait.py --ticks 30 --repeats 3
"""

import common

TARGET = 0.05


def main():
    parser = common.base_parser(__doc__)
    parser.add_argument("--strategies", default="supervised bljust", help="space-separated")
    parser.add_argument("--ticks", type=int, default=30, help="training ticks per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per strategy (interleaved)")
    parser.add_argument("--same_audio", type=int, default=0,
                        help="1: the unlabeled stream reads the labeled audio")
    args = parser.parse_args()  # fmt: skip

    load_before = common.load_average()
    results = common.interleaved_trainings(args, "data_wait")
    strategies = list(results)

    def per_run(strategy, key):
        return [r["epochs"][1]["train"][key] for r in results[strategy]]

    rows, shares = [], {}
    for s in strategies:
        waits, trains = per_run(s, "iter_time"), per_run(s, "train_time")
        share = [w / (w + t) for w, t in zip(waits, trains)]
        shares[s] = common.median(share)
        rows.append([s, common.median(waits) * 1e3, common.median(trains) * 1e3,
                     f"{100 * shares[s]:.2f}% [{100 * min(share):.2f}–{100 * max(share):.2f}]",
                     "≤ 5%", common.verdict(shares[s], TARGET)])  # fmt: skip
    table = common.markdown(
        ["strategy", "iter_time per tick (ms)", "train_time per tick (ms)",
         "waiting share, median [range]", "target", "verdict"], rows)  # fmt: skip
    common.report(
        "Data loading: share of the step time spent waiting for batches",
        table,
        [f"{args.ticks} ticks per run, {args.repeats} run(s) per strategy, batch "
         f"{args.batch_size}, torch threads {args.threads}, same audio in both streams: "
         f"{bool(args.same_audio)}",
         f"model: {args.config.name} {args.model_args}".strip(),
         f"load average (1, 5, 15 min): {load_before} before, {common.load_average()} after"],
    )  # fmt: skip
    print(f"RATIO {max(shares.values()):.4f}")


if __name__ == "__main__":
    main()
