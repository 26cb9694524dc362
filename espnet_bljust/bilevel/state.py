"""Training state of the bilevel trainer, kept as buffers of the model.

espnet2's Trainer saves ``model.state_dict()`` into ``checkpoint.pth`` (and
every ``{N}epoch.pth``) and restores it on ``--resume true``; keeping the
counters here makes them travel with the weights they belong to. The unmodified
``Speech2Text`` loads models with ``strict=False`` and ignores these keys.
"""

from typing import Dict

import torch

INT_FIELDS = (
    "ticks",  # ticks of the phase plan taken so far (see PhasePlan)
    "lower_steps",  # optimizer steps of the lower level
    "upper_steps",  # optimizer steps of the upper level (all phases)
    "joint_upper_steps",  # upper steps inside the joint phase (drive gamma)
    "gamma_ramp_steps",  # resolved ramp length; 0 = not resolved yet
    "skipped_steps",  # steps skipped for non-finite loss/gradient
    "nonfinite_streak",  # consecutive skipped steps
    "labeled_pass",  # labeled stream: pass number and batches consumed in it
    "labeled_offset",
    "unlabeled_pass",  # unlabeled stream: the same
    "unlabeled_offset",
    "phase",  # index of Phase of the last tick
)
FLOAT_FIELDS = ("gamma",)


class BilevelState(torch.nn.Module):
    """Scalar counters as persistent buffers: ``state["ticks"] += 1`` style access."""

    def __init__(self):
        super().__init__()
        for name in INT_FIELDS:
            self.register_buffer(name, torch.zeros((), dtype=torch.long))
        for name in FLOAT_FIELDS:
            self.register_buffer(name, torch.zeros((), dtype=torch.float32))

    def __getitem__(self, name: str):
        value = getattr(self, name)
        return float(value) if name in FLOAT_FIELDS else int(value)

    def __setitem__(self, name: str, value) -> None:
        if name not in INT_FIELDS + FLOAT_FIELDS:
            raise KeyError(name)
        getattr(self, name).fill_(value)

    def as_dict(self) -> Dict[str, float]:
        return {name: self[name] for name in INT_FIELDS + FLOAT_FIELDS}
