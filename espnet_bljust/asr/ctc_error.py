"""Word error rate of CTC greedy (argmax) output, for validation stats.

espnet2's ESPnetASRModel reports ``cer_ctc`` only; a CTC-only model then has
no dev WER. :func:`ctc_greedy_wer` scores the same argmax path that
``cer_ctc`` uses, but respects the encoder output lengths and collapses the
path the way CTC decoding does (repeats merged, blanks dropped) before the
words are compared.
"""

from typing import List, Sequence

import editdistance
import torch


def _words(text: str, space: str) -> List[str]:
    """Words of a token string: char ``space`` tokens or ``▁`` subword starts split them."""
    return text.replace(space, " ").replace("▁", " ").split()


def ctc_greedy_words(
    log_probs_argmax: torch.Tensor,
    lengths: torch.Tensor,
    token_list: Sequence[str],
    blank_id: int = 0,
    space: str = "<space>",
) -> List[List[str]]:
    """Words of each collapsed argmax path.

    Args:
        log_probs_argmax: (B, T') argmax token ids per encoder frame.
        lengths: (B,) valid frames per utterance.
        token_list: id -> token (chars, or subwords with ``▁`` word starts).
        blank_id: the CTC blank.
        space: the token that separates words in a char token list.

    Returns:
        B lists of words.
    """
    words = []
    for path, length in zip(log_probs_argmax.cpu(), lengths.cpu()):
        ids = torch.unique_consecutive(path[: int(length)]).tolist()
        words.append(_words("".join(token_list[i] for i in ids if i != blank_id), space))
    return words


def reference_words(
    ys_pad: torch.Tensor, token_list: Sequence[str], space: str = "<space>", ignore_id: int = -1
) -> List[List[str]]:
    """Words of each padded reference (B, U); ``ignore_id`` marks padding."""
    return [
        _words("".join(token_list[i] for i in ys.tolist() if i != ignore_id), space)
        for ys in ys_pad.cpu()
    ]


def word_error_rate(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[str]]) -> float:
    """Word edits over reference words, summed over the batch (a fraction)."""
    edits = sum(editdistance.eval(list(h), list(r)) for h, r in zip(hyps, refs))
    return edits / max(1, sum(len(r) for r in refs))


def ctc_greedy_wer(
    log_probs_argmax: torch.Tensor,
    lengths: torch.Tensor,
    ys_pad: torch.Tensor,
    token_list: Sequence[str],
    blank_id: int = 0,
    space: str = "<space>",
    ignore_id: int = -1,
) -> float:
    """WER (a fraction) of the collapsed argmax paths (B, T') against ys_pad (B, U)."""
    hyps = ctc_greedy_words(log_probs_argmax, lengths, token_list, blank_id, space)
    return word_error_rate(hyps, reference_words(ys_pad, token_list, space, ignore_id))
