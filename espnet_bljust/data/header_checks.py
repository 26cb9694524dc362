"""The audio headers of every training list, read once before epoch 1.

``validate_data`` decodes every sample; a training start cannot afford that on
a real corpus, but one header read per entry (``soundfile.info``: rate,
channels, length) finds what would otherwise stop training mid-epoch or train
silently on the wrong audio: other sampling rates, stereo, unreadable files,
pipe entries in a ``sound`` list (espnet2's ``SoundScpReader`` opens paths
only), and clips outside the duration bounds.
"""

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import soundfile

from espnet_bljust.data.audio_checks import (
    AudioInfo,
    audio_problems,
    is_pipe,
    missing_audio_message,
    resolve_audio,
)
from espnet_bljust.data.list_checks import Problem, read_list

PIPE_IN_SOUND_LIST = (
    "a pipe entry in a 'sound' list: espnet2's sound loader opens files only "
    "(write the audio to files with espnet_bljust.data.format_wav)"
)


def header_info(value: str) -> Tuple[Optional[AudioInfo], Optional[str]]:
    """``(rate, channels, frames)`` from a file's header, or ``(None, what is wrong)``."""
    missing = missing_audio_message(value)
    if missing is not None:
        return None, missing
    path = resolve_audio(value)
    try:
        info = soundfile.info(path)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        return None, f"unreadable audio file ({str(e).split(': ')[-1].strip()}): {path}"
    return AudioInfo(rate=info.samplerate, channels=info.channels, frames=info.frames), None


def _training_option(message: str) -> str:
    """validate_data's duration option names -> bljust_train's."""
    return message.replace("--min_duration", "--min_wav_duration").replace(
        "--max_duration", "--max_wav_duration"
    )


def sound_list_problems(
    path: str,
    fs: Optional[int],
    min_duration: Optional[float] = None,
    max_duration: Optional[float] = None,
) -> List[Problem]:
    """Every problem of a ``sound`` list that its headers show, with line and utterance."""
    problems = []
    for lineno, uid, value in read_list(path):
        if is_pipe(value):
            problems.append(Problem(path, PIPE_IN_SOUND_LIST, lineno, uid))
            continue
        if not value.strip():
            problems.append(Problem(path, "no audio path", lineno, uid))
            continue
        info, error = header_info(value)
        found = [error] if error else audio_problems(info, fs, min_duration, max_duration)
        problems += [Problem(path, _training_option(m), lineno, uid) for m in found]
    return problems


def check_list_headers(
    triples: Sequence[Tuple[str, str, str]],
    fs: Optional[int],
    min_duration: Optional[float] = None,
    max_duration: Optional[float] = None,
) -> List[Problem]:
    """The header problems of every ``sound`` list among ``(path, name, type)`` triples."""
    problems = []
    for path, _, kind in triples:
        if kind == "sound" and Path(path).is_file():
            problems += sound_list_problems(path, fs, min_duration, max_duration)
    return problems
