"""score: WER/CER through espnet2's word and char tokenizers, sclite trn files."""

import json

import pytest

from espnet_bljust.bin.score import main, score


def _write(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_rates_count_words_and_characters_with_the_space_as_a_token():
    ref = {"s1-a": "ONE TWO", "s1-b": "THREE", "s2-c": "FOUR"}
    hyp = {"s1-a": "ONE TOO", "s1-b": "THREE"}  # s2-c missing: an empty hypothesis
    result = score(ref, hyp)
    assert result["utts"] == 3 and result["words"] == 4 and result["missing"] == 1
    assert result["wer"] == pytest.approx(100 * 2 / 4)  # TWO->TOO, FOUR deleted
    # characters incl. <space>: 7 + 5 + 4 = 16; W->O substituted, FOUR deleted
    assert result["cer"] == pytest.approx(100 * 5 / 16)


def test_cli_writes_trn_files_as_sclite_reads_them_and_the_result(tmp_path, capsys):
    ref = _write(tmp_path / "text", ["s1-a ONE TWO", "s2-b THREE"])
    hyp = _write(tmp_path / "hyp", ["s1-a ONE TWO", "s2-b TREE"])
    utt2spk = _write(tmp_path / "utt2spk", ["s1-a alice", "s2-b bob"])
    out = tmp_path / "score"
    main(["--ref", str(ref), "--hyp", str(hyp), "--name", "test", "--out", str(out),
          "--utt2spk", str(utt2spk)])  # fmt: skip
    assert (out / "score_wer" / "ref.trn").read_text() == "ONE TWO (alice-s1-a)\nTHREE (bob-s2-b)\n"
    assert (out / "score_cer" / "hyp.trn").read_text().splitlines() == [
        "O N E <space> T W O (alice-s1-a)", "T R E E (bob-s2-b)"
    ]  # fmt: skip
    result = json.loads((out / "result.json").read_text())
    assert result["name"] == "test" and result["wer"] == pytest.approx(100 / 3)
    assert result["cer"] == pytest.approx(100 / 12)
    assert "test: WER 33.3% CER 8.3% (2 utts, 3 words)" in capsys.readouterr().out
    main(["--ref", str(ref), "--hyp", str(hyp), "--name", "test", "--out", str(out)])
    assert (out / "score_wer" / "ref.trn").read_text().startswith("ONE TWO (s1-s1-a)\n")
