#!/usr/bin/env python3
"""Real-time factor of CTC decoding on CPU: Speech2Text greedy and beam, batched greedy.

On a trained model (``--exp``: a bljust_train output dir with config.yaml,
or else one trained here briefly with ``--train_ticks`` bljust ticks in a
fresh process), over the first ``--num_utts`` FSDD test utterances:

- ``Speech2Text`` (espnet2's, single utterance), CTC only (ctc_weight 1),
  beam 1 (greedy-like: the CTC prefix beam search with one hypothesis);
- ``Speech2Text``, beam ``--beam_size`` (10);
- batched greedy CTC: argmax of ``model.ctc.log_softmax`` over a padded batch
  of ``--decode_batch`` utterances (sorted by length), repeats collapsed.

RTF = decoding seconds / audio seconds (model loading excluded; one
untimed warm-up utterance first). Target: RTF < 1 (faster than real time)
on one thread; the table also gives each mode's speed-up over Speech2Text
beam 1 and how often its transcript equals beam 1's.

Example:
    python bench/decode_rtf.py --num_utts 60 --beam_size 10
"""

import time
from pathlib import Path

import common

TARGET = 1.0


def main():
    parser = common.base_parser(__doc__)
    parser.add_argument("--exp", type=Path, default=None,
                        help="trained bljust_train output dir (default: train one here)")
    parser.add_argument("--model_file", default="latest.pth",
                        help="checkpoint file name inside --exp")
    parser.add_argument("--train_ticks", type=int, default=60,
                        help="ticks of the brief training when --exp is not given")
    parser.add_argument("--num_utts", type=int, default=60, help="test utterances decoded")
    parser.add_argument("--beam_size", type=int, default=10, help="beam of the beam-search row")
    parser.add_argument("--decode_batch", type=int, default=16, help="batched greedy batch size")
    args = parser.parse_args()  # fmt: skip

    import soundfile
    import torch

    torch.set_num_threads(args.threads)
    data = common.prepare(args)
    exp = args.exp
    if exp is None:
        exp = args.work_dir / f"rtf_exp_{args.train_ticks}"
        argv = common.bench_argv(
            args, data, exp, "--strategy", "bljust", "--phase_unit", "tick",
            "--max_epoch", "1", "--num_iters_per_epoch", str(args.train_ticks),
            "--exploration_len", str(args.train_ticks // 5),
            "--finetune_len", str(args.train_ticks // 10),
        )  # fmt: skip
        common.run_training(argv, exp, args.threads)

    from espnet2.bin.asr_inference import Speech2Text

    utts = common.audio_list(data / "test", args.num_utts)
    waves = {uid: soundfile.read(path, dtype="float32")[0] for uid, path in utts}
    rate = soundfile.info(str(utts[0][1])).samplerate
    audio_s = sum(len(w) for w in waves.values()) / rate

    def speech2text(beam):
        return Speech2Text(asr_train_config=str(exp / "config.yaml"),
                           asr_model_file=str(exp / args.model_file), device="cpu",
                           ctc_weight=1.0, lm_weight=0.0, beam_size=beam, nbest=1)  # fmt: skip

    def single(s2t):
        s2t(torch.from_numpy(next(iter(waves.values()))))  # warm-up
        hyps, start = {}, time.perf_counter()
        with torch.no_grad():
            for uid, wave in waves.items():
                hyps[uid] = s2t(torch.from_numpy(wave))[0][0]
        return hyps, time.perf_counter() - start

    greedy, t_greedy = single(speech2text(1))
    beam, t_beam = single(speech2text(args.beam_size))
    model = speech2text(1).asr_model.eval()
    order = sorted(waves, key=lambda u: len(waves[u]))
    common.ctc_greedy_batch(model, [waves[order[0]]])  # warm-up
    batched, start = {}, time.perf_counter()
    for i in range(0, len(order), args.decode_batch):
        chunk = order[i : i + args.decode_batch]
        batched.update(zip(chunk, common.ctc_greedy_batch(model, [waves[u] for u in chunk])))
    t_batched = time.perf_counter() - start

    def row(name, hyps, seconds):
        rtf = seconds / audio_s
        same = sum(hyps[u] == greedy[u] for u in waves) / len(waves)
        return [name, len(hyps), audio_s, seconds, rtf, t_greedy / seconds, same,
                f"< {TARGET}", common.verdict(rtf, TARGET)]  # fmt: skip

    rows = [row("Speech2Text, CTC beam 1", greedy, t_greedy),
            row(f"Speech2Text, CTC beam {args.beam_size}", beam, t_beam),
            row(f"batched greedy CTC (batch {args.decode_batch})", batched, t_batched)]  # fmt: skip
    differ = [u for u in order if batched[u] != greedy[u]][:3]
    examples = "; ".join(f"{u}: beam 1 {greedy[u]!r}, batched {batched[u]!r}" for u in differ)
    table = common.markdown(
        ["decoder", "utts", "audio s", "decode s", "RTF", "speed-up vs beam 1",
         "same text as beam 1", "target", "verdict"], rows)  # fmt: skip
    common.report(
        "Decoding real-time factor on CPU",
        table,
        [f"model {exp / args.model_file}, torch threads {args.threads}, FSDD test "
         f"({rate} Hz), one utterance at a time unless batched",
         f"batched greedy vs beam 1, first differences: {examples or 'none'}"],
    )  # fmt: skip
    print(f"RATIO {t_greedy / audio_s:.4f}")


if __name__ == "__main__":
    main()
