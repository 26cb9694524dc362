#!/usr/bin/env python3
"""Train an ASR model with BL-JUST (or its baselines) as an espnet2 task.

Takes every option of ``python -m espnet2.bin.asr_train`` plus the BL-JUST
ones (``--print_config`` shows all of them with their defaults).
"""

import sys

from espnet_bljust.tasks.bljust import BLJUSTTask
from espnet_bljust.tasks.unsup_loss_build import UnsupLossConfError
from espnet_bljust.train.resume_check import ResumeMismatchError
from espnet_bljust.data.list_checks import DataCheckError


def get_parser():
    return BLJUSTTask.get_parser()


def main(cmd=None):
    r"""BL-JUST training.

    Example:
        % python -m espnet_bljust.bin.bljust_train --print_config \
            --strategy bljust --unsup_loss contrastive
        % python -m espnet_bljust.bin.bljust_train --config conf/train.yaml \
            --unlabeled_data_path_and_name_and_type dump/unlab/wav.scp,speech,sound
    """
    try:
        BLJUSTTask.main(cmd=cmd)
    except (DataCheckError, ResumeMismatchError, UnsupLossConfError) as e:
        print(f"bljust_train: error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
