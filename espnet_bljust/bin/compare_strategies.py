#!/usr/bin/env python3
"""Compare BL-JUST with its baselines on one FSDD split at an equal step budget.

(Or on any prepared split, ``--data_dir``: e.g. the demo recipe's ``data/``.)

For every ``--labeled_takes`` (1, 2, 5 takes per speaker and digit = 60, 120,
300 labeled utterances; the rest of FSDD train is the unlabeled set; dev and
test are the official FSDD takes 5-9 and 0-4), every strategy and every seed:

1. train with ``espnet_bljust.bin.bljust_train`` on the same model config and
   the same number of ticks (``--max_epoch`` x ``--num_iters_per_epoch``,
   ``--phase_unit step``); the phases of the strategies that have them are the
   same: exploration ``--exploration_frac`` of the ticks (pt_ft pre-trains for
   exactly that long), fine-tune ``--finetune_frac`` (just, bljust);
2. pick the checkpoint on dev only (espnet2's ``valid.cer_ctc.best.pth``);
3. decode test with espnet2's ``Speech2Text`` (CTC, ``--beam_size`` 1 =
   greedy-like, ``ctc_weight`` 1) and score WER/CER;
4. with ``--lm_config``: train one espnet2 LM per split on its labeled
   transcripts (:mod:`espnet_bljust.recipe.text_lm`; a job beside the first
   training runs), decode dev once per ``--lm_weights`` with CTC + LM (beam
   ``--lm_beam_size``; the grid doubled on dev up to ``--lm_weight_max``
   while its largest weight is the best), and test with the weight of the
   lowest dev WER. A finished run is reused and only decoded with the LM.

Each run is a fresh process (forked from a server that imported the training
and decoding modules once, so no run pays for the imports); its training wall
time and peak resident memory (``VmHWM``) are measured there. Outputs under
``--out_dir``: ``results.md`` (mean +- std over seeds, updates from the
bilevel counters, time, memory), ``RESULTS.md`` (the same with the exact
command and versions), ``results.json``, PNG plots (dev CER vs ticks per
strategy; loss_sup / loss_unsup / gamma of bljust; WER vs labeled
utterances when several ``--labeled_takes`` are given) and one folder per run.

Example:
    python -m espnet_bljust.bin.compare_strategies --fsdd ../shared/data/fsdd \
        --out_dir exp/compare --strategies "supervised pt_ft just bljust" \
        --seeds "1 2 3" --labeled_takes 2 --max_epoch 12 --num_iters_per_epoch 25
"""

import argparse
import importlib
import json
import math
import multiprocessing
import os
import shlex
import signal
import statistics
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

STRATEGY_ORDER = ("supervised", "pt_ft", "just", "bljust")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "conf" / "train_bljust_conformer_tiny.yaml"
# Imported once by the fork server; every child run starts from there.
PRELOAD = (
    "espnet_bljust.bin.compare_strategies",
    "espnet_bljust.bin.bljust_train",
    "espnet2.bin.asr_inference",
)


# A forkserver child re-imports the main module by name; when that is this
# module (python -m ...), runpy warns that it is already imported. Harmless.
warnings.filterwarnings(
    "ignore", message=".*found in sys.modules after import of package",
    category=RuntimeWarning,
)


# ------------------------------------------------------------------ memory
def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def current_rss_mb() -> float:
    """Resident memory of this process now (VmRSS), MiB."""
    return _proc_status_kb("VmRSS") / 1024.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (VmHWM), MiB."""
    return _proc_status_kb("VmHWM") / 1024.0


class AnonPeakSampler:
    """Largest anonymous resident memory (RssAnon: heap, tensors) seen while
    running, sampled every ``interval`` seconds by a daemon thread.

    VmHWM also counts the file-backed pages of the shared libraries that
    happen to be resident, which varies from run to run by tens of MiB;
    RssAnon is what the training itself allocates. Use as a context manager;
    ``peak_mb`` holds the result.
    """

    def __init__(self, interval: float = 0.005):
        import threading

        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.peak_mb = max(self.peak_mb, _proc_status_kb("RssAnon") / 1024.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "AnonPeakSampler":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# ------------------------------------------------------------ child runs
_CONTEXT = None


def _context(preload: Sequence[str] = PRELOAD):
    """The forkserver context (started on first use, with ``preload`` imported)."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(list(preload))
    return _CONTEXT


