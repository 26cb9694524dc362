"""Which phase of training a tick belongs to, for each strategy."""

import logging
from typing import Optional

from typeguard import typechecked

from espnet_bljust.bilevel.strategy import Phase, Strategy  # noqa: F401 (Phase re-exported)

PHASE_UNITS = ("epoch", "tick")
# Older names of a unit, still accepted with a deprecation line.
PHASE_UNIT_ALIASES = {"step": "tick"}


_warned = set()  # espnet2 parses the options more than once: one line per name


def phase_unit(value: str) -> str:
    """argparse type of ``--phase_unit``: an older name maps to the unit it meant."""
    if value in PHASE_UNIT_ALIASES:
        new = PHASE_UNIT_ALIASES[value]
        if value in _warned:
            return new
        _warned.add(value)
        # a module logger: the root logger's logging.warning would configure
        # logging at WARNING before espnet2 sets --log_level (INFO lines lost)
        logging.getLogger(__name__).warning(
            f"--phase_unit {value} is deprecated: it counts ticks of the phase plan, "
            f"not optimizer steps; write --phase_unit {new}"
        )
        return new
    return value


class PhasePlan:
    """Phase boundaries: exploration [0, N1), joint [N1, N1+N2), fine-tune after.

    Lengths count epochs (1-based epoch numbers) or ticks (one exploration
    step, one round of K lower steps and one upper step, or one fine-tune
    step), according to ``unit``. A negative ``joint_len`` lets the joint phase run
    until ``total - finetune_len`` where ``total`` is the training length in
    the same unit (max_epoch, or max_epoch * num_iters_per_epoch).

    A phase the strategy lacks (``Strategy.phases``) is skipped: ``pt_ft``
    fine-tunes right after exploration, ``supervised`` fine-tunes throughout.
    """

    @typechecked
    def __init__(
        self,
        strategy: Strategy,
        unit: str = "epoch",
        exploration_len: int = 0,
        joint_len: int = -1,
        finetune_len: int = 0,
        total: Optional[int] = None,
    ):
        if unit not in PHASE_UNITS:
            raise ValueError(f"phase unit must be one of {PHASE_UNITS}: {unit}")
        if exploration_len < 0 or finetune_len < 0:
            raise ValueError(
                "exploration_len and finetune_len must be >= 0: "
                f"{exploration_len}, {finetune_len}"
            )
        strategy.check_phase_lengths(exploration_len)
        if joint_len < 0:
            if total is None:
                raise ValueError(
                    "joint_len < 0 (until fine-tuning) needs the total training "
                    f"length in {unit}s; with phase_unit=tick set "
                    "--num_iters_per_epoch, or give --joint_len explicitly"
                )
            joint_len = max(0, total - exploration_len - finetune_len)
        self.strategy = strategy
        self.unit = unit
        self.exploration_len = exploration_len
        self.joint_len = joint_len
        self.finetune_len = finetune_len

    def phase(self, epoch: int, tick: int) -> Phase:
        """Phase of the tick with 0-based global number ``tick`` inside 1-based ``epoch``."""
        pos = epoch - 1 if self.unit == "epoch" else tick
        exploration = self.exploration_len if self.strategy.has_exploration_phase else 0
        if pos < exploration:
            return Phase.EXPLORATION
        if self.strategy.has_joint_phase and pos < exploration + self.joint_len:
            return Phase.JOINT
        return Phase.FINETUNE

    def joint_length(self) -> int:
        """Length of the joint phase, in this plan's unit."""
        return self.joint_len if self.strategy.has_joint_phase else 0

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(strategy={self.strategy.name}, unit={self.unit}, "
            f"exploration={self.exploration_len}, joint={self.joint_len}, "
            f"finetune={self.finetune_len})"
        )
