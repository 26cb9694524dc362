"""Diagnostics of the bilevel problem: how the two objectives pull on the encoder."""

from typing import Optional, Sequence

import torch


def flat_grad(
    loss: torch.Tensor, params: Sequence[torch.nn.Parameter]
) -> Optional[torch.Tensor]:
    """d loss / d params as one flat vector (zeros where a parameter is unused).

    Uses ``torch.autograd.grad`` with ``retain_graph=True``, so the caller's
    later ``backward`` still works and no ``.grad`` is touched (safe under
    DistributedDataParallel, whose hooks fire on ``.grad`` accumulation only).
    Returns None when no parameter requires a gradient.
    """
    params = [p for p in params if p.requires_grad]
    if not params or not loss.requires_grad:
        return None
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1).float()
            for g, p in zip(grads, params)
        ]
    )


def gradient_cosine(
    loss_a: torch.Tensor, loss_b: torch.Tensor, params: Sequence[torch.nn.Parameter]
) -> Optional[float]:
    """cos(grad_a, grad_b) over ``params`` (e.g. the shared encoder theta).

    Positive: the two objectives agree on the encoder; negative: they
    conflict. None when either gradient is missing or zero.
    """
    return vector_cosine(flat_grad(loss_a, params), flat_grad(loss_b, params))


def vector_cosine(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> Optional[float]:
    """cos(a, b) of two flat vectors (N,); None when either is missing, zero
    or not finite."""
    if a is None or b is None:
        return None
    denom = a.norm() * b.norm()
    if denom == 0 or not torch.isfinite(denom):
        return None
    return float(torch.dot(a, b) / denom)


class CosineWithHeldGradient:
    """cos(held gradient, next backward's gradient) on ``params``, without copies.

    Made after a backward whose gradient the ``.grad`` of ``params`` hold
    (e.g. f's, before the upper step's penalty part); hooks on ``params`` then
    read each parameter's incoming gradient of the next backward (e.g. of
    gamma * g) before it is added to ``.grad``, and sum the dot product and the
    squared norms in float64 on the parameters' device. Memory: a few scalars
    (each incoming gradient is freed as without the measure), where flat
    gradients with a retained graph would hold about three copies of the
    parameters. Call :meth:`finish` once that backward has returned, or raised:
    it removes the hooks. The cosine of a positive multiple of g is that of g.

    Args:
        params: the parameters (e.g. the shared encoder theta).
    """

    def __init__(self, params: Sequence[torch.nn.Parameter]):
        params = [p for p in params if p.requires_grad]
        device = params[0].device if params else torch.device("cpu")
        zero = torch.zeros((), dtype=torch.float64, device=device)
        held = [p.grad for p in params if p.grad is not None]
        self.held_sq = sum((g.double().pow(2).sum() for g in held), zero)
        self.dot, self.next_sq = zero.clone(), zero.clone()
        self.handles = [p.register_hook(self._reader(p)) for p in params]

    def _reader(self, param: torch.nn.Parameter):
        def read(grad: Optional[torch.Tensor]) -> None:
            if grad is None:  # a Function may hand None for "no gradient"
                return
            grad = grad.double()
            if param.grad is not None:
                self.dot += (param.grad.double() * grad).sum()
            self.next_sq += grad.pow(2).sum()

        return read

    def finish(self) -> Optional[float]:
        """Remove the hooks; the cosine, or None when either gradient is
        missing, zero or not finite (also for a zero multiple of g)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []
        denom = (self.held_sq * self.next_sq).sqrt()
        ok = bool(denom > 0) and bool(torch.isfinite(denom)) and bool(torch.isfinite(self.dot))
        return float(self.dot / denom) if ok else None


def check_replicas_in_sync(model: torch.nn.Module, where: str) -> Optional[float]:
    """Under torch.distributed, assert every rank holds the same parameters.

    DistributedDataParallel keeps replicas equal only if every parameter an
    optimizer steps had its gradient all-reduced; a step outside DDP's
    ``forward`` would silently fork them. Compares one float64 fingerprint per
    rank (parameters only: BatchNorm running statistics are per rank).

    Returns:
        the fingerprint, or None when not distributed.

    Raises:
        RuntimeError: naming the ranks' fingerprints, when they differ.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None
    fingerprint = torch.zeros(1, dtype=torch.float64)
    for p in model.parameters():
        fingerprint += p.detach().to(torch.float64).abs().sum().cpu()
    if torch.distributed.get_backend() == "nccl":
        fingerprint = fingerprint.cuda()
    gathered = [
        torch.zeros_like(fingerprint) for _ in range(torch.distributed.get_world_size())
    ]
    torch.distributed.all_gather(gathered, fingerprint)
    values = [float(g) for g in gathered]
    if len(set(values)) > 1:
        raise RuntimeError(
            f"{where}: the training processes hold different weights "
            f"(parameter fingerprints per rank: {values})"
        )
    return values[0]
