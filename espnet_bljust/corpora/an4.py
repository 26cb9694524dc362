"""Kaldi data dirs for BL-JUST from CMU AN4, read in AN4's own layout.

AN4 (CMU census database: spelled words, digits, dates and commands; 16 kHz;
http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz) unpacks to::

    an4/etc/an4_{train,test}.fileids        an4_clstk/fash/an251-fash-b
    an4/etc/an4_{train,test}.transcription  <s> YES </s> (an251-fash-b)
    an4/wav/an4_clstk/<spk>/<file>.sph       (train, 948 utts, 74 speakers)
    an4/wav/an4test_clstk/<spk>/<file>.sph   (test, 130 utts, 10 speakers)

Transcripts lose the ``<s>``/``</s>`` marks and the ``(file)`` tail and are
upper-cased. Utterance ids are ``<spk>-<file without spk>``
(``an251-fash-b`` of speaker fash -> ``fash-an251-b``), as in ESPnet's an4
recipe, so that ids sort by speaker. ``wav.scp`` lists the absolute ``.sph``
paths: AN4's sphere files are plain 16-bit PCM, which libsndfile (soundfile,
espnet2's ``sound`` reader) and sox read directly.

The sets written (all sorted by id):

- ``dev``: the first ``num_dev`` train utterances by id (ESPnet's an4 holds out
  the first 100 the same way);
- ``train_labeled``: ``num_labeled`` utterances of the remaining train data,
  drawn with ``seed`` (every speaker keeps the same share on average);
- ``train_unlabeled``: the rest of the remaining train data (or the first
  ``num_unlabeled`` of it), without text; optionally plus the ``.sph`` files
  under ``wav/an4_clstk`` that no fileids line names (untranscribed audio);
- ``test``: the AN4 test set.

Usage:
    python -m espnet_bljust.corpora.an4 --an4 downloads/an4 --out data \
        --num_dev 100 --num_labeled 400
"""

import argparse
import random
import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

from espnet_bljust.corpora.cli import corpus_parser, print_sizes
from espnet_bljust.data.kaldi_lists import write_data_dir

PARTS = {"train": "an4_clstk", "test": "an4test_clstk"}
SENTENCE_MARKS = {"<s>", "</s>"}
_TRANSCRIPT_LINE = re.compile(r"^(?P<words>.*?)\s*\((?P<file>[^()\s]+)\)\s*$")


class An4Utt(NamedTuple):
    uid: str
    path: str
    text: Optional[str]
    speaker: str


def find_an4_root(path: Path) -> Path:
    """The ``an4/`` dir: ``path`` itself, or the one below it (two levels at most)."""
    path = Path(path)
    candidates = ([path, path / "an4"] + sorted(path.glob("*/an4"))) if path.is_dir() else []
    for cand in candidates:
        if (cand / "etc" / "an4_train.transcription").is_file():
            return cand
    raise FileNotFoundError(
        f"{path}: no AN4 tree (looked for etc/an4_train.transcription in it, "
        "in an4/ and in */an4/)"
    )


def utt_id(speaker: str, file_id: str) -> str:
    """``fash``, ``an251-fash-b`` -> ``fash-an251-b`` (speaker first)."""
    parts = file_id.split("-")
    if speaker in parts:
        parts.remove(speaker)
    return "-".join([speaker] + parts)


def parse_transcription_line(line: str) -> Optional[tuple]:
    """``<s> YES </s> (an251-fash-b)`` -> (``an251-fash-b``, ``YES``); None if blank."""
    line = line.strip()
    if not line:
        return None
    match = _TRANSCRIPT_LINE.match(line)
    if match is None:
        raise ValueError(f"not an AN4 transcription line: {line!r}")
    words = [w for w in match.group("words").split() if w not in SENTENCE_MARKS]
    return match.group("file"), " ".join(words).upper()


