"""Kaldi data dirs for BL-JUST from Switchboard-1 (300 h) and Hub5'00, from LDC's layouts.

Inputs (LDC corpora: no download, the paths come from the recipe's db.sh):

- Switchboard-1 Release 2 (LDC97S62): ``**/sw0NNNN.sph``, 2-channel 8 kHz
  mu-law, side A = channel 1, side B = channel 2;
- the Mississippi State (ISIP) word-level transcripts of it, "ms98"
  (``swb_ms98_transcriptions/<xx>/<NNNN>/sw<NNNN>[AB]-ms98-a-trans.text``, lines
  ``sw2001A-ms98-a-0001 0.000000 0.977625 [silence]``; freely available as
  OpenSLR 5 ``switchboard_word_alignments.tar.gz``);
- Hub5'00 evaluation speech (LDC2002S09: ``hub5e_00/english/{sw,en}_NNNN.sph``)
  and its transcripts (LDC2002T43: ``reference/hub5e00.english.000405.stm``).

Every segment is one utterance: id ``sw02001-A_000098-001156`` (conversation,
side, start and end in centiseconds, as in Kaldi/ESPnet), speaker the
conversation side, ``wav.scp`` a pipe cutting the segment out of its channel and
upsampling it to ``--fs`` (16 kHz, as ESPnet's swbd recipe does)::

    sox -V1 -R <sph> -t wav -r 16000 -b 16 -c 1 - trim <start> =<end> remix <1|2> |

(``--decoder sph2pipe`` pipes ``sph2pipe -f wav -p -c <1|2> <sph>`` into sox
instead, for shorten-compressed sphere files, which sox cannot decode; the prep
checks the headers and says so).

Text normalization of the ms98 transcripts, word by word (after Kaldi's
swbd1_map_words.pl, lower case as ESPnet):

- ``[silence]``, ``[noise]``, ``[laughter]``, ``[vocalized-noise]``,
  ``<b_aside>``, ``<e_aside>`` and any other bracketed tag: removed;
- ``[laughter-word]`` -> ``word``; ``[said/meant]`` -> ``said`` (the spoken form);
- partial words keep what was said and a hyphen where the rest is missing
  (``-[an]y`` -> ``-y``, ``ab[solute]-`` -> ``ab-``); ``--partial_words drop``
  deletes them;
- ``{word}`` -> ``word`` (coinages), ``them_1`` -> ``them``;
- acronyms ``t._v.`` -> ``t v`` (``._`` -> space, other dots removed, as
  ESPnet's swbd data.sh);
- hesitations (``uh um er ah eh hm mm``, what Hub5 scoring maps to
  %HESITATION and treats as optional): ``--hesitations drop`` (default) removes
  them, ``keep`` keeps them;
- segments left without words are dropped.

Hub5'00 references: lower case; ``IGNORE_TIME_SEGMENT_IN_SCORING`` segments and
``<...>`` tags dropped; ``(%hesitation)`` and the optionally-deletable fragments
in parentheses (``(ab-)``) dropped; other ``(word)`` -> ``word``; then the same
hesitation, partial-word and acronym rules. With bljust.sh's jiwer scoring this
approximates, but is not, NIST sclite scoring with the Hub5 GLM.

Sets (all sorted by id, C locale):

- ``train_dev``: the first conversations (by id) until ``--num_dev_utts``
  utterances (4000, about 5 h, as ESPnet holds out its first 4000 utterances),
  whole conversations;
- ``train_labeled``: whole conversations drawn with ``--seed`` until
  ``--labeled_hours`` (100 h) of segments, conversation-disjoint from the
  unlabeled set (callers do take part in several conversations: not
  speaker-disjoint); at most ``--max_dup_text`` (300) utterances per transcript
  (ESPnet's remove_dup_utts for "uh-huh", "yeah" ...), the rest move to
  unlabeled;
- ``train_unlabeled``: every other train segment, no text (~185 h);
- ``eval2000`` (about 4.4k scored segments), ``eval2000_sw`` (Switchboard part, ``sw_`` files)
  and ``eval2000_ch`` (CallHome part, ``en_`` files): scored separately.

Usage:
    python -m espnet_bljust.corpora.swbd --swbd /ldc/LDC97S62 \\
        --ms98 /ldc/swb_ms98_transcriptions --eval2000 /ldc/LDC2002S09 /ldc/LDC2002T43 \\
        --out data
"""

import argparse
import re
import shlex
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_bljust.corpora.cli import corpus_parser
from espnet_bljust.corpora.tedlium import (
    SOX,
    Segment,
    check_sox_readable,
    fmt_time,
    read_stm,
    sox_segment_command,
    split_by_group,
    write_sets,
)

