"""The train iterator factory: a labeled and an unlabeled stream per epoch."""

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
    ):
        self.epoch = epoch
        self.labeled = labeled
        self.unlabeled = unlabeled
        self.num_iters_per_epoch = num_iters_per_epoch

    def num_ticks(self, phase: Phase) -> int:
        """Steps in this epoch: ``num_iters_per_epoch`` when set, else one pass
        over the stream that drives ``phase`` (unlabeled while exploring)."""
        if self.num_iters_per_epoch is not None:
            return self.num_iters_per_epoch
        if phase == Phase.EXPLORATION and self.unlabeled is not None:
            return self.unlabeled.batches_per_pass
        return self.labeled.batches_per_pass

    def __iter__(self):
        return self.labeled.take(self.num_ticks(Phase.FINETUNE))


class BilevelIterFactory(AbsIterFactory):
    """Holds the two streams; ``build_iter(epoch)`` hands out a BilevelEpoch."""

    def __init__(
        self,
        labeled: BatchStream,
        unlabeled: Optional[BatchStream],
        num_iters_per_epoch: Optional[int] = None,
    ):
        self.labeled = labeled
        self.unlabeled = unlabeled
        self.num_iters_per_epoch = num_iters_per_epoch

    def build_iter(self, epoch: int, shuffle: Optional[bool] = None) -> BilevelEpoch:
        return BilevelEpoch(
            epoch, self.labeled, self.unlabeled, self.num_iters_per_epoch
        )
