#!/usr/bin/env python3
"""The harness's LM decoding, one-by-one against encode-once and sharded: time and identity.

On a trained model (``--exp``, or one trained here briefly with
``--train_ticks`` supervised ticks) and a char LM on the labeled transcripts
(``--lm_epochs`` epochs), the first ``--num_utts`` FSDD test utterances are
decoded for every weight of ``--weights`` (0 = CTC alone), beam ``--beam_size``:

- one-by-one: what the harness did, one ``Speech2Text`` call per utterance and
  weight (:func:`espnet_bljust.experiments.decoding.decode_ctc`);
- encode-once: each utterance encoded once, then beam-searched per weight
  (:func:`~espnet_bljust.experiments.decoding.decode_weights`), in one
  process and in ``--nj`` processes on utterance shards.

The hypotheses must be identical; the last line is the wall-time ratio
one-by-one / encode-once with ``--nj`` shards (model loading included in both).

Example:
    python bench/decode_speed.py --num_utts 100 --nj 2
"""

import time
from pathlib import Path

import common

from espnet_bljust.experiments.argv import phase_argv
from espnet_bljust.experiments.decoding import (
    decode_ctc,
    decode_weights,
    decode_weights_sharded,
    read_text,
    utterances,
    write_text,
)
from espnet_bljust.experiments.runs import run_child


def main():
    parser = common.base_parser(__doc__)
    parser.add_argument("--exp", type=Path, default=None,
                        help="trained bljust_train output dir (default: train one here)")
    parser.add_argument("--train_ticks", type=int, default=60,
                        help="supervised ticks of the brief training when --exp is not given")
    parser.add_argument("--lm_epochs", type=int, default=5, help="epochs of the char LM")
    parser.add_argument("--num_utts", type=int, default=60, help="test utterances decoded")
    parser.add_argument("--weights", default="0 1 2 4 8", help="LM weights (0: CTC alone)")
    parser.add_argument("--beam_size", type=int, default=10, help="beam of the decoding")
    parser.add_argument("--nj", type=int, default=2, help="decoding processes of the sharded row")
    args = parser.parse_args()  # fmt: skip

    import torch

    from espnet_bljust.recipe.text_lm import train_text_lm

    torch.set_num_threads(args.threads)
    data = common.prepare(args)
    exp = args.exp or args.work_dir / f"speed_exp_{args.train_ticks}"
    if args.exp is None and not (exp / "latest.pth").exists():
        plan = ["--max_epoch", "1", "--num_iters_per_epoch", str(args.train_ticks),
                *phase_argv("supervised", 0, 0)]  # fmt: skip
        result = run_child("espnet_bljust.experiments.training:train_run",
                           dict(argv=common.bench_argv(args, data, exp, *plan), exp=str(exp)),
                           args.work_dir / f"{exp.name}.log", args.threads)  # fmt: skip
        if not result["ok"]:
            raise SystemExit(f"decode_speed: training failed ({result['error']}); see "
                             f"{args.work_dir / (exp.name + '.log')}")  # fmt: skip
    lm = train_text_lm(str(data / "train_labeled" / "text"), str(data / "dev" / "text"),
                       str(data / "tokens.txt"), str(args.work_dir / f"lm_{args.lm_epochs}"),
                       str(common.REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "train_lm.yaml"),
                       extra=["--max_epoch", str(args.lm_epochs)])  # fmt: skip
    model = exp / "latest.pth"
    weights = [float(w) for w in args.weights.split()]
    subset = args.work_dir / f"test_{args.num_utts}"
    utts = utterances(data / "test")[: args.num_utts]
    subset.mkdir(parents=True, exist_ok=True)
    (subset / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p in utts))

    start = time.perf_counter()
    slow = {}
    for w in weights:
        out = args.work_dir / "one_by_one" / f"{w:g}" / "text"
        decode_ctc(exp, model, subset, out, args.beam_size, lm, w)
        slow[f"{w:g}"] = read_text(out)
    t_slow = time.perf_counter() - start
    start = time.perf_counter()
    once = decode_weights(str(exp), str(model), utts, weights, args.beam_size, lm)["hyps"]
    t_once = time.perf_counter() - start
    start = time.perf_counter()
    sharded = decode_weights_sharded(exp, model, subset, weights, args.beam_size, lm, args.nj,
                                     args.work_dir / "shard_logs")["hyps"]  # fmt: skip
    t_sharded = time.perf_counter() - start
    for w, hyps in sharded.items():
        write_text(hyps, args.work_dir / "sharded" / w / "text")

    def same(hyps):
        return sum(hyps[w][u] == slow[w][u] for w in slow for u in slow[w])

    total = sum(len(h) for h in slow.values())
    rows = [["one-by-one (Speech2Text call per utterance and weight)", total, t_slow, 1.0,
             f"{total}/{total}"],
            ["encode once, 1 process", total, t_once, t_slow / t_once, f"{same(once)}/{total}"],
            [f"encode once, {args.nj} shards", total, t_sharded, t_slow / t_sharded,
             f"{same(sharded)}/{total}"]]  # fmt: skip
    table = common.markdown(["decoding", "hypotheses", "wall s", "speed-up", "identical"], rows)
    common.report(
        "LM decoding of the harness: one-by-one against encode-once",
        table,
        [f"model {model}, LM {lm['model_file']}, weights {args.weights}, beam {args.beam_size}, "
         f"{len(utts)} FSDD test utterances, torch threads {args.threads}"],
    )  # fmt: skip
    if same(once) != total or same(sharded) != total:
        raise SystemExit("decode_speed: the hypotheses differ from the one-by-one path")
    print(f"RATIO {t_slow / t_sharded:.4f}")


if __name__ == "__main__":
    main()
