"""kaldi_lists: char and sentencepiece token lists from the labeled text, text shapes."""

import sentencepiece

from espnet_bljust.data.kaldi_lists import main, write_token_list_and_shapes

SENTENCES = [
    "ONE TWO THREE", "FOUR FIVE SIX", "SEVEN EIGHT NINE", "ZERO OH ONE", "A B C D",
    "ENTER TWO FIVE", "ERASE SEVEN", "GO STOP HELP", "RUBOUT NINE NINE", "YES NO YES",
]  # fmt: skip


def _data_dir(path, sentences, prefix):
    path.mkdir(parents=True)
    (path / "text").write_text(
        "".join(f"{prefix}-{i:03d} {s}\n" for i, s in enumerate(sentences)), encoding="utf-8"
    )
    return path


def test_bpe_token_list_from_labeled_text_only(tmp_path):
    labeled = _data_dir(tmp_path / "train_labeled", SENTENCES * 3, "l")
    dev = _data_dir(tmp_path / "dev", ["ONE JQK"], "d")  # J, Q, K: never in the labeled text
    token_list = tmp_path / "tokens" / "tokens.txt"
    bpemodel = tmp_path / "tokens" / "bpe.model"
    main([
        "--labeled_text", str(labeled / "text"), "--token_list", str(token_list),
        "--token_type", "bpe", "--bpemodel", str(bpemodel), "--nbpe", "40",
        "--bpemode", "unigram", "--skip_speech_shape", "--text_shape_name", "text_shape.bpe",
        str(labeled), str(dev),
    ])  # fmt: skip
    tokens = token_list.read_text(encoding="utf-8").splitlines()
    # espnet2's layout: <blank>, <unk>, the model's pieces without <unk>/<s>/</s>, <sos/eos>.
    assert len(tokens) == 40 and len(set(tokens)) == 40
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert not {"<s>", "</s>"} & set(tokens)
    assert not {"J", "Q", "K"} & {c for t in tokens for c in t}
    sp = sentencepiece.SentencePieceProcessor(model_file=str(bpemodel))
    assert set(tokens[2:-1]) == {sp.id_to_piece(i) for i in range(3, sp.get_piece_size())}
    # Shapes count the pieces espnet2's SentencepiecesTokenizer makes.
    shapes = dict(line.split() for line in (labeled / "text_shape.bpe").read_text().splitlines())
    assert shapes["l-000"] == f"{len(sp.encode('ONE TWO THREE', out_type=str))},40"
    assert (dev / "text_shape.bpe").exists() and not (labeled / "speech_shape").exists()


def test_bpe_mode_and_char_list(tmp_path):
    labeled = _data_dir(tmp_path / "train_labeled", SENTENCES * 3, "l")
    tokens = write_token_list_and_shapes(
        labeled / "text", tmp_path / "bpe" / "tokens.txt", [labeled], token_type="bpe",
        bpemodel=tmp_path / "bpe" / "bpe.model", nbpe=30, bpemode="bpe", speech_shape=False,
    )  # fmt: skip
    assert len(tokens) == 30
    chars = write_token_list_and_shapes(
        labeled / "text", tmp_path / "char" / "tokens.txt", [labeled], speech_shape=False
    )
    assert chars[:2] == ["<blank>", "<unk>"] and "<space>" in chars
    assert (labeled / "text_shape").read_text().startswith(f"l-000 13,{len(chars)}\n")
