"""Small Kaldi-list helpers: data dirs, shape files, char and sentencepiece token lists."""

from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import soundfile

SPECIAL_TOKENS_HEAD = ("<blank>", "<unk>")
SPECIAL_TOKENS_TAIL = ("<sos/eos>",)


def write_data_dir(
    out_dir: Path,
    utts: Iterable[Tuple[str, str, Optional[str], str]],
) -> Path:
    """Write wav.scp, utt2spk, spk2utt and (where transcripts exist) text.

    Args:
        out_dir: the Kaldi data dir to create.
        utts: (uid, audio path, transcript or None, speaker) tuples.

    Returns:
        ``out_dir``. Lines are sorted by utterance id, as Kaldi expects.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = sorted(utts)
    with open(out_dir / "wav.scp", "w", encoding="utf-8") as wav, open(
        out_dir / "utt2spk", "w", encoding="utf-8"
    ) as u2s:
        for uid, path, _, spk in rows:
            wav.write(f"{uid} {path}\n")
            u2s.write(f"{uid} {spk}\n")
    spk2utt: Dict[str, List[str]] = {}
    for uid, _, _, spk in rows:
        spk2utt.setdefault(spk, []).append(uid)
    with open(out_dir / "spk2utt", "w", encoding="utf-8") as f:
        for spk in sorted(spk2utt):
            f.write(f"{spk} {' '.join(spk2utt[spk])}\n")
    if any(text is not None for _, _, text, _ in rows):
        with open(out_dir / "text", "w", encoding="utf-8") as f:
            for uid, _, text, _ in rows:
                f.write(f"{uid} {text}\n")
    return out_dir


def write_speech_shape(wav_scp: Path, out: Path) -> Path:
    """``uid num_samples`` for every entry of a wav.scp (paths as written)."""
    base = Path(wav_scp).parent
    with open(wav_scp, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
        for line in f:
            if not line.strip():
                continue
            uid, path = line.split(maxsplit=1)
            path = Path(path.strip())
            if not path.is_absolute():
                path = base / path
            o.write(f"{uid} {soundfile.info(str(path)).frames}\n")
    return Path(out)


def char_tokens(text: str) -> List[str]:
    """espnet2's char tokenization: characters, spaces as ``<space>``."""
    return ["<space>" if c == " " else c for c in text]


def _transcripts(text_file: Path) -> Iterator[Tuple[str, str]]:
    """(uid, transcript) of every line of a Kaldi text file that has one."""
    with open(text_file, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(maxsplit=1)
            if len(parts) == 2:
                yield parts[0], parts[1]


def write_char_token_list(text_file: Path, out: Path) -> List[str]:
    """A char token list (blank, unk, chars..., sos/eos) from a text file."""
    chars = set()
    for _, text in _transcripts(text_file):
        chars.update(char_tokens(text))
    tokens = list(SPECIAL_TOKENS_HEAD) + sorted(chars) + list(SPECIAL_TOKENS_TAIL)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return tokens


def train_bpe(
    text_file: Path, bpemodel: Path, nbpe: int, bpemode: str = "unigram"
) -> Path:
    """Train a sentencepiece model on the transcripts of a Kaldi text file.

    Args:
        text_file: the labeled training text (``uid transcript`` lines).
        bpemodel: the model to write; must end in ``.model`` (sentencepiece
            also writes ``.vocab`` and the training text ``.txt`` beside it).
        nbpe: vocabulary size of the model (its pieces include ``<unk>``,
            ``<s>``, ``</s>``, which the token list replaces by espnet2's
            ``<blank>``, ``<unk>`` and ``<sos/eos>``).
        bpemode: ``unigram`` or ``bpe``.
    """
    import sentencepiece

    bpemodel = Path(bpemodel)
    if bpemodel.suffix != ".model":
        raise ValueError(f"a sentencepiece model path ends in .model: {bpemodel}")
    if bpemode not in ("unigram", "bpe"):
        raise ValueError(f"bpemode must be unigram or bpe, got {bpemode!r}")
    bpemodel.parent.mkdir(parents=True, exist_ok=True)
    train_txt = bpemodel.with_suffix(".txt")
    with open(train_txt, "w", encoding="utf-8") as f:
        for _, text in _transcripts(text_file):
            f.write(text + "\n")
    sentencepiece.SentencePieceTrainer.train(
        input=str(train_txt),
        model_prefix=str(bpemodel.with_suffix("")),
        vocab_size=nbpe,
        model_type=bpemode,
        character_coverage=1.0,
        input_sentence_size=100_000_000,
        num_threads=1,
        minloglevel=1,
    )
    return bpemodel


def bpe_token_list(bpemodel: Path) -> List[str]:
    """espnet2's bpe token list: blank, unk, the model's pieces, sos/eos.

    The model's own ``<unk>``, ``<s>``, ``</s>`` (ids 0-2) are not repeated.
    """
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(bpemodel))
    specials = {"<unk>", "<s>", "</s>"}
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    pieces = [p for p in pieces if p not in specials]
    return list(SPECIAL_TOKENS_HEAD) + pieces + list(SPECIAL_TOKENS_TAIL)


