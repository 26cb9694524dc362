"""A token LM on the labeled transcripts, for shallow fusion in decoding.

BL-JUST's unlabeled stream has no text; the labeled transcripts are the only
text a recipe may use (the unlabeled set's transcripts stay withheld). This
trains espnet2's own LM task (``espnet2.tasks.lm.LMTask``, the model that
``Speech2Text(lm_train_config=..., lm_file=...)`` loads) on them, with the
ASR model's token list, so that decoding can add ``lm_weight`` times its
log-probabilities to the CTC prefix scores (beam search).

On a closed vocabulary (FSDD's ten digit words) such an LM is in effect a
lexicon: it puts almost no mass on misspelt words ("TW", "THRE").
"""

import argparse
import hashlib
import json
import shlex
from pathlib import Path
from typing import Dict, List, Optional

from typeguard import typechecked

MODEL_NAME = "valid.loss.best.pth"


def write_text_shape(text: Path, shape: Path) -> int:
    """``uttid <characters in the transcript + 1>`` per line of Kaldi ``text``.

    espnet2's batch samplers need a shape file per stream; the character count
    (+1 for <sos/eos>) bounds the token count for char and subword units.
    Returns the number of utterances. An utterance without words is an error
    naming the file and line (the LM cannot learn from it, and an empty LM
    training set would only fail later inside espnet2).
    """
    rows = []
    with open(text, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split(maxsplit=1)
            if len(parts) < 2 or not parts[1].strip():
                raise ValueError(f"{text}:{lineno}: utterance {parts[0]!r} has no transcript")
            rows.append(f"{parts[0]} {len(parts[1].strip()) + 1}\n")
    if not rows:
        raise ValueError(f"{text}: no transcripts to train an LM on")
    shape.parent.mkdir(parents=True, exist_ok=True)
    shape.write_text("".join(rows), encoding="utf-8")
    return len(rows)


@typechecked
def lm_train_argv(
    train_text: Path,
    valid_text: Path,
    token_list: Path,
    out_dir: Path,
    config: Path,
    token_type: str = "char",
    bpemodel: Optional[Path] = None,
    extra: Optional[List[str]] = None,
) -> List[str]:
    """``espnet2.bin.lm_train`` options for ``config`` on these transcripts.

    Writes the shape files (``out_dir/shapes/{train,valid}_text_shape``) it
    names. ``extra`` comes last and overrides the rest.
    """
    shapes = Path(out_dir) / "shapes"
    write_text_shape(Path(train_text), shapes / "train_text_shape")
    write_text_shape(Path(valid_text), shapes / "valid_text_shape")
    argv = [
        "--config", str(config), "--ngpu", "0", "--output_dir", str(out_dir),
        "--token_list", str(token_list), "--token_type", token_type,
        "--train_data_path_and_name_and_type", f"{train_text},text,text",
        "--valid_data_path_and_name_and_type", f"{valid_text},text,text",
        "--train_shape_file", str(shapes / "train_text_shape"),
        "--valid_shape_file", str(shapes / "valid_text_shape"),
        "--use_tensorboard", "false",
    ]  # fmt: skip
    if bpemodel is not None:
        argv += ["--bpemodel", str(bpemodel)]
    return argv + list(extra or [])


@typechecked
def train_text_lm(
    train_text: str,
    valid_text: str,
    token_list: str,
    out_dir: str,
    config: str,
    token_type: str = "char",
    bpemodel: Optional[str] = None,
    extra: Optional[List[str]] = None,
) -> Dict[str, str]:
    """Train the LM (or reuse one trained with the same options in ``out_dir``).

    Returns {"train_config": out_dir/config.yaml, "model_file":
    out_dir/valid.loss.best.pth} for ``Speech2Text``, "digest" (of the
    options and inputs, so that decodings made with another LM in the same
    place can be told apart) and "model_sha1" (of the weights).
    ``out_dir/lm_train.json`` records the options and the content hashes of
    the config, transcripts, token list (and bpe model); a finished LM with
    the same record is reused, any other content of ``out_dir`` is trained
    over. ``extra``: more ``espnet2.bin.lm_train`` options (they override the
    config).
    """
    from espnet2.tasks.lm import LMTask

    out = Path(out_dir)
    argv = lm_train_argv(Path(train_text), Path(valid_text), Path(token_list), out,
                         Path(config), token_type,
                         Path(bpemodel) if bpemodel else None, extra)  # fmt: skip
    # what the LM is made of, not only where it was read: a reused path with other
    # transcripts (another labeled split) or tokens trains again
    inputs = [config, train_text, valid_text, token_list] + ([bpemodel] if bpemodel else [])
    record = dict(argv=argv, inputs={
        str(f): hashlib.sha1(Path(f).read_bytes()).hexdigest() for f in inputs})
    stamp = out / "lm_train.json"
    digest = hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()[:12]
    done = dict(train_config=str(out / "config.yaml"), model_file=str(out / MODEL_NAME),
                digest=digest)
    if stamp.exists() and Path(done["model_file"]).exists():
        if json.loads(stamp.read_text(encoding="utf-8")) == record:
            return dict(done, model_sha1=_sha1(Path(done["model_file"])))
    if stamp.exists():
        stamp.unlink()
    LMTask.main(cmd=argv)
    if not Path(done["model_file"]).exists():
        raise RuntimeError(f"{out}: espnet2's LM training wrote no {MODEL_NAME}")
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    tmp.replace(stamp)
    return dict(done, model_sha1=_sha1(Path(done["model_file"])))


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train espnet2's LM on labeled transcripts (for shallow fusion); "
        "options it does not know go to espnet2.bin.lm_train (e.g. --max_epoch 5)."
    )
    parser.add_argument("--train_text", required=True, help="Kaldi text of the labeled set")
    parser.add_argument("--valid_text", required=True, help="Kaldi text of the valid set")
    parser.add_argument("--token_list", required=True, help="the ASR model's token list")
    parser.add_argument("--token_type", default="char", choices=["char", "bpe"])
    parser.add_argument("--bpemodel", default=None, help="sentencepiece model (bpe)")
    parser.add_argument("--config", required=True, help="espnet2 LM training config (YAML)")
    parser.add_argument("--out_dir", required=True, help="the LM's experiment dir")
    return parser


def main(cmd: Optional[List[str]] = None) -> Dict[str, str]:
    args, extra = get_parser().parse_known_args(cmd)
    for name in ("train_text", "valid_text", "token_list", "config"):
        if not Path(getattr(args, name)).is_file():
            raise SystemExit(f"text_lm: --{name} {getattr(args, name)}: no such file")
    done = train_text_lm(args.train_text, args.valid_text, args.token_list, args.out_dir,
                         args.config, args.token_type, args.bpemodel, extra)  # fmt: skip
    print(f"LM: {done['model_file']} (config {done['train_config']}; "
          f"lm_train options: {shlex.join(extra) or 'none'})")
    return done


if __name__ == "__main__":
    main()
