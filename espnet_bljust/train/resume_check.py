"""Refuse ``--resume true`` with options that differ from the saved run's.

espnet2 resumes from ``<output_dir>/checkpoint.pth`` whatever the new
command line says: a changed strategy, γ schedule, batch size or data list
silently continues a different experiment, and a changed model size fails
deep inside ``load_state_dict``. This check compares the new options with
the ``config.yaml`` the saved run wrote and names every difference.
"""

import argparse
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml

from espnet_bljust.train.checkpoints import history

from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

from espnet_bljust.bilevel.phases import PHASE_UNIT_ALIASES
from espnet_bljust.bilevel.strategy import STRATEGIES, get_strategy

# Options that may change between a run and its resumption: they do not
# alter what the next training step computes (or only extend the run).
MAY_CHANGE = frozenset(
    """
    max_epoch resume config print_config version output_dir ngpu num_workers
    log_interval use_tensorboard use_wandb wandb_project wandb_id wandb_entity
    wandb_name wandb_model_log_interval detect_anomaly dist_backend
    dist_init_method dist_world_size dist_rank local_rank dist_master_addr
    dist_master_port dist_launcher multiprocessing_distributed distributed
    num_att_plot use_matplotlib keep_nbest_models nbest_averaging_interval
    best_model_criterion patience early_stopping_criterion no_forward_run
    max_cache_size max_cache_fd valid_batch_size valid_batch_bins
    valid_max_cache_size grad_cosine_interval max_nonfinite_steps
    keep_last_checkpoints resume_allow_changes unused_parameters
    min_wav_duration max_wav_duration check_audio_headers malloc_trim
    """.split()
)


class ResumeMismatchError(ValueError):
    """``--resume true`` with options that differ from the checkpoint's run."""


def _normalized(options: Dict[str, Any]) -> Dict[str, Any]:
    """The options as config.yaml would hold them (tuples -> lists, ...)."""
    return yaml.safe_load(yaml_no_alias_safe_dump(options))


def _token_list(value: Any) -> Any:
    """espnet2 replaces a token list path by the tokens when building the model."""
    if isinstance(value, str) and Path(value).is_file():
        return [line.rstrip("\n") for line in open(value, encoding="utf-8")]
    return value


def differences(
    saved: Dict[str, Any],
    now: Dict[str, Any],
    allowed: Iterable[str] = (),
    defaults: Optional[Dict[str, Any]] = None,
) -> List[str]:
    """``name: saved -> now`` for every option that changed and may not.

    An option the saved config lacks (added to the tool after that run
    started) counts as saved at its value in ``defaults``, when given.
    """
    skip = MAY_CHANGE | set(allowed)
    now = _normalized(now)
    saved = dict(saved)
    for key in set(defaults or {}) & set(now) - set(saved):
        saved[key] = defaults[key]
    lines = []
    for key in sorted(set(saved) & set(now) - skip):
        old, new = saved[key], now[key]
        if key == "token_list":
            old, new = _token_list(old), _token_list(new)
            if old != new:
                lines.append("token_list: the tokens differ from the saved run's")
            continue
        if old != new:
            lines.append(f"{key}: {old!r} (saved) -> {new!r} (now)")
    if "max_epoch" not in allowed:
        lines += _moved_phases(saved, now)
    return lines


def _moved_phases(saved: Dict[str, Any], now: Dict[str, Any]) -> List[str]:
    """max_epoch may change, except where it places the joint phase's end (and
    so the γ ramp) of a strategy with a joint phase: ``joint_len < 0`` runs it
    until max_epoch - finetune_len, and a run under way would see its phase
    boundaries and γ move."""
    old, new = saved.get("max_epoch"), now.get("max_epoch")
    strategy = now.get("strategy")
    if old == new or strategy not in STRATEGIES or now.get("joint_len", -1) >= 0:
        return []
    if not get_strategy(strategy).has_joint_phase:
        return []
    return [
        f"max_epoch: {old!r} (saved) -> {new!r} (now) with joint_len -1: the joint phase "
        "would end elsewhere and the γ ramp change under the run (give the saved run's "
        "joint length as --joint_len to extend the fine-tune phase instead)"
    ]


def check_resume_options(
    args: argparse.Namespace, defaults: Optional[Dict[str, Any]] = None
) -> None:
    """Raise ResumeMismatchError when resuming with changed options.

    Does nothing unless ``--resume true`` and the output dir holds both a
    checkpoint and its config.yaml. ``defaults``: the parser's defaults,
    the values of options the saved config predates.
    """
    output_dir = Path(args.output_dir)
    config = output_dir / "config.yaml"
    saved_run = (output_dir / "checkpoint.pth").exists() or history(output_dir)
    if not (args.resume and saved_run and config.exists()):
        return
    with open(config, encoding="utf-8") as f:
        saved = yaml.safe_load(f)
    if saved.get("phase_unit") in PHASE_UNIT_ALIASES:  # a run saved under the older name
        saved["phase_unit"] = PHASE_UNIT_ALIASES[saved["phase_unit"]]
    allowed = args.resume_allow_changes or []
    found = differences(saved, vars(args), allowed, defaults)
    if found:
        raise ResumeMismatchError(
            f"--resume true, but {len(found)} option(s) differ from the run saved in "
            f"{config}:\n  " + "\n  ".join(found) + "\nResume with the saved options, "
            "start a new run with another --output_dir, or accept the change with "
            "--resume_allow_changes <name>[,<name>...]."
        )
