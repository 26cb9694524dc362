"""Child processes of the harness: each run in a fresh process forked from a
server that imported the training and decoding modules once, with its wall
time and peak memory measured there."""

import importlib
import json
import multiprocessing
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Optional, Sequence

from espnet_bljust.experiments.protocol import git_commit

# Imported once by the fork server; every child run starts from there.
PRELOAD = (
    "espnet_bljust.experiments.training",
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
_SERVER_COMMIT = None  # the checkout's commit when the fork server was set up


def _context(preload: Sequence[str] = PRELOAD):
    """The forkserver context (started on first use, with ``preload`` imported)."""
    global _CONTEXT, _SERVER_COMMIT
    if _CONTEXT is None:
        _SERVER_COMMIT = git_commit()
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
        gpu: the child uses CUDA: it is spawned, not forked from the server
            (importing espnet2 there initialized CUDA, which a fork cannot use).
    """

    def __init__(self, target: str, kwargs: dict, log_path: Path, threads: int = 1,
                 gpu: bool = False):  # fmt: skip
        self.log_path = Path(log_path)
        self.result_path = self.log_path.with_suffix(".result.json")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.result_path.exists():
            self.result_path.unlink()
        self.gpu = gpu
        context = multiprocessing.get_context("spawn") if gpu else _context()
        self.process = context.Process(
            target=_child_entry,
            args=(target, kwargs, str(self.log_path), str(self.result_path), threads),
        )

    def start(self) -> "ChildRun":
        """Start the child; ``commit`` is then the commit of the code it runs:
        the fork server's (it imported the training and decoding modules
        once, when it was set up), a spawned child's own at its start;
        ``checkout_commit`` the checkout's now (where modules the server did
        not preload come from)."""
        self.checkout_commit = git_commit()
        self.commit = self.checkout_commit if self.gpu else _SERVER_COMMIT
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


