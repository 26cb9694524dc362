#!/usr/bin/env python3
"""Check Kaldi data dirs (labeled or unlabeled) before training on them.

Prints one line per problem (``file:line: utterance 'id': what is wrong``),
warnings prefixed with ``WARNING:``, then one summary line per dir. Exits 1
when any dir has an error, 0 otherwise (warnings do not count).

Every audio entry is decoded: unreadable, truncated, NaN/Inf and silent
(all-zero) clips are errors, as are other rates and channel counts. Durations
outside ``--min_duration``/``--max_duration`` are errors; without them, clips
outside the recipes' bounds (0.1 s, 20 s) are warnings. ``--loader sound``
(the lists training reads with espnet2's ``sound`` type) makes pipe entries
errors, as that loader opens files only.

Relative audio paths in wav.scp are read relative to the working directory, as
espnet2 reads them: run from the folder the recipe runs in.

Usage:
    python -m espnet_bljust.bin.validate_data data/train_labeled \
        --token_list data/token_list/char/tokens.txt --fs 16000 \
        --overlap_with data/train_unlabeled
    python -m espnet_bljust.bin.validate_data data/train_unlabeled --unlabeled
"""

import argparse
import dataclasses
import sys

from espnet_bljust.data.audio_checks import is_pipe
from espnet_bljust.data.header_checks import PIPE_IN_SOUND_LIST
from espnet_bljust.data.list_checks import TOKEN_TYPES, NotUTF8Error, Problem, Report
from espnet_bljust.data.list_checks import read_list, validate_data_dir

# The recipes' --min_wav_duration / --max_wav_duration (egs2/TEMPLATE/bljust1/bljust.sh).
RECIPE_MIN_DURATION, RECIPE_MAX_DURATION = 0.1, 20.0


def parse_rate(value: str) -> int:
    """``16000``, ``16k`` or ``8k`` -> a rate in Hz (argparse type)."""
    text = value.strip().lower()
    try:
        rate = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
    except ValueError:
        rate = 0.0
    if rate <= 0 or rate != int(rate):
        raise argparse.ArgumentTypeError(f"not a sampling rate: {value!r}")
    return int(rate)


def get_parser() -> argparse.ArgumentParser:
    """The command line of validate_data."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("data_dirs", nargs="+", metavar="data_dir",
                        help="Kaldi data dir(s): wav.scp, and text for a labeled one")
    parser.add_argument("--fs", type=parse_rate, default=16000,
                        help="expected sampling rate (Hz, or e.g. 16k)")
    parser.add_argument("--unlabeled", action="store_true",
                        help="the dir(s) need no transcripts; any text file is ignored")
    parser.add_argument("--token_list", default=None,
                        help="token list: transcripts with units outside it are errors")
    parser.add_argument("--token_type", choices=TOKEN_TYPES, default="char",
                        help="how transcripts are split into tokens")
    parser.add_argument("--bpemodel", default=None,
                        help="sentencepiece model (--token_type bpe)")
    parser.add_argument("--min_duration", type=float, default=None,
                        help="shortest allowed utterance in seconds (default: shorter than "
                        f"{RECIPE_MIN_DURATION} s is a warning)")
    parser.add_argument("--max_duration", type=float, default=None,
                        help="longest allowed utterance in seconds (default: longer than "
                        f"{RECIPE_MAX_DURATION} s is a warning)")
    parser.add_argument("--overlap_with", "--unlabeled_dir", action="append", default=[],
                        metavar="DIR",
                        help="warn about utterances (same id or same audio) also in "
                        "this data dir, e.g. the unlabeled set; may be repeated")
    parser.add_argument("--skip_audio", action="store_true",
                        help="check the lists only, do not read audio (durations come "
                        "from utt2dur where present)")
    parser.add_argument("--pipe_timeout", type=float, default=60.0,
                        help="seconds a 'command |' wav.scp entry may run")
    parser.add_argument("--nj", type=int, default=1,
                        help="audio entries read in parallel")
    parser.add_argument("--loader", choices=("format_wav", "sound"), default="format_wav",
                        help="what reads wav.scp: format_wav (runs 'command |' entries) or "
                        "espnet2's 'sound' type, as training does (files only: pipes are errors)")
    return parser


def sound_loader_problems(data_dir: str) -> list:
    """An error for every pipe entry of ``<data_dir>/wav.scp``."""
    try:
        entries = read_list(f"{data_dir}/wav.scp")
    except (OSError, NotUTF8Error):
        return []  # reported by validate_data_dir
    return [Problem(f"{data_dir}/wav.scp", PIPE_IN_SOUND_LIST, lineno, uid)
            for lineno, uid, value in entries if is_pipe(value)]  # fmt: skip


def bound(given, default, skip_audio):
    """The duration bound to check: the given one, else the recipes' (not with --skip_audio)."""
    return given if given is not None or skip_audio else default


def soften_default_bounds(report: Report, args: argparse.Namespace) -> None:
    """Durations outside bounds nobody asked for are warnings, not errors."""
    defaulted = [args.min_duration is None, args.max_duration is None]
    for i, p in enumerate(report.problems):
        short, long = p.message.startswith("too short"), p.message.startswith("too long")
        if (short and defaulted[0]) or (long and defaulted[1]):
            report.problems[i] = dataclasses.replace(
                p, warning=True, message=p.message + " (the recipes' default bound)"
            )


def main(cmd=None) -> None:
    """Run the checks; exit 1 when any data dir has an error."""
    parser = get_parser()
    args = parser.parse_args(cmd)
    if args.token_type == "bpe" and args.bpemodel is None:
        parser.error("--token_type bpe needs --bpemodel")
    if args.token_type != "bpe" and args.bpemodel is not None:
        parser.error("--bpemodel goes with --token_type bpe")
    failed = False
    for data_dir in args.data_dirs:
        report = validate_data_dir(
            data_dir,
            fs=args.fs,
            unlabeled=args.unlabeled,
            token_list=args.token_list,
            token_type=args.token_type,
            bpemodel=args.bpemodel,
            min_duration=bound(args.min_duration, RECIPE_MIN_DURATION, args.skip_audio),
            max_duration=bound(args.max_duration, RECIPE_MAX_DURATION, args.skip_audio),
            overlap_with=args.overlap_with,
            skip_audio=args.skip_audio,
            pipe_timeout=args.pipe_timeout,
            nj=args.nj,
        )
        if args.loader == "sound":
            report.problems += sound_loader_problems(data_dir)
        soften_default_bounds(report, args)
        for problem in report.problems:
            print(problem)
        print(report.summary())
        failed = failed or bool(report.errors)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
