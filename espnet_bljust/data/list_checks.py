"""Checks of Kaldi data dirs and training lists, with file, line and utterance id.

espnet2's dataset looks every utterance up in every list, so an utterance
without a transcript surfaces as a KeyError deep inside a DataLoader worker,
possibly hours into training. These checks read the Kaldi-style lists up front
and report every problem with file, line and utterance id.

Two levels:

- ``check_labeled_lists`` / ``check_unlabeled_lists``: the lists given to
  training, run at every training start (fast: no audio is read);
- ``validate_data_dir``: a whole data dir, audio included (see
  ``espnet_bljust.bin.validate_data``): ids, sort order, pairing of
  wav.scp/text/utt2spk, transcripts against the token list, every audio entry
  decoded (``audio_checks``), duration limits, overlap with another set.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from espnet_bljust.data.audio_checks import (
    audio_problems,
    duration_problems,
    missing_audio_message,
    probe_entries,
    resolve_audio,
)

# List types whose files are not "<uid> <value>" text lines.
_NON_TEXT_TYPES = {"hdf5", "rand_float", "rand_int"}
_MAX_REPORTED = 20
TOKEN_TYPES = ("char", "bpe", "word")
Entries = List[Tuple[int, str, str]]


class DataCheckError(ValueError):
    """Bad training data, found before training started."""

    def __init__(self, problems: List[str], what: str):
        self.problems = problems
        shown = problems[:_MAX_REPORTED]
        more = len(problems) - len(shown)
        if len(problems) == 1:  # one line
            super().__init__(f"{what}: {problems[0]}")
            return
        lines = [f"{what}: {len(problems)} problem(s)"] + [f"  {p}" for p in shown]
        if more > 0:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Problem:
    """One finding; ``str()`` gives ``path:line: utterance 'uid': message``."""

    path: str
    message: str
    lineno: Optional[int] = None
    uid: Optional[str] = None
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}:{self.lineno}" if self.lineno else str(self.path)
        what = self.message if self.uid is None else f"utterance '{self.uid}': {self.message}"
        return f"{'WARNING: ' if self.warning else ''}{where}: {what}"


@dataclass
class Report:
    """What ``validate_data_dir`` found in one data dir."""

    data_dir: str
    problems: List[Problem] = field(default_factory=list)
    num_utts: int = 0
    seconds: Optional[float] = None  # None when the audio was not measured
    labeled: bool = False

    @property
    def errors(self) -> List[Problem]:
        """The problems that make the dir unusable."""
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> List[Problem]:
        """The problems reported as warnings only."""
        return [p for p in self.problems if p.warning]

    def summary(self) -> str:
        """One line: ``<dir>: OK: ...`` or ``<dir>: N error(s), M warning(s) in K utterances``."""
        warned = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        if self.errors:
            return (f"{self.data_dir}: {len(self.errors)} error(s), {len(self.warnings)} "
                    f"warning(s) in {self.num_utts} utterances")  # fmt: skip
        kind = "labeled" if self.labeled else "unlabeled"
        if self.seconds is None:
            size = " (audio not read)"
        else:  # seconds too where the hours round to nearly nothing
            size = f", {self.seconds / 3600:.3f} h"
            size += f" ({self.seconds:.1f} s)" if self.seconds < 360 else ""
        return f"{self.data_dir}: OK: {self.num_utts} {kind} utterances{size}{warned}"


class NotUTF8Error(ValueError):
    """A list line that is not UTF-8; ``problem`` names file, line and utterance."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def read_list(path: Union[str, Path]) -> Entries:
    """Read a Kaldi list: one ``(line_number, uid, value)`` per non-blank line.

    Raises:
        NotUTF8Error: naming the file, line and byte of the first bad line.
    """
    entries = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\n")
            except UnicodeDecodeError as e:
                uid = raw.split(maxsplit=1)[0].decode("utf-8", "replace") if raw.strip() else None
                message = f"not UTF-8 text (byte {raw[e.start]:#04x} at column {e.start + 1})"
                raise NotUTF8Error(Problem(str(path), message, lineno, uid)) from e
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            entries.append((lineno, parts[0], parts[1] if len(parts) > 1 else ""))
    return entries


def duplicate_ids(entries: Entries, path: str) -> List[Problem]:
    """An error for every id already listed on an earlier line."""
    first: Dict[str, int] = {}
    problems = []
    for lineno, uid, _ in entries:
        if uid in first:
            message = f"duplicate id (first at line {first[uid]})"
            problems.append(Problem(path, message, lineno, uid))
        else:
            first[uid] = lineno
    return problems


