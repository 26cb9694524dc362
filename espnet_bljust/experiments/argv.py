"""bljust_train arguments of one run: data streams, model config, phase plan."""

from pathlib import Path
from typing import List, Optional

from espnet_bljust.conf import TINY_CONFIG, config_path

STRATEGY_ORDER = ("supervised", "pt_ft", "just", "bljust")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = config_path(TINY_CONFIG)


def argv_ngpu(argv: List[str]) -> int:
    """The --ngpu a bljust_train argv runs with (its last one; 0 if none)."""
    values = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--ngpu"]
    values += [a.split("=", 1)[1] for a in argv if a.startswith("--ngpu=")]
    return int(values[-1]) if values else 0


def train_argv(
    data: Path,
    output_dir: Path,
    config: Path = DEFAULT_CONFIG,
    *extra: str,
    valid: str = "dev",
    unlabeled: Optional[str] = "train_unlabeled",
) -> List[str]:
    """bljust_train arguments: ``config`` on a split made by :func:`prepare_fsdd`.

    ``valid`` and ``unlabeled`` name the data dirs of those streams
    (``unlabeled=None``: no unlabeled stream). ``extra``
    comes last, so it overrides anything before it (list options append).
    """
    argv = [
        "--config", str(config), "--ngpu", "0",
        "--token_list", str(Path(data) / "tokens.txt"), "--token_type", "char",
        "--output_dir", str(output_dir),
        "--use_tensorboard", "false", "--use_matplotlib", "false",
        "--fold_length", "80000", "--fold_length", "150",
    ]  # fmt: skip
    argv += labeled_data_argv(data, valid)
    if unlabeled is not None:
        argv += [
            "--unlabeled_data_path_and_name_and_type",
            f"{Path(data) / unlabeled / 'wav.scp'},speech,sound",
            "--unlabeled_shape_file", str(Path(data) / unlabeled / "speech_shape"),
        ]  # fmt: skip
    return argv + list(extra)


def labeled_data_argv(data: Path, valid: str = "dev") -> List[str]:
    """The train/valid list options (the ones espnet2's asr_train takes too)."""
    argv = []
    for name, stream in (("train", "train_labeled"), ("valid", valid)):
        d = Path(data) / stream
        argv += [
            f"--{name}_data_path_and_name_and_type", f"{d / 'wav.scp'},speech,sound",
            f"--{name}_data_path_and_name_and_type", f"{d / 'text'},text,text",
            f"--{name}_shape_file", str(d / "speech_shape"),
            f"--{name}_shape_file", str(d / "text_shape"),
        ]  # fmt: skip
    return argv


def strategy_argv(
    strategy: str, total_ticks: int, exploration_frac: float, finetune_frac: float,
    lower_steps_per_upper: int = 1, upper_unsup_source: str = "unlabeled",
) -> List[str]:
    """Phase options (in ticks) of one strategy under the shared plan.

    exploration = round(exploration_frac * total) ticks for pt_ft, just and
    bljust (at least 1 for pt_ft); fine-tune = round(finetune_frac * total)
    for just and bljust; supervised has neither. just and bljust take the
    upper step's g from ``upper_unsup_source`` (the paper's: an unlabeled
    batch drawn in every joint tick).
    """
    n1 = int(round(exploration_frac * total_ticks))
    n3 = int(round(finetune_frac * total_ticks))
    return phase_argv(strategy, max(1, n1) if strategy == "pt_ft" else n1, n3,
                      lower_steps_per_upper, upper_unsup_source)  # fmt: skip


def phase_argv(strategy: str, exploration: int, finetune: int, lower_steps_per_upper: int = 1,
               upper_unsup_source: str = "unlabeled") -> List[str]:  # fmt: skip
    """``--strategy`` and its phase options in ticks (``--phase_unit tick``):
    pt_ft pre-trains ``exploration`` ticks and fine-tunes the rest; just and
    bljust explore, run the joint phase, fine-tune ``finetune`` ticks."""
    argv = ["--strategy", strategy, "--phase_unit", "tick"]
    if strategy == "supervised":
        return argv
    if strategy == "pt_ft":
        return argv + ["--exploration_len", str(exploration), "--finetune_len", "0"]
    argv += ["--exploration_len", str(exploration), "--joint_len", "-1",
             "--finetune_len", str(finetune), "--upper_unsup_source", upper_unsup_source]
    if strategy == "bljust":
        argv += ["--lower_steps_per_upper", str(lower_steps_per_upper)]
    return argv


def budget_argv(plan, upper_unsup_source: str = "unlabeled",
                lower_steps_per_upper: int = 1) -> List[str]:  # fmt: skip
    """The bljust_train options of a :class:`~espnet_bljust.experiments.budget.TickPlan`:
    its epochs, ticks per epoch and phases."""
    return ["--max_epoch", str(plan.epochs), "--num_iters_per_epoch", str(plan.iters_per_epoch),
            *phase_argv(plan.strategy, plan.exploration, plan.finetune, lower_steps_per_upper,
                        upper_unsup_source)]  # fmt: skip
