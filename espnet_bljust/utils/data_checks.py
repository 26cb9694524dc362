"""Checks of the training lists that run before any model step.

espnet2's dataset looks every utterance up in every list, so an utterance
without a transcript surfaces as a KeyError deep inside a DataLoader worker,
possibly hours into training. These checks read the Kaldi-style lists up front
and report every problem with file, line and utterance id.
"""

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

# List types whose files are not "<uid> <value>" text lines.
_NON_TEXT_TYPES = {"hdf5", "rand_float", "rand_int"}
_MAX_REPORTED = 20


class DataCheckError(ValueError):
    """Bad training data, found before training started."""

    def __init__(self, problems: List[str], what: str):
        self.problems = problems
        shown = problems[:_MAX_REPORTED]
        more = len(problems) - len(shown)
        lines = [f"{what}: {len(problems)} problem(s)"] + [f"  {p}" for p in shown]
        if more > 0:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


def read_list(path: str) -> List[Tuple[int, str, str]]:
    """Read a Kaldi list: one ``(line_number, uid, value)`` per non-blank line."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            entries.append((lineno, parts[0], parts[1] if len(parts) > 1 else ""))
    return entries


def _text_lists(triples: Sequence[Tuple[str, str, str]]) -> Dict[str, str]:
    return {name: path for path, name, typ in triples if typ not in _NON_TEXT_TYPES}


def check_labeled_lists(triples: Sequence[Tuple[str, str, str]], what: str) -> None:
    """Every speech entry has a non-empty transcript; the lists exist.

    Args:
        triples: ``(path, name, type)`` as given to
            ``--train_data_path_and_name_and_type``.
        what: label of the data set in the message, e.g. "labeled training data".

    Raises:
        DataCheckError: listing every problem found.
    """
    problems: List[str] = []
    lists = _text_lists(triples)
    for path in lists.values():
        if not Path(path).is_file():
            problems.append(f"{path}: file not found")
    if problems:
        raise DataCheckError(problems, what)
    if "speech" not in lists or "text" not in lists:
        return
    speech = read_list(lists["speech"])
    text = read_list(lists["text"])
    if not speech:
        problems.append(f"{lists['speech']}: no utterances")
    transcripts = {uid: (lineno, value) for lineno, uid, value in text}
    for lineno, uid, _ in speech:
        if uid not in transcripts:
            problems.append(
                f"{lists['speech']}:{lineno}: utterance '{uid}' has no transcript "
                f"in {lists['text']}"
            )
    for lineno, uid, value in text:
        if not value.strip():
            problems.append(
                f"{lists['text']}:{lineno}: utterance '{uid}' has an empty transcript"
            )
    if problems:
        raise DataCheckError(problems, what)


def check_unlabeled_lists(
    triples: Sequence[Tuple[str, str, str]],
    shape_files: Sequence[str],
    what: str,
) -> None:
    """The unlabeled stream exists, is not empty and only carries speech.

    Raises:
        DataCheckError: listing every problem found.
    """
    problems: List[str] = []
    if not triples:
        problems.append("no list given (--unlabeled_data_path_and_name_and_type)")
    if not shape_files:
        problems.append("no shape file given (--unlabeled_shape_file)")
    for path, name, _ in triples:
        if name != "speech":
            problems.append(
                f"{path}: the unlabeled stream takes only 'speech', got '{name}'"
            )
    for path in list(_text_lists(triples).values()) + list(shape_files):
        if not Path(path).is_file():
            problems.append(f"{path}: file not found")
        elif not read_list(path):
            problems.append(f"{path}: no utterances (empty list)")
    if problems:
        raise DataCheckError(problems, what)
