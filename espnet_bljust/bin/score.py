#!/usr/bin/env python3
"""Score decoding results as asr.sh does: WER and CER per test set, sclite trn files.

References and hypotheses are split into words and characters by espnet2's own
tokenizers (``espnet2.text.build_tokenizer``: ``word``, and ``char`` with the
space as the ``<space>`` token, as asr.sh's scoring stage does), written as
sclite ``trn`` files (``score_wer/{ref,hyp}.trn``, ``score_cer/{ref,hyp}.trn``:
``tokens (spk-uid)``), and the error rates are counted by jiwer on those token
sequences (sclite itself is not a dependency).

Usage:
    python -m espnet_bljust.bin.score --ref data/test/text \
        --hyp exp/decode_test/1best_recog/text --name test --out exp/decode_test
"""

import argparse
import json
from pathlib import Path
from typing import Callable, Dict, List, Optional

import jiwer
from espnet2.text.build_tokenizer import build_tokenizer

from espnet_bljust.data.list_checks import read_list

TOKEN_TYPES = {"wer": "word", "cer": "char"}


def read_text(path: Path) -> Dict[str, str]:
    """Kaldi text file -> {uid: transcript} (empty transcript allowed)."""
    return {uid: value.strip() for _, uid, value in read_list(path)}


def tokenize(texts: Dict[str, str], token_type: str) -> Dict[str, List[str]]:
    """{uid: tokens} by espnet2's ``word`` or ``char`` tokenizer."""
    tokenizer = build_tokenizer(token_type, space_symbol="<space>")
    return {uid: tokenizer.text2tokens(text) for uid, text in texts.items()}


def error_rate(ref: Dict[str, List[str]], hyp: Dict[str, List[str]]) -> float:
    """Token error rate (percent) over the reference utterances; a missing hyp is empty."""
    uids = sorted(ref)
    out = jiwer.process_words(
        [" ".join(ref[u]) for u in uids], [" ".join(hyp.get(u, [])) for u in uids]
    )
    return 100.0 * out.wer


def score(ref: Dict[str, str], hyp: Dict[str, str]) -> Dict[str, float]:
    """WER and CER (percent) over the reference utterances; missing hyps are empty."""
    rates = {
        name: error_rate(tokenize(ref, token_type), tokenize(hyp, token_type))
        for name, token_type in TOKEN_TYPES.items()
    }
    return dict(
        utts=len(ref),
        words=sum(len(r.split()) for r in ref.values()),
        missing=sum(u not in hyp for u in ref),
        **rates,
    )


def write_trn(
    tokens: Dict[str, List[str]],
    path: Path,
    spk_of: Callable[[str], str] = lambda uid: uid.split("-")[0],
) -> None:
    """sclite trn format: 'TOKENS (spk-uid)', one utterance a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for uid in sorted(tokens):
            f.write(f"{' '.join(tokens[uid])} ({spk_of(uid)}-{uid})\n")


def write_trn_files(
    ref: Dict[str, str], hyp: Dict[str, str], out: Path, utt2spk: Optional[Path] = None
) -> None:
    """``out/score_{wer,cer}/{ref,hyp}.trn``; speakers from ``utt2spk`` where given."""
    spk_of = lambda uid: uid.split("-")[0]  # noqa: E731
    if utt2spk is not None and utt2spk.exists():
        speakers = read_text(utt2spk)
        spk_of = lambda uid: speakers.get(uid, uid)  # noqa: E731
    for name, token_type in TOKEN_TYPES.items():
        for role, texts in (("ref", ref), ("hyp", hyp)):
            write_trn(tokenize(texts, token_type), out / f"score_{name}" / f"{role}.trn", spk_of)


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", type=Path, required=True, help="reference text")
    parser.add_argument("--hyp", type=Path, required=True, help="hypothesis text")
    parser.add_argument("--name", required=True, help="test set name")
    parser.add_argument("--out", type=Path, required=True, help="output dir")
    parser.add_argument("--utt2spk", type=Path, default=None,
                        help="speakers of the trn files (default: the uid up to its first '-')")
    args = parser.parse_args(cmd)
    ref, hyp = read_text(args.ref), read_text(args.hyp)
    result = dict(name=args.name, **score(ref, hyp))
    args.out.mkdir(parents=True, exist_ok=True)
    write_trn_files(ref, hyp, args.out, args.utt2spk)
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    print(
        f"{args.name}: WER {result['wer']:.1f}% CER {result['cer']:.1f}% "
        f"({result['utts']} utts, {result['words']} words)"
    )


if __name__ == "__main__":
    main()
