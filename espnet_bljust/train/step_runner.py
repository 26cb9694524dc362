"""StepRunner: the optimizer steps of one tick (backward, clip, guard, step, schedule).

Each level has its own optimizer (``UPPER``, ``LOWER`` index espnet2's
lists); a step runs ``accum_grad`` batches, checks them with the StepGuard,
and may run its backward in parts (the upper step's f, then gamma * g).
"""

import logging
import math
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Dict, List, Optional, Tuple

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler
from espnet2.torch_utils.device_funcs import to_device

from espnet_bljust.train.diagnostics import gradient_cosine
from espnet_bljust.train.heap import trim_heap
from espnet_bljust.train.split_backward import backward_in_parts, upper_loss_parts
from espnet_bljust.train.step_guard import NonFiniteTrainingError, StepGuard

UPPER, LOWER = 0, 1  # positions of the two optimizers in espnet2's lists


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside DistributedDataParallel / DataParallel."""
    return model.module if hasattr(model, "module") else model


@contextmanager
def scaled_lr(optimizer: torch.optim.Optimizer, factor: float):
    """Multiply every param group's lr by ``factor`` for one step."""
    if factor == 1.0:
        yield
        return
    saved = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
    try:
        yield
    finally:
        for group, lr in zip(optimizer.param_groups, saved):
            group["lr"] = lr


def amp_dtype(device: str) -> torch.dtype:
    """The autocast dtype of ``--use_amp``.

    On GPU the one espnet2's Trainer picks (bfloat16 where supported, else
    float16 with its GradScaler). On CPU espnet2's CUDA autocast is a no-op;
    here CPU autocast runs in bfloat16, which needs no loss scaling.
    """
    if device == "cpu" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def _params(optimizer: torch.optim.Optimizer) -> List[torch.nn.Parameter]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _scalar(value) -> Optional[float]:
    if value is None:
        return None
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


