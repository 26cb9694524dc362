"""Semi-supervised splits of the Free Spoken Digit Dataset (FSDD).

FSDD (https://github.com/Jakobovski/free-spoken-digit-dataset, tag v1.0.10;
CC BY-SA 4.0) has 6 speakers x 10 digits x 50 takes, files
``recordings/<digit>_<speaker>_<take>.wav`` (8 kHz mono). Its README makes
takes 0-4 the official test set. The split here, the same as the lists of the
shared copy (``fsdd/{test,dev,train}``: takes 0-4, 5-9, 10-49):

- ``test``: takes 0 .. T-1 (T <= 5; all 5 = 300 utterances);
- ``dev``: takes 5 .. 5+D-1 (D <= 5);
- ``train_labeled``: takes 10 .. 10+L-1 of every speaker and digit
  (L = 1, 2, 5 -> 60, 120, 300 utterances);
- ``train_unlabeled``: the following U takes, without text (U < 0: every
  remaining train take, 2400 - 60 L utterances).

Utterance ids are ``<speaker>-<digit>-<take:02d>``, transcripts the digit word
in upper case (ZERO .. NINE). ``--speakers`` keeps a subset of the speakers
(small test runs). The audio is the original 8 kHz wav (``--audio original``),
the 16 kHz flac copy that the shared copy adds (``--audio 16k``), or the flac
copy where present and the wav otherwise (``--audio auto``, the default).

Usage:
    python -m espnet_bljust.corpora.fsdd --fsdd /path/to/fsdd --out data \
        --labeled_takes 2 --unlabeled_takes -1
"""

import argparse
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from espnet_bljust.data.kaldi_lists import write_data_dir

DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FIRST_TRAIN_TAKE, FIRST_DEV_TAKE, NUM_TAKES = 10, 5, 50
AUDIO_CHOICES = ("auto", "original", "16k")


def fsdd_audio(fsdd: Path, speaker: str, digit: int, take: int, audio: str = "auto") -> Path:
    """Path of one clip: the 16 kHz flac copy, or the original 8 kHz wav.

    ``audio``: "original" (8 kHz wav), "16k" (flac copy) or "auto" (the flac
    copy where it exists, else the wav).
    """
    if audio not in AUDIO_CHOICES:
        raise ValueError(f"audio must be one of {AUDIO_CHOICES}, got {audio!r}")
    wav = fsdd / "recordings" / f"{digit}_{speaker}_{take}.wav"
    flac = fsdd / "recordings_16k" / f"{digit}_{speaker}_{take}.flac"
    if audio == "16k" or (audio == "auto" and flac.exists()):
        return flac
    return wav


def _utts(
    fsdd: Path, takes: Iterable[int], with_text: bool, speakers: Sequence[str], audio: str
):
    takes = list(takes)
    for speaker in speakers:
        for digit, word in enumerate(DIGITS):
            for take in takes:
                path = fsdd_audio(fsdd, speaker, digit, take, audio)
                if not path.exists():
                    raise FileNotFoundError(f"FSDD clip missing: {path}")
                uid = f"{speaker}-{digit}-{take:02d}"
                yield uid, str(path.resolve()), word if with_text else None, speaker


def split_takes(
    labeled_takes: int = 2,
    unlabeled_takes: int = -1,
    dev_takes: int = 5,
    test_takes: int = 5,
) -> Dict[str, range]:
    """The takes of every split; raises ValueError on an impossible split."""
    lab_end = FIRST_TRAIN_TAKE + labeled_takes
    unl_end = NUM_TAKES if unlabeled_takes < 0 else lab_end + unlabeled_takes
    problems = []
    if not 0 < labeled_takes or lab_end > NUM_TAKES:
        problems.append(f"labeled_takes {labeled_takes} not in 1..{NUM_TAKES - FIRST_TRAIN_TAKE}")
    if unl_end > NUM_TAKES:
        problems.append(
            f"labeled_takes + unlabeled_takes = {labeled_takes + unlabeled_takes} "
            f"> {NUM_TAKES - FIRST_TRAIN_TAKE} train takes"
        )
    if not 0 < dev_takes <= FIRST_TRAIN_TAKE - FIRST_DEV_TAKE:
        problems.append(f"dev_takes {dev_takes} not in 1..{FIRST_TRAIN_TAKE - FIRST_DEV_TAKE}")
    if not 0 < test_takes <= FIRST_DEV_TAKE:
        problems.append(f"test_takes {test_takes} not in 1..{FIRST_DEV_TAKE}")
    if problems:
        raise ValueError("bad FSDD split: " + "; ".join(problems))
    return {
        "train_labeled": range(FIRST_TRAIN_TAKE, lab_end),
        "train_unlabeled": range(lab_end, unl_end),
        "dev": range(FIRST_DEV_TAKE, FIRST_DEV_TAKE + dev_takes),
        "test": range(test_takes),
    }


def make_fsdd_split(
    fsdd: Path,
    out: Path,
    labeled_takes: int = 2,
    unlabeled_takes: int = -1,
    dev_takes: int = 5,
    test_takes: int = 5,
    speakers: Optional[Sequence[str]] = None,
    audio: str = "auto",
) -> Dict[str, Path]:
    """Write the four data dirs under ``out``; returns name -> dir."""
    fsdd = Path(fsdd)
    if not (fsdd / "recordings").is_dir() and not (fsdd / "recordings_16k").is_dir():
        raise FileNotFoundError(f"{fsdd}: not an FSDD tree (no recordings/)")
    speakers = list(SPEAKERS if speakers is None else speakers)
    unknown = sorted(set(speakers) - set(SPEAKERS))
    if unknown or not speakers:
        raise ValueError(f"speakers must be a non-empty subset of {SPEAKERS}, got {speakers}")
    takes = split_takes(labeled_takes, unlabeled_takes, dev_takes, test_takes)
    plan: Dict[str, List] = {
        name: list(_utts(fsdd, split, name != "train_unlabeled", speakers, audio))
        for name, split in takes.items()
    }
    return {name: write_data_dir(Path(out) / name, utts) for name, utts in plan.items()}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fsdd", type=Path, required=True, help="FSDD root")
    parser.add_argument("--out", type=Path, required=True, help="output data dir")
    parser.add_argument("--labeled_takes", type=int, default=2,
                        help="labeled takes per speaker and digit (from take 10)")
    parser.add_argument("--unlabeled_takes", type=int, default=-1,
                        help="unlabeled takes after the labeled ones; < 0: all the rest")
    parser.add_argument("--dev_takes", type=int, default=5, help="dev takes (from take 5)")
    parser.add_argument("--test_takes", type=int, default=5, help="test takes (from take 0)")
    parser.add_argument("--speakers", nargs="+", default=None,
                        help=f"a subset of {' '.join(SPEAKERS)} (default: all)")
    parser.add_argument("--audio", choices=AUDIO_CHOICES, default="auto",
                        help="original: 8 kHz wav; 16k: the flac copy; auto: flac where present")
    return parser  # fmt: skip


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    dirs = make_fsdd_split(
        args.fsdd,
        args.out,
        args.labeled_takes,
        args.unlabeled_takes,
        args.dev_takes,
        args.test_takes,
        speakers=args.speakers,
        audio=args.audio,
    )
    for name, path in dirs.items():
        n = sum(1 for _ in open(path / "wav.scp", encoding="utf-8"))
        print(f"{name}: {n} utterances in {path}")


if __name__ == "__main__":
    main()
