#!/usr/bin/env python3
"""Cost of the pre-training data checks (validate_data_dir) on real FSDD clips.

Every clip is decoded to its end (so truncated files are found), which makes
the check a pass over all the audio. Printed, measured in this one run:
seconds per clip, and the check's real-time factor (check seconds / audio
seconds; target <= 0.01, i.e. at least 100x faster than real time, so that
checking 1000 h before training takes under 10 h of one core). ``--threads``
decodes that many clips at once (validate_data_dir's ``nj``).

Example:
    python bench/data_checks.py --fsdd ../shared/data/fsdd --split train
"""

import argparse
import os
import time
from pathlib import Path

from common import DEFAULT_FSDD

from espnet_bljust.data.list_checks import validate_data_dir

TARGET_RTF = 0.01


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--fsdd", type=Path, default=DEFAULT_FSDD, help="FSDD root")
    parser.add_argument("--split", default="train", help="data dir under --fsdd")
    parser.add_argument("--fs", type=int, default=8000, help="the clips' sampling rate")
    parser.add_argument("--threads", type=int, default=1,
                        help="clips decoded at once (validate_data_dir's nj)")
    args = parser.parse_args()

    data = args.fsdd / args.split
    if not (data / "wav.scp").is_file():
        raise SystemExit(f"data_checks bench: {data}/wav.scp not found (--fsdd)")
    cwd = os.getcwd()
    os.chdir(args.fsdd)  # FSDD's wav.scp paths are relative to its root
    try:
        start = time.perf_counter()
        report = validate_data_dir(args.split, fs=args.fs, nj=args.threads)
        took = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    if report.errors:
        raise SystemExit(f"data_checks bench: {data} has errors: {report.errors[:3]}")
    rtf = took / report.seconds
    print("| clips | audio (s) | check (s) | ms per clip | RTF (check / audio) | target | verdict |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {report.num_utts} | {report.seconds:.1f} | {took:.2f} "
          f"| {1000 * took / report.num_utts:.2f} | {rtf:.4f} | ≤ {TARGET_RTF} "
          f"| {'met' if rtf <= TARGET_RTF else 'not met'} |")  # fmt: skip


if __name__ == "__main__":
    main()
