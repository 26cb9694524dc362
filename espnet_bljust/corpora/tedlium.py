"""Kaldi data dirs for BL-JUST from TED-LIUM release 2, read in the corpus's own layout.

TED-LIUM 2 (OpenSLR 19, https://www.openslr.org/19, CC BY-NC-ND 3.0) unpacks to::

    TEDLIUM_release2/{train,dev,test}/stm/<talk>.stm
    TEDLIUM_release2/{train,dev,test}/sph/<talk>.sph     (16 kHz, 16-bit PCM, mono)

A ``.stm`` line is ``<talk> <channel> <speaker> <start> <end> <label> words...``
(one talk, one speaker). Every kept segment becomes one utterance:

- id ``<talk>-<start*100:07d>-<end*100:07d>`` (ESPnet's tedlium2 convention),
  speaker = the talk;
- ``wav.scp``: a pipe cutting the segment out of the talk's sphere file,
  ``sox -V1 -R <sph> -t wav -r 16000 -b 16 -c 1 - trim <start> =<end> |``
  (the pipeline's validation and format stages run it; no ``segments`` file:
  the pipeline takes one utterance an entry). Train segments are padded by
  ``--pad_start``/``--pad_end`` (0.15 s / 0.1 s, as ESPnet's recipe does: the
  train segmentation is tight), never past the middle of the gap to a
  neighbouring segment, nor before 0;
- ``text`` normalized (TED-LIUM is lower case already):

  1. segments whose only word is ``ignore_time_segment_in_scoring`` are
     dropped (music, applause, untranscribed speech);
  2. the ``(<talk>-...)`` utterance name some lines end with, pronunciation
     variant marks (``word(2)`` -> ``word``), ``<sil>`` and filler/noise tags
     in braces (``{NOISE}``, ``{BREATH}``, ``{SMACK}``, ``{COUGH}``, ``{UH}`` ...)
     are removed;
  3. split contractions are joined (``it 's`` -> ``it's``, ``don 't`` -> ``don't``,
     as ESPnet's join_suffix.py does), text lower-cased, spaces collapsed;
  4. ``<unk>`` (a word outside the corpus dictionary): in the train data
     ``--train_unk skip`` (default) moves the segment out of the labeled set
     into the unlabeled one (its audio is still used, its transcript is not
     trusted), ``drop`` deletes the token, ``keep`` keeps it as a word; in dev
     and test the token is deleted from the reference;
  5. segments with no words left are dropped.

Sets written: ``train_labeled`` (whole talks drawn with ``--seed`` until
``--labeled_hours`` of segments, default 50 h of the 207 h: speaker-disjoint
from the unlabeled set, as each talk has one speaker), ``train_unlabeled`` (the
other talks, and ``<unk>`` segments of labeled talks; no text), ``dev``,
``test`` (the official sets, 8 and 11 talks), all sorted by id (C locale).

Usage:
    python -m espnet_bljust.corpora.tedlium --tedlium downloads --out data \\
        --labeled_hours 50 --seed 0
"""

import argparse
import random
import re
import shlex
from pathlib import Path
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from espnet_bljust.corpora.cli import corpus_parser
from espnet_bljust.data.kaldi_lists import write_data_dir

IGNORE = "ignore_time_segment_in_scoring"
UNK = "<unk>"
_VARIANT = re.compile(r"\(\d+\)$")
_NAME_TAIL = re.compile(r"^\(.*\)$")
# Angle-bracket tokens that are words, not the label field (<o,f0,male>, <F0_M>).
_WORD_TAGS = {"<unk>", "<sil>", "<b_aside>", "<e_aside>"}


class StmSegment(NamedTuple):
    """One ``.stm`` line (label and words as written)."""

    file: str
    channel: str
    speaker: str
    start: float
    end: float
    label: str
    words: Tuple[str, ...]


class Segment(NamedTuple):
    """One utterance to write: id, the audio entry, text (None: unlabeled), speaker."""

    uid: str
    entry: str
    text: Optional[str]
    speaker: str
    seconds: float


