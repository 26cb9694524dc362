"""Which phase of training a step belongs to, for each strategy."""

from enum import Enum
from typing import Optional

from typeguard import typechecked

STRATEGIES = ("bljust", "just", "pt_ft", "supervised")
PHASE_UNITS = ("epoch", "step")


class Phase(str, Enum):
    """What one training step does.

    - EXPLORATION: one lower (unsupervised) step of g on unlabeled speech.
    - JOINT: ``bljust``: K lower steps, then one upper step of f + gamma * g;
      ``just``: one step of f + lambda * g.
    - FINETUNE: one supervised step of f only.
    """

    EXPLORATION = "exploration"
    JOINT = "joint"
    FINETUNE = "finetune"

    @property
    def index(self) -> int:
        return list(Phase).index(self)


class PhasePlan:
    """Phase boundaries: exploration [0, N1), joint [N1, N1+N2), fine-tune after.

    Lengths count epochs (1-based epoch numbers) or steps (ticks: one
    exploration step, one K-lower+1-upper round, or one fine-tune step),
    according to ``unit``. A negative ``joint_len`` lets the joint phase run
    until ``total - finetune_len`` where ``total`` is the training length in
    the same unit (max_epoch, or max_epoch * num_iters_per_epoch).

    Strategies:
    - ``bljust`` / ``just``: exploration, joint, fine-tune.
    - ``pt_ft``: exploration (pre-training) for N1, fine-tune afterwards.
    - ``supervised``: fine-tune (supervised only) throughout.
    """

    @typechecked
    def __init__(
        self,
        strategy: str,
        unit: str = "epoch",
        exploration_len: int = 0,
        joint_len: int = -1,
        finetune_len: int = 0,
        total: Optional[int] = None,
    ):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}: {strategy}")
        if unit not in PHASE_UNITS:
            raise ValueError(f"phase unit must be one of {PHASE_UNITS}: {unit}")
        if exploration_len < 0 or finetune_len < 0:
            raise ValueError(
                "exploration_len and finetune_len must be >= 0: "
                f"{exploration_len}, {finetune_len}"
            )
        if strategy == "pt_ft" and exploration_len == 0:
            raise ValueError(
                "strategy pt_ft pre-trains during the exploration phase: "
                "set --exploration_len > 0"
            )
        if joint_len < 0:
            if total is None:
                raise ValueError(
                    "joint_len < 0 (until fine-tuning) needs the total training "
                    f"length in {unit}s; with phase_unit=step set "
                    "--num_iters_per_epoch, or give --joint_len explicitly"
                )
            joint_len = max(0, total - exploration_len - finetune_len)
        self.strategy = strategy
        self.unit = unit
        self.exploration_len = exploration_len
        self.joint_len = joint_len
        self.finetune_len = finetune_len

    def phase(self, epoch: int, tick: int) -> Phase:
        """Phase of the step with 0-based global ``tick`` inside 1-based ``epoch``."""
        if self.strategy == "supervised":
            return Phase.FINETUNE
        pos = epoch - 1 if self.unit == "epoch" else tick
        if pos < self.exploration_len:
            return Phase.EXPLORATION
        if self.strategy == "pt_ft":
            return Phase.FINETUNE
        if pos < self.exploration_len + self.joint_len:
            return Phase.JOINT
        return Phase.FINETUNE

    def joint_length(self) -> int:
        """Length of the joint phase, in this plan's unit."""
        return 0 if self.strategy in ("supervised", "pt_ft") else self.joint_len

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(strategy={self.strategy}, unit={self.unit}, "
            f"exploration={self.exploration_len}, joint={self.joint_len}, "
            f"finetune={self.finetune_len})"
        )
