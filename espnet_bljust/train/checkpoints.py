"""Crash-safe checkpoints for espnet2's Trainer.

espnet2's ``Trainer.run`` writes ``checkpoint.pth`` and ``<N>epoch.pth``, and
its ``average_nbest_models`` the ``*.ave_<n>best.pth`` models, with plain
``torch.save``: a job killed during the write leaves a truncated file and
``--resume true`` (or decoding the averaged model) then fails on it. Without
copying ``Trainer.run``, these helpers make those writes atomic (temporary
file in the same directory, fsync, rename), keep hard links to the last N
full checkpoints, and let a resume fall back to an older one when the newest
cannot be read.
"""

import logging
import os
import re
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, List, Union

import torch

HISTORY_DIR = "checkpoints"
_HISTORY_NAME = re.compile(r"checkpoint\.(\d+)epoch\.pth$")


def atomic_save(obj: Any, path: Union[str, Path], save: Callable = torch.save) -> None:
    """``torch.save`` that never leaves a partial file at ``path``.

    The data goes to a temporary file next to ``path``, is flushed to disk,
    then renamed over ``path`` (atomic on POSIX file systems).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def history(output_dir: Path) -> List[Path]:
    """Kept full checkpoints, newest epoch first."""
    found = []
    for p in (Path(output_dir) / HISTORY_DIR).glob("checkpoint.*epoch.pth"):
        m = _HISTORY_NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found, reverse=True)]


def remember(checkpoint: Path, epoch: int, keep_last: int) -> None:
    """Hard-link ``checkpoint`` as epoch ``epoch``; drop all but the last ``keep_last``.

    ``checkpoint.pth`` is replaced by rename at every save, so the links keep
    the older files alive at no copying cost.
    """
    if keep_last <= 0:
        return
    directory = checkpoint.parent / HISTORY_DIR
    directory.mkdir(exist_ok=True)
    target = directory / f"checkpoint.{epoch}epoch.pth"
    if target.exists():
        target.unlink()
    try:
        os.link(checkpoint, target)
    except OSError:  # file systems without hard links
        atomic_save(torch.load(checkpoint, map_location="cpu", weights_only=False), target)
    for old in history(checkpoint.parent)[keep_last:]:
        old.unlink()


class _AtomicTorch(types.ModuleType):
    """Stands in for ``torch`` inside espnet2's trainer module: same
    attributes, but ``save`` to a path is atomic and full checkpoints are
    remembered."""

    def __init__(self, keep_last: int):
        super().__init__("torch")
        self._keep_last = keep_last

    def __getattr__(self, name: str):
        return getattr(torch, name)

    def save(self, obj, f, *args, **kwargs):
        if not isinstance(f, (str, os.PathLike)):
            return torch.save(obj, f, *args, **kwargs)
        atomic_save(obj, f, lambda o, fh: torch.save(o, fh, *args, **kwargs))
        path = Path(f)
        if path.name == "checkpoint.pth" and isinstance(obj, dict) and "reporter" in obj:
            remember(path, int(obj["reporter"]["epoch"]), self._keep_last)


@contextmanager
def atomic_trainer_saves(keep_last: int):
    """While active, espnet2's Trainer and its n-best averaging write their
    files atomically."""
    import espnet2.main_funcs.average_nbest_models as averaging_module
    import espnet2.train.trainer as trainer_module

    modules = (trainer_module, averaging_module)
    originals = [m.torch for m in modules]
    for module in modules:
        module.torch = _AtomicTorch(keep_last)
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.torch = original


def resume_candidates(checkpoint: Path) -> List[Path]:
    """``checkpoint.pth`` first, then the kept ones, newest first (no duplicates)."""
    candidates = [checkpoint]
    for p in history(checkpoint.parent):
        if not (checkpoint.exists() and p.exists() and os.path.samefile(p, checkpoint)):
            candidates.append(p)
    return candidates


def load_first_readable(checkpoint: Path, load: Callable[[Path], None]) -> Path:
    """Call ``load`` on the newest checkpoint that can be read; returns it.

    Raises:
        RuntimeError: when none of them loads, naming each failure.
    """
    failures = []
    for candidate in resume_candidates(checkpoint):
        try:
            load(candidate)
        except (RuntimeError, EOFError, OSError, ValueError, KeyError) as e:
            logging.warning(f"cannot resume from {candidate}: {e}")
            failures.append(f"{candidate}: {type(e).__name__}: {e}")
            continue
        if candidate != checkpoint:
            logging.warning(f"resumed from the older checkpoint {candidate}")
        return candidate
    raise RuntimeError("no readable checkpoint to resume from:\n  " + "\n  ".join(failures))
