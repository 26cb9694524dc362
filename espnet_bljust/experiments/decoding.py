"""Decoding and scoring a trained run with espnet2's Speech2Text (scored by
:mod:`espnet_bljust.bin.score`, as the recipes are)."""

import os
import time
from pathlib import Path
from typing import Dict, Optional

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
    from espnet2.bin.asr_inference import Speech2Text

    lm_args = {}
    if lm is not None and lm_weight > 0:
        lm_args = dict(lm_train_config=lm["train_config"], lm_file=lm["model_file"])
    s2t = Speech2Text(
        asr_train_config=str(Path(exp) / "config.yaml"),
        asr_model_file=str(model_file),
        device="cpu", ctc_weight=1.0, lm_weight=lm_weight if lm_args else 0.0,
        beam_size=beam_size, nbest=1, **lm_args,
    )  # fmt: skip
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


