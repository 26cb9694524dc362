"""Semi-supervised splits of the Free Spoken Digit Dataset (FSDD).

FSDD (https://github.com/Jakobovski/free-spoken-digit-dataset, tag v1.0.10;
CC BY-SA 4.0) has 6 speakers x 10 digits x 50 takes, files
``recordings/<digit>_<speaker>_<take>.wav`` (8 kHz mono). Two splits, both
written as Kaldi dirs ``train_labeled``, ``train_unlabeled`` (no ``text``),
``dev`` and ``test``:

Closed-speaker split (``make_fsdd_split``, ``--split closed``, the default of
the CLI): every speaker is in every set, so test measures new takes of voices
the model was trained on. Its README makes takes 0-4 the official test set;
the split is the same as the lists of the shared copy (``fsdd/{test,dev,train}``:
takes 0-4, 5-9, 10-49):

- ``test``: takes 0 .. T-1 (T <= 5; all 5 = 300 utterances);
- ``dev``: takes 5 .. 5+D-1 (D <= 5);
- ``train_labeled``: takes 10 .. 10+L-1 of every speaker and digit
  (L = 1, 2, 5 -> 60, 120, 300 utterances);
- ``train_unlabeled``: the following U takes, without text (U < 0: every
  remaining train take, 2400 - 60 L utterances).

Unseen-speaker split (``make_unseen_speaker_split``, ``--split unseen``): test
and dev speakers occur in no training stream, labeled or unlabeled; test holds
every recording of its speakers (see that function for the default speakers
and why).

Utterance ids are ``<speaker>-<digit>-<take:02d>``, transcripts the digit word
in upper case (ZERO .. NINE). ``--speakers`` keeps a subset of the speakers
(small test runs of the closed split). The audio is the original 8 kHz wav
(``--audio original``), the 16 kHz flac copy that the shared copy adds
(``--audio 16k``), or the flac copy where present and the wav otherwise
(``--audio auto``, the default).

Usage:
    python -m espnet_bljust.corpora.fsdd --fsdd /path/to/fsdd --out data \
        --labeled_takes 2 --unlabeled_takes -1
    python -m espnet_bljust.corpora.fsdd --fsdd /path/to/fsdd --out data \
        --split unseen --labeled_takes 4
"""

import argparse
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from typeguard import typechecked

from espnet_bljust.corpora.cli import corpus_parser
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


def _check_tree(fsdd: Path) -> Path:
    fsdd = Path(fsdd)
    if not (fsdd / "recordings").is_dir() and not (fsdd / "recordings_16k").is_dir():
        raise FileNotFoundError(f"{fsdd}: not an FSDD tree (no recordings/)")
    return fsdd


def _write_plan(fsdd: Path, out: Path, plan: Dict[str, Tuple], audio: str) -> Dict[str, Path]:
    """plan: name -> (speakers, takes). Every clip is listed (and checked to
    exist) before the first file is written."""
    utts = {
        name: list(_utts(fsdd, takes, name != "train_unlabeled", speakers, audio))
        for name, (speakers, takes) in plan.items()
    }
    return {name: write_data_dir(Path(out) / name, rows) for name, rows in utts.items()}


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
    """Write the four data dirs of the closed-speaker split under ``out``;
    returns name -> dir."""
    fsdd = _check_tree(fsdd)
    speakers = list(SPEAKERS if speakers is None else speakers)
    unknown = sorted(set(speakers) - set(SPEAKERS))
    if unknown or not speakers:
        raise ValueError(f"speakers must be a non-empty subset of {SPEAKERS}, got {speakers}")
    takes = split_takes(labeled_takes, unlabeled_takes, dev_takes, test_takes)
    plan = {name: (speakers, split) for name, split in takes.items()}
    return _write_plan(fsdd, out, plan, audio)


