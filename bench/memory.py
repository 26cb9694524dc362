#!/usr/bin/env python3
"""Peak resident memory of BL-JUST training over supervised training.

Each strategy trains with the real ``bljust_train`` in a fresh process
(forked from a server that only imported the modules), on the same model and
the same batches: by default the unlabeled stream reads the labeled audio too
(``--same_audio``), so the only difference is what the steps compute. bljust
runs the joint phase throughout (K lower steps + 1 upper step per tick), the
worst case for memory. Peak = the child's ``VmHWM`` (/proc/self/status) after
training; "training increment" = peak - the child's RSS when it started
(the imported modules, the same for every run).

Ratio = peak(bljust) / peak(supervised), target <= 1.10; the increment ratio
is printed too.

Example:
    python bench/memory.py --ticks 20 --repeats 2
"""

import common

TARGET = 1.10


def main():
    parser = common.base_parser(__doc__)
    parser.add_argument("--strategies", default="supervised bljust",
                        help="space-separated; the first is the denominator")
    parser.add_argument("--ticks", type=int, default=20, help="training ticks per run")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per strategy (interleaved); the largest peak counts")
    parser.add_argument("--same_audio", type=int, default=1,
                        help="1: the unlabeled stream reads the labeled audio (same batches)")
    args = parser.parse_args()  # fmt: skip

    data = common.prepare(args)
    strategies = args.strategies.split()
    phases = {
        "supervised": [],
        "pt_ft": ["--exploration_len", str(max(1, args.ticks // 2))],
        "just": ["--exploration_len", "0", "--finetune_len", "0"],
        "bljust": ["--exploration_len", "0", "--finetune_len", "0"],
    }
    results = {s: [] for s in strategies}
    for repeat in range(args.repeats):
        for strategy in strategies:
            exp = args.work_dir / f"memory_{strategy}_{repeat}"
            argv = common.bench_argv(
                args, data, exp, "--strategy", strategy, "--max_epoch", "1",
                "--num_iters_per_epoch", str(args.ticks), "--phase_unit", "step",
                "--keep_last_checkpoints", "0", *phases[strategy],
                unlabeled="train_labeled" if args.same_audio else "train_unlabeled",
            )  # fmt: skip
            results[strategy].append(common.run_training(argv, exp, args.threads))

    def peak(s):
        return max(r["train_peak_rss_mb"] for r in results[s])

    def increment(s):
        return max(r["train_peak_rss_mb"] - r["start_rss_mb"] for r in results[s])

    base = strategies[0]
    rows = []
    for s in strategies:
        ratio = peak(s) / peak(base)
        rows.append([s, f"{min(r['start_rss_mb'] for r in results[s]):.0f}",
                     f"{peak(s):.0f}", f"{increment(s):.0f}", ratio,
                     increment(s) / increment(base),
                     f"≤ {TARGET}" if s != base else "",
                     common.verdict(ratio, TARGET) if s != base else ""])  # fmt: skip
    table = common.markdown(
        ["strategy", "start RSS (MiB)", "peak RSS (MiB)", "training increment (MiB)",
         f"peak ratio vs {base}", "increment ratio", "target", "verdict"], rows)  # fmt: skip
    common.report(
        "Memory: peak RSS of training, each strategy in a fresh process",
        table,
        [f"{args.ticks} ticks, batch {args.batch_size}, torch threads {args.threads}, "
         f"{args.repeats} run(s) per strategy, same audio in both streams: {bool(args.same_audio)}",
         f"model: {args.config.name} {args.model_args}".strip()],
    )  # fmt: skip
    last = strategies[-1]
    print(f"RATIO {peak(last) / peak(base):.4f}")


if __name__ == "__main__":
    main()