def parse_stm_line(line: str) -> Optional[StmSegment]:
    """An ``.stm`` line -> StmSegment; None for blank and ``;;`` comment lines."""
    stripped = line.strip()
    if not stripped or stripped.startswith(";;"):
        return None
    fields = stripped.split()
    if len(fields) < 5:
        raise ValueError(f"not an stm line (fewer than 5 fields): {stripped!r}")
    try:
        start, end = float(fields[3]), float(fields[4])
    except ValueError:
        raise ValueError(f"not an stm line (times {fields[3]!r} {fields[4]!r})") from None
    if start < 0:
        raise ValueError(f"negative start time: {start}")
    rest = fields[5:]
    label = ""
    if rest and rest[0].startswith("<") and rest[0].endswith(">") and rest[0].lower() not in _WORD_TAGS:
        label, rest = rest[0], rest[1:]
    return StmSegment(fields[0], fields[1], fields[2], start, end, label, tuple(rest))


def read_stm(path: Path) -> List[StmSegment]:
    """Every segment of one stm file; errors name the file and line."""
    segments = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                seg = parse_stm_line(line)
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: {e}") from None
            if seg is not None:
                segments.append(seg)
    return segments


def join_suffixes(words: Sequence[str]) -> List[str]:
    """``it 's`` -> ``it's``: a word starting with an apostrophe joins the one before."""
    out: List[str] = []
    for w in words:
        if w.startswith("'") and out:
            out[-1] += w
        else:
            out.append(w)
    return out


def normalize_tedlium_words(words: Sequence[str], unk: str = "keep") -> List[str]:
    """TED-LIUM transcript words -> the training/scoring words (see the module doc).

    ``unk``: ``keep`` the ``<unk>`` token or ``drop`` it.
    """
    kept = []
    for i, w in enumerate(words):
        if i == len(words) - 1 and _NAME_TAIL.match(w):
            continue  # "(<talk>-<start>-<end>)" utterance name
        w = _VARIANT.sub("", w)
        if not w or w == "<sil>" or (w.startswith("{") and w.endswith("}")):
            continue
        if w.lower() == UNK and unk == "drop":
            continue
        kept.append(w.lower())
    return join_suffixes(kept)


def fmt_time(seconds: float) -> str:
    """Seconds with at most 3 decimals and no trailing zeros (``17.67``, ``0``)."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return text or "0"


# sox as the wav.scp pipes call it: quiet (-V1), and repeatable (-R): sox dithers its 16-bit
# output after resampling with a fresh random seed otherwise, so every read of a pipe differed.
SOX = "sox -V1 -R"


def sox_segment_command(
    audio: str, start: float, end: float, fs: int = 16000, channel: Optional[int] = None
) -> str:
    """The wav.scp pipe entry cutting ``[start, end]`` s of one channel (1-based) of a file."""
    remix = f" remix {channel}" if channel is not None else ""
    return (
        f"{SOX} {shlex.quote(str(audio))} -t wav -r {fs} -b 16 -c 1 - "
        f"trim {fmt_time(start)} ={fmt_time(end)}{remix} |"
    )


def read_nist_header(path: Path) -> Dict[str, str]:
    """The fields of a NIST SPHERE header (``sample_coding`` -> ``pcm`` ...)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head.startswith(b"NIST_1A"):
        raise ValueError(f"{path}: not a NIST SPHERE file")
    fields = {}
    for line in head.decode("ascii", errors="replace").splitlines()[2:]:
        if line.strip() == "end_head":
            break
        parts = line.split(None, 2)
        if len(parts) == 3:
            fields[parts[0]] = parts[2].strip()
    return fields


def check_sox_readable(sph: Path) -> None:
    """Raise with what to do when sox cannot decode ``sph`` (shorten-compressed sphere)."""
    coding = read_nist_header(sph).get("sample_coding", "pcm")
    if "shorten" in coding:
        raise ValueError(
            f"{sph}: sample_coding {coding!r}: shorten-compressed sphere, which sox "
            "cannot decode; install sph2pipe and use --decoder sph2pipe"
        )


