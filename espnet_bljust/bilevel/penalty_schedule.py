"""The penalty weight gamma of the upper-level objective f + gamma * g."""

import math

from typeguard import typechecked

GAMMA_SHAPES = ("constant", "linear", "cosine", "exponential")


class PenaltySchedule:
    """gamma as a function of the number of upper steps taken in the joint phase.

    gamma rises from ``gamma_init`` to ``gamma_max`` over ``ramp_steps`` upper
    steps and stays at ``gamma_max`` afterwards:

    - linear:      g0 + (gmax - g0) * r
    - cosine:      g0 + (gmax - g0) * (1 - cos(pi * r)) / 2
    - exponential: g0 * (gmax / g0) ** r          (needs g0 > 0)
    - constant:    gmax

    with r = min(1, step / ramp_steps).

    PBGD takes the upper step with a step size proportional to 1/gamma once
    gamma exceeds 1; :meth:`step_scale` gives that factor, min(1, 1/gamma).
    """

    @typechecked
    def __init__(
        self,
        gamma_init: float,
        gamma_max: float,
        shape: str = "linear",
        ramp_steps: int = 1,
    ):
        if shape not in GAMMA_SHAPES:
            raise ValueError(f"gamma shape must be one of {GAMMA_SHAPES}: {shape}")
        if gamma_init < 0 or gamma_max < 0:
            raise ValueError(
                f"gamma must be non-negative: init={gamma_init}, max={gamma_max}"
            )
        if shape == "exponential" and gamma_init <= 0:
            raise ValueError("the exponential gamma schedule needs gamma_init > 0")
        if ramp_steps < 1:
            raise ValueError(f"ramp_steps must be >= 1, got {ramp_steps}")
        self.gamma_init = gamma_init
        self.gamma_max = gamma_max
        self.shape = shape
        self.ramp_steps = ramp_steps

    def __call__(self, step: int) -> float:
        """gamma after ``step`` upper steps of the joint phase (step >= 0)."""
        if self.shape == "constant":
            return self.gamma_max
        r = min(1.0, max(0, step) / self.ramp_steps)
        g0, g1 = self.gamma_init, self.gamma_max
        if self.shape == "linear":
            return g0 + (g1 - g0) * r
        if self.shape == "cosine":
            return g0 + (g1 - g0) * (1.0 - math.cos(math.pi * r)) / 2.0
        return g0 * (g1 / g0) ** r

    @staticmethod
    def step_scale(gamma: float) -> float:
        """PBGD's upper step-size factor min(1, 1/gamma)."""
        return 1.0 if gamma <= 1.0 else 1.0 / gamma

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(gamma_init={self.gamma_init}, "
            f"gamma_max={self.gamma_max}, shape={self.shape}, "
            f"ramp_steps={self.ramp_steps})"
        )
