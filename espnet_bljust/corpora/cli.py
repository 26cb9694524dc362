"""The command line of the corpus preparation modules (``python -m espnet_bljust.corpora.<name>``):
one parser shape and one report of what was written, shared by every corpus module."""

import argparse
from pathlib import Path
from typing import Dict


def corpus_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first line of a module's docstring (the rest kept as written)."""
    return argparse.ArgumentParser(
        description=doc.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )


def print_sizes(dirs: Dict[str, Path]) -> None:
    """Print ``<name>: <n> utterances in <dir>`` for each data dir written (its wav.scp lines)."""
    for name, path in dirs.items():
        with open(Path(path) / "wav.scp", encoding="utf-8") as f:
            n = sum(1 for _ in f)
        print(f"{name}: {n} utterances in {path}")
