"""What the benchmarks share: the FSDD split, training arguments, a trainer's
step runner on real batches, fresh-process runs, CTC decoding, the tables.

The scripts run as ``python bench/<name>.py`` (this folder is then on
``sys.path``); every one takes ``--help``. The data and run helpers are the
comparison harness's own (``espnet_bljust.experiments``), so a
benchmark trains exactly as the harness does.
"""

import argparse
import os
import shlex
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_bljust.experiments.argv import (  # noqa: F401 (re-exported)
    REPO,
    labeled_data_argv,
    train_argv,
)
from espnet_bljust.conf import TINY_CONFIG, config_path
from espnet_bljust.experiments.rundata import epoch_stats  # noqa: F401 (re-exported)
from espnet_bljust.experiments.runs import ChildRun, run_child  # noqa: F401 (re-exported)
from espnet_bljust.experiments.splits import num_utts, prepare_fsdd  # noqa: F401 (re-exported)

DEFAULT_CONFIG = config_path(TINY_CONFIG)
DEFAULT_FSDD = Path(
    os.environ.get("BLJUST_SHARED_DATA", REPO.parent / "shared" / "data")
) / "fsdd"
# A smaller encoder for quick runs (--model_args "$SMALL_MODEL").
SMALL_MODEL = (
    "--encoder_conf num_blocks=2 --encoder_conf output_size=96 "
    "--encoder_conf linear_units=192"
)


# ----------------------------------------------------------- command line
def base_parser(doc: str) -> argparse.ArgumentParser:
    """Options every benchmark has: data, config, model overrides, threads."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n")[0],
        epilog=doc.split("\n\n", 1)[1] if "\n\n" in doc else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--fsdd", type=Path, default=DEFAULT_FSDD, help="FSDD root")
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/bljust_bench"),
                        help="splits and runs go here")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="training config (model, optimizers, batching)")
    parser.add_argument("--model_args", default="",
                        help="extra bljust_train options (one string), e.g. "
                        f"'{SMALL_MODEL}'")
    parser.add_argument("--labeled_takes", type=int, default=2,
                        help="labeled takes per speaker x digit")
    parser.add_argument("--unlabeled_takes", type=int, default=-1,
                        help="unlabeled takes (<0: the rest of FSDD train)")
    parser.add_argument("--speakers", default=None,
                        help="space-separated FSDD speaker subset (default: all 6)")
    parser.add_argument("--batch_size", type=int, default=16, help="mini-batch size")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (fixed, for stable timings)")
    return parser  # fmt: skip


def prepare(args: argparse.Namespace, unlabeled_takes: Optional[int] = None,
            dev_takes: int = 1, test_takes: int = 1) -> Path:
    """The split the options ask for, under ``--work_dir`` (made once)."""
    takes = args.unlabeled_takes if unlabeled_takes is None else unlabeled_takes
    speakers = args.speakers.split() if args.speakers else None
    name = f"data_l{args.labeled_takes}_u{takes}_d{dev_takes}_t{test_takes}"
    if speakers:
        name += "_" + "-".join(speakers)
    return prepare_fsdd(args.fsdd, args.work_dir / name, args.labeled_takes, takes,
                        dev_takes, test_takes, speakers)  # fmt: skip


def bench_argv(args: argparse.Namespace, data: Path, exp: Path, *extra: str,
               unlabeled: Optional[str] = "train_unlabeled") -> List[str]:
    """bljust_train arguments: config, ``--model_args``, batch size, then ``extra``;
    ``unlabeled``: the data dir the unlabeled stream reads."""
    return train_argv(
        data, exp, args.config, "--seed", "0", "--batch_size", str(args.batch_size),
        *shlex.split(args.model_args), *extra, unlabeled=unlabeled,
    )  # fmt: skip


def command_line() -> str:
    """This benchmark's exact command, for the report."""
    script = os.path.relpath(sys.argv[0], REPO) if sys.argv[0] else "bench/?"
    return "python " + " ".join(shlex.quote(a) for a in [script] + sys.argv[1:])


