"""The decoding jobs of a protocol run (each in a child process): the checkpoint
rules and LM weights on dev, and test, decoded once, only under fixed choices."""

import json
import re
from pathlib import Path
from typing import Dict, Optional, Sequence

from espnet_bljust.experiments.decoding import (
    averaged_checkpoint,
    best_checkpoint,
    read_text,
    score_weights,
)


def checkpoint_of(exp: Path, rule: str) -> Path:
    """The model file of checkpoint rule ``rule`` ("best" or "aveN") in ``exp``."""
    match = re.fullmatch(r"ave([1-9][0-9]*)", rule)
    return averaged_checkpoint(Path(exp), int(match.group(1))) if match else best_checkpoint(exp)


def dev_rules(exp: str, data: str, rules: Sequence[str], beam_size: int = 1,
              nj: int = 1) -> Dict[str, dict]:  # fmt: skip
    """Dev WER/CER (CTC alone) of each checkpoint rule: {rule: {wer, cer, ...}}."""
    exp = Path(exp)
    return {
        rule: score_weights(exp, checkpoint_of(exp, rule), Path(data) / "dev",
                            lambda w, r=rule: exp / f"decode_dev_{r}", [0.0], beam_size,
                            None, nj)["0"]
        for rule in rules
    }  # fmt: skip


def dev_lm(exp: str, data: str, rule: str, lm: Dict[str, str], weights: Sequence[float],
           beam_size: int = 10, nj: int = 1) -> dict:  # fmt: skip
    """Dev WER of every LM weight (CTC + weight x LM, checkpoint ``rule``);
    the lowest picks the run's weight (ties: the smaller).
    Returns {lm_weight, dev_wer_lm: {"<weight>": WER}}."""
    exp = Path(exp)
    scores = score_weights(exp, checkpoint_of(exp, rule), Path(data) / "dev",
                           lambda w: exp / f"decode_dev_{rule}_lm{w:g}", weights, beam_size,
                           lm, nj)  # fmt: skip
    wers = {w: s["wer"] for w, s in scores.items()}
    chosen = min(wers, key=lambda w: (wers[w], float(w)))
    return dict(lm_weight=float(chosen), dev_wer_lm=wers)


def read_choices(path: Path, sha256: str) -> dict:
    """The fixed choices in ``path``; raises where they are missing or were
    fixed under another protocol (test must not be decoded then)."""
    path = Path(path)
    if not path.is_file():
        raise RuntimeError(f"{path}: no fixed choices; test is decoded only after tuning")
    choices = json.loads(path.read_text(encoding="utf-8"))
    if choices.get("protocol_sha256") != sha256:
        raise RuntimeError(f"{path}: choices fixed under protocol {choices.get('protocol_sha256')}"
                           f", not {sha256}")  # fmt: skip
    return choices


def decode_test_set(exp: str, data: str, choices: str, sha256: str, beam_size: int = 1,
                lm: Optional[Dict[str, str]] = None, lm_weight: float = 0.0,
                lm_beam_size: int = 10, nj: int = 1,
                dev_lm_record: Optional[str] = None) -> dict:  # fmt: skip
    """Decode test once: CTC alone, and with the LM at the run's dev weight
    (``lm_weight``, or the one chosen in ``dev_lm_record``, the record of the
    run's :func:`dev_lm` job).

    Refuses (:func:`read_choices`) unless ``choices`` holds the choices fixed
    under the protocol ``sha256``; the checkpoint rule is read from there.
    Returns test_wer/test_cer (and test_wer_lm/test_cer_lm), test_utts, the
    hypothesis files and the reference, the hypotheses themselves
    (hyp_texts, hyp_lm_texts: {utt: text}, so that the report needs no
    model folder), the rule and ``sha256``.
    """
    rule = read_choices(Path(choices), sha256)["checkpoint_rule"]
    if dev_lm_record is not None:
        lm_weight = json.loads(Path(dev_lm_record).read_text())["value"]["lm_weight"]
    exp, test = Path(exp), Path(data) / "test"
    model = checkpoint_of(exp, rule)
    ctc = score_weights(exp, model, test, lambda w: exp / "decode_test", [0.0], beam_size,
                        None, nj)["0"]  # fmt: skip
    out = dict(protocol_sha256=sha256, checkpoint_rule=rule, ref=str(test / "text"),
               test_wer=ctc["wer"], test_cer=ctc["cer"], test_utts=ctc["utts"],
               hyp=str(exp / "decode_test" / "text"), decode_s=ctc["decode_s"],
               hyp_texts=read_text(exp / "decode_test" / "text"))  # fmt: skip
    if lm is not None:
        fused = score_weights(exp, model, test, lambda w: exp / "decode_test_lm", [lm_weight],
                              lm_beam_size, lm, nj)[f"{lm_weight:g}"]  # fmt: skip
        out.update(test_wer_lm=fused["wer"], test_cer_lm=fused["cer"], lm_weight=lm_weight,
                   hyp_lm=str(exp / "decode_test_lm" / "text"),
                   hyp_lm_texts=read_text(exp / "decode_test_lm" / "text"))  # fmt: skip
        out["decode_s"] += fused["decode_s"]
    return out
