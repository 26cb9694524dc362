"""Format a Kaldi data dir for training: PCM16 mono wav at one sampling rate.

Reads ``<src>/wav.scp`` (file paths, or ``command |`` pipe entries whose
standard output is an audio file), converts every utterance to mono 16-bit PCM
wav at ``--fs`` and writes a dumped data dir:

- ``<dst>/data/<uid>.wav`` — the audio;
- ``<dst>/wav.scp`` (absolute paths), ``text`` (where ``<src>`` has one),
  ``utt2spk``, ``spk2utt``, ``utt2dur`` (seconds), ``utt2num_samples`` and
  ``speech_shape`` (``uid num_samples``, what espnet2's batch samplers read);
- ``<dst>/dropped`` — utterances left out by the duration filter, with why.

``--min_duration``/``--max_duration`` drop utterances outside the range (meant
for training sets only; leave them unset for dev and test sets). An entry that
cannot be read stops the run with one line per failing utterance: nothing is
dropped silently. Multi-channel audio is averaged to mono.

Usage:
    python -m espnet_bljust.data.format_wav --fs 16000 --nj 2 \
        --min_duration 0.1 --max_duration 20 data/train_labeled dump/raw/train_labeled
"""

import argparse
import hashlib
import io
import math
import multiprocessing
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import soundfile
import torch
import torchaudio.functional

from espnet_bljust.data.list_checks import read_list


class FormatError(RuntimeError):
    """Some utterances could not be read or converted."""


def parse_fs(value: str) -> int:
    """``16000``, ``16k`` or ``8k`` -> an integer rate in Hz."""
    text = str(value).strip().lower()
    rate = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
    if rate <= 0 or rate != int(rate):
        raise ValueError(f"not a sampling rate: {value!r}")
    return int(rate)


def resolve_entry(entry: str, list_dir: Path) -> str:
    """A wav.scp value: a pipe command as is, a path resolved to an absolute one.

    Relative paths are taken relative to the working directory (the Kaldi and
    espnet2 convention) and, where nothing is there, relative to the list's dir.
    """
    entry = entry.strip()
    if entry.endswith("|"):
        return entry
    path = Path(entry)
    if path.is_absolute() or path.exists() or not (list_dir / path).exists():
        return str(path.absolute())
    return str((list_dir / path).absolute())


def read_audio(entry: str) -> Tuple[np.ndarray, int]:
    """Read one wav.scp value (path or ``cmd |``) -> (float64 mono samples, rate)."""
    if entry.endswith("|"):
        done = subprocess.run(
            entry[:-1], shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            raise FormatError(
                f"pipe exited with {done.returncode}: {err[-1] if err else '(no message)'}"
            )
        if not done.stdout:
            raise FormatError("pipe wrote no audio")
        data, rate = soundfile.read(io.BytesIO(done.stdout), dtype="float64", always_2d=True)
    else:
        data, rate = soundfile.read(entry, dtype="float64", always_2d=True)
    return data.mean(axis=1), int(rate)


def resample(samples: np.ndarray, rate: int, fs: int) -> np.ndarray:
    """Band-limited resampling from ``rate`` to ``fs`` (the input itself when equal),
    with torchaudio's windowed-sinc resampler (Kaiser window, stop band from 94.5%
    of the lower Nyquist rate).

    Output sample ``m`` sits at input time ``m * rate / fs`` (zero phase); the
    output has ``ceil(len * fs / rate)`` samples.
    """
    if rate == fs:
        return samples
    out = torchaudio.functional.resample(
        torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float64)),
        int(rate),
        int(fs),
        lowpass_filter_width=16,
        rolloff=0.945,
        resampling_method="sinc_interp_kaiser",
        beta=14.77,
    )
    return out.numpy()


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float in [-1, 1) -> int16, the exact inverse of soundfile's PCM16 reading."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def _format_one(job: Tuple[str, str, str, int, Optional[float], Optional[float]]):
    """Worker: (uid, entry, out path, fs, min s, max s) -> (uid, samples, status)."""
    uid, entry, out, fs, min_dur, max_dur = job
    try:
        samples, rate = read_audio(entry)
        samples = resample(samples, rate, fs)
    except Exception as e:  # noqa: BLE001 - reported per utterance
        return uid, 0, f"error: {entry}: {type(e).__name__}: {e}"
    num = len(samples)
    duration = num / fs
    if min_dur is not None and duration < min_dur:
        return uid, num, f"too short: {duration:.3f} s < {min_dur} s"
    if max_dur is not None and duration > max_dur:
        return uid, num, f"too long: {duration:.3f} s > {max_dur} s"
    soundfile.write(out, to_pcm16(samples), fs, subtype="PCM_16", format="WAV")
    return uid, num, "ok"


def _safe_name(uid: str) -> str:
    """A file name for an utterance id (ids with other characters get a hash suffix,
    so that two ids never share a file)."""
    safe = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in uid)
    if safe != uid or safe.startswith("."):
        safe += "-" + hashlib.sha1(uid.encode("utf-8")).hexdigest()[:8]
    return safe