# ------------------------------------------------------------ in-process
def build_training(argv: Sequence[str], task=None) -> argparse.Namespace:
    """What ``task.main(argv)`` builds before its first epoch, without running it.

    Args:
        argv: the task's command line.
        task: an espnet2 task class (default: ``BLJUSTTask``; ``ASRTask`` for
            espnet2's own).

    Returns:
        a namespace: args, model, optimizers, schedulers, factory (the train
        iterator factory), options (the trainer's), trainer (its class).
    """
    import torch
    from espnet2.tasks.abs_task import scheduler_classes
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
    from espnet2.train.distributed_utils import DistributedOption, resolve_distributed_mode

    if task is None:
        from espnet_bljust.tasks.bljust import BLJUSTTask as task
    args = task.get_parser().parse_args(list(argv))
    resolve_distributed_mode(args)
    args.unused_parameters = True
    set_all_random_seed(args.seed)
    model = task.build_model(args).to(dtype=getattr(torch, args.train_dtype))
    optimizers = task.build_optimizers(args, model)
    schedulers = []
    for suffix, optimizer in zip(("", "2"), optimizers):
        name = getattr(args, f"scheduler{suffix}")
        conf = getattr(args, f"scheduler{suffix}_conf")
        schedulers.append(scheduler_classes[name](optimizer, **conf) if name else None)
    factory = task.build_iter_factory(args, DistributedOption(), "train")
    return argparse.Namespace(
        args=args, model=model, optimizers=optimizers, schedulers=schedulers,
        factory=factory, options=task.trainer.build_options(args), trainer=task.trainer,
    )  # fmt: skip


def build_runner(argv: Sequence[str]):
    """The trainer's step runner on the model, optimizers and streams that
    ``bljust_train`` would build from ``argv``.

    Returns:
        (runner, labeled stream, unlabeled stream): the streams yield
        (ids, batch) with batch["speech"] (B, L) and, labeled,
        batch["text"] (B, U).
    """
    from espnet_bljust.train.step_runner import StepRunner

    t = build_training(argv)
    runner = StepRunner(t.model, t.optimizers, t.schedulers, None, t.options, "cpu")
    t.model.train()
    return runner, t.factory.labeled, t.factory.unlabeled


def train_epoch(t: argparse.Namespace, epoch: int) -> float:
    """One training epoch of ``t`` (from :func:`build_training`) with its
    trainer's own ``train_one_epoch``; returns its wall seconds."""
    import time

    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
    from espnet2.train.distributed_utils import DistributedOption
    from espnet2.train.reporter import Reporter

    reporter = Reporter()
    reporter.set_epoch(epoch)
    set_all_random_seed(t.args.seed + epoch)
    t.model.train()
    start = time.perf_counter()
    with reporter.observe("train") as sub:
        t.trainer.train_one_epoch(
            model=t.model, iterator=t.factory.build_iter(epoch), optimizers=t.optimizers,
            schedulers=t.schedulers, scaler=None, reporter=sub, summary_writer=None,
            options=t.options, distributed_option=DistributedOption(),
        )  # fmt: skip
    return time.perf_counter() - start


def once(batch: dict):
    """A stream that hands out ``batch`` once, as the step runner reads it:
    (utterance ids, batch)."""
    return iter([([f"utt{i}" for i in range(len(batch["speech"]))], batch)])


# --------------------------------------------------------------- decoding
def audio_list(data_dir: Path, limit: Optional[int] = None) -> List[Tuple[str, Path]]:
    """(uid, audio path) of a data dir's wav.scp, the first ``limit``."""
    from espnet_bljust.data.list_checks import read_list

    items = [(uid, Path(path)) for _, uid, path in read_list(Path(data_dir) / "wav.scp")]
    return items[:limit] if limit else items


def ctc_greedy_batch(model, waves: Sequence) -> List[str]:
    """Batched greedy CTC: argmax of ``model.ctc.log_softmax`` on a padded batch.

    Args:
        model: an espnet2 ESPnetASRModel in eval mode (char tokens).
        waves: 1-D float32 arrays (L_i,).

    Returns:
        the transcripts (repeats collapsed, blanks dropped, ``<space>`` -> " ").
    """
    import torch

    lengths = torch.tensor([len(w) for w in waves])
    speech = torch.zeros(len(waves), int(lengths.max()))  # (B, L)
    for i, wave in enumerate(waves):
        speech[i, : len(wave)] = torch.as_tensor(wave)
    with torch.no_grad():
        encoder_out, encoder_lens = model.encode(speech, lengths)  # (B, T, D), (B,)
        best = model.ctc.log_softmax(encoder_out).argmax(-1)  # (B, T)
    texts = []
    for ids, length in zip(best.tolist(), encoder_lens.tolist()):
        tokens, previous = [], None
        for t in ids[:length]:
            if t != previous and t != model.blank_id:
                tokens.append(model.token_list[t])
            previous = t
        texts.append("".join(tokens).replace("<space>", " ").strip())
    return texts


# ------------------------------------------------------------------ tables
def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def load_average() -> str:
    """The machine's load (what ``uptime`` prints), e.g. '3.1 2.8 2.5'."""
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def verdict(value: float, target: float) -> str:
    """'met' when ``value`` <= ``target``."""
    return "met" if value <= target else "NOT met"