class StepRunner:
    """Takes optimizer steps for one epoch: backward, clip, skip, step, schedule."""

    def __init__(self, model, optimizers, schedulers, scaler, options, device):
        self.model = model
        self.core = unwrap(model)
        self.optimizers = optimizers
        self.schedulers = schedulers
        self.scaler = scaler
        self.options = options
        self.device = device
        self.iter_time = 0.0
        self.state = self.core.bilevel_state
        self.theta = self.core.parameter_groups()["shared"]
        self.guard = StepGuard(self.core)
        if options.use_amp:
            dtype = amp_dtype(device)
            self.autocast = lambda: torch.autocast(device_type=device, dtype=dtype)
        else:
            self.autocast = nullcontext

    def batch(self, stream) -> Dict[str, torch.Tensor]:
        """The next batch of ``stream`` on the device, its inputs checked finite;
        the wait for it adds to ``iter_time`` (seconds, reset every tick)."""
        start = time.perf_counter()
        uids, batch = next(stream)
        self.iter_time += time.perf_counter() - start
        batch = to_device(batch, self.device)
        self.guard.check_inputs(uids, batch)
        return batch

    def step(
        self,
        level: int,
        compute_loss: Callable[[], Tuple[torch.Tensor, Dict]],
        lr_scale: float = 1.0,
    ) -> Tuple[bool, Dict[str, Optional[float]]]:
        """One optimizer step of ``optimizers[level]`` on ``accum_grad`` batches.

        ``compute_loss`` pulls its own batch and returns (loss, stats); the
        loss may also be a list of functions computing loss parts whose sum is
        the objective (see :func:`backward_in_parts`; ``stats`` is read after
        the last). A non-finite input or gradient norm skips the step, and a
        step that leaves a parameter or buffer non-finite is rolled back (see
        StepGuard); both are counted in the state, and after
        ``max_nonfinite_steps`` in a row training stops.

        Returns:
            (stepped, stats averaged over the accumulated batches + grad_norm)
        """
        optimizer = self.optimizers[level]
        scheduler = self.schedulers[level]
        accum = self.options.accum_grad
        self.core.zero_grad(set_to_none=True)
        self.guard.begin()
        collected: Dict[str, List[float]] = {}
        for _ in range(accum):
            with self.autocast():
                loss, stats = compute_loss()
            if isinstance(loss, torch.Tensor):
                self.backward(loss / accum)
            else:  # loss parts, each forward after the previous one's backward
                backward_in_parts(self.model, loss, lambda part: self.backward_part(part / accum))
            for key, value in stats.items():
                value = _scalar(value)
                if value is not None:
                    collected.setdefault(key, []).append(value)
        params = [p for p in _params(optimizer) if p.grad is not None]
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        max_norm = self.options.grad_clip if self.options.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(
            params, max_norm=max_norm, norm_type=self.options.grad_clip_type
        )
        stepped = bool(torch.isfinite(grad_norm)) and self.guard.inputs_ok
        reason = f"non-finite input or gradient norm ({grad_norm})"
        if stepped:
            self.guard.before_update(optimizer, params)
            with scaled_lr(optimizer, lr_scale):
                if self.scaler is not None:
                    self.scaler.step(optimizer)
                else:
                    optimizer.step()
            stepped = self.guard.after_update(optimizer, params)
            reason = "non-finite parameter or buffer after the update (rolled back)"
        if stepped:
            if isinstance(scheduler, AbsBatchStepScheduler):
                scheduler.step()
            self.state["nonfinite_streak"] = 0
        else:
            self.guard.restore_buffers()
            self.state["skipped_steps"] += 1
            self.state["nonfinite_streak"] += 1
            logging.warning(
                f"{reason} at the {'upper' if level == UPPER else 'lower'} level: "
                f"step skipped ({self.state['nonfinite_streak']} in a row)"
            )
            if self.state["nonfinite_streak"] >= self.options.max_nonfinite_steps:
                raise NonFiniteTrainingError(
                    f"{self.state['nonfinite_streak']} consecutive steps had a "
                    "non-finite loss or gradient (--max_nonfinite_steps "
                    f"{self.options.max_nonfinite_steps}); stopping. Check the data "
                    "and lower the learning rates."
                )
        if self.scaler is not None:
            self.scaler.update()
        self.core.zero_grad(set_to_none=True)
        if self.options.malloc_trim:
            trim_heap()
        stats = {k: sum(v) / len(v) for k, v in collected.items()}
        stats["grad_norm"] = float(grad_norm)
        if stepped:
            self.state["upper_steps" if level == UPPER else "lower_steps"] += 1
        return stepped, stats

    def backward(self, loss: torch.Tensor) -> None:
        """Back-propagate a scalar, scaled by the GradScaler under AMP."""
        if self.scaler is not None:
            loss = self.scaler.scale(loss)
        loss.backward()

    def backward_part(self, loss: torch.Tensor) -> None:
        """Back-propagate one part of a loss; with ``--malloc_trim`` the heap
        pages its graph freed go back before the next part's forward."""
        self.backward(loss)
        if self.options.malloc_trim:
            trim_heap()

    # -------------------------------------------------------------- the steps
    def lower_step(self, unlabeled) -> Tuple[bool, Dict]:
        """One step of g(theta, eta) on an unlabeled batch (lower optimizer)."""

        def compute():
            loss, stats, _ = self.model(**self.batch(unlabeled), objective="unsupervised")
            return loss, stats

        return self.step(LOWER, compute)

    def supervised_step(self, labeled) -> Tuple[bool, Dict]:
        """One step of f(theta, phi) on a labeled batch (upper optimizer)."""

        def compute():
            loss, stats, _ = self.model(**self.batch(labeled), objective="supervised")
            return loss, stats

        return self.step(UPPER, compute)

    def upper_step(
        self, labeled, unlabeled, weight: float, lr_scale: float, cosine: bool
    ) -> Tuple[bool, Dict]:
        """One step of f + weight * g over theta, phi, eta (upper optimizer).

        With g on its own pass (``upper_unsup_source`` unlabeled or labeled)
        the step runs backward of f, then forward and backward of weight * g
        (:func:`upper_loss_parts`); labeled_shared has one pass for both.
        """
        first = [True]

        def compute():
            with_cosine, first[0] = cosine and first[0], False
            if self.options.upper_unsup_source != "labeled_shared":
                stats: Dict = {}
                parts = upper_loss_parts(self, labeled, unlabeled, weight, with_cosine, stats)
                return parts, stats
            (loss_f, loss_g), stats, _ = self.model(
                **self.batch(labeled), objective="joint", unsup_source="labeled_shared"
            )
            stats = dict(stats)
            if with_cosine:
                stats["grad_cos"] = gradient_cosine(loss_f, loss_g, self.theta)
            stats["loss_sup"] = loss_f.detach()
            stats["loss_unsup_upper"] = loss_g.detach()
            stats.pop("loss_unsup", None)
            return loss_f + weight * loss_g, stats

        return self.step(UPPER, compute, lr_scale=lr_scale)
