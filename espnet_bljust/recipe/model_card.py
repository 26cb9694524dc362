"""Model card (README.md) of a packed BL-JUST model, and its upload to the Hugging Face hub.

``write`` fills in the card template (``templates/model_card.md.j2``, package
data) from what the recipe produced: the training config
the trainer saved (``config.yaml``: strategy, unsupervised loss, phases, γ,
model size), the data dirs (utterances and hours per set), ``RESULTS.md`` (the
WER/CER table) and the licenses. ``push`` uploads a prepared folder (the
unpacked model and its card) with ``huggingface_hub``; without network, token
or package it stops with one line saying which, and exit status 1.

Usage:
    python -m espnet_bljust.recipe.model_card write --out exp/asr_bljust/README.md \
        --asr_config exp/asr_bljust/config.yaml --results exp/asr_bljust/RESULTS.md \
        --corpus demo --data_license "..." --labeled dump/raw/train_labeled \
        --unlabeled dump/raw/train_unlabeled --valid dump/raw/dev --test dump/raw/test
    python -m espnet_bljust.recipe.model_card push --folder exp/hf_x --hf_repo user/x
"""

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import jinja2
import yaml

from espnet_bljust.bilevel.strategy import STRATEGIES
from espnet_bljust.data.list_checks import read_list

class UploadError(RuntimeError):
    """The upload could not be done (package, token, network or hub refusal).

    ``offline`` is true when the hub cannot be reached at all (HF_HUB_OFFLINE,
    or a connection error): the push is then skipped, not failed.
    """

    def __init__(self, message: str, offline: bool = False):
        super().__init__(message)
        self.offline = offline


OFFLINE_EXIT = 3  # ``push``'s exit status when it skipped the upload: offline


def set_summary(data_dir: Path) -> Dict[str, object]:
    """Utterances and hours of one data dir (hours from utt2dur where present)."""
    data_dir = Path(data_dir)
    utts = len(read_list(data_dir / "wav.scp"))
    hours = None
    if (data_dir / "utt2dur").exists():
        hours = sum(float(v) for _, _, v in read_list(data_dir / "utt2dur")) / 3600.0
    return dict(name=data_dir.name, utts=utts, hours=hours)


def results_table(results_md: Path) -> str:
    """The Markdown table lines of a RESULTS.md (every line starting with '|')."""
    lines = Path(results_md).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.startswith("|"))


def _get(config: dict, *keys, default="–"):
    value = config
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def config_rows(config: dict) -> List[List[str]]:
    """(setting, value) rows of the settings that tell this model apart."""
    phases = (
        f"{_get(config, 'exploration_len')} / {_get(config, 'joint_len')} / "
        f"{_get(config, 'finetune_len')} {_get(config, 'phase_unit')}(s)"
    )
    gamma = (
        f"{_get(config, 'gamma_init')} → {_get(config, 'gamma_max')} "
        f"({_get(config, 'gamma_shape')})"
    )
    encoder = (
        f"{_get(config, 'encoder')}: {_get(config, 'encoder_conf', 'num_blocks')} blocks, "
        f"d={_get(config, 'encoder_conf', 'output_size')}"
    )
    token = str(_get(config, "token_type"))
    if _get(config, "bpemodel", default=None):
        token += f" ({Path(str(config['bpemodel'])).name})"
    token_list = config.get("token_list")
    if isinstance(token_list, list):
        token += f", {len(token_list)} tokens"
    budget = f"{_get(config, 'max_epoch')} epochs"
    if _get(config, "num_iters_per_epoch", default=None):
        budget += f" × {config['num_iters_per_epoch']} steps"
    return [
        ["strategy", str(_get(config, "strategy"))],
        ["unsupervised loss (lower level)", str(_get(config, "unsup_loss"))],
        ["phases: exploration / joint / fine-tune", phases],
        ["penalty γ", gamma],
        ["K lower steps per upper step", str(_get(config, "lower_steps_per_upper"))],
        ["encoder", encoder],
        ["supervised head", f"CTC weight {_get(config, 'model_conf', 'ctc_weight')}"],
        ["frontend / normalize", f"{_get(config, 'frontend')} / {_get(config, 'normalize')}"],
        ["tokens", token],
        ["upper / lower optimizer", f"{_get(config, 'optim')} / {_get(config, 'lower_optim')}"],
        ["training budget", budget],
        ["seed", str(_get(config, "seed"))],
    ]


def _duration(hours: Optional[float]) -> str:
    """Hours as '1.25 h', or minutes under an hour; '–' when unknown."""
    if hours is None:
        return "–"
    return f"{hours:.2f} h" if hours >= 1 else f"{hours * 60:.1f} min"


