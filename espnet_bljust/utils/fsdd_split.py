"""Semi-supervised splits of the Free Spoken Digit Dataset (FSDD).

FSDD has 6 speakers x 10 digits x 50 takes; takes 0-4 are the official test
set. This module writes Kaldi data dirs for:

- ``train_labeled``: takes 10 .. 10+L-1 of every speaker and digit;
- ``train_unlabeled``: the following U takes (no text; all remaining when
  U < 0);
- ``dev``: takes 5..5+D-1; ``test``: takes 0..T-1.

Usage:
    python -m espnet_bljust.utils.fsdd_split --fsdd /path/to/fsdd --out data \
        --labeled_takes 2 --unlabeled_takes -1
"""

import argparse
from pathlib import Path
from typing import Dict, Iterable, List

from espnet_bljust.utils.kaldi_lists import write_data_dir

DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FIRST_TRAIN_TAKE, FIRST_DEV_TAKE, NUM_TAKES = 10, 5, 50


def fsdd_audio(fsdd: Path, speaker: str, digit: int, take: int) -> Path:
    """Path of one clip: the 16 kHz flac copy, or the original 8 kHz wav."""
    flac = fsdd / "recordings_16k" / f"{digit}_{speaker}_{take}.flac"
    if flac.exists():
        return flac
    return fsdd / "recordings" / f"{digit}_{speaker}_{take}.wav"


def _utts(fsdd: Path, takes: Iterable[int], with_text: bool):
    for speaker in SPEAKERS:
        for digit, word in enumerate(DIGITS):
            for take in takes:
                path = fsdd_audio(fsdd, speaker, digit, take)
                if not path.exists():
                    raise FileNotFoundError(f"FSDD clip missing: {path}")
                uid = f"{speaker}-{digit}-{take:02d}"
                yield uid, str(path.resolve()), word if with_text else None, speaker


def make_fsdd_split(
    fsdd: Path,
    out: Path,
    labeled_takes: int = 2,
    unlabeled_takes: int = -1,
    dev_takes: int = 5,
    test_takes: int = 5,
) -> Dict[str, Path]:
    """Write the four data dirs under ``out``; returns name -> dir."""
    fsdd = Path(fsdd)
    if not (fsdd / "recordings").is_dir() and not (fsdd / "recordings_16k").is_dir():
        raise FileNotFoundError(f"{fsdd}: not an FSDD tree (no recordings/)")
    lab_end = FIRST_TRAIN_TAKE + labeled_takes
    unl_end = NUM_TAKES if unlabeled_takes < 0 else lab_end + unlabeled_takes
    if not (0 < labeled_takes and lab_end <= NUM_TAKES and unl_end <= NUM_TAKES):
        raise ValueError(f"bad split: labeled {labeled_takes}, unlabeled {unlabeled_takes}")
    plan: Dict[str, List] = {
        "train_labeled": list(_utts(fsdd, range(FIRST_TRAIN_TAKE, lab_end), True)),
        "train_unlabeled": list(_utts(fsdd, range(lab_end, unl_end), False)),
        "dev": list(_utts(fsdd, range(FIRST_DEV_TAKE, FIRST_DEV_TAKE + dev_takes), True)),
        "test": list(_utts(fsdd, range(test_takes), True)),
    }
    return {name: write_data_dir(Path(out) / name, utts) for name, utts in plan.items()}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fsdd", type=Path, required=True, help="FSDD root")
    parser.add_argument("--out", type=Path, required=True, help="output data dir")
    parser.add_argument("--labeled_takes", type=int, default=2)
    parser.add_argument("--unlabeled_takes", type=int, default=-1)
    parser.add_argument("--dev_takes", type=int, default=5)
    parser.add_argument("--test_takes", type=int, default=5)
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    dirs = make_fsdd_split(
        args.fsdd,
        args.out,
        args.labeled_takes,
        args.unlabeled_takes,
        args.dev_takes,
        args.test_takes,
    )
    for name, path in dirs.items():
        n = sum(1 for _ in open(path / "wav.scp", encoding="utf-8"))
        print(f"{name}: {n} utterances in {path}")


if __name__ == "__main__":
    main()