def unsorted_ids(entries: Entries, path: str) -> List[Problem]:
    """One error at the first id out of C-locale (byte) order, counting the others."""
    bad = [(e[0], e[1], p[1]) for p, e in zip(entries, entries[1:])
           if e[1].encode("utf-8") < p[1].encode("utf-8")]  # fmt: skip
    if not bad:
        return []
    lineno, uid, before = bad[0]
    more = f"; {len(bad) - 1} more line(s) out of order" if len(bad) > 1 else ""
    return [Problem(path, f"ids not sorted: comes after '{before}' "
                          f"(Kaldi wants LC_ALL=C sort order{more})", lineno, uid)]  # fmt: skip


def missing_ids(entries: Entries, path: str, others: Set[str], message: str) -> List[Problem]:
    """An error for every id of ``entries`` that ``others`` lacks."""
    return [Problem(path, message, lineno, uid) for lineno, uid, _ in entries if uid not in others]


def read_token_list(path: Union[str, Path]) -> List[str]:
    """The tokens of an espnet2 token list file, one a line."""
    with open(path, encoding="utf-8") as f:
        return [t for t in (line.rstrip("\r\n") for line in f) if t]


def char_units(text: str) -> List[str]:
    """espnet2's CharTokenizer units: characters, a space as ``<space>``."""
    return ["<space>" if c == " " else c for c in text]


def _quoted(units: Iterable[str]) -> str:
    return ", ".join(repr(u) for u in dict.fromkeys(units))


def transcript_checker(
    token_type: str = "char",
    token_list: Optional[Union[str, Path, Sequence[str]]] = None,
    bpemodel: Optional[Union[str, Path]] = None,
) -> Callable[[str], List[str]]:
    """A function transcript -> what in it espnet2 would turn into ``<unk>``.

    Args:
        token_type: ``char`` (characters, spaces as ``<space>``), ``word``
            (whitespace-split words) or ``bpe`` (sentencepiece pieces).
        token_list: the token list file (or the tokens themselves, as espnet2
            holds them in ``args.token_list`` once the model is built); may be
            None for ``bpe`` only.
        bpemodel: the sentencepiece model, required for ``bpe``.
    """
    if token_type not in TOKEN_TYPES:
        raise ValueError(f"token_type must be one of {TOKEN_TYPES}, got {token_type!r}")
    if isinstance(token_list, (list, tuple)):
        vocab = set(token_list)
        token_list = "(the training token list)"
    else:
        vocab = set(read_token_list(token_list)) if token_list is not None else None
    if token_type != "bpe":
        if vocab is None:
            raise ValueError(f"token_type {token_type} needs a token list")
        split = char_units if token_type == "char" else str.split
        kind = "characters" if token_type == "char" else "words"

        def check(text: str) -> List[str]:
            oov = [u for u in split(text) if u not in vocab]
            return [f"{kind} not in the token list {token_list}: {_quoted(oov)}"] if oov else []

        return check
    if bpemodel is None:
        raise ValueError("token_type bpe needs a bpemodel")
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(bpemodel))

    def check_bpe(text: str) -> List[str]:
        pieces = sp.encode(text, out_type="immutable_proto").pieces
        unk = [p.surface for p in pieces if p.id == sp.unk_id()]
        oov = [p.piece for p in pieces if p.id != sp.unk_id() and vocab is not None
               and p.piece not in vocab]  # fmt: skip
        found = []
        if unk:
            found.append(f"characters the bpe model {bpemodel} maps to <unk>: {_quoted(unk)}")
        if oov:
            found.append(f"pieces not in the token list {token_list}: {_quoted(oov)}")
        return found

    return check_bpe


def check_transcripts(
    entries: Entries, path: str, checker: Optional[Callable[[str], List[str]]] = None
) -> List[Problem]:
    """Empty transcripts, and what ``checker`` (see ``transcript_checker``) finds."""
    problems = []
    for lineno, uid, text in entries:
        text = text.strip()  # espnet2 reads "uid text" with trailing blanks removed
        if not text:
            problems.append(Problem(path, "empty transcript", lineno, uid))
        elif checker is not None:
            problems += [Problem(path, m, lineno, uid) for m in checker(text)]
    return problems


def overlap_warnings(entries: Entries, path: str, other_dir: Union[str, Path]) -> List[Problem]:
    """Warnings for utterances of ``entries`` (a wav.scp) that ``other_dir`` also holds.

    Matches by utterance id and by identical audio (the same resolved path, or
    the same pipe command).
    """
    other_scp = Path(other_dir) / "wav.scp"
    if not other_scp.is_file():
        return [Problem(str(other_scp), "file not found (set given to compare with)")]
    other = read_list(other_scp)
    by_id = {uid: lineno for lineno, uid, _ in other}
    by_audio = {resolve_audio(v): (lineno, uid) for lineno, uid, v in other if v.strip()}
    problems = []
    for lineno, uid, value in entries:
        hit = by_audio.get(resolve_audio(value)) if value.strip() else None
        if uid in by_id and hit and hit[1] == uid:
            message = f"also in {other_scp}:{by_id[uid]} (same id and audio)"
        elif uid in by_id:
            message = f"same id as {other_scp}:{by_id[uid]} (other audio)"
        elif hit:
            message = f"same audio as {other_scp}:{hit[0]} (utterance '{hit[1]}')"
        else:
            continue
        problems.append(Problem(path, message, lineno, uid, warning=True))
    return problems


