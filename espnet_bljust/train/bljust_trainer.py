"""The bilevel trainer: espnet2's Trainer with a BL-JUST train_one_epoch.

espnet2's ``Trainer.run`` keeps doing what it does (resume, DDP wrapping,
validation, checkpoints, best-model links, TensorBoard); this class replaces
the epoch loop with the phase plan of the chosen strategy.
"""

import argparse
import dataclasses
import logging
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch
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
from espnet_bljust.train.diagnostics import check_replicas_in_sync
from espnet_bljust.train.rank_stats import average_across_ranks
from espnet_bljust.train.step_guard import FiniteLossWatcher, NonFiniteTrainingError
from espnet_bljust.train.step_runner import LOWER, UPPER, StepRunner, unwrap


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
    malloc_trim: bool
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
        """Run one epoch; returns False (espnet2's "no step was valid"), or
        raises when no step of it was valid."""
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
        if not any_valid:
            # espnet2 would end the run here with exit status 0, as if it had finished
            raise NonFiniteTrainingError(
                f"epoch {iterator.epoch}: every step of its {num_ticks} ticks was skipped "
                "(non-finite loss, gradient or update; see the warnings above); stopping "
                "before this epoch is saved. Check the data, the learning rates and --use_amp."
            )
        return False

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
