"""Reading every audio entry of a wav.scp: can espnet2 load it, and is it what we expect.

A wav.scp value is a file path (absolute, or relative to the working directory,
which is how espnet2's ``sound`` loader opens it) or a Kaldi pipe command ending
in ``|`` whose standard output is an audio file. Each entry is decoded to the
end with ``soundfile``, so corrupt and truncated files are found as well as
missing ones; WAV headers that promise more data than the file holds are caught
by reading the RIFF chunk sizes (libsndfile itself silently clamps them).

Samples are decoded block by block into a reused buffer and thrown away, so
checking a few thousand short clips takes a few seconds.
"""

import io
import os
import signal
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, List, Optional, Sequence, Tuple, Union

import numpy as np
import soundfile

# A data chunk size this large in a streamed WAV means "length unknown".
_UNKNOWN_WAV_LENGTH = 0x7FFFF000
_BLOCK_FRAMES = 1 << 16


@dataclass(frozen=True)
class AudioInfo:
    """What one wav.scp entry decodes to."""

    rate: int
    channels: int
    frames: int
    nonfinite: bool = False  # NaN or Inf among the samples (float formats)
    peak: Optional[float] = None  # largest |sample| (1.0 = full scale); None: not decoded

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / self.rate if self.rate else 0.0


def is_pipe(value: str) -> bool:
    """True for a Kaldi pipe entry (``command |``)."""
    return value.rstrip().endswith("|")


def resolve_audio(value: str) -> str:
    """The entry as espnet2 opens it: a pipe command as is, a path made absolute.

    Relative paths are taken relative to the current working directory.
    """
    value = value.strip()
    if is_pipe(value):
        return value
    return os.path.abspath(value)


def wav_data_shortfall(path: str) -> Optional[Tuple[int, int]]:
    """``(bytes the WAV header promises, bytes the file holds)`` when it holds fewer.

    None for a complete WAV, a non-WAV file, or a streamed WAV of unknown length.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack(endian + "4sI", f.read(8))
            if chunk_id == b"data":
                held = size - pos - 8
                if _UNKNOWN_WAV_LENGTH <= chunk_size or chunk_size <= held:
                    return None
                return chunk_size, held
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _decode(source: Union[str, BinaryIO]) -> AudioInfo:
    """Decode a whole file (as float32, so NaN/Inf in float files show); raise
    ValueError when fewer frames come than announced."""
    with soundfile.SoundFile(source) as f:
        frames, peak, nonfinite = 0, 0.0, False
        buffer = np.empty((_BLOCK_FRAMES, f.channels), dtype=np.float32)
        while True:
            block = f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True, out=buffer)
            got = len(block)
            frames += got
            if got:
                finite = np.isfinite(block)
                nonfinite = nonfinite or not finite.all()
                peak = max(peak, float(np.abs(np.where(finite, block, 0)).max()))
            if got < _BLOCK_FRAMES:
                break
        if 0 < f.frames != frames and f.frames < _UNKNOWN_WAV_LENGTH:
            raise ValueError(
                f"truncated audio: the header says {f.frames} samples, "
                f"{frames} could be decoded"
            )
        return AudioInfo(f.samplerate, f.channels, frames, nonfinite=nonfinite, peak=peak)


def _sf_reason(err: Exception) -> str:
    """libsndfile's own words, without the "Error opening '<path>': " prefix."""
    text = str(err).strip()
    if text.startswith("Error opening"):
        text = text.split(": ", 1)[-1]
    if text.startswith("Error : "):
        text = text[len("Error : "):]
    return text.strip()


