#!/usr/bin/env python3
"""Score decoding results: WER and CER per test set, sclite-style trn files, a table.

Usage:
    python -m espnet_bljust.bin.score --ref data/test/text \
        --hyp exp/decode_test/1best_recog/text --name test --out exp/decode_test
"""

import argparse
import json
from pathlib import Path
from typing import Dict

import jiwer

from espnet_bljust.data.list_checks import read_list


def read_text(path: Path) -> Dict[str, str]:
    """Kaldi text file -> {uid: transcript} (empty transcript allowed)."""
    return {uid: value.strip() for _, uid, value in read_list(path)}


def score(ref: Dict[str, str], hyp: Dict[str, str]) -> Dict[str, float]:
    """WER and CER (percent) over the reference utterances; missing hyps are empty."""
    uids = sorted(ref)
    refs = [ref[u] for u in uids]
    hyps = [hyp.get(u, "") for u in uids]
    words = jiwer.process_words(refs, hyps)
    chars = jiwer.process_characters(refs, hyps)
    return dict(
        utts=len(uids),
        words=sum(len(r.split()) for r in refs),
        wer=100.0 * words.wer,
        cer=100.0 * chars.cer,
        missing=sum(u not in hyp for u in uids),
    )


def write_trn(texts: Dict[str, str], path: Path, spk_of=lambda u: u.split("-")[0]) -> None:
    """sclite trn format: 'TRANSCRIPT (spk-uid)'."""
    with open(path, "w", encoding="utf-8") as f:
        for uid in sorted(texts):
            f.write(f"{texts[uid]} ({spk_of(uid)}-{uid})\n")


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", type=Path, required=True, help="reference text")
    parser.add_argument("--hyp", type=Path, required=True, help="hypothesis text")
    parser.add_argument("--name", required=True, help="test set name")
    parser.add_argument("--out", type=Path, required=True, help="output dir")
    args = parser.parse_args(cmd)
    ref, hyp = read_text(args.ref), read_text(args.hyp)
    result = dict(name=args.name, **score(ref, hyp))
    args.out.mkdir(parents=True, exist_ok=True)
    write_trn(ref, args.out / "ref.trn")
    write_trn(hyp, args.out / "hyp.trn")
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    print(
        f"{args.name}: WER {result['wer']:.1f}% CER {result['cer']:.1f}% "
        f"({result['utts']} utts, {result['words']} words)"
    )


if __name__ == "__main__":
    main()
