"""Settings and data checked at training start, before anything is written.

espnet2 writes ``config.yaml`` and builds the model before the trainer reads
the bilevel settings; a bad value then surfaces as a traceback at epoch
start, after exploration, or not at all (γ falling, no model saved). Here
every setting and every training list's audio headers are checked first, and
all problems are reported at once, one line each.
"""

import argparse
import logging
import os
from pathlib import Path
from typing import List, Optional

import humanfriendly

from espnet_bljust.data.audio_checks import resolve_audio
from espnet_bljust.data.header_checks import check_list_headers
from espnet_bljust.data.list_checks import DataCheckError, Problem, read_list
from espnet_bljust.iterators.crop import AUTO, max_length_option

# The recipes' --min_wav_duration / --max_wav_duration (egs2/TEMPLATE/bljust1/bljust.sh);
# the training default for the longest clip is the longest any recipe keeps (30 s).
MIN_DURATION, MAX_DURATION = 0.1, 30.0


class SettingsError(ValueError):
    """Options that cannot train, found before anything is written."""


def add_check_arguments(group) -> None:
    """The options of the start-up audio check (in the BL-JUST argument group)."""
    group.add_argument("--min_wav_duration", type=float, default=MIN_DURATION,
                       help="Training clips shorter than this (s) stop training at start")
    group.add_argument("--max_wav_duration", type=float, default=MAX_DURATION,
                       help="Training clips longer than this (s) stop training at start")
    group.add_argument("--check_audio_headers", type=lambda x: x.lower() == "true",
                       default=True, help="Read every training list's audio headers "
                       "(rate, channels, duration, pipes) before epoch 1")  # fmt: skip


def settings_problems(args: argparse.Namespace) -> List[str]:
    """One line per option value that cannot train."""
    found = []
    if args.max_epoch < 1:
        found.append(f"--max_epoch {args.max_epoch}: must be >= 1 (nothing would be trained or saved)")
    if args.lower_steps_per_upper < 1:
        found.append(f"--lower_steps_per_upper {args.lower_steps_per_upper}: K must be >= 1")
    if args.gamma_init < 0 or args.gamma_max < 0:
        found.append(f"--gamma_init {args.gamma_init} --gamma_max {args.gamma_max}: gamma must be >= 0")
    elif args.gamma_max < args.gamma_init:
        found.append(f"--gamma_max {args.gamma_max} < --gamma_init {args.gamma_init}: "
                     "gamma would fall during the joint phase")  # fmt: skip
    if args.gamma_shape == "exponential" and args.gamma_init <= 0:
        found.append(f"--gamma_shape exponential needs --gamma_init > 0, got {args.gamma_init}")
    if args.just_weight < 0:
        found.append(f"--just_weight {args.just_weight}: must be >= 0")
    if args.max_nonfinite_steps < 1:
        found.append(f"--max_nonfinite_steps {args.max_nonfinite_steps}: must be >= 1")
    if args.keep_last_checkpoints < 0:
        found.append(f"--keep_last_checkpoints {args.keep_last_checkpoints}: must be >= 0")
    if args.min_wav_duration > args.max_wav_duration:
        found.append(f"--min_wav_duration {args.min_wav_duration} > "
                     f"--max_wav_duration {args.max_wav_duration}")  # fmt: skip
    found += crop_problems(args) + interctc_problems(args)
    problem = output_dir_problem(args.output_dir)
    if problem:
        found.append(problem)
    return found


def interctc_problems(args: argparse.Namespace) -> List[str]:
    """Intermediate CTC that the masked passes would get wrong: self-conditioning
    feeds the CTC head φ into every encoder pass, so g's gradient would reach φ;
    and the ``labeled_shared`` pass that f reads keeps the final layer only."""
    found = []
    if (getattr(args, "encoder_conf", None) or {}).get("interctc_use_conditioning"):
        found.append("--encoder_conf interctc_use_conditioning=true: not supported (g's "
                     "gradient would reach the CTC head through the conditioning)")  # fmt: skip
    weight = (getattr(args, "model_conf", None) or {}).get("interctc_weight", 0.0)
    if weight > 0 and args.upper_unsup_source == "labeled_shared":
        found.append(f"--model_conf interctc_weight={weight} with --upper_unsup_source "
                     "labeled_shared: f would read the shared masked pass, which keeps no "
                     "intermediate CTC outputs")  # fmt: skip
    return found


def frontend_rate(args: argparse.Namespace) -> Optional[int]:
    """The frontend's sampling rate (Hz), None without a frontend (features in)."""
    if args.frontend is None:
        return None
    fs = args.frontend_conf.get("fs", 16000)
    return humanfriendly.parse_size(fs) if isinstance(fs, str) else fs


