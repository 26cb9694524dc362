"""What a run costs, and how many ticks each strategy gets for one budget.

The compute measure is the number of encoder forward+backward passes, the
same for every strategy: an exploration tick (one lower step), a fine-tune
tick and a ``supervised`` tick cost 1; a ``just`` joint tick costs 2 (f on a
labeled batch, g on an unlabeled one); a ``bljust`` joint tick costs K + 2
(K lower steps, then f and g). With ``--upper_unsup_source labeled_shared``
the upper step's g rides on the labeled pass, so a joint tick costs one pass
less; ``labeled`` (g on a second, masked pass over the labeled batch) costs
what ``unlabeled`` does.
"""

import dataclasses
from typing import Dict, List

from espnet_bljust.experiments.argv import STRATEGY_ORDER


def joint_tick_passes(strategy: str, lower_steps_per_upper: int = 1,
                      upper_unsup_source: str = "unlabeled") -> int:  # fmt: skip
    """Encoder passes of one joint tick of ``strategy``."""
    upper = 1 if upper_unsup_source == "labeled_shared" else 2
    if strategy == "bljust":
        return lower_steps_per_upper + upper
    if strategy == "just":
        return upper
    return 1


@dataclasses.dataclass(frozen=True)
class TickPlan:
    """A run's phase plan in ticks, laid out over ``epochs`` epochs.

    ``exploration`` ticks first, ``finetune`` ticks last, ``joint`` ticks (of
    ``joint_passes`` passes each) in between; a ``pt_ft`` run pre-trains for
    its ``exploration`` ticks and fine-tunes for the rest (``joint`` 0).
    """

    strategy: str
    exploration: int
    finetune: int
    epochs: int
    iters_per_epoch: int
    joint_passes: int = 1

    @property
    def ticks(self) -> int:
        return self.epochs * self.iters_per_epoch

    @property
    def joint(self) -> int:
        if self.strategy in ("supervised", "pt_ft"):
            return 0
        return max(0, self.ticks - self.exploration - self.finetune)

    def passes_after(self, ticks: int) -> int:
        """Encoder passes of the first ``ticks`` ticks."""
        joint = min(max(0, ticks - self.exploration), self.joint)
        return ticks + (self.joint_passes - 1) * joint

    @property
    def passes(self) -> int:
        return self.passes_after(self.ticks)

    def passes_per_epoch(self) -> List[int]:
        """Cumulative passes at the end of every epoch (x of the dev curve)."""
        return [self.passes_after(e * self.iters_per_epoch) for e in range(1, self.epochs + 1)]


def plan_for_budget(strategy: str, budget: int, epochs: int, exploration_frac: float = 0.0,
                    finetune_frac: float = 0.0, lower_steps_per_upper: int = 1,
                    upper_unsup_source: str = "unlabeled") -> TickPlan:  # fmt: skip
    """The tick plan of ``strategy`` whose passes come closest to ``budget``.

    ``exploration_frac`` and ``finetune_frac`` are shares of the budget: the
    exploration (for ``pt_ft`` the pre-training) and the fine-tune phase take
    about round(frac x budget) ticks of one pass; the joint phase gets what is
    left, at :func:`joint_tick_passes` each. The ticks are spread over
    ``epochs`` epochs of equal length (one validation each); the exploration
    of a strategy with a joint phase then moves by the few ticks that bring
    its passes within half a joint tick of the budget (without one, a plan
    misses the budget by less than half an epoch's ticks).
    """
    if strategy not in STRATEGY_ORDER:
        raise ValueError(f"unknown strategy {strategy!r}")
    if budget < epochs or epochs < 1:
        raise ValueError(f"a budget of {budget} passes cannot fill {epochs} epochs")
    explore = round(exploration_frac * budget) if strategy != "supervised" else 0
    finetune = round(finetune_frac * budget) if strategy in ("just", "bljust") else 0
    cost = 1
    if strategy in ("just", "bljust"):
        cost = joint_tick_passes(strategy, lower_steps_per_upper, upper_unsup_source)
    if explore + finetune > budget:
        raise ValueError(f"{strategy}: exploration and fine-tune exceed the budget")
    ticks = explore + finetune + (budget - explore - finetune) / cost

    def plan(iters: int) -> TickPlan:
        iters = max(1, iters)
        n1 = explore
        if cost > 1:  # each exploration tick in place of a joint one saves cost - 1 passes
            total = epochs * iters
            n1 = round(total - finetune - (budget - total) / (cost - 1))
            n1 = min(max(0, n1), max(0, total - finetune))
        return TickPlan(strategy, n1, finetune, epochs, iters, cost)

    base = int(ticks // epochs)
    candidates = [plan(i) for i in (base - 1, base, base + 1, base + 2)]
    return min(candidates, key=lambda p: (abs(p.passes - budget), abs(p.exploration - explore)))


def passes_from_counters(counters: Dict[str, int], strategy: str,
                         upper_unsup_source: str = "unlabeled") -> int:  # fmt: skip
    """Encoder passes a finished run made, from its bilevel counters
    (``lower_steps``, ``upper_steps``, ``skipped_steps``, ``joint_upper_steps``
    of ``model.bilevel_state``): every step, taken or skipped for a non-finite
    gradient, made one pass; a joint upper step with g on a pass of its own
    (any source but ``labeled_shared``) made one more."""
    passes = counters["lower_steps"] + counters["upper_steps"] + counters["skipped_steps"]
    if strategy in ("just", "bljust") and upper_unsup_source != "labeled_shared":
        passes += counters.get("joint_upper_steps", 0)
    return passes


def planned_steps(
    strategy: str, total_ticks: int, exploration_frac: float, finetune_frac: float,
    lower_steps_per_upper: int = 1,
) -> int:
    """Optimizer steps (lower + upper) a run of ``strategy`` takes under the
    equal-ticks plan of :func:`~espnet_bljust.experiments.argv.strategy_argv`:
    every tick is one step, and each bljust joint tick adds
    ``lower_steps_per_upper`` lower steps."""
    if strategy != "bljust":
        return total_ticks
    n1 = int(round(exploration_frac * total_ticks))
    n3 = int(round(finetune_frac * total_ticks))
    return total_ticks + lower_steps_per_upper * max(0, total_ticks - n1 - n3)
