"""CTC greedy WER: collapsing, lengths, word splitting, and the model's wer_ctc stat."""

import pytest
import torch

from espnet_bljust.asr.ctc_error import ctc_greedy_wer, ctc_greedy_words, reference_words

TOKENS = ["<blank>", "<unk>", "<space>", "E", "I", "N", "O", "T", "W", "<sos/eos>"]
B, S, E, I, N, O, T, W = 0, 2, 3, 4, 5, 6, 7, 8


def test_path_is_collapsed_blanks_dropped_and_cut_at_its_length():
    # T T _ W W O _ <space> O N E | E E (beyond the length: ignored)
    path = torch.tensor([[T, T, B, W, W, O, B, S, O, N, E, E, E]])
    assert ctc_greedy_words(path, torch.tensor([11]), TOKENS) == [["TWO", "ONE"]]
    # a blank between two equal tokens keeps both
    path = torch.tensor([[N, B, N, I, N, E]])
    assert ctc_greedy_words(path, torch.tensor([6]), TOKENS) == [["NNINE"]]


def test_references_drop_padding():
    ys = torch.tensor([[T, W, O, S, O, N, E], [N, I, N, E, -1, -1, -1]])
    assert reference_words(ys, TOKENS) == [["TWO", "ONE"], ["NINE"]]


def test_wer_sums_edits_over_the_batch():
    ys = torch.tensor([[T, W, O, S, O, N, E], [N, I, N, E, -1, -1, -1]])
    paths = torch.tensor([[T, W, O, B, B, B, B], [N, I, N, E, B, B, B]])
    # hyp 1 = "TWO" (one deletion of 2 words), hyp 2 right: 1 edit / 3 ref words
    assert ctc_greedy_wer(paths, torch.tensor([7, 7]), ys, TOKENS) == pytest.approx(1 / 3)
    assert ctc_greedy_wer(paths[1:], torch.tensor([7]), ys[1:], TOKENS) == 0.0


def test_subword_word_starts():
    tokens = ["<blank>", "▁TW", "O", "▁ON", "E"]
    path = torch.tensor([[1, 2, 0, 3, 4]])
    assert ctc_greedy_words(path, torch.tensor([5]), tokens) == [["TWO", "ONE"]]
