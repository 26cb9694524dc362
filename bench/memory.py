#!/usr/bin/env python3
"""Peak resident memory of BL-JUST training over supervised training.

Each strategy trains with the real ``bljust_train`` in a fresh process
(forked from a server that only imported the modules), on the same model and
the same batches: by default the unlabeled stream reads the labeled audio too
(``--same_audio``), so the only difference is what the steps compute. bljust
runs the joint phase throughout (K lower steps + 1 upper step per tick), the
worst case for memory. Two measures per run:

- peak RSS: the child's ``VmHWM`` (/proc/self/status) after training; it
  also counts whichever shared-library pages are resident, which moves by
  tens of MiB from run to run;
- peak anonymous RSS: the largest ``RssAnon`` (heap: tensors, graphs,
  optimizer states) sampled every 5 ms while training.

Runs alternate between the strategies (``--repeats``); medians over them.
Ratio = median peak RSS (bljust) / median peak RSS (supervised), target
<= 1.05; the anonymous-memory ratio is printed next to it.

``--malloc_mmap_threshold N`` runs everything with glibc's mmap and trim
thresholds pinned at N bytes, so that a freed tensor's memory goes back to
the system at once instead of staying in the heap. Peak RSS then counts the
tensors alive at once, not what glibc keeps after batches of many different
shapes (an unlabeled stream with more distinct batch shapes than the labeled
one grows the heap further, without holding more tensors).

The real unlabeled stream (``--same_audio 0``) has longer clips and many
more batch shapes than the labeled one. Training options that bound both,
passed to every run with ``--model_args`` (the last example: all of them):

- ``--unlabeled_max_length auto --match_unlabeled_batch_bins true``: no
  unlabeled batch holds a longer utterance or more padded audio than the
  labeled stream's largest (changes what is trained: long clips are cropped);
- ``--unlabeled_length_multiple 1600``: unlabeled batches padded to a few
  bucket lengths, so few distinct shapes (changes what is trained: padding);
- ``--malloc_trim true``: glibc's free heap pages go back to the system after
  every optimizer step and between the upper step's two passes (same numbers).

Example:
    python bench/memory.py --ticks 20 --repeats 3
    python bench/memory.py --ticks 30 --repeats 3 --same_audio 0 --threads 1 --model_args '--malloc_trim true --unlabeled_max_length auto --match_unlabeled_batch_bins true --unlabeled_length_multiple 1600'
    python bench/memory.py --same_audio 0 --strategies 'supervised pt_ft' --ticks 60
    python bench/memory.py --same_audio 0 --strategies 'supervised pt_ft' --ticks 60 --malloc_mmap_threshold 131072
"""

import os
import statistics
import sys

import common

TARGET = 1.05


MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def pin_malloc_thresholds(threshold: int) -> None:
    """Restart this script with glibc's thresholds set (glibc reads them at
    process start; the training processes are forked from this one)."""
    if threshold <= 0 or all(os.environ.get(v) == str(threshold) for v in MALLOC_VARS):
        return
    env = dict(os.environ, **{v: str(threshold) for v in MALLOC_VARS})
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main():
    parser = common.base_parser(__doc__)
    parser.add_argument("--strategies", default="supervised bljust",
                        help="space-separated; the first is the denominator")
    parser.add_argument("--ticks", type=int, default=20, help="training ticks per run")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per strategy (interleaved); medians over them")
    parser.add_argument("--same_audio", type=int, default=1,
                        help="1: the unlabeled stream reads the labeled audio (same batches)")
    parser.add_argument("--malloc_mmap_threshold", type=int, default=0,
                        help="bytes; > 0: glibc's MALLOC_MMAP_THRESHOLD_ and "
                        "MALLOC_TRIM_THRESHOLD_ for every run (0: glibc's defaults)")
    args = parser.parse_args()  # fmt: skip
    pin_malloc_thresholds(args.malloc_mmap_threshold)

    load_before = common.load_average()
    results = common.interleaved_trainings(args, "memory")
    strategies = list(results)

    def med(strategy, key):
        return statistics.median(r[key] for r in results[strategy])

    def spread(strategy, key):
        values = [r[key] for r in results[strategy]]
        return f"{med(strategy, key):.0f} [{min(values):.0f}–{max(values):.0f}]"

    base = strategies[0]
    rows = []
    for s in strategies:
        ratio = med(s, "train_peak_rss_mb") / med(base, "train_peak_rss_mb")
        anon = med(s, "train_peak_anon_mb") / med(base, "train_peak_anon_mb")
        step_ms = statistics.median(1e3 * r["epochs"][1]["train"]["tick_time"] for r in results[s])
        rows.append([s, f"{med(s, 'start_rss_mb'):.0f}", spread(s, "train_peak_rss_mb"), ratio,
                     spread(s, "train_peak_anon_mb"), anon, f"{step_ms:.0f}",
                     f"≤ {TARGET}" if s != base else "",
                     common.verdict(ratio, TARGET) if s != base else ""])  # fmt: skip
    table = common.markdown(
        ["strategy", "start RSS (MiB)", "peak RSS, VmHWM (MiB) median [range]",
         f"ratio vs {base}", "peak RssAnon (MiB) median [range]", "anon ratio",
         "step (ms)", "target",
         "verdict"], rows)  # fmt: skip
    common.report(
        "Memory: peak RSS of training, each strategy in a fresh process",
        table,
        [f"{args.ticks} ticks, batch {args.batch_size}, torch threads {args.threads}, "
         f"{args.repeats} run(s) per strategy, same audio in both streams: {bool(args.same_audio)}",
         "glibc malloc: " + (f"mmap and trim thresholds {args.malloc_mmap_threshold} B"
                             if args.malloc_mmap_threshold > 0 else "default thresholds")
         + " (MALLOC_MMAP_THRESHOLD_ in the training processes: "
         + ", ".join(sorted({str(r["malloc_mmap_threshold"])
                             for rs in results.values() for r in rs})) + ")",
         f"model: {args.config.name} {args.model_args}".strip(),
         f"load average (1, 5, 15 min): {load_before} before, {common.load_average()} after"],
    )  # fmt: skip
    last = strategies[-1]
    print(f"RATIO {med(last, 'train_peak_rss_mb') / med(base, 'train_peak_rss_mb'):.4f}")


if __name__ == "__main__":
    main()
