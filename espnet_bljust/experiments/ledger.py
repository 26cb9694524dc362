"""Finished jobs' records kept in a folder that git holds, so that a protocol
run continues in a fresh checkout (where ``--out_dir`` and its models are gone)
without redoing what it finished.

The ledger mirrors the small JSON records of ``out_dir`` (one per finished
job, and the fixed choices); models are not kept. Paths inside a record are
written relative to placeholders for the repository and ``out_dir``, so the
records fit another checkout of the same repository at another path.
"""

from pathlib import Path
from typing import List, Tuple

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

    def _ledger_text(self, text: str) -> str:
        for real, placeholder in self.pairs:
            text = text.replace(real, placeholder)
        return text

    def _out_text(self, text: str) -> str:
        for real, placeholder in self.pairs:
            text = text.replace(placeholder, real)
        return text

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
