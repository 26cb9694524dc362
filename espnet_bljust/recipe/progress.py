"""One console line per finished epoch while espnet2 training runs.

Follows the training log (``exp/asr_<tag>/train.log``) written by
``espnet_bljust.bin.bljust_train`` and, for every ``"<N>epoch results: ..."``
line of espnet2's Trainer, prints::

    epoch  3/16 joint       | sup 41.52 unsup 2.731 gamma 0.25 | dev CER 38.1% | 1:02 elapsed, ~3:40 left

(the training losses are the epoch means of the supervised loss f and of the
unsupervised loss g; g is the lower level's, on unlabeled speech). It returns
when the training process (``--pid``) has exited, after the last lines of the
log; it never fails the recipe: the recipe checks the job's own exit status.

Hand-written: espnet2 has no log follower; ``tail -F`` cannot parse it.

Usage:
    python -m espnet_bljust.recipe.progress --log exp/asr_bljust/train.log --pid 1234
"""

import argparse
import dataclasses
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Dict, Iterator, Optional, TextIO

from espnet_bljust.bilevel.phases import Phase

# "[host] 2026-12-03 20:24:42,453 (trainer:336) INFO: 1/16epoch started"
_STAMP = re.compile(r"^\[[^\]]*\] (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_STARTED = re.compile(r"INFO: (\d+)/(\d+)epoch started")
_RESULTS = re.compile(r"INFO: (\d+)epoch results: (.*)$")
_SECTION = re.compile(r"\[(\w+)\] ")
_PHASES = [phase.value for phase in Phase]


@dataclasses.dataclass
class EpochResult:
    """What one "<N>epoch results:" line says (None where the log has no value)."""

    epoch: int
    max_epoch: Optional[int]
    phase: Optional[str]
    loss_sup: Optional[float]
    loss_unsup: Optional[float]
    gamma: Optional[float]
    dev_cer: Optional[float]  # in percent
    elapsed: Optional[float]  # seconds since the first epoch of this run started
    left: Optional[float]  # estimated seconds to the last epoch


def parse_stats(message: str) -> Dict[str, Dict[str, str]]:
    """``"[train] a=1.0, b=2, [valid] c=3"`` -> ``{"train": {"a": "1.0", ...}, ...}``."""
    parts = _SECTION.split(message)  # ["", "train", "a=1.0, ...", "valid", "..."]
    sections = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        values = {}
        for item in body.split(", "):
            key, sep, value = item.partition("=")
            if sep:
                values[key.strip()] = value.strip().rstrip(",")
        sections[name] = values
    return sections


def _float(values: Dict[str, str], *keys: str) -> Optional[float]:
    """The first of ``keys`` that holds a number."""
    for key in keys:
        try:
            return float(values[key])
        except (KeyError, ValueError):
            continue
    return None


def _stamp(line: str) -> Optional[float]:
    match = _STAMP.match(line)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


class LogReader:
    """Turns train.log lines into EpochResult objects, keeping the timing state."""

    def __init__(self):
        self.max_epoch: Optional[int] = None
        self.first_epoch: Optional[int] = None  # the epoch this run started at (resume)
        self.start: Optional[float] = None

    def feed(self, line: str) -> Optional[EpochResult]:
        """One log line; an EpochResult when it closes an epoch."""
        started = _STARTED.search(line)
        if started is not None:
            self.max_epoch = int(started.group(2))
            if self.start is None:
                self.first_epoch, self.start = int(started.group(1)), _stamp(line)
            return None
        results = _RESULTS.search(line)
        if results is None:
            return None
        epoch = int(results.group(1))
        stats = parse_stats(results.group(2))
        train, valid = stats.get("train", {}), stats.get("valid", {})
        phase = _float(train, "phase")
        now = _stamp(line)
        elapsed = left = None
        if now is not None and self.start is not None:
            elapsed = now - self.start
            done = epoch - self.first_epoch + 1
            if self.max_epoch is not None and done > 0:
                left = elapsed / done * (self.max_epoch - epoch)
        cer = _float(valid, "cer_ctc", "cer")
        return EpochResult(
            epoch=epoch,
            max_epoch=self.max_epoch,
            # phase is the epoch mean of the per-step phase index
            phase=_PHASES[round(phase)] if phase is not None and 0 <= phase < 3 else None,
            loss_sup=_float(train, "loss_sup"),
            loss_unsup=_float(train, "loss_unsup_lower", "loss_unsup_upper"),
            gamma=_float(train, "gamma"),
            dev_cer=None if cer is None else 100 * cer,
            elapsed=elapsed,
            left=left,
        )


def _clock(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def _num(value: Optional[float], fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_result(res: EpochResult) -> str:
    """The console line of one epoch."""
    width = len(str(res.max_epoch or res.epoch))
    total = "?" if res.max_epoch is None else str(res.max_epoch)
    cer = "-" if res.dev_cer is None else f"{res.dev_cer:.1f}%"
    return (
        f"epoch {res.epoch:>{width}}/{total} {res.phase or '':<11} "
        f"| sup {_num(res.loss_sup, '.2f')} unsup {_num(res.loss_unsup, '.3f')}"
        f" gamma {_num(res.gamma, '.2f')} | dev CER {cer}"
        f" | {_clock(res.elapsed)} elapsed, ~{_clock(res.left)} left"
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: kill() answered, so it exists
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def follow_lines(log: Path, pid: int, poll: float = 0.5) -> Iterator[str]:
    """Complete lines of ``log`` as they are written, until ``pid`` has exited.

    The log may not exist yet when this starts; a file replaced or truncated
    under the same name is read again from its start.
    """
    handle, inode, pending = None, None, ""
    while True:
        alive = pid_alive(pid)  # checked before reading, so nothing written after is missed
        if handle is None and log.exists():
            handle = open(log, encoding="utf-8", errors="replace")
            inode = os.fstat(handle.fileno()).st_ino
        if handle is not None:
            chunk = handle.read()
            pending += chunk
            *lines, pending = pending.split("\n")
            yield from lines
            try:
                stat = log.stat()
                replaced = stat.st_ino != inode or stat.st_size < handle.tell()
            except FileNotFoundError:
                replaced = False
            if replaced and not chunk:
                handle.close()
                handle, pending = None, ""
                continue
        if not alive:
            if pending:
                yield pending
            if handle is not None:
                handle.close()
            return
        time.sleep(poll)


def follow(log: Path, pid: int, out: TextIO = sys.stdout, poll: float = 0.5) -> int:
    """Print one line per finished epoch of ``log`` until ``pid`` exits; returns 0."""
    reader = LogReader()
    for line in follow_lines(Path(log), pid, poll):
        result = reader.feed(line)
        if result is not None:
            print(format_result(result), file=out, flush=True)
    return 0


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", type=Path, required=True, help="espnet2 training log")
    parser.add_argument("--pid", type=int, required=True, help="the training process")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between reads")
    return parser


def main(cmd=None) -> int:
    args = get_parser().parse_args(cmd)
    return follow(args.log, args.pid, poll=args.poll)


if __name__ == "__main__":
    sys.exit(main())