def _durations_from_utt2dur(
    entries: Entries, path: str, min_duration: Optional[float], max_duration: Optional[float]
) -> Tuple[Dict[str, float], List[Problem]]:
    seconds, problems = {}, []
    for lineno, uid, value in entries:
        try:
            seconds[uid] = float(value)
        except ValueError:
            problems.append(Problem(path, f"not a duration: {value!r}", lineno, uid))
            continue
        for message in duration_problems(seconds[uid], min_duration, max_duration):
            problems.append(Problem(path, message, lineno, uid))
    return seconds, problems


def validate_data_dir(
    data_dir: Union[str, Path],
    fs: Optional[int] = 16000,
    unlabeled: bool = False,
    token_list: Optional[Union[str, Path]] = None,
    token_type: str = "char",
    bpemodel: Optional[Union[str, Path]] = None,
    min_duration: Optional[float] = None,
    max_duration: Optional[float] = None,
    overlap_with: Sequence[Union[str, Path]] = (),
    skip_audio: bool = False,
    pipe_timeout: float = 60.0,
    nj: int = 1,
) -> Report:
    """Check a Kaldi data dir; nothing is raised, everything found is in the report.

    A dir with a ``text`` file is labeled; ``unlabeled=True`` ignores any text.

    Args:
        data_dir: the dir holding ``wav.scp`` (and ``text``, ``utt2spk``, ``utt2dur``).
        fs: expected sampling rate in Hz (None: any).
        unlabeled: check the dir as an unlabeled set (no transcripts needed).
        token_list, token_type, bpemodel: check transcripts against the tokens
            (see ``transcript_checker``); no token check without either file.
        min_duration, max_duration: limits in seconds (None: no limit).
        overlap_with: other data dirs whose utterances (same id or same audio)
            are reported as warnings, e.g. the unlabeled set of a labeled one.
        skip_audio: check the lists only; durations then come from ``utt2dur``
            where there is one.
        pipe_timeout: seconds a ``command |`` entry may run.
        nj: entries decoded in parallel (threads).
    """
    d = Path(data_dir)
    report = Report(str(data_dir), labeled=not unlabeled and (d / "text").is_file())
    problems = report.problems
    wav_scp = str(d / "wav.scp")
    if not d.is_dir():
        problems.append(Problem(str(data_dir), "not a directory"))
        return report
    if (d / "segments").exists():
        problems.append(Problem(str(d / "segments"), "segments are not supported: "
                                "wav.scp must hold one utterance an entry"))  # fmt: skip
        return report
    lists: Dict[str, Entries] = {}
    for name in ("wav.scp", "text", "utt2spk", "utt2dur"):
        if (d / name).is_file() and not (name == "text" and unlabeled):
            try:
                lists[name] = read_list(d / name)
            except NotUTF8Error as e:
                problems.append(e.problem)
    if "wav.scp" not in lists:
        if not Path(wav_scp).is_file():
            problems.append(Problem(wav_scp, "file not found"))
        return report
    wav = lists["wav.scp"]
    wav_ids = {uid for _, uid, _ in wav}
    report.num_utts = len(wav_ids)
    if not wav:
        problems.append(Problem(wav_scp, "no utterances (empty set)"))
        return report
    for name in ("wav.scp", "text", "utt2spk"):
        if name in lists:
            problems += duplicate_ids(lists[name], str(d / name))
            problems += unsorted_ids(lists[name], str(d / name))
    for name, no_value in (("text", "no transcript"), ("utt2spk", "no speaker")):
        if name in lists:
            path = str(d / name)
            problems += missing_ids(lists[name], path, wav_ids, f"no audio (not in {wav_scp})")
            ids = {uid for _, uid, _ in lists[name]}
            problems += missing_ids(wav, wav_scp, ids, f"{no_value} (not in {path})")
    if "text" in lists:
        checker = None
        if token_list is not None or bpemodel is not None:
            try:
                checker = transcript_checker(token_type, token_list, bpemodel)
            except (OSError, RuntimeError, ValueError) as e:
                where = str(token_list if token_list is not None else bpemodel)
                problems.append(Problem(where, f"cannot check transcripts: {e}"))
        problems += check_transcripts(lists["text"], str(d / "text"), checker)

    with_path = [(lineno, uid, value) for lineno, uid, value in wav if value.strip()]
    problems += [Problem(wav_scp, "no audio path", lineno, uid)
                 for lineno, uid, value in wav if not value.strip()]  # fmt: skip
    if not skip_audio:
        results = probe_entries([v for _, _, v in with_path], pipe_timeout, nj, d)
        report.seconds = 0.0
        for (lineno, uid, _), (info, error) in zip(with_path, results):
            found = [error] if error else audio_problems(info, fs, min_duration, max_duration)
            problems += [Problem(wav_scp, m, lineno, uid) for m in found]
            report.seconds += info.seconds if info else 0.0
    elif "utt2dur" in lists:
        seconds, found = _durations_from_utt2dur(
            lists["utt2dur"], str(d / "utt2dur"), min_duration, max_duration
        )
        problems += found
        report.seconds = sum(seconds.get(uid, 0.0) for uid in wav_ids)
    elif min_duration is not None or max_duration is not None:
        problems.append(Problem(str(data_dir), "duration limits not checked "
                                "(--skip_audio and no utt2dur)", warning=True))  # fmt: skip
    for other in overlap_with:
        problems += overlap_warnings(wav, wav_scp, other)
    problems.sort(key=lambda p: (p.warning, p.path, p.lineno or 0))
    return report


