"""Keeps one optimizer step from poisoning the model.

A step on a batch with NaN/Inf samples is skipped by the gradient-norm check,
but its forward pass in train mode has already updated module buffers (the
conformer's BatchNorm running statistics, online k-means centroids). A step
with a finite gradient can still write NaN into the weights (a corrupted
optimizer moment, an overflow). :class:`StepGuard` snapshots the buffers at
the start of each step, the updated parameters and optimizer state just before
``optimizer.step()``, checks the result with one fused reduction, and puts
everything back when the step is not taken.

Cost: one copy of the buffers per step and one copy of the stepped parameters
and their optimizer state per optimizer step (for Adam three times the
parameter memory, on the parameters' device), alive only around
``optimizer.step()``.
"""

import logging
import math
from typing import Dict, List, Optional, Sequence

import torch

# Buffers that are the trainer's own counters (kept in the model), not model state.
_COUNTER_PREFIX = "bilevel_state."


def nonfinite_max(tensors: Sequence[torch.Tensor]) -> bool:
    """True when any floating-point tensor holds NaN or Inf.

    One fused ``_foreach_norm(inf)`` (max |x| per tensor, NaN propagates) and
    one reduction over the per-tensor maxima: a single device sync.
    """
    floats = [t.detach() for t in tensors if t.is_floating_point() and t.numel() > 0]
    if not floats:
        return False
    maxima = torch._foreach_norm(floats, float("inf"))
    return not bool(torch.isfinite(torch.stack(maxima).max()))


def nonfinite_utterances(uids: Sequence[str], batch: Dict[str, torch.Tensor]) -> List[str]:
    """Ids of the utterances whose floating-point inputs hold NaN or Inf.

    Args:
        uids: the batch's utterance ids, length B.
        batch: espnet2's collated batch; ``speech`` is (B, T) or (B, T, D).
    """
    bad = torch.zeros(len(uids), dtype=torch.bool)
    for name, value in batch.items():
        if name.endswith("_lengths") or not torch.is_tensor(value):
            continue
        if value.is_floating_point() and value.dim() >= 1 and value.shape[0] == len(uids):
            bad |= (~torch.isfinite(value)).flatten(1).any(1).cpu()
    return [uid for uid, b in zip(uids, bad.tolist()) if b]


class StepGuard:
    """Snapshot, check and roll back one step of a model and its optimizers.

    Use per step: :meth:`begin` (buffers), :meth:`check_inputs` for every
    batch, :meth:`before_update` / :meth:`after_update` around
    ``optimizer.step()``, :meth:`restore_buffers` when the step is not taken.
    """

    def __init__(self, model: torch.nn.Module):
        self.buffers = [
            b for name, b in model.named_buffers() if not name.startswith(_COUNTER_PREFIX)
        ]
        self._saved_buffers: List[torch.Tensor] = []
        self._saved_params: List[torch.Tensor] = []
        self._saved_state: Dict[torch.nn.Parameter, Optional[dict]] = {}
        self.bad_inputs: List[str] = []

    def begin(self) -> None:
        """Start of a step: remember the buffers, forget earlier bad inputs."""
        self._saved_buffers = [b.detach().clone() for b in self.buffers]
        self.bad_inputs = []

    def check_inputs(self, uids: Sequence[str], batch: Dict[str, torch.Tensor]) -> None:
        """Note (and log once) the utterances of ``batch`` with non-finite samples."""
        bad = nonfinite_utterances(uids, batch)
        if bad:
            logging.warning(f"non-finite samples (NaN/Inf) in utterance(s) {bad}: step skipped")
            self.bad_inputs += bad

    @property
    def inputs_ok(self) -> bool:
        """No batch of this step held non-finite samples."""
        return not self.bad_inputs

    @torch.no_grad()
    def restore_buffers(self) -> None:
        """Put the buffers back as they were at :meth:`begin`."""
        for buffer, saved in zip(self.buffers, self._saved_buffers):
            buffer.copy_(saved)

    @torch.no_grad()
    def before_update(self, optimizer: torch.optim.Optimizer, params: List[torch.Tensor]) -> None:
        """Remember ``params`` and their optimizer state before ``optimizer.step()``."""
        self._saved_params = [p.detach().clone() for p in params]
        self._saved_state = {}
        for p in params:
            state = optimizer.state.get(p)
            self._saved_state[p] = (
                None
                if state is None
                else {k: v.clone() if torch.is_tensor(v) else v for k, v in state.items()}
            )

    @torch.no_grad()
    def after_update(self, optimizer: torch.optim.Optimizer, params: List[torch.Tensor]) -> bool:
        """True when ``params`` and the buffers are finite after the step;
        otherwise roll back parameters, optimizer state and buffers and return False.
        Either way the copies are dropped here, not kept through the next
        step's forward and backward passes."""
        finite = not nonfinite_max(list(params) + self.buffers)
        if not finite:
            for p, saved in zip(params, self._saved_params):
                p.copy_(saved)
            for p, state in self._saved_state.items():
                if state is None:
                    optimizer.state.pop(p, None)
                else:
                    optimizer.state[p] = state
            self.restore_buffers()
        self._saved_params, self._saved_state = [], {}
        return finite


class NonFiniteValidationError(RuntimeError):
    """The validation loss of an epoch is NaN or Inf."""


class NonFiniteTrainingError(RuntimeError):
    """Training steps keep failing: ``--max_nonfinite_steps`` skipped in a
    row, or an epoch in which every step was skipped."""


class FiniteLossWatcher:
    """Notes a non-finite ``loss`` registered into espnet2's SubReporter.

    Hooks the reporter's ``register`` (espnet2's typechecked validation
    takes the SubReporter itself, not a wrapper); :meth:`detach` unhooks it.
    """

    def __init__(self, reporter):
        self._reporter = reporter
        self._register = reporter.register
        self.bad: Optional[float] = None
        reporter.register = self.register

    def register(self, stats, weight=None) -> None:
        loss = stats.get("loss")
        loss = None if loss is None else float(loss)
        if loss is not None and not math.isfinite(loss) and self.bad is None:
            self.bad = loss
        self._register(stats, weight)

    def detach(self) -> None:
        """Give the reporter its own ``register`` back."""
        del self._reporter.register

    def raise_if_nonfinite(self) -> None:
        """NonFiniteValidationError naming the epoch when a loss was NaN/Inf."""
        if self.bad is not None:
            raise NonFiniteValidationError(
                f"epoch {self._reporter.epoch}: the validation loss is {self.bad}; "
                "stopping before this epoch is saved (the checkpoints of the "
                "earlier epochs are kept)"
            )