def crop_problems(args: argparse.Namespace) -> List[str]:
    """Lines for a negative ``--unlabeled_length_multiple`` and for an
    ``--unlabeled_max_length`` that is not a length or is shorter than the
    shortest clip training accepts (``--min_wav_duration``)."""
    problems = []
    multiple = getattr(args, "unlabeled_length_multiple", 0)
    if multiple < 0:
        problems.append(f"--unlabeled_length_multiple {multiple}: must be >= 0")
    try:
        value = max_length_option(getattr(args, "unlabeled_max_length", None))
    except argparse.ArgumentTypeError as e:
        return problems + [f"--unlabeled_max_length {e}"]
    fs = frontend_rate(args)
    shortest = None if fs is None else args.min_wav_duration * fs
    if value not in (None, AUTO) and shortest is not None and int(value) < shortest:
        problems.append(
            f"--unlabeled_max_length {value}: shorter than --min_wav_duration "
            f"{args.min_wav_duration} s ({shortest:.0f} samples at {fs} Hz)"
        )
    return problems


def output_dir_problem(output_dir: str) -> Optional[str]:
    """Why ``output_dir`` cannot be written to (a file is created and removed), or None."""
    probe = Path(output_dir).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"--output_dir {output_dir}: {probe} is not a directory"
    test = probe / f".bljust_write_test.{os.getpid()}"
    try:
        test.touch()
        test.unlink()
    except OSError as e:
        return f"--output_dir {output_dir}: cannot write in {probe} ({e.strerror or e})"
    return None


def unread_stream_warnings(args: argparse.Namespace, reads_unlabeled: bool) -> List[str]:
    """A line when an unlabeled stream is given that ``--strategy`` never reads."""
    if args.unlabeled_data_path_and_name_and_type and not reads_unlabeled:
        how = "" if args.strategy == "supervised" else (
            f" with --upper_unsup_source {args.upper_unsup_source} and no exploration")
        return [f"--strategy {args.strategy}{how} never reads the unlabeled stream given "
                "by --unlabeled_data_path_and_name_and_type: it is ignored"]  # fmt: skip
    return []


def overlap_warnings(labeled: List, unlabeled: List) -> List[str]:
    """A line when the labeled and unlabeled speech lists share utterances (id or audio)."""
    speech = [path for path, name, kind in labeled if name == "speech" and kind == "sound"]
    other = [path for path, _, kind in unlabeled if kind == "sound"]
    if not speech or not other or not Path(speech[0]).is_file() or not Path(other[0]).is_file():
        return []
    ids = {uid: lineno for lineno, uid, _ in read_list(other[0])}
    audio = {resolve_audio(v): lineno for lineno, _, v in read_list(other[0]) if v.strip()}
    shared = [(lineno, uid) for lineno, uid, v in read_list(speech[0])
              if uid in ids or (v.strip() and resolve_audio(v) in audio)]  # fmt: skip
    if not shared:
        return []
    lineno, uid = shared[0]
    return [f"{speech[0]}:{lineno}: utterance '{uid}' and {len(shared) - 1} more are also in "
            f"the unlabeled list {other[0]} (labeled and unlabeled sets overlap)"]  # fmt: skip


def audio_header_problems(args: argparse.Namespace, reads_unlabeled: bool) -> List[Problem]:
    """Header problems of the training, validation and (when read) unlabeled lists."""
    if not args.check_audio_headers:
        return []
    fs = frontend_rate(args)
    bounds = (args.min_wav_duration, args.max_wav_duration)
    found = check_list_headers(args.train_data_path_and_name_and_type, fs, *bounds)
    found += check_list_headers(args.valid_data_path_and_name_and_type, fs)
    if reads_unlabeled:
        found += check_list_headers(args.unlabeled_data_path_and_name_and_type, fs, *bounds)
    return found


def check_before_training(args: argparse.Namespace, reads_unlabeled: bool) -> None:
    """Raise SettingsError / DataCheckError for what cannot train; log the warnings.

    Args:
        args: the parsed training options.
        reads_unlabeled: whether ``--strategy`` reads the unlabeled stream.
    """
    problems = settings_problems(args)
    if problems:
        raise SettingsError("; ".join(problems))
    found = audio_header_problems(args, reads_unlabeled)
    if found:
        raise DataCheckError([str(p) for p in found], "audio of the training lists")
    warnings = unread_stream_warnings(args, reads_unlabeled)
    warnings += overlap_warnings(
        args.train_data_path_and_name_and_type, args.unlabeled_data_path_and_name_and_type
    )
    for line in warnings:
        logging.warning(line)
