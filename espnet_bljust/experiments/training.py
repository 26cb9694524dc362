"""The child job of one run: train, read the counters back, decode."""

import os
import time
from pathlib import Path
from typing import List

from espnet_bljust.experiments.decoding import (
    averaged_checkpoint,
    best_checkpoint,
    decode_and_score,
)
from espnet_bljust.experiments.resume import record_start, saved_epochs
from espnet_bljust.experiments.rundata import bilevel_counters, epoch_stats
from espnet_bljust.experiments.runs import AnonPeakSampler, peak_rss_mb

def train_and_decode(
    argv: List[str], exp: str, data: str, test_set: str = "test", beam_size: int = 1,
    average_nbest: int = 1, resume: bool = True,
) -> dict:
    """Child job of one run: train, measure, pick on dev, decode and score test.

    ``resume``: an unfinished run in ``exp`` continues (:func:`train_run`);
    False: it is trained anew.

    test_wer/test_cer score the single best dev checkpoint; with
    ``average_nbest`` > 1 (and the run trained with ``--keep_nbest_models``
    that large) test_wer_ave/test_cer_ave score espnet2's average of the
    ``average_nbest`` best dev checkpoints as well. (Decoding with an LM:
    :func:`lm_decode`, the harness's next job for the run.)
    """
    exp = Path(exp)
    result = train_run(argv, str(exp), resume=resume)
    model_file = best_checkpoint(exp)
    result["checkpoint"] = model_file.name
    if model_file.is_symlink():
        result["checkpoint"] = f"{model_file.name} -> {os.readlink(model_file)}"
    test_dir = Path(data) / test_set
    scores = decode_and_score(exp, model_file, test_dir, exp / f"decode_{test_set}" / "text",
                              beam_size)  # fmt: skip
    result.update(decode_s=scores["decode_s"], audio_s=scores["audio_s"], test_wer=scores["wer"],
                  test_cer=scores["cer"], test_utts=scores["utts"])  # fmt: skip
    if average_nbest > 1:
        averaged = averaged_checkpoint(exp, average_nbest)
        result["checkpoint_ave"] = averaged.name
        scores = decode_and_score(exp, averaged, test_dir,
                                  exp / f"decode_{test_set}_{averaged.stem}" / "text", beam_size)
        result.update(test_wer_ave=scores["wer"], test_cer_ave=scores["cer"])
    return result




def train_run(argv: List[str], exp: str, fresh: bool = True, resume: bool = False) -> dict:
    """Train one run (bljust_train ``argv`` into ``exp``) and read it back.

    Returns train_wall_s, train_peak_rss_mb (VmHWM), train_peak_anon_mb, the
    bilevel counters (ticks, lower_steps, upper_steps, skipped_steps,
    joint_upper_steps), epochs (the reporter's per-epoch means) and
    train_loop_s (the epochs' training time, no validation). ``fresh``:
    remove what an earlier, unfinished call left in ``exp`` first.
    ``resume``: instead, an unfinished run that an earlier call left in
    ``exp`` continues from its last epoch checkpoint (``--resume true``; the
    trainer's resume is bitwise, see tests/train/test_kill_resume_fsdd.py)
    where :func:`~espnet_bljust.experiments.resume.saved_epochs` allows it,
    and is removed and trained anew otherwise. A continued run also returns
    resumed_after_epoch; its train_wall_s adds the reporter's train and
    valid time of the epochs it kept (not the earlier calls' start-up and
    lost partial epoch), and its peak memory is this call's.
    """
    import shutil

    import torch

    from espnet_bljust.bin import bljust_train

    exp = Path(exp)
    kept = saved_epochs(argv, exp) if resume else 0
    if not kept and (fresh or resume) and exp.exists():
        shutil.rmtree(exp)
    record_start(argv, exp)
    if kept:
        argv = list(argv) + ["--resume", "true"]
    start = time.perf_counter()
    with AnonPeakSampler() as anon:
        try:
            bljust_train.main(argv)
        except SystemExit as e:
            if e.code not in (0, None):
                raise RuntimeError(f"bljust_train exited with {e.code}") from e
    result = dict(train_wall_s=time.perf_counter() - start, train_peak_rss_mb=peak_rss_mb(),
                  train_peak_anon_mb=anon.peak_mb)
    states = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)
    result.update(bilevel_counters(states))
    result["epochs"] = epoch_stats(states)
    result["train_loop_s"] = sum(
        e.get("train", {}).get("time", 0.0) for e in result["epochs"].values()
    )
    if kept:
        result["resumed_after_epoch"] = kept
        result["train_wall_s"] += sum(
            e.get(group, {}).get("time", 0.0)
            for epoch, e in result["epochs"].items() if epoch <= kept
            for group in ("train", "valid")
        )  # fmt: skip
    return result