def _run_pipe(command: str, timeout: float) -> Tuple[Optional[bytes], Optional[str]]:
    """Run a pipe entry's command; ``(stdout, None)`` or ``(None, what went wrong)``."""
    cmd = command.rstrip()[:-1].strip()
    proc = subprocess.Popen(
        cmd,
        shell=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the shell and what it started
        proc.communicate()
        return None, f"pipe command timed out after {timeout:g} s: {cmd}"
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        said = f": {lines[-1].strip()}" if lines else ""
        return None, f"pipe command failed (exit {proc.returncode}){said}: {cmd}"
    if not out:
        return None, f"pipe command wrote no audio: {cmd}"
    return out, None


def missing_audio_message(value: str, data_dir: Optional[Path] = None) -> Optional[str]:
    """The "audio file not found" message for a wav.scp value, None when it exists.

    Only looks at the file system (no decoding): fast enough for every
    training start. Pipe entries are not run (None).
    """
    value = value.strip()
    if not value or is_pipe(value):
        return None
    path = resolve_audio(value)
    return None if os.path.exists(path) else _not_found(value, path, data_dir)


def _not_found(value: str, path: str, data_dir: Optional[Path]) -> str:
    message = f"audio file not found: {path}"
    if os.path.isabs(value):
        return message
    message = f"audio file not found: {value} (relative to the working directory {os.getcwd()}"
    for base in (data_dir, data_dir.parent) if data_dir is not None else ():
        if (base / value).is_file():
            return message + f"; it is there relative to {base.absolute()})"
    return message + ")"


def probe_audio(
    value: str, timeout: float = 60.0, data_dir: Optional[Path] = None
) -> Tuple[Optional[AudioInfo], Optional[str]]:
    """Load one wav.scp value completely, as espnet2 would.

    Args:
        value: the wav.scp value (path or ``command |``).
        timeout: seconds a pipe command may run.
        data_dir: the data dir, only used to hint where a relative path exists.

    Returns:
        ``(info, None)`` when it decodes, else ``(None, what is wrong)``.
    """
    value = value.strip()
    if is_pipe(value):
        out, problem = _run_pipe(value, timeout)
        if problem:
            return None, problem
        try:
            return _decode(io.BytesIO(out)), None
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as e:
            cmd = value[:-1].strip()
            return None, f"pipe output is not readable audio ({_sf_reason(e)}): {cmd}"
    path = resolve_audio(value)
    if not os.path.exists(path):
        return None, _not_found(value, path, data_dir)
    if not os.path.isfile(path):
        return None, f"not a file: {path}"
    if not os.access(path, os.R_OK):
        return None, f"audio file not readable (permission denied): {path}"
    if os.path.getsize(path) == 0:
        return None, f"empty audio file (0 bytes): {path}"
    try:
        shortfall = wav_data_shortfall(path)
        if shortfall:
            return None, (
                f"truncated WAV: the header promises {shortfall[0]} bytes of samples, "
                f"the file holds {shortfall[1]}: {path}"
            )
        return _decode(path), None
    except OSError as e:
        return None, f"cannot read audio file ({e.strerror or e}): {path}"
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as e:
        return None, f"corrupt or unreadable audio file ({_sf_reason(e)}): {path}"


def audio_problems(
    info: AudioInfo,
    fs: Optional[int],
    min_duration: Optional[float] = None,
    max_duration: Optional[float] = None,
) -> List[str]:
    """What is wrong with a decoded entry: rate, channels, length, duration limits."""
    problems = []
    if info.frames == 0:
        problems.append("zero-length audio (0 samples)")
    elif info.nonfinite:
        problems.append("NaN or Inf samples")
    elif info.peak == 0:
        problems.append("silent audio (every sample is 0)")
    if fs is not None and info.rate != fs:
        problems.append(f"sample rate {info.rate} Hz, expected {fs} Hz")
    if info.channels != 1:
        problems.append(f"{info.channels} channels, expected mono")
    if info.frames:
        problems += duration_problems(info.seconds, min_duration, max_duration)
    return problems


def duration_problems(
    seconds: float, min_duration: Optional[float], max_duration: Optional[float]
) -> List[str]:
    """``too short``/``too long`` against limits in seconds (None: no limit)."""
    if min_duration is not None and seconds < min_duration:
        return [f"too short: {seconds:.3f} s < --min_duration {min_duration:g} s"]
    if max_duration is not None and seconds > max_duration:
        return [f"too long: {seconds:.3f} s > --max_duration {max_duration:g} s"]
    return []


def probe_entries(
    values: Sequence[str],
    timeout: float = 60.0,
    nj: int = 1,
    data_dir: Optional[Path] = None,
) -> List[Tuple[Optional[AudioInfo], Optional[str]]]:
    """``probe_audio`` over many entries, ``nj`` at a time (threads)."""

    def one(value: str):
        return probe_audio(value, timeout=timeout, data_dir=data_dir)

    if nj <= 1 or len(values) < 2:
        return [one(v) for v in values]
    with ThreadPoolExecutor(max_workers=nj) as pool:
        return list(pool.map(one, values))
