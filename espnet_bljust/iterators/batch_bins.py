"""Keep the unlabeled stream's mini-batches within the labeled stream's size.

A batch's activation memory grows with its padded audio: batch size x its
longest utterance. With ``--batch_size`` counting utterances, an unlabeled set
with longer utterances than the labeled one (FSDD: 2.3 s against 0.87 s at
most) gets batches that hold more audio, and a training that reads it peaks
higher than supervised training (RSS stays at its peak). Splitting the
unlabeled batches that hold more padded audio than the labeled stream's
largest gives both streams the same bound.
"""

import math
from typing import Dict, List, Sequence

from espnet2.fileio.read_text import load_num_sequence_text


def shape_lengths(shape_file: str) -> Dict[str, int]:
    """{uid: length} from an espnet2 shape file (first number of each line)."""
    return {uid: int(shape[0]) for uid, shape in load_num_sequence_text(shape_file, "csv_int").items()}


def padded_bins(batch: Sequence[str], lengths: Dict[str, int]) -> int:
    """Batch size x its longest utterance: the padded audio of one batch."""
    return len(batch) * max(lengths[uid] for uid in batch)


def cap_batch_bins(
    batches: Sequence[Sequence[str]],
    lengths: Dict[str, int],
    max_bins: int,
    min_size: int = 1,
) -> List[List[str]]:
    """Split every batch whose padded audio exceeds ``max_bins``.

    A split batch becomes ceil(bins / max_bins) parts of near-equal size,
    longest utterances together (so padding stays low); no part is smaller
    than ``min_size`` (the number of processes, which shard every batch).
    Batches within the bound are kept as they are, in their order.

    Args:
        batches: mini-batches as lists of utterance ids.
        lengths: {uid: length} of every utterance in ``batches``.
        max_bins: the bound (e.g. the labeled stream's largest padded_bins).
        min_size: the smallest batch size allowed.
    """
    out: List[List[str]] = []
    for batch in batches:
        bins = padded_bins(batch, lengths)
        parts = min(math.ceil(bins / max_bins), max(1, len(batch) // min_size))
        if parts <= 1:
            out.append(list(batch))
            continue
        ordered = sorted(batch, key=lambda uid: -lengths[uid])
        bounds = [round(i * len(ordered) / parts) for i in range(parts + 1)]
        out.extend(ordered[a:b] for a, b in zip(bounds, bounds[1:]))
    return out
