"""The bilevel trainer: espnet2's Trainer with a BL-JUST train_one_epoch.

espnet2's ``Trainer.run`` keeps doing what it does (resume, DDP wrapping,
validation, checkpoints, best-model links, TensorBoard); this class replaces
the epoch loop with the phase plan of the chosen strategy.
"""

import argparse
import dataclasses
import logging
import math
import time
from pathlib import Path
from contextlib import contextmanager, nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler
from espnet2.torch_utils.device_funcs import to_device
from espnet2.train.trainer import Trainer, TrainerOptions
from espnet2.utils.build_dataclass import build_dataclass
from typeguard import typechecked

from espnet_bljust.bilevel.penalty_schedule import PenaltySchedule
from espnet_bljust.bilevel.phases import Phase, PhasePlan
from espnet_bljust.bilevel.strategy import get_strategy
from espnet_bljust.iterators.bilevel_iter_factory import BilevelEpoch
from espnet_bljust.train.checkpoints import (
    atomic_trainer_saves,
    clean_temporaries,
    load_first_readable,
    restore_missing_checkpoint,
)
from espnet_bljust.train.diagnostics import check_replicas_in_sync, gradient_cosine
from espnet_bljust.train.rank_stats import average_across_ranks
from espnet_bljust.train.split_backward import backward_in_parts, upper_loss_parts
from espnet_bljust.train.step_guard import FiniteLossWatcher, StepGuard

UPPER, LOWER = 0, 1  # positions of the two optimizers in espnet2's lists


@dataclasses.dataclass
class BLJUSTTrainerOptions(TrainerOptions):
    strategy: str
    lower_steps_per_upper: int
    gamma_init: float
    gamma_max: float
    gamma_shape: str
    gamma_ramp_steps: int
    pbgd_step_scaling: bool
    just_weight: float
    upper_unsup_source: str
    phase_unit: str
    exploration_len: int
    joint_len: int
    finetune_len: int
    grad_cosine_interval: int
    max_nonfinite_steps: int
    keep_last_checkpoints: int
    num_iters_per_epoch: Optional[int]


def build_phase_plan(options: BLJUSTTrainerOptions) -> PhasePlan:
    """The PhasePlan of ``options`` (total length from max_epoch)."""
    if options.phase_unit == "epoch":
        total = options.max_epoch
    elif options.num_iters_per_epoch is not None:
        total = options.max_epoch * options.num_iters_per_epoch
    else:
        total = None
    return PhasePlan(
        strategy=get_strategy(options.strategy),
        unit=options.phase_unit,
        exploration_len=options.exploration_len,
        joint_len=options.joint_len,
        finetune_len=options.finetune_len,
        total=total,
    )


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
                backward_in_parts(self.model, loss, lambda part: self.backward(part / accum))
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
                raise RuntimeError(
                    f"{self.state['nonfinite_streak']} consecutive steps had a "
                    "non-finite loss or gradient (--max_nonfinite_steps "
                    f"{self.options.max_nonfinite_steps}); stopping. Check the data "
                    "and lower the learning rates."
                )
        if self.scaler is not None:
            self.scaler.update()
        self.core.zero_grad(set_to_none=True)
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