def _text_lists(triples: Sequence[Tuple[str, str, str]]) -> Dict[str, str]:
    return {name: path for path, name, typ in triples if typ not in _NON_TEXT_TYPES}


def check_labeled_lists(
    triples: Sequence[Tuple[str, str, str]],
    what: str,
    token_list: Optional[Union[str, Path, Sequence[str]]] = None,
    token_type: str = "char",
    bpemodel: Optional[Union[str, Path]] = None,
) -> None:
    """Every speech entry has a non-empty transcript; the lists exist; no id twice.

    Fast (no audio is read): it runs at every training start. The messages
    are the ones ``validate_data`` prints for the same problems.

    Args:
        triples: ``(path, name, type)`` as given to
            ``--train_data_path_and_name_and_type``.
        what: label of the data set in the message, e.g. "labeled training data".
        token_list, token_type, bpemodel: when given, transcripts must be
            covered by the tokens (see ``transcript_checker``).

    Raises:
        DataCheckError: listing every problem found.
    """
    problems: List[Problem] = []
    lists = _text_lists(triples)
    for path in lists.values():
        if not Path(path).is_file():
            problems.append(Problem(path, "file not found"))
    if problems or "speech" not in lists or "text" not in lists:
        _raise_if_any(problems, what)
        return
    speech_path, text_path = lists["speech"], lists["text"]
    speech, text = read_list(speech_path), read_list(text_path)
    if not speech:
        problems.append(Problem(speech_path, "no utterances (empty set)"))
    problems += duplicate_ids(speech, speech_path) + duplicate_ids(text, text_path)
    if speech_path in _sound_lists(triples):
        problems += missing_audio(speech, speech_path)
    text_ids = {uid for _, uid, _ in text}
    problems += missing_ids(speech, speech_path, text_ids, f"no transcript (not in {text_path})")
    checker = None
    if token_list is not None or bpemodel is not None:
        checker = transcript_checker(token_type, token_list, bpemodel)
    problems += check_transcripts(text, text_path, checker)
    _raise_if_any(problems, what)


def _sound_lists(triples: Sequence[Tuple[str, str, str]]) -> Set[str]:
    """The lists espnet2 reads as audio files (type ``sound``)."""
    return {path for path, _, typ in triples if typ == "sound"}


def missing_audio(entries: Entries, path: str) -> List[Problem]:
    """Audio files a wav.scp names that do not exist (no audio is read)."""
    data_dir = Path(path).parent
    found = []
    for lineno, uid, value in entries:
        message = missing_audio_message(value, data_dir)
        if message is not None:
            found.append(Problem(path, message, lineno, uid))
    return found


def _raise_if_any(problems: Sequence[Problem], what: str) -> None:
    if problems:
        raise DataCheckError([str(p) for p in problems], what)


def check_unlabeled_lists(
    triples: Sequence[Tuple[str, str, str]],
    shape_files: Sequence[str],
    what: str,
) -> None:
    """The unlabeled stream exists, is not empty, only carries speech, has no id twice.

    Fast (no audio is read): it runs at every training start.

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
            continue
        entries = read_list(path)
        if not entries:
            problems.append(f"{path}: no utterances (empty set)")
        problems += [str(p) for p in duplicate_ids(entries, str(path))]
        if path in _sound_lists(triples):
            problems += [str(p) for p in missing_audio(entries, str(path))]
    if problems:
        raise DataCheckError(problems, what)