def utt_id_tedlium(talk: str, start: float, end: float) -> str:
    """``<talk>-<start*100:07d>-<end*100:07d>``."""
    return f"{talk}-{int(round(start * 100)):07d}-{int(round(end * 100)):07d}"


def pad_segments(
    segments: Sequence[Tuple[float, float]], pad_start: float, pad_end: float
) -> List[Tuple[float, float]]:
    """Widen sorted ``(start, end)`` segments of one recording.

    Each grows by ``pad_start``/``pad_end`` but stops at 0 and at the middle of
    the gap to its neighbour; segments that already touch or overlap keep
    their times where they meet.
    """
    padded = [[max(0.0, s - pad_start), e + pad_end] for s, e in segments]
    for i in range(len(segments) - 1):
        end_i, start_next = segments[i][1], segments[i + 1][0]
        if padded[i][1] > padded[i + 1][0]:
            middle = (end_i + start_next) / 2
            padded[i][1] = max(end_i, middle)
            padded[i + 1][0] = min(start_next, middle)
    return [(round(s, 3), round(e, 3)) for s, e in padded]


def find_tedlium_root(path: Path) -> Path:
    """The ``TEDLIUM_release2`` dir: ``path`` itself or the one in it."""
    path = Path(path)
    for cand in (path, path / "TEDLIUM_release2"):
        if (cand / "train" / "stm").is_dir():
            return cand
    raise FileNotFoundError(
        f"{path}: no TED-LIUM release 2 tree (looked for train/stm/ in it and in "
        "TEDLIUM_release2/); download https://www.openslr.org/resources/19/"
        "TEDLIUM_release2.tar.gz and unpack it there"
    )


def read_tedlium_set(
    root: Path,
    name: str,
    unk: str,
    pad_start: float = 0.0,
    pad_end: float = 0.0,
    fs: int = 16000,
) -> Tuple[List[Segment], Dict[str, int]]:
    """The utterances of one set (``train``/``dev``/``test``) and counts of what was left out.

    ``unk``: ``keep``/``drop`` the ``<unk>`` token, or ``skip``: such segments
    come back with text None (unlabeled).
    """
    set_dir = Path(root) / name
    stms = sorted((set_dir / "stm").glob("*.stm"))
    if not stms:
        raise FileNotFoundError(f"no .stm files in {set_dir / 'stm'}")
    dropped = {"ignored": 0, "empty": 0, "duplicate": 0, "unk": 0}
    out: List[Segment] = []
    seen = set()
    for stm in stms:
        segs = sorted(read_stm(stm), key=lambda s: (s.file, s.start, s.end))
        by_talk: Dict[str, List[StmSegment]] = {}
        for seg in segs:
            by_talk.setdefault(seg.file, []).append(seg)
        for talk, talk_segs in sorted(by_talk.items()):
            sph = set_dir / "sph" / f"{talk}.sph"
            if not sph.is_file():
                raise FileNotFoundError(f"{stm}: audio of talk {talk} missing: {sph}")
            check_sox_readable(sph)
            keep = []
            for seg in talk_segs:
                if IGNORE in seg.words:
                    dropped["ignored"] += 1
                    continue
                if seg.end <= seg.start:
                    dropped["empty"] += 1
                    continue
                words = normalize_tedlium_words(seg.words, "keep" if unk == "skip" else unk)
                if not words:
                    dropped["empty"] += 1
                    continue
                uid = utt_id_tedlium(talk, seg.start, seg.end)
                if uid in seen:
                    dropped["duplicate"] += 1
                    continue
                seen.add(uid)
                keep.append((seg, uid, words))
            times = pad_segments([(s.start, s.end) for s, _, _ in keep], pad_start, pad_end)
            for (seg, uid, words), (start, end) in zip(keep, times):
                text: Optional[str] = " ".join(words)
                if unk == "skip" and UNK in words:
                    dropped["unk"] += 1
                    text = None
                entry = sox_segment_command(str(sph.resolve()), start, end, fs)
                out.append(Segment(uid, entry, text, seg.speaker, seg.end - seg.start))
    return sorted(out), dropped


