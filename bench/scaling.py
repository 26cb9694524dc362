#!/usr/bin/env python3
"""Time per epoch as the unlabeled set doubles (exploration only).

For each ``--sizes`` (unlabeled utterances; multiples of 10 x speakers, as FSDD
gives 10 digits per speaker and take), a fresh process trains one epoch of
the exploration phase (``--strategy pt_ft --phase_unit epoch
--exploration_len 1 --max_epoch 1``), so the unlabeled stream drives the
tick count: one pass over its mini-batches, one lower step each. The epoch
time is the espnet2 reporter's ``time`` of the train group (no process start,
build, validation). Ratio = epoch time / epoch time of the smallest size,
next to the size ratio; time per utterance should stay flat (linear scaling).
Target: time per utterance of the largest size <= 1.10 x the smallest's.

Example:
    python bench/scaling.py --sizes "300 600 1200"
"""

import common

TARGET = 1.10


def main():
    parser = common.base_parser(__doc__)
    parser.add_argument("--sizes", default="300 600 1200",
                        help="space-separated unlabeled set sizes (utterances)")
    args = parser.parse_args()  # fmt: skip

    speakers = len(args.speakers.split()) if args.speakers else 6
    per_take = 10 * speakers
    sizes = [int(s) for s in args.sizes.split()]
    bad = [s for s in sizes if s % per_take or s <= 0]
    if bad:
        parser.error(f"--sizes must be positive multiples of {per_take} (10 digits x "
                     f"{speakers} speakers): {bad}")  # fmt: skip
    rows, first = [], None
    for size in sizes:
        data = common.prepare(args, unlabeled_takes=size // per_take)
        exp = args.work_dir / f"scaling_u{size}"
        argv = common.bench_argv(
            args, data, exp, "--strategy", "pt_ft", "--phase_unit", "epoch",
            "--exploration_len", "1", "--max_epoch", "1", "--keep_last_checkpoints", "0",
        )  # fmt: skip
        result = common.run_training(argv, exp, args.threads)
        seconds = common.epoch_train_seconds(result)[1]
        steps = int(result["epochs"][1]["train"]["total_count"])
        first = first or (size, seconds)
        per_utt = seconds / size
        rows.append([size, steps, seconds, seconds / first[1], size / first[0],
                     per_utt * 1e3, per_utt / (first[1] / first[0])])  # fmt: skip
    last = rows[-1][-1]
    table = common.markdown(
        ["unlabeled utts", "steps", "epoch s", "time ratio", "size ratio", "ms per utt",
         "per-utt ratio"], rows)  # fmt: skip
    common.report(
        "Scaling: exploration epoch time vs unlabeled set size",
        table,
        [f"per-utterance time, largest / smallest = {last:.3f} (target ≤ {TARGET}: "
         f"{common.verdict(last, TARGET)})",
         f"batch {args.batch_size}, torch threads {args.threads}, "
         f"model {args.config.name} {args.model_args}".strip()],
    )  # fmt: skip
    print(f"RATIO {last:.4f}")


if __name__ == "__main__":
    main()