NOISE_TAGS = {"[silence]", "[noise]", "[laughter]", "[vocalized-noise]", "<b_aside>", "<e_aside>"}
HESITATIONS = {"uh", "um", "er", "ah", "eh", "hm", "mm"}
STM_NAME = "hub5e00.english.000405.stm"
_MS98_ID = re.compile(r"^sw(?P<conv>\d+)(?P<side>[AB])-ms98-a-\d+$")
_LAUGHTER_WORD = re.compile(r"^(-?)\[laughter-(.+)\](-?)$")
_ALTERNATIVE = re.compile(r"^\[([^/\]]+)/[^\]]+\](-?)$")
_MISSING_HEAD = re.compile(r"^(-?)\[[^\[\]]+\](.+)$")
_MISSING_TAIL = re.compile(r"^(.+)\[[^\[\]]+\](-?)$")


def map_ms98_word(word: str) -> Optional[str]:
    """One ms98 transcript word -> the training word, or None to remove it."""
    w = word.lower()
    if w in NOISE_TAGS:
        return None
    m = _LAUGHTER_WORD.match(w)
    if m:
        w = m.group(1) + m.group(2) + m.group(3)
    m = _ALTERNATIVE.match(w)
    if m:
        w = m.group(1) + m.group(2)
    m = _MISSING_HEAD.match(w)
    if m:
        w = "-" + m.group(2)
    m = _MISSING_TAIL.match(w)
    if m:
        w = m.group(1).rstrip("-") + "-"
    if w.startswith("{") and w.endswith("}"):
        w = w[1:-1]
    w = re.sub(r"_\d$", "", w)
    if not w or "[" in w or "]" in w or w.startswith("<"):
        return None
    return w


def is_partial(word: str) -> bool:
    """A word fragment: starts or ends with a hyphen (``ab-``, ``-y``; not ``uh-huh``)."""
    return word.startswith("-") or word.endswith("-")


def finish_words(words: Sequence[str], hesitations: str, partial_words: str) -> List[str]:
    """The shared last steps: hesitations, fragments, acronym dots; words out."""
    out = []
    for w in words:
        if hesitations == "drop" and w in HESITATIONS:
            continue
        if partial_words == "drop" and is_partial(w):
            continue
        w = w.replace("._", " ").replace(".", "")
        out.extend(w.split())
    return out


def normalize_ms98(words: Sequence[str], hesitations: str = "drop", partial_words: str = "keep") -> str:
    """ms98 transcript words -> the normalized transcript ("" when nothing is left)."""
    mapped = [m for m in (map_ms98_word(w) for w in words) if m]
    return " ".join(finish_words(mapped, hesitations, partial_words))


def normalize_hub5_ref(words: Sequence[str], hesitations: str = "drop", partial_words: str = "keep") -> str:
    """Hub5'00 stm reference words -> the scoring transcript."""
    mapped = []
    for word in words:
        w = word.lower()
        if w.startswith("<") and w.endswith(">") or w.startswith("["):
            continue
        if "(" in w or ")" in w:  # optionally deletable: (%hesitation), (ab-), ((word))
            w = w.strip("()")
            if w.startswith("%") or is_partial(w):
                continue
        w = w.strip("{}")
        if w and not w.startswith("%"):
            mapped.append(w)
    return " ".join(finish_words(mapped, hesitations, partial_words))


def utt_id_swbd(speaker: str, start: float, end: float) -> str:
    """``sw02001-A``, 0.98, 11.56 -> ``sw02001-A_000098-001156``."""
    return f"{speaker}_{int(100 * start + 0.5):06d}-{int(100 * end + 0.5):06d}"


def segment_command(sph: Path, channel: int, start: float, end: float, fs: int, decoder: str) -> str:
    """The wav.scp pipe of one segment of one channel of a 2-channel sphere file."""
    if decoder == "sox":
        return sox_segment_command(str(sph), start, end, fs, channel=channel)
    return (
        f"sph2pipe -f wav -p -c {channel} {shlex.quote(str(sph))} | "
        f"{SOX} -t wav - -t wav -r {fs} -b 16 -c 1 - trim {fmt_time(start)} ={fmt_time(end)} |"
    )


def find_sph(dirs: Sequence[Path]) -> Dict[str, Path]:
    """``{lower-case stem: path}`` of every ``.sph``/``.SPH`` file under ``dirs``."""
    found: Dict[str, Path] = {}
    for d in dirs:
        if not Path(d).is_dir():
            raise FileNotFoundError(f"{d}: no such directory (check db.sh)")
        for path in sorted(Path(d).rglob("*")):
            if path.suffix.lower() == ".sph" and path.is_file():
                found.setdefault(path.stem.lower(), path.resolve())
    return found