def read_an4_part(an4: Path, part: str) -> List[An4Utt]:
    """The transcribed utterances of ``part`` ("train" or "test"), sorted by id."""
    etc = Path(an4) / "etc"
    fileids: Dict[str, str] = {}
    with open(etc / f"an4_{part}.fileids", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            rel = line.strip()
            if not rel:
                continue
            name = rel.rsplit("/", 1)[-1]
            if name in fileids:
                raise ValueError(f"{f.name}:{lineno}: {name} listed twice")
            fileids[name] = rel
    texts: Dict[str, str] = {}
    with open(etc / f"an4_{part}.transcription", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                parsed = parse_transcription_line(line)
            except ValueError as e:
                raise ValueError(f"{f.name}:{lineno}: {e}") from None
            if parsed is None:
                continue
            name, text = parsed
            if name in texts:
                raise ValueError(f"{f.name}:{lineno}: {name} transcribed twice")
            texts[name] = text
    problems = [f"{n}: in fileids, not transcribed" for n in sorted(set(fileids) - set(texts))]
    problems += [f"{n}: transcribed, not in fileids" for n in sorted(set(texts) - set(fileids))]
    utts = []
    for name in sorted(fileids.keys() & texts.keys()):
        rel = fileids[name]
        sph = Path(an4) / "wav" / f"{rel}.sph"
        if not sph.is_file():
            problems.append(f"{name}: audio missing: {sph}")
            continue
        speaker = Path(rel).parent.name
        utts.append(An4Utt(utt_id(speaker, name), str(sph.resolve()), texts[name], speaker))
    if problems:
        shown = "\n  ".join(problems[:20])
        raise ValueError(f"AN4 {part} set in {an4}: {len(problems)} problem(s)\n  {shown}")
    uids = [u.uid for u in utts]
    if len(set(uids)) != len(uids):
        raise ValueError(f"AN4 {part} set in {an4}: utterance ids collide")
    return sorted(utts)


def untranscribed_audio(an4: Path, part: str, known: Sequence[An4Utt]) -> List[An4Utt]:
    """``.sph`` files of ``part`` that no fileids line names, as text-less utterances."""
    known_paths = {u.path for u in known}
    extra = []
    for sph in sorted((Path(an4) / "wav" / PARTS[part]).glob("*/*.sph")):
        path = str(sph.resolve())
        if path not in known_paths:
            speaker = sph.parent.name
            extra.append(An4Utt(utt_id(speaker, sph.stem), path, None, speaker))
    return extra


def make_an4_split(
    an4: Path,
    out: Path,
    num_dev: int = 100,
    num_labeled: int = 400,
    num_unlabeled: int = -1,
    seed: int = 0,
    include_untranscribed: bool = False,
) -> Dict[str, Path]:
    """Write train_labeled, train_unlabeled, dev and test under ``out``."""
    an4 = find_an4_root(an4)
    train = read_an4_part(an4, "train")
    test = read_an4_part(an4, "test")
    rest_count = len(train) - num_dev
    if num_dev < 1 or num_labeled < 1 or rest_count < num_labeled:
        raise ValueError(
            f"AN4 train has {len(train)} utterances: cannot hold out num_dev={num_dev} "
            f"and label num_labeled={num_labeled} (both must be >= 1)"
        )
    dev, rest = train[:num_dev], train[num_dev:]
    labeled_idx = set(random.Random(seed).sample(range(len(rest)), num_labeled))
    labeled = [u for i, u in enumerate(rest) if i in labeled_idx]
    unlabeled = [u._replace(text=None) for i, u in enumerate(rest) if i not in labeled_idx]
    if 0 <= num_unlabeled < len(unlabeled):
        unlabeled = unlabeled[:num_unlabeled]
    if include_untranscribed:
        unlabeled += untranscribed_audio(an4, "train", train)
    if not unlabeled:
        raise ValueError("the unlabeled set is empty: lower num_labeled or num_dev")
    plan = {"train_labeled": labeled, "train_unlabeled": unlabeled, "dev": dev, "test": test}
    return {name: write_data_dir(Path(out) / name, utts) for name, utts in plan.items()}


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value}")


def get_parser() -> argparse.ArgumentParser:
    parser = corpus_parser(__doc__)
    parser.add_argument("--an4", type=Path, required=True,
                        help="the unpacked an4/ dir (or a dir holding it)")
    parser.add_argument("--out", type=Path, required=True, help="output data dir")
    parser.add_argument("--num_dev", type=int, default=100,
                        help="first train utterances (by id) held out as dev")
    parser.add_argument("--num_labeled", type=int, default=400,
                        help="labeled utterances drawn from the rest of train")
    parser.add_argument("--num_unlabeled", type=int, default=-1,
                        help="unlabeled utterances (< 0: all the rest of train)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the labeled draw")
    parser.add_argument("--include_untranscribed", type=_bool, default=False,
                        help="add train .sph files that no fileids line names to unlabeled")
    return parser  # fmt: skip


def main(cmd=None):
    print_sizes(make_an4_split(**vars(get_parser().parse_args(cmd))))


if __name__ == "__main__":
    main()
