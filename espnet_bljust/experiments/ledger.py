"""Finished jobs' records kept in a folder that git holds, so that a protocol
run continues in a fresh checkout (where ``--out_dir`` and its models are gone)
without redoing what it finished.

The ledger mirrors the small JSON records of ``out_dir`` (one per finished
job, and the fixed choices); models are not kept. Paths inside a record are
written relative to placeholders for the repository and ``out_dir``, so the
records fit another checkout of the same repository at another path.
"""

import json
import re
from pathlib import Path
from typing import Callable, List, Tuple

from espnet_bljust.experiments.argv import REPO


class Ledger:
    """The records of ``out_dir`` mirrored under ``root``.

    Args:
        root: the ledger folder (inside the repository, to be committed).
        out_dir: the run's output folder, as given to the harness.
    """

    def __init__(self, root: Path, out_dir: Path):
        self.root = Path(root)
        self.out = Path(out_dir)
        # (text in out_dir's records, placeholder in the ledger): the longer first
        pairs = [(str(self.out.resolve()), "{out_dir_abs}"), (str(REPO), "{repo}"),
                 (str(self.out), "{out_dir}")]  # fmt: skip
        self.pairs: List[Tuple[str, str]] = [(a, b) for a, b in pairs if a not in ("", ".")]
        # each real path as a whole: not inside a word or a longer path
        self.whole = [(re.compile(r"(?<![\w./-])" + re.escape(real) + r"(?![\w.-])"), placeholder)
                      for real, placeholder in self.pairs]  # fmt: skip

    def _ledger_text(self, text: str) -> str:
        def to_placeholders(value: str) -> str:
            for whole, placeholder in self.whole:
                value = whole.sub(lambda _: placeholder, value)
            return value

        return _map_paths(text, to_placeholders)

    def _out_text(self, text: str) -> str:
        def to_paths(value: str) -> str:
            for real, placeholder in self.pairs:
                value = value.replace(placeholder, real)
            return value

        return _map_paths(text, to_paths)

    def keep(self, path: Path) -> None:
        """Copy the record ``path`` (a file under ``out_dir``) into the ledger."""
        rel = Path(path).resolve().relative_to(self.out.resolve())
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(self._ledger_text(Path(path).read_text(encoding="utf-8")), encoding="utf-8")
        tmp.replace(target)

    def restore(self) -> int:
        """Write every ledger record that ``out_dir`` lacks; returns how many."""
        count = 0
        for record in sorted(self.root.rglob("*.json")) if self.root.is_dir() else []:
            target = self.out / record.relative_to(self.root)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self._out_text(record.read_text(encoding="utf-8")),
                              encoding="utf-8")  # fmt: skip
            count += 1
        return count


def _map_paths(text: str, change: Callable[[str], str]) -> str:
    """A JSON record (as the harness writes it: indent 1) with ``change`` applied
    to every string in it except the transcripts (values of ``*_texts`` keys,
    uid -> text, which may hold any word, e.g. a relative out_dir's name)."""

    def walk(value, transcripts=False):
        if isinstance(value, str):
            return value if transcripts else change(value)
        if isinstance(value, list):
            return [walk(v, transcripts) for v in value]
        if isinstance(value, dict):
            return {k: walk(v, transcripts or k.endswith("_texts")) for k, v in value.items()}
        return value

    return json.dumps(walk(json.loads(text)), indent=1)
