"""Model card (README.md) of a packed BL-JUST model, and its upload to the Hugging Face hub.

``write`` renders the card from what the recipe produced: the training config
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

import yaml

from espnet_bljust.data.list_checks import read_list

CITATIONS = """\
@article{cui2024bljust,
  title   = {Bilevel Joint Unsupervised and Supervised Training for Automatic Speech Recognition},
  author  = {Cui, Xiaodong and Saif, A F M and Lu, Songtao and Chen, Lisha and Chen, Tianyi
             and Kingsbury, Brian and Saon, George},
  journal = {arXiv preprint arXiv:2412.08548},
  year    = {2024}
}

@inproceedings{saif2024bljust,
  title     = {Joint Unsupervised and Supervised Training for Automatic Speech Recognition
               via Bilevel Optimization},
  author    = {Saif, A F M and Cui, Xiaodong and Shen, Han and Lu, Songtao and Kingsbury, Brian
               and Chen, Tianyi},
  booktitle = {ICASSP 2024},
  note      = {arXiv:2401.06980},
  year      = {2024}
}

@inproceedings{watanabe2018espnet,
  title     = {{ESPnet}: End-to-End Speech Processing Toolkit},
  author    = {Watanabe, Shinji and Hori, Takaaki and Karita, Shigeki and Hayashi, Tomoki
               and Nishitoba, Jiro and Unno, Yuya and Soplin, Nelson Enrique Yalta
               and Heymann, Jahn and Wiesner, Matthew and Chen, Nanxin and Renduchintala,
               Adithya and Ochiai, Tsubasa},
  booktitle = {Interspeech},
  year      = {2018}
}
"""

STRATEGIES = {
    "bljust": "BL-JUST: penalty-based bilevel gradient descent — lower steps on the "
    "unsupervised loss g, upper steps on f + γ·g with γ raised toward γ_max",
    "just": "JUST: one joint step on the supervised loss plus λ × the unsupervised loss",
    "pt_ft": "PT+FT: unsupervised pre-training, then supervised fine-tuning",
    "supervised": "supervised only (labeled data; the unlabeled data is not used)",
}


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


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


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
    """The model card text (Hugging Face front matter + Markdown).

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
    data_rows = [[d["role"], d["name"], d["utts"], _duration(d.get("hours"))] for d in data_sets]
    model_ref = hf_repo or "<path to the packed .zip>"
    parts = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True).strip(),
        "---",
        "",
        f"# BL-JUST ASR model: {corpus} ({strategy})",
        "",
        "A CTC speech recognizer trained with **BL-JUST** (bilevel joint unsupervised and "
        "supervised training; Cui et al., arXiv:2412.08548; Saif et al., ICASSP 2024, "
        "arXiv:2401.06980) in ESPnet with the `espnet_bljust` plugin: one shared encoder "
        "trained on labeled and unlabeled speech at once, as a bilevel problem — the "
        "unsupervised loss on unlabeled speech at the lower level, the supervised loss on "
        "labeled speech at the upper level — instead of pre-training then fine-tuning.",
        "",
        f"Training strategy: **{strategy}** — {STRATEGIES.get(strategy, 'see the config')}.",
        "",
        "## Data",
        "",
        f"Corpus: **{corpus}**. License of the data: {data_license}.",
        "",
        _table(["role", "set", "utterances", "audio"], data_rows),
        "",
        "## Results",
        "",
        results.strip() or "(no results)",
        "",
        "## Configuration",
        "",
        _table(["setting", "value"], config_rows(config)),
        "",
    ]
    if train_config:
        parts += [f"Training config: `{train_config}` (the full saved config is "
                  "`config.yaml` in this package).", ""]  # fmt: skip
    if command:
        parts += ["Produced by:", "", "```sh", command, "```", ""]
    parts += [
        "## Usage",
        "",
        "The model is a plain espnet2 ASR model (`model: espnet`); the unmodified "
        "`espnet2.bin.asr_inference` decodes it:",
        "",
        "```python",
        "import soundfile",
        "from espnet2.bin.asr_inference import Speech2Text",
        "",
        f'speech2text = Speech2Text.from_pretrained("{model_ref}", ctc_weight=1.0,',
        "                                           lm_weight=0.0, beam_size=10)",
        'speech, rate = soundfile.read("speech.wav")  # mono, '
        f"{_get(config, 'frontend_conf', 'fs', default=16000)} Hz",
        "text, *_ = speech2text(speech)[0]",
        "```",
        "",
    ]
    if lm_config:
        parts += [f"The package also holds a token LM trained on the labeled transcripts only "
                  f"(`{lm_config}`); `from_pretrained` loads it, and `lm_weight` > 0 fuses it "
                  "with the CTC scores (`lm_weight=0.0`, as above, decodes with CTC alone; "
                  "espnet2's default is 1.0).", ""]  # fmt: skip
    parts += [
        "## License",
        "",
        f"Model: {model_license}. Data: {data_license}.",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATIONS.strip(),
        "```",
        "",
    ]
    return "\n".join(parts)


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
