#!/usr/bin/env python3
"""Train an ASR model with BL-JUST (or its baselines) as an espnet2 task.

Takes every option of ``python -m espnet2.bin.asr_train`` plus the BL-JUST
ones (``--print_config`` shows all of them with their defaults). An error
stops training with one line on stderr and exit status 1; ``--debug`` (or
``--log_level DEBUG``) shows the traceback instead.
"""

import sys
from typing import List, Optional

from espnet_bljust.data.list_checks import DataCheckError, NotUTF8Error
from espnet_bljust.tasks.bljust import BLJUSTTask
from espnet_bljust.tasks.settings_checks import SettingsError
from espnet_bljust.tasks.unsup_loss_build import UnsupLossConfError
from espnet_bljust.train.checkpoints import CheckpointError
from espnet_bljust.train.resume_check import ResumeMismatchError
from espnet_bljust.train.step_guard import NonFiniteTrainingError, NonFiniteValidationError

# Errors whose message is written for the user: shown as they are.
USER_ERRORS = (
    CheckpointError,
    DataCheckError,
    NonFiniteTrainingError,
    NonFiniteValidationError,
    NotUTF8Error,
    ResumeMismatchError,
    SettingsError,
    UnsupLossConfError,
)


def get_parser():
    return BLJUSTTask.get_parser()


def wants_traceback(argv: List[str]) -> bool:
    """``--debug``, or ``--log_level DEBUG`` on the command line."""
    for i, arg in enumerate(argv):
        if arg == "--debug" or arg.upper() == "--LOG_LEVEL=DEBUG":
            return True
        if arg == "--log_level" and i + 1 < len(argv) and argv[i + 1].upper() == "DEBUG":
            return True
    return False


def error_line(error: BaseException) -> str:
    """The message the user sees for ``error`` (no traceback)."""
    if isinstance(error, USER_ERRORS):
        return str(error)
    text = str(error).strip().splitlines()
    what = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    return f"{what} (rerun with --debug for the traceback)"


def main(cmd: Optional[List[str]] = None):
    r"""BL-JUST training.

    Example:
        % python -m espnet_bljust.bin.bljust_train --print_config \
            --strategy bljust --unsup_loss contrastive
        % python -m espnet_bljust.bin.bljust_train --config conf/train.yaml \
            --unlabeled_data_path_and_name_and_type dump/unlab/wav.scp,speech,sound
    """
    argv = list(sys.argv[1:] if cmd is None else cmd)
    debug = wants_traceback(argv)
    argv = [a for a in argv if a != "--debug"]
    try:
        BLJUSTTask.main(cmd=argv)
    except Exception as e:  # noqa: BLE001 - every error becomes one line
        if debug:
            raise
        print(f"bljust_train: error: {error_line(e)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
