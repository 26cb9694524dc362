"""A self-made multi-speaker demo corpus synthesized with espeak-ng.

Sentences come from a small AN4-like grammar (digit strings, commands with
digits, commands on coloured objects). A "speaker" is an espeak-ng voice +
variant with its own pitch and speed; the test speakers use voices (accents)
that no training speaker uses.

Usage:
    python -m espnet_bljust.corpora.espeak --out data --audio_dir downloads/wav \
        --num_labeled 300 --num_unlabeled 900 --num_dev 60 --num_test 60
"""

import argparse
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

from espnet_bljust.corpora.cli import print_sizes
from espnet_bljust.corpora.fsdd import DIGITS
from espnet_bljust.data.kaldi_lists import write_data_dir

COMMANDS = ["ENTER", "ERASE", "REPEAT", "RUBOUT", "STOP", "GO", "YES", "NO", "HELP", "START"]
COLORS = ["RED", "BLUE", "GREEN", "BLACK", "WHITE", "BROWN"]
OBJECTS = ["CAT", "DOG", "MAP", "SUN", "BOX", "KEY", "PEN", "CUP", "BOOK", "LAMP"]

# Six English accents for training, two others for test only.
TRAIN_VOICES = ["en-us", "en", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc"]
TEST_VOICES = ["en-gb-scotland", "en-029"]
VARIANTS = ["m1", "m3", "m5", "f1", "f3", "f4"]
# Held-out dev speakers (``dev_speakers="held_out"``): the training accents with
# variants no training speaker uses, i.e. new voices of seen accents.
DEV_VARIANTS = ["m2", "m4", "f2", "f5"]


def make_sentence(rng: random.Random) -> str:
    """One utterance of the grammar, in upper case words.

    Digit strings, commands with digits, and commands on a (coloured) object:
    whole words only. Spelled single letters (B, D, E, P, T, V, ...) are left
    out: one word per letter makes each confusion a word error, and a few
    hundred labeled utterances do not teach them within the demo's budget.
    """
    kind = rng.random()
    if kind < 0.35:
        return " ".join(rng.choice(DIGITS) for _ in range(rng.randint(2, 5)))
    command = rng.choice(COMMANDS)
    if kind < 0.65:
        return " ".join([command] + [rng.choice(DIGITS) for _ in range(rng.randint(1, 3))])
    colour = [rng.choice(COLORS)] if rng.random() < 0.6 else []
    return " ".join([command, *colour, rng.choice(OBJECTS)])


def make_speakers(voices: List[str], rng: random.Random,
                  variants: List[str] = VARIANTS) -> Dict[str, Tuple[str, int, int]]:  # fmt: skip
    """speaker id -> (espeak voice, speed in wpm, pitch 0-99)."""
    speakers = {}
    for voice in voices:
        for variant in variants:
            spk = f"{voice.replace('-', '')}{variant}"
            speakers[spk] = (f"{voice}+{variant}", rng.randint(130, 190), rng.randint(30, 70))
    return speakers


def synthesize(text: str, voice: str, speed: int, pitch: int, out: Path) -> Path:
    """espeak-ng -> 16 kHz mono PCM16 wav through sox.

    sox dithers when it writes 16-bit samples after resampling, with a new
    random seed every run unless ``-R`` (repeatable) is given: without it the
    same corpus seed gave different audio on every build.
    """
    espeak = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["sox", "-R", "-t", "wav", "-", "-r", "16000", "-c", "1", "-b", "16", str(out)],
        input=espeak.stdout,
        check=True,
        capture_output=True,
    )
    return out


def make_corpus(
    out: Path,
    audio_dir: Path,
    num_labeled: int = 300,
    num_unlabeled: int = 900,
    num_dev: int = 60,
    num_test: int = 60,
    seed: int = 0,
    jobs: int = 2,
    dev_speakers: str = "train",
) -> Dict[str, Path]:
    """Synthesize the corpus and write train_labeled, train_unlabeled, dev, test.

    ``dev_speakers``: "train" (dev from the training speakers) or "held_out"
    (dev from speakers in no training stream and not in test: the training
    accents with :data:`DEV_VARIANTS`, so that tuning on dev rewards new voices).
    """
    if dev_speakers not in ("train", "held_out"):
        raise ValueError(f"dev_speakers: 'train' or 'held_out', got {dev_speakers!r}")
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"{tool} not found: install it (Debian: apt-get install -y espeak-ng sox)"
            )
    rng = random.Random(seed)
    train_spk = make_speakers(TRAIN_VOICES, rng)
    test_spk = make_speakers(TEST_VOICES, rng)
    dev_spk = train_spk
    if dev_speakers == "held_out":
        dev_spk = make_speakers(TRAIN_VOICES, rng, DEV_VARIANTS)
    plan = {
        "train_labeled": (num_labeled, train_spk, True),
        "train_unlabeled": (num_unlabeled, train_spk, False),
        "dev": (num_dev, dev_spk, True),
        "test": (num_test, test_spk, True),
    }
    audio_dir = Path(audio_dir).resolve()
    audio_dir.mkdir(parents=True, exist_ok=True)
    jobs_list, rows = [], {name: [] for name in plan}
    for name, (count, speakers, labeled) in plan.items():
        spk_ids = sorted(speakers)
        for i in range(count):
            spk = spk_ids[i % len(spk_ids)]
            text = make_sentence(rng)
            uid = f"{spk}-{name}-{i:05d}"
            wav = audio_dir / f"{uid}.wav"
            jobs_list.append((text, *speakers[spk], wav))
            rows[name].append((uid, str(wav), text if labeled else None, spk))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda job: job[-1].exists() or synthesize(*job), jobs_list))
    return {name: write_data_dir(Path(out) / name, r) for name, r in rows.items()}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--audio_dir", type=Path, required=True)
    parser.add_argument("--num_labeled", type=int, default=300)
    parser.add_argument("--num_unlabeled", type=int, default=900)
    parser.add_argument("--num_dev", type=int, default=60)
    parser.add_argument("--num_test", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nj", type=int, default=2)
    parser.add_argument("--dev_speakers", choices=("train", "held_out"), default="train",
                        help="dev from the training speakers, or from held-out voices "
                        "of the training accents")
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    dirs = make_corpus(
        args.out, args.audio_dir, args.num_labeled, args.num_unlabeled,
        args.num_dev, args.num_test, args.seed, args.nj, args.dev_speakers,
    )  # fmt: skip
    print_sizes(dirs)


if __name__ == "__main__":
    main()