def _child_entry(target: str, kwargs: dict, log_path: str, result_path: str, threads: int):
    """Run ``module:function(**kwargs)`` with stdout/stderr into ``log_path``;
    write {ok, value, error, wall_s, start_rss_mb, peak_rss_mb} to ``result_path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    result = dict(ok=False, value=None, error=None, start_rss_mb=current_rss_mb())
    start = time.perf_counter()
    try:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        module, name = target.split(":")
        value = getattr(importlib.import_module(module), name)(**kwargs)
        result.update(ok=True, value=value)
    except SystemExit as e:  # an espnet2 main() that exits
        result["ok"] = e.code in (0, None)
        if not result["ok"]:
            result["error"] = f"SystemExit({e.code})"
    except BaseException as e:  # report, never hang the parent
        traceback.print_exc()
        result["error"] = f"{type(e).__name__}: {e}"
    result.update(wall_s=time.perf_counter() - start, peak_rss_mb=peak_rss_mb())
    sys.stdout.flush()
    sys.stderr.flush()
    tmp = result_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, default=str)
    os.replace(tmp, result_path)


class ChildRun:
    """One function run in a fresh process forked from the preloaded server.

    Args:
        target: ``"package.module:function"``; called with ``**kwargs``; must
            return something JSON can write.
        kwargs: its keyword arguments (picklable).
        log_path: file that gets the child's stdout and stderr.
        threads: ``torch.set_num_threads`` in the child (0: leave it).
    """

    def __init__(self, target: str, kwargs: dict, log_path: Path, threads: int = 1):
        self.log_path = Path(log_path)
        self.result_path = self.log_path.with_suffix(".result.json")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.result_path.exists():
            self.result_path.unlink()
        self.process = _context().Process(
            target=_child_entry,
            args=(target, kwargs, str(self.log_path), str(self.result_path), threads),
        )

    def start(self) -> "ChildRun":
        self.process.start()
        return self

    def done(self) -> bool:
        return not self.process.is_alive()

    def stop(self) -> None:
        """Kill the child if it still runs (the harness is being stopped)."""
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def result(self, timeout: Optional[float] = None) -> dict:
        """Wait for the child; its result dict (``ok`` False when it died)."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
            return dict(ok=False, error=f"timed out after {timeout} s")
        if not self.result_path.exists():
            return dict(
                ok=False, error=f"child died with exit code {self.process.exitcode}"
            )
        return json.loads(self.result_path.read_text(encoding="utf-8"))


def run_child(target: str, kwargs: dict, log_path: Path, threads: int = 1,
              timeout: Optional[float] = None) -> dict:
    """Start a :class:`ChildRun` and wait for its result."""
    return ChildRun(target, kwargs, log_path, threads).start().result(timeout)


# ---------------------------------------------------------------- the data
def prepare_fsdd(
    fsdd: Path,
    out: Path,
    labeled_takes: int = 2,
    unlabeled_takes: int = -1,
    dev_takes: int = 5,
    test_takes: int = 5,
    speakers: Optional[Sequence[str]] = None,
) -> Path:
    """An FSDD split with shapes and a char token list (made once, then reused).

    Returns ``out`` holding train_labeled/, train_unlabeled/, dev/, test/ and
    tokens.txt (from the labeled text only).
    """
    from espnet_bljust.corpora.fsdd import make_fsdd_split
    from espnet_bljust.data.kaldi_lists import write_token_list_and_shapes

    out = Path(out)
    plan = dict(fsdd=str(Path(fsdd).resolve()), labeled_takes=labeled_takes,
                unlabeled_takes=unlabeled_takes, dev_takes=dev_takes,
                test_takes=test_takes, speakers=list(speakers) if speakers else None)  # fmt: skip
    stamp = out / "split.json"
    if stamp.exists() and json.loads(stamp.read_text()) == plan:
        return out
    dirs = make_fsdd_split(fsdd, out, labeled_takes, unlabeled_takes, dev_takes,
                           test_takes, speakers=speakers)  # fmt: skip
    write_token_list_and_shapes(
        dirs["train_labeled"] / "text", out / "tokens.txt", dirs.values()
    )
    stamp.write_text(json.dumps(plan, indent=1))
    return out


SPLIT_SETS = ("train_labeled", "train_unlabeled", "dev", "test")


def prepare_split_dir(src: Path, out: Path) -> Path:
    """A prepared split (e.g. a recipe's ``data/`` or ``dump/raw/``) for the harness.

    ``src`` holds Kaldi dirs train_labeled/, train_unlabeled/ (wav.scp only is
    enough), dev/ and test/. Their lists are copied into ``out`` with relative
    wav.scp paths made absolute (against ``src/<set>``), shape files and a char
    token list from the labeled text only are written (once; reused while the
    lists are unchanged). Returns ``out``.
    """
    from espnet_bljust.data.kaldi_lists import write_token_list_and_shapes

    src, out = Path(src).resolve(), Path(out)
    missing = [s for s in SPLIT_SETS if not (src / s / "wav.scp").is_file()]
    missing += [f"{s}/text" for s in SPLIT_SETS if s != "train_unlabeled"
                and not (src / s / "text").is_file()]  # fmt: skip
    if missing:
        raise SystemExit(f"compare_strategies: {src} lacks {', '.join(missing)} "
                         f"(a split needs {', '.join(SPLIT_SETS)})")  # fmt: skip
    lists = {}
    for name in SPLIT_SETS:
        entries = []
        for line in (src / name / "wav.scp").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            uid, path = line.split(maxsplit=1)
            if not path.rstrip().endswith("|") and not Path(path).is_absolute():
                path = str(src / name / path)
            entries.append(f"{uid} {path}\n")
        lists[name] = {"wav.scp": "".join(entries)}
        if (src / name / "text").is_file():
            lists[name]["text"] = (src / name / "text").read_text(encoding="utf-8")
    stamp = out / "split.json"
    if stamp.exists() and json.loads(stamp.read_text()) == lists:
        return out
    for name, files in lists.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        for file, content in files.items():
            (out / name / file).write_text(content, encoding="utf-8")
    write_token_list_and_shapes(
        out / "train_labeled" / "text", out / "tokens.txt", [out / s for s in SPLIT_SETS]
    )
    stamp.write_text(json.dumps(lists))
    return out


