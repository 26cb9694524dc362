"""Decoding and scoring a trained run with espnet2's Speech2Text (scored by
:mod:`espnet_bljust.bin.score`, as the recipes are)."""

import os
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple


def read_text(path: Path) -> Dict[str, str]:
    from espnet_bljust.bin.score import read_text as _read

    return _read(Path(path))


def decode_ctc(
    exp: Path,
    model_file: Path,
    data_dir: Path,
    out_text: Path,
    beam_size: int = 1,
    lm: Optional[Dict[str, str]] = None,
    lm_weight: float = 0.0,
) -> Dict[str, float]:
    """Decode ``data_dir/wav.scp`` with espnet2's Speech2Text (CTC, and an LM).

    ``lm``: {"train_config", "model_file"} of an espnet2 LM
    (:func:`espnet_bljust.recipe.text_lm.train_text_lm`), fused with
    ``lm_weight``; None: CTC only. Returns {"decode_s": seconds, "audio_s":
    seconds of audio}; the hypotheses go to ``out_text`` (Kaldi text).
    """
    import soundfile
    import torch

    s2t = _speech2text(Path(exp), Path(model_file), beam_size, lm, lm_weight)
    hyps, audio_s, decode_s = {}, 0.0, 0.0
    for _, uid, path in _scp(Path(data_dir) / "wav.scp"):
        wave, rate = soundfile.read(path, dtype="float32")
        audio_s += len(wave) / rate
        start = time.perf_counter()
        with torch.no_grad():
            hyps[uid] = s2t(torch.from_numpy(wave))[0][0]
        decode_s += time.perf_counter() - start
    Path(out_text).parent.mkdir(parents=True, exist_ok=True)
    Path(out_text).write_text("".join(f"{u} {h}\n" for u, h in sorted(hyps.items())))
    return dict(decode_s=decode_s, audio_s=audio_s)


def _scp(path: Path):
    from espnet_bljust.data.list_checks import read_list

    return read_list(path)


def utterances(data_dir: Path) -> List[Tuple[str, str]]:
    """(uid, audio path) of ``data_dir/wav.scp``, in file order."""
    return [(uid, path) for _, uid, path in _scp(Path(data_dir) / "wav.scp")]


def _speech2text(exp: Path, model_file: Path, beam_size: int, lm: Optional[Dict[str, str]],
                 lm_weight: float):  # fmt: skip
    from espnet2.bin.asr_inference import Speech2Text

    lm_args = {}
    if lm is not None and lm_weight > 0:
        lm_args = dict(lm_train_config=lm["train_config"], lm_file=lm["model_file"])
    return Speech2Text(
        asr_train_config=str(Path(exp) / "config.yaml"), asr_model_file=str(model_file),
        device="cpu", ctc_weight=1.0, lm_weight=lm_weight if lm_args else 0.0,
        beam_size=beam_size, nbest=1, **lm_args,
    )  # fmt: skip


def decode_weights(exp: str, model_file: str, utts: Sequence[Tuple[str, str]],
                   weights: Sequence[float], beam_size: int = 1,
                   lm: Optional[Dict[str, str]] = None) -> dict:  # fmt: skip
    """Hypotheses of ``utts`` for every LM weight, each utterance encoded once.

    The same as one :func:`decode_ctc` per weight (a Speech2Text call per
    utterance), without encoding an utterance again per weight: the encoder
    output (1, T, D) of one utterance goes through Speech2Text's own
    per-utterance beam search once per weight, the LM's weight set in the
    beam search in between (weight 0: a Speech2Text without the LM). It calls
    Speech2Text's ``_decode_single_sample`` because espnet2 has no public entry
    for an encoder output, and that keeps the text exactly as ``__call__`` makes it.
    Returns {"hyps": {"<weight>": {uid: text}}, "decode_s", "audio_s"}.
    """
    import soundfile
    import torch

    weights = [float(w) for w in weights]
    positive = [w for w in weights if w > 0 and lm is not None]
    fused = None
    if positive:
        fused = _speech2text(Path(exp), Path(model_file), beam_size, lm, positive[0])
    plain = None
    if any(w <= 0 or lm is None for w in weights):
        plain = _speech2text(Path(exp), Path(model_file), beam_size, None, 0.0)
    model = (fused or plain).asr_model
    hyps = {f"{w:g}": {} for w in weights}
    audio_s = decode_s = 0.0
    for uid, path in utts:
        wave, rate = soundfile.read(path, dtype="float32")
        audio_s += len(wave) / rate
        start = time.perf_counter()
        with torch.no_grad():
            speech = torch.from_numpy(wave).unsqueeze(0)
            enc, _ = model.encode(speech, speech.new_full([1], speech.size(1), dtype=torch.long))
            enc = enc[0] if isinstance(enc, tuple) else enc
            for w in weights:
                s2t = fused if (w > 0 and lm is not None) else plain
                if s2t is fused:
                    s2t.beam_search.weights["lm"] = w
                hyps[f"{w:g}"][uid] = s2t._decode_single_sample(enc[0])[0][0]
        decode_s += time.perf_counter() - start
    return dict(hyps=hyps, decode_s=decode_s, audio_s=audio_s)