def split_by_group(
    utts: Sequence[Segment],
    labeled_hours: float,
    seed: int,
    group: Callable[[Segment], str] = lambda u: u.speaker,
) -> Tuple[List[Segment], List[Segment]]:
    """Whole groups (talks, conversations) drawn with ``seed`` until ``labeled_hours``.

    Returns (labeled, unlabeled); utterances with text None always go to the
    unlabeled side, and every utterance there loses its text.
    """
    groups: Dict[str, float] = {}
    for u in utts:
        groups[group(u)] = groups.get(group(u), 0.0) + (u.seconds if u.text is not None else 0.0)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    labeled_groups, seconds = set(), 0.0
    for g in order:
        if seconds >= labeled_hours * 3600:
            break
        labeled_groups.add(g)
        seconds += groups[g]
    labeled = [u for u in utts if group(u) in labeled_groups and u.text is not None]
    labeled_ids = {u.uid for u in labeled}
    unlabeled = [u._replace(text=None) for u in utts if u.uid not in labeled_ids]
    return labeled, unlabeled


def hours(utts: Iterable[Segment]) -> float:
    return sum(u.seconds for u in utts) / 3600


def write_segments(out_dir: Path, utts: Sequence[Segment]) -> Path:
    """A Kaldi dir of ``utts`` (``text`` only when they have transcripts)."""
    return write_data_dir(out_dir, [(u.uid, u.entry, u.text, u.speaker) for u in utts])


def write_sets(
    out: Path,
    plan: Dict[str, List[Segment]],
    group: Callable[[Segment], str] = lambda u: u.speaker,
    noun: str = "talks",
) -> Dict[str, Path]:
    """Write every set of ``plan`` under ``out``, printing its size; {name: dir}."""
    for name, utts in plan.items():
        print(f"{name}: {len(utts)} segments, {hours(utts):.2f} h, "
              f"{len({group(u) for u in utts})} {noun}")  # fmt: skip
    return {name: write_segments(Path(out) / name, utts) for name, utts in plan.items()}


def make_tedlium_dirs(
    tedlium: Path,
    out: Path,
    labeled_hours: float = 50.0,
    seed: int = 0,
    train_unk: str = "skip",
    pad_start: float = 0.15,
    pad_end: float = 0.1,
    fs: int = 16000,
) -> Dict[str, Path]:
    """Write train_labeled, train_unlabeled, dev and test under ``out``."""
    root = find_tedlium_root(tedlium)
    train, info = read_tedlium_set(root, "train", train_unk, pad_start, pad_end, fs)
    labeled, unlabeled = split_by_group(train, labeled_hours, seed)
    if not labeled or not unlabeled:
        raise ValueError(
            f"labeled_hours={labeled_hours} leaves the labeled or the unlabeled set "
            f"empty ({hours(train):.1f} h of train segments)"
        )
    plan = {"train_labeled": labeled, "train_unlabeled": unlabeled}
    for name in ("dev", "test"):
        plan[name], _ = read_tedlium_set(root, name, "drop", fs=fs)
    print(f"train: left out {info}")
    return write_sets(out, plan)


def get_parser() -> argparse.ArgumentParser:
    parser = corpus_parser(__doc__)
    parser.add_argument("--tedlium", type=Path, required=True,
                        help="the TEDLIUM_release2 dir (or a dir holding it)")
    parser.add_argument("--out", type=Path, required=True, help="output data dir")
    parser.add_argument("--labeled_hours", type=float, default=50.0,
                        help="hours of whole train talks in the labeled set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the talk draw")
    parser.add_argument("--train_unk", choices=["skip", "drop", "keep"], default="skip",
                        help="train segments with <unk>: to the unlabeled set, token "
                             "deleted, or token kept")
    parser.add_argument("--pad_start", type=float, default=0.15,
                        help="seconds added before each train segment")
    parser.add_argument("--pad_end", type=float, default=0.1,
                        help="seconds added after each train segment")
    parser.add_argument("--fs", type=int, default=16000, help="rate of the pipe output")
    return parser  # fmt: skip


def main(cmd=None):
    make_tedlium_dirs(**vars(get_parser().parse_args(cmd)))


if __name__ == "__main__":
    main()
