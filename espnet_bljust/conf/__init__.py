"""Configs the package ships (package data): the tiny training config of tests,
benchmarks and the comparison harness, and the CTC decoding configs.

``config_path("train_bljust_conformer_tiny.yaml")`` finds one in an editable
checkout and in an installed wheel alike.
"""

from importlib.resources import files
from pathlib import Path
from typing import List

TINY_CONFIG = "train_bljust_conformer_tiny.yaml"
DECODE_CONFIGS = ("decode_ctc_greedy.yaml", "decode_ctc_beam.yaml")


def shipped_configs() -> List[str]:
    """Names of the YAML configs shipped with the package."""
    return sorted(p.name for p in files(__name__).iterdir() if p.name.endswith(".yaml"))


def config_path(name: str) -> Path:
    """The file of a shipped config (the package is installed as files, not zipped)."""
    path = Path(str(files(__name__) / name))
    if not path.is_file():
        raise FileNotFoundError(
            f"{name}: no such config in espnet_bljust/conf (shipped: {shipped_configs()})"
        )
    return path