def decode_weights_sharded(exp: Path, model_file: Path, data_dir: Path, weights: Sequence[float],
                           beam_size: int = 1, lm: Optional[Dict[str, str]] = None, nj: int = 1,
                           log_dir: Optional[Path] = None) -> dict:  # fmt: skip
    """:func:`decode_weights` over ``data_dir``, in ``nj`` child processes of
    one thread on interleaved shards of the utterances (hypotheses are the
    same: each utterance is decoded alone); ``decode_s`` sums the shards'."""
    utts = utterances(data_dir)
    kwargs = dict(exp=str(exp), model_file=str(model_file), weights=list(weights),
                  beam_size=beam_size, lm=lm)  # fmt: skip
    if nj <= 1 or len(utts) < 2:
        return decode_weights(utts=utts, **kwargs)
    from espnet_bljust.experiments.runs import ChildRun

    log_dir = Path(log_dir or Path(exp) / "decode_logs")
    children = [
        ChildRun("espnet_bljust.experiments.decoding:decode_weights",
                 dict(utts=utts[i::nj], **kwargs),
                 log_dir / f"{Path(data_dir).name}.{i}.log").start()
        for i in range(min(nj, len(utts)))
    ]  # fmt: skip
    results = [c.result() for c in children]
    failed = [r.get("error") for r in results if not r.get("ok")]
    if failed:
        raise RuntimeError(f"decoding {data_dir} failed: {failed[0]} (logs in {log_dir})")
    merged = dict(hyps={f"{float(w):g}": {} for w in weights}, decode_s=0.0, audio_s=0.0)
    for r in results:
        for w, hyps in r["value"]["hyps"].items():
            merged["hyps"][w].update(hyps)
        merged["decode_s"] += r["value"]["decode_s"]
        merged["audio_s"] += r["value"]["audio_s"]
    return merged


def write_text(hyps: Dict[str, str], path: Path) -> Path:
    """Kaldi text of ``hyps`` (sorted by uid)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{u} {h}\n" for u, h in sorted(hyps.items())))
    return Path(path)


def score_weights(exp: Path, model_file: Path, data_dir: Path, out_dir_of: Callable[[float], Path],
                  weights: Sequence[float], beam_size: int = 1,
                  lm: Optional[Dict[str, str]] = None, nj: int = 1) -> Dict[str, dict]:  # fmt: skip
    """Decode ``data_dir`` once per weight (:func:`decode_weights_sharded`),
    write each weight's text to ``out_dir_of(weight)/text`` and score it
    against ``data_dir/text`` with espnet_bljust.bin.score (the recipes'
    scorer). Returns {"<weight>": {wer, cer, utts, ..., decode_s, audio_s}}
    (the timings are the whole call's)."""
    from espnet_bljust.bin.score import score

    decoded = decode_weights_sharded(exp, model_file, data_dir, weights, beam_size, lm, nj)
    ref = read_text(Path(data_dir) / "text")
    out = {}
    for w, hyps in decoded["hyps"].items():
        write_text(hyps, Path(out_dir_of(float(w))) / "text")
        out[w] = dict(score(ref, hyps), decode_s=decoded["decode_s"], audio_s=decoded["audio_s"])
    return out


def decode_and_score(
    exp: Path, model_file: Path, data_dir: Path, out_text: Path, beam_size: int = 1,
    lm: Optional[Dict[str, str]] = None, lm_weight: float = 0.0,
) -> Dict[str, float]:
    """:func:`decode_ctc`, then scored against ``data_dir/text``: its timing
    and espnet_bljust.bin.score's {wer, cer, utts, ...} in one dict."""
    from espnet_bljust.bin.score import score

    timing = decode_ctc(exp, model_file, data_dir, out_text, beam_size, lm, lm_weight)
    return {**timing, **score(read_text(Path(data_dir) / "text"), read_text(out_text))}


def best_checkpoint(exp: Path) -> Path:
    """The model a run decodes: espnet2's dev-picked valid.cer_ctc.best.pth
    (latest.pth where the run wrote none)."""
    best = Path(exp) / "valid.cer_ctc.best.pth"
    return best if best.exists() else Path(exp) / "latest.pth"

def averaged_checkpoint(exp: Path, nbest: int, criterion: str = "valid.cer_ctc") -> Path:
    """espnet2's average of the ``nbest`` best checkpoints by ``criterion``.

    espnet2's Trainer writes ``<criterion>.ave_<n>best.pth`` at the end of a
    run for every n in ``--keep_nbest_models`` that is no larger than the
    number of epochs, and links ``<criterion>.ave.pth`` to the largest it
    made (fewer epochs than n: ``ave_1best``); that one stands in when
    ``ave_<nbest>best`` was not made.
    """
    wanted = Path(exp) / f"{criterion}.ave_{nbest}best.pth"
    if wanted.exists():
        return wanted
    largest = Path(exp) / f"{criterion}.ave.pth"
    if not largest.is_symlink():
        raise FileNotFoundError(
            f"{exp}: no {criterion}.ave_*best.pth (was it trained with "
            f"--keep_nbest_models {nbest}?)"
        )
    return Path(exp) / os.readlink(largest)