# Held-out speakers, chosen from FSDD's metadata (all six are adult men) and the
# recordings' levels, before any result on this split existed:
#   george GRC/Greek accent, loud (-25 dBFS)    jackson USA/neutral, loud (-21 dBFS)
#   lucas DEU/German, loud, clean (-24 dBFS)   nicolas BEL/French, loud, noisiest (-26 dBFS)
#   theo USA/neutral, quiet (-42 dBFS)         yweweler DEU/German, quiet (-38 dBFS)
UNSEEN_TEST_SPEAKERS = ("nicolas", "theo")
UNSEEN_DEV_SPEAKERS = ("george",)


@typechecked
def unseen_speaker_plan(
    test_speakers: Sequence[str] = UNSEEN_TEST_SPEAKERS,
    dev_speakers: Sequence[str] = UNSEEN_DEV_SPEAKERS,
    labeled_takes: int = 4,
    dev_takes: int = 30,
) -> Dict[str, Tuple[List[str], range]]:
    """name -> (speakers, takes) of the unseen-speaker split; raises ValueError
    naming the option on an impossible split (see make_unseen_speaker_split)."""
    test_speakers, dev_speakers = list(test_speakers), list(dev_speakers)
    problems = []
    for option, speakers in (("test_speakers", test_speakers), ("dev_speakers", dev_speakers)):
        unknown = sorted(set(speakers) - set(SPEAKERS))
        if unknown or not speakers or len(set(speakers)) < len(speakers):
            problems.append(f"{option} {speakers} is not a non-empty set of {SPEAKERS}")
    shared = sorted(set(test_speakers) & set(dev_speakers))
    if shared:
        problems.append(f"speakers {shared} in both test_speakers and dev_speakers")
    train = [s for s in SPEAKERS if s not in test_speakers and s not in dev_speakers]
    if not train:
        problems.append("test_speakers and dev_speakers leave no training speaker")
    if not 0 < labeled_takes < NUM_TAKES:
        problems.append(f"labeled_takes {labeled_takes} not in 1..{NUM_TAKES - 1}")
    dev_takes = NUM_TAKES if dev_takes < 0 else dev_takes
    if not 0 < dev_takes <= NUM_TAKES:
        problems.append(f"dev_takes {dev_takes} not in 1..{NUM_TAKES} (or < 0: all)")
    if problems:
        raise ValueError("bad FSDD unseen-speaker split: " + "; ".join(problems))
    return {
        "train_labeled": (train, range(labeled_takes)),
        "train_unlabeled": (train, range(labeled_takes, NUM_TAKES)),
        "dev": (dev_speakers, range(dev_takes)),
        "test": (test_speakers, range(NUM_TAKES)),
    }


@typechecked
def make_unseen_speaker_split(
    fsdd_dir: Union[str, Path],
    out_dir: Union[str, Path],
    test_speakers: Sequence[str] = UNSEEN_TEST_SPEAKERS,
    dev_speakers: Sequence[str] = UNSEEN_DEV_SPEAKERS,
    labeled_takes: int = 4,
    dev_takes: int = 30,
    audio: str = "auto",
) -> Dict[str, Path]:
    """Write the unseen-speaker split under ``out_dir``; returns name -> dir.

    - ``test``: every recording (all 50 takes x 10 digits) of ``test_speakers``
      (2 speakers -> 1,000 utterances, so that intervals are tight);
    - ``dev``: takes 0 .. ``dev_takes``-1 of ``dev_speakers`` (< 0: all 50),
      speakers in neither test nor training, so that tuning on dev rewards
      new voices, not new takes of known ones;
    - ``train_labeled``: takes 0 .. ``labeled_takes``-1 of every digit of every
      other (training) speaker;
    - ``train_unlabeled``: the remaining takes of the training speakers, no text.

    Defaults: test = nicolas + theo, dev = george, training = jackson, lucas,
    yweweler; ``labeled_takes`` 4 -> 120 labeled (the closed split's headline
    size), 1,380 unlabeled; ``dev_takes`` 30 -> 300 dev utterances, the closed
    split's dev size, so a validation pass costs the same. Why these speakers:
    test holds two kinds of new voice, a native one whose accent training
    covers (theo, USA, like jackson; quiet, like yweweler) and one whose accent
    no other speaker has (nicolas, French); dev is a third kind, an accent
    absent from training and from test (george, Greek), so that a setting wins
    on dev by generalising to an unheard voice and accent, not by fitting one
    of test's. Training keeps one US, two German speakers and both a loud and
    a quiet recording set.
    """
    fsdd = _check_tree(fsdd_dir)
    plan = unseen_speaker_plan(test_speakers, dev_speakers, labeled_takes, dev_takes)
    return _write_plan(fsdd, out_dir, plan, audio)


