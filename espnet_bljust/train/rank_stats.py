"""Averaging the step stats over DDP ranks without letting the ranks diverge.

``all_reduce`` needs a tensor of the same length on every rank. Which stats a
rank reports can differ (``grad_cos`` only every N upper steps, ``acc_unsup``
None on a batch without masked frames), so the tensor is laid out over a key
set all ranks agree on first: one small all-reduce compares a fingerprint of
the keys, and only when they differ do the ranks exchange their key lists.
Each value travels with a count (0 where a rank has no value), so a stat
missing on one rank is averaged over the ranks that have it, and is None
where no rank has it.
"""

import zlib
from typing import Dict, List, Optional

import torch


def _device() -> str:
    return "cuda" if torch.distributed.get_backend() == "nccl" else "cpu"


def agreed_keys(keys: List[str]) -> List[str]:
    """The sorted union of every rank's ``keys`` (a collective call)."""
    keys = sorted(keys)
    crc = float(zlib.crc32("\n".join(keys).encode("utf-8")))
    probe = torch.tensor([crc, -crc], dtype=torch.float64, device=_device())
    torch.distributed.all_reduce(probe, op=torch.distributed.ReduceOp.MAX)
    if probe[0].item() == -probe[1].item():  # max == min: every rank has the same keys
        return keys
    gathered: List[Optional[List[str]]] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, keys)
    return sorted({k for rank_keys in gathered for k in rank_keys})


def average_across_ranks(stats: Dict[str, Optional[float]]) -> Dict[str, Optional[float]]:
    """Mean of every stat over the ranks that have a value for it.

    Unchanged when not distributed. A key that some rank lacks, or holds as
    None, is averaged over the others; None where no rank has a value.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return stats
    keys = agreed_keys(list(stats))
    values = [stats.get(k) for k in keys]
    packed = torch.tensor(
        [0.0 if v is None else float(v) for v in values]
        + [0.0 if v is None else 1.0 for v in values],
        dtype=torch.float64,
        device=_device(),
    )
    torch.distributed.all_reduce(packed)
    sums, counts = packed[: len(keys)].tolist(), packed[len(keys):].tolist()
    return {k: (s / c if c > 0 else None) for k, s, c in zip(keys, sums, counts)}
