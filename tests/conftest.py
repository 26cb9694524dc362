"""Shared fixtures: real speech from ../shared/data and tiny espnet2 models."""

import os
import shutil
import sys
from pathlib import Path

# One thread per test process and per process it starts (espnet2 runs, decoding),
# set before torch is imported: `make test` runs one test file per core
# (pytest-xdist), and OpenMP threads that wait for a busy core slow the tiny
# models here by up to 35x (measured: one FSDD utterance's encode took 0.93 s
# with 2 threads beside other work, 0.027 s with 1).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest

from espnet_bljust.conf import config_path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(
    os.environ.get("BLJUST_SHARED_DATA", REPO.parent / "shared" / "data")
).resolve()
TINY_CONFIG = config_path("train_bljust_conformer_tiny.yaml")


# The files that take minutes (from one run's --durations). `make test` hands whole
# files to its worker processes in collection order: these go first so that no
# worker starts one of them when the others are nearly done.
SLOW_FILES = (
    "egs2/test_fsdd_recipe.py", "experiments/test_protocol_run.py",
    "bench/test_gpu_check.py", "egs2/test_demo_recipe.py",
    "bin/test_compare_strategies.py", "train/test_faults_fsdd.py",
    "egs2/test_fullscale_configs.py", "egs2/test_an4_recipe.py",
)  # fmt: skip


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.path.relative_to(REPO / "tests").as_posix()
        return SLOW_FILES.index(path) if path in SLOW_FILES else len(SLOW_FILES)

    items.sort(key=rank)  # stable: the rest keep pytest's order


def copy_recipe(corpus: str, dest: Path, **env_vars: str):
    """A copy of egs2/<corpus>/bljust1 in ``dest`` (links resolved; no data, dump,
    exp or downloads) and the environment to run it: this Python first on PATH,
    BLJUST_ROOT = this repo, the local backend, no HF_TOKEN, plus ``env_vars``.

    Returns:
        (recipe dir, env)
    """
    recipe = Path(dest) / "bljust1"
    shutil.copytree(REPO / "egs2" / corpus / "bljust1", recipe, symlinks=False,
                    ignore=shutil.ignore_patterns("data", "exp", "downloads", "dump"))  # fmt: skip
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.update(BLJUST_ROOT=str(REPO), cmd_backend="local", **env_vars)
    env.pop("HF_TOKEN", None)
    return recipe, env


def shared_dataset(name: str) -> Path:
    """Path of a data set under ../shared/data, or skip the test with a reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(
            f"real-speech data set {name!r} not found at {path} "
            "(set BLJUST_SHARED_DATA to the folder holding it)"
        )
    return path


def asr_batch(paths, token_ids) -> dict:
    """Real recordings (read with soundfile) and their token ids as one batch in
    espnet2's layout: speech (B, T) float32 zero-padded, speech_lengths (B,),
    text (B, L) padded with -1, text_lengths (B,)."""
    import soundfile
    import torch

    pad = torch.nn.utils.rnn.pad_sequence
    waves = [torch.from_numpy(soundfile.read(p, dtype="float32")[0]) for p in paths]
    texts = [torch.tensor(ids) for ids in token_ids]
    return dict(
        speech=pad(waves, batch_first=True),
        speech_lengths=torch.tensor([len(w) for w in waves]),
        text=pad(texts, batch_first=True, padding_value=-1),
        text_lengths=torch.tensor([len(t) for t in texts]),
    )


@pytest.fixture(scope="session")
def fsdd_root() -> Path:
    return shared_dataset("fsdd")


@pytest.fixture(scope="session")
def fsdd_small(fsdd_root, tmp_path_factory) -> Path:
    """A small real FSDD semi-supervised split with shapes and a char token list.

    train_labeled: 60 utts (1 take per speaker and digit), train_unlabeled:
    120 utts, dev: 60, test: 60.
    """
    from espnet_bljust.corpora.fsdd import make_fsdd_split
    from espnet_bljust.data.kaldi_lists import write_token_list_and_shapes

    out = tmp_path_factory.mktemp("fsdd_small")
    dirs = make_fsdd_split(
        fsdd_root, out, labeled_takes=1, unlabeled_takes=2, dev_takes=1, test_takes=1
    )
    write_token_list_and_shapes(
        dirs["train_labeled"] / "text", out / "tokens.txt", dirs.values()
    )
    return out


def train_args(data: Path, output_dir: Path, *extra: str) -> list:
    """bljust_train arguments for the tiny config on a split made by fsdd_small."""
    args = [
        "--config", str(TINY_CONFIG),
        "--ngpu", "0",
        "--seed", "0",
        "--token_list", str(data / "tokens.txt"),
        "--token_type", "char",
        "--output_dir", str(output_dir),
        "--encoder_conf", "num_blocks=2",
        "--encoder_conf", "output_size=96",
        "--encoder_conf", "linear_units=192",
        "--batch_size", "12",
        "--use_tensorboard", "false",
        "--use_matplotlib", "false",
        "--fold_length", "80000",
        "--fold_length", "150",
    ]  # fmt: skip
    for name, stream in (("train", "train_labeled"), ("valid", "dev")):
        args += [
            f"--{name}_data_path_and_name_and_type",
            f"{data / stream / 'wav.scp'},speech,sound",
            f"--{name}_data_path_and_name_and_type",
            f"{data / stream / 'text'},text,text",
            f"--{name}_shape_file", str(data / stream / "speech_shape"),
            f"--{name}_shape_file", str(data / stream / "text_shape"),
        ]  # fmt: skip
    args += [
        "--unlabeled_data_path_and_name_and_type",
        f"{data / 'train_unlabeled' / 'wav.scp'},speech,sound",
        "--unlabeled_shape_file",
        str(data / "train_unlabeled" / "speech_shape"),
    ]
    return args + list(extra)