class BLJUSTTrainer(Trainer):
    """espnet2 Trainer whose epoch follows the bilevel phase plan.

    Per tick of the plan:
    - exploration: one lower step of g (lower optimizer: theta, eta);
    - joint, ``bljust``: K lower steps of g, then one upper step of
      f + gamma * g (upper optimizer: theta, phi, eta), its step size scaled
      by min(1, 1/gamma) when ``pbgd_step_scaling``; gamma advances per upper
      step;
    - joint, ``just``: one step of f + lambda * g (upper optimizer);
    - fine-tune (and ``supervised``): one step of f.
    Counters, gamma and both streams' positions live in
    ``model.bilevel_state``, so espnet2's checkpoint carries them.
    """

    @classmethod
    @typechecked
    def build_options(cls, args: argparse.Namespace) -> TrainerOptions:
        return build_dataclass(BLJUSTTrainerOptions, args)

    @classmethod
    def run(
        cls,
        model,
        optimizers,
        schedulers,
        train_iter_factory,
        valid_iter_factory,
        plot_attention_iter_factory,
        trainer_options,
        distributed_option,
    ) -> None:
        """espnet2's run, with atomic checkpoint writes and the last N kept.

        Before it: stale temporaries of a killed save are removed, and with
        ``--resume true`` a missing ``checkpoint.pth`` is taken from the kept
        checkpoints instead of silently starting over.
        """
        output_dir = Path(trainer_options.output_dir)
        if not distributed_option.distributed or distributed_option.dist_rank == 0:
            for stale in clean_temporaries(output_dir):
                logging.info(f"removed {stale}, left by an interrupted save")
        if trainer_options.resume:
            restore_missing_checkpoint(output_dir / "checkpoint.pth")
        with atomic_trainer_saves(trainer_options.keep_last_checkpoints):
            super().run(
                model=model,
                optimizers=optimizers,
                schedulers=schedulers,
                train_iter_factory=train_iter_factory,
                valid_iter_factory=valid_iter_factory,
                plot_attention_iter_factory=plot_attention_iter_factory,
                trainer_options=trainer_options,
                distributed_option=distributed_option,
            )

    @staticmethod
    def resume(
        checkpoint,
        model,
        reporter,
        optimizers,
        schedulers,
        scaler,
        ngpu: int = 0,
        strict: bool = True,
    ):
        """espnet2's resume from the newest readable of checkpoint.pth and the kept ones."""

        def load(path):
            Trainer.resume(
                checkpoint=path,
                model=model,
                reporter=reporter,
                optimizers=optimizers,
                schedulers=schedulers,
                scaler=scaler,
                ngpu=ngpu,
                strict=strict,
            )

        load_first_readable(Path(checkpoint), load)

    @classmethod
    def validate_one_epoch(cls, model, iterator, reporter, options, distributed_option) -> None:
        """espnet2's validation; a non-finite validation loss stops the run
        before this epoch's checkpoint is written."""
        watcher = FiniteLossWatcher(reporter)
        try:
            super().validate_one_epoch(model, iterator, reporter, options, distributed_option)
        finally:
            watcher.detach()
        watcher.raise_if_nonfinite()

    @classmethod
    def gamma_schedule(
        cls, options: BLJUSTTrainerOptions, plan: PhasePlan, iterator: BilevelEpoch
    ) -> PenaltySchedule:
        """gamma schedule; ramp_steps <= 0 spans the planned joint phase."""
        ramp = options.gamma_ramp_steps
        if ramp <= 0:
            ramp = plan.joint_length()
            if plan.unit == "epoch":
                ramp *= iterator.num_ticks(Phase.JOINT)
        return PenaltySchedule(
            options.gamma_init, options.gamma_max, options.gamma_shape, max(1, ramp)
        )

    @classmethod
    def train_one_epoch(
        cls,
        model: torch.nn.Module,
        iterator: BilevelEpoch,
        optimizers: Sequence[torch.optim.Optimizer],
        schedulers: Sequence,
        scaler,
        reporter,
        summary_writer,
        options: BLJUSTTrainerOptions,
        distributed_option,
    ) -> bool:
        """Run one epoch; returns True when no step of it was valid."""
        core = unwrap(model)
        state = core.bilevel_state
        plan = build_phase_plan(options)
        schedule = cls.gamma_schedule(options, plan, iterator)
        state["gamma_ramp_steps"] = schedule.ramp_steps
        device = "cuda" if options.ngpu > 0 else "cpu"
        runner = StepRunner(model, optimizers, schedulers, scaler, options, device)
        labeled, unlabeled = iterator.labeled, iterator.unlabeled
        labeled.seek(state["labeled_pass"], state["labeled_offset"])
        if unlabeled is not None:
            unlabeled.seek(state["unlabeled_pass"], state["unlabeled_offset"])

        num_ticks = iterator.num_ticks(plan.phase(iterator.epoch, state["ticks"]))
        log_interval = options.log_interval or max(num_ticks // 20, 10)
        logging.info(
            f"epoch {iterator.epoch}: {num_ticks} ticks, {plan}, {schedule}, "
            f"state {state.as_dict()}"
        )
        model.train()
        any_valid = False
        for tick in range(1, num_ticks + 1):
            runner.iter_time = 0.0
            with reporter.measure_time("tick_time") as start:
                phase = plan.phase(iterator.epoch, state["ticks"])
                stats = cls._one_tick(runner, phase, labeled, unlabeled, schedule, options)
            # espnet2's split of a step: waiting for batches, the rest
            stats["iter_time"] = runner.iter_time
            stats["train_time"] = time.perf_counter() - start - runner.iter_time
            stepped = stats.pop("_stepped")
            stats = average_across_ranks(stats)
            any_valid = any_valid or stepped
            state["ticks"] += 1
            state["phase"] = phase.index
            state["labeled_pass"], state["labeled_offset"] = labeled.position
            if unlabeled is not None:
                state["unlabeled_pass"], state["unlabeled_offset"] = unlabeled.position
            stats.update(
                phase=phase.index,
                lr_upper=optimizers[UPPER].param_groups[0]["lr"],
                lr_lower=optimizers[LOWER].param_groups[0]["lr"],
            )
            reporter.register(stats)
            reporter.next()
            if tick % log_interval == 0:
                logging.info(reporter.log_message(-log_interval))
                if summary_writer is not None:
                    reporter.tensorboard_add_scalar(summary_writer, -log_interval)
        fingerprint = check_replicas_in_sync(core, f"epoch {iterator.epoch}")
        if fingerprint is not None:
            logging.info(f"epoch {iterator.epoch}: replicas in sync ({fingerprint:.6f})")
        return not any_valid

    @classmethod
    def _one_tick(
        cls,
        runner: StepRunner,
        phase: Phase,
        labeled,
        unlabeled,
        schedule: PenaltySchedule,
        options: BLJUSTTrainerOptions,
    ) -> Dict[str, Optional[float]]:
        """The steps of one tick of ``phase``; returns reporter stats."""
        state = runner.state
        strategy = get_strategy(options.strategy)
        stats: Dict[str, Optional[float]] = {}
        stepped = False
        if phase == Phase.EXPLORATION or (
            phase == Phase.JOINT and strategy.lower_steps_in_joint
        ):
            num_lower = 1 if phase == Phase.EXPLORATION else options.lower_steps_per_upper
            lower = [runner.lower_step(unlabeled) for _ in range(num_lower)]
            stepped = any(ok for ok, _ in lower)
            for key in lower[0][1]:
                values = [s[key] for _, s in lower if s.get(key) is not None]
                if values:
                    stats[f"{key}_lower"] = sum(values) / len(values)
            stats["loss"] = stats.get("loss_unsup_lower")

        if phase == Phase.JOINT:
            gamma, lr_scale = strategy.joint_weight(
                schedule, state["joint_upper_steps"], options.just_weight,
                options.pbgd_step_scaling,
            )  # fmt: skip
            state["gamma"] = gamma
            interval = options.grad_cosine_interval
            cosine = interval > 0 and state["joint_upper_steps"] % interval == 0
            ok, upper = runner.upper_step(labeled, unlabeled, gamma, lr_scale, cosine)
            state["joint_upper_steps"] += int(ok)  # a skipped step leaves gamma where it is
            stepped = stepped or ok
            upper["grad_norm_upper"] = upper.pop("grad_norm")
            stats.update(upper)
            stats.update(gamma=gamma, upper_lr_scale=lr_scale)
            stats["loss"] = stats["loss_sup"] + gamma * stats["loss_unsup_upper"]
        elif phase == Phase.FINETUNE:
            ok, sup = runner.supervised_step(labeled)
            stepped = ok
            sup["grad_norm_upper"] = sup.pop("grad_norm")
            sup["loss_sup"] = sup.get("loss")
            stats.update(sup)
        stats["_stepped"] = stepped
        return stats
