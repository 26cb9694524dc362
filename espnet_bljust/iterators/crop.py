"""Bound the unlabeled stream's batch shapes: crop long utterances, pad to buckets (opt-in).

A mini-batch's activations grow with its longest utterance (self-attention
with its square), and an unlabeled set often holds longer clips than the
labeled one (FSDD: 2.3 s against 0.87 s at most). As wav2vec 2.0 pre-training
crops clips above its maximum sample size, each unlabeled utterance longer
than ``max_length`` samples is cut to a window of ``max_length`` samples at a
random offset; shorter ones are kept whole. The offset is drawn from
(seed, pass, utterance id): the same run crops alike after a resume and on
every process, and each pass over the stream sees other windows.

Each distinct batch shape also leaves memory behind (holes in the C heap,
oneDNN's compiled primitive per input shape); padding the unlabeled batches
to a multiple of ``length_multiple`` samples (opt-in) leaves a few lengths.

Kept here rather than in a preprocessor class: the offset needs the stream's
pass index, which only the batch stream knows.
"""

import argparse
import zlib
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from typeguard import typechecked

from espnet_bljust.iterators.batch_bins import shape_lengths

AUTO = "auto"


def max_length_option(value: Union[str, int, None]) -> Union[str, int, None]:
    """argparse type of ``--unlabeled_max_length``: 'auto', a positive number
    of samples (an int, as a YAML config gives it, so that a resume compares
    alike), or None for 'none' (no crop)."""
    text = "none" if value is None else str(value).strip().lower()
    if text in ("none", "null", ""):
        return None
    if text == AUTO:
        return AUTO
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected 'auto', 'none' or a positive number of samples"
        )
    return int(text)


@typechecked
def resolve_max_length(
    value: Union[str, int, None], labeled_shape_file: str
) -> Optional[int]:
    """The crop length in samples: ``value`` as a number, or with 'auto' the
    labeled stream's longest utterance (from its speech shape file)."""
    value = max_length_option(value)
    if value is None:
        return None
    if value == AUTO:
        return max(shape_lengths(labeled_shape_file).values())
    return int(value)


def add_crop_arguments(group: argparse._ArgumentGroup) -> None:
    """Register ``--unlabeled_max_length`` and ``--unlabeled_length_multiple``."""
    group.add_argument(
        "--unlabeled_max_length",
        type=max_length_option,
        default=None,
        help="Crop unlabeled utterances longer than this many samples to a "
        "window at a random offset drawn from --seed (as wav2vec 2.0 crops "
        "its pre-training clips); auto: the labeled stream's longest "
        "utterance; none: no crop. With auto and --match_unlabeled_batch_bins "
        "true every unlabeled batch then holds no longer utterance and no more "
        "padded audio than the labeled stream's largest",
    )
    group.add_argument(
        "--unlabeled_length_multiple",
        type=int,
        default=0,
        help="Pad every unlabeled mini-batch to a multiple of this many samples "
        "(at most --unlabeled_max_length): few distinct batch shapes, so the "
        "heap and oneDNN's per-shape caches stay small; 0: no extra padding",
    )


@typechecked
def crop_offset(uid: str, length: int, max_length: int, seed: int, pass_index: int) -> int:
    """Start of the kept window of an utterance of ``length`` samples:
    0 when it fits, else uniform in [0, length - max_length], drawn from
    (seed, pass_index, uid)."""
    if length <= max_length:
        return 0
    key = [seed % 2**32, pass_index % 2**32, zlib.crc32(uid.encode("utf-8"))]
    return int(np.random.default_rng(key).integers(0, length - max_length + 1))


def bucket_length(length: int, multiple: int, max_length: Optional[int]) -> int:
    """``length`` rounded up to a multiple of ``multiple`` (0: kept), never
    above ``max_length``."""
    if multiple > 0:
        length = -(-length // multiple) * multiple
    return length if max_length is None else min(length, max_length)


def cropped_lengths(
    lengths: Dict[str, int], max_length: Optional[int], multiple: int = 0
) -> Dict[str, int]:
    """{uid: padded length in a batch after the crop and the bucket padding}."""
    return {
        uid: bucket_length(min(n, max_length or n), multiple, max_length)
        for uid, n in lengths.items()
    }


class CroppingCollate:
    """A collate function that first crops ``name`` (speech, (L,) or (L, C))
    of every utterance to ``max_length`` samples, then calls ``collate_fn``,
    then pads the batch's ``name`` (B, L) to a multiple of ``length_multiple``
    (at most ``max_length``), so that the stream has few distinct batch shapes.

    A BatchStream calls :meth:`for_pass` once per pass to get the collate
    function of that pass (the offsets depend on it).

    Args:
        collate_fn: espnet2's collate function, e.g. CommonCollateFn.
        max_length: the longest utterance kept, in samples (None: no crop).
        seed: the run's seed.
        pass_index: the stream's pass the batches belong to.
        name: the data name to crop.
        length_multiple: pad the batch to a multiple of this many samples
            (0: to its longest utterance, as espnet2 does).
    """

    @typechecked
    def __init__(
        self,
        collate_fn,
        max_length: Optional[int],
        seed: int,
        pass_index: int = 0,
        name: str = "speech",
        length_multiple: int = 0,
    ):
        if max_length is not None and max_length <= 0:
            raise ValueError(f"max_length must be positive, got {max_length}")
        if length_multiple < 0:
            raise ValueError(f"length_multiple must be >= 0, got {length_multiple}")
        self.length_multiple = length_multiple
        self.collate_fn = collate_fn
        self.max_length = max_length
        self.seed = seed
        self.pass_index = pass_index
        self.name = name

    def for_pass(self, pass_index: int) -> "CroppingCollate":
        return CroppingCollate(
            self.collate_fn, self.max_length, self.seed, pass_index, self.name,
            self.length_multiple,
        )  # fmt: skip

    def crop(
        self, data: Sequence[Tuple[str, Dict[str, np.ndarray]]]
    ) -> List[Tuple[str, Dict[str, np.ndarray]]]:
        """The utterances with ``name`` cut to at most ``max_length`` samples."""
        if self.max_length is None:
            return list(data)
        out = []
        for uid, values in data:
            speech = values[self.name]
            start = crop_offset(uid, len(speech), self.max_length, self.seed, self.pass_index)
            if len(speech) > self.max_length:
                values = dict(values)
                values[self.name] = speech[start : start + self.max_length]
            out.append((uid, values))
        return out

    def __call__(self, data: Sequence[Tuple[str, Dict[str, np.ndarray]]]):
        uids, batch = self.collate_fn(self.crop(data))
        speech = batch[self.name]  # (B, L) or (B, L, C)
        target = bucket_length(speech.size(1), self.length_multiple, self.max_length)
        if target > speech.size(1):
            pad = speech.new_zeros(speech.size(0), target - speech.size(1), *speech.shape[2:])
            batch[self.name] = torch.cat([speech, pad], dim=1)
        return uids, batch

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(max_length={self.max_length}, seed={self.seed}, "
            f"pass_index={self.pass_index}, length_multiple={self.length_multiple}, "
            f"collate_fn={self.collate_fn!r})"
        )
