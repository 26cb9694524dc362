"""The upper step in parts: backward of f, then forward and backward of gamma * g.

The upper step's f + gamma * g needs two encoder passes when g reads other
audio than f (an unlabeled batch, or a masked second pass). Running backward
of f before g's forward accumulates the same gradient as one backward of the
sum, with the peak memory of the larger graph instead of both together.

Under DistributedDataParallel the first part (f) runs inside ``no_sync`` and
the last part's backward all-reduces once, DDP's gradient-accumulation
pattern: the reducer remembers which parameters the no_sync part used (the
CTC head phi, used by f alone) and averages their accumulated gradients too.
"""

from contextlib import nullcontext
from typing import Callable, Dict, List, Sequence

import torch

from espnet_bljust.train.diagnostics import CosineWithHeldGradient


def no_sync(model: torch.nn.Module):
    """DDP's ``no_sync`` context, or a null context for an unwrapped model."""
    return model.no_sync() if hasattr(model, "no_sync") else nullcontext()


def backward_in_parts(
    model: torch.nn.Module,
    parts: Sequence[Callable[[], torch.Tensor]],
    backward: Callable[[torch.Tensor], None],
) -> None:
    """Forward and backward of each loss part in turn.

    ``parts`` are callables: each runs its forward only after the previous
    part's backward has freed that graph. Under DDP (``model`` wrapped) every
    part but the last runs inside ``no_sync``: no all-reduce; DDP counts the
    parameters those parts used, so the last part's backward averages the
    accumulated gradient of every parameter over the ranks, also of those the
    last part does not use.

    Args:
        model: the model as the trainer holds it (maybe DDP-wrapped).
        parts: functions returning scalar losses whose sum is the objective,
            or (loss, after): ``after()`` runs once that loss's backward has
            returned or raised (e.g. to read and remove backward hooks).
        backward: scales and back-propagates one scalar (loss scaling, accum_grad).
    """
    for i, part in enumerate(parts):
        with no_sync(model) if i < len(parts) - 1 else nullcontext():
            loss = part()
            loss, after = loss if isinstance(loss, tuple) else (loss, None)
            try:
                backward(loss)
            finally:
                if after is not None:
                    after()


def upper_loss_parts(
    runner, labeled, unlabeled, weight: float, cosine: bool, stats: Dict
) -> List[Callable[[], torch.Tensor]]:
    """f on a labeled batch, then weight * g, as two parts for
    :func:`backward_in_parts` (call them in order).

    ``runner`` is the trainer's StepRunner (its model, batches, autocast,
    theta and options). g reads one fresh batch of ``unlabeled``
    (``upper_unsup_source`` unlabeled) or a masked pass over the labeled
    batch (labeled).
    ``stats`` receives the supervised stats, loss_sup, loss_unsup_upper
    and, with ``cosine``, grad_cos (cos of the two gradients on theta, read
    by hooks during g's backward without copying either gradient; None when
    ``weight`` is 0).

    Returns:
        [part computing loss_f, part computing weight * loss_g] (scalars
        with their graphs; with ``cosine`` the second returns
        (weight * loss_g, after), ``after`` storing grad_cos)
    """
    held = {}

    def supervised() -> torch.Tensor:
        held["batch"] = runner.batch(labeled)
        with runner.autocast():
            loss_f, sup_stats, _ = runner.model(**held["batch"], objective="supervised")
        stats.update(sup_stats, loss_sup=loss_f.detach())
        return loss_f

    def penalty() -> torch.Tensor:
        batch = held.pop("batch")
        if runner.options.upper_unsup_source == "unlabeled":
            batch = runner.batch(unlabeled)
        with runner.autocast():
            loss_g, unsup_stats, _ = runner.model(
                speech=batch["speech"], speech_lengths=batch["speech_lengths"],
                objective="unsupervised",
            )  # fmt: skip
        stats.update({k: v for k, v in unsup_stats.items() if k not in ("loss", "loss_unsup")})
        stats["loss_unsup_upper"] = loss_g.detach()
        if cosine:  # theta's .grad holds f's gradient; hooks read g's as it arrives
            measure = CosineWithHeldGradient(runner.theta)
            return weight * loss_g, lambda: stats.update(grad_cos=measure.finish())
        return weight * loss_g

    return [supervised, penalty]