SPLITS = ("closed", "unseen")
CLOSED_ONLY = ("unlabeled_takes", "test_takes", "speakers")
UNSEEN_ONLY = ("test_speakers", "dev_speakers")


def get_parser() -> argparse.ArgumentParser:
    parser = corpus_parser(__doc__)
    parser.add_argument("--fsdd", type=Path, required=True, help="FSDD root")
    parser.add_argument("--out", type=Path, required=True, help="output data dir")
    parser.add_argument("--split", choices=SPLITS, default="closed",
                        help="closed: every speaker in every set; unseen: dev and test "
                        "speakers in no training stream")
    parser.add_argument("--labeled_takes", type=int, default=None,
                        help="labeled takes per speaker and digit (closed: from take 10, "
                        "default 2; unseen: from take 0, default 4)")
    parser.add_argument("--unlabeled_takes", type=int, default=None,
                        help="closed only: unlabeled takes after the labeled ones; "
                        "< 0: all the rest (default)")
    parser.add_argument("--dev_takes", type=int, default=None,
                        help="dev takes (closed: from take 5, default 5; unseen: from take 0, "
                        "default 30, < 0: all 50)")
    parser.add_argument("--test_takes", type=int, default=None,
                        help="closed only: test takes from take 0 (default 5)")
    parser.add_argument("--speakers", nargs="+", default=None,
                        help=f"closed only: a subset of {' '.join(SPEAKERS)} (default: all)")
    parser.add_argument("--test_speakers", nargs="+", default=None,
                        help=f"unseen only (default: {' '.join(UNSEEN_TEST_SPEAKERS)})")
    parser.add_argument("--dev_speakers", nargs="+", default=None,
                        help=f"unseen only (default: {' '.join(UNSEEN_DEV_SPEAKERS)})")
    parser.add_argument("--audio", choices=AUDIO_CHOICES, default="auto",
                        help="original: 8 kHz wav; 16k: the flac copy; auto: flac where present")
    return parser  # fmt: skip


def main(cmd=None):
    parser = get_parser()
    args = parser.parse_args(cmd)
    if args.split == "unseen":
        make, own, foreign = make_unseen_speaker_split, UNSEEN_ONLY, CLOSED_ONLY
    else:
        make, own, foreign = make_fsdd_split, CLOSED_ONLY, UNSEEN_ONLY
    given = [f"--{name}" for name in foreign if getattr(args, name) is not None]
    if given:
        parser.error(f"{' '.join(given)}: not an option of --split {args.split}")
    # options left out take the split function's own defaults
    kwargs = {
        name: getattr(args, name)
        for name in ("labeled_takes", "dev_takes") + own
        if getattr(args, name) is not None
    }
    dirs = make(args.fsdd, args.out, audio=args.audio, **kwargs)
    print(f"FSDD {args.split}-speaker split")
    for name, path in dirs.items():
        with open(path / "spk2utt", encoding="utf-8") as f:
            speakers = {line.split()[0]: len(line.split()) - 1 for line in f}
        n = sum(speakers.values())
        print(f"{name}: {n} utterances in {path} (speakers: {' '.join(speakers)})")


if __name__ == "__main__":
    main()