def num_utts(data_dir: Path) -> int:
    with open(Path(data_dir) / "wav.scp", encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def train_argv(
    data: Path,
    output_dir: Path,
    config: Path = DEFAULT_CONFIG,
    *extra: str,
    valid: str = "dev",
    unlabeled: Optional[str] = "train_unlabeled",
) -> List[str]:
    """bljust_train arguments: ``config`` on a split made by :func:`prepare_fsdd`.

    ``valid`` and ``unlabeled`` name the data dirs of those streams
    (``unlabeled=None``: no unlabeled stream). ``extra``
    comes last, so it overrides anything before it (list options append).
    """
    argv = [
        "--config", str(config), "--ngpu", "0",
        "--token_list", str(Path(data) / "tokens.txt"), "--token_type", "char",
        "--output_dir", str(output_dir),
        "--use_tensorboard", "false", "--use_matplotlib", "false",
        "--fold_length", "80000", "--fold_length", "150",
    ]  # fmt: skip
    argv += labeled_data_argv(data, valid)
    if unlabeled is not None:
        argv += [
            "--unlabeled_data_path_and_name_and_type",
            f"{Path(data) / unlabeled / 'wav.scp'},speech,sound",
            "--unlabeled_shape_file", str(Path(data) / unlabeled / "speech_shape"),
        ]  # fmt: skip
    return argv + list(extra)


def labeled_data_argv(data: Path, valid: str = "dev") -> List[str]:
    """The train/valid list options (the ones espnet2's asr_train takes too)."""
    argv = []
    for name, stream in (("train", "train_labeled"), ("valid", valid)):
        d = Path(data) / stream
        argv += [
            f"--{name}_data_path_and_name_and_type", f"{d / 'wav.scp'},speech,sound",
            f"--{name}_data_path_and_name_and_type", f"{d / 'text'},text,text",
            f"--{name}_shape_file", str(d / "speech_shape"),
            f"--{name}_shape_file", str(d / "text_shape"),
        ]  # fmt: skip
    return argv


def strategy_argv(
    strategy: str, total_ticks: int, exploration_frac: float, finetune_frac: float,
    lower_steps_per_upper: int = 1,
) -> List[str]:
    """Phase options (in ticks) of one strategy under the shared plan.

    exploration = round(exploration_frac * total) ticks for pt_ft, just and
    bljust (at least 1 for pt_ft); fine-tune = round(finetune_frac * total)
    for just and bljust; supervised has neither.
    """
    n1 = int(round(exploration_frac * total_ticks))
    n3 = int(round(finetune_frac * total_ticks))
    argv = ["--strategy", strategy, "--phase_unit", "step"]
    if strategy == "supervised":
        return argv
    if strategy == "pt_ft":
        return argv + ["--exploration_len", str(max(1, n1)), "--finetune_len", "0"]
    argv += ["--exploration_len", str(n1), "--joint_len", "-1", "--finetune_len", str(n3)]
    if strategy == "bljust":
        argv += ["--lower_steps_per_upper", str(lower_steps_per_upper)]
    return argv


def planned_steps(
    strategy: str, total_ticks: int, exploration_frac: float, finetune_frac: float,
    lower_steps_per_upper: int = 1,
) -> int:
    """Optimizer steps (lower + upper) a run of ``strategy`` takes under the
    plan of :func:`strategy_argv`: every tick is one step, and each bljust
    joint tick adds ``lower_steps_per_upper`` lower steps. The harness's
    measure of a run's cost (steps take about the same time)."""
    if strategy != "bljust":
        return total_ticks
    n1 = int(round(exploration_frac * total_ticks))
    n3 = int(round(finetune_frac * total_ticks))
    return total_ticks + lower_steps_per_upper * max(0, total_ticks - n1 - n3)


# ------------------------------------------------------- reading a run back
def _number(value) -> Optional[float]:
    import datetime

    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def epoch_stats(states: dict) -> Dict[int, Dict[str, Dict[str, float]]]:
    """Per-epoch reporter means from a checkpoint.pth dict.

    Returns:
        {epoch: {"train": {key: value}, "valid": {...}}}; timedeltas become
        seconds, non-finite or non-numeric values are left out.
    """
    from espnet2.train.reporter import Reporter

    reporter = Reporter()
    reporter.load_state_dict(states["reporter"])
    out: Dict[int, Dict[str, Dict[str, float]]] = {}
    for epoch, groups in reporter.stats.items():
        for group, stats in groups.items():
            values = {k: _number(v) for k, v in stats.items()}
            out.setdefault(int(epoch), {})[group] = {
                k: v for k, v in values.items() if v is not None
            }
    return out


def bilevel_counters(states: dict) -> Dict[str, int]:
    """ticks, lower_steps, upper_steps, skipped_steps from bilevel_state.*"""
    model = states["model"]
    return {
        key: int(model[f"bilevel_state.{key}"])
        for key in ("ticks", "lower_steps", "upper_steps", "skipped_steps")
    }


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


def lm_decode(
    exp: str, data: str, lm: Dict[str, str], weights: Sequence[float], beam_size: int = 10,
    average_nbest: int = 1, test_set: str = "test", valid_set: str = "dev",
    max_weight: Optional[float] = None, previous: Optional[dict] = None,
) -> dict:
    """Decode one trained run again with the LM fused; the weight picked on dev.

    The best dev checkpoint decodes ``valid_set`` once per weight in
    ``weights`` (CTC + ``weight`` x LM, beam ``beam_size``); while the lowest
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


def train_and_decode(
    argv: List[str], exp: str, data: str, test_set: str = "test", beam_size: int = 1,
    average_nbest: int = 1,
) -> dict:
    """Child job of one run: train, measure, pick on dev, decode and score test.

    test_wer/test_cer score the single best dev checkpoint; with
    ``average_nbest`` > 1 (and the run trained with ``--keep_nbest_models``
    that large) test_wer_ave/test_cer_ave score espnet2's average of the
    ``average_nbest`` best dev checkpoints as well. (Decoding with an LM:
    :func:`lm_decode`, the harness's next job for the run.)
    """
    import torch

    from espnet_bljust.bin import bljust_train

    exp = Path(exp)
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


# ------------------------------------------------------------- the table
def mean_std(values: Sequence[float]) -> str:
    """'m ± s' (sample std over seeds), or 'm' for a single value."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {statistics.stdev(values):.1f}"


def best_dev_cer(epochs: Dict) -> Optional[float]:
    """Lowest valid cer_ctc over the epochs, percent."""
    values = [e["valid"]["cer_ctc"] for e in epochs.values() if "cer_ctc" in e.get("valid", {})]
    return 100.0 * min(values) if values else None


def results_table(runs: List[dict]) -> str:
    """Markdown: one row per (labeled set, strategy), mean ± std over seeds.

    test WER/CER: the single best dev checkpoint; where the runs were also
    decoded with the average of the n best dev checkpoints (``--average_nbest``)
    two more columns give those, and where they were decoded with an LM
    (``--lm_config``) the LM's WER/CER (best checkpoint; n-best average) and
    the LM weights dev chose (per seed). train loop: the epochs' training time
    (espnet2 reporter, no validation); train wall: the whole bljust_train call
    (data checks, model build, validation, checkpoints); peak RSS: VmHWM of
    the run's process after training (the largest over seeds).
    """
    done = [r for r in runs if r.get("ok")]
    averaged = any("test_wer_ave" in r for r in done)
    with_lm = any("test_wer_lm" in r for r in done)
    # (header, cell of the runs that finished)
    columns = [("test WER (%)", lambda ok: mean_std([r["test_wer"] for r in ok])),
               ("test CER (%)", lambda ok: mean_std([r["test_cer"] for r in ok]))]
    if averaged:
        columns += [
            ("test WER, n-best average (%)", lambda ok: mean_std([r.get("test_wer_ave") for r in ok])),
            ("test CER, n-best average (%)", lambda ok: mean_std([r.get("test_cer_ave") for r in ok])),
        ]  # fmt: skip
    if with_lm:
        columns += [
            ("test WER, LM (%)", lambda ok: mean_std([r.get("test_wer_lm") for r in ok])),
            ("test CER, LM (%)", lambda ok: mean_std([r.get("test_cer_lm") for r in ok])),
        ]
        if averaged:
            columns.append(("test WER, LM, n-best average (%)",
                            lambda ok: mean_std([r.get("test_wer_lm_ave") for r in ok])))
        columns.append(("LM weight (dev)", lambda ok: "/".join(
            f"{r['lm_weight']:g}" if "lm_weight" in r else "–" for r in ok)))
    columns += [
        ("best dev CER (%)", lambda ok: mean_std([best_dev_cer(r["epochs"]) for r in ok])),
        ("ticks", lambda ok: _same(r["ticks"] for r in ok)),
        ("lower updates", lambda ok: _same(r["lower_steps"] for r in ok)),
        ("upper updates", lambda ok: _same(r["upper_steps"] for r in ok)),
        ("train loop (s)", lambda ok: mean_std([r["train_loop_s"] for r in ok])),
        ("train wall (s)", lambda ok: mean_std([r["train_wall_s"] for r in ok])),
        ("peak RSS (MiB)", lambda ok: f"{max(r['train_peak_rss_mb'] for r in ok):.0f}"),
    ]
    header = ("| labeled utts | strategy | seeds | " + " | ".join(c[0] for c in columns)
              + " |\n|" + "---|" * (3 + len(columns)) + "\n")  # fmt: skip
    rows = []
    for (labeled, strategy), group in _groups(runs).items():
        ok = [r for r in group if r.get("ok")]
        if not ok:
            rows.append(f"| {labeled} | {strategy} | 0/{len(group)} (failed) |"
                        + " – |" * len(columns))  # fmt: skip
            continue
        rows.append(f"| {labeled} | {strategy} | {len(ok)} | "
                    + " | ".join(cell(ok) for _, cell in columns) + " |")  # fmt: skip
    return header + "\n".join(rows) + "\n"


GOALS = (("pt_ft", 0.85), ("supervised", 0.7))
SELECTIONS = (
    ("test_wer", "best dev checkpoint"), ("test_wer_ave", "n-best average"),
    ("test_wer_lm", "best dev checkpoint + LM"), ("test_wer_lm_ave", "n-best average + LM"),
)


def paired_difference(diffs: Sequence[float]) -> str:
    """'mean ± std WER points (paired t = .., p = ..)' of per-seed differences.

    p is two-sided, from Student's t with n - 1 degrees of freedom; with
    fewer than two seeds, or no spread, only the mean is given.
    """
    mean = statistics.fmean(diffs)
    if len(diffs) < 2 or statistics.stdev(diffs) == 0:
        return f"{mean:+.1f} WER points"
    from scipy import stats as scipy_stats

    std = statistics.stdev(diffs)
    t = mean / (std / math.sqrt(len(diffs)))
    p = 2 * scipy_stats.t.sf(abs(t), df=len(diffs) - 1)
    return f"{mean:+.1f} ± {std:.1f} WER points (paired t = {t:.2f}, p = {p:.3f})"


def goal_lines(runs: List[dict]) -> str:
    """BL-JUST test WER over PT+FT and over supervised, against the issue's goal.

    One line per (labeled set, checkpoint selection, baseline): the ratio of
    the mean WERs, then the per-seed paired difference (BL-JUST minus the
    baseline, on the seeds both finished) with a paired t-test, and on how
    many of those seeds BL-JUST was better.
    """
    lines = []
    groups = _groups(runs)
    for labeled in sorted({k[0] for k in groups}):
        for key, selection in SELECTIONS:
            by_seed = {
                strategy: {r["seed"]: r[key] for r in groups.get((labeled, strategy), [])
                           if r.get("ok") and r.get(key) is not None}
                for strategy in STRATEGY_ORDER
            }  # fmt: skip
            bl = by_seed["bljust"]
            if not bl:
                continue
            ours = statistics.fmean(bl.values())
            for base, target in GOALS:
                theirs = statistics.fmean(by_seed[base].values()) if by_seed[base] else 0.0
                if theirs <= 0:
                    continue
                ratio = ours / theirs
                seeds = sorted(set(bl) & set(by_seed[base]))
                diffs = [bl[s] - by_seed[base][s] for s in seeds]
                paired = ""
                if diffs:
                    won = sum(d < 0 for d in diffs)
                    paired = (f"; per seed BL-JUST - {base} = {paired_difference(diffs)}, "
                              f"better on {won} of {len(diffs)} seeds")  # fmt: skip
                lines.append(
                    f"- {labeled} labeled, {selection}: BL-JUST WER / {base} WER = "
                    f"{ours:.1f} / {theirs:.1f} = {ratio:.2f} "
                    f"(goal ≤ {target}: {'met' if ratio <= target else 'not met'}){paired}"
                )
    return "\n".join(lines) + ("\n" if lines else "")


def _same(values: Iterable[int]) -> str:
    values = sorted(set(values))
    return str(values[0]) if len(values) == 1 else "/".join(map(str, values))


def _groups(runs: List[dict]) -> Dict:
    groups: Dict = {}
    for run in sorted(runs, key=lambda r: (r["labeled"], STRATEGY_ORDER.index(r["strategy"]))):
        groups.setdefault((run["labeled"], run["strategy"]), []).append(run)
    return groups


# --------------------------------------------------------------- the CLI
def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fsdd", type=Path, help="FSDD root (recordings/): splits made here")
    source.add_argument("--data_dir", type=Path,
                        help="a prepared split instead: Kaldi dirs train_labeled, "
                        "train_unlabeled, dev, test (e.g. egs2/demo/bljust1/data); "
                        "--labeled_takes and the other FSDD options are then unused")  # fmt: skip
    parser.add_argument("--out_dir", type=Path, required=True, help="output folder")
    parser.add_argument("--strategies", default="supervised pt_ft just bljust",
                        help="space-separated strategies to train")
    parser.add_argument("--seeds", default="1", help="space-separated seeds")
    parser.add_argument("--labeled_takes", default="2",
                        help="space-separated labeled takes per speaker x digit "
                        "(1, 2, 5 = 60, 120, 300 utts with all speakers)")
    parser.add_argument("--unlabeled_takes", type=int, default=-1,
                        help="unlabeled takes after the labeled ones (<0: the rest of train)")
    parser.add_argument("--dev_takes", type=int, default=5)
    parser.add_argument("--test_takes", type=int, default=5)
    parser.add_argument("--speakers", default=None,
                        help="space-separated FSDD speaker subset (default: all 6)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="training config shared by every strategy")
    parser.add_argument("--max_epoch", type=int, default=12,
                        help="epochs (one validation and one checkpoint each)")
    parser.add_argument("--num_iters_per_epoch", type=int, default=25,
                        help="ticks per epoch; the budget is max_epoch x this")
    parser.add_argument("--exploration_frac", type=float, default=0.2,
                        help="share of the ticks spent exploring (pt_ft, just, bljust)")
    parser.add_argument("--finetune_frac", type=float, default=0.1,
                        help="share of the ticks spent fine-tuning at the end (just, bljust)")
    parser.add_argument("--lower_steps_per_upper", type=int, default=1, help="K of bljust")
    parser.add_argument("--train_args", default="",
                        help="extra bljust_train options for every run (one string)")
    parser.add_argument("--beam_size", type=int, default=1, help="CTC decoding beam")
    parser.add_argument("--average_nbest", type=int, default=1,
                        help="also decode test with the average of this many best dev "
                        "checkpoints (espnet2's valid.cer_ctc.ave_<n>best.pth; trains with "
                        "--keep_nbest_models n); 1: the single best only")
    parser.add_argument("--lm_config", type=Path, default=None,
                        help="also decode with a token LM trained (espnet2 lm_train, this "
                        "config) on each split's labeled transcripts, fused with CTC; "
                        "e.g. egs2/fsdd/bljust1/conf/train_lm.yaml")
    parser.add_argument("--lm_weights", default="0.5 1 2 4",
                        help="LM weights tried on dev per run (the best dev WER decodes test)")
    parser.add_argument("--lm_weight_max", type=float, default=None,
                        help="while a run's best dev weight is the largest tried, try twice "
                        "that on dev too, up to this (default: the --lm_weights grid only)")
    parser.add_argument("--lm_beam_size", type=int, default=10,
                        help="beam of the decoding with the LM")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per run")
    parser.add_argument("--rerun", action="store_true",
                        help="train again even where a finished run with the same options exists")
    parser.add_argument("--no_plots", action="store_true", help="skip the PNG plots")
    return parser  # fmt: skip


def plan_runs(args: argparse.Namespace) -> List[dict]:
    """One dict per (labeled takes, seed, strategy): its argv and folders."""
    strategies = args.strategies.split()
    unknown = [s for s in strategies if s not in STRATEGY_ORDER]
    if unknown or not strategies:
        raise SystemExit(f"compare_strategies: unknown strategies {unknown}; "
                         f"choose from {' '.join(STRATEGY_ORDER)}")  # fmt: skip
    seeds = [int(s) for s in args.seeds.split()]
    total = args.max_epoch * args.num_iters_per_epoch
    speakers = args.speakers.split() if args.speakers else None
    runs = []
    if args.data_dir is not None:
        splits = [prepare_split_dir(args.data_dir, args.out_dir / "data")]
    else:
        splits = (prepare_fsdd(args.fsdd, args.out_dir / f"data_l{takes}", takes,
                               args.unlabeled_takes, args.dev_takes, args.test_takes,
                               speakers)
                  for takes in (int(t) for t in args.labeled_takes.split()))  # fmt: skip
    # seed-major: a comparison stopped part-way holds whole seeds; within a seed
    # the costliest run first, so that the last runs of two or more jobs end
    # close together (simulated with measured run times: bljust last left one
    # core idle for ~4 of ~61 min)
    by_cost = sorted(strategies, key=lambda s: -planned_steps(
        s, total, args.exploration_frac, args.finetune_frac, args.lower_steps_per_upper))
    for data in splits:
        labeled = num_utts(data / "train_labeled")
        for seed in seeds:
            for strategy in by_cost:
                exp = args.out_dir / f"l{labeled}" / f"{strategy}_seed{seed}"
                argv = train_argv(
                    data, exp, args.config,
                    "--seed", str(seed), "--max_epoch", str(args.max_epoch),
                    "--num_iters_per_epoch", str(args.num_iters_per_epoch),
                    *strategy_argv(strategy, total, args.exploration_frac,
                                   args.finetune_frac, args.lower_steps_per_upper),
                    *(["--keep_nbest_models", str(args.average_nbest)]
                      if args.average_nbest > 1 else []),
                    *shlex.split(args.train_args),
                )  # fmt: skip
                runs.append(dict(labeled=labeled, unlabeled=num_utts(data / "train_unlabeled"),
                                 strategy=strategy, seed=seed, exp=str(exp), data=str(data),
                                 argv=argv))  # fmt: skip
    return runs


def execute(runs: List[dict], args: argparse.Namespace,
            lm_plan: Optional[Dict[str, dict]] = None) -> List[dict]:  # fmt: skip
    """Run (or reuse) every planned run, ``--jobs`` at a time; results in place.

    ``lm_plan`` (:func:`plan_lms`, from ``--lm_config``): {data dir: the LM to
    train on it}. The LMs are trained first, as jobs beside the first runs
    (they take a minute, a run several); every run on that data is then
    decoded with its LM in a job of its own once both are done, and a reused
    run that has no LM decoding with these options gets only that.
    """
    lm_plan = lm_plan or {}
    pending: List[tuple] = [(data, "lm_train") for data in lm_plan]
    for run in runs:
        saved = Path(run["exp"]) / "run.json"
        if not args.rerun and saved.exists():
            old = json.loads(saved.read_text())
            if old.get("argv") == run["argv"] and old.get("ok"):
                run.update(old)
                print(f"[reuse] {run['exp']}", flush=True)
                if run["data"] in lm_plan:
                    pending.append((run, "lm"))
                continue
        pending.append((run, "train"))
    active: List = []
    try:
        _run_pending(pending, active, args, lm_plan, {})
    finally:  # stopped (Ctrl-C, SIGTERM, an error): no child run outlives the harness
        for item, kind, child, _ in active:
            child.stop()
            what = (f"LM on {item}" if kind == "lm_train"
                    else f"{item['strategy']} seed {item['seed']}")  # fmt: skip
            print(f"[stopped] {what} ({kind}, pid {child.process.pid}): started again by the "
                  "next call", flush=True)  # fmt: skip
    return runs


def _run_pending(pending: List, active: List, args: argparse.Namespace,
                 lm_plan: Dict[str, dict], lm_by_data: Dict[str, dict]) -> None:  # fmt: skip
    """:func:`execute`'s loop: start children up to ``--jobs``, collect them.

    ``pending``: (run, "train" | "lm") or (data dir, "lm_train"); an "lm" job
    waits for its data's LM (``lm_by_data``, filled as the LMs finish)."""
    while pending or active:
        while len(active) < max(1, args.jobs):
            ready = [p for p in pending if p[1] != "lm" or p[0]["data"] in lm_by_data]
            if not ready:
                break
            pending.remove(ready[0])
            child = _start(*ready[0], args, lm_plan, lm_by_data)
            if child is not None:
                active.append((*ready[0], child, time.monotonic()))
        time.sleep(0.5)
        now = time.monotonic()
        for entry in [a for a in active
                      if a[2].done() or (args.timeout and now - a[3] > args.timeout)]:  # fmt: skip
            active.remove(entry)
            item, kind, child, _ = entry
            result = child.result(timeout=None if child.done() else 0)
            if kind == "lm_train":
                lm_by_data[item] = _finish_lm_train(item, result, lm_plan[item])
            elif kind == "train":
                _finish(item, result)
                if item["ok"] and item["data"] in lm_plan:  # next: its LM decoding
                    pending.insert(0, (item, "lm"))
            else:
                _finish_lm(item, result)


def _start(item, kind: str, args: argparse.Namespace, lm_plan: Dict[str, dict],
           lm_by_data: Dict[str, dict]) -> Optional[ChildRun]:  # fmt: skip
    """The child process of one pending job, started; None when an "lm" job
    finds the run already decoded with this LM and these options."""
    if kind == "lm_train":
        plan = lm_plan[item]
        child = ChildRun("espnet_bljust.recipe.text_lm:train_text_lm", plan["kwargs"],
                         plan["log"], args.threads).start()  # fmt: skip
        print(f"[lm] training {plan['kwargs']['config']} on {plan['kwargs']['train_text']} -> "
              f"{plan['kwargs']['out_dir']} (log {plan['log']}, pid {child.process.pid})",
              flush=True)  # fmt: skip
        return child
    run, name = item, Path(item["exp"]).name
    if kind == "train":
        if Path(run["exp"]).exists():  # a half run from before: start clean
            import shutil

            shutil.rmtree(run["exp"])
        kwargs = dict(argv=run["argv"], exp=run["exp"], data=run["data"],
                      beam_size=args.beam_size, average_nbest=args.average_nbest)  # fmt: skip
        target, log = "train_and_decode", Path(run["exp"]).parent / f"{name}.log"
    else:
        lm = lm_by_data[run["data"]]
        key = lm_key(**lm)
        if run.get("lm_key") == key:
            print(f"[reuse] {run['exp']}: decoded with this LM before", flush=True)
            return None
        kwargs = dict(exp=run["exp"], data=run["data"], average_nbest=args.average_nbest, **lm)
        if same_lm_decoding(run.get("lm_key"), key):  # only --lm_weight_max changed
            kwargs["previous"] = {k: v for k, v in run.items()
                                  if k in ("lm_weight", "dev_wer_lm") or k.startswith("test_")}
        target, log = "lm_decode", Path(run["exp"]).parent / f"{name}.lm.log"
    child = ChildRun(f"espnet_bljust.bin.compare_strategies:{target}", kwargs, log,
                     args.threads).start()  # fmt: skip
    print(f"[start] {run['strategy']} seed {run['seed']} labeled {run['labeled']} "
          f"({'training' if kind == 'train' else 'LM decoding'}) -> {run['exp']} "
          f"(log {log}, pid {child.process.pid})", flush=True)  # fmt: skip
    return child


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


def _finish_lm_train(data: str, result: dict, plan: dict) -> dict:
    """The LM decoding options of ``data`` (lm, weights, beam_size) once its
    LM is trained; a failed LM stops the comparison (its runs would all be
    decoded without it)."""
    if not result.get("ok"):
        raise SystemExit(f"compare_strategies: LM training failed ({result.get('error')}); "
                         f"see {plan['log']}")  # fmt: skip
    print(f"[lm] trained: {result['value']['model_file']}", flush=True)
    return dict(lm=result["value"], weights=plan["weights"], beam_size=plan["beam_size"],
                max_weight=plan["max_weight"])


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _finish(run: dict, result: dict) -> None:
    run["ok"] = bool(result.get("ok"))
    run["error"] = result.get("error")
    if run["ok"]:
        run.update(result["value"])
        lm = (f", with the LM (weight {run['lm_weight']:g}) {run['test_wer_lm']:.1f}%"
              if "test_wer_lm" in run else "")  # fmt: skip
        print(f"[done] {run['strategy']} seed {run['seed']}: test WER {run['test_wer']:.1f}% "
              f"CER {run['test_cer']:.1f}%{lm}, {run['train_wall_s']:.0f} s, "
              f"{run['train_peak_rss_mb']:.0f} MiB", flush=True)  # fmt: skip
    else:
        print(f"[failed] {run['strategy']} seed {run['seed']}: {run['error']}", flush=True)
    _save(run)


def _finish_lm(run: dict, result: dict) -> None:
    """A reused run's LM decoding: its results join the run's; a failure is
    kept as ``lm_error`` (the run's own results stand)."""
    if result.get("ok"):
        run.update(result["value"])
        run.pop("lm_error", None)
        ran = ", ".join(f"{name} at {w:g}" for name, w in run.get("lm_decodes", [])) or "none"
        print(f"[done] {run['strategy']} seed {run['seed']}: with the LM (weight "
              f"{run['lm_weight']:g}) test WER {run['test_wer_lm']:.1f}% (decoded: {ran})",
              flush=True)  # fmt: skip
    else:
        run["lm_error"] = result.get("error")
        print(f"[failed] LM decoding of {run['strategy']} seed {run['seed']}: "
              f"{run['lm_error']}", flush=True)  # fmt: skip
    _save(run)


def _save(run: dict) -> None:
    Path(run["exp"]).mkdir(parents=True, exist_ok=True)
    tmp = Path(run["exp"]) / "run.json.tmp"
    tmp.write_text(json.dumps(run, indent=1))
    tmp.replace(Path(run["exp"]) / "run.json")


def write_report(runs: List[dict], out: Path, title: str, preamble: str,
                 iters_per_epoch: int, plots: bool = True) -> Dict[str, Path]:  # fmt: skip
    """results.md (table and goal lines), results.json, RESULTS.md and (unless
    ``plots`` is false) the PNGs in ``out``; RESULTS.md is ``title``, then
    ``preamble`` (markdown: how the runs were made), then the table, goals and
    images. Returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    table = results_table(runs)
    goals = goal_lines(runs)
    paths = dict(table=out / "results.md", results=out / "RESULTS.md", json=out / "results.json")
    paths["table"].write_text(table + ("\n" + goals if goals else ""))
    paths["json"].write_text(json.dumps(runs, indent=1))
    images = make_plots(runs, out, iters_per_epoch) if plots else {}
    paths.update(images)
    pictures = "".join(f"![{name}]({p.name})\n" for name, p in images.items())
    paths["results"].write_text(f"### {title}\n\n{preamble}\n\n{table}\n{goals}\n{pictures}")
    return paths


def write_outputs(runs: List[dict], args: argparse.Namespace, command: str) -> Dict[str, Path]:
    """The report of one harness call (see :func:`write_report`)."""
    from espnet_bljust.version import __version__

    total = args.max_epoch * args.num_iters_per_epoch
    first = next((r for r in runs if r.get("ok")), runs[0])
    budget = (
        f"{total} ticks per run ({args.max_epoch} epochs × {args.num_iters_per_epoch}), "
        f"exploration {args.exploration_frac:g}, fine-tune {args.finetune_frac:g} of them; "
        f"{first['unlabeled']} unlabeled utts; dev picks the checkpoint "
        f"(valid.cer_ctc.best.pth); test decoded with Speech2Text, CTC beam {args.beam_size}"
    )
    title = (f"Strategy comparison on {'FSDD' if args.data_dir is None else args.data_dir} "
             f"(espnet_bljust {__version__}, {_versions()})")  # fmt: skip
    return write_report(runs, args.out_dir, title, f"```sh\n{command}\n```\n\n{budget}.",
                        args.num_iters_per_epoch, not args.no_plots)  # fmt: skip


def make_plots(runs: List[dict], out: Path, iters_per_epoch: int) -> Dict[str, Path]:
    from espnet_bljust.experiments import plots

    ok = [r for r in runs if r.get("ok")]
    paths = {}
    if ok:
        paths["dev_cer"] = plots.plot_dev_curve(ok, out / "dev_cer.png", iters_per_epoch)
        if any("wer_ctc" in e.get("valid", {}) for r in ok for e in r["epochs"].values()):
            paths["dev_wer"] = plots.plot_dev_curve(
                ok, out / "dev_wer.png", iters_per_epoch, key="wer_ctc"
            )
    bl = [r for r in ok if r["strategy"] == "bljust"]
    if bl:
        paths["bljust_losses"] = plots.plot_bljust_training(
            bl[0], out / "bljust_losses.png", iters_per_epoch
        )
    if len({r["labeled"] for r in ok}) > 1:
        paths["wer_vs_labeled"] = plots.plot_wer_vs_labeled(ok, out / "wer_vs_labeled.png")
    return paths


def _versions() -> str:
    import espnet
    import torch

    return f"espnet {espnet.__version__}, torch {torch.__version__}"


def main(cmd: Optional[Sequence[str]] = None) -> Dict[str, Path]:
    args = get_parser().parse_args(cmd)
    command = "python -m espnet_bljust.bin.compare_strategies " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if cmd is None else cmd)
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    runs = plan_runs(args)
    lm_plan = plan_lms(runs, args) if args.lm_config is not None else None
    # SIGTERM (kill, a job scheduler) ends the loop like Ctrl-C does, so that the running
    # children are stopped too (their forkserver would otherwise keep them going)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        execute(runs, args, lm_plan)
    finally:
        signal.signal(signal.SIGTERM, previous)
    paths = write_outputs(runs, args, command)
    print(paths["table"].read_text())
    for name, path in paths.items():
        print(f"{name}: {path}")
    if not any(r.get("ok") for r in runs):
        raise SystemExit("compare_strategies: every run failed (see the logs)")
    return paths


if __name__ == "__main__":
    # Run the package module's main, so that the child processes find every
    # function under its importable name (not __main__).
    from espnet_bljust.bin import compare_strategies

    compare_strategies.main()
