"""Crash-safe checkpoints for espnet2's Trainer.

espnet2's ``Trainer.run`` writes ``checkpoint.pth`` and ``<N>epoch.pth``, and
its ``average_nbest_models`` the ``*.ave_<n>best.pth`` models, with plain
``torch.save``: a job killed during the write leaves a truncated file and
``--resume true`` (or decoding the averaged model) then fails on it. Without
copying ``Trainer.run``, these helpers make those writes atomic (temporary
file in the same directory, fsync, rename), keep hard links to the last N
full checkpoints, write a content checksum beside every saved file
(``checksums``), replace the ``latest.pth``/``*.best.pth`` links atomically,
and let a resume fall back to the newest kept checkpoint that verifies.
"""

import logging
import os
import re
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, List, Optional, Union

import torch

from espnet_bljust.train.checksums import file_sha256, read_checksum, sidecar, verify
from espnet_bljust.train.checksums import write_checksum

HISTORY_DIR = "checkpoints"
_HISTORY_NAME = re.compile(r"checkpoint\.(\d+)epoch\.pth$")
_TEMPORARY = re.compile(r"^\..+\.tmp\.\d+$")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, or none can be resumed from."""


def atomic_save(obj: Any, path: Union[str, Path], save: Callable = torch.save) -> None:
    """``torch.save`` that never leaves a partial file at ``path``.

    The data goes to a temporary file next to ``path``, is flushed to disk,
    its SHA-256 written to ``<path>.sha256`` (atomically, just after the
    rename), then renamed over ``path`` (atomic on POSIX file systems).

    Raises:
        CheckpointError: the write failed (disk full, read-only, ...); the
            previous ``path`` and its checksum are untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        digest = file_sha256(tmp)
        os.replace(tmp, path)
        write_checksum(path, digest)
    except OSError as e:
        raise CheckpointError(
            f"cannot save {path}: {e.strerror or e}; the previous {path.name} is kept"
        ) from e
    except RuntimeError as e:  # torch's zip writer hides the failed write's OSError
        cause = _write_error(tmp)
        if cause is None:
            raise
        raise CheckpointError(
            f"cannot save {path}: {cause.strerror or cause}; the previous {path.name} is kept"
        ) from e
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _write_error(tmp: Path) -> Optional[OSError]:
    """The OSError (disk full, file too large, ...) that one more byte written to
    ``tmp`` raises, or None where the file takes it."""
    try:
        with open(tmp, "ab") as f:
            f.write(b"\0")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return e
    return None


def clean_temporaries(output_dir: Union[str, Path]) -> List[Path]:
    """Remove the ``.<name>.tmp.<pid>`` files a killed save left; returns them."""
    removed = []
    for directory in (Path(output_dir), Path(output_dir) / HISTORY_DIR):
        if directory.is_dir():
            for p in directory.iterdir():
                if _TEMPORARY.match(p.name) and (p.is_file() or p.is_symlink()):
                    p.unlink()
                    removed.append(p)
    return removed


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
        write_checksum(target, read_checksum(checkpoint) or file_sha256(checkpoint))
    except OSError:  # file systems without hard links
        atomic_save(torch.load(checkpoint, map_location="cpu", weights_only=False), target)
    for old in history(checkpoint.parent)[keep_last:]:
        old.unlink()
        sidecar(old).unlink(missing_ok=True)


def restore_missing_checkpoint(checkpoint: Path) -> Optional[Path]:
    """When ``checkpoint`` is gone but kept ones exist, link the newest there.

    Returns the kept checkpoint used (None when nothing was done). Which one
    actually loads is decided by :func:`load_first_readable`, which verifies.
    Every rank calls it: each one then finds ``checkpoint`` before resuming.
    """
    if checkpoint.exists() or checkpoint.is_symlink():
        return None
    kept = history(checkpoint.parent)
    if not kept:
        return None
    digest = read_checksum(kept[0])
    if digest is not None:  # first, so whoever sees the checkpoint sees its checksum
        write_checksum(checkpoint, digest)
    try:
        os.link(kept[0], checkpoint)
    except FileExistsError:  # another rank of the same run did it
        return None
    logging.warning(
        f"{checkpoint} is missing: resuming from the kept {kept[0]} (older ones are kept)"
    )
    return kept[0]


class AtomicLinkPath(type(Path())):
    """``Path`` for espnet2's trainer module: ``latest.pth`` and ``*.best.pth``
    links are replaced by rename instead of unlink + symlink, so a kill in
    between never leaves the link missing."""

    @staticmethod
    def _is_model_link(path: Path) -> bool:
        return path.name == "latest.pth" or path.name.endswith(".best.pth")

    def unlink(self, missing_ok: bool = False) -> None:
        if self._is_model_link(self) and self.is_symlink():
            return  # replaced by symlink_to right after
        super().unlink(missing_ok=missing_ok)
        sidecar(self).unlink(missing_ok=True)

    def symlink_to(self, target, target_is_directory: bool = False) -> None:
        if not self._is_model_link(self):
            return super().symlink_to(target, target_is_directory)
        tmp = self.with_name(f".{self.name}.tmp.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        os.replace(tmp, self)


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
    original_path = trainer_module.Path
    for module in modules:
        module.torch = _AtomicTorch(keep_last)
    trainer_module.Path = AtomicLinkPath
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.torch = original
        trainer_module.Path = original_path


def resume_candidates(checkpoint: Path) -> List[Path]:
    """``checkpoint.pth`` first, then the kept ones, newest first (no duplicates)."""
    candidates = [checkpoint]
    for p in history(checkpoint.parent):
        if not (checkpoint.exists() and p.exists() and os.path.samefile(p, checkpoint)):
            candidates.append(p)
    return candidates


def load_first_readable(checkpoint: Path, load: Callable[[Path], None]) -> Path:
    """Call ``load`` on the newest checkpoint that verifies and loads; returns it.

    A candidate verifies when its bytes match its ``.sha256`` checksum.
    Falling back to an older one logs one warning line.

    Raises:
        CheckpointError: one line naming every candidate tried and why it failed.
    """
    failures = []
    for candidate in resume_candidates(checkpoint):
        problem = verify(candidate)
        if problem is None:
            try:
                load(candidate)
            except (RuntimeError, EOFError, OSError, ValueError, KeyError) as e:
                problem = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if problem is not None:
            failures.append(f"{candidate} ({problem})")
            continue
        if failures:
            logging.warning(
                f"resumed from the older checkpoint {candidate}; not usable: {'; '.join(failures)}"
            )
        return candidate
    raise CheckpointError(f"no verified checkpoint to resume from; tried: {'; '.join(failures)}")
