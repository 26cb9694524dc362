"""The train iterator factory: a labeled and an unlabeled stream per epoch."""

import math
from typing import Optional

from espnet2.iterators.abs_iter_factory import AbsIterFactory

from espnet_bljust.bilevel.phases import Phase
from espnet_bljust.iterators.batch_stream import BatchStream


class BilevelEpoch:
    """What the trainer gets for one epoch: both streams and the epoch length.

    Iterating it yields the labeled batches of one epoch, which is what a
    plain espnet2 trainer would consume.
    """

    def __init__(
        self,
        epoch: int,
        labeled: BatchStream,
        unlabeled: Optional[BatchStream],
        num_iters_per_epoch: Optional[int],
        accum_grad: int = 1,
    ):
        self.epoch = epoch
        self.labeled = labeled
        self.unlabeled = unlabeled
        self.num_iters_per_epoch = num_iters_per_epoch
        self.accum_grad = accum_grad

    def num_ticks(self, phase: Phase) -> int:
        """Ticks in this epoch: ``num_iters_per_epoch`` when set, else one pass
        over the stream that drives ``phase`` (unlabeled while exploring), whose
        every step reads ``accum_grad`` of its batches, as an espnet2 epoch is
        one pass over the batches whatever ``accum_grad``."""
        if self.num_iters_per_epoch is not None:
            return self.num_iters_per_epoch
        stream = self.labeled
        if phase == Phase.EXPLORATION and self.unlabeled is not None:
            stream = self.unlabeled
        return math.ceil(stream.batches_per_pass / self.accum_grad)

    def __iter__(self):
        return self.labeled.take(self.num_ticks(Phase.FINETUNE) * self.accum_grad)


class BilevelIterFactory(AbsIterFactory):
    """Holds the two streams; ``build_iter(epoch)`` hands out a BilevelEpoch."""

    def __init__(
        self,
        labeled: BatchStream,
        unlabeled: Optional[BatchStream],
        num_iters_per_epoch: Optional[int] = None,
        accum_grad: int = 1,
    ):
        self.labeled = labeled
        self.unlabeled = unlabeled
        self.num_iters_per_epoch = num_iters_per_epoch
        self.accum_grad = accum_grad

    def build_iter(self, epoch: int, shuffle: Optional[bool] = None) -> BilevelEpoch:
        return BilevelEpoch(
            epoch, self.labeled, self.unlabeled, self.num_iters_per_epoch, self.accum_grad
        )
