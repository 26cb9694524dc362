"""Reading a finished run back: reporter statistics and bilevel counters."""

import math
from typing import Dict, Optional


def _number(value) -> Optional[float]:
    import datetime

    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def epoch_stats(states: dict) -> Dict[int, Dict[str, Dict[str, float]]]:
    """Per-epoch reporter means from a checkpoint.pth dict.

    Returns:
        {epoch: {"train": {key: value}, "valid": {...}}}; timedeltas become
        seconds, non-finite or non-numeric values are left out.
    """
    from espnet2.train.reporter import Reporter

    reporter = Reporter()
    reporter.load_state_dict(states["reporter"])
    out: Dict[int, Dict[str, Dict[str, float]]] = {}
    for epoch, groups in reporter.stats.items():
        for group, stats in groups.items():
            values = {k: _number(v) for k, v in stats.items()}
            out.setdefault(int(epoch), {})[group] = {
                k: v for k, v in values.items() if v is not None
            }
    return out


def bilevel_counters(states: dict) -> Dict[str, int]:
    """ticks, lower_steps, upper_steps, skipped_steps, joint_upper_steps from
    bilevel_state.* (a checkpoint without the last: 0)."""
    model = states["model"]
    return {
        key: int(model.get(f"bilevel_state.{key}", 0))
        for key in ("ticks", "lower_steps", "upper_steps", "skipped_steps", "joint_upper_steps")
    }

