#!/usr/bin/env python3
"""Cost of one BL-JUST iteration over one unsupervised + one supervised step.

Builds the model, both optimizers and schedulers and both batch streams as
``bljust_train`` does (the tiny conformer on real FSDD batches by default, or
``--config``), then times the trainer's own steps (``StepRunner``) on the
same pairs of batches:

- bljust: ``lower_step`` (unlabeled batch) + ``upper_step`` (labeled batch,
  f + gamma * g; g from ``--upper_unsup_source``, default labeled_shared);
- baseline: ``lower_step`` (same unlabeled batch) + ``supervised_step`` (same
  labeled batch).

The variants are interleaved (their order alternates every repeat) so that
drift from other load on the machine hits both; medians over ``--repeats``
after ``--warmup`` rounds. Ratio = median(bljust) / median(baseline), target
<= 1.10. Extra rows: other ``--sources`` of the upper step's g, and the
amortized cost of the gradient cosine the trainer computes every
``--grad_cosine_interval`` upper steps.

Example:
    python bench/step_cost.py --repeats 20 --threads 1
"""

import time

import common

TARGET = 1.10


def main():
    parser = common.base_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--sources", default="labeled_shared",
                        help="space-separated upper_unsup_source variants to time; "
                        "the first is the one the ratio is for")
    parser.add_argument("--gamma", type=float, default=0.5, help="penalty weight of the upper step")
    parser.add_argument("--grad_cosine_interval", type=int, default=50,
                        help="also time an upper step with grad_cos, amortized over "
                        "this many steps (0: skip)")  # fmt: skip
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    data = common.prepare(args)
    sources = args.sources.split()
    argv = common.bench_argv(args, data, args.work_dir / "step_cost_exp",
                             "--strategy", "bljust", "--upper_unsup_source", sources[0])  # fmt: skip
    runner, labeled, unlabeled = common.build_runner(argv)
    rounds = args.warmup + args.repeats
    pairs = [(next(labeled)[1], next(unlabeled)[1]) for _ in range(rounds)]

    def timed(fn) -> float:
        start = time.perf_counter()
        ok, _ = fn()
        if not ok:
            raise RuntimeError("a benchmarked step was skipped (non-finite gradient)")
        return time.perf_counter() - start

    def upper(lab, unl, source, cosine=False):
        def step():
            runner.options.upper_unsup_source = source  # read by upper_step
            return runner.upper_step(common.once(lab), common.once(unl), args.gamma, 1.0, cosine)

        return step

    names = ["lower", "supervised"] + [f"upper[{s}]" for s in sources]
    if args.grad_cosine_interval > 0:
        names.append("upper+grad_cos")
    times = {name: [] for name in names}
    for i, (lab, unl) in enumerate(pairs):
        jobs = [("lower", lambda: runner.lower_step(common.once(unl))),
                ("supervised", lambda: runner.supervised_step(common.once(lab)))]
        jobs += [(f"upper[{s}]", upper(lab, unl, s)) for s in sources]
        if args.grad_cosine_interval > 0:
            jobs.append(("upper+grad_cos", upper(lab, unl, sources[0], cosine=True)))
        if i % 2:
            jobs.reverse()
        measured = {name: timed(fn) for name, fn in jobs}
        if i >= args.warmup:
            for name, value in measured.items():
                times[name].append(value)
    # Each round times one lower step per variant; pair it with both.
    med = {name: common.median(values) for name, values in times.items()}
    baseline = [lo + su for lo, su in zip(times["lower"], times["supervised"])]
    rows = [["lower step (g, unlabeled)", med["lower"] * 1e3, "", "", ""],
            ["supervised step (f)", med["supervised"] * 1e3, "", "", ""],
            ["baseline: lower + supervised", common.median(baseline) * 1e3, 1.0, "", ""]]  # fmt: skip
    ratio = None
    for k, source in enumerate(sources):
        name = f"upper[{source}]"
        total = [lo + up for lo, up in zip(times["lower"], times[name])]
        paired = common.median([t / b for t, b in zip(total, baseline)])
        value = common.median(total) / common.median(baseline)
        ratio = value if k == 0 else ratio
        rows.append([f"upper step (f + γg, {source})", med[name] * 1e3,
                     med[name] / med["supervised"], "", ""])  # fmt: skip
        rows.append([f"**BL-JUST iteration, {source}** (K=1 lower + 1 upper)",
                     common.median(total) * 1e3, value, f"≤ {TARGET}" if k == 0 else "",
                     common.verdict(value, TARGET) + f" (paired median {paired:.3f})"])  # fmt: skip
    if args.grad_cosine_interval > 0:
        extra = (med["upper+grad_cos"] - med[f"upper[{sources[0]}]"]) / args.grad_cosine_interval
        amortized = (common.median(baseline) * ratio + extra) / common.median(baseline)
        rows.append([f"+ grad_cos every {args.grad_cosine_interval} upper steps (amortized)",
                     extra * 1e3, amortized, f"≤ {TARGET}",
                     common.verdict(amortized, TARGET)])  # fmt: skip
    table = common.markdown(["what", "median ms", "ratio", "target", "verdict"], rows)
    common.report(
        "Step cost: one BL-JUST iteration ÷ (one unsupervised + one supervised step)",
        table,
        [f"{args.repeats} interleaved rounds after {args.warmup} warm-up, "
         f"torch threads {args.threads}, batch {args.batch_size}, same batch pair per round",
         f"model: {args.config.name} {args.model_args}".strip()],
    )  # fmt: skip
    print(f"RATIO {ratio:.4f}")


if __name__ == "__main__":
    main()
