"""Content checksums of saved files: ``<file>.sha256`` beside each one.

``torch.load`` reads a checkpoint with flipped bytes inside a tensor without
complaint; the checksum is what tells a resume that the bytes are not the ones
that were saved. hashlib does the hashing; the sidecar format is the one of
``sha256sum`` (``<hex>  <name>``), so ``sha256sum -c`` checks it too.
"""

import hashlib
import os
from pathlib import Path
from typing import Optional, Union

SUFFIX = ".sha256"


def sidecar(path: Union[str, Path]) -> Path:
    """The checksum file of ``path``."""
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def file_sha256(path: Union[str, Path]) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_checksum(path: Union[str, Path], digest: str) -> None:
    """Write ``digest`` as the checksum of ``path``, atomically (temporary file, rename)."""
    target = sidecar(path)
    tmp = target.with_name(f".{target.name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{digest}  {Path(path).name}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_checksum(path: Union[str, Path]) -> Optional[str]:
    """The recorded digest of ``path``, None when there is no readable checksum file."""
    try:
        text = sidecar(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    parts = text.split()
    return parts[0] if parts else None


def verify(path: Union[str, Path]) -> Optional[str]:
    """None when ``path`` matches its checksum, else what is wrong (a few words)."""
    if not Path(path).exists():
        return "missing"
    expected = read_checksum(path)
    if expected is None:
        return f"no checksum file {sidecar(path).name}"
    try:
        actual = file_sha256(path)
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    if actual != expected:
        return "checksum mismatch: the file changed after it was saved"
    return None
