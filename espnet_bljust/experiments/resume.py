"""Continuing a harness training run that a stopped harness cut mid-way.

A run left unfinished in its folder (the harness was killed, Ctrl-C, the
machine went away) continues with ``bljust_train --resume true`` only when
all of these hold; otherwise the folder is removed and the run trained anew:

- the caller allows it: not ``--rerun``, and the run has no recorded failure
  (a failed run is trained anew, so a fix never continues a failed run's
  epochs);
- the same options: the argv that started it (:data:`RECORD` in its folder)
  is the one asked for now (runs started before that record existed: no
  record, the saved ``config.yaml`` decides), and the saved config passes the
  trainer's resume check plus the options that check lets a resumed run
  change but that shape a harness run (:data:`RUN_SHAPING`: its epochs, kept
  checkpoints, best-model criteria);
- a checkpoint the trainer will load (the newest that verifies against its
  checksum, as :func:`~espnet_bljust.train.checkpoints.load_first_readable`
  picks it) whose epoch's model file exists too (espnet2 writes
  ``checkpoint.pth`` before ``<N>epoch.pth`` and the links to it).

A code change between the calls is not detected: the resumed run keeps the
epochs the earlier code trained.
"""

import json
from pathlib import Path
from typing import List

RECORD = "harness_run.json"

# Options the trainer's resume check lets change, which change a harness run.
RUN_SHAPING = (
    "max_epoch", "keep_nbest_models", "best_model_criterion", "patience",
    "early_stopping_criterion", "nbest_averaging_interval",
)  # fmt: skip


def record_start(argv: List[str], exp: Path) -> None:
    """Note in ``exp`` the argv a run is started (or continued) with."""
    exp = Path(exp)
    exp.mkdir(parents=True, exist_ok=True)
    tmp = exp / (RECORD + ".tmp")
    tmp.write_text(json.dumps(dict(argv=list(argv)), indent=1), encoding="utf-8")
    tmp.replace(exp / RECORD)


def same_options(argv: List[str], exp: Path) -> bool:
    """Whether the run saved in ``exp`` was started with ``argv`` (see the module docstring)."""
    import yaml
    from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

    from espnet_bljust.tasks.bljust import BLJUSTTask
    from espnet_bljust.train.resume_check import ResumeMismatchError, check_resume_options

    exp, argv = Path(exp), [a for a in argv if a != "--debug"]  # as bljust_train drops it
    record = exp / RECORD
    try:
        if record.exists() and json.loads(record.read_text(encoding="utf-8"))["argv"] != argv:
            return False
        parser = BLJUSTTask.get_parser()
        args = parser.parse_args(argv + ["--resume", "true"])
        check_resume_options(args, {a.dest: a.default for a in parser._actions})
        saved = yaml.safe_load((exp / "config.yaml").read_text(encoding="utf-8"))
        now = yaml.safe_load(yaml_no_alias_safe_dump({k: getattr(args, k) for k in RUN_SHAPING}))
        return all(saved.get(k) == now[k] for k in RUN_SHAPING)
    except (ResumeMismatchError, SystemExit, OSError, ValueError, KeyError, TypeError,
            AttributeError, yaml.YAMLError):  # fmt: skip
        return False  # changed options, or a record or config cut by a kill


def saved_epochs(argv: List[str], exp: Path) -> int:
    """Epochs of an unfinished run in ``exp`` that bljust_train ``argv`` with
    ``--resume true`` would continue from; 0 where it must be trained anew."""
    import torch

    from espnet_bljust.experiments.rundata import epoch_stats
    from espnet_bljust.train.checkpoints import CheckpointError, load_first_readable

    exp = Path(exp)
    if not (exp / "config.yaml").exists() or not same_options(argv, exp):
        return 0
    epochs = []

    def read(checkpoint: Path) -> None:
        states = torch.load(checkpoint, map_location="cpu", weights_only=False)
        epochs.append(max(epoch_stats(states), default=0))

    try:  # the checkpoint the trainer will continue from
        load_first_readable(exp / "checkpoint.pth", read)
    except CheckpointError:
        return 0
    return epochs[-1] if (exp / f"{epochs[-1]}epoch.pth").exists() else 0