def render_card(
    config: dict,
    results: str,
    corpus: str,
    data_license: str,
    data_sets: Sequence[Dict[str, object]],
    model_license: str = "cc-by-4.0",
    lang: str = "en",
    hf_repo: Optional[str] = None,
    train_config: Optional[str] = None,
    command: Optional[str] = None,
    lm_config: Optional[str] = None,
) -> str:
    """The model card text (Hugging Face front matter + Markdown), from
    ``templates/model_card.md.j2``.

    Args:
        config: the ``config.yaml`` the trainer saved.
        results: the Markdown WER/CER table.
        corpus, data_license: the corpus name and the license of its data.
        data_sets: dicts with ``role``, ``name``, ``utts``, ``hours``.
        model_license: the license the model is released under.
        lang: language code of the card's metadata.
        hf_repo: the hub repository, for the usage example.
        train_config: the recipe's training config file (for the record).
        command: the recipe command that produced the model.
        lm_config: the LM training config, where the package holds an LM (a usage note).
    """
    strategy = str(config.get("strategy", "bljust"))
    front = {
        "language": [lang],
        "license": model_license,
        "library_name": "espnet",
        "tags": ["espnet", "audio", "automatic-speech-recognition", "bl-just",
                 "semi-supervised"],  # fmt: skip
        "datasets": [corpus],
        "pipeline_tag": "automatic-speech-recognition",
    }
    known = STRATEGIES.get(strategy)
    return _template().render(
        front_matter=yaml.safe_dump(front, sort_keys=False, allow_unicode=True).strip(),
        corpus=corpus,
        strategy=strategy,
        strategy_summary=known.summary if known else "see the config",
        data_license=data_license,
        data_sets=[dict(d, duration=_duration(d.get("hours"))) for d in data_sets],
        results=results.strip(),
        config_rows=config_rows(config),
        train_config=train_config,
        command=command,
        model_ref=hf_repo or "<path to the packed .zip>",
        fs=_get(config, "frontend_conf", "fs", default=16000),
        lm_config=lm_config,
        model_license=model_license,
    )


def _template() -> jinja2.Template:
    """The card template shipped as package data."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("espnet_bljust.recipe", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Markdown, not HTML
    )
    return environment.get_template("model_card.md.j2")


def write_card(args: argparse.Namespace) -> Path:
    """``write``: read the inputs named on the command line and write the card."""
    with open(args.asr_config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    roles = [("labeled", d) for d in args.labeled] + [("unlabeled", d) for d in args.unlabeled]
    roles += [("valid", d) for d in args.valid] + [("test", d) for d in args.test]
    data_sets = [dict(role=role, **set_summary(d)) for role, d in roles]
    results = results_table(args.results) if args.results else ""
    card = render_card(
        config, results, args.corpus, args.data_license, data_sets, args.model_license,
        args.lang, args.hf_repo, args.train_config, args.command, args.lm_config,
    )  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(card, encoding="utf-8")
    return args.out


def push_to_hub(folder: Path, hf_repo: str, private: bool = False) -> str:
    """Upload ``folder`` to the model repository ``hf_repo``; return its URL.

    Raises:
        UploadError: with a one-line reason (no huggingface_hub, offline mode,
            no token, network or hub error).
    """
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise UploadError("HF_HUB_OFFLINE is set: not uploading", offline=True)
    try:
        import huggingface_hub
    except ImportError as e:
        raise UploadError("huggingface_hub is not installed (pip install huggingface_hub)") from e
    if not huggingface_hub.get_token():
        raise UploadError(
            "no Hugging Face token: run 'huggingface-cli login' or set HF_TOKEN"
        )
    api = huggingface_hub.HfApi()
    try:
        api.create_repo(hf_repo, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=hf_repo, repo_type="model",
                          commit_message="Upload BL-JUST ESPnet model")  # fmt: skip
    except Exception as e:  # noqa: BLE001 - network and hub errors alike
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        offline = any(w in type(e).__name__ for w in ("Connect", "Timeout", "Offline"))
        hint = " (cannot reach huggingface.co: offline?)" if offline else ""
        raise UploadError(
            f"upload to {hf_repo} failed{hint}: {type(e).__name__}: {first}", offline=offline
        ) from e
    return f"https://huggingface.co/{hf_repo}"


def get_parser() -> argparse.ArgumentParser:
    """``write`` (render the card) and ``push`` (upload a folder) subcommands."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command_name", required=True)
    w = sub.add_parser("write", help="write the model card")
    w.add_argument("--out", type=Path, required=True, help="README.md to write")
    w.add_argument("--asr_config", type=Path, required=True, help="the saved config.yaml")
    w.add_argument("--results", type=Path, default=None, help="RESULTS.md")
    w.add_argument("--corpus", required=True)
    w.add_argument("--data_license", required=True)
    w.add_argument("--model_license", default="cc-by-4.0")
    w.add_argument("--lang", default="en")
    w.add_argument("--hf_repo", default=None)
    w.add_argument("--train_config", default=None, help="the recipe's training config")
    w.add_argument("--command", default=None, help="the command that made the model")
    w.add_argument("--lm_config", default=None,
                   help="the LM's training config, where the package holds an LM")
    for role in ("labeled", "unlabeled", "valid", "test"):
        w.add_argument(f"--{role}", type=Path, action="append", default=[],
                       help=f"{role} data dir (repeatable)")  # fmt: skip
    p = sub.add_parser("push", help="upload a folder to the Hugging Face hub")
    p.add_argument("--folder", type=Path, required=True)
    p.add_argument("--hf_repo", required=True, help="<user or org>/<name>")
    p.add_argument("--private", action="store_true")
    return parser


def main(cmd=None):
    """Run ``write`` or ``push``; a failed upload exits 1 with one line, no trace,
    an upload skipped because the hub is unreachable exits ``OFFLINE_EXIT``."""
    args = get_parser().parse_args(cmd)
    if args.command_name == "write":
        print(f"model card: {write_card(args)}")
        return
    try:
        url = push_to_hub(args.folder, args.hf_repo, args.private)
    except UploadError as e:
        print(f"model_card push: {e}", file=sys.stderr)
        sys.exit(OFFLINE_EXIT if e.offline else 1)
    print(f"uploaded {args.folder} to {url}")


if __name__ == "__main__":
    main()
