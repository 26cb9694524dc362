"""The upper step in parts: backward of f, then forward and backward of gamma * g.

The upper step's f + gamma * g needs two encoder passes when g reads other
audio than f (an unlabeled batch, or a masked second pass). Running backward
of f before g's forward accumulates the same gradient as one backward of the
sum, with the peak memory of the larger graph instead of both together.

Under DistributedDataParallel the parts run inside ``no_sync`` and the summed
gradient is averaged over the ranks once, at the end: DDP's own reducer, run
on the last part only, would leave the parameters that only an earlier part
uses (the CTC head phi, used by f alone) un-averaged, because it treats
parameters unused in the syncing pass as globally unused and keeps their
local gradients.
"""

from contextlib import nullcontext
from typing import Callable, Dict, Iterable, Iterator, Sequence

import torch

from espnet_bljust.train.diagnostics import flat_grad, vector_cosine


def no_sync(model: torch.nn.Module):
    """DDP's ``no_sync`` context, or a null context for an unwrapped model."""
    return model.no_sync() if hasattr(model, "no_sync") else nullcontext()


def all_reduce_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Average ``p.grad`` over the ranks, in one all-reduce per dtype.

    Parameters without a gradient are left alone; every rank runs the same
    passes, so every rank has gradients for the same parameters. A no-op when
    not distributed.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    world_size = torch.distributed.get_world_size()
    by_kind = {}
    for p in params:
        if p.grad is not None:
            by_kind.setdefault((p.grad.dtype, p.grad.device), []).append(p.grad)
    for grads in by_kind.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


def backward_in_parts(
    model: torch.nn.Module,
    parts: Iterable[torch.Tensor],
    backward: Callable[[torch.Tensor], None],
) -> None:
    """Call ``backward(part)`` on each loss part in turn.

    ``parts`` is lazy (a generator): it computes the next part's forward only
    after the previous part's backward has freed its graph. Under DDP
    (``model`` wrapped) no backward all-reduces; the accumulated gradient of
    every parameter is averaged over the ranks after the last part.

    Args:
        model: the model as the trainer holds it (maybe DDP-wrapped).
        parts: scalar losses whose sum is the objective.
        backward: scales and back-propagates one scalar (loss scaling, accum_grad).
    """
    with no_sync(model):
        for part in parts:
            backward(part)
    if hasattr(model, "no_sync"):
        all_reduce_gradients([p for p in model.parameters() if p.requires_grad])


def upper_loss_parts(
    runner, labeled, unlabeled, weight: float, cosine: bool, stats: Dict
) -> Iterator[torch.Tensor]:
    """f on a labeled batch, then weight * g: the second forward runs only
    once the caller has back-propagated the first part.

    ``runner`` is the trainer's StepRunner (its model, batches, autocast,
    theta and options). g reads one fresh batch of ``unlabeled``
    (``upper_unsup_source`` unlabeled) or a masked pass over the labeled
    batch (labeled).
    ``stats`` receives the supervised stats, loss_sup, loss_unsup_upper
    and, with ``cosine``, grad_cos (cos of the two gradients on theta).

    Yields:
        loss_f, then weight * loss_g (scalars with their graphs)
    """
    batch = runner.batch(labeled)
    with runner.autocast():
        loss_f, sup_stats, _ = runner.model(**batch, level="supervised")
    stats.update(sup_stats, loss_sup=loss_f.detach())
    grad_f = flat_grad(loss_f, runner.theta) if cosine else None
    yield loss_f
    del loss_f
    if runner.options.upper_unsup_source == "unlabeled":
        batch = runner.batch(unlabeled)
    with runner.autocast():
        loss_g, unsup_stats, _ = runner.model(
            speech=batch["speech"], speech_lengths=batch["speech_lengths"],
            level="unsupervised",
        )  # fmt: skip
    stats.update({k: v for k, v in unsup_stats.items() if k not in ("loss", "loss_unsup")})
    stats["loss_unsup_upper"] = loss_g.detach()
    if cosine:
        stats["grad_cos"] = vector_cosine(grad_f, flat_grad(loss_g, runner.theta))
    yield weight * loss_g
