"""The comparison protocol: one YAML file holding every choice that can move
the result (split, model config, compute budget, seeds, tuning grid, checkpoint
rule, LM), read and checked before anything runs.

See ``egs2/fsdd/bljust1/conf/protocol.yaml`` for the fields.
"""

import dataclasses
import hashlib
import re
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from espnet_bljust.experiments.argv import REPO, STRATEGY_ORDER

TRIAL_KEYS = ("exploration_frac", "finetune_frac", "lower_steps_per_upper", "train_args")
TOP_KEYS = ("corpus", "config", "train_args", "upper_unsup_source", "threads", "budget", "seeds",
            "tuning", "checkpoint", "decode", "lm")  # fmt: skip
RULE = re.compile(r"^(best|ave([1-9][0-9]*))$")


class ProtocolError(ValueError):
    """A protocol file that cannot be run (the message names file and key)."""


@dataclasses.dataclass(frozen=True)
class Trial:
    """One setting of a strategy's knobs (shares of the budget, K, options)."""

    strategy: str
    index: int
    exploration_frac: float
    finetune_frac: float
    lower_steps_per_upper: int
    train_args: str

    @property
    def name(self) -> str:
        return f"{self.strategy}_t{self.index}"


@dataclasses.dataclass
class Protocol:
    path: Path
    sha256: str
    raw: dict

    def repo_path(self, value: str) -> Path:
        """A path of the protocol, relative to the repository root."""
        path = Path(value)
        return path if path.is_absolute() else REPO / path

    @property
    def strategies(self) -> List[str]:
        return [s for s in STRATEGY_ORDER if s in self.raw["tuning"]["grid"]]

    @property
    def seeds(self) -> List[int]:
        return [int(s) for s in self.raw["seeds"]]

    @property
    def tuning_seeds(self) -> List[int]:
        """``tuning.seed``: one seed, or a list whose mean dev CER picks each trial."""
        seed = self.raw["tuning"]["seed"]
        return [int(s) for s in seed] if isinstance(seed, list) else [int(seed)]

    def tuning_run(self, trial: Trial, seed: int) -> str:
        """A tuning run's name: the trial's, with ``_seed<N>`` when several seeds tune."""
        return trial.name if len(self.tuning_seeds) == 1 else f"{trial.name}_seed{seed}"

    def trials(self, strategy: str) -> List[Trial]:
        tuning = self.raw["tuning"]
        defaults = dict(exploration_frac=0.0, finetune_frac=0.0, lower_steps_per_upper=1,
                        train_args="")  # fmt: skip
        defaults.update(tuning.get("defaults") or {})
        return [Trial(strategy, i, **{**defaults, **(t or {})})
                for i, t in enumerate(tuning["grid"][strategy])]  # fmt: skip

    def rules(self) -> List[str]:
        return list(self.raw["checkpoint"]["rules"])

    def max_average(self) -> int:
        """The largest N of the "aveN" rules (espnet2's --keep_nbest_models)."""
        return max([int(RULE.match(r).group(2) or 1) for r in self.rules()])


def load_protocol(path: Path) -> Protocol:
    """Read and check ``path``; raises :class:`ProtocolError` naming the key."""
    path = Path(path)
    try:
        data = path.read_bytes()
        raw = yaml.safe_load(data)
    except (OSError, yaml.YAMLError) as e:
        raise ProtocolError(f"{path}: cannot read the protocol: {e}") from e
    problems = check(raw if isinstance(raw, dict) else {})
    if not isinstance(raw, dict):
        problems = ["the file is not a YAML mapping"]
    if problems:
        raise ProtocolError(f"{path}: " + "; ".join(problems))
    return Protocol(path, hashlib.sha256(data).hexdigest(), raw)