def bpe_tokenizer(bpemodel: Path) -> Callable[[str], List[str]]:
    """The pieces espnet2's ``SentencepiecesTokenizer`` makes of a transcript."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(bpemodel))
    return lambda text: sp.encode(text, out_type=str)


def write_text_shape(
    text_file: Path,
    out: Path,
    vocab_size: int,
    tokenize: Callable[[str], List[str]] = char_tokens,
) -> Path:
    """``uid num_tokens,vocab_size`` for every transcript (char tokens by default)."""
    with open(out, "w", encoding="utf-8") as o:
        for uid, text in _transcripts(text_file):
            o.write(f"{uid} {len(tokenize(text))},{vocab_size}\n")
    return Path(out)


def write_token_list_and_shapes(
    labeled_text: Path,
    token_list: Path,
    data_dirs: Iterable[Path],
    token_type: str = "char",
    bpemodel: Optional[Path] = None,
    nbpe: int = 30,
    bpemode: str = "unigram",
    speech_shape: bool = True,
    text_shape_name: str = "text_shape",
) -> List[str]:
    """A token list from the labeled text only, and shape files of every dir.

    Args:
        labeled_text: the labeled training text; the only text the token list
            (and, for ``bpe``, the sentencepiece model) is made from.
        token_list: the token list to write.
        data_dirs: dirs to write shape files into.
        token_type: ``char`` or ``bpe``.
        bpemodel: for ``bpe``, the sentencepiece model to train (``*.model``).
        nbpe, bpemode: for ``bpe``, its size and kind (``unigram``, ``bpe``).
        speech_shape: also write ``speech_shape`` (samples per utterance) in
            each dir; off when the dirs already have one (dumped by format_wav).
        text_shape_name: the name of the text shape file in each dir.

    Returns:
        the tokens. ``<text_shape_name>`` is written in every dir with a ``text``.
    """
    if token_type == "char":
        tokens = write_char_token_list(labeled_text, token_list)
        tokenize = char_tokens
    elif token_type == "bpe":
        if bpemodel is None:
            raise ValueError("token_type bpe needs a bpemodel path")
        train_bpe(labeled_text, bpemodel, nbpe, bpemode)
        tokens = bpe_token_list(bpemodel)
        Path(token_list).parent.mkdir(parents=True, exist_ok=True)
        Path(token_list).write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
        tokenize = bpe_tokenizer(bpemodel)
    else:
        raise ValueError(f"token_type must be char or bpe, got {token_type!r}")
    for data_dir in data_dirs:
        data_dir = Path(data_dir)
        if speech_shape:
            write_speech_shape(data_dir / "wav.scp", data_dir / "speech_shape")
        if (data_dir / "text").exists():
            write_text_shape(
                data_dir / "text", data_dir / text_shape_name, len(tokens), tokenize
            )
    return tokens


def get_parser():
    """Command line of :func:`write_token_list_and_shapes`."""
    import argparse

    parser = argparse.ArgumentParser(
        description="token list (char or sentencepiece) and shape files",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--labeled_text", type=Path, required=True)
    parser.add_argument("--token_list", type=Path, required=True)
    parser.add_argument("--token_type", choices=["char", "bpe"], default="char")
    parser.add_argument("--bpemodel", type=Path, default=None, help="bpe: model to train")
    parser.add_argument("--nbpe", type=int, default=30, help="bpe: vocabulary size")
    parser.add_argument("--bpemode", choices=["unigram", "bpe"], default="unigram")
    parser.add_argument(
        "--skip_speech_shape", action="store_true",
        help="do not (re)write speech_shape (the dirs have one already)",
    )  # fmt: skip
    parser.add_argument("--text_shape_name", default="text_shape")
    parser.add_argument("data_dirs", type=Path, nargs="+")
    return parser


def main(cmd=None):
    """Write the token list and shape files; print a one-line summary."""
    args = get_parser().parse_args(cmd)
    tokens = write_token_list_and_shapes(
        args.labeled_text, args.token_list, args.data_dirs, args.token_type,
        args.bpemodel, args.nbpe, args.bpemode, not args.skip_speech_shape,
        args.text_shape_name,
    )  # fmt: skip
    print(f"{len(tokens)} tokens in {args.token_list}; shapes for {len(args.data_dirs)} dirs")


if __name__ == "__main__":
    main()
