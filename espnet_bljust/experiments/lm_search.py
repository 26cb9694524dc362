"""LM decoding of a run: the LM weight picked on dev, test decoded with it."""

import json
from pathlib import Path
import argparse
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from espnet_bljust.experiments.decoding import (
    averaged_checkpoint,
    best_checkpoint,
    decode_and_score,
    score_weights,
)

def lm_decode(
    exp: str, data: str, lm: Dict[str, str], weights: Sequence[float], beam_size: int = 10,
    average_nbest: int = 1, test_set: str = "test", valid_set: str = "dev",
    max_weight: Optional[float] = None, previous: Optional[dict] = None,
) -> dict:
    """Decode one trained run again with the LM fused; the weight picked on dev.

    The best dev checkpoint decodes ``valid_set`` with every weight in
    ``weights`` (CTC + ``weight`` x LM, beam ``beam_size``; each utterance
    encoded once for all of them); while the lowest
    dev WER is at the largest weight tried and twice that is no more than
    ``max_weight``, the grid grows by that doubled weight (dev only). The
    weight with the lowest dev WER (ties: the smaller weight) then decodes
    ``test_set`` with that checkpoint (test_wer_lm, test_cer_lm) and, with
    ``average_nbest`` > 1, with the n-best average (test_wer_lm_ave,
    test_cer_lm_ave). Test is decoded with one weight only. ``lm_decodes``:
    the (set, weight) decodes this call ran.

    ``previous``: this run's results of an earlier call with the same LM,
    weights and beam but another ``max_weight`` (:func:`same_lm_decoding`);
    its dev WERs are not decoded again, nor test where the weight stays.
    """
    exp, data = Path(exp), Path(data)
    model_file = best_checkpoint(exp)
    known = dict((previous or {}).get("dev_wer_lm", {}))
    decoded = []  # the decodes this call ran: (set, weight)
    fresh = sorted({float(w) for w in weights} - {float(w) for w in known})
    if fresh:  # the grid in one pass over dev: each utterance encoded once
        scores = score_weights(exp, model_file, data / valid_set,
                               lambda w: exp / f"decode_{valid_set}_lm{w:g}", fresh, beam_size, lm)
        for w in fresh:
            known[f"{w:g}"] = scores[f"{w:g}"]["wer"]
            decoded.append((valid_set, w))

    def dev_wer_of(weight: float) -> float:
        if f"{weight:g}" in known:
            return known[f"{weight:g}"]
        decoded.append((valid_set, weight))
        return decode_and_score(exp, model_file, data / valid_set,
                                exp / f"decode_{valid_set}_lm{weight:g}" / "text",
                                beam_size, lm, weight)["wer"]  # fmt: skip

    chosen, dev_wer = pick_lm_weight(dev_wer_of, weights, max_weight)
    result = dict(lm_key=lm_key(lm, weights, beam_size, max_weight), lm_weight=chosen,
                  dev_wer_lm=dev_wer, lm_decodes=decoded)  # fmt: skip
    if previous and previous.get("lm_weight") == chosen:  # test was decoded with it
        result.update({k: v for k, v in previous.items() if k.startswith("test_") and "_lm" in k})
        return result
    models = [("", model_file)]
    if average_nbest > 1:
        models.append(("_ave", averaged_checkpoint(exp, average_nbest)))
    for suffix, model in models:
        scores = decode_and_score(exp, model, data / test_set,
                                  exp / f"decode_{test_set}{suffix}_lm" / "text",
                                  beam_size, lm, chosen)  # fmt: skip
        decoded.append((f"{test_set}{suffix}", chosen))
        result.update({f"test_wer_lm{suffix}": scores["wer"], f"test_cer_lm{suffix}": scores["cer"]})
    return result


def same_lm_decoding(key_a: Optional[str], key_b: str) -> bool:
    """Whether two :func:`lm_key` s name the same LM, weights and beam (their
    ``max_weight`` may differ)."""
    if not key_a:
        return False
    a, b = json.loads(key_a), json.loads(key_b)
    a.pop("max_weight", None)
    b.pop("max_weight", None)
    return a == b


def pick_lm_weight(
    dev_wer_of: Callable[[float], float], weights: Sequence[float],
    max_weight: Optional[float] = None,
) -> Tuple[float, Dict[str, float]]:
    """The LM weight with the lowest ``dev_wer_of(weight)`` (ties: the smaller).

    Every weight of ``weights`` is scored; while the best is the largest
    scored and twice it is no more than ``max_weight``, twice it is scored
    too. Returns (chosen weight, {"<weight>": score} of every weight scored).
    """
    tried = sorted(set(float(w) for w in weights))
    scores = {f"{w:g}": dev_wer_of(w) for w in tried}

    def best() -> float:
        return min(tried, key=lambda w: (scores[f"{w:g}"], w))

    while max_weight is not None and best() == tried[-1] and 2 * tried[-1] <= max_weight:
        tried.append(2 * tried[-1])
        scores[f"{tried[-1]:g}"] = dev_wer_of(tried[-1])
    return best(), scores


def lm_key(lm: Dict[str, str], weights: Sequence[float], beam_size: int,
           max_weight: Optional[float] = None) -> str:  # fmt: skip
    """What an LM decoding of a run depends on (a reused run with another key
    is decoded again)."""
    key = dict(lm=lm, weights=[float(w) for w in weights], beam_size=beam_size)
    if max_weight is not None:
        key["max_weight"] = float(max_weight)
    return json.dumps(key, sort_keys=True)


def plan_lms(runs: List[dict], args: argparse.Namespace) -> Dict[str, dict]:
    """One LM per split (``--lm_config`` on its train_labeled transcripts,
    dev transcripts for validation, the split's token list), to be trained in
    a child process into ``<out_dir>/lm_<split>/`` (reused when trained with
    the same options and contents). Returns {data dir: {kwargs (of
    :func:`~espnet_bljust.recipe.text_lm.train_text_lm`), log, weights,
    beam_size}} for :func:`execute`."""
    weights = [float(w) for w in args.lm_weights.split()]
    if not weights or any(w <= 0 for w in weights):
        raise SystemExit(f"compare_strategies: --lm_weights {args.lm_weights!r}: "
                         "give one or more weights > 0")  # fmt: skip
    plan = {}
    for data in sorted({run["data"] for run in runs}):
        kwargs = dict(train_text=str(Path(data) / "train_labeled" / "text"),
                      valid_text=str(Path(data) / "dev" / "text"),
                      token_list=str(Path(data) / "tokens.txt"),
                      out_dir=str(args.out_dir / f"lm_{Path(data).name}"),
                      config=str(args.lm_config))  # fmt: skip
        plan[data] = dict(kwargs=kwargs, log=args.out_dir / f"lm_{Path(data).name}.log",
                          weights=weights, beam_size=args.lm_beam_size,
                          max_weight=args.lm_weight_max)  # fmt: skip
    return plan


def finish_lm_train(data: str, result: dict, plan: dict) -> dict:
    """The LM decoding options of ``data`` (lm, weights, beam_size) once its
    LM is trained; a failed LM stops the comparison (its runs would all be
    decoded without it)."""
    if not result.get("ok"):
        raise SystemExit(f"compare_strategies: LM training failed ({result.get('error')}); "
                         f"see {plan['log']}")  # fmt: skip
    print(f"[lm] trained: {result['value']['model_file']}", flush=True)
    return dict(lm=result["value"], weights=plan["weights"], beam_size=plan["beam_size"],
                max_weight=plan["max_weight"])