def check(raw: dict) -> List[str]:
    """Every problem of a protocol mapping, each naming its key."""
    problems = [f"missing key '{k}'" for k in TOP_KEYS if k not in raw]
    problems += [f"unknown key '{k}'" for k in raw if k not in TOP_KEYS]
    if problems:
        return problems
    budget = raw["budget"]
    if not isinstance(budget, dict) or not all(isinstance(budget.get(k), int) and budget[k] > 0
                                               for k in ("passes", "epochs")):  # fmt: skip
        problems.append("budget: give positive integers 'passes' and 'epochs'")
    elif budget["passes"] < 10 * budget["epochs"]:
        problems.append("budget.passes: fewer than 10 passes per epoch")
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds or len(set(seeds)) < len(seeds):
        problems.append("seeds: give a list of distinct seeds")
    if raw["upper_unsup_source"] not in ("unlabeled", "labeled_shared"):
        problems.append("upper_unsup_source: 'unlabeled' or 'labeled_shared'")
    problems += _check_tuning(raw["tuning"])
    rules = (raw["checkpoint"] or {}).get("rules") if isinstance(raw["checkpoint"], dict) else None
    if not rules or not all(isinstance(r, str) and RULE.match(r) for r in rules):
        problems.append("checkpoint.rules: a list of 'best' and 'aveN' (N >= 1)")
    lm = raw["lm"]
    if lm is not None and (not isinstance(lm, dict) or not lm.get("config")
                           or not lm.get("weights") or any(w <= 0 for w in lm["weights"])):  # fmt: skip
        problems.append("lm: null, or {config, weights (each > 0), beam_size}")
    return problems + _check_corpus(raw["corpus"])


# corpus.split -> the key it needs (None: the corpus is synthesized)
SPLITS = {"unseen": "fsdd", "prepared": "data_dir", "espeak": None}
ESPEAK_SIZES = ("num_labeled", "num_unlabeled", "num_dev", "num_test")


def _check_corpus(corpus) -> List[str]:
    if not isinstance(corpus, dict) or corpus.get("split") not in SPLITS:
        return ["corpus.split: 'unseen' (with fsdd), 'prepared' (with data_dir) or "
                "'espeak' (the demo corpus, with num_labeled, num_unlabeled, num_dev, num_test)"]
    needed = SPLITS[corpus["split"]]
    if needed and corpus.get(needed) is None:
        return [f"corpus: split {corpus['split']} needs {needed}"]
    if corpus["split"] == "espeak":
        bad = [k for k in ESPEAK_SIZES if not (isinstance(corpus.get(k), int) and corpus[k] > 0)]
        if bad:
            return [f"corpus: split espeak needs positive integers {', '.join(bad)}"]
        if corpus.get("dev_speakers", "held_out") not in ("train", "held_out"):
            return ["corpus.dev_speakers: 'train' or 'held_out'"]
    return []


def _check_tuning(tuning) -> List[str]:
    if not isinstance(tuning, dict) or not isinstance(tuning.get("grid"), dict):
        return ["tuning: give seed, trials and grid"]
    problems = []
    trials = tuning.get("trials")
    grid = tuning["grid"]
    unknown = [s for s in grid if s not in STRATEGY_ORDER]
    if unknown:
        problems.append(f"tuning.grid: unknown strategies {unknown}")
    for strategy, entries in grid.items():
        if not isinstance(entries, list) or len(entries) != trials:
            problems.append(f"tuning.grid.{strategy}: {len(entries or [])} trials, "
                            f"tuning.trials says {trials} (the same for every strategy)")  # fmt: skip
            continue
        for i, entry in enumerate(entries):
            bad = [k for k in (entry or {}) if k not in TRIAL_KEYS]
            if bad:
                problems.append(f"tuning.grid.{strategy}[{i}]: unknown keys {bad}")
    bad = [k for k in tuning.get("defaults", {}) if k not in TRIAL_KEYS]
    if bad:
        problems.append(f"tuning.defaults: unknown keys {bad}")
    seed = tuning.get("seed")
    seeds = seed if isinstance(seed, list) else [seed]
    if seed is None or not seeds or not all(isinstance(x, int) for x in seeds) \
            or len(set(seeds)) < len(seeds):  # fmt: skip
        problems.append("tuning.seed: an integer, or a list of distinct integers")
    return problems


def git_commit(repo: Path = REPO) -> Optional[str]:
    """The checkout's commit (with "+dirty" when files differ from it), or None."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo, capture_output=True, text=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("+dirty" if dirty else "")


def same_package(a: str, b: str, repo: Path = REPO) -> Optional[bool]:
    """Whether commits ``a`` and ``b`` hold the same ``espnet_bljust`` package
    (records, docs and tests may differ); None where that cannot be told (a
    "+dirty" checkout, no git, an unknown commit)."""
    if "+" in a or "+" in b:
        return None
    try:
        code = subprocess.run(["git", "diff", "--quiet", a, b, "--", "espnet_bljust"], cwd=repo,
                              capture_output=True).returncode  # fmt: skip
    except OSError:
        return None
    return {0: True, 1: False}.get(code)


def stamp(protocol: Protocol) -> Dict[str, Optional[str]]:
    """What every result records: the protocol's file and sha256, the commit."""
    return dict(protocol=str(protocol.path), protocol_sha256=protocol.sha256, commit=git_commit())
