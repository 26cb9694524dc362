"""What a training strategy means: its phases, the streams it reads, its joint tick.

``--strategy`` keeps its string values; :func:`get_strategy` turns one into the
:class:`Strategy` that the phase plan, the trainer and the task consult.
"""

import dataclasses
from enum import Enum
from typing import Dict, Optional, Tuple

from espnet_bljust.bilevel.penalty_schedule import PenaltySchedule


class Phase(str, Enum):
    """What one tick of the phase plan does.

    - EXPLORATION: one lower (unsupervised) step of g on unlabeled speech.
    - JOINT: ``bljust``: K lower steps, then one upper step of f + gamma * g;
      ``just``: one upper step of f + lambda * g.
    - FINETUNE: one upper step of f only.
    """

    EXPLORATION = "exploration"
    JOINT = "joint"
    FINETUNE = "finetune"

    @property
    def index(self) -> int:
        return list(Phase).index(self)


# How the upper step of a joint tick weighs g against f.
WEIGHTINGS = ("penalty", "fixed")


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One training strategy.

    Attributes:
        name: the ``--strategy`` value.
        label: its name in tables and plots.
        phases: the phases its plan goes through, in order (a subset of
            exploration, joint, fine-tune).
        lower_steps_in_joint: a joint tick starts with K lower steps of g.
        weighting: how the joint tick's upper step weighs g: ``penalty``
            (gamma from the penalty schedule, step size scaled by
            min(1, 1/gamma)) or ``fixed`` (``--just_weight``); None without a
            joint phase.
        summary: one line of what it does (logs, model card).
    """

    name: str
    label: str
    phases: Tuple[Phase, ...]
    lower_steps_in_joint: bool
    weighting: Optional[str]
    summary: str

    def __post_init__(self):
        if (Phase.JOINT in self.phases) != (self.weighting in WEIGHTINGS):
            raise ValueError(
                f"strategy {self.name}: a joint phase needs a weighting in "
                f"{WEIGHTINGS} and only a joint phase has one, got {self.weighting}"
            )

    @property
    def has_joint_phase(self) -> bool:
        return Phase.JOINT in self.phases

    @property
    def has_exploration_phase(self) -> bool:
        return Phase.EXPLORATION in self.phases

    @property
    def needs_exploration(self) -> bool:
        """Its only unsupervised training is the exploration phase (pre-training)."""
        return self.has_exploration_phase and not self.has_joint_phase

    def check_phase_lengths(self, exploration_len: int) -> None:
        """Refuse phase lengths that leave this strategy without its point."""
        if self.needs_exploration and exploration_len == 0:
            raise ValueError(
                f"strategy {self.name} pre-trains during the exploration phase: "
                "set --exploration_len > 0"
            )

    def needs_unlabeled_stream(self, upper_unsup_source: str, exploration_len: int) -> bool:
        """Whether a run with these settings reads unlabeled speech."""
        if self.has_exploration_phase and exploration_len > 0:
            return True
        return self.has_joint_phase and (
            self.lower_steps_in_joint or upper_unsup_source == "unlabeled"
        )

    def joint_weight(
        self,
        schedule: PenaltySchedule,
        joint_upper_steps: int,
        just_weight: float,
        pbgd_step_scaling: bool,
    ) -> Tuple[float, float]:
        """(weight of g, upper lr scale) of a joint tick's upper step.

        Args:
            schedule: gamma per joint upper step (the penalty weighting).
            joint_upper_steps: upper steps taken in the joint phase so far.
            just_weight: the fixed weight lambda (the fixed weighting).
            pbgd_step_scaling: whether the penalty weighting scales the step.
        """
        if self.weighting == "penalty":
            gamma = schedule(joint_upper_steps)
            return gamma, schedule.step_scale(gamma) if pbgd_step_scaling else 1.0
        if self.weighting == "fixed":
            return just_weight, 1.0
        raise ValueError(f"strategy {self.name} has no joint phase")


E, J, F = Phase.EXPLORATION, Phase.JOINT, Phase.FINETUNE
STRATEGIES: Dict[str, Strategy] = {
    s.name: s
    for s in (  # baselines first, the order of tables and plots
        Strategy(
            "supervised", "supervised", (F,), lower_steps_in_joint=False, weighting=None,
            summary="supervised only (labeled data; the unlabeled data is not used)",
        ),
        Strategy(
            "pt_ft", "PT+FT", (E, F), lower_steps_in_joint=False, weighting=None,
            summary="PT+FT: unsupervised pre-training, then supervised fine-tuning",
        ),
        Strategy(
            "just", "JUST", (E, J, F), lower_steps_in_joint=False, weighting="fixed",
            summary="JUST: one joint step on the supervised loss plus λ × the "
            "unsupervised loss",
        ),
        Strategy(
            "bljust", "BL-JUST", (E, J, F), lower_steps_in_joint=True, weighting="penalty",
            summary="BL-JUST: penalty-based bilevel gradient descent — lower steps on the "
            "unsupervised loss g, upper steps on f + γ·g with γ raised toward γ_max",
        ),
    )
}  # fmt: skip
STRATEGY_NAMES = tuple(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """The Strategy of a ``--strategy`` value."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGY_NAMES}: {name}")
    return STRATEGIES[name]