def find_ms98(path: Path) -> Path:
    """The dir holding ``<xx>/<NNNN>/*-trans.text``: ``path`` or ``path/swb_ms98_transcriptions``."""
    path = Path(path)
    for cand in (path, path / "swb_ms98_transcriptions"):
        if cand.is_dir() and next(cand.glob("*/*/*-trans.text"), None) is not None:
            return cand
    raise FileNotFoundError(
        f"{path}: no Switchboard ms98 transcripts (<xx>/<NNNN>/sw<NNNN>[AB]-ms98-a-trans.text "
        "in it or in swb_ms98_transcriptions/); they are OpenSLR 5: "
        "https://www.openslr.org/resources/5/switchboard_word_alignments.tar.gz"
    )


def read_ms98(ms98: Path) -> List[Tuple[str, float, float, List[str]]]:
    """(speaker ``sw0NNNN-A``, start, end, words) of every ms98 transcript line."""
    rows = []
    for trans in sorted(find_ms98(ms98).glob("*/*/*-trans.text")):
        with open(trans, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                m = _MS98_ID.match(fields[0])
                if m is None or len(fields) < 3:
                    raise ValueError(f"{trans}:{lineno}: not an ms98 transcript line: {line.strip()!r}")
                speaker = f"sw{int(m.group('conv')):05d}-{m.group('side')}"
                rows.append((speaker, float(fields[1]), float(fields[2]), fields[3:]))
    return rows


def _check_decodable(paths: Sequence[Path], decoder: str) -> None:
    if decoder == "sox":
        for sph in paths:
            check_sox_readable(sph)


def read_swbd_train(
    swbd: Sequence[Path],
    ms98: Path,
    fs: int = 16000,
    decoder: str = "sox",
    hesitations: str = "drop",
    partial_words: str = "keep",
) -> List[Segment]:
    """Every non-empty ms98 segment whose conversation's audio is there, sorted by id."""
    for d in swbd:
        if not Path(d).is_dir():
            raise FileNotFoundError(f"{d}: no such directory (SWBD in db.sh: the LDC97S62 dir)")
    find_ms98(ms98)
    audio = find_sph(swbd)
    if not audio:
        raise FileNotFoundError(f"no .sph files under {' '.join(map(str, swbd))} (SWBD in db.sh)")
    utts, missing, empty, used = [], set(), 0, set()
    for speaker, start, end, words in read_ms98(ms98):
        text = normalize_ms98(words, hesitations, partial_words)
        if not text or end <= start:
            empty += 1
            continue
        conv, side = speaker.split("-")
        sph = audio.get(conv)
        if sph is None:
            missing.add(conv)
            continue
        used.add(sph)
        channel = 1 if side == "A" else 2
        entry = segment_command(sph, channel, start, end, fs, decoder)
        utts.append(Segment(utt_id_swbd(speaker, start, end), entry, text, speaker, end - start))
    if not utts:
        raise ValueError(f"no transcribed segment has its audio under {swbd}")
    if missing:
        print(f"WARNING: {len(missing)} transcribed conversation(s) without audio, left out: "
              f"{' '.join(sorted(missing)[:10])}{' ...' if len(missing) > 10 else ''}",
              file=sys.stderr)  # fmt: skip
    print(f"swbd: {len(utts)} segments ({empty} without words left out)")
    _check_decodable(sorted(used), decoder)
    utts.sort()
    ids = [u.uid for u in utts]
    dups = {a for a, b in zip(ids, ids[1:]) if a == b}
    if dups:
        raise ValueError(f"segment ids collide: {sorted(dups)[:5]}")
    return utts


def find_hub5_stm(dirs: Sequence[Path]) -> Path:
    for d in dirs:
        found = sorted(Path(d).rglob(STM_NAME))
        if found:
            return found[0]
    raise FileNotFoundError(
        f"no {STM_NAME} under {' '.join(map(str, dirs))} (EVAL2000 in db.sh: the "
        "LDC2002S09 and LDC2002T43 dirs)"
    )


def read_eval2000(
    dirs: Sequence[Path],
    fs: int = 16000,
    decoder: str = "sox",
    hesitations: str = "drop",
    partial_words: str = "keep",
) -> List[Segment]:
    """The scored Hub5'00 segments with normalized references, sorted by id."""
    stm = find_hub5_stm(dirs)
    audio = {k: v for k, v in find_sph(dirs).items() if k.startswith(("sw_", "en_"))}
    utts, used, seen = [], set(), set()
    for seg in read_stm(stm):
        if any(w.upper() == "IGNORE_TIME_SEGMENT_IN_SCORING" for w in seg.words):
            continue
        text = normalize_hub5_ref(seg.words, hesitations, partial_words)
        if not text or seg.end <= seg.start:
            continue
        sph = audio.get(seg.file.lower())
        if sph is None:
            raise FileNotFoundError(f"{stm}: audio of {seg.file} not found under the EVAL2000 dirs")
        side = seg.channel.upper()
        speaker = f"{seg.file.lower()}-{side}"
        uid = utt_id_swbd(speaker, seg.start, seg.end)
        if uid in seen:
            continue
        seen.add(uid)
        used.add(sph)
        entry = segment_command(sph, 1 if side == "A" else 2, seg.start, seg.end, fs, decoder)
        utts.append(Segment(uid, entry, text, speaker, seg.end - seg.start))
    _check_decodable(sorted(used), decoder)
    return sorted(utts)


def cap_duplicate_texts(labeled: List[Segment], max_dup: int) -> Tuple[List[Segment], List[Segment]]:
    """Keep the first ``max_dup`` utterances (by id) of each transcript; (kept, the rest)."""
    if max_dup <= 0:
        return labeled, []
    count: Dict[str, int] = {}
    kept, moved = [], []
    for u in labeled:
        count[u.text] = count.get(u.text, 0) + 1
        (kept if count[u.text] <= max_dup else moved).append(u)
    return kept, moved


def conversation(u: Segment) -> str:
    return u.speaker.split("-")[0]


def make_swbd_dirs(
    swbd: Sequence[Path],
    ms98: Path,
    eval2000: Sequence[Path],
    out: Path,
    labeled_hours: float = 100.0,
    num_dev_utts: int = 4000,
    max_dup_text: int = 300,
    seed: int = 0,
    fs: int = 16000,
    decoder: str = "sox",
    hesitations: str = "drop",
    partial_words: str = "keep",
) -> Dict[str, Path]:
    """Write train_labeled, train_unlabeled, train_dev and the eval2000 sets under ``out``."""
    train = read_swbd_train(swbd, ms98, fs, decoder, hesitations, partial_words)
    per_conv: Dict[str, int] = {}
    for u in train:
        per_conv[conversation(u)] = per_conv.get(conversation(u), 0) + 1
    dev_set, count = set(), 0
    for conv in sorted(per_conv):
        if count >= num_dev_utts:
            break
        dev_set.add(conv)
        count += per_conv[conv]
    dev = [u for u in train if conversation(u) in dev_set]
    rest = [u for u in train if conversation(u) not in dev_set]
    labeled, unlabeled = split_by_group(rest, labeled_hours, seed, group=conversation)
    labeled, moved = cap_duplicate_texts(labeled, max_dup_text)
    unlabeled = sorted(unlabeled + [u._replace(text=None) for u in moved])
    if not labeled or not unlabeled:
        raise ValueError(f"labeled_hours={labeled_hours} leaves the labeled or unlabeled set empty")
    plan = {"train_labeled": labeled, "train_unlabeled": unlabeled, "train_dev": dev}
    if eval2000:
        ev = read_eval2000(eval2000, fs, decoder, hesitations, partial_words)
        plan["eval2000"] = ev
        plan["eval2000_sw"] = [u for u in ev if u.uid.startswith("sw_")]
        plan["eval2000_ch"] = [u for u in ev if u.uid.startswith("en_")]
    return write_sets(out, plan, group=conversation, noun="conversations")


def get_parser() -> argparse.ArgumentParser:
    parser = corpus_parser(__doc__)
    parser.add_argument("--swbd", type=Path, nargs="+", required=True,
                        help="LDC97S62 dir(s), searched for sw0NNNN.sph")
    parser.add_argument("--ms98", type=Path, required=True,
                        help="swb_ms98_transcriptions (or the dir holding it)")
    parser.add_argument("--eval2000", type=Path, nargs="*", default=[],
                        help="LDC2002S09 and LDC2002T43 dirs (Hub5'00 sph and stm)")
    parser.add_argument("--out", type=Path, required=True, help="output data dir")
    parser.add_argument("--labeled_hours", type=float, default=100.0,
                        help="hours of whole train conversations in the labeled set")
    parser.add_argument("--num_dev_utts", type=int, default=4000,
                        help="train_dev: first whole conversations up to this many utterances")
    parser.add_argument("--max_dup_text", type=int, default=300,
                        help="labeled utterances per identical transcript (0: no cap)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the conversation draw")
    parser.add_argument("--fs", type=int, default=16000, help="rate of the pipe output")
    parser.add_argument("--decoder", choices=["sox", "sph2pipe"], default="sox",
                        help="sphere reader of the pipes (sph2pipe for shorten files)")
    parser.add_argument("--hesitations", choices=["drop", "keep"], default="drop")
    parser.add_argument("--partial_words", choices=["keep", "drop"], default="keep")
    return parser  # fmt: skip


def main(cmd=None):
    make_swbd_dirs(**vars(get_parser().parse_args(cmd)))


if __name__ == "__main__":
    main()
