"""Kaldi data dirs for BL-JUST from LibriSpeech, read in the corpus's own layout.

LibriSpeech (OpenSLR 12, https://www.openslr.org/12, CC BY 4.0) unpacks every
part to::

    LibriSpeech/<part>/<spk>/<chapter>/<spk>-<chapter>.trans.txt
    LibriSpeech/<part>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac   (16 kHz, mono)

where a ``.trans.txt`` line is ``<spk>-<chapter>-<utt> TRANSCRIPT`` (upper
case words, apostrophes kept). Every part becomes one Kaldi dir named like the
part with ``_`` for ``-`` (``train-clean-100`` -> ``train_clean_100``):

- ``wav.scp``: ``<utt id> <absolute flac path>`` (espnet2's ``sound`` reader and
  bljust.sh's format stage read flac with soundfile; no conversion here);
- ``text``: the transcript as the corpus has it (upper case);
- ``utt2spk``/``spk2utt``: speaker ``<spk>-<chapter>`` as in ESPnet's and
  Kaldi's LibriSpeech recipes (``--speaker reader`` for ``<spk>`` alone);
- every list sorted by id in C-locale (byte) order.

Sets can be merged: the labeled set is the union of ``--labeled`` parts, the
unlabeled set the union of ``--unlabeled`` parts with its transcripts withheld
(no ``text`` file), and ``--valid_name`` (``dev``) the union of the dev parts,
which are also written one by one. The BL-JUST split of the recipe
(egs2/librispeech_100/bljust1): labeled train-clean-100 (100.6 h), unlabeled
train-clean-360 + train-other-500 (860 h), valid dev = dev-clean + dev-other,
tests test-clean, test-other, dev-clean, dev-other.

Usage:
    python -m espnet_bljust.corpora.librispeech --librispeech downloads --out data \\
        --labeled train-clean-100 --labeled_name train_clean_100 \\
        --unlabeled train-clean-360 train-other-500 --unlabeled_name train_860 \\
        --dev dev-clean dev-other --valid_name dev --test test-clean test-other
"""

import argparse
import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

from espnet_bljust.corpora.cli import corpus_parser, print_sizes
from espnet_bljust.data.kaldi_lists import write_data_dir

PARTS = (
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
)
_UTT_ID = re.compile(r"^(?P<spk>\d+)-(?P<chapter>\d+)-(?P<utt>\d+)$")


class LibriUtt(NamedTuple):
    uid: str
    path: str
    text: Optional[str]
    speaker: str


def set_name(part: str) -> str:
    """``train-clean-100`` -> ``train_clean_100`` (the Kaldi dir name)."""
    return part.replace("-", "_")


def find_part(root: Path, part: str) -> Path:
    """The dir of ``part``: ``root/LibriSpeech/<part>``, ``root/<part>`` or ``root``."""
    root = Path(root)
    for cand in (root / "LibriSpeech" / part, root / part):
        if cand.is_dir():
            return cand
    if root.name == part and root.is_dir():
        return root
    raise FileNotFoundError(
        f"LibriSpeech part {part} not found under {root} (looked for "
        f"{root / 'LibriSpeech' / part} and {root / part}); download "
        f"https://www.openslr.org/resources/12/{part}.tar.gz and unpack it there"
    )


def parse_trans_line(line: str) -> Optional[tuple]:
    """``1089-134686-0000 HE HOPED ...`` -> (uid, text); None for a blank line."""
    line = line.strip()
    if not line:
        return None
    parts = line.split(maxsplit=1)
    if not _UTT_ID.match(parts[0]):
        raise ValueError(f"not a LibriSpeech transcript line: {line!r}")
    if len(parts) < 2 or not parts[1].strip():
        raise ValueError(f"{parts[0]}: empty transcript")
    return parts[0], " ".join(parts[1].split())


def speaker_of(uid: str, speaker: str = "chapter") -> str:
    """``<spk>-<chapter>`` (``speaker="chapter"``) or ``<spk>`` (``"reader"``)."""
    m = _UTT_ID.match(uid)
    if m is None:
        raise ValueError(f"not a LibriSpeech utterance id: {uid}")
    return m.group("spk") if speaker == "reader" else f"{m.group('spk')}-{m.group('chapter')}"


