"""An endless, resumable stream of mini-batches over one dataset."""

import itertools
import logging
import random
from functools import partial
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from espnet_bljust.data.list_checks import DataCheckError
from espnet_bljust.iterators.prefetch import Prefetcher


def _seed_worker(worker_id: int, base_seed: int = 0) -> None:
    random.seed(base_seed + worker_id)
    np.random.seed(base_seed + worker_id)


class BatchStream:
    """Cycles over a fixed list of mini-batches, pass after pass.

    Each pass visits every batch once, in an order drawn from
    ``seed + pass_index`` (as espnet2's iterators draw theirs from
    ``seed + epoch``). The position ``(pass_index, offset)`` counts batches
    handed out, so a stream rebuilt at the same position yields the same
    batches: that is what a checkpoint stores.

    Args:
        dataset: an espnet2 dataset (``dataset[uid] -> (uid, dict)``).
        batches: the mini-batches as lists of utterance ids.
        collate_fn: espnet2 collate function -> (ids, batch dict); one with a
            ``for_pass(pass_index)`` method (e.g. CroppingCollate) is asked
            for the collate function of each pass.
        seed: base seed of the per-pass order.
        shuffle: shuffle the batch order per pass.
        num_workers: DataLoader workers.
        pin_memory: DataLoader pin_memory.
        name: for log messages.
        prefetch: batches loaded ahead in a background thread, so that the
            training step never waits for audio decoding (0: load on demand).
    """

    def __init__(
        self,
        dataset,
        batches: Sequence[Sequence[str]],
        collate_fn,
        seed: int = 0,
        shuffle: bool = True,
        num_workers: int = 0,
        pin_memory: bool = False,
        name: str = "stream",
        prefetch: int = 2,
    ):
        if len(batches) == 0:
            raise ValueError(f"the {name} stream has no mini-batches")
        self.dataset = dataset
        self.batches = [list(b) for b in batches]
        self.collate_fn = collate_fn
        self.seed = seed
        self.shuffle = shuffle
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.name = name
        self.prefetch = prefetch
        self._pass = 0
        self._offset = 0
        self._iter: Optional[Iterator] = None

    @property
    def batches_per_pass(self) -> int:
        return len(self.batches)

    @property
    def position(self) -> Tuple[int, int]:
        """(pass_index, batches consumed in that pass)."""
        return self._pass, self._offset

    def order(self, pass_index: int) -> List[int]:
        """Batch indices of one pass, in the order they are handed out."""
        idx = list(range(len(self.batches)))
        if self.shuffle:
            np.random.RandomState(self.seed + pass_index).shuffle(idx)
        return idx

    def seek(self, pass_index: int, offset: int) -> None:
        """Continue from ``(pass_index, offset)``; loads nothing it skips."""
        if not 0 <= offset <= len(self.batches):
            raise ValueError(
                f"{self.name} stream: offset {offset} outside 0..{len(self.batches)}"
            )
        if (pass_index, offset) != (self._pass, self._offset) or self._iter is None:
            self.close()
            self._pass, self._offset = pass_index, offset

    def close(self) -> None:
        """Drop the batches loaded ahead (the position stays)."""
        if isinstance(self._iter, Prefetcher):
            self._iter.close()
        self._iter = None

    def _loader(self, pass_index: int, offset: int) -> DataLoader:
        """The batches of pass ``pass_index`` from ``offset`` on."""
        remaining = [self.batches[i] for i in self.order(pass_index)[offset:]]
        logging.debug(f"{self.name} stream: pass {pass_index} from batch {offset}")
        return DataLoader(
            self.dataset,
            batch_sampler=remaining,
            collate_fn=self._collate_fn(pass_index),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            worker_init_fn=partial(_seed_worker, base_seed=self.seed + pass_index),
            # Its own generator: starting a pass must not draw from the global
            # RNG, or a resumed run would see different dropout and masks.
            generator=torch.Generator().manual_seed(self.seed + pass_index),
        )

    def _collate_fn(self, pass_index: int):
        """The collate function of pass ``pass_index``."""
        for_pass = getattr(self.collate_fn, "for_pass", None)
        return for_pass(pass_index) if for_pass is not None else self.collate_fn

    def _load_from(self, pass_index: int, offset: int) -> Iterator[tuple]:
        """(pass, offset, item) of every batch from the given position on,
        pass after pass; a batch that fails to load yields its exception as
        the item and ends the sequence."""
        while True:
            if offset >= len(self.batches):
                pass_index, offset = pass_index + 1, 0
            loaded = iter(self._loader(pass_index, offset))
            while True:
                try:
                    item = next(loaded)
                except StopIteration:
                    break
                except Exception as e:  # a file that went bad after the checks, ...
                    yield pass_index, offset, _Failure(e)
                    return
                yield pass_index, offset, item
                offset += 1

    def __iter__(self):
        return self

    def __next__(self) -> Tuple[List[str], dict]:
        if self._iter is None:
            self._iter = self._load_from(self._pass, self._offset)
            if self.prefetch > 0:
                self._iter = Prefetcher(self._iter, self.prefetch, f"{self.name}-prefetch")
        pass_index, offset, item = next(self._iter)
        if isinstance(item, _Failure):
            self.close()
            self._pass, self._offset = pass_index, offset
            raise self._load_error(item.error) from item.error
        self._pass, self._offset = pass_index, offset + 1
        return item

    def _load_error(self, error: Exception) -> DataCheckError:
        """One clear message naming the batch's utterances, not a worker traceback."""
        batch = self.batches[self.order(self._pass)[self._offset]]
        reason = _message_of(error).strip().splitlines()
        return DataCheckError(
            [
                f"pass {self._pass}, mini-batch {self._offset}: cannot load one of the "
                f"utterances {', '.join(repr(u) for u in batch)}: "
                f"{reason[-1] if reason else type(error).__name__} (check the "
                "lists with python -m espnet_bljust.bin.validate_data)",
            ],
            f"{self.name} stream",
        )

    def take(self, n: int) -> Iterator[Tuple[List[str], dict]]:
        """The next ``n`` batches."""
        return itertools.islice(self, n)

    def __repr__(self) -> str:
        sizes = [len(b) for b in self.batches]
        return (
            f"{self.__class__.__name__}(name={self.name}, batches={len(sizes)}, "
            f"utts={sum(sizes)}, mean_batch={np.mean(sizes):.1f}, "
            f"position={self.position})"
        )


class _Failure:
    """A batch that could not be loaded, carried to the consumer in order."""

    def __init__(self, error: Exception):
        self.error = error


def _message_of(error: Exception) -> str:
    """str(error), also for exceptions a DataLoader worker re-raised badly
    (e.g. soundfile's error rebuilt from the worker's traceback text)."""
    try:
        return str(error)
    except Exception:
        args = [a for a in getattr(error, "args", ()) if isinstance(a, str)]
        return args[0] if args else type(error).__name__


def shard_batches(
    batches: Sequence[Sequence[str]], rank: int, world_size: int, name: str
) -> List[List[str]]:
    """Give each rank its slice of every mini-batch (as espnet2 does)."""
    for batch in batches:
        if len(batch) < world_size:
            raise RuntimeError(
                f"{name}: a mini-batch has {len(batch)} utterances, fewer than "
                f"the {world_size} processes; raise the batch size"
            )
    return [list(batch[rank::world_size]) for batch in batches]


def distributed_rank() -> Tuple[int, int]:
    """(rank, world_size) of this process; (0, 1) when not distributed."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1