def _write(path: Path, rows: List[Tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for key, value in rows:
            f.write(f"{key} {value}\n")


def format_data_dir(
    src: Path,
    dst: Path,
    fs: int = 16000,
    min_duration: Optional[float] = None,
    max_duration: Optional[float] = None,
    nj: int = 1,
) -> Dict[str, int]:
    """Convert ``src``'s audio to PCM16 mono wav at ``fs`` and write ``dst``'s lists.

    Returns:
        counts: ``kept``, ``too_short``, ``too_long``.

    Raises:
        FormatError: listing every utterance that could not be read.
    """
    src, dst = Path(src), Path(dst)
    if (src / "segments").exists():
        raise FormatError(f"{src}/segments: segmented recordings are not supported")
    entries = read_list(src / "wav.scp")
    if not entries:
        raise FormatError(f"{src}/wav.scp: no utterances")
    wav_dir = (dst / "data").absolute()
    wav_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        (uid, resolve_entry(value, src), str(wav_dir / f"{_safe_name(uid)}.wav"), fs,
         min_duration, max_duration)
        for _, uid, value in entries
    ]  # fmt: skip
    if nj > 1 and len(jobs) > 1:
        # A forked child hangs in torch's thread pool once the parent has used
        # it; forkserver children start from a process that only imported torch.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["numpy", "soundfile", "torchaudio.functional"])
        with ctx.Pool(min(nj, len(jobs))) as pool:
            results = pool.map(_format_one, jobs, chunksize=max(1, len(jobs) // (8 * nj)))
    else:
        results = [_format_one(job) for job in jobs]

    errors = [f"{uid}: {status[len('error: '):]}" for uid, _, status in results
              if status.startswith("error")]  # fmt: skip
    if errors:
        raise FormatError(
            f"{src}/wav.scp: {len(errors)} utterance(s) could not be read\n  "
            + "\n  ".join(errors)
        )
    out_of = {job[0]: job[2] for job in jobs}
    kept = sorted((uid, num) for uid, num, status in results if status == "ok")
    dropped = sorted((uid, status) for uid, _, status in results if status != "ok")
    keep = {uid for uid, _ in kept}

    _write(dst / "wav.scp", [(uid, out_of[uid]) for uid, _ in kept])
    _write(dst / "utt2num_samples", [(uid, str(num)) for uid, num in kept])
    _write(dst / "speech_shape", [(uid, str(num)) for uid, num in kept])
    _write(dst / "utt2dur", [(uid, f"{num / fs:.4f}") for uid, num in kept])
    _write(dst / "dropped", dropped)
    if (src / "text").exists():
        _write(dst / "text", [(uid, v) for _, uid, v in read_list(src / "text") if uid in keep])
    utt2spk = {uid: uid for uid in keep}
    if (src / "utt2spk").exists():
        utt2spk.update({uid: v.strip() for _, uid, v in read_list(src / "utt2spk") if uid in keep})
    _write(dst / "utt2spk", sorted(utt2spk.items()))
    spk2utt: Dict[str, List[str]] = {}
    for uid, spk in sorted(utt2spk.items()):
        spk2utt.setdefault(spk, []).append(uid)
    _write(dst / "spk2utt", sorted((spk, " ".join(u)) for spk, u in spk2utt.items()))
    for uid, _, status in results:  # remove audio of utterances dropped on a rerun
        if status != "ok" and Path(out_of[uid]).exists():
            Path(out_of[uid]).unlink()
    return dict(
        kept=len(kept),
        too_short=sum(s.startswith("too short") for _, s in dropped),
        too_long=sum(s.startswith("too long") for _, s in dropped),
    )


def get_parser() -> argparse.ArgumentParser:
    """Command line of :func:`format_data_dir`."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("src", type=Path, help="Kaldi data dir with wav.scp")
    parser.add_argument("dst", type=Path, help="dumped data dir to write")
    parser.add_argument("--fs", type=parse_fs, default=16000, help="target rate (16000, 16k)")
    parser.add_argument("--min_duration", type=float, default=None, help="seconds")
    parser.add_argument("--max_duration", type=float, default=None, help="seconds")
    parser.add_argument("--nj", type=int, default=1, help="parallel processes")
    return parser


def main(cmd=None):
    """Run :func:`format_data_dir`; exit 1 with the unreadable entries listed."""
    args = get_parser().parse_args(cmd)
    for name in ("min_duration", "max_duration"):
        value = getattr(args, name)
        if value is not None and (value < 0 or math.isnan(value)):
            sys.exit(f"--{name} must be >= 0, got {value}")
    try:
        counts = format_data_dir(
            args.src, args.dst, args.fs, args.min_duration, args.max_duration, args.nj
        )
    except FormatError as e:
        print(f"format_wav: {e}", file=sys.stderr)
        sys.exit(1)
    print(
        f"{args.dst}: {counts['kept']} utterances at {args.fs} Hz "
        f"(dropped {counts['too_short']} too short, {counts['too_long']} too long)"
    )


if __name__ == "__main__":
    main()