def markdown(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A markdown table; floats printed with 3 significant decimals."""

    def cell(v):
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report(title: str, table: str, notes: Sequence[str] = ()) -> str:
    """Print (and return) the title, the table, notes and the exact command."""
    text = f"### {title}\n\n{table}\n\n"
    text += "".join(f"- {n}\n" for n in notes)
    text += f"\ncommand: `{command_line()}`\n"
    print(text, flush=True)
    return text


def epoch_train_seconds(result: dict) -> Dict[int, float]:
    """{epoch: training seconds} (espnet2 reporter 'time' of the train group)
    from a child result whose value holds ``epochs``."""
    return {
        int(e): stats["train"]["time"]
        for e, stats in result["epochs"].items()
        if "time" in stats.get("train", {})
    }


def train_and_read(argv: List[str], exp: str, entry: str = "bljust") -> dict:
    """Child job: train with ``bljust_train`` (``entry="bljust"``) or espnet2's
    ``asr_train`` (``"asr"``); returns the per-epoch reporter stats, the
    process's peak RSS (VmHWM) and peak anonymous RSS while training.
    """
    import time

    import torch

    from espnet_bljust.experiments.runs import AnonPeakSampler, peak_rss_mb

    if entry == "bljust":
        from espnet_bljust.bin.bljust_train import main
    else:
        from espnet2.bin.asr_train import main
    start = time.perf_counter()
    with AnonPeakSampler() as anon:
        try:
            main(argv)
        except SystemExit as e:
            if e.code not in (0, None):
                raise RuntimeError(f"{entry} training exited with {e.code}") from e
    wall = time.perf_counter() - start
    states = torch.load(Path(exp) / "checkpoint.pth", map_location="cpu", weights_only=False)
    return dict(epochs=epoch_stats(states), train_wall_s=wall, train_peak_rss_mb=peak_rss_mb(),
                train_peak_anon_mb=anon.peak_mb,
                malloc_mmap_threshold=os.environ.get("MALLOC_MMAP_THRESHOLD_"))


def run_training(argv: List[str], exp: Path, threads: int, entry: str = "bljust",
                 timeout: Optional[float] = None) -> dict:
    """:func:`train_and_read` in a fresh process; raises with the log's tail on failure."""
    log = Path(exp).parent / f"{Path(exp).name}.log"
    if log.exists():
        log.unlink()
    result = run_child(f"{__name__}:train_and_read",
                       dict(argv=argv, exp=str(exp), entry=entry), log, threads, timeout)  # fmt: skip
    if not result.get("ok"):
        tail = log.read_text(errors="replace").splitlines()[-25:] if log.exists() else []
        raise RuntimeError(f"training in {exp} failed: {result.get('error')}\n" + "\n".join(tail))
    out = dict(result["value"])
    out["epochs"] = {int(e): stats for e, stats in out["epochs"].items()}  # JSON keys
    out.update(start_rss_mb=result["start_rss_mb"], peak_rss_mb=result["peak_rss_mb"])
    return out


def strategy_phases(strategy: str, ticks: int) -> List[str]:
    """Phase options of a short run: bljust and just stay in the joint phase
    (K lower steps + 1 upper step per tick, the most a tick computes), pt_ft
    explores for half of the ticks, supervised only fine-tunes."""
    return {
        "supervised": [],
        "pt_ft": ["--exploration_len", str(max(1, ticks // 2))],
        "just": ["--exploration_len", "0", "--finetune_len", "0"],
        "bljust": ["--exploration_len", "0", "--finetune_len", "0"],
    }[strategy]


def interleaved_trainings(args: argparse.Namespace, name: str) -> Dict[str, List[dict]]:
    """``args.repeats`` short ``bljust_train`` runs (``args.ticks`` ticks) of
    each of ``args.strategies``, each in a fresh process, the strategies'
    order reversed every repeat; the unlabeled stream reads the labeled audio
    when ``args.same_audio``.

    Args:
        name: prefix of the run folders under ``--work_dir``.

    Returns:
        {strategy: [:func:`run_training` result per repeat]}, in the order of
        ``args.strategies``
    """
    data = prepare(args)
    strategies, ticks, same_audio = args.strategies.split(), args.ticks, bool(args.same_audio)
    results = {s: [] for s in strategies}
    for repeat in range(args.repeats):
        for strategy in strategies if repeat % 2 == 0 else strategies[::-1]:
            exp = args.work_dir / f"{name}_{strategy}_{repeat}"
            argv = bench_argv(
                args, data, exp, "--strategy", strategy, "--max_epoch", "1",
                "--num_iters_per_epoch", str(ticks), "--phase_unit", "tick",
                "--keep_last_checkpoints", "0", *strategy_phases(strategy, ticks),
                unlabeled="train_labeled" if same_audio else "train_unlabeled",
            )
            results[strategy].append(run_training(argv, exp, args.threads))
    return results  # fmt: skip

