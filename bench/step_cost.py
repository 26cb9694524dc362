#!/usr/bin/env python3
"""Cost of one BL-JUST iteration over the passes it cannot avoid, timed alone.

Builds the model, both optimizers and schedulers and both batch streams as
``bljust_train`` does (the tiny conformer on real FSDD batches by default, or
``--config``), then times the trainer's own steps (``StepRunner``) on the
same batches every round:

- iteration: ``--lower_steps`` K lower steps (each on its unlabeled batch),
  then one ``upper_step`` (f on the labeled batch, gamma * g on a fresh
  unlabeled batch: ``--sources`` unlabeled, the paper's penalty);
- its inherent passes, each timed alone: the same K lower steps, one
  ``supervised_step`` on the labeled batch, and one forward + backward of g
  on the upper step's unlabeled batch (no optimizer step).

Ratio = median(iteration) / (median(K lower) + median(supervised) +
median(g forward/backward)); target <= 1.05. The variants are interleaved
(their order reverses every round) so that other load on the machine hits
all of them; medians over ``--repeats`` after ``--warmup`` rounds. Extra rows:
other ``--sources`` of the upper step's g (labeled_shared rides on the
supervised pass) and the amortized cost of the gradient cosine the trainer
computes every ``--grad_cosine_interval`` upper steps.

Example:
    python bench/step_cost.py --repeats 20 --threads 1
"""

import time

import common

TARGET = 1.05


def main():
    parser = common.base_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--lower_steps", type=int, default=1, help="K lower steps per upper step")
    parser.add_argument("--sources", default="unlabeled",
                        help="space-separated upper_unsup_source variants to time; "
                        "the first is the one the ratio is for")
    parser.add_argument("--gamma", type=float, default=0.5, help="penalty weight of the upper step")
    parser.add_argument("--grad_cosine_interval", type=int, default=50,
                        help="also time an upper step with grad_cos, amortized over "
                        "this many steps (0: skip)")  # fmt: skip
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    load_before = common.load_average()
    data = common.prepare(args)
    sources = args.sources.split()
    argv = common.bench_argv(args, data, args.work_dir / "step_cost_exp",
                             "--strategy", "bljust", "--upper_unsup_source", sources[0])  # fmt: skip
    runner, labeled, unlabeled = common.build_runner(argv)
    k = args.lower_steps
    rounds = [
        dict(lab=next(labeled)[1], lower=[next(unlabeled)[1] for _ in range(k)],
             unl=next(unlabeled)[1])
        for _ in range(args.warmup + args.repeats)
    ]  # fmt: skip

    def lower(r):
        return all(runner.lower_step(common.once(b))[0] for b in r["lower"])

    def unsup_pass(r):
        loss, _, _ = runner.model(**r["unl"], objective="unsupervised")
        loss.backward()
        runner.core.zero_grad(set_to_none=True)
        return True

    def iteration(source, cosine=False):
        def run(r):
            runner.options.upper_unsup_source = source  # read by upper_step
            ok = lower(r)
            up, _ = runner.upper_step(common.once(r["lab"]), common.once(r["unl"]),
                                      args.gamma, 1.0, cosine)  # fmt: skip
            return ok and up

        return run

    jobs = [("lower", lower), ("supervised", lambda r: runner.supervised_step(common.once(r["lab"]))[0]),
            ("g forward/backward", unsup_pass)]  # fmt: skip
    jobs += [(f"iteration[{s}]", iteration(s)) for s in sources]
    if args.grad_cosine_interval > 0:
        jobs.append(("iteration+grad_cos", iteration(sources[0], cosine=True)))
    times = {name: [] for name, _ in jobs}
    for i, r in enumerate(rounds):
        for name, fn in reversed(jobs) if i % 2 else jobs:
            start = time.perf_counter()
            if not fn(r):
                raise RuntimeError(f"{name}: a benchmarked step was skipped (non-finite gradient)")
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)
    med = {name: common.median(values) for name, values in times.items()}
    inherent = med["lower"] + med["supervised"] + med["g forward/backward"]
    per_round = [lo + su + g for lo, su, g in
                 zip(times["lower"], times["supervised"], times["g forward/backward"])]  # fmt: skip
    rows = [[f"{k} lower step(s) (g, unlabeled)", med["lower"] * 1e3, "", "", ""],
            ["supervised step (f)", med["supervised"] * 1e3, "", "", ""],
            ["g forward + backward alone (unlabeled batch)", med["g forward/backward"] * 1e3, "", "", ""],
            ["inherent passes: sum of the three", inherent * 1e3, 1.0, "", ""]]  # fmt: skip
    ratio = None
    for n, source in enumerate(sources):
        name = f"iteration[{source}]"
        value = med[name] / inherent
        paired = common.median([t / b for t, b in zip(times[name], per_round)])
        ratio = value if n == 0 else ratio
        rows.append([f"**BL-JUST iteration, {source}** (K={k} lower + 1 upper)", med[name] * 1e3,
                     value, f"≤ {TARGET}" if n == 0 else "",
                     (common.verdict(value, TARGET) if n == 0 else "")
                     + f" (paired median {paired:.3f})"])  # fmt: skip
    if args.grad_cosine_interval > 0:
        extra = (med["iteration+grad_cos"] - med[f"iteration[{sources[0]}]"]) / args.grad_cosine_interval
        amortized = ratio + extra / inherent
        rows.append([f"+ grad_cos every {args.grad_cosine_interval} upper steps (amortized)",
                     extra * 1e3, amortized, f"≤ {TARGET}", common.verdict(amortized, TARGET)])  # fmt: skip
    table = common.markdown(["what", "median ms", "ratio", "target", "verdict"], rows)
    common.report(
        "Step cost: one BL-JUST iteration ÷ its inherent passes timed alone",
        table,
        [f"{args.repeats} interleaved rounds after {args.warmup} warm-up, "
         f"torch threads {args.threads}, batch {args.batch_size}, same batches per round",
         f"model: {args.config.name} {args.model_args}".strip(),
         f"load average (1, 5, 15 min): {load_before} before, {common.load_average()} after"],
    )  # fmt: skip
    print(f"RATIO {ratio:.4f}")


if __name__ == "__main__":
    main()
