"""Small Kaldi-list helpers: writing data dirs, shape files and char token lists."""

from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

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


def write_char_token_list(text_file: Path, out: Path) -> List[str]:
    """A char token list (blank, unk, chars..., sos/eos) from a text file."""
    chars = set()
    with open(text_file, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(maxsplit=1)
            if len(parts) == 2:
                chars.update(char_tokens(parts[1]))
    tokens = list(SPECIAL_TOKENS_HEAD) + sorted(chars) + list(SPECIAL_TOKENS_TAIL)
    Path(out).write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return tokens


def write_text_shape(text_file: Path, out: Path, vocab_size: int) -> Path:
    """``uid num_chars,vocab_size`` for every transcript (char tokens)."""
    with open(text_file, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
        for line in f:
            parts = line.rstrip("\n").split(maxsplit=1)
            if len(parts) == 2:
                o.write(f"{parts[0]} {len(char_tokens(parts[1]))},{vocab_size}\n")
    return Path(out)


def write_token_list_and_shapes(
    labeled_text: Path, token_list: Path, data_dirs: Iterable[Path]
) -> List[str]:
    """A char token list from the labeled text only, and shape files of every dir.

    Writes ``speech_shape`` in each dir and ``text_shape`` where it has a
    ``text``; returns the tokens.
    """
    tokens = write_char_token_list(labeled_text, token_list)
    for data_dir in data_dirs:
        data_dir = Path(data_dir)
        write_speech_shape(data_dir / "wav.scp", data_dir / "speech_shape")
        if (data_dir / "text").exists():
            write_text_shape(data_dir / "text", data_dir / "text_shape", len(tokens))
    return tokens


def main(cmd=None):
    """Command line of :func:`write_token_list_and_shapes`."""
    import argparse

    parser = argparse.ArgumentParser(description="char token list and shape files")
    parser.add_argument("--labeled_text", type=Path, required=True)
    parser.add_argument("--token_list", type=Path, required=True)
    parser.add_argument("data_dirs", type=Path, nargs="+")
    args = parser.parse_args(cmd)
    tokens = write_token_list_and_shapes(args.labeled_text, args.token_list, args.data_dirs)
    print(f"{len(tokens)} tokens in {args.token_list}; shapes for {len(args.data_dirs)} dirs")


if __name__ == "__main__":
    main()