def read_part(part_dir: Path, speaker: str = "chapter") -> List[LibriUtt]:
    """Every transcribed utterance of one part, sorted by id.

    Raises ValueError naming every problem: a transcript line without its
    flac, a flac without a transcript line, a malformed line, an id twice.
    """
    part_dir = Path(part_dir)
    problems: List[str] = []
    utts: Dict[str, LibriUtt] = {}
    trans_files = sorted(part_dir.glob("*/*/*.trans.txt"))
    for trans in trans_files:
        with open(trans, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    parsed = parse_trans_line(line)
                except ValueError as e:
                    problems.append(f"{trans}:{lineno}: {e}")
                    continue
                if parsed is None:
                    continue
                uid, text = parsed
                if uid in utts:
                    problems.append(f"{trans}:{lineno}: {uid} transcribed twice")
                    continue
                flac = trans.parent / f"{uid}.flac"
                if not flac.is_file():
                    problems.append(f"{trans}:{lineno}: {uid}: audio missing: {flac}")
                    continue
                utts[uid] = LibriUtt(uid, str(flac.resolve()), text, speaker_of(uid, speaker))
    for flac in sorted(part_dir.glob("*/*/*.flac")):
        if flac.stem not in utts and _UTT_ID.match(flac.stem):
            problems.append(f"{flac}: no transcript line in {flac.parent}")
    if not trans_files:
        problems.append(f"no <spk>/<chapter>/*.trans.txt under {part_dir}")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ValueError(f"LibriSpeech {part_dir}: {len(problems)} problem(s)\n  {shown}{more}")
    return [utts[u] for u in sorted(utts)]


def make_librispeech_dirs(
    librispeech: Path,
    out: Path,
    labeled: Sequence[str] = ("train-clean-100",),
    unlabeled: Sequence[str] = ("train-clean-360", "train-other-500"),
    dev: Sequence[str] = ("dev-clean", "dev-other"),
    test: Sequence[str] = ("test-clean", "test-other"),
    labeled_name: str = "train_clean_100",
    unlabeled_name: str = "train_860",
    valid_name: str = "dev",
    speaker: str = "chapter",
) -> Dict[str, Path]:
    """Write the labeled, unlabeled, valid, dev and test dirs under ``out``.

    Returns {set name: dir}: ``labeled_name`` (union of ``labeled``),
    ``unlabeled_name`` (union of ``unlabeled``, no text), ``valid_name`` (union
    of ``dev``, only when ``dev`` has several parts or a different name), and
    one dir per dev and test part.
    """
    roles = {"labeled": set(labeled), "unlabeled": set(unlabeled), "dev/test": set(dev) | set(test)}
    for role, parts in roles.items():
        others = set().union(*(p for r, p in roles.items() if r != role))
        if parts & others:
            raise ValueError(
                f"LibriSpeech part(s) {sorted(parts & others)} given as {role} and in another role"
            )
    if not labeled or not unlabeled:
        raise ValueError("both a labeled and an unlabeled part are needed")
    cache: Dict[str, List[LibriUtt]] = {}

    def utts(part: str) -> List[LibriUtt]:
        if part not in cache:
            cache[part] = read_part(find_part(librispeech, part), speaker)
        return cache[part]

    plan: Dict[str, List[LibriUtt]] = {
        labeled_name: [u for p in labeled for u in utts(p)],
        unlabeled_name: [u._replace(text=None) for p in unlabeled for u in utts(p)],
    }
    for part in list(dev) + list(test):
        plan[set_name(part)] = utts(part)
    if dev and valid_name not in plan:
        plan[valid_name] = [u for p in dev for u in utts(p)]
    out = Path(out)
    return {name: write_data_dir(out / name, rows) for name, rows in plan.items()}


def get_parser() -> argparse.ArgumentParser:
    parser = corpus_parser(__doc__)
    parser.add_argument("--librispeech", type=Path, required=True,
                        help="dir holding LibriSpeech/<part>/ (or <part>/)")
    parser.add_argument("--out", type=Path, required=True, help="output data dir")
    parser.add_argument("--labeled", nargs="+", default=["train-clean-100"], choices=PARTS)
    parser.add_argument("--unlabeled", nargs="+", default=["train-clean-360", "train-other-500"],
                        choices=PARTS)
    parser.add_argument("--dev", nargs="*", default=["dev-clean", "dev-other"], choices=PARTS)
    parser.add_argument("--test", nargs="*", default=["test-clean", "test-other"], choices=PARTS)
    parser.add_argument("--labeled_name", default="train_clean_100")
    parser.add_argument("--unlabeled_name", default="train_860")
    parser.add_argument("--valid_name", default="dev",
                        help="the valid set: all --dev parts together")
    parser.add_argument("--speaker", choices=["chapter", "reader"], default="chapter",
                        help="utt2spk speaker: <spk>-<chapter> (ESPnet) or <spk>")
    return parser  # fmt: skip


def main(cmd=None):
    print_sizes(make_librispeech_dirs(**vars(get_parser().parse_args(cmd))))


if __name__ == "__main__":
    main()
